"""Durable Databricks operators: ``runs/submit`` and ``run-now``, exactly once, on ``databricks-sdk``.

Importing this module does not import ``databricks.sdk`` (about 1.4 s): DAG files parse fast.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, BaseOperatorLink

from airflow_durable import Decision, DurableJobMixin, JobFailedError, JobState
from airflow_durable.upstream_interface import flag_or_conf
from airflow_durable_databricks import payload
from airflow_durable_databricks.client import DatabricksRuns, is_transient
from airflow_durable_databricks.outcomes import (
    DatabricksRunFailedError,
    failed_task_errors,
    failure_message,
    from_upstream_event,
    is_upstream_event,
    run_state,
)
from airflow_durable_databricks.payload import DatabricksPayloadError
from airflow_durable_databricks.repair import REPAIR_KEY_SUFFIX, RepairRecord
from airflow_durable_databricks.retries import check_serializable, retry_timeout_seconds
from airflow_durable_databricks.statuses import RUN_STATES, check_run_id, run_status

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from airflow.sdk.types import TaskInstanceKey
    from pydantic import JsonValue

XCOM_RUN_ID_KEY = "run_id"
XCOM_RUN_PAGE_URL_KEY = "run_page_url"


class DatabricksRunPageLink(BaseOperatorLink):
    """Extra link to the run's page, from the ``run_page_url`` XCom (set on every path)."""

    name = "See Databricks Job Run"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """Return the run page URL pushed by the task instance."""
        from airflow.sdk.execution_time.xcom import XCom

        return str(XCom.get_value(key=XCOM_RUN_PAGE_URL_KEY, ti_key=ti_key) or "")


