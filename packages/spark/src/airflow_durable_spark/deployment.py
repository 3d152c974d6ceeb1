"""Deployment modes: what differs between Spark standalone, YARN and Kubernetes cluster modes, behind one interface.

``DurableSparkSubmitOperator`` builds one :class:`DeploymentMode` per try from its hook
(:func:`deployment_mode`) and dispatches every ``DurableJobMixin`` hook to it. Each mode lives in its own
module: :mod:`.standalone` (driver IDs, the master's REST API), :mod:`.yarn_applications` (application IDs,
the ResourceManager REST API) and :mod:`.driver_pods` (driver pods, the Kubernetes API).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
    from airflow.sdk.definitions.context import Context

    from airflow_durable import StatusTable


class DeploymentMode:
    """One Spark deployment mode, for one try: submission, status, lookup, kill, result.

    Args:
        hook: The try's ``SparkSubmitHook`` (built by the operator, configured for this mode).
        status_timeout_seconds: Timeout of one status request.

    Attributes:
        supports_token_lookup: Whether :meth:`find_by_token` can find a submission by its token.
        status_table: The cited table :meth:`status` answers from.
        name: The mode, for messages.
        id_name: What its external ID is, for messages (``"driver ID"``...).
        missing_id_message: The error when ``spark-submit`` printed no ID (upstream's text).
    """

    name: ClassVar[str]
    id_name: ClassVar[str]
    missing_id_message: ClassVar[str]
    supports_token_lookup: ClassVar[bool] = False
    status_table: ClassVar[StatusTable]

    def __init__(self, hook: SparkSubmitHook, *, status_timeout_seconds: float = 10.0) -> None:
        self.hook = hook
        self.status_timeout_seconds = status_timeout_seconds

    def runs_in_cluster(self) -> bool:
        """Whether the driver runs in the cluster (cluster deploy mode): the condition of durability."""
        return True

    def check(self) -> None:
        """Check the configuration before anything is submitted (no external call that creates a job).

        Raises:
            ValueError: The configuration cannot be tracked.
        """

    def prepare(self, token: str | None) -> None:
        """Set what this mode needs in the hook's Spark properties before ``spark-submit`` runs.

        Args:
            token: The submission token (``None`` when ``durable=False``).

        Raises:
            ValueError: The configuration cannot be tracked (for example ``waitAppCompletion=true``).
        """

    def captured_id(self) -> str | None:
        """Return the external ID from what the hook parsed of ``spark-submit``'s output so far, or ``None``."""
        raise NotImplementedError

    def submitted_id(self, returned: str | None) -> str | None:
        """Return the external ID once ``spark-submit`` exited; ``returned`` is what ``hook.submit`` returned."""
        return self.captured_id()

    def parse_line(self, line: str) -> None:
        """Parse one ``spark-submit`` output line after the hook did (for what upstream's regexes miss)."""

    def validate(self, external_id: object) -> str:
        """Return ``external_id`` if it is this mode's ID format; raise ``ValueError`` otherwise."""
        raise NotImplementedError

    def status(self, external_id: str, context: Context) -> str:
        """Return the raw status (a :attr:`status_table` key); raise ``JobLostError`` when the job is gone."""
        raise NotImplementedError

    def find_by_token(self, token: str) -> str | None:
        """Return the external ID of the submission carrying ``token``, or ``None``."""
        raise NotImplementedError(f"{self.name} cannot look a submission up by token")

    def cancel(self, external_id: str, timeout_seconds: float) -> None:
        """Kill the job; one request bounded by ``timeout_seconds``."""
        raise NotImplementedError

    def attach(self, external_id: str) -> None:
        """Give the hook the job's ID (its ``on_kill`` and logs use it)."""

    def result(self, external_id: str) -> dict[str, str]:
        """Return the task's result for a succeeded job (the same on every path)."""
        raise NotImplementedError

    def is_transient(self, error: Exception) -> bool:
        """Return True for an error worth retrying in place (unreachable API, 5xx, timeouts)."""
        return False

    def cached_upstream_status(self, context: Context) -> str | None:
        """Return a status upstream's operator cached beside a bare upstream record, or ``None``."""
        return None


def describe(hook: SparkSubmitHook) -> str:
    """Return ``master ..., deploy mode ...`` of a hook, for messages."""
    connection: dict[str, Any] = hook._connection
    return f"master {connection.get('master')!r}, deploy mode {connection.get('deploy_mode')!r}"


def deployment_mode(
    hook: SparkSubmitHook, *, status_timeout_seconds: float, kubernetes_conn_id: str = "kubernetes_default"
) -> DeploymentMode | None:
    """Return the durable mode of ``hook``'s master and deploy mode, or ``None`` if it has none.

    Standalone cluster mode (``spark://``, ``cluster``), YARN cluster mode (``yarn``, ``cluster``) and
    Kubernetes (``k8s://``) have one; local masters and client deploy mode on the others do not. The choice
    is upstream's (its hook's ``_should_track_driver_status``, ``_is_yarn_cluster_mode``, ``_is_kubernetes``,
    as its operator picks a backend); a Kubernetes mode in client deploy mode is not durable either (see
    :meth:`DeploymentMode.runs_in_cluster`).
    """
    if hook._should_track_driver_status:  # spark:// master, cluster deploy mode
        from airflow_durable_spark.standalone import StandaloneClusterMode

        return StandaloneClusterMode(hook, status_timeout_seconds=status_timeout_seconds)
    if hook._is_yarn_cluster_mode:
        from airflow_durable_spark.yarn_applications import YarnClusterMode

        return YarnClusterMode(hook, status_timeout_seconds=status_timeout_seconds)
    if hook._is_kubernetes:
        from airflow_durable_spark.driver_pods import KubernetesClusterMode

        return KubernetesClusterMode(
            hook, kubernetes_conn_id=kubernetes_conn_id, status_timeout_seconds=status_timeout_seconds
        )
    return None
