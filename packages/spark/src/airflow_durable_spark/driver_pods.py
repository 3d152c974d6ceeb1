"""Kubernetes cluster mode: Spark driver pods through the Kubernetes API (status, lookup by label, delete).

The client is the official ``kubernetes`` Python client's ``CoreV1Api``: from the cncf.kubernetes
provider's ``KubernetesHook`` (its connection) when that provider is installed, else from the in-cluster
configuration inside a pod or from kubeconfig (see :func:`core_v1_api`).

Source of the pod phases: https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-phase
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_durable import JobLostError
from airflow_durable_spark.deployment import DeploymentMode
from airflow_durable_spark.statuses import DRIVER_POD_STATES, NAMESPACE_PATTERN, check_driver_pod_id

if TYPE_CHECKING:
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
    from airflow.sdk.definitions.context import Context

    from airflow_durable import StatusTable

TOKEN_LABEL = "airflow-durable-submission"
"""The driver pod label that carries the submission token (``spark.kubernetes.driver.label.<key>``)."""
DRIVER_CONTAINER = "spark-kubernetes-driver"
"""The driver container's name in a driver pod Spark creates (``Constants.DEFAULT_DRIVER_CONTAINER_NAME``)."""
WAIT_APP_COMPLETION_CONF = "spark.kubernetes.submission.waitAppCompletion"
NAMESPACE_CONF = "spark.kubernetes.namespace"
DEFAULT_NAMESPACE = "default"
"""Spark's default ``spark.kubernetes.namespace``."""
UPSTREAM_STATUS_KEY = "k8s_driver_status"
"""Where upstream's operator caches ``"Succeeded"`` once a driver pod succeeded (read for a bare upstream record)."""
KUBERNETES_EXTRA_HINT = "pip install 'airflow-durable-spark[kubernetes]'"

_SUBMISSION_ID = re.compile(r"submission ID ([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?):([a-z0-9][-a-z0-9.]{0,252})\b")
"""``Deployed Spark application ... with application ID ... and submission ID <namespace>:<pod> into Kubernetes``
(``KubernetesClientApplication``): any namespace, unlike upstream's fallback regex (``spark:`` only)."""


def core_v1_api(kubernetes_conn_id: str) -> Any:
    """Return a ``kubernetes.client.CoreV1Api``.

    With the cncf.kubernetes provider installed: ``KubernetesHook(conn_id=kubernetes_conn_id).core_v1_client``
    (a missing ``kubernetes_default`` connection means kubeconfig or the in-cluster configuration, as the
    hook decides). Without it: the ``kubernetes`` client with ``load_incluster_config()`` inside a pod
    (``KUBERNETES_SERVICE_HOST`` set), else ``load_kube_config()`` (``KUBECONFIG`` or ``~/.kube/config``).

    Args:
        kubernetes_conn_id: The Kubernetes connection ID (used only with the provider).

    Returns:
        A ``CoreV1Api``.

    Raises:
        ImportError: Neither the provider nor the ``kubernetes`` client is installed.
    """
    try:
        from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
    except ImportError:
        pass
    else:
        return KubernetesHook(conn_id=kubernetes_conn_id).core_v1_client
    try:
        from kubernetes import client, config  # type: ignore[import-untyped]
    except ImportError as err:
        raise ImportError(
            f"Spark on Kubernetes needs the Kubernetes API client: {KUBERNETES_EXTRA_HINT} "
            "(or install apache-airflow-providers-cncf-kubernetes)"
        ) from err
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()
    else:
        config.load_kube_config()
    return client.CoreV1Api()


class _MissingKubeClient:
    """Stands in for cncf.kubernetes' ``kube_client`` in upstream's hook module when that provider is absent.

    Upstream's ``SparkSubmitHook.__init__`` refuses a ``k8s://`` master unless that module imported; our
    operator does not need it (it has its own client), so the hook is built with this in its place. Any
    upstream code path that would use it raises a clear error instead.
    """

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(
            f"kube_client.{name}: apache-airflow-providers-cncf-kubernetes is not installed "
            "(DurableSparkSubmitOperator does not need it; upstream's code path does)"
        )


def allow_kubernetes_master_without_provider() -> None:
    """Let upstream's ``SparkSubmitHook`` accept a ``k8s://`` master without the cncf.kubernetes provider.

    Its ``__init__`` raises when ``kube_client`` (imported from that provider) is missing; this binds
    :class:`_MissingKubeClient` in its place, once, and only when the import failed.
    """
    from airflow.providers.apache.spark.hooks import spark_submit

    if getattr(spark_submit, "kube_client", None) is None:
        setattr(spark_submit, "kube_client", _MissingKubeClient())  # noqa: B010 - typed as the module it replaces


