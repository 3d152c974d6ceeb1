"""Durable Databricks operators: ``runs/submit`` and ``run-now``, exactly once, on ``databricks-sdk``.

Importing this module does not import ``databricks.sdk`` (about 1.4 s): DAG files parse fast.
"""

from __future__ import annotations

import ast
import json as json_lib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, BaseOperatorLink

from airflow_durable import Decision, DurableJobMixin, JobFailedError, JobState
from airflow_durable_databricks.client import DatabricksRuns, is_transient
from airflow_durable_databricks.outcomes import (
    DatabricksRunFailedError,
    failed_task_errors,
    failure_message,
    from_upstream_event,
    is_upstream_event,
    run_state,
)
from airflow_durable_databricks.repair import REPAIR_KEY_SUFFIX, RepairRecord
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


def _as_dict(json: Any) -> dict[str, Any]:
    """Accept a mapping, a JSON string or a Python dict literal (what Jinja renders from an XCom dict)."""
    if json is None:
        return {}
    if isinstance(json, Mapping):
        return dict(json)
    if isinstance(json, str):
        if not json.strip():
            return {}
        try:
            parsed = json_lib.loads(json)
        except ValueError:
            try:
                parsed = ast.literal_eval(json)
            except (SyntaxError, ValueError) as err:
                raise ValueError("Databricks json must be a mapping, JSON or a Python dict literal") from err
        if isinstance(parsed, Mapping):
            return dict(parsed)
    raise ValueError(f"Databricks json must resolve to a mapping, not {type(json).__name__}")


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
        max_poll_interval_seconds: float = 120.0,
        databricks_retry_limit: int = 3,
        databricks_retry_delay: int = 1,
        databricks_retry_args: dict[Any, Any] | None = None,
        do_xcom_push: bool = True,
        wait_for_termination: bool = True,
        deferrable: bool = False,
        idempotency_token: str | None = None,
        sdk_config_overrides: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if polling_period_seconds < 0:
            raise ValueError(f"polling_period_seconds must be >= 0, got {polling_period_seconds!r}")
        super().__init__(
            poll_interval_seconds=float(
                polling_period_seconds if poll_interval_seconds is None else poll_interval_seconds
            ),
            max_poll_interval_seconds=max(max_poll_interval_seconds, float(polling_period_seconds)),
            **kwargs,
        )
        self.databricks_conn_id = databricks_conn_id
        self.polling_period_seconds = polling_period_seconds
        # Accepted for compatibility; databricks-sdk retries 429/503 itself, bounded by the connection's
        # retry_timeout_seconds, and the mixin retries other transient errors (see is_transient_error).
        self.databricks_retry_limit = databricks_retry_limit
        self.databricks_retry_delay = databricks_retry_delay
        self.databricks_retry_args = databricks_retry_args
        self.do_xcom_push = do_xcom_push
        self.wait_for_termination = wait_for_termination
        self.deferrable = deferrable
        self.idempotency_token = idempotency_token
        self.sdk_config_overrides = dict(sdk_config_overrides or {})
        self.run_id: int | None = None
        self._runs: DatabricksRuns | None = None
        self._last_run: dict[str, Any] | None = None
        self._event_errors: list[Any] | None = None
        self._event_repair: bool | None = None
        self._polling = False
        self._run_xcoms_pushed: int | None = None

    @property
    def runs(self) -> DatabricksRuns:
        """The SDK-backed client of this try."""
        if self._runs is None:
            self._runs = DatabricksRuns(self.databricks_conn_id, self.sdk_config_overrides)
        return self._runs

    def execute(self, context: Context) -> Any:
        """Run the durable protocol (see ``DurableJobMixin``)."""
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
        if run is None or run.get("run_id") != run_id:
            run = self._last_run = self.runs.get(run_id)
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

    def build_request(self, context: Context) -> dict[str, Any]:
        """Return the request body, without the idempotency token (implemented per operator)."""
        raise NotImplementedError

    def _user_token(self) -> str | None:
        """The user's ``idempotency_token``: the argument, else the one inside ``json`` (as upstream)."""
        if self.idempotency_token is not None:
            return str(self.idempotency_token)
        token = _as_dict(getattr(self, "json", None)).get("idempotency_token")
        return None if token is None else str(token)

    def _request_with_token(self, context: Context) -> dict[str, Any]:
        body = self.build_request(context)
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
        self._last_run = self.runs.get(run_id)
        if self._polling and self.do_xcom_push and self._run_xcoms_pushed != run_id:
            self._push_run_xcoms(context, run_id, self._last_run.get("run_page_url"))
        return run_status(self._last_run)

    def _push_run_xcoms(self, context: Context, run_id: int, url: Any) -> None:
        context["ti"].xcom_push(key=XCOM_RUN_ID_KEY, value=run_id)
        context["ti"].xcom_push(key=XCOM_RUN_PAGE_URL_KEY, value=url)
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
        run = self._last_run
        # The decision's or the last poll's response already holds the terminal run: no second call.
        if (
            run is None
            or run.get("run_id") != run_id
            or (self.wait_for_termination and RUN_STATES.classify(run_status(run)) is JobState.ACTIVE)
        ):
            run = self.runs.get(run_id)
        url = run.get("run_page_url")
        if self.do_xcom_push and self._run_xcoms_pushed != run_id:
            self._push_run_xcoms(context, run_id, url)
        if not self.wait_for_termination:
            self.log.info("Databricks run %s submitted; not waiting for it: %s", run_id, url)
            return {"run_id": run_id, "run_page_url": url}
        self.log.info("Databricks run %s finished: %s", run_id, url)
        return {"run_id": run_id, "run_page_url": url, "state": run_status(run)}

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
        )