class _DurableDatabricksRunOperator(DurableJobMixin, BaseOperator):
    """What both durable Databricks operators share: polling, states, result, XComs, cancel, deferral.

    Stored state: the ``airflow_durable`` record (see ``DurableJobMixin``) with ``external_id`` the
    integer ``run_id``. The submission token is the Databricks ``idempotency_token``: derived from the task
    instance and the generation (a user ``idempotency_token`` is mixed in as the base), so a retry after a
    crash gets the same run back, and a retry after a failed run gets a new run, never the failed one.

    ``wait_for_termination=False`` is fire-and-forget, exactly once: the try submits, pushes ``run_id`` and
    ``run_page_url`` (as upstream does) and returns ``{"run_id", "run_page_url"}`` without waiting; a retry
    or clear returns that run whatever its state, without calling Databricks, and never submits another.
    """

    status_table = RUN_STATES
    supports_cancel: ClassVar[bool] = True
    deduplicates_submissions: ClassVar[bool] = True
    # The SDK resends a throttled or failed submit itself, within databricks_retry_limit / databricks_retry_args.
    sdk_retries_submissions: ClassVar[bool] = True
    fire_and_forget_kwargs: ClassVar[dict[str, Any]] = {"wait_for_termination": False}
    resume_method_name: ClassVar[str] = "execute_complete"
    operator_extra_links = (DatabricksRunPageLink(),)
    ui_color = "#1CB1C2"
    ui_fgcolor = "#fff"

    def __init__(
        self,
        *,
        databricks_conn_id: str = "databricks_default",
        polling_period_seconds: int = 30,
        poll_interval_seconds: float | None = None,
        max_poll_interval_seconds: float | None = None,
        databricks_retry_limit: int = 3,
        databricks_retry_delay: float = 1,
        databricks_retry_args: dict[Any, Any] | None = None,
        do_xcom_push: bool = True,
        wait_for_termination: bool = True,
        deferrable: bool | None = None,
        idempotency_token: str | None = None,
        sdk_config_overrides: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if polling_period_seconds < 0:
            raise ValueError(f"polling_period_seconds must be >= 0, got {polling_period_seconds!r}")
        if databricks_retry_limit < 1:
            raise ValueError("Retry limit must be greater than or equal to 1")
        super().__init__(
            poll_interval_seconds=float(
                polling_period_seconds if poll_interval_seconds is None else poll_interval_seconds
            ),
            max_poll_interval_seconds=(
                None
                if max_poll_interval_seconds is None
                else max(max_poll_interval_seconds, float(polling_period_seconds))
            ),
            **kwargs,
        )
        self.databricks_conn_id = databricks_conn_id
        self.polling_period_seconds = polling_period_seconds
        # Mapped onto the SDK's retry budget (see sdk_config_defaults).
        self.databricks_retry_limit = databricks_retry_limit
        self.databricks_retry_delay = databricks_retry_delay
        self.databricks_retry_args = databricks_retry_args
        self.do_xcom_push = do_xcom_push
        self.wait_for_termination = wait_for_termination
        self.deferrable = flag_or_conf(deferrable, "operators", "default_deferrable")
        self.idempotency_token = idempotency_token
        self.sdk_config_overrides = dict(sdk_config_overrides or {})
        self._runs: DatabricksRuns | None = None
        self._last_run: dict[str, Any] | None = None
        self._last_run_id: int | None = None
        self._event_errors: list[Any] | None = None
        self._event_repair: bool | None = None
        self._polling = False
        self._run_xcoms_pushed: int | None = None
        self._payload: dict[str, Any] | None = None
        self._page_url: tuple[int, Any] | None = None

    @property
    def run_id(self) -> int | None:
        """The run this operator is attached to (upstream's attribute): the one ``on_kill`` cancels.

        In a task run it is set only when the try submits its run or attaches to its recorded one, so
        ``on_kill`` never cancels a run the try does not own. Setting it (as upstream's tests do) attaches
        the operator to that run; the value is checked as a stored ``run_id`` is.

        Raises:
            ValueError: On assignment, a value that is not a positive integer ``run_id``.
        """
        owned = self._owned_external_id
        try:
            return None if owned is None else self.validate_external_id(owned)
        except ValueError:  # reading never raises (the mixin only keeps checked IDs)
            return None

    @run_id.setter
    def run_id(self, value: int | str | None) -> None:
        self._owned_external_id = None if value is None else self.validate_external_id(value)

    @property
    def sdk_config_defaults(self) -> dict[str, Any]:
        """``Config`` fields from ``databricks_retry_*``; the connection's extra and ``sdk_config_overrides`` win.

        ``retry_timeout_seconds`` is the time budget in which ``databricks-sdk`` retries 429, 503, connection
        errors and timeouts: long enough for at least ``databricks_retry_limit`` attempts with at least
        upstream's waits (exponential from ``databricks_retry_delay``, capped at ``2 ** limit`` seconds), or
        as ``databricks_retry_args``' ``stop_after_attempt``/``stop_after_delay`` and ``wait`` say (see
        :func:`~airflow_durable_databricks.retries.retry_timeout_seconds`). Other tenacity settings have no
        SDK equivalent and leave the SDK's default (300 s). Errors the SDK gave up on are then retried by the
        operator while polling (``max_transient_errors``), never by resubmitting.
        """
        budget = retry_timeout_seconds(
            self.databricks_retry_limit, self.databricks_retry_delay, self.databricks_retry_args
        )
        return {} if budget is None else {"retry_timeout_seconds": budget}

    @property
    def runs(self) -> DatabricksRuns:
        """The SDK-backed client of this try."""
        if self._runs is None:
            self._runs = DatabricksRuns(self.databricks_conn_id, self.sdk_config_overrides, self.sdk_config_defaults)
        return self._runs

    def execute(self, context: Context) -> Any:
        """Run the durable protocol (see ``DurableJobMixin``).

        Raises:
            ValueError: ``deferrable=True`` with ``databricks_retry_args`` that cannot be serialized for the
                triggerer (upstream's check and text), before anything is submitted.
        """
        if self.deferrable:
            check_serializable(self.databricks_retry_args, type(self).__name__)
        return self.execute_resumable(context)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired (upstream's method name), from our trigger's event or upstream's.

        A task deferred by upstream's operator (before the upgrade) resumes here with a
        ``DatabricksExecutionTrigger`` event: it completes as upstream's would (the XComs, upstream's failure
        text, a repair if the event allows one), then returns our result.

        Raises:
            AirflowException: Upstream's event misses a key or holds no run state (upstream's errors).
            DatabricksRunFailedError: The run failed (and was not repaired).
        """
        if event is not None and is_upstream_event(event):
            run_id, status, state = from_upstream_event(event)
            # The event holds what get_job_result needs: no runs/get for a finished run.
            self._last_run = {"run_id": run_id, "run_page_url": event["run_page_url"], "state": state}
            self._last_run_id = run_id
            self._event_errors = list(event["errors"])
            self._event_repair = bool(event.get("repair_run"))
            event = {"external_id": run_id, "status": status}
        return self.execute_resumable_complete(context, event)

    def execute_resumable_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """The mixin's completion, with upstream's failure text and, for run-now, the repair (then defer again)."""
        try:
            return super().execute_resumable_complete(context, event)
        except JobFailedError as err:
            if isinstance(err, DatabricksRunFailedError):
                raise
            run_id = self.validate_external_id(err.external_id)
            self._handle_failed_run(run_id, err.status, context, deferred=True)
            self.defer(trigger=self.job_trigger(run_id, context), method_name=self.resume_method_name)
            raise  # unreachable: defer raises TaskDeferred

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        """The mixin's polling; a failed run raises upstream's error, or is repaired and polled again.

        Raises:
            DatabricksRunFailedError: The run failed (see :mod:`airflow_durable_databricks.outcomes`).
        """
        self._polling = True
        try:
            while True:
                try:
                    return super().poll_until_complete(external_id, context)
                except JobFailedError as err:
                    if isinstance(err, DatabricksRunFailedError):
                        raise
                    self._handle_failed_run(self.validate_external_id(external_id), err.status, context)
        finally:
            self._polling = False

    def _handle_failed_run(self, run_id: int, status: str, context: Context, *, deferred: bool = False) -> None:
        """Return when the failed run was repaired (poll it again); else raise upstream's error."""
        run = self._last_run
        if run is None or self._last_run_id != run_id:
            run = self._get_run(run_id)
        state = run_state(run)
        failed = self._event_errors
        if failed is None:
            failed = failed_task_errors(run, self.runs.get_output)
        message = failure_message(self.task_id, state, failed, deferrable=self.deferrable or deferred)
        allowed, self._event_repair = self._event_repair, None
        self._event_errors = None
        if self.repair_failed_run(run_id, state, context, allowed=allowed):
            self.log.warning("%s but since repair run is set, repairing the run with all failed tasks", message)
            return
        raise DatabricksRunFailedError(run_id, status, message, [t for t in failed if isinstance(t, dict)])

    def repair_failed_run(self, run_id: int, state: dict[str, str], context: Context, *, allowed: bool | None) -> bool:
        """Repair a failed run and return True, or return False (the default: submit-run has no repair).

        Args:
            run_id: The failed run.
            state: Its ``state`` block (``life_cycle_state``, ``result_state``, ``state_message``).
            context: The task context.
            allowed: An upstream trigger event's ``repair_run``; ``None`` for our own polling or events.
        """
        return False

    def _get_merged_json(self) -> dict[str, Any]:
        """``json`` merged with the named arguments, as upstream's method of this name (implemented per operator).

        Raises:
            DatabricksPayloadError: ``json`` is not a mapping (or a string of one).
        """
        raise NotImplementedError

    def build_payload(self, context: Context | None) -> dict[str, Any]:
        """Return the normalised request body upstream's operator would send (implemented per operator).

        Raises:
            DatabricksPayloadError: The body is invalid (upstream's checks and texts), before any API call.
        """
        raise NotImplementedError

    def prepare_submission(self, context: Context) -> None:
        """Build and check the body (and resolve names through the API) before the intent is written."""
        self._payload = self.build_payload(context)

    def _params(self, context: Context | None) -> dict[str, Any]:
        """The DAG ``params`` to forward: the operator's, with the context's values (run conf applied) over them."""
        params = dict(self.params or {})
        params.update((context.get("params") if context else None) or {})
        return payload.forwardable_params(params)

    def _user_token(self) -> str | None:
        """The user's ``idempotency_token``: the argument, else the one inside ``json`` (as upstream)."""
        token = self._get_merged_json().get("idempotency_token")
        return None if token is None else str(token)

    def _request_with_token(self, context: Context) -> dict[str, Any]:
        body = dict(self._payload if self._payload is not None else self.build_payload(context))
        self._payload = None
        token = self.submission_token or self._user_token()
        if token is not None:
            body["idempotency_token"] = token
        else:
            body.pop("idempotency_token", None)
        return body

    def token_base(self) -> str | None:
        """The user's ``idempotency_token``, mixed into every derived token."""
        return self._user_token()

    def validate_external_id(self, external_id: JsonValue) -> int:
        """A ``run_id`` is a positive integer (as an int, or a string of digits from older records)."""
        return check_run_id(external_id)

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """Fold the run's ``state``/``status`` blocks into one raw status (see ``statuses``).

        While polling, the first answer also pushes ``run_id`` and ``run_page_url`` (as upstream does when
        it starts polling), so the extra link works while the run is in flight.
        """
        run_id = self.validate_external_id(external_id)
        self._get_run(run_id)
        assert self._last_run is not None
        if self._polling and self.do_xcom_push and self._run_xcoms_pushed != run_id:
            self._push_run_xcoms(context, run_id, self._run_page_url(run_id, self._last_run))
        return run_status(self._last_run)

    def _get_run(self, run_id: int) -> dict[str, Any]:
        """``runs/get``, kept as the last answer about ``run_id`` (the result reuses a terminal one)."""
        self._last_run, self._last_run_id = self.runs.get(run_id), run_id
        return self._last_run

    def _run_page_url(self, run_id: int, run: dict[str, Any]) -> Any:
        """The run's ``run_page_url``: from its ``runs/get`` answer, else asked once per run and try.

        Databricks' answers always hold it; older API versions (and mocks of upstream's hook) may not.
        """
        url = run.get("run_page_url")
        if url:
            return url
        if self._page_url is None or self._page_url[0] != run_id:
            self._page_url = (run_id, self.runs.run_page_url(run_id))
        return self._page_url[1]

    def _push_run_xcoms(self, context: Context | None, run_id: int, url: Any) -> None:
        """Push ``run_id`` and ``run_page_url`` (not without a context, as upstream)."""
        if context is not None:
            self.push_xcom(context, XCOM_RUN_ID_KEY, run_id)
            self.push_xcom(context, XCOM_RUN_PAGE_URL_KEY, url)
        self._run_xcoms_pushed = run_id

    def is_transient_error(self, error: Exception) -> bool:
        """500s, gateway errors and timeouts (the SDK already retried 429 and 503)."""
        return is_transient(error)

    def attach_job(self, external_id: JsonValue, context: Context) -> None:
        """Remember the run for ``on_kill`` and for the extra link, on every path."""
        self.run_id = self.validate_external_id(external_id)

    def waits_for_job(self) -> bool:
        """``wait_for_termination``: False makes the operator fire-and-forget (see the class docstring)."""
        return self.wait_for_termination

    def get_job_result(self, external_id: JsonValue, context: Context) -> dict[str, Any]:
        """Push ``run_id`` and ``run_page_url`` (unless polling did) and return the same dict on every path.

        The mixin keeps the returned dict and the XComs in the ``succeeded`` record, so a later try replays
        them without calling Databricks (whose run history expires after about 60 days).

        Returns:
            ``{"run_id": int, "run_page_url": str, "state": "TERMINATED:SUCCESS"}``; without
            ``wait_for_termination``, ``{"run_id": int, "run_page_url": str}``.
        """
        run_id = self.validate_external_id(external_id)
        run = self._last_run if self._last_run_id == run_id else None
        if not self.wait_for_termination:
            # Only the URL matters to a try that does not wait (upstream asks for nothing else).
            url = self._run_page_url(run_id, run or {})
            self._push_run_xcoms_once(context, run_id, url)
            self.log.info("Databricks run %s submitted; not waiting for it: %s", run_id, url)
            return {"run_id": run_id, "run_page_url": url}
        # The decision's or the last poll's response already holds the terminal run: no second call.
        if run is None or RUN_STATES.classify(run_status(run)) is JobState.ACTIVE:
            run = self._get_run(run_id)
        url = self._run_page_url(run_id, run)
        self._push_run_xcoms_once(context, run_id, url)
        self.log.info("Databricks run %s finished: %s", run_id, url)
        return {"run_id": run_id, "run_page_url": url, "state": run_status(run)}

    def _push_run_xcoms_once(self, context: Context, run_id: int, url: Any) -> None:
        """Push the run XComs unless polling already did (``do_xcom_push``)."""
        if self.do_xcom_push and self._run_xcoms_pushed != run_id:
            self._push_run_xcoms(context, run_id, url)

    def cancel_job(self, external_id: JsonValue) -> None:
        """``runs/cancel`` the run this try owns."""
        self.runs.cancel(self.validate_external_id(external_id))

    def job_trigger(self, external_id: JsonValue, context: Context) -> Any:
        """The trigger that polls the run in the triggerer (``deferrable=True``)."""
        from airflow_durable_databricks.triggers import DurableDatabricksRunTrigger

        return DurableDatabricksRunTrigger(
            run_id=self.validate_external_id(external_id),
            databricks_conn_id=self.databricks_conn_id,
            poll_interval_seconds=self.poll_interval_seconds,
            max_poll_interval_seconds=self.max_poll_interval_seconds,
            max_transient_errors=self.max_transient_errors,
            sdk_config_overrides=self.sdk_config_overrides,
            sdk_config_defaults=self.sdk_config_defaults,
        )