def driver_pod_status(pod: Any) -> str:
    """Return the raw status of a driver pod (a ``V1Pod``).

    The phase (a missing one is ``Pending``), except while the phase is ``Pending`` or ``Running`` and the
    driver container (``spark-kubernetes-driver``, else the first one) has terminated: then
    ``DriverSucceeded`` (exit code 0) or ``DriverFailed``. A sidecar (Istio) keeps such a pod ``Running``.
    """
    status = getattr(pod, "status", None)
    phase = getattr(status, "phase", None) or "Pending"
    if phase in ("Pending", "Running"):
        containers = list(getattr(status, "container_statuses", None) or [])
        driver = next((c for c in containers if c.name == DRIVER_CONTAINER), containers[0] if containers else None)
        terminated = getattr(getattr(driver, "state", None), "terminated", None)
        if terminated is not None:
            return "DriverSucceeded" if terminated.exit_code == 0 else "DriverFailed"
    return str(phase)


def _api_status(error: Exception) -> int | None:
    try:
        from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]
    except ImportError:
        return None

    return error.status if isinstance(error, ApiException) else None


class KubernetesClusterMode(DeploymentMode):
    """Kubernetes cluster deploy mode (``k8s://`` master): the driver runs in a driver pod.

    External ID: ``"<namespace>:<pod name>"`` (upstream's format). The token is the driver pod label
    ``airflow-durable-submission=<token>``; a retry finds the pod with a label selector after a crash in
    the submit window. ``spark-submit`` exits once the pod is created
    (``spark.kubernetes.submission.waitAppCompletion=false``).

    The namespace is the connection's ``namespace`` extra or ``spark.kubernetes.namespace``, else Spark's
    default ``default``, which is then passed to ``spark-submit`` explicitly: the pod is created where the
    operator looks for it, whatever a properties file says.

    Args:
        hook: The try's hook.
        kubernetes_conn_id: The Kubernetes connection for the API client (see :func:`core_v1_api`).
        status_timeout_seconds: Timeout of one API request.
    """

    name = "Kubernetes cluster mode"
    id_name = "driver pod name"
    missing_id_message = "spark-submit did not capture a K8s driver pod name"
    supports_token_lookup: ClassVar[bool] = True
    status_table: ClassVar[StatusTable] = DRIVER_POD_STATES

    def __init__(
        self,
        hook: SparkSubmitHook,
        *,
        kubernetes_conn_id: str = "kubernetes_default",
        status_timeout_seconds: float = 10.0,
    ) -> None:
        super().__init__(hook, status_timeout_seconds=status_timeout_seconds)
        self.kubernetes_conn_id = kubernetes_conn_id
        self._printed_namespace: str | None = None
        self._api: Any = None

    @property
    def namespace(self) -> str:
        """The namespace driver pods are created, looked up and read in."""
        return str(self.hook._connection.get("namespace") or DEFAULT_NAMESPACE)

    @property
    def api(self) -> Any:
        """The ``CoreV1Api`` (created on first use)."""
        if self._api is None:
            self._api = core_v1_api(self.kubernetes_conn_id)
        return self._api

    def runs_in_cluster(self) -> bool:
        """Cluster deploy mode (or the hook tracks the driver pod: upstream's ``track_driver_via_k8s_api``)."""
        return self.hook._connection.get("deploy_mode") == "cluster" or bool(
            self.hook._should_track_driver_via_k8s_api()
        )

    def check(self) -> None:
        """Refuse ``waitAppCompletion=true`` and a namespace that is no DNS-1123 label.

        Raises:
            ValueError: Either.
        """
        if str(self.hook._conf.get(WAIT_APP_COMPLETION_CONF, "")).strip().lower() == "true":
            raise ValueError(
                f"{WAIT_APP_COMPLETION_CONF}=true cannot be set for durable Kubernetes cluster mode: spark-submit "
                "must exit once the driver pod exists so that its name is persisted. Remove the conf or set "
                "durable=False."
            )
        if not NAMESPACE_PATTERN.fullmatch(self.namespace):
            raise ValueError(f"{self.namespace!r} is not a Kubernetes namespace (DNS-1123 label)")

    def prepare(self, token: str | None) -> None:
        """Set ``waitAppCompletion=false``, the namespace, and the token label on the driver pod."""
        self.check()
        conf = self.hook._conf
        conf[WAIT_APP_COMPLETION_CONF] = "false"
        if not self.hook._connection.get("namespace"):
            conf[NAMESPACE_CONF] = DEFAULT_NAMESPACE
            self.hook._connection["namespace"] = DEFAULT_NAMESPACE
        if token is not None:
            conf[f"spark.kubernetes.driver.label.{TOKEN_LABEL}"] = token

    def parse_line(self, line: str) -> None:
        """Read ``submission ID <namespace>:<pod>`` in any namespace."""
        match = _SUBMISSION_ID.search(line)
        if match:
            self._printed_namespace = match.group(1)
            if not self.hook._kubernetes_driver_pod:
                self.hook._kubernetes_driver_pod = match.group(3)

    def captured_id(self) -> str | None:
        """``"<namespace>:<pod>"`` once the pod name is printed (the printed namespace wins)."""
        pod = self.hook._kubernetes_driver_pod
        return f"{self._printed_namespace or self.namespace}:{pod}" if pod else None

    def validate(self, external_id: object) -> str:
        """Accept ``"<namespace>:<pod name>"`` (see ``check_driver_pod_id``)."""
        check_driver_pod_id(external_id)
        return str(external_id)

    def status(self, external_id: str, context: Context) -> str:
        """The pod's raw status (see :func:`driver_pod_status`); ``JobLostError`` when the pod is gone (404)."""
        namespace, pod_name = check_driver_pod_id(external_id)
        try:
            pod = self.api.read_namespaced_pod(pod_name, namespace, _request_timeout=self.status_timeout_seconds)
        except Exception as err:
            if _api_status(err) == 404:
                raise JobLostError(external_id, f"no pod {pod_name} in namespace {namespace}") from err
            raise
        return driver_pod_status(pod)

    def find_by_token(self, token: str) -> str | None:
        """The driver pod labelled ``token``: a live one (Pending, Running) first, else the newest."""
        selector = f"{TOKEN_LABEL}={token},spark-role=driver"
        pods = self.api.list_namespaced_pod(
            self.namespace, label_selector=selector, _request_timeout=self.status_timeout_seconds
        ).items
        labelled = [p for p in pods or [] if (p.metadata.labels or {}).get(TOKEN_LABEL) == token]
        if not labelled:
            return None
        oldest = datetime.min.replace(tzinfo=UTC)

        def rank(pod: Any) -> tuple[bool, datetime]:
            live = driver_pod_status(pod) in ("Pending", "Running")
            created = pod.metadata.creation_timestamp
            return live, created if isinstance(created, datetime) else oldest

        pod = max(labelled, key=rank)
        return self.validate(f"{pod.metadata.namespace or self.namespace}:{pod.metadata.name}")

    def cancel(self, external_id: str, timeout_seconds: float) -> None:
        """Delete the driver pod, one request bounded by ``timeout_seconds``; a pod already gone is fine."""
        namespace, pod_name = check_driver_pod_id(external_id)
        try:
            self.api.delete_namespaced_pod(pod_name, namespace, _request_timeout=timeout_seconds)
        except Exception as err:
            if _api_status(err) != 404:
                raise

    def attach(self, external_id: str) -> None:
        """Set ``hook._kubernetes_driver_pod``."""
        self.hook._kubernetes_driver_pod = check_driver_pod_id(external_id)[1]

    def result(self, external_id: str) -> dict[str, str]:
        """``{"namespace": ns, "driver_pod": name, "phase": "Succeeded"}``."""
        namespace, pod_name = check_driver_pod_id(external_id)
        return {"namespace": namespace, "driver_pod": pod_name, "phase": "Succeeded"}

    def is_transient(self, error: Exception) -> bool:
        """429 and 5xx from the API server, connection errors and timeouts."""
        status = _api_status(error)
        if status is not None:
            return status == 429 or status >= 500 or status == 0
        import urllib3.exceptions

        return isinstance(error, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError)

    def cached_upstream_status(self, context: Context) -> str | None:
        """``"Succeeded"`` when upstream's operator cached it (``k8s_driver_status``) beside its bare record."""
        store = context.get("task_state_store") if hasattr(context, "get") else None
        cached = store.get(UPSTREAM_STATUS_KEY) if store is not None else None
        return "Succeeded" if cached == "Succeeded" else None
