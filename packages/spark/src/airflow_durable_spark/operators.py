"""``DurableSparkSubmitOperator``: crash-safe ``SparkSubmitOperator`` (standalone, YARN, Kubernetes cluster modes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
from airflow.providers.apache.spark.operators.spark_submit import (
    SparkSubmitOperator,
    _SparkSubmitDeploymentBackend,
    _StandaloneSparkSubmitBackend,
)

from airflow_durable import DurableJobMixin, JobState
from airflow_durable_spark.statuses import SPARK_DRIVER_STATES, check_driver_id

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

    from airflow_durable_spark.client import SparkStandaloneRestClient

# The REST client (``client``) and the hook wrapper (``submit_log``) are imported on first use, in
# ``rest``, ``is_transient_error`` and ``_get_hook``: DAG files import this module at every parse, and a
# DAG parse needs neither (test_import_cost.py keeps it so).

TOKEN_CONF_KEY = "spark.airflow.durable.submission"
"""Spark property that carries the submission token into the driver's launch command and the Spark UI.

Its name avoids ``token``, ``secret`` and ``password``: Spark redacts values of keys matching
``spark.redaction.regex``, which would hide the token from anyone looking for a stray driver."""


class DurableSparkSubmitOperator(DurableJobMixin, SparkSubmitOperator):
    """Crash-safe ``SparkSubmitOperator``: Spark standalone cluster mode, and upstream's YARN and Kubernetes tracking.

    A drop-in for ``airflow.providers.apache.spark.operators.spark_submit.SparkSubmitOperator``: it takes
    the same arguments and templated fields, and builds the same ``spark-submit`` command through the
    provider's ``SparkSubmitHook``. On top of it:

    - the driver ID is persisted to ``task_state_store`` the moment ``spark-submit`` prints it, not when
      ``spark-submit`` exits;
    - a retry reconnects to an active driver, returns at once for a finished one, and submits a fresh
      driver after ``FAILED``/``ERROR``/``KILLED`` or when the master no longer knows the driver
      (``on_lost_job``);
    - driver status comes from the master's REST API (``GET /v1/submissions/status/{id}`` on the
      ``rest-port`` of the connection, default 6066, each HA master in turn) through ``requests.get``,
      never ``curl``; stored driver IDs are validated before they go into a URL;
    - ``UNKNOWN`` (master in recovery) is active everywhere, and an unreachable master is retried with
      backoff, never taken as a reason to resubmit;
    - only the master's own "unknown driver" reply means the driver is lost; any other odd status answer
      (a proxy's ``{}``, an HTML page, another driver's status) fails the task without resubmitting;
    - ``post_submit_commands`` run once at the end of every try that had a driver, however it ended
      (finished, failed, lost, unlisted status, unreadable status, no master reachable), and on kill;
    - ``on_kill`` kills the driver with ``POST /v1/submissions/kill/{id}``, bounded by
      ``cancel_timeout_seconds``.

    **Modes.** ``execute`` picks the mode as upstream's does:

    - standalone *cluster* deploy mode (``spark://`` master, ``deploy-mode: cluster``): everything above;
    - YARN cluster mode with ``yarn_track_via_rm_api=True``, and Kubernetes cluster mode with
      ``track_driver_via_k8s_api=True``: the durable protocol of ``DurableJobMixin`` (intent record,
      generations, result on every path) over upstream's own backends for submit, status, polling and
      kill, with upstream's status decisions (a status neither active nor succeeded, including
      Kubernetes' ``NotFound``, is a terminal failure, and a retry submits fresh). Neither looks a job up
      by token yet, so the submit-to-persist window is upstream's; ``execute`` returns ``None`` there;
    - YARN cluster mode with ``durable=True`` and without ``yarn_track_via_rm_api``: upstream's
      ``ValueError``;
    - local and client deploy modes (and YARN cluster mode with ``durable=False`` and without the RM
      API): ``spark-submit`` runs until the application ends, as upstream; there is no cluster driver to
      reconnect to, so no durability is possible, and the task log says so.

    **Known limitation (no token lookup):** the standalone master cannot find a driver by a client token,
    so a worker killed after the master created the driver and before the ID was persisted leaves a
    driver the retry does not know, and the retry submits another one. What remains of the window is the
    time ``spark-submit``'s JVM takes from receiving the create response to printing the driver-ID line
    (measured: median 235 ms on Spark 4.2 through the REST port, against 351 ms until ``spark-submit``
    exits, where upstream persists, and 5.4 s through port 7077), plus about 0.4 ms to read the line and
    write ``task_state_store``. The token travels as the Spark property ``spark.airflow.durable.submission``
    so such a stray driver can be found by hand.

    Stored state: the ``airflow_durable`` record (see ``DurableJobMixin``) under ``spark_job_id``, with
    ``external_id`` a driver ID such as ``"driver-20261129140102-0000"``. An upstream bare driver ID under
    the same key is read too, so migrating mid-flight is safe.

    Args:
        status_poll_interval: Upstream's poll interval in seconds; the first delay between status polls
            when ``poll_interval_seconds`` is not given.
        poll_interval_seconds: The first delay between status polls.
        max_poll_interval_seconds: The ceiling the delay grows to.
        status_timeout_seconds: Timeout of one REST request to a master.
        **kwargs: ``SparkSubmitOperator`` and ``DurableJobMixin`` arguments (``application``, ``conf``,
            ``conn_id``, ``java_class``, ``durable``, ``on_lost_job``, ``cancel_timeout_seconds``...).

    Returns (from ``execute``, pushed as ``return_value``):
        ``{"driver_id": str, "driver_state": "FINISHED"}``, identical on the fresh, reconnect and
        already-succeeded paths.

    Raises:
        ValueError: YARN cluster mode with ``durable=True`` and without ``yarn_track_via_rm_api``.
        JobFailedError: The driver ended ``FAILED``, ``ERROR`` or ``KILLED``.
        JobLostError: The master no longer knows the driver and ``on_lost_job="fail"``, or it vanished
            while polled.
        SparkMasterUnavailableError: No master answered within ``max_transient_errors`` retries.
        SparkStatusAnswerError: A status answer was neither a driver state nor the unknown-driver reply.
    """

    external_id_key = "spark_job_id"
    status_table = SPARK_DRIVER_STATES
    supports_token_lookup: ClassVar[bool] = False
    supports_cancel: ClassVar[bool] = True

    def __init__(
        self,
        *,
        status_poll_interval: int = 1,
        poll_interval_seconds: float | None = None,
        max_poll_interval_seconds: float = 30.0,
        status_timeout_seconds: float = 10.0,
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
        self._rest: SparkStandaloneRestClient | None = None

    def _get_hook(self) -> SparkSubmitHook:
        from airflow_durable_spark.submit_log import report_driver_id_early

        hook = report_driver_id_early(super()._get_hook(), self.record_external_id)
        # The modes upstream's ``execute`` runs through ``execute_resumable`` (or refuses: YARN cluster
        # mode, durable, without the RM API); every other one runs plain ``spark-submit``.
        tracks = (
            hook._should_track_driver_status
            or hook._should_track_driver_via_k8s_api()
            or (hook._is_yarn_cluster_mode and (hook._yarn_track_via_rm_api or self.durable))
        )
        if not tracks:
            self.log.info(
                "Connection %r gives master %r, deploy mode %r: spark-submit runs until the application "
                "ends and a retry submits again (no cluster driver to reconnect to, no durability)",
                self._conn_id,
                hook._connection.get("master"),
                hook._connection.get("deploy_mode"),
            )
        return hook

    @property
    def hook(self) -> SparkSubmitHook:
        """The hook of this try (created on first use)."""
        if self._hook is None:
            self._hook = self._get_hook()
        return self._hook

    @property
    def rest(self) -> SparkStandaloneRestClient:
        """The REST client for the connection's master(s)."""
        if self._rest is None:
            from airflow_durable_spark.client import SparkStandaloneRestClient, rest_base_urls

            connection = self.hook._connection
            # Upstream's defaults: a hook built from a connection always has both keys, one built by a test may not.
            scheme, port = connection.get("rest_scheme", "http"), int(connection.get("rest_port", 6066))
            self._rest = SparkStandaloneRestClient(
                rest_base_urls(connection["master"], scheme, port), timeout_seconds=self.status_timeout_seconds
            )
        return self._rest

    def _upstream_backend(self) -> _SparkSubmitDeploymentBackend | None:
        """Upstream's backend for YARN and Kubernetes cluster modes; ``None`` in standalone mode (ours)."""
        backend = self._backend
        return None if isinstance(backend, _StandaloneSparkSubmitBackend) else backend

    # ------------------------------------------------------------------ DurableJobMixin hooks

    def submit_job(self, context: Context) -> str | None:
        """Run ``spark-submit``; the driver ID is recorded as soon as it is printed.

        In YARN and Kubernetes cluster modes, upstream's backend submits (and returns the application ID,
        or ``namespace:pod``).
        """
        hook = self.hook
        if self.submission_token is not None:
            hook._conf[TOKEN_CONF_KEY] = self.submission_token
        backend = self._upstream_backend()
        if backend is not None:
            return backend.submit_job(context)
        driver_id = hook.submit(self.application)
        if not driver_id:
            raise RuntimeError("spark-submit did not print a driver ID")
        self.log.info("Spark driver submitted: %s", driver_id)
        return driver_id

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """Return the driver's raw ``driverState``; raises ``JobLostError`` if the master does not know it.

        In YARN and Kubernetes cluster modes, upstream's backend answers (RM application state, pod phase).
        """
        backend = self._upstream_backend()
        if backend is not None:
            return backend.get_job_status(str(external_id), context)
        return self.rest.driver_state(check_driver_id(external_id))

    def validate_external_id(self, external_id: JsonValue) -> str | int:
        """Accept a driver ID (see ``check_driver_id``); in YARN and Kubernetes modes, the mixin's check.

        The mode is the hook's; before this try built its hook (``execute`` builds it before any stored ID
        is read), a driver ID is expected.
        """
        if getattr(self, "_hook", None) is not None and self._upstream_backend() is not None:
            return super().validate_external_id(external_id)
        return check_driver_id(external_id)

    def classify_status(self, status: str) -> JobState:
        """Classify with the driver-state table; in YARN and Kubernetes modes, with upstream's decisions."""
        backend = self._upstream_backend()
        if backend is None:
            return super().classify_status(status)
        if backend.is_job_active(status):
            return JobState.ACTIVE
        return JobState.SUCCEEDED if backend.is_job_succeeded(status) else JobState.FAILED

    def is_job_active(self, status: str) -> bool:
        """Return True for a queued or running driver (application, pod) of this mode."""
        return self.classify_status(status) is JobState.ACTIVE

    def is_job_succeeded(self, status: str) -> bool:
        """Return True for a driver (application, pod) that finished successfully in this mode."""
        return self.classify_status(status) is JobState.SUCCEEDED

    def is_job_failed(self, status: str) -> bool:
        """Return True for a terminal failure in this mode."""
        return self.classify_status(status) is JobState.FAILED

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        """Poll the master's REST API (the mixin's loop); in YARN and Kubernetes modes, upstream's backend."""
        backend = self._upstream_backend()
        if backend is not None:
            backend.poll_until_complete(str(external_id), context)
            return
        super().poll_until_complete(external_id, context)

    def is_transient_error(self, error: Exception) -> bool:
        """Unreachable or recovering masters and timeouts are retried in place."""
        from airflow_durable_spark.client import is_transient

        return is_transient(error)

    def attach_job(self, external_id: JsonValue, context: Context) -> None:
        """Give the hook the job's ID on every path (its ``on_kill`` and logs use it)."""
        backend = self._upstream_backend()
        if backend is None:
            self.hook._driver_id = check_driver_id(external_id)
        elif self.hook._is_yarn_cluster_mode:
            self.hook._yarn_application_id = str(external_id)
        else:
            self.hook._kubernetes_driver_pod = self._parse_k8s_external_id(str(external_id))[1]

    def get_job_result(  # type: ignore[override]  # upstream returns None; we return the result
        self, external_id: JsonValue, context: Context
    ) -> dict[str, str] | None:
        """Return the driver's result (same on every path); ``None`` in YARN and Kubernetes modes, as upstream."""
        if self._upstream_backend() is not None:
            return None
        return {"driver_id": check_driver_id(external_id), "driver_state": "FINISHED"}

    def cancel_job(self, external_id: JsonValue) -> None:
        """Kill the driver through the REST API."""
        self.rest.kill(check_driver_id(external_id))

    # ------------------------------------------------------------------ post-submit commands

    def execute_resumable(self, context: Context) -> Any:
        """Run the durable protocol, then the post-submit commands if this try dealt with a driver.

        The commands run however the try ends: the driver finished, failed, was lost or killed, its
        status was unlisted or unreadable, or no master answered (upstream's ``poll_until_complete``
        runs them in a ``finally``). A try that never got a driver ID (``spark-submit`` failed, the
        stored state is corrupt) runs none, as upstream.
        """
        try:
            return super().execute_resumable(context)
        finally:
            if self._owned_external_id is not None:
                self._run_post_submit_commands()

    def on_kill(self) -> None:
        """Kill the driver this try owns, then run the post-submit commands (as upstream's hook does).

        The kill is bounded by ``cancel_timeout_seconds``; neither step raises. In YARN and Kubernetes
        modes upstream's backend kills what the hook knows (the RM REST kill, the driver pod).
        """
        try:
            backend = self._upstream_backend() if self._hook is not None else None
            if backend is not None:
                backend.on_kill()
            else:
                super().on_kill()
        finally:
            self._run_post_submit_commands()

    def _run_post_submit_commands(self) -> None:
        """Run ``post_submit_commands`` through the hook: at most once per try, failures only logged."""
        if self._hook is not None:
            self._hook._run_post_submit_commands()