class DurableDatabricksSubmitRunOperator(_DurableDatabricksRunOperator):
    """Crash-safe ``DatabricksSubmitRunOperator``: ``POST /api/2.2/jobs/runs/submit``, exactly once.

    Takes the arguments of ``airflow.providers.databricks.operators.databricks.DatabricksSubmitRunOperator``
    (``json`` merged with the named task fields, which win), pushes the same XComs (``run_id``,
    ``run_page_url``) and has the same extra link. See https://docs.databricks.com/api/workspace/jobs/submit.

    Differences: runs are submitted, read and cancelled through ``databricks-sdk`` (its auth and its
    retries); the ``idempotency_token`` is always sent, derived per task instance and generation; polling
    backs off from ``polling_period_seconds`` to ``max_poll_interval_seconds`` (default 120 s, the core
    policy ``max(120 s, 4 x polling_period_seconds)``; set it to ``polling_period_seconds`` for upstream's
    fixed cadence); the return value is
    ``{"run_id", "run_page_url", "state"}`` on every path (``{"run_id", "run_page_url"}`` with
    ``wait_for_termination=False``, which is fire-and-forget exactly once); ``databricks_retry_*`` set the
    SDK's retry budget (see ``sdk_config_defaults``).

    The body sent is upstream's (see :meth:`build_payload`; :meth:`_get_merged_json` shows the merge); it is
    built and checked before the intent is written, so a bad body fails the try with nothing submitted and
    nothing recorded.

    Args:
        json: The request body, or a JSON string of it (templated).
        tasks: ``tasks`` of a multi-task run.
        spark_jar_task: A ``spark_jar_task``.
        notebook_task: A ``notebook_task``.
        spark_python_task: A ``spark_python_task``.
        spark_submit_task: A ``spark_submit_task``.
        pipeline_task: A ``pipeline_task``.
        dbt_task: A ``dbt_task`` (needs ``git_source``).
        new_cluster: A ``new_cluster`` spec.
        existing_cluster_id: An existing cluster.
        libraries: ``libraries``.
        environments: ``environments``.
        run_name: The run name; defaults to the task ID.
        timeout_seconds: The run's timeout, in seconds (Databricks field).
        access_control_list: ``access_control_list``.
        git_source: ``git_source``.
        performance_target: ``performance_target``.
        openlineage_inject_parent_job_info: Inject the OpenLineage parent job into the task parameters and
            the ``new_cluster`` Spark configuration (see :mod:`airflow_durable_databricks.openlineage`);
            default ``[openlineage] spark_inject_parent_job_info``.
        openlineage_inject_transport_info: Inject the OpenLineage transport into the ``new_cluster`` Spark
            configuration; default ``[openlineage] spark_inject_transport_info``.
        **kwargs: Shared arguments: ``databricks_conn_id``, ``polling_period_seconds``,
            ``max_poll_interval_seconds``, ``databricks_retry_limit``, ``databricks_retry_delay``,
            ``databricks_retry_args``, ``do_xcom_push``, ``wait_for_termination``, ``deferrable`` (default
            ``[operators] default_deferrable``), ``on_lost_job``, ``cancel_timeout_seconds``, ``durable``,
            ``sdk_config_overrides`` and ``BaseOperator`` arguments.

    Keyword Args:
        idempotency_token: A base token; the sent token is derived from it per task instance and generation.

    Raises:
        ValueError: On construction, ``databricks_retry_limit`` below 1; on execution, ``deferrable=True``
            with ``databricks_retry_args`` that cannot be serialized (upstream's texts).
    """

    external_id_key = "databricks_run_id"
    template_fields: Sequence[str] = (
        "json",
        "tasks",
        "spark_jar_task",
        "notebook_task",
        "spark_python_task",
        "spark_submit_task",
        "pipeline_task",
        "dbt_task",
        "new_cluster",
        "existing_cluster_id",
        "libraries",
        "environments",
        "run_name",
        "timeout_seconds",
        "idempotency_token",
        "access_control_list",
        "git_source",
        "performance_target",
        "databricks_conn_id",
    )
    template_ext: Sequence[str] = (".json-tpl",)

    def __init__(
        self,
        *,
        json: Any | None = None,
        tasks: list[object] | None = None,
        spark_jar_task: dict[str, Any] | None = None,
        notebook_task: dict[str, Any] | None = None,
        spark_python_task: dict[str, Any] | None = None,
        spark_submit_task: dict[str, Any] | None = None,
        pipeline_task: dict[str, Any] | None = None,
        dbt_task: dict[str, Any] | None = None,
        new_cluster: dict[str, object] | None = None,
        existing_cluster_id: str | None = None,
        libraries: list[dict[str, Any]] | None = None,
        environments: list[dict[str, Any]] | None = None,
        run_name: str | None = None,
        timeout_seconds: int | None = None,
        access_control_list: list[dict[str, str]] | None = None,
        git_source: dict[str, str] | None = None,
        performance_target: str | None = None,
        openlineage_inject_parent_job_info: bool | None = None,
        openlineage_inject_transport_info: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.openlineage_inject_parent_job_info = flag_or_conf(
            openlineage_inject_parent_job_info, "openlineage", "spark_inject_parent_job_info"
        )
        self.openlineage_inject_transport_info = flag_or_conf(
            openlineage_inject_transport_info, "openlineage", "spark_inject_transport_info"
        )
        self.json = json
        self.tasks = tasks
        self.spark_jar_task = spark_jar_task
        self.notebook_task = notebook_task
        self.spark_python_task = spark_python_task
        self.spark_submit_task = spark_submit_task
        self.pipeline_task = pipeline_task
        self.dbt_task = dbt_task
        self.new_cluster = new_cluster
        self.existing_cluster_id = existing_cluster_id
        self.libraries = libraries
        self.environments = environments
        self.run_name = run_name
        self.timeout_seconds = timeout_seconds
        self.access_control_list = access_control_list
        self.git_source = git_source
        self.performance_target = performance_target

    def _get_named_json_parameters(self) -> dict[str, Any]:
        return {
            "tasks": self.tasks,
            "spark_jar_task": self.spark_jar_task,
            "notebook_task": self.notebook_task,
            "spark_python_task": self.spark_python_task,
            "spark_submit_task": self.spark_submit_task,
            "pipeline_task": self.pipeline_task,
            "dbt_task": self.dbt_task,
            "new_cluster": self.new_cluster,
            "existing_cluster_id": self.existing_cluster_id,
            "libraries": self.libraries,
            "environments": self.environments,
            "run_name": self.run_name,
            "timeout_seconds": self.timeout_seconds,
            "idempotency_token": self.idempotency_token,
            "access_control_list": self.access_control_list,
            "git_source": self.git_source,
            "performance_target": self.performance_target,
        }

    def _get_merged_json(self) -> dict[str, Any]:
        """``json`` with the named fields written over it; ``run_name`` defaults to the task ID (as upstream)."""
        merged = payload.merge_json(self.json, self._get_named_json_parameters())
        merged.setdefault("run_name", self.task_id)
        return merged

    def _prepare_submit_json(self, context: Context | None) -> dict[str, Any]:
        """Upstream's name for :meth:`build_payload`."""
        return self.build_payload(context)

    def build_payload(self, context: Context | None) -> dict[str, Any]:
        """The normalised ``runs/submit`` body, as upstream builds it, in upstream's order.

        Merge; check (``dbt_task`` needs ``git_source``; not both ``pipeline_id`` and ``pipeline_name``);
        check every value's type; resolve ``pipeline_task.pipeline_name`` to its ``pipeline_id``
        (``GET /api/2.0/pipelines``); put the DAG ``params`` into each task's empty dict-shaped parameter
        field (``notebook_task.base_parameters``, ``python_wheel_task.named_parameters``,
        ``sql_task.parameters``, ``run_job_task.job_parameters``; ``None`` values skipped); inject OpenLineage
        information when asked; normalise (numbers become strings). The named fields are never modified.

        Raises:
            DatabricksPayloadError: An invalid body (upstream's texts), before any API call; or no pipeline
                has the name.
            AirflowException: More than one pipeline has the name.
        """
        json = copy.deepcopy(self._get_merged_json())
        payload.validate_submit(json)
        payload.normalise_json_content(json)
        pipeline_task = json.get("pipeline_task")
        if (
            isinstance(pipeline_task, Mapping)
            and pipeline_task.get("pipeline_id") is None
            and pipeline_task.get("pipeline_name")
        ):
            name = pipeline_task["pipeline_name"]
            pipeline_id = self.runs.find_pipeline_id(name)
            if pipeline_id is None:
                raise DatabricksPayloadError(f"Pipeline ID for pipeline name {name} can not be found")
            json["pipeline_task"] = {k: v for k, v in pipeline_task.items() if k != "pipeline_name"}
            json["pipeline_task"]["pipeline_id"] = pipeline_id
        if params := self._params(context):
            for task in payload.each_task(json):
                payload.inject_params_into_task(task, params)
        if self.openlineage_inject_parent_job_info or self.openlineage_inject_transport_info:
            from airflow_durable_databricks.openlineage import inject_into_submit

            self.log.info("Automatic injection of OpenLineage information is enabled.")
            json = inject_into_submit(
                json,
                context or {},  # type: ignore[arg-type]
                parent=self.openlineage_inject_parent_job_info,
                transport=self.openlineage_inject_transport_info,
            )
        normalised: dict[str, Any] = payload.normalise_json_content(json)
        return normalised

    def submit_job(self, context: Context) -> int:
        """``runs/submit`` with the protocol's ``idempotency_token``."""
        run_id = self.runs.submit(self._request_with_token(context))
        self.log.info("Submitted Databricks run %s", run_id)
        return run_id


class DurableDatabricksRunNowOperator(_DurableDatabricksRunOperator):
    """Crash-safe ``DatabricksRunNowOperator``: ``POST /api/2.2/jobs/run-now``, exactly once.

    Takes the arguments of ``airflow.providers.databricks.operators.databricks.DatabricksRunNowOperator``
    and pushes the same XComs (``run_id``, ``run_page_url``). See
    https://docs.databricks.com/api/workspace/jobs/runnow. The user ``idempotency_token`` is only the base
    of the sent token: a retry after a failed run can never be handed that failed run back (a known
    upstream report, where the task was then marked successful).

    Args:
        job_id: The job to run.
        job_name: The job to run, by name (resolved with ``jobs/list``); not with ``job_id``.
        job_parameters: ``job_parameters``.
        json: The request body, or a JSON string of it (templated).
        dbt_commands: ``dbt_commands``.
        notebook_params: ``notebook_params``.
        python_params: ``python_params``.
        jar_params: ``jar_params``.
        spark_submit_params: ``spark_submit_params``.
        python_named_params: ``python_named_params``.
        performance_target: ``performance_target``.
        forward_dag_params: Forward the DAG's ``params`` as ``job_parameters`` when none are given.
        openlineage_inject_parent_job_info: Add the OpenLineage parent job as the ``OPENLINEAGE_CONTEXT`` job
            parameter (skipped with a legacy parameter slot); default
            ``[openlineage] spark_inject_parent_job_info``.
        repair_run: Give a failed run one repair (``runs/repair`` of all failed tasks, with the request's
            ``job_parameters``), then wait for it; the task fails only if the repaired run fails too. The
            repair is a new attempt of the same ``run_id``: a retry after a crash reconnects to it, and
            never repairs the run twice (see :mod:`airflow_durable_databricks.repair`). A retry that finds
            the run failed submits a fresh run, as after any failed run.
        databricks_repair_reason_new_settings: ``{reason: new_settings}``: repair only when the run's
            ``state_message`` contains a reason, after a partial ``jobs/update`` of the job with its
            settings. Empty (the default): repair whatever the reason, with the job's settings.
        cancel_previous_runs: ``runs/cancel-all`` the job's active runs before the run-now that starts a
            run. A retry that reconnects to its run never cancels it (no run-now is made), nor does a
            retry that resubmits with a previous try's token (the run may be its own).
        **kwargs: Shared arguments, as for :class:`DurableDatabricksSubmitRunOperator`.
    """

    external_id_key = "databricks_run_now_id"
    template_fields: Sequence[str] = (
        "json",
        "databricks_conn_id",
        "job_id",
        "job_name",
        "job_parameters",
        "notebook_params",
        "python_params",
        "python_named_params",
        "jar_params",
        "spark_submit_params",
        "idempotency_token",
        "dbt_commands",
        "performance_target",
    )
    template_ext: Sequence[str] = (".json-tpl",)

    def __init__(
        self,
        *,
        job_id: str | int | None = None,
        job_name: str | None = None,
        job_parameters: dict[str, str] | None = None,
        json: Any | None = None,
        dbt_commands: list[str] | None = None,
        notebook_params: dict[str, str] | None = None,
        python_params: list[str] | None = None,
        jar_params: list[str] | None = None,
        spark_submit_params: list[str] | None = None,
        python_named_params: dict[str, str] | None = None,
        performance_target: str | None = None,
        forward_dag_params: bool = True,
        openlineage_inject_parent_job_info: bool | None = None,
        repair_run: bool = False,
        databricks_repair_reason_new_settings: dict[str, Any] | None = None,
        cancel_previous_runs: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.openlineage_inject_parent_job_info = flag_or_conf(
            openlineage_inject_parent_job_info, "openlineage", "spark_inject_parent_job_info"
        )
        self.repair_run = repair_run
        self.databricks_repair_reason_new_settings = dict(databricks_repair_reason_new_settings or {})
        self.cancel_previous_runs = cancel_previous_runs
        self.job_id = job_id
        self.job_name = job_name
        self.job_parameters = job_parameters
        self.json = json
        self.dbt_commands = dbt_commands
        self.notebook_params = notebook_params
        self.python_params = python_params
        self.jar_params = jar_params
        self.spark_submit_params = spark_submit_params
        self.python_named_params = python_named_params
        self.performance_target = performance_target
        self.forward_dag_params = forward_dag_params
        self._repaired_run_id: int | None = None

    def _get_named_json_parameters(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "job_name": self.job_name,
            "job_parameters": self.job_parameters,
            "dbt_commands": self.dbt_commands,
            "notebook_params": self.notebook_params,
            "python_params": self.python_params,
            "python_named_params": self.python_named_params,
            "jar_params": self.jar_params,
            "spark_submit_params": self.spark_submit_params,
            "idempotency_token": self.idempotency_token,
            "performance_target": self.performance_target,
        }

    def _get_merged_json(self) -> dict[str, Any]:
        """``json`` with the named fields written over it (as upstream)."""
        return payload.merge_json(self.json, self._get_named_json_parameters())

    def _build_run_now_payload(self, context: Context | None) -> dict[str, Any]:
        """Upstream's name for :meth:`build_payload`."""
        return self.build_payload(context)

    def build_payload(self, context: Context | None) -> dict[str, Any]:
        """The normalised ``run-now`` body, as upstream builds it, in upstream's order.

        Merge; check (not both ``job_id`` and ``job_name``); normalise (numbers become strings); resolve
        ``job_name`` to its ``job_id`` (``GET /api/2.2/jobs/list``); forward the DAG ``params`` as
        ``job_parameters`` when ``forward_dag_params`` and neither ``job_parameters`` nor a legacy parameter
        slot is set (``None`` values skipped); inject the OpenLineage context into ``job_parameters`` when
        asked. The named fields are never modified.

        Raises:
            DatabricksPayloadError: An invalid body (upstream's texts), before any API call; no job has the
                name; or there is neither ``job_id`` nor ``job_name``.
            AirflowException: More than one job has the name.
        """
        json = self._get_merged_json()
        payload.validate_run_now(json)
        json = payload.normalise_json_content(json)
        if "job_name" in json:
            job_id = self.runs.find_job_id(json["job_name"])
            if job_id is None:
                raise DatabricksPayloadError(f"Job ID for job name {json['job_name']} can not be found")
            json["job_id"] = job_id
            del json["job_name"]
        if "job_id" not in json:
            if self.cancel_previous_runs:
                raise DatabricksPayloadError(
                    "cancel_previous_runs=True requires either job_id or job_name to be provided."
                )
            raise DatabricksPayloadError(f"{type(self).__name__} needs job_id or job_name")
        legacy = any(key in json for key in payload.RUN_NOW_LEGACY_PARAMETER_SLOTS)
        if (
            self.forward_dag_params
            and not json.get("job_parameters")
            and not legacy
            and (params := self._params(context))
        ):
            json["job_parameters"] = params
        if self.openlineage_inject_parent_job_info:
            from airflow_durable_databricks.openlineage import inject_into_run_now

            json = inject_into_run_now(json, context or {})  # type: ignore[arg-type]
        return json

    def submit_job(self, context: Context) -> int:
        """``run-now`` with the protocol's ``idempotency_token``, after ``cancel_previous_runs``.

        A try that resubmits a previous try's token (a crash between its run-now and the persist) does not
        cancel: the run that token names may be this task instance's own, which run-now then hands back.
        """
        body = self._request_with_token(context)
        if self.cancel_previous_runs:
            if self.resume_decision is Decision.RESUBMIT_SAME_TOKEN:
                self.log.warning(
                    "cancel_previous_runs: not cancelling the job's runs, one of them may be this task's own "
                    "run from a previous try (submitted with the same idempotency token)",
                    job_id=body["job_id"],
                )
            else:
                self.runs.cancel_all(body["job_id"])
        run_id = self.runs.run_now(body)
        self.log.info("Started Databricks run %s of job %s", run_id, self.job_id or self.job_name)
        return run_id

    def repair_failed_run(self, run_id: int, state: dict[str, str], context: Context, *, allowed: bool | None) -> bool:
        """``repair_run``: repair the failed run once (see :mod:`airflow_durable_databricks.repair`).

        Args:
            run_id: The failed run.
            state: Its ``state`` block.
            context: The task context (its ``task_state_store`` keeps the repair record).
            allowed: An upstream trigger event's ``repair_run`` (a task deferred by upstream's operator);
                ``None``: this operator's ``repair_run``.

        Returns:
            True when a repair was requested.
        """
        if not (self.repair_run if allowed is None else allowed):
            return False
        reasons = self.databricks_repair_reason_new_settings
        reason = next((r for r in reasons if r in state["state_message"]), None)
        if reasons and reason is None:
            return False
        key = self.external_id_key + REPAIR_KEY_SUFFIX
        store = context.get("task_state_store") if self.durable and context is not None else None
        raw = None if store is None else store.get(key)
        done = self._repaired_run_id if raw is None else RepairRecord.from_json(key, raw).run_id
        if done == run_id:
            self.log.warning("Run %s was already repaired once for this task instance; not repairing again", run_id)
            return False
        body = self.build_payload(context)
        if reason is not None:
            self.runs.update_job(body["job_id"], payload.normalise_json_content(reasons[reason]))
        record = RepairRecord(run_id, self.runs.latest_repair_id(run_id))
        if store is not None:
            store.set(key, record.to_json())
        repair = {"run_id": run_id, "rerun_all_failed_tasks": True}
        if record.latest_repair_id is not None:
            repair["latest_repair_id"] = record.latest_repair_id
        if "job_parameters" in body:
            repair["job_parameters"] = body["job_parameters"]
        repair_id = self.runs.repair(repair)
        self._repaired_run_id = run_id
        if store is not None:
            store.set(key, RepairRecord(run_id, record.latest_repair_id, repair_id).to_json())
        self.log.info("Repairing Databricks run %s (repair %s)", run_id, repair_id)
        return True
