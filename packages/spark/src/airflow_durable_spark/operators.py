"""``DurableSparkSubmitOperator``: crash-safe ``SparkSubmitOperator`` (standalone, YARN, Kubernetes cluster modes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

from airflow_durable import DurableJobMixin, JobState
from airflow_durable_spark.statuses import SPARK_DRIVER_STATES, check_driver_id

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

    from airflow_durable_spark.deployment import DeploymentMode

# The deployment modes (``deployment``, ``standalone``, ``yarn_applications``, ``driver_pods``: REST and
# Kubernetes clients) and the hook wrapper (``submit_log``) are imported on first use, when a try builds its
# hook: DAG files import this module at every parse, and a DAG parse needs none of them
# (test_spark_import_cost.py keeps it so).

TOKEN_CONF_KEY = "spark.airflow.durable.submission"
"""Spark property that carries the submission token into the driver's launch command and the Spark UI.

Its name avoids ``token``, ``secret`` and ``password``: Spark redacts values of keys matching
``spark.redaction.regex``, which would hide the token from anyone looking for a stray driver."""


class _TokenLookupFlag:
    """``supports_token_lookup``: ``False`` on the class, the try's deployment mode's on an instance.

    The class answers for standalone cluster mode (no lookup by token), which is what the contract suite
    reads from the class; an instance answers for the mode its hook resolved (YARN and Kubernetes: ``True``),
    which is what ``DurableJobMixin`` reads during a try.
    """

    def __get__(self, instance: DurableSparkSubmitOperator | None, owner: type) -> bool:
        if instance is None or getattr(instance, "_hook", None) is None:
            return False
        mode = instance._resolved_mode()
        return mode is not None and mode.supports_token_lookup


class DurableSparkSubmitOperator(DurableJobMixin, SparkSubmitOperator):
    """Crash-safe ``SparkSubmitOperator`` in Spark standalone, YARN and Kubernetes cluster modes.

    A drop-in for ``airflow.providers.apache.spark.operators.spark_submit.SparkSubmitOperator``: it takes
    the same arguments and templated fields, and builds the same ``spark-submit`` command through the
    provider's ``SparkSubmitHook``. On top of it, in every cluster mode:

    - the job's ID (standalone driver ID, YARN application ID, driver pod) is persisted to
      ``task_state_store`` the moment ``spark-submit`` prints it, not when ``spark-submit`` exits;
    - a retry reconnects to an active job, returns at once for a finished one, and submits a fresh one
      after a terminal failure or when the cluster no longer knows the job (``on_lost_job``);
    - stored IDs are validated before they go into a URL or an API call; an unlisted status fails the
      task (``UnknownJobStatusError``), an odd answer fails it without resubmitting, an unreachable API is
      retried with backoff, never taken as a reason to resubmit;
    - ``post_submit_commands`` run once at the end of every try that had a job, however it ended, and on
      kill; ``on_kill`` kills the job, bounded by ``cancel_timeout_seconds``.

    **Deployment modes** (from the connection's master and deploy mode, as upstream decides them):

    - *Standalone cluster mode* (``spark://`` master): status ``GET /v1/submissions/status/{id}`` on each
      master's REST port (``rest-port``, default 6066); kill ``POST /v1/submissions/kill/{id}``. Table:
      ``SPARK_DRIVER_STATES``. Result ``{"driver_id": str, "driver_state": "FINISHED"}``.
    - *YARN cluster mode* (``yarn`` master): the token is appended to ``spark.yarn.tags``; ``spark-submit``
      exits once YARN accepted the application (``spark.yarn.submit.waitAppCompletion=false``; an explicit
      ``true`` is upstream's ``ValueError``). Status ``"<state>/<finalStatus>"`` from the ResourceManager
      REST API (``GET /ws/v1/cluster/apps/{id}``, the connection extra
      ``yarn_resourcemanager_webapp_address``, auth ``yarn_rm_auth`` or Kerberos, as upstream); lookup by
      tag ``GET /ws/v1/cluster/apps?applicationTags=<token>``; kill ``PUT .../apps/{id}/state``. Table:
      ``YARN_APPLICATION_STATES``. Result ``{"application_id": str, "final_status": "SUCCEEDED"}``. No
      ``yarn_track_via_rm_api`` needed: with ``durable=True`` the hook always tracks through the RM.
    - *Kubernetes cluster mode* (``k8s://`` master): the token is the driver pod label
      ``airflow-durable-submission``; ``spark-submit`` exits once the pod exists. Status: the pod phase, or
      the driver container's termination while a sidecar keeps the pod running; lookup by label selector
      in the namespace (the connection's, ``spark.kubernetes.namespace``, else ``default``); kill deletes
      the pod. The client comes from ``kubernetes_conn_id`` (cncf.kubernetes provider) or kubeconfig /
      in-cluster configuration. Table: ``DRIVER_POD_STATES``. Result
      ``{"namespace": str, "driver_pod": str, "phase": "Succeeded"}``. No ``track_driver_via_k8s_api``
      needed; the cncf.kubernetes provider is optional (the ``kubernetes`` extra suffices).
    - *Anything else* (local masters, client deploy mode on any master) has no driver in the cluster to
      reconnect to: with ``durable=True`` the first try raises ``ValueError`` before submitting anything;
      with ``durable=False`` ``spark-submit`` runs as upstream runs it.

    With ``durable=False`` every mode runs as upstream's: YARN and Kubernetes cluster modes track through
    the RM / the Kubernetes API only with ``yarn_track_via_rm_api`` / ``track_driver_via_k8s_api``.

    **Known limitation (standalone only, no token lookup):** the standalone master cannot find a driver by a
    client token, so a worker killed after the master created the driver and before the ID was persisted
    leaves a driver the retry does not know, and the retry submits another one. What remains of the window
    is the time ``spark-submit``'s JVM takes from receiving the create response to printing the driver-ID
    line (measured: median 235 ms on Spark 4.2 through the REST port, against 351 ms until ``spark-submit``
    exits, where upstream persists, and 5.4 s through port 7077), plus about 0.4 ms to read the line and
    write ``task_state_store``. The token travels as the Spark property ``spark.airflow.durable.submission``
    (in every mode) so such a stray driver can be found by hand. YARN and Kubernetes close the window: a
    retry finds the application by tag, the driver pod by label.

    Stored state: the ``airflow_durable`` record (see ``DurableJobMixin``) under ``spark_job_id``, with
    ``external_id`` a driver ID (``"driver-20261129140102-0000"``), a YARN application ID
    (``"application_1764421262000_0001"``) or ``"<namespace>:<pod name>"``. An upstream bare ID under the
    same key is read too (and upstream's ``k8s_driver_status="Succeeded"`` beside it), so migrating
    mid-flight is safe.

    Args:
        status_poll_interval: Upstream's poll interval in seconds; the first delay between status polls
            when ``poll_interval_seconds`` is not given.
        poll_interval_seconds: The first delay between status polls.
        max_poll_interval_seconds: The ceiling the delay grows to and the bound on the detection latency;
            default ``max(120 s, 4 x`` the first delay``)``, the core policy (120 s for ``status_poll_interval=1``).
        status_timeout_seconds: Timeout of one status request (master, ResourceManager, Kubernetes API).
        kubernetes_conn_id: The cncf.kubernetes connection for the Kubernetes API client (Kubernetes cluster
            mode, when that provider is installed; a missing ``kubernetes_default`` means kubeconfig or the
            in-cluster configuration).
        **kwargs: ``SparkSubmitOperator`` and ``DurableJobMixin`` arguments (``application``, ``conf``,
            ``conn_id``, ``java_class``, ``durable``, ``on_lost_job``, ``cancel_timeout_seconds``...).

    Returns (from ``execute``, pushed as ``return_value``):
        The mode's result above, identical on the fresh, adopt, reconnect and already-succeeded paths;
        ``None`` for a ``durable=False`` run upstream runs without tracking.

    Raises:
        ValueError: ``durable=True`` with a master and deploy mode that have no durable mode; an explicit
            ``waitAppCompletion=true`` in YARN or Kubernetes cluster mode; no ResourceManager address.
        JobFailedError: The job ended in a terminal failure.
        JobLostError: The cluster no longer knows the job and ``on_lost_job="fail"``, or it vanished while
            polled (a driver pod deleted mid-poll is never a success).
        UnknownJobStatusError: A status the mode's table does not list.
        SparkMasterUnavailableError, YarnResourceManagerUnavailableError: No answer within
            ``max_transient_errors`` retries.
        SparkStatusAnswerError, YarnAnswerError: A status answer that is neither a status nor the NotFound
            reply.
    """

    external_id_key = "spark_job_id"
    status_table = SPARK_DRIVER_STATES
    """Standalone's table; a try classifies with its deployment mode's (see :meth:`classify_status`)."""
    supports_token_lookup = _TokenLookupFlag()  # type: ignore[assignment]
    """``False`` on the class (standalone); on an instance, whether the try's mode finds a job by token."""
    supports_cancel: ClassVar[bool] = True

    def __init__(
        self,
        *,
        status_poll_interval: int = 1,
        poll_interval_seconds: float | None = None,
        max_poll_interval_seconds: float | None = None,
        status_timeout_seconds: float = 10.0,
        kubernetes_conn_id: str = "kubernetes_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            status_poll_interval=status_poll_interval,
            poll_interval_seconds=float(
                status_poll_interval if poll_interval_seconds is None else poll_interval_seconds
            ),
            max_poll_interval_seconds=max_poll_interval_seconds,
            **kwargs,
        )
        self.status_timeout_seconds = status_timeout_seconds
        self.kubernetes_conn_id = kubernetes_conn_id
        self._mode: DeploymentMode | None = None
        self._execute_called = False
        self._set_up_hooks: list[SparkSubmitHook] = []

    def execute(self, context: Context) -> Any:
        """Run ``spark-submit`` as upstream's ``execute`` does, durably in the cluster modes.

        Raises:
            ValueError: ``durable=True`` and the master and deploy mode have no durable mode (before anything
                is submitted).
        """
        self._execute_called = True
        if self._hook is not None:  # built before execute (a test): set up as _get_hook would have
            self._set_up_hook(self._hook)
        return super().execute(context)

    def _get_hook(self) -> SparkSubmitHook:
        """Upstream's hook, set up for the durable mode of its master and deploy mode (see :meth:`_set_up_hook`)."""
        from airflow_durable_spark.driver_pods import allow_kubernetes_master_without_provider

        allow_kubernetes_master_without_provider()
        return self._set_up_hook(super()._get_hook())

    def _set_up_hook(self, hook: SparkSubmitHook) -> SparkSubmitHook:
        """Set ``hook`` up for its deployment mode, once.

        With ``durable=True`` the hook tracks the job in YARN and Kubernetes cluster modes (as upstream's
        ``yarn_track_via_rm_api`` / ``track_driver_via_k8s_api`` make it: ``spark-submit`` exits once the job
        exists, the RM address and auth are validated). In every cluster mode the job's ID is reported the
        moment ``spark-submit`` prints it.

        Raises:
            ValueError: ``durable=True``, from ``execute``, and the master and deploy mode have no durable mode.
        """
        from airflow_durable_spark.deployment import describe
        from airflow_durable_spark.driver_pods import KubernetesClusterMode
        from airflow_durable_spark.submit_log import report_id_early
        from airflow_durable_spark.yarn_applications import YarnClusterMode

        mode = self._resolved_mode(hook)
        if mode is None or not mode.runs_in_cluster():
            if self.durable and self._execute_called:
                raise ValueError(
                    f"{type(self).__name__} {self.task_id!r}: {describe(hook)} (connection {self._conn_id!r}) has "
                    "no durable mode: the driver must run in the cluster (cluster deploy mode on a spark://, "
                    "yarn or k8s:// master) to be reconnected to. Nothing was submitted. Set durable=False to run "
                    "it as SparkSubmitOperator does (spark-submit runs until the application ends; a retry "
                    "submits again)."
                )
            if self._execute_called:
                self.log.info(
                    "Connection %r gives %s: spark-submit runs until the application ends and a retry submits "
                    "again (durable=False)",
                    self._conn_id,
                    describe(hook),
                )
            return hook
        if hook in self._set_up_hooks:
            return hook
        self._set_up_hooks.append(hook)
        if self.durable:
            if isinstance(mode, YarnClusterMode):
                hook._yarn_track_via_rm_api = True
            elif isinstance(mode, KubernetesClusterMode):
                hook._track_driver_via_k8s_api = True
        return report_id_early(hook, mode.captured_id, self.record_external_id, mode.parse_line)

    def _resolved_mode(self, hook: SparkSubmitHook | None = None) -> DeploymentMode | None:
        """The deployment mode of ``hook`` (default: this try's), cached per hook; ``None`` if it has none."""
        from airflow_durable_spark.deployment import deployment_mode

        hook = hook or getattr(self, "_hook", None)  # an operator made by __new__ alone has no attributes
        if hook is None:
            return None
        mode: DeploymentMode | None = getattr(self, "_mode", None)
        if mode is None or mode.hook is not hook:
            self._mode = deployment_mode(
                hook, status_timeout_seconds=self.status_timeout_seconds, kubernetes_conn_id=self.kubernetes_conn_id
            )
        return self._mode

    @property
    def hook(self) -> SparkSubmitHook:
        """The hook of this try (created on first use)."""
        if self._hook is None:
            self._hook = self._get_hook()
        return self._hook

    @property
    def mode(self) -> DeploymentMode:
        """The deployment mode of this try's hook.

        Raises:
            ValueError: The hook's master and deploy mode have no durable mode.
        """
        from airflow_durable_spark.deployment import describe

        mode = self._resolved_mode(self.hook)
        if mode is None:
            raise ValueError(f"{describe(self.hook)} has no durable mode (see DurableSparkSubmitOperator)")
        return mode

    # ------------------------------------------------------------------ DurableJobMixin hooks

    def prepare_submission(self, context: Context) -> None:
        """Check the mode's configuration before the intent is written (nothing submitted on error)."""
        self.mode.check()

    def submit_job(self, context: Context) -> str | None:
        """Run ``spark-submit``; the job's ID is recorded as soon as it is printed."""
        hook, mode = self.hook, self.mode
        if self.submission_token is not None:
            hook._conf[TOKEN_CONF_KEY] = self.submission_token
        mode.prepare(self.submission_token)
        external_id = mode.submitted_id(hook.submit(self.application))
        if not external_id:
            raise RuntimeError(mode.missing_id_message)
        self.log.info("Spark job submitted (%s): %s", mode.name, external_id)
        return external_id

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """Return the job's raw status in this mode; raises ``JobLostError`` if the cluster does not know it."""
        mode = self.mode
        state = self._durable_state
        if state is not None and state.token is None and (cached := mode.cached_upstream_status(context)):
            return cached  # a bare upstream record, with upstream's own cache beside it
        return mode.status(mode.validate(external_id), context)

    def find_job_by_token(self, token: str, context: Context) -> JsonValue:
        """Find the application by tag (YARN) or the driver pod by label (Kubernetes)."""
        return self.mode.find_by_token(token)

    def validate_external_id(self, external_id: JsonValue) -> str | int:
        """Accept this mode's ID: a driver ID, a YARN application ID or ``"<namespace>:<pod name>"``.

        The mode is the hook's; before this try built its hook (``execute`` builds it before any stored ID
        is read), a driver ID is expected.
        """
        mode = self._resolved_mode()
        return check_driver_id(external_id) if mode is None else mode.validate(external_id)

    def classify_status(self, status: str) -> JobState:
        """Classify with this try's mode's table (standalone's before the hook exists)."""
        mode = self._resolved_mode()
        return super().classify_status(status) if mode is None else mode.status_table.classify(status)

    def is_job_active(self, status: str) -> bool:
        """Return True for a queued or running driver (application, pod) of this mode."""
        return self.classify_status(status) is JobState.ACTIVE

    def is_job_succeeded(self, status: str) -> bool:
        """Return True for a driver (application, pod) that finished successfully in this mode."""
        return self.classify_status(status) is JobState.SUCCEEDED

    def is_job_failed(self, status: str) -> bool:
        """Return True for a terminal failure in this mode."""
        return self.classify_status(status) is JobState.FAILED

    def is_transient_error(self, error: Exception) -> bool:
        """Unreachable or recovering masters, ResourceManagers and API servers, 5xx, 429 and timeouts."""
        mode = self._resolved_mode()
        if mode is not None:
            return mode.is_transient(error)
        from airflow_durable_spark.client import is_transient

        return is_transient(error)

    def attach_job(self, external_id: JsonValue, context: Context) -> None:
        """Give the hook the job's ID on every path (its ``on_kill`` and logs use it)."""
        self.mode.attach(str(external_id))

    def get_job_result(  # type: ignore[override]  # upstream returns None; we return the result
        self, external_id: JsonValue, context: Context
    ) -> dict[str, str]:
        """Return the mode's result (same on every path)."""
        return self.mode.result(str(external_id))

    def cancel_job(self, external_id: JsonValue) -> None:
        """Kill the job (REST kill, RM kill, pod delete), each request bounded by ``cancel_timeout_seconds``."""
        self.mode.cancel(str(external_id), self.cancel_timeout_seconds)

    # ------------------------------------------------------------------ post-submit commands

    def execute_resumable(self, context: Context) -> Any:
        """Run the durable protocol, then the post-submit commands if this try dealt with a job.

        The commands run however the try ends: the job finished, failed, was lost or killed, its status
        was unlisted or unreadable, or no API answered (upstream's ``poll_until_complete`` runs them in a
        ``finally``). A try that never got an ID (``spark-submit`` failed, the stored state is corrupt)
        runs none, as upstream.
        """
        try:
            return super().execute_resumable(context)
        finally:
            if self._owned_external_id is not None:
                self._run_post_submit_commands()

    def on_kill(self) -> None:
        """Kill the job this try owns, then run the post-submit commands (as upstream's hook does).

        The kill is bounded by ``cancel_timeout_seconds``; neither step raises.
        """
        try:
            super().on_kill()
        finally:
            self._run_post_submit_commands()

    def _run_post_submit_commands(self) -> None:
        """Run ``post_submit_commands`` through the hook: at most once per try, failures only logged."""
        if self._hook is not None:
            self._hook._run_post_submit_commands()