class DurableDatabricksSubmitRunOperator(_DurableDatabricksRunOperator):
    """Crash-safe ``DatabricksSubmitRunOperator``: ``POST /api/2.2/jobs/runs/submit``, exactly once.

    Takes the arguments of ``airflow.providers.databricks.operators.databricks.DatabricksSubmitRunOperator``
    (``json`` merged with the named task fields, which win), pushes the same XComs (``run_id``,
    ``run_page_url``) and has the same extra link. See https://docs.databricks.com/api/workspace/jobs/submit.

    Differences: runs are submitted, read and cancelled through ``databricks-sdk`` (its auth and its
    retries); the ``idempotency_token`` is always sent, derived per task instance and generation; polling
    backs off from ``polling_period_seconds`` to ``max_poll_interval_seconds``; the return value is
    ``{"run_id", "run_page_url", "state"}`` on every path (``{"run_id", "run_page_url"}`` with
    ``wait_for_termination=False``, which is fire-and-forget exactly once); OpenLineage injection is not
    supported.

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
        idempotency_token: A base token; the sent token is derived from it per task instance and generation.
        access_control_list: ``access_control_list``.
        git_source: ``git_source``.
        performance_target: ``performance_target``.
        **kwargs: Shared arguments: ``databricks_conn_id``, ``polling_period_seconds``,
            ``max_poll_interval_seconds``, ``do_xcom_push``, ``deferrable``, ``on_lost_job``,
            ``cancel_timeout_seconds``, ``durable`` and ``BaseOperator`` arguments.
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
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

    def build_request(self, context: Context) -> dict[str, Any]:
        """Merge ``json`` with the named fields (they win); ``run_name`` defaults to the task ID."""
        body = _as_dict(self.json)
        named = {
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
            "access_control_list": self.access_control_list,
            "git_source": self.git_source,
            "performance_target": self.performance_target,
        }
        body.update((k, v) for k, v in named.items() if v is not None)
        body.setdefault("run_name", self.task_id)
        if "dbt_task" in body and "git_source" not in body:
            raise ValueError("git_source is required for dbt_task")
        return body

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
        repair_run: bool = False,
        databricks_repair_reason_new_settings: dict[str, Any] | None = None,
        cancel_previous_runs: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
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

    def build_request(self, context: Context) -> dict[str, Any]:
        """Merge ``json`` with the named fields, resolve ``job_name``, forward DAG params."""
        body = _as_dict(self.json)
        named = {
            "job_id": self.job_id,
            "job_name": self.job_name,
            "job_parameters": self.job_parameters,
            "dbt_commands": self.dbt_commands,
            "notebook_params": self.notebook_params,
            "python_params": self.python_params,
            "python_named_params": self.python_named_params,
            "jar_params": self.jar_params,
            "spark_submit_params": self.spark_submit_params,
            "performance_target": self.performance_target,
        }
        body.update((k, v) for k, v in named.items() if v is not None)
        if "job_id" in body and "job_name" in body:
            raise ValueError("Argument 'job_name' is not allowed with argument 'job_id'")
        if "job_name" in body:
            name = body.pop("job_name")
            matches = list(self.runs.client.jobs.list(name=name))
            if len(matches) != 1:
                raise ValueError(f"Expected exactly one Databricks job named {name!r}, found {len(matches)}")
            body["job_id"] = matches[0].job_id
        if "job_id" not in body:
            if self.cancel_previous_runs:
                raise ValueError("cancel_previous_runs=True requires either job_id or job_name to be provided.")
            raise ValueError("DurableDatabricksRunNowOperator needs job_id or job_name")
        body["job_id"] = int(body["job_id"])
        legacy_slots = (
            "notebook_params",
            "python_params",
            "python_named_params",
            "jar_params",
            "spark_submit_params",
            "dbt_commands",
        )
        params = {k: str(v) for k, v in (context.get("params") or {}).items() if v is not None}
        if (
            self.forward_dag_params
            and params
            and not body.get("job_parameters")
            and not any(k in body for k in legacy_slots)
        ):
            body["job_parameters"] = params
        return body

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
        store = context.get("task_state_store") if self.durable else None
        raw = None if store is None else store.get(key)
        done = self._repaired_run_id if raw is None else RepairRecord.from_json(key, raw).run_id
        if done == run_id:
            self.log.warning("Run %s was already repaired once for this task instance; not repairing again", run_id)
            return False
        body = self.build_request(context)
        if reason is not None:
            self.runs.update_job(body["job_id"], reasons[reason])
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
