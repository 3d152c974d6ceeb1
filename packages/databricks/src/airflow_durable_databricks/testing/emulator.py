"""A wire-level emulator of the Databricks Jobs API 2.2 on the core emulator kit, for the real ``databricks-sdk``.

It answers what the operators call, in the JSON shapes of https://docs.databricks.com/api/workspace/jobs and
of ``databricks.sdk.service.jobs``: ``runs/submit``, ``run-now`` -> ``{"run_id": N}``; ``runs/get`` -> a ``Run``
(``repair_history`` with ``include_history``); ``runs/cancel``, ``runs/cancel-all``; ``runs/repair`` (a terminal
run runs again; ``latest_repair_id`` must name its latest repair); ``runs/get-output`` of a *task* run (a job
run's own ID is refused, as by API 2.1+); ``create``, ``get``, ``list``, ``update`` of jobs (under
``/api/2.2/jobs/``, ``2.1`` and ``2.0``); ``GET /api/2.0/pipelines`` with a ``name LIKE`` filter. The SDK's
``/.well-known/databricks-config`` probe answers 404. Errors are ``{"error_code", "message"}``; an unknown
run is ``400 INVALID_PARAMETER_VALUE "Run N does not exist."`` (the SDK's ``ResourceDoesNotExist``).

A run's state is the raw status the operator's status table classifies (``statuses.run_status``):
``"RUNNING:"``, ``"TERMINATED:SUCCESS"``, ``"INTERNAL_ERROR:"``... (controls also take ``"RUNNING"``); the
record keeps the detailed fields (``life_cycle_state``, ``result_state``, termination details...) in step. A repeated
``idempotency_token`` returns the existing run, even a failed one (run-now tokens are per job). The rest
(life cycle, faults, counters, the control plane, ``serve``) is the kit's ``Emulator``. ``state_message``
texts and derived termination codes follow the SDK's enum descriptions, not a live workspace.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from airflow_durable.status import JobState
from airflow_durable.testing.control import CONTROL_PREFIX as CONTROL_PREFIX
from airflow_durable.testing.control import ControlClient, ControlError, control
from airflow_durable.testing.emulator import Alias, Emulator
from airflow_durable.testing.emulator import RecordedRequest as RecordedRequest
from airflow_durable.testing.faults import Fault
from airflow_durable.testing.jobs import Dedupe, EmulatedJob, Script
from airflow_durable.testing.routes import ApiError, Reply, Request, Route, RouteTable

EmulatorControl = ControlClient
"""The control client of an emulator in another process (the kit's generic one)."""
EmulatorControlError = ControlError
"""What :data:`EmulatorControl` raises when the emulator refuses a request."""

_LIFE_CYCLE_ACTIVE = ("PENDING", "QUEUED", "RUNNING", "TERMINATING", "BLOCKED", "WAITING_FOR_RETRY")
_RESULTS: tuple[str, ...] = ("SUCCESS", "FAILED", "TIMEDOUT", "CANCELED", "MAXIMUM_CONCURRENT_RUNS_REACHED", "EXCLUDED")
_RESULTS += ("SUCCESS_WITH_FAILURES", "UPSTREAM_FAILED", "UPSTREAM_CANCELED", "DISABLED")
LIFE_CYCLE_STATES: frozenset[str] = frozenset({*_LIFE_CYCLE_ACTIVE, "TERMINATED", "SKIPPED", "INTERNAL_ERROR"})
"""Every ``state.life_cycle_state`` of the Jobs API 2.2 (``RunLifeCycleState`` in the SDK)."""
TERMINAL_LIFE_CYCLE_STATES: frozenset[str] = frozenset({"TERMINATED", "SKIPPED", "INTERNAL_ERROR"})
"""Life-cycle states the API documents as terminal."""
RESULT_STATES: frozenset[str] = frozenset(_RESULTS)
"""Every ``state.result_state`` (``RunResultState`` in the SDK)."""
STATUS_STATES = frozenset({"BLOCKED", "PENDING", "QUEUED", "RUNNING", "TERMINATED", "TERMINATING", "WAITING"})
"""Every ``status.state`` (``RunLifecycleStateV2State`` in the SDK)."""
TERMINATION_TYPES: frozenset[str] = frozenset({"SUCCESS", "INTERNAL_ERROR", "CLIENT_ERROR", "CLOUD_FAILURE"})
"""Every ``status.termination_details.type`` (``TerminationTypeType`` in the SDK)."""

STATES: dict[str, JobState] = {
    **{f"{s}:": JobState.ACTIVE for s in _LIFE_CYCLE_ACTIVE},
    "SKIPPED:": JobState.FAILED,
    "INTERNAL_ERROR:": JobState.FAILED,
    **{f"TERMINATED:{r}": JobState.SUCCEEDED if r == "SUCCESS" else JobState.FAILED for r in _RESULTS},
}
"""The emulator's raw statuses (``run_status``'s folded form) and what each means; ``SUCCESS_WITH_FAILURES``
is a failure, as for upstream's ``RunState.is_successful``."""

RUN_ID_PATTERN = r"^[1-9][0-9]*$"
"""Run IDs are positive integers."""

MAX_IDEMPOTENCY_TOKEN_LENGTH = 64
"""``idempotency_token`` limit documented for ``runs/submit`` and ``run-now``."""

MAX_NOTEBOOK_RESULT_BYTES = 5 * 1024 * 1024
"""``runs/get-output`` returns at most the first 5 MB of a notebook result (then ``truncated`` is true)."""

MULTI_TASK_OUTPUT_MESSAGE = (
    "Retrieving the output of runs with multiple tasks is not supported. "
    "Please retrieve the output of each individual task run instead."
)
"""What the real API 2.1+ answers (400 ``INVALID_PARAMETER_VALUE``) to ``runs/get-output`` on a job run's
own ``run_id``, even for a single-task run; the output belongs to ``tasks[i].run_id``."""

LEGACY_TASK_FIELDS: tuple[str, ...] = ("notebook_task", "spark_jar_task", "spark_python_task", "spark_submit_task")
LEGACY_TASK_FIELDS += ("python_wheel_task", "pipeline_task", "sql_task", "dbt_task", "run_job_task")
"""Task-type fields a legacy (API 2.0 style) single-task ``runs/submit`` body may carry at top level."""
_LEGACY_TASK_SETTINGS = (*LEGACY_TASK_FIELDS, "new_cluster", "existing_cluster_id", "libraries", "timeout_seconds")
LEGACY_TASK_KEY = "main"
"""``task_key`` the emulator gives the one task of a legacy single-task submission."""

JSON_CONTENT_TYPE = "application/json"
_WELL_KNOWN = "/.well-known/databricks-config"
_STATUS_FOR_LIFE_CYCLE = {"SKIPPED": "TERMINATED", "INTERNAL_ERROR": "TERMINATED", "WAITING_FOR_RETRY": "WAITING"}
# result_state -> (termination_details.code, termination_details.type)
_TERMINATION_FOR_RESULT = {"SUCCESS": ("SUCCESS", "SUCCESS"), "FAILED": ("RUN_EXECUTION_ERROR", "CLIENT_ERROR")}
_TERMINATION_FOR_RESULT |= {"SUCCESS_WITH_FAILURES": ("SUCCESS_WITH_FAILURES", "SUCCESS")}
_TERMINATION_FOR_RESULT |= {"TIMEDOUT": ("CANCELED", "CLIENT_ERROR"), "CANCELED": ("USER_CANCELED", "SUCCESS")}
_TERMINATION_FOR_RESULT |= {"MAXIMUM_CONCURRENT_RUNS_REACHED": ("MAX_CONCURRENT_RUNS_EXCEEDED", "CLIENT_ERROR")}
_TERMINATION_FOR_RESULT |= {"EXCLUDED": ("SKIPPED", "SUCCESS"), "UPSTREAM_FAILED": ("SKIPPED", "CLIENT_ERROR")}
_TERMINATION_FOR_RESULT |= {"UPSTREAM_CANCELED": ("SKIPPED", "SUCCESS"), "DISABLED": ("DISABLED", "SUCCESS")}
_SUCCESS_TYPE_CODES = {"SUCCESS", "SUCCESS_WITH_FAILURES", "USER_CANCELED", "SKIPPED", "DISABLED"}
_STATE_MESSAGES = {"PENDING": "Waiting for cluster", "QUEUED": "Queued", "RUNNING": "In run", "SKIPPED": "Skipped"}
_STATE_MESSAGES |= {"TERMINATING": "Terminating", "BLOCKED": "Blocked on an upstream dependency"}
_STATE_MESSAGES |= {"WAITING_FOR_RETRY": "Waiting for retry", "INTERNAL_ERROR": "Internal error (emulated)"}
_RESULT_MESSAGES = {"FAILED": "Workload failed, see run output for details", "TIMEDOUT": "Run timed out"}
_RESULT_MESSAGES |= {"CANCELED": "Run cancelled"}
_ERROR_CODES = {400: "INVALID_PARAMETER_VALUE", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}
_ERROR_CODES |= {409: "RESOURCE_CONFLICT", 429: "TOO_MANY_REQUESTS", 500: "INTERNAL_ERROR", 502: "BAD_GATEWAY"}
_ERROR_CODES |= {503: "TEMPORARILY_UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
_QUEUE_MESSAGE = "Queued due to reaching maximum concurrent runs of 1."


@dataclasses.dataclass
class EmulatedTask:
    """One task of an emulated run: its ``task_key``, its own ``run_id`` (for ``runs/get-output``), as in the API.

    ``settings``: the task as submitted (run-now: as the job defines it, ``notebook_params`` merged in);
    ``output``: overrides of ``result``, ``logs``, ``error``, ``error_trace`` from ``set_output``.
    """

    task_key: str
    run_id: int
    settings: dict[str, Any]
    output: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(eq=False)
class EmulatedRun(EmulatedJob):
    """One run (a ``runs/submit`` or ``run-now`` that created one); the kit's ``external_id`` is its run ID.

    ``state`` is the folded raw status; ``history`` holds ``(life_cycle_state, result_state)`` pairs.

    Attributes:
        job_id: The job's ID (for ``runs/submit``: a one-time job that ``jobs/get`` does not know).
        run_type: ``SUBMIT_RUN`` or ``JOB_RUN``.
        run_name: ``run_name`` (submit, default ``Untitled``) or the job's name (run-now).
        tasks: The run's tasks.
        start_time: Epoch milliseconds of the submission.
        job_parameters: Effective job parameters (run-now: job defaults overridden by the request).
        life_cycle_state: ``state.life_cycle_state`` (any string after ``set_state``).
        result_state: ``state.result_state``.
        state_message: ``state.state_message``.
        status_state: Explicit ``status.state`` (``None``: derived from the life-cycle state).
        termination_code: Explicit ``status.termination_details.code`` (``None``: derived).
        termination_type: Explicit ``status.termination_details.type`` (``None``: derived).
        user_cancelled_or_timedout: ``state.user_cancelled_or_timedout``.
        end_time: Epoch milliseconds when the run reached a terminal state (0 before). repairs: its repair IDs.
    """

    job_id: int = 0
    run_type: str = "SUBMIT_RUN"
    run_name: str = "Untitled"
    tasks: list[EmulatedTask] = dataclasses.field(default_factory=list)
    start_time: int = dataclasses.field(default_factory=lambda: _now_ms())
    job_parameters: dict[str, str] = dataclasses.field(default_factory=dict)
    life_cycle_state: str = "PENDING"
    result_state: str | None = None
    state_message: str = ""
    status_state: str | None = None
    termination_code: str | None = None
    termination_type: str | None = None
    user_cancelled_or_timedout: bool = False
    end_time: int = 0
    repairs: list[int] = dataclasses.field(default_factory=list)

    def history_entry(self) -> tuple[str, str | None]:
        """``(life_cycle_state, result_state)``."""
        return self.life_cycle_state, self.result_state

    @property
    def run_id(self) -> int:
        """The run's ID (``run_id`` of the submit/run-now response)."""
        return int(self.external_id)

    @property
    def endpoint(self) -> str:
        """``runs/submit`` or ``run-now``."""
        return "run-now" if self.run_type == "JOB_RUN" else "runs/submit"

    @property
    def idempotency_token(self) -> str | None:
        """The request's ``idempotency_token`` (``None`` when absent)."""
        return self.token

    @property
    def polls(self) -> int:
        """``runs/get`` requests answered for this run (fault-injected ones not included)."""
        return self.status_calls

    @property
    def terminal(self) -> bool:
        """Whether the life-cycle state is terminal."""
        return self.life_cycle_state in TERMINAL_LIFE_CYCLE_STATES

    @property
    def task_run_ids(self) -> list[int]:
        """The tasks' run IDs, in task order."""
        return [task.run_id for task in self.tasks]

    @property
    def status_json_state(self) -> str:
        """``status.state``: explicit, or derived from the life-cycle state."""
        if self.status_state is not None:
            return self.status_state
        return _STATUS_FOR_LIFE_CYCLE.get(self.life_cycle_state, self.life_cycle_state)

    @property
    def termination(self) -> tuple[str, str] | None:
        """``(termination_details.code, .type)`` once terminating with a result or terminal, else ``None``."""
        if self.status_json_state not in ("TERMINATING", "TERMINATED"):
            return None
        if self.result_state is None and not self.terminal:
            return None
        code, derived_type = self.termination_code, None
        if code is None:
            if self.life_cycle_state == "INTERNAL_ERROR":
                code = "INTERNAL_ERROR"
            elif self.result_state in _TERMINATION_FOR_RESULT:
                code, derived_type = _TERMINATION_FOR_RESULT[self.result_state]
            elif self.life_cycle_state == "SKIPPED" and self.result_state is None:
                code = "SKIPPED"
            else:
                code = "RUN_EXECUTION_ERROR"
        fallback = "SUCCESS" if code in _SUCCESS_TYPE_CODES else code if code in TERMINATION_TYPES else "CLIENT_ERROR"
        return code, self.termination_type or derived_type or fallback

    def to_json(self) -> dict[str, Any]:
        """Return a JSON summary (what the control plane's ``runs`` and ``run`` answer): every field, and more."""
        data = {f.name: copy.deepcopy(getattr(self, f.name)) for f in dataclasses.fields(self)}
        termination = self.termination
        data.update(run_id=self.run_id, idempotency_token=self.token, endpoint=self.endpoint, polls=self.polls)
        data.update(status_state=self.status_json_state, termination_code=termination[0] if termination else None)
        data.update(tasks=[{"task_key": t.task_key, "run_id": t.run_id} for t in self.tasks])
        return data


class DatabricksJobsEmulator(Emulator[EmulatedRun]):
    """A Databricks Jobs API 2.2 server (the subset operators use) running in a background thread.

    Args:
        polls_to_finish: Advance mode: the ``runs/get`` from which a run is terminal (``None``: hold mode).
        outcome: Advance mode: how runs end, as :meth:`advance` says.
        hold_state: Hold mode: the life-cycle state new runs are born in.
        host: Address to bind; port: port to bind (0 picks a free one).
        workspace_id: The ``o=`` of ``run_page_url``.
        polls_to_cancel: ``runs/get`` polls a cancelled run answers ``TERMINATING`` to before
            ``TERMINATED``/``CANCELED`` (0: terminated by the cancel request itself).
        parent_output: Let ``runs/get-output`` on a *single-task* run's own ``run_id`` answer with its
            task's output (API 2.0 behaviour). Off by default: the real API 2.1+ refuses it with
            :data:`MULTI_TASK_OUTPUT_MESSAGE`.
    """

    thread_name = "databricks-jobs-emulator"
    server_version = "databricks-jobs-emulator"
    routes = RouteTable(
        Route("POST", "jobs/runs/submit", "runs/submit", "_submit"),
        Route("POST", "jobs/run-now", "run-now", "_run_now"),
        Route("GET", "jobs/runs/get", "runs/get", "_get_run"),
        Route("POST", "jobs/runs/cancel", "runs/cancel", "_cancel"),
        Route("POST", "jobs/runs/cancel-all", "runs/cancel-all", "_cancel_all"),
        Route("POST", "jobs/runs/repair", "runs/repair", "_repair"),
        Route("POST", "jobs/update", "update", "_update_job"),
        Route("GET", "jobs/runs/get-output", "runs/get-output", "_get_output"),
        Route("GET", "jobs/get", "get", "_get_job"),
        Route("GET", "jobs/list", "list", "_list_jobs"),
        Route("POST", "jobs/create", "create", "_create_job_request"),
        Route("GET", "pipelines", "pipelines", "_list_pipelines"),
        prefixes=("/api/2.2/", "/api/2.1/", "/api/2.0/"),
    )
    states = STATES
    id_pattern = RUN_ID_PATTERN
    job_class = EmulatedRun
    dedupe = Dedupe.DEDUPE_FAILED
    cancelling_state = "TERMINATING:"
    cancelled_state = "TERMINATED:CANCELED"
    calls_to_cancel = 1
    representative_states: ClassVar[dict[JobState, str]] = {
        JobState.ACTIVE: "RUNNING:",
        JobState.SUCCEEDED: "TERMINATED:SUCCESS",
        JobState.FAILED: "TERMINATED:FAILED",
    }
    born_state = "PENDING:"
    advance_steps = ((2, "RUNNING:"),)

    def __init__(
        self,
        *,
        polls_to_finish: int | None = 3,
        outcome: str = "SUCCESS",
        hold_state: str = "RUNNING",
        host: str = "127.0.0.1",
        port: int = 0,
        workspace_id: int = 0,
        polls_to_cancel: int = 1,
        parent_output: bool = False,
    ) -> None:
        self._jobs: dict[int, dict[str, Any]] = {}
        self._job_created: dict[int, int] = {}
        self._task_index: dict[int, tuple[EmulatedRun, EmulatedTask]] = {}
        self._default_output: dict[str, Any] = {}
        self._gets: Counter[int] = Counter()
        self._pipelines: dict[str, str] = {}
        super().__init__(host=host, port=port)
        self.workspace_id = workspace_id
        self.parent_output = parent_output
        self.polls_to_cancel = polls_to_cancel
        if polls_to_finish is None:
            self.hold(hold_state)
        else:
            self.advance(polls_to_finish, outcome)
        self.book.initial_script = self.book.script

    # ------------------------------------------------------------------ the old names, over the kit

    mode = Alias("book.mode", """``"advance"`` or ``"hold"``.""")
    polls_to_cancel = Alias("book.calls_to_cancel", """Polls a cancelled run answers ``TERMINATING`` to.""")
    latency_seconds = Alias("faults.latency_seconds", """Seconds every Jobs API request waits first.""")
    faults_served = Alias("faults.served", """Fault-injected answers per endpoint name.""")
    on_get = Alias("on_status", """``on_get(run_id)`` before a ``runs/get`` is answered (lock not held).""")
    on_submit = Alias("on_create", """``on_submit(run)`` after a run was created, before the response.""")
    deduplicated = Alias("book.deduplicated", """Run IDs returned for a reused token, one per request.""")
    cancelled = Alias("book.cancelled", """Run IDs of every accepted ``runs/cancel``, terminal runs too.""")

    @property
    @control
    def runs(self) -> list[EmulatedRun]:
        """Every run created, oldest first (forgotten ones included, flagged). The records are live."""
        return self.book.jobs

    @property
    @control
    def submissions(self) -> list[int]:
        """IDs of the runs created, oldest first (a deduplicated idempotency token adds nothing)."""
        return [run.run_id for run in self.book.jobs]

    @control
    def run(self, run_id: int) -> EmulatedRun:
        """Return one run's live record; ``KeyError`` if no such run (task runs are not runs) was created."""
        return self.book.get(int(run_id))

    wait_for_runs = Emulator.wait_for_jobs

    def gets_for(self, run_id: int) -> int:
        """Return the ``runs/get`` requests answered for any run or task run ID (fault-injected ones not)."""
        with self.book.lock:
            return self._gets[run_id]

    @property
    def jobs(self) -> dict[int, dict[str, Any]]:  # type: ignore[override]
        """Defined jobs: ``job_id`` -> settings (a copy); the kit's jobs are this vendor's :attr:`runs`."""
        with self.book.lock:
            return copy.deepcopy(self._jobs)

    @control
    def state(self) -> dict[str, Any]:
        """Return a JSON snapshot: ``runs``, ``submissions``, ``jobs``, the script and the kit's counters."""
        with self.book.lock:
            runs = [run.to_json() for run in self.runs]
            jobs = {str(job_id): settings for job_id, settings in self.jobs.items()}
            script = {"mode": self.mode, "born": self.book.script.born, "transitions": self.book.script.transitions}
            return {"runs": runs, "submissions": self.submissions, "jobs": jobs, **script, **self.counters()}

    state_dump = state

    # ------------------------------------------------------------------ controls

    @control
    def advance(self, polls_to_finish: int = 3, outcome: str = "SUCCESS") -> None:
        """Runs finish on their own, reaching ``outcome`` on their ``polls_to_finish``-th ``runs/get``.

        They answer ``PENDING`` to the first ``runs/get``, then ``RUNNING``. Held, unpinned runs count from now.

        ``outcome`` is a ``result_state`` (life cycle ``TERMINATED``), or ``INTERNAL_ERROR`` / ``SKIPPED``;
        ``polls_to_finish`` is at least 1 (else, or for an unknown outcome, ``ValueError``).
        """
        if outcome not in RESULT_STATES and outcome not in ("INTERNAL_ERROR", "SKIPPED"):
            expected = f"a result state {sorted(RESULT_STATES)}, INTERNAL_ERROR or SKIPPED"
            raise ValueError(f"unknown outcome {outcome!r}; expected {expected}")
        self.finish_after(
            polls_to_finish, f"{outcome}:" if outcome in TERMINAL_LIFE_CYCLE_STATES else f"TERMINATED:{outcome}"
        )

    @control
    def hold(self, state: str | None = None) -> None:
        """New runs are born in ``state`` (default ``RUNNING``; a life-cycle state or raw status) and none moves."""
        with self.book.lock:
            self.book.script = Script(state if state and ":" in state else f"{state or 'RUNNING'}:")

    @control
    def set_state(
        self,
        run_id: int,
        life_cycle_state: str,
        result_state: str | None = None,
        *,
        status_state: str | None = None,
        termination_code: str | None = None,
        termination_type: str | None = None,
        state_message: str | None = None,
        user_cancelled_or_timedout: bool | None = None,
    ) -> None:
        """Move a run to any state and pin it there; unknown strings go out as given (the SDK reads ``None``).

        Each argument is the run JSON's field of the same name (``state.*``, ``status.state``,
        ``status.termination_details.code``/``.type``). ``result_state=None`` omits it; the other ``None``
        values derive the field from the life-cycle state or the result (``TERMINATED`` for ``SKIPPED`` and
        ``INTERNAL_ERROR``, ``WAITING`` for ``WAITING_FOR_RETRY``; the emulator's message; a cancel flag for
        ``CANCELED`` and ``TIMEDOUT``). Raises ``KeyError`` for an unknown run.
        """
        fields: dict[str, Any] = {"status_state": status_state, "termination_code": termination_code}
        fields.update(termination_type=termination_type, state_message=state_message)
        fields.update(user_cancelled_or_timedout=user_cancelled_or_timedout, result_state=result_state)
        folded = f"TERMINATED:{result_state}" if life_cycle_state == "TERMINATED" else f"{life_cycle_state}:"
        self.book.force(int(run_id), folded, life_cycle_state=life_cycle_state, **fields)

    @control
    def set_output(
        self,
        run_id: int | None = None,
        *,
        result: str | None = None,
        logs: str | None = None,
        error: str | None = None,
        error_trace: str | None = None,
        task_key: str | None = None,
    ) -> None:
        """Override ``runs/get-output``'s ``result``, ``logs``, ``error``, ``error_trace`` (the last two on failure).

        The defaults: a notebook task's ``notebook_output.result`` is ``json.dumps(params, sort_keys=True)`` of
        its ``base_parameters``, overridden by run-now's ``notebook_params`` and by job parameters; other tasks'
        ``logs`` are the JSON of their ``parameters``/``named_parameters``.

        ``run_id`` is a run or task run ID (``None``: the default of every run without its own override);
        ``task_key`` narrows a run to one task. ``result`` is ``notebook_output.result``; the others are the
        fields of the same name. ``KeyError``: unknown run, task run or task key.
        """
        given = {"result": result, "logs": logs, "error": error, "error_trace": error_trace}
        values = {k: v for k, v in given.items() if v is not None}
        with self.book.lock:
            if run_id is None:
                self._default_output.update(values)
                return
            if run_id in self._task_index:
                self._task_index[run_id][1].output.update(values)
                return
            tasks = [t for t in self.book.get(run_id).tasks if task_key is None or t.task_key == task_key]
            if not tasks:
                raise KeyError(f"run {run_id} has no task {task_key!r}")
            for task in tasks:
                task.output.update(values)

    @control
    def fault_rate(
        self,
        rate: float,
        statuses: Iterable[int] = (429, 503),
        *,
        endpoint: str | None = "runs/get",
        seed: int | None = None,
        **details: Any,
    ) -> None:
        """The kit's ``fault_rate``, on ``runs/get`` unless ``endpoint`` says otherwise."""
        super().fault_rate(rate, statuses, endpoint=endpoint, seed=seed, **details)

    @control
    def delay_submit(self, run_name: str, seconds: float) -> None:
        """Hold the next ``run_name`` submission's response ``seconds`` after the run exists (submit window)."""
        self.hold_after_create(seconds, run_name=run_name)

    @control
    def create_job(self, name: str, tasks: Iterable[Mapping[str, Any]], **settings: Any) -> int:
        """Define a job, like ``POST /api/2.2/jobs/create``; returns its ``job_id`` (``ValueError``: bad tasks).

        ``name`` is also the ``run_name`` of its runs; ``tasks`` each have a ``task_key``; ``settings`` are more
        ``JobSettings`` fields, e.g. ``parameters=[{"name": "p", "default": "1"}]``.
        """
        try:
            return self._create_job({"name": name, "tasks": [dict(t) for t in tasks], **settings})
        except ApiError as exc:
            raise ValueError(exc.message) from exc

    @control
    def create_pipeline(self, name: str) -> str:
        """Define a Lakeflow (DLT) pipeline that ``GET /api/2.0/pipelines`` lists; returns its ``pipeline_id``."""
        with self.book.lock:
            pipeline_id = f"pipeline-{len(self._pipelines) + 1:04d}"
            self._pipelines[pipeline_id] = name
        return pipeline_id

    @control
    def reset(self) -> None:
        """Forget all runs, jobs, tokens, faults, outputs and counters; back to the constructor's mode.

        IDs keep increasing (a run ID is never reused within one emulator).
        """
        with self.book.lock:
            super().reset()
            self._jobs.clear()
            self._job_created.clear()
            self._task_index.clear()
            self._default_output.clear()
            self._gets.clear()
            self._pipelines.clear()

    # ------------------------------------------------------------------ the life cycle's vendor side

    def coerce_id(self, job_id: Any) -> int:
        """Run IDs are integers."""
        return int(job_id)

    def new_job(self, external_id: Any, state: str, token: str | None, request: Any, **fields: Any) -> EmulatedRun:
        """Build a run; its tasks (and a ``runs/submit``'s one-time job) get IDs after the run's."""
        task_settings = fields.pop("task_settings")
        fields["job_id"] = fields.get("job_id") or self.new_job_id()
        tasks = [EmulatedTask(str(t["task_key"]), self.new_job_id(), t) for t in task_settings]
        run = EmulatedRun(external_id, state, token, request, tasks=tasks, **fields)
        for task in tasks:
            self._task_index[task.run_id] = (run, task)
        return run

    def enter_state(self, job: EmulatedRun, state: str, **fields: Any) -> None:
        """Keep the detailed fields in step with the folded ``state`` (or take them from ``set_state``)."""
        if "life_cycle_state" in fields:
            life, result = fields["life_cycle_state"], fields["result_state"]
        elif state.startswith("TERMINATED:"):
            life, result = "TERMINATED", state.partition(":")[2]
        else:
            life, result = state.partition(":")[0], "FAILED" if state.startswith("INTERNAL_ERROR") else None
        message = fields.get("state_message")
        if message is None and life == "TERMINATING" and job.cancel_requested:
            message = "Run cancellation requested"
        if message is None and result is not None and life in TERMINAL_LIFE_CYCLE_STATES | {"TERMINATING"}:
            message = _RESULT_MESSAGES.get(result, "")
        cancelled = fields.get("user_cancelled_or_timedout")
        job.state, job.life_cycle_state, job.result_state = state, life, result
        job.status_state = fields.get("status_state")
        job.termination_code = fields.get("termination_code")
        job.termination_type = fields.get("termination_type")
        job.state_message = message or _STATE_MESSAGES.get(life, "")
        job.user_cancelled_or_timedout = result in ("CANCELED", "TIMEDOUT") if cancelled is None else cancelled
        if life not in TERMINAL_LIFE_CYCLE_STATES:
            job.end_time = 0
        elif not job.end_time:
            job.end_time = max(_now_ms(), job.start_time + 1)

    # ------------------------------------------------------------------ errors

    def error_reply(self, error: ApiError) -> Reply:
        """The Databricks error body ``{"error_code", "message"}`` (code by status unless given)."""
        code = error.details.get("error_code") or _ERROR_CODES.get(error.status, "UNKNOWN")
        return Reply(error.status, {"error_code": code, "message": error.message})

    def fault_reply(self, fault: Fault, endpoint: str) -> Reply:
        """The kit's fault answer; 429 and 503 carry ``Retry-After: retry_after_seconds`` (default 1)."""
        reply = super().fault_reply(fault, endpoint)
        retry_after = fault.details.get("retry_after_seconds", 1)
        if fault.status in (429, 503) and retry_after is not None:
            reply.headers["Retry-After"] = str(retry_after)
        return reply

    def not_found_reply(self, request: Request) -> Reply:
        """``NOT_FOUND`` for the SDK's host-metadata probe, ``ENDPOINT_NOT_FOUND`` for anything else."""
        message = f"No API found for '{request.method} {request.path}'"
        return self.error_reply(
            ApiError(404, message, error_code="NOT_FOUND" if request.path == _WELL_KNOWN else "ENDPOINT_NOT_FOUND")
        )

    # ------------------------------------------------------------------ endpoints

    def _submit(self, request: Request) -> Reply:
        body = _parse_body(request)
        token = _check_token(body)
        name, tasks = str(body.get("run_name") or "Untitled"), _submitted_tasks(body)
        run = self._create(token, body, None, run_type="SUBMIT_RUN", run_name=name, task_settings=tasks)
        return Reply(200, {"run_id": run.run_id})

    def _run_now(self, request: Request) -> Reply:
        body = _parse_body(request)
        token = _check_token(body)
        job_id = _int_field(body, "job_id")
        with self.book.lock:
            settings = self._jobs_or_error(job_id)
            job_parameters = self._job_parameter_defaults(job_id)
            requested = body.get("job_parameters") or {}
            if not isinstance(requested, dict):
                raise _invalid("job_parameters must be an object")
            job_parameters.update({str(k): str(v) for k, v in requested.items()})
            notebook_params = body.get("notebook_params") or {}
            tasks: list[dict[str, Any]] = []
            for task in copy.deepcopy(settings.get("tasks", [])):
                if notebook_params and isinstance(task.get("notebook_task"), dict):
                    base = dict(task["notebook_task"].get("base_parameters") or {})
                    base.update({str(k): str(v) for k, v in notebook_params.items()})
                    task["notebook_task"]["base_parameters"] = base
                tasks.append(task)
            name = str(settings.get("name") or "Untitled")
        fields = {"job_id": job_id, "run_name": name, "task_settings": tasks, "job_parameters": job_parameters}
        run = self._create(token, body, job_id, run_type="JOB_RUN", **fields)
        return Reply(200, {"run_id": run.run_id, "number_in_job": run.run_id})

    def _create(self, token: str | None, body: dict[str, Any], scope: int | None, **fields: Any) -> EmulatedRun:
        try:
            run, _ = self.book.submit(token, copy.deepcopy(body), scope=scope, **fields)
        except LookupError:
            raise _invalid(f"The run with idempotency token {token!r} was deleted.") from None
        return run

    def _get_run(self, request: Request) -> Reply:
        run_id = _int_field(_get_params(request), "run_id")
        with self.book.lock:
            self._gets[run_id] += 1
        run = self.status_call(run_id)
        with self.book.lock:
            if run is not None:
                data = self._run_json(run)
                if str(_get_params(request).get("include_history")).lower() == "true":
                    history = [{"type": "ORIGINAL", "start_time": run.start_time}]
                    data["repair_history"] = history + [{"type": "REPAIR", "id": i} for i in run.repairs]
                return Reply(200, data)
            indexed = self._task_index.get(run_id)
            if indexed is not None and not indexed[0].forgotten:
                return Reply(200, self._task_run_json(*indexed))
        raise _invalid(f"Run {run_id} does not exist.")

    def _cancel(self, request: Request) -> Reply:
        run_id = _int_field(_parse_body(request), "run_id")
        with self.book.lock:
            indexed = self._task_index.get(run_id)
        if self.book.cancel(indexed[0].run_id if indexed else run_id) is None:
            raise _invalid(f"Run {run_id} does not exist.")
        return Reply(200, {})

    def _cancel_all(self, request: Request) -> Reply:
        job_id = _int_field(_parse_body(request), "job_id")
        for run in [r for r in self.runs if r.job_id == job_id and not r.terminal]:
            self.book.cancel(run.run_id)
        return Reply(200, {})

    def _repair(self, request: Request) -> Reply:
        body = _parse_body(request)
        run_id = _int_field(body, "run_id")
        with self.book.lock:
            run = self.book.find(run_id)
            latest, given = (run.repairs[-1] if run and run.repairs else None), body.get("latest_repair_id")
            if run is None or run.forgotten or not run.terminal:
                raise _invalid(f"Run {run_id} does not exist or is not in a terminal state; it cannot be repaired.")
            if (None if given is None else _int_field(body, "latest_repair_id")) != latest:
                raise _invalid(f"The latest repair of run {run_id} is {latest}, not {given}.")
            run.repairs.append(int(self.new_job_id()))
            run.pinned, run.cancel_requested, run.scripted_calls = False, False, 0
            self.book._enter(run, self.book.script.born)
            return Reply(200, {"repair_id": run.repairs[-1]})

    def _update_job(self, request: Request) -> Reply:
        body = _parse_body(request)
        with self.book.lock:
            self._jobs_or_error(_int_field(body, "job_id")).update(copy.deepcopy(body.get("new_settings") or {}))
        return Reply(200, {})

    def _get_output(self, request: Request) -> Reply:
        run_id = _int_field(_get_params(request), "run_id")
        with self.book.lock:
            indexed = self._task_index.get(run_id)
            if indexed is not None and not indexed[0].forgotten:
                return Reply(200, self._output_json(*indexed))
            run = self.book.find(run_id)
            if run is None:
                raise _invalid(f"Run {run_id} does not exist.")
            if self.parent_output and len(run.tasks) == 1:
                return Reply(200, {**self._output_json(run, run.tasks[0]), "metadata": self._run_json(run)})
        raise _invalid(MULTI_TASK_OUTPUT_MESSAGE)

    def _create_job_request(self, request: Request) -> Reply:
        return Reply(200, {"job_id": self._create_job(_parse_body(request))})

    def _create_job(self, body: dict[str, Any]) -> int:
        tasks = body.get("tasks") or []
        if not isinstance(tasks, list) or not tasks:
            raise _invalid("A job needs at least one task.")
        _check_tasks(tasks)
        settings = {k: copy.deepcopy(v) for k, v in body.items() if k != "access_control_list"}
        settings.setdefault("name", "Untitled")
        with self.book.lock:
            job_id = int(self.new_job_id())
            self._jobs[job_id] = settings
            self._job_created[job_id] = _now_ms()
        return job_id

    def _list_jobs(self, request: Request) -> Reply:
        name = request.query.get("name")
        with self.book.lock:
            jobs = [
                {"job_id": job_id, "settings": copy.deepcopy(settings), "created_time": self._job_created[job_id]}
                for job_id, settings in sorted(self._jobs.items())
                if name is None or settings.get("name") == name
            ]
        return Reply(200, {"jobs": jobs, "has_more": False} if jobs else {"has_more": False})

    def _list_pipelines(self, request: Request) -> Reply:
        """``statuses`` of the pipelines matching ``filter=name LIKE '<pattern>'`` (``%`` and ``_`` wildcards)."""
        like = re.fullmatch(r"name LIKE '(.*)'", request.query.get("filter", "name LIKE '%'"))
        if like is None:
            raise _invalid(f"Unsupported filter: {request.query.get('filter')}")
        pattern = re.escape(like[1]).replace("%", ".*").replace("_", ".")
        with self.book.lock:
            found = [(i, n) for i, n in sorted(self._pipelines.items()) if re.fullmatch(pattern, n)]
        return Reply(200, {"statuses": [{"pipeline_id": i, "name": n, "state": "IDLE"} for i, n in found]})

    def _get_job(self, request: Request) -> Reply:
        job_id = _int_field(request.query, "job_id")
        with self.book.lock:
            settings = self._jobs_or_error(job_id)
            job = {"job_id": job_id, "created_time": self._job_created[job_id], "settings": copy.deepcopy(settings)}
        user = "emulator@example.com"
        return Reply(200, {**job, "creator_user_name": user, "run_as_user_name": user})

    # ------------------------------------------------------------------ JSON views (lock held)

    def _jobs_or_error(self, job_id: int) -> dict[str, Any]:
        if job_id not in self._jobs:
            raise _invalid(f"Job {job_id} does not exist.")
        return self._jobs[job_id]

    def _run_page_url(self, job_id: int, run_id: int) -> str:
        return f"{self.url}/?o={self.workspace_id}#job/{job_id}/run/{run_id}"

    def _common_json(self, run: EmulatedRun, run_id: int) -> dict[str, Any]:
        end = run.end_time
        duration = max(end - run.start_time, 0) if end else 0
        setup = min(duration, 1000)
        state: dict[str, Any] = {
            "life_cycle_state": run.life_cycle_state,
            "state_message": run.state_message,
            "user_cancelled_or_timedout": run.user_cancelled_or_timedout,
        }
        if run.result_state is not None:
            state["result_state"] = run.result_state
        if run.life_cycle_state == "QUEUED":
            state["queue_reason"] = _QUEUE_MESSAGE
        status: dict[str, Any] = {"state": run.status_json_state}
        if (termination := run.termination) is not None:
            code, kind = termination
            status["termination_details"] = {"code": code, "type": kind, "message": run.state_message}
        if status["state"] == "QUEUED":
            status["queue_details"] = {"code": "ACTIVE_RUNS_LIMIT_REACHED", "message": _QUEUE_MESSAGE}
        return {
            "run_id": run_id,
            "attempt_number": 0,
            "state": state,
            "status": status,
            "run_page_url": self._run_page_url(run.job_id, run_id),
            "start_time": run.start_time,
            "end_time": end,
            "setup_duration": setup,
            "execution_duration": duration - setup,
            "cleanup_duration": 0,
            "run_duration": duration,
            "queue_duration": 0,
        }

    def _task_json(self, run: EmulatedRun, task: EmulatedTask) -> dict[str, Any]:
        data = {k: copy.deepcopy(v) for k, v in task.settings.items() if k != "task_key"}
        return {**data, "task_key": task.task_key, **self._common_json(run, task.run_id)}

    def _run_fields(self, run: EmulatedRun, run_id: int) -> dict[str, Any]:
        return {
            "job_id": run.job_id,
            "number_in_job": run_id,
            "original_attempt_run_id": run_id,
            "creator_user_name": "emulator@example.com",
            "run_name": run.run_name,
            "run_type": run.run_type,
        }

    def _run_json(self, run: EmulatedRun) -> dict[str, Any]:
        data: dict[str, Any] = {**self._common_json(run, run.run_id), **self._run_fields(run, run.run_id)}
        data.update(tasks=[self._task_json(run, t) for t in run.tasks], trigger="ONE_TIME", format="MULTI_TASK")
        if run.job_parameters or run.run_type == "JOB_RUN":
            defaults = self._job_parameter_defaults(run.job_id)
            data["job_parameters"] = [
                {"name": name, "value": value, **({"default": defaults[name]} if name in defaults else {})}
                for name, value in sorted(run.job_parameters.items())
            ]
        return data

    def _task_run_json(self, run: EmulatedRun, task: EmulatedTask) -> dict[str, Any]:
        """A task run seen as a ``Run`` (``runs/get`` and ``get-output``'s ``metadata`` for a task run ID)."""
        data = {**self._task_json(run, task), **self._run_fields(run, task.run_id)}
        return {**data, "job_run_id": run.run_id, "format": "SINGLE_TASK"}

    def _job_parameter_defaults(self, job_id: int) -> dict[str, str]:
        parameters = self._jobs.get(job_id, {}).get("parameters", []) or []
        return {str(p["name"]): str(p.get("default", "")) for p in parameters if isinstance(p, dict) and "name" in p}

    def _output_json(self, run: EmulatedRun, task: EmulatedTask) -> dict[str, Any]:
        data: dict[str, Any] = {"metadata": self._task_run_json(run, task)}
        if not run.terminal:
            return data
        override = {**self._default_output, **task.output}
        if run.result_state in ("SUCCESS", "SUCCESS_WITH_FAILURES"):
            if "notebook_task" in task.settings:
                result = override.get("result")
                if result is None:
                    result = json.dumps(_notebook_params(task.settings, run.job_parameters), sort_keys=True)
                encoded = str(result).encode("utf-8")
                truncated = len(encoded) > MAX_NOTEBOOK_RESULT_BYTES
                if truncated:
                    result = encoded[:MAX_NOTEBOOK_RESULT_BYTES].decode("utf-8", errors="ignore")
                data["notebook_output"] = {"result": result, "truncated": truncated}
            else:
                logs = override.get("logs")
                data["logs"] = logs if logs is not None else _default_logs(task.settings, run.job_parameters)
                data["logs_truncated"] = False
        elif run.result_state in ("FAILED", "TIMEDOUT") or run.life_cycle_state == "INTERNAL_ERROR":
            failure = f"Exception: emulated failure of task {task.task_key!r}"
            data["error"] = override.get("error", failure)
            trace = f'Traceback (most recent call last):\n  File "<emulated>", line 1, in <module>\n{failure}'
            data["error_trace"] = override.get("error_trace", trace)
        return data


ENDPOINTS: tuple[str, ...] = DatabricksJobsEmulator.routes.endpoints
"""Jobs API endpoints the emulator serves, as named in ``calls`` and faults."""


def _now_ms() -> int:
    return int(time.time() * 1000)


def _invalid(message: str) -> ApiError:
    return ApiError(400, message, error_code="INVALID_PARAMETER_VALUE")


def _parse_body(request: Request) -> dict[str, Any]:
    try:
        parsed = request.json()
    except (UnicodeDecodeError, ValueError) as exc:
        message = f"Invalid JSON given in the body of the request: {exc}"
        raise ApiError(400, message, error_code="MALFORMED_REQUEST") from exc
    if not isinstance(parsed, dict):
        raise ApiError(400, "The body of the request must be a JSON object", error_code="MALFORMED_REQUEST")
    return parsed


def _get_params(request: Request) -> Mapping[str, Any]:
    """A GET's parameters: the query, or a JSON body (upstream's async hook sends them so; the API reads it)."""
    return request.query if request.query or not request.body else _parse_body(request)


def _int_field(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if value is None or value == "":
        raise _invalid(f"Missing required field: {name}")
    if isinstance(value, bool):
        raise _invalid(f"Invalid value for {name}: {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _invalid(f"Invalid value for {name}: {value!r}") from None


def _check_token(body: Mapping[str, Any]) -> str | None:
    token = body.get("idempotency_token")
    if token is None or token == "":
        return None
    if not isinstance(token, str):
        raise _invalid("idempotency_token must be a string")
    if len(token) > MAX_IDEMPOTENCY_TOKEN_LENGTH:
        limit = MAX_IDEMPOTENCY_TOKEN_LENGTH
        raise _invalid(f"Idempotency token must have at most {limit} characters, got {len(token)}.")
    return token


def _check_tasks(tasks: list[Any]) -> None:
    keys: set[str] = set()
    for task in tasks:
        if not isinstance(task, dict):
            raise _invalid("Each task must be an object")
        key = task.get("task_key")
        if not isinstance(key, str) or not key:
            raise _invalid("Missing required field: task_key")
        if key in keys:
            raise _invalid(f"Task key {key} is not unique.")
        keys.add(key)


def _submitted_tasks(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    tasks = body.get("tasks")
    if tasks:
        if not isinstance(tasks, list):
            raise _invalid("tasks must be an array")
        _check_tasks(tasks)
        return copy.deepcopy(tasks)
    legacy = {k: copy.deepcopy(body[k]) for k in _LEGACY_TASK_SETTINGS if k in body}
    if not any(k in legacy for k in LEGACY_TASK_FIELDS):
        raise _invalid("A run needs at least one task (tasks or a legacy single-task field).")
    return [{"task_key": LEGACY_TASK_KEY, **legacy}]


def _notebook_params(settings: Mapping[str, Any], job_parameters: Mapping[str, str]) -> dict[str, Any]:
    notebook = settings.get("notebook_task") or {}
    params = dict(notebook.get("base_parameters") or {}) if isinstance(notebook, dict) else {}
    params.update(job_parameters)
    return params


def _default_logs(settings: Mapping[str, Any], job_parameters: Mapping[str, str]) -> str:
    for field in LEGACY_TASK_FIELDS:
        spec = settings.get(field)
        if isinstance(spec, dict):
            for name in ("parameters", "named_parameters"):
                if name in spec:
                    return json.dumps(spec[name], sort_keys=True)
    return json.dumps(dict(job_parameters), sort_keys=True)
