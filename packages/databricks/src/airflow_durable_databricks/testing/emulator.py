"""A wire-level emulator of the Databricks Jobs API 2.2, served to the real ``databricks-sdk`` client.

It answers the calls a submit-and-poll operator makes, with the JSON shapes of the Jobs API 2.2 reference
and of the ``databricks.sdk.service.jobs`` dataclasses (``Run``, ``RunState``, ``RunStatus``,
``TerminationDetails``, ``SubmitRunResponse``, ``RunNowResponse``, ``RunOutput``) that parse them:

* ``POST /api/2.2/jobs/runs/submit`` (https://docs.databricks.com/api/workspace/jobs/submit) ->
  ``{"run_id": N}``;
* ``POST /api/2.2/jobs/run-now`` (https://docs.databricks.com/api/workspace/jobs/runnow) ->
  ``{"run_id": N, "number_in_job": N}``;
* ``GET /api/2.2/jobs/runs/get`` (https://docs.databricks.com/api/workspace/jobs/getrun) -> a ``Run``;
* ``POST /api/2.2/jobs/runs/cancel`` (https://docs.databricks.com/api/workspace/jobs/cancelrun) -> ``{}``;
* ``GET /api/2.2/jobs/runs/get-output`` (https://docs.databricks.com/api/workspace/jobs/getrunoutput) ->
  a ``RunOutput`` for a *task* run (a job run's own ``run_id`` is refused, as by the real API 2.1+);
* ``POST /api/2.2/jobs/create`` (https://docs.databricks.com/api/workspace/jobs/create) and ``GET
  /api/2.2/jobs/get`` (https://docs.databricks.com/api/workspace/jobs/get) to define jobs for run-now;
* ``GET /.well-known/databricks-config`` -> 404 (the SDK probes it when a client is built and
  tolerates a 404).

``/api/2.1/jobs/...`` is accepted as an alias. Errors use the Databricks body ``{"error_code": ...,
"message": ...}``; an unknown run on ``runs/get`` is ``400 INVALID_PARAMETER_VALUE "Run N does not
exist."``, which ``databricks-sdk`` turns into ``ResourceDoesNotExist`` (its error overrides match that
message on ``/jobs/runs/get*``).

Behaviour that matters for crash-safe operators:

* ``idempotency_token`` (at most 64 characters): the same token on ``runs/submit`` (or on ``run-now`` for
  the same job) returns the existing run's ``run_id`` and creates nothing, also when that run failed.
* Life cycle: in *advance* mode a run answers ``PENDING`` to its first ``runs/get``, ``RUNNING`` after
  that and ``TERMINATED`` with the chosen result from its ``polls_to_finish``-th ``runs/get`` on; in
  *hold* mode runs stay where they are until :meth:`DatabricksJobsEmulator.set_state` moves them.
* Faults: :meth:`~DatabricksJobsEmulator.fail_next`, :meth:`~DatabricksJobsEmulator.fault_rate` and
  :attr:`~DatabricksJobsEmulator.latency_seconds`.
* A JSON control API under ``/_emulator/`` (and :class:`EmulatorControl`, its client) for tests that run
  the emulator as a separate process (``python -m airflow_durable_databricks.testing``).

Texts of ``state_message`` and of error messages other than the ones quoted above are the emulator's
own; the ``status.termination_details`` ``code``/``type`` derived from a ``result_state`` follow the
descriptions in the SDK's ``TerminationCodeCode``/``TerminationTypeType`` and were not captured from a
live workspace.

Example::

    with DatabricksJobsEmulator(polls_to_finish=3) as emulator:
        w = WorkspaceClient(config=Config(host=emulator.url, token="x", retry_timeout_seconds=10))
        run_id = w.jobs.submit(run_name="r", tasks=[...], idempotency_token="t-1").run_id
        w.jobs.get_run(run_id).state.life_cycle_state   # PENDING, then RUNNING, then TERMINATED
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from airflow_durable.testing.server import BackgroundHTTPServer, Response

if TYPE_CHECKING:
    import httpx

SUBMIT_DOC_URL = "https://docs.databricks.com/api/workspace/jobs/submit"
GET_RUN_DOC_URL = "https://docs.databricks.com/api/workspace/jobs/getrun"
CANCEL_RUN_DOC_URL = "https://docs.databricks.com/api/workspace/jobs/cancelrun"
RUN_NOW_DOC_URL = "https://docs.databricks.com/api/workspace/jobs/runnow"
GET_RUN_OUTPUT_DOC_URL = "https://docs.databricks.com/api/workspace/jobs/getrunoutput"
CREATE_JOB_DOC_URL = "https://docs.databricks.com/api/workspace/jobs/create"
GET_JOB_DOC_URL = "https://docs.databricks.com/api/workspace/jobs/get"

LIFE_CYCLE_STATES: frozenset[str] = frozenset(
    {
        "PENDING",
        "QUEUED",
        "RUNNING",
        "TERMINATING",
        "TERMINATED",
        "SKIPPED",
        "INTERNAL_ERROR",
        "BLOCKED",
        "WAITING_FOR_RETRY",
    }
)
"""Every ``state.life_cycle_state`` of the Jobs API 2.2 (``RunLifeCycleState`` in the SDK)."""

TERMINAL_LIFE_CYCLE_STATES: frozenset[str] = frozenset({"TERMINATED", "SKIPPED", "INTERNAL_ERROR"})
"""Life-cycle states the API documents as terminal."""

RESULT_STATES: frozenset[str] = frozenset(
    {
        "SUCCESS",
        "FAILED",
        "TIMEDOUT",
        "CANCELED",
        "MAXIMUM_CONCURRENT_RUNS_REACHED",
        "EXCLUDED",
        "SUCCESS_WITH_FAILURES",
        "UPSTREAM_FAILED",
        "UPSTREAM_CANCELED",
        "DISABLED",
    }
)
"""Every ``state.result_state`` (``RunResultState`` in the SDK)."""

STATUS_STATES: frozenset[str] = frozenset(
    {"BLOCKED", "PENDING", "QUEUED", "RUNNING", "TERMINATED", "TERMINATING", "WAITING"}
)
"""Every ``status.state`` (``RunLifecycleStateV2State`` in the SDK)."""

TERMINATION_TYPES: frozenset[str] = frozenset({"SUCCESS", "INTERNAL_ERROR", "CLIENT_ERROR", "CLOUD_FAILURE"})
"""Every ``status.termination_details.type`` (``TerminationTypeType`` in the SDK)."""

ENDPOINTS: tuple[str, ...] = (
    "runs/submit",
    "run-now",
    "runs/get",
    "runs/cancel",
    "runs/get-output",
    "get",
    "list",
    "create",
)
"""Jobs API endpoints the emulator serves, as named in :attr:`DatabricksJobsEmulator.calls` and faults."""

CONTROL_PREFIX = "/_emulator"
"""Path prefix of the emulator's own control endpoints (not part of the Databricks API)."""

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

LEGACY_TASK_FIELDS: tuple[str, ...] = (
    "notebook_task",
    "spark_jar_task",
    "spark_python_task",
    "spark_submit_task",
    "python_wheel_task",
    "pipeline_task",
    "sql_task",
    "dbt_task",
    "run_job_task",
)
"""Task-type fields a legacy (API 2.0 style) single-task ``runs/submit`` body may carry at top level."""

_LEGACY_TASK_SETTINGS: tuple[str, ...] = (
    *LEGACY_TASK_FIELDS,
    "new_cluster",
    "existing_cluster_id",
    "libraries",
    "timeout_seconds",
)
LEGACY_TASK_KEY = "main"
"""``task_key`` the emulator gives the one task of a legacy single-task submission."""

JSON_CONTENT_TYPE = "application/json"

_API_PREFIXES = ("/api/2.2/jobs/", "/api/2.1/jobs/")
_WELL_KNOWN = "/.well-known/databricks-config"

_STATUS_FOR_LIFE_CYCLE = {
    "PENDING": "PENDING",
    "QUEUED": "QUEUED",
    "RUNNING": "RUNNING",
    "TERMINATING": "TERMINATING",
    "TERMINATED": "TERMINATED",
    "SKIPPED": "TERMINATED",
    "INTERNAL_ERROR": "TERMINATED",
    "BLOCKED": "BLOCKED",
    "WAITING_FOR_RETRY": "WAITING",
}

# result_state -> (termination_details.code, termination_details.type)
_TERMINATION_FOR_RESULT = {
    "SUCCESS": ("SUCCESS", "SUCCESS"),
    "SUCCESS_WITH_FAILURES": ("SUCCESS_WITH_FAILURES", "SUCCESS"),
    "FAILED": ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
    "TIMEDOUT": ("CANCELED", "CLIENT_ERROR"),
    "CANCELED": ("USER_CANCELED", "SUCCESS"),
    "MAXIMUM_CONCURRENT_RUNS_REACHED": ("MAX_CONCURRENT_RUNS_EXCEEDED", "CLIENT_ERROR"),
    "EXCLUDED": ("SKIPPED", "SUCCESS"),
    "UPSTREAM_FAILED": ("SKIPPED", "CLIENT_ERROR"),
    "UPSTREAM_CANCELED": ("SKIPPED", "SUCCESS"),
    "DISABLED": ("DISABLED", "SUCCESS"),
}

_TYPE_FOR_CODE = {
    "SUCCESS": "SUCCESS",
    "SUCCESS_WITH_FAILURES": "SUCCESS",
    "USER_CANCELED": "SUCCESS",
    "SKIPPED": "SUCCESS",
    "DISABLED": "SUCCESS",
    "INTERNAL_ERROR": "INTERNAL_ERROR",
    "CLOUD_FAILURE": "CLOUD_FAILURE",
}

_STATE_MESSAGES = {
    "PENDING": "Waiting for cluster",
    "QUEUED": "Queued",
    "RUNNING": "In run",
    "TERMINATING": "Terminating",
    "BLOCKED": "Blocked on an upstream dependency",
    "WAITING_FOR_RETRY": "Waiting for retry",
    "SKIPPED": "Skipped",
    "INTERNAL_ERROR": "Internal error in the Jobs service (emulated)",
}

_RESULT_MESSAGES = {
    "SUCCESS": "",
    "FAILED": "Workload failed, see run output for details",
    "TIMEDOUT": "Run timed out",
    "CANCELED": "Run cancelled",
}

_FAULT_ERROR_CODES = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "RESOURCE_CONFLICT",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class DatabricksApiError(Exception):
    """An error the emulator answers with a Databricks error body.

    Args:
        status: HTTP status.
        error_code: Databricks ``error_code`` (e.g. ``INVALID_PARAMETER_VALUE``).
        message: ``message`` of the body.
    """

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def body(self) -> dict[str, Any]:
        """Return the JSON error body.

        Returns:
            ``{"error_code": ..., "message": ...}``.
        """
        return {"error_code": self.error_code, "message": self.message}


def _invalid(message: str) -> DatabricksApiError:
    return DatabricksApiError(400, "INVALID_PARAMETER_VALUE", message)


@dataclasses.dataclass
class EmulatedTask:
    """One task of an emulated run (each task run has its own ``run_id``, as in the real API)."""

    task_key: str
    """The task's ``task_key``."""
    run_id: int
    """The task run's ID (what ``runs/get-output`` needs)."""
    settings: dict[str, Any]
    """The task as submitted (for run-now: as defined in the job, ``notebook_params`` merged in)."""
    output: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Per-task output overrides (``result``, ``logs``, ``error``, ``error_trace``) set by
    :meth:`DatabricksJobsEmulator.set_output`."""


@dataclasses.dataclass
class EmulatedRun:
    """Everything the emulator knows about one run (a ``runs/submit`` or ``run-now`` that created a run)."""

    run_id: int
    """The run's ID (``run_id`` of the submit/run-now response)."""
    job_id: int
    """The job's ID (for ``runs/submit``: a one-time job that ``jobs/get`` does not know)."""
    run_type: str
    """``SUBMIT_RUN`` or ``JOB_RUN``."""
    endpoint: str
    """``runs/submit`` or ``run-now``."""
    run_name: str
    """``run_name`` (submit, default ``Untitled``) or the job's name (run-now)."""
    request: dict[str, Any]
    """The request body as received."""
    idempotency_token: str | None
    """The request's ``idempotency_token`` (``None`` when absent)."""
    tasks: list[EmulatedTask]
    """The run's tasks."""
    start_time: int
    """Epoch milliseconds of the submission."""
    job_parameters: dict[str, str] = dataclasses.field(default_factory=dict)
    """Effective job parameters (run-now: job defaults overridden by the request)."""
    life_cycle_state: str = "PENDING"
    """Current ``state.life_cycle_state`` (any string after :meth:`DatabricksJobsEmulator.set_state`)."""
    result_state: str | None = None
    """Current ``state.result_state``."""
    state_message: str = ""
    """Current ``state.state_message``."""
    status_state: str | None = None
    """Explicit ``status.state`` (``None``: derived from the life-cycle state)."""
    termination_code: str | None = None
    """Explicit ``status.termination_details.code`` (``None``: derived)."""
    termination_type: str | None = None
    """Explicit ``status.termination_details.type`` (``None``: derived)."""
    user_cancelled_or_timedout: bool = False
    """``state.user_cancelled_or_timedout``."""
    end_time: int = 0
    """Epoch milliseconds when the run reached a terminal state (0 before)."""
    pinned: bool = False
    """Set by :meth:`DatabricksJobsEmulator.set_state`: the run no longer advances on its own."""
    forgotten: bool = False
    """Set by :meth:`DatabricksJobsEmulator.forget`: the API answers as if the run did not exist."""
    token_released: bool = False
    """The run's idempotency token no longer maps to it (``forget(..., release_token=True)``)."""
    polls: int = 0
    """``runs/get`` requests answered for this run (fault-injected ones not included)."""
    advance_polls: int = 0
    """Polls answered in advance mode while the run was not pinned (drive the advance life cycle)."""
    cancel_requested: bool = False
    """A ``runs/cancel`` was accepted while the run was active."""
    cancel_polls: int = 0
    """Polls answered since the cancel request."""
    history: list[tuple[str, str | None]] = dataclasses.field(default_factory=list)
    """``(life_cycle_state, result_state)`` pairs, one per change, oldest first."""

    @property
    def terminal(self) -> bool:
        """Whether the life-cycle state is terminal."""
        return self.life_cycle_state in TERMINAL_LIFE_CYCLE_STATES

    @property
    def task_run_ids(self) -> list[int]:
        """The tasks' run IDs, in task order."""
        return [task.run_id for task in self.tasks]

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-compatible summary (what the control API's ``/_emulator/runs`` lists).

        Returns:
            A dict.
        """
        return {
            "run_id": self.run_id,
            "job_id": self.job_id,
            "run_type": self.run_type,
            "endpoint": self.endpoint,
            "run_name": self.run_name,
            "idempotency_token": self.idempotency_token,
            "request": copy.deepcopy(self.request),
            "tasks": [{"task_key": t.task_key, "run_id": t.run_id} for t in self.tasks],
            "job_parameters": dict(self.job_parameters),
            "life_cycle_state": self.life_cycle_state,
            "result_state": self.result_state,
            "state_message": self.state_message,
            "status_state": _status_state(self),
            "termination_code": _termination(self)[0] if _has_termination_details(self) else None,
            "user_cancelled_or_timedout": self.user_cancelled_or_timedout,
            "pinned": self.pinned,
            "forgotten": self.forgotten,
            "polls": self.polls,
            "cancel_requested": self.cancel_requested,
            "history": [list(item) for item in self.history],
        }


class _Fault:
    def __init__(
        self,
        count: int,
        status: int,
        endpoint: str | None,
        retry_after_seconds: int | None,
        error_code: str | None,
        message: str | None,
        body: str | None,
    ) -> None:
        self.remaining = count
        self.status = status
        self.endpoint = endpoint
        self.retry_after_seconds = retry_after_seconds
        self.error_code = error_code
        self.message = message
        self.body = body


class _FaultRate:
    def __init__(
        self,
        rate: float,
        statuses: tuple[int, ...],
        endpoint: str | None,
        seed: int | None,
        retry_after_seconds: int | None,
    ) -> None:
        self.rate = rate
        self.statuses = statuses
        self.endpoint = endpoint
        self.random = random.Random(seed)
        self.retry_after_seconds = retry_after_seconds


@dataclasses.dataclass
class RecordedRequest:
    """One HTTP request the emulator received (control requests excluded)."""

    method: str
    path: str
    """Path with the query string."""
    endpoint: str | None
    """Jobs endpoint name (see :data:`ENDPOINTS`), ``None`` for anything else."""
    status: int
    """HTTP status answered (0: connection dropped)."""
    authorization: str | None
    """The ``Authorization`` header, as sent."""
    user_agent: str | None
    """The ``User-Agent`` header."""


_Response = tuple[int, dict[str, Any], dict[str, str]]


class DatabricksJobsEmulator(BackgroundHTTPServer):
    """A Databricks Jobs API 2.2 server (the subset operators use) running in a background thread.

    Args:
        polls_to_finish: Advance mode: the ``runs/get`` from which a run reports its terminal state
            (``None`` starts in hold mode). ``1`` finishes on the first poll.
        outcome: Advance mode: how runs end, a ``result_state`` (``SUCCESS``, ``FAILED``, ...; the life
            cycle is then ``TERMINATED``) or the terminal life-cycle state ``INTERNAL_ERROR`` (result
            ``FAILED``) or ``SKIPPED`` (no result).
        hold_state: Hold mode: the life-cycle state new runs are born in.
        host: Address to bind.
        port: Port to bind (0 picks a free one).
        workspace_id: The ``o=`` of ``run_page_url``.
        polls_to_cancel: ``runs/get`` polls a cancelled run answers ``TERMINATING`` to before
            ``TERMINATED``/``CANCELED`` (0: terminated by the cancel request itself).
        parent_output: Let ``runs/get-output`` on a *single-task* run's own ``run_id`` answer with its
            task's output (API 2.0 behaviour). Off by default: the real API 2.1+ refuses it with
            :data:`MULTI_TASK_OUTPUT_MESSAGE`.
    """

    thread_name = "databricks-jobs-emulator"
    server_version = "databricks-jobs-emulator"

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
        self._lock = threading.RLock()
        self._host = host
        self._requested_port = port
        self.workspace_id = workspace_id
        self.polls_to_cancel = polls_to_cancel
        self.parent_output = parent_output
        self._initial_mode = (polls_to_finish, outcome, hold_state)
        self._polls_to_finish: int | None = None
        self._outcome = "SUCCESS"
        self._hold_state = "RUNNING"
        self._next_id = 1
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.latency_seconds = 0.0
        self.submit_delays: dict[str, float] = {}
        """``run_name`` -> seconds: the next ``runs/submit`` of that name creates the run, then waits this
        long before answering (once). Opens a submit-to-persist window a test can kill a worker in."""
        """Seconds every Jobs API request waits before it is handled (control requests do not)."""
        self.on_get: Callable[[int], None] | None = None
        """Called with the run ID in the server thread before a ``runs/get`` is answered (without the
        lock held, so it may call :meth:`set_state` and friends). Exceptions go to :attr:`hook_errors`."""
        self.on_submit: Callable[[EmulatedRun], None] | None = None
        """Called in the server thread after ``runs/submit`` or ``run-now`` created a run (not for a
        deduplicated token), before the response is sent. Exceptions go to :attr:`hook_errors`."""
        self.hook_errors: list[BaseException] = []
        self._reset_state()
        self._apply_mode(polls_to_finish, outcome, hold_state)

    def _reset_state(self) -> None:
        self._runs: dict[int, EmulatedRun] = {}
        self._task_index: dict[int, tuple[EmulatedRun, EmulatedTask]] = {}
        self._jobs: dict[int, dict[str, Any]] = {}
        self._job_created: dict[int, int] = {}
        self._tokens: dict[tuple[str, int | None, str], int] = {}
        self._faults: list[_Fault] = []
        self._fault_rate: _FaultRate | None = None
        self._default_output: dict[str, Any] = {}
        self._gets: Counter[int] = Counter()
        self.submissions: list[int] = []
        """IDs of the runs that ``runs/submit`` and ``run-now`` created, oldest first (a deduplicated
        idempotency token adds nothing)."""
        self.deduplicated: list[int] = []
        """Run IDs returned for a reused idempotency token (one entry per such request), oldest first."""
        self.cancelled: list[int] = []
        """Run IDs of every accepted ``runs/cancel``, in order (terminal runs included: the API accepts
        and ignores those)."""
        self.calls: Counter[str] = Counter()
        """Requests received per endpoint name (:data:`ENDPOINTS`), fault-injected ones included."""
        self.faults_served: Counter[str] = Counter()
        """Fault-injected answers per endpoint name."""
        self.requests: list[RecordedRequest] = []
        """Every request received except control requests, oldest first."""

    def _apply_mode(self, polls_to_finish: int | None, outcome: str, hold_state: str) -> None:
        if polls_to_finish is None:
            self._outcome = _check_outcome(outcome)
            self.hold(hold_state)
        else:
            self._hold_state = hold_state
            self.advance(polls_to_finish, outcome)

    # ------------------------------------------------------------------ lifecycle and addresses

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response | None:
        """Answer one request (see :class:`~airflow_durable.testing.server.BackgroundHTTPServer`)."""
        return self._route(method, path, body, headers)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the workspace host to give ``databricks.sdk.Config(host=...)``."""
        return f"http://{self._host}:{self.port}"

    # ------------------------------------------------------------------ modes

    @property
    def mode(self) -> str:
        """``"advance"`` or ``"hold"``."""
        return "hold" if self._polls_to_finish is None else "advance"

    def advance(self, polls_to_finish: int = 3, outcome: str = "SUCCESS") -> None:
        """Switch to advance mode: runs finish on their own as they are polled.

        A run answers ``PENDING`` to its first ``runs/get``, ``RUNNING`` to the next ones and its terminal
        state from the ``polls_to_finish``-th on. Runs that were held (and not pinned by
        :meth:`set_state`) start counting from now and never move backwards.

        Args:
            polls_to_finish: At least 1.
            outcome: A ``result_state`` (life cycle ``TERMINATED``), or ``INTERNAL_ERROR`` / ``SKIPPED``.

        Raises:
            ValueError: Bad arguments.
        """
        if polls_to_finish < 1:
            raise ValueError("polls_to_finish must be >= 1")
        outcome = _check_outcome(outcome)
        with self._lock:
            self._polls_to_finish = polls_to_finish
            self._outcome = outcome

    def hold(self, state: str = "RUNNING") -> None:
        """Switch to hold mode: new runs are born in ``state`` and no run moves on its own.

        Args:
            state: Birth life-cycle state of new runs (``RUNNING``, ``PENDING``, ``QUEUED``, ...).
        """
        with self._lock:
            self._hold_state = state
            self._polls_to_finish = None

    # ------------------------------------------------------------------ jobs

    def create_job(self, name: str, tasks: Iterable[Mapping[str, Any]], **settings: Any) -> int:
        """Define a job, like ``POST /api/2.2/jobs/create`` (https://docs.databricks.com/api/workspace/jobs/create).

        Args:
            name: The job's name (also the ``run_name`` of its runs).
            tasks: Task settings, each with a ``task_key``.
            **settings: More ``JobSettings`` fields, e.g. ``parameters=[{"name": "p", "default": "1"}]``.

        Returns:
            The new ``job_id``.

        Raises:
            ValueError: Invalid tasks.
        """
        body = {"name": name, "tasks": [dict(t) for t in tasks], **settings}
        try:
            return self._create_job(body)
        except DatabricksApiError as exc:
            raise ValueError(exc.message) from exc

    @property
    def jobs(self) -> dict[int, dict[str, Any]]:
        """Defined jobs: ``job_id`` -> settings (a copy)."""
        with self._lock:
            return copy.deepcopy(self._jobs)

    # ------------------------------------------------------------------ inspection

    @property
    def runs(self) -> list[EmulatedRun]:
        """Every run created, oldest first (forgotten ones included, flagged). The records are live."""
        with self._lock:
            return [self._runs[run_id] for run_id in self.submissions]

    def run(self, run_id: int) -> EmulatedRun:
        """Return one run's record.

        Args:
            run_id: A run ID (not a task run ID).

        Returns:
            The live record.

        Raises:
            KeyError: No such run was ever created.
        """
        with self._lock:
            return self._runs[run_id]

    def gets_for(self, run_id: int) -> int:
        """Return how many ``runs/get`` requests for ``run_id`` were answered (fault-injected ones not counted).

        Args:
            run_id: Any run or task run ID (unknown IDs count too).

        Returns:
            The count.
        """
        with self._lock:
            return self._gets[run_id]

    def wait_for_runs(self, count: int, timeout_seconds: float = 10.0) -> list[EmulatedRun]:
        """Wait until at least ``count`` runs were created.

        Args:
            count: Number of runs.
            timeout_seconds: How long to wait.

        Returns:
            :attr:`runs`.

        Raises:
            TimeoutError: Fewer runs were created in time.
        """
        deadline = time.monotonic() + timeout_seconds
        while True:
            runs = self.runs
            if len(runs) >= count:
                return runs
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} runs, got {len(runs)}")
            time.sleep(0.01)

    def state_dump(self) -> dict[str, Any]:
        """Return a JSON-compatible snapshot (what ``GET /_emulator/runs`` answers).

        Returns:
            ``runs``, ``submissions``, ``deduplicated``, ``cancelled``, ``calls``, ``faults_served``,
            ``jobs``, ``mode``, ``polls_to_finish``, ``outcome``, ``hold_state``, ``latency_seconds``.
        """
        with self._lock:
            return {
                "runs": [run.to_json() for run in self.runs],
                "submissions": list(self.submissions),
                "deduplicated": list(self.deduplicated),
                "cancelled": list(self.cancelled),
                "calls": dict(self.calls),
                "faults_served": dict(self.faults_served),
                "jobs": {str(job_id): copy.deepcopy(s) for job_id, s in self._jobs.items()},
                "mode": self.mode,
                "polls_to_finish": self._polls_to_finish,
                "outcome": self._outcome,
                "hold_state": self._hold_state,
                "latency_seconds": self.latency_seconds,
            }

    # ------------------------------------------------------------------ control

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
        """Move a run to any state and pin it there (it no longer advances on its own).

        Unknown strings are sent as given (``databricks-sdk`` parses unknown enum values as ``None``).

        Args:
            run_id: A run ID.
            life_cycle_state: ``state.life_cycle_state``.
            result_state: ``state.result_state`` (omitted from the JSON when ``None``).
            status_state: ``status.state``; ``None`` derives it (``TERMINATED`` for ``SKIPPED`` and
                ``INTERNAL_ERROR``, ``WAITING`` for ``WAITING_FOR_RETRY``, else the same name).
            termination_code: ``status.termination_details.code``; ``None`` derives it from the result.
            termination_type: ``status.termination_details.type``; ``None`` derives it from the code.
            state_message: ``state.state_message``; ``None`` picks the emulator's text for the state.
            user_cancelled_or_timedout: ``None`` derives it (true for ``CANCELED`` and ``TIMEDOUT``).

        Raises:
            KeyError: Unknown run.
        """
        with self._lock:
            run = self._runs[run_id]
            run.pinned = True
            run.cancel_requested = False
            self._move(
                run,
                life_cycle_state,
                result_state,
                status_state=status_state,
                termination_code=termination_code,
                termination_type=termination_type,
                state_message=state_message,
                user_cancelled_or_timedout=user_cancelled_or_timedout,
            )

    def forget(self, run_id: int, *, release_token: bool = False) -> None:
        """Make the API forget a run (deleted, or older than the 60 days runs are kept).

        ``runs/get``, ``runs/cancel`` and ``runs/get-output`` then answer ``Run N does not exist.`` for it
        and its task runs. Its idempotency token keeps pointing at it (the docs: "If a run with the
        provided token is deleted, an error is returned"), unless ``release_token``.

        Args:
            run_id: A run ID.
            release_token: Free the token, so that a submission with it creates a new run.

        Raises:
            KeyError: Unknown run.
        """
        with self._lock:
            run = self._runs[run_id]
            run.forgotten = True
            run.token_released = run.token_released or release_token

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
        """Override what ``runs/get-output`` returns (instead of the default derived from the payload).

        The default ``notebook_output.result`` of a notebook task is ``json.dumps(params,
        sort_keys=True)`` of its effective parameters (``base_parameters``, overridden by run-now's
        ``notebook_params``, overridden by job parameters); other tasks get ``logs`` with the JSON of
        their ``parameters``/``named_parameters``. A failed task run gets an ``error`` and
        ``error_trace``.

        Args:
            run_id: A run or task run ID; ``None`` sets the default for every run without its own
                override (existing and future ones).
            result: ``notebook_output.result``.
            logs: ``logs``.
            error: ``error`` (sent when the run failed).
            error_trace: ``error_trace`` (sent when the run failed).
            task_key: With a run ID: only that task (default: all of the run's tasks).

        Raises:
            KeyError: Unknown run, task run or task key.
        """
        values = {
            k: v
            for k, v in {"result": result, "logs": logs, "error": error, "error_trace": error_trace}.items()
            if v is not None
        }
        with self._lock:
            if run_id is None:
                self._default_output.update(values)
                return
            if run_id in self._task_index:
                self._task_index[run_id][1].output.update(values)
                return
            run = self._runs[run_id]
            tasks = [t for t in run.tasks if task_key is None or t.task_key == task_key]
            if not tasks:
                raise KeyError(f"run {run_id} has no task {task_key!r}")
            for task in tasks:
                task.output.update(values)

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        *,
        endpoint: str | None = None,
        retry_after_seconds: int | None = 1,
        error_code: str | None = None,
        message: str | None = None,
        body: str | None = None,
    ) -> None:
        """Answer the next ``n`` matching Jobs API requests with an error instead of handling them.

        Faults are queued: a later call applies after earlier ones are used up. A failed submit creates
        no run; a failed ``runs/get`` does not count as a poll.

        Args:
            n: How many requests fail.
            status: HTTP status; ``0`` closes the connection without an answer.
            endpoint: One of :data:`ENDPOINTS`, or ``None`` for any Jobs API request.
            retry_after_seconds: ``Retry-After`` header for 429 and 503 (``None``: no header; the SDK
                then waits 1 s). Ignored for other statuses.
            error_code: ``error_code`` of the body (default by status: ``TOO_MANY_REQUESTS``,
                ``TEMPORARILY_UNAVAILABLE``, ``INTERNAL_ERROR``, ...).
            message: ``message`` of the body.
            body: Raw body to send instead of the JSON error (e.g. a proxy's HTML page).

        Raises:
            ValueError: Unknown endpoint or bad ``n``.
        """
        if endpoint is not None and endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")
        if n < 1:
            raise ValueError("n must be >= 1")
        with self._lock:
            self._faults.append(_Fault(n, status, endpoint, retry_after_seconds, error_code, message, body))

    def fault_rate(
        self,
        rate: float,
        statuses: Iterable[int] = (429, 503),
        *,
        endpoint: str | None = "runs/get",
        seed: int | None = None,
        retry_after_seconds: int | None = 1,
    ) -> None:
        """Answer a random share of matching requests with an error (after :meth:`fail_next` faults).

        Args:
            rate: Probability in ``[0, 1]``; 0 turns random faults off.
            statuses: Statuses to pick from (uniformly).
            endpoint: One of :data:`ENDPOINTS`, or ``None`` for any Jobs API request.
            seed: Seed of the random generator (``None``: unseeded).
            retry_after_seconds: ``Retry-After`` header for 429 and 503 (``None``: no header).

        Raises:
            ValueError: Bad arguments.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        if endpoint is not None and endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")
        chosen = tuple(statuses)
        if rate > 0 and not chosen:
            raise ValueError("statuses must not be empty")
        with self._lock:
            self._fault_rate = _FaultRate(rate, chosen, endpoint, seed, retry_after_seconds) if rate > 0 else None

    def reset(self) -> None:
        """Forget all runs, jobs, tokens, faults, outputs and counters; back to the constructor's mode.

        IDs keep increasing (a run ID is never reused within one emulator).
        """
        with self._lock:
            self._reset_state()
            self.latency_seconds = 0.0
            self._apply_mode(*self._initial_mode)

    # ------------------------------------------------------------------ state machine

    def _new_id(self) -> int:
        with self._lock:
            value = self._next_id
            self._next_id += 1
            return value

    def _move(
        self,
        run: EmulatedRun,
        life_cycle_state: str,
        result_state: str | None,
        *,
        status_state: str | None = None,
        termination_code: str | None = None,
        termination_type: str | None = None,
        state_message: str | None = None,
        user_cancelled_or_timedout: bool | None = None,
    ) -> None:
        run.life_cycle_state = life_cycle_state
        run.result_state = result_state
        run.status_state = status_state
        run.termination_code = termination_code
        run.termination_type = termination_type
        if state_message is None:
            if result_state is not None and life_cycle_state in TERMINAL_LIFE_CYCLE_STATES | {"TERMINATING"}:
                state_message = _RESULT_MESSAGES.get(result_state, "")
            if not state_message:
                state_message = _STATE_MESSAGES.get(life_cycle_state, "")
        run.state_message = state_message
        if user_cancelled_or_timedout is None:
            user_cancelled_or_timedout = result_state in ("CANCELED", "TIMEDOUT")
        run.user_cancelled_or_timedout = user_cancelled_or_timedout
        if life_cycle_state in TERMINAL_LIFE_CYCLE_STATES:
            if not run.end_time:
                run.end_time = max(_now_ms(), run.start_time + 1)
        else:
            run.end_time = 0
        entry = (life_cycle_state, result_state)
        if not run.history or run.history[-1] != entry:
            run.history.append(entry)

    def _finish(self, run: EmulatedRun, outcome: str) -> None:
        if outcome == "INTERNAL_ERROR":
            self._move(run, "INTERNAL_ERROR", "FAILED")
        elif outcome == "SKIPPED":
            self._move(run, "SKIPPED", None)
        else:
            self._move(run, "TERMINATED", outcome)

    def _on_poll(self, run: EmulatedRun) -> None:
        """Count one answered ``runs/get`` and advance the run (lock held)."""
        run.polls += 1
        if run.cancel_requested and not run.terminal:
            run.cancel_polls += 1
            if run.cancel_polls >= self.polls_to_cancel:
                self._move(run, "TERMINATED", "CANCELED", user_cancelled_or_timedout=True)
            return
        if run.pinned or run.terminal or self._polls_to_finish is None:
            return
        run.advance_polls += 1
        if run.advance_polls >= self._polls_to_finish:
            self._finish(run, self._outcome)
        elif run.advance_polls >= 2 and run.life_cycle_state in ("PENDING", "QUEUED"):
            self._move(run, "RUNNING", None)

    # ------------------------------------------------------------------ JSON views

    def _run_page_url(self, job_id: int, run_id: int) -> str:
        return f"{self.url}/?o={self.workspace_id}#job/{job_id}/run/{run_id}"

    def _timing(self, run: EmulatedRun) -> dict[str, int]:
        end = run.end_time
        duration = max(end - run.start_time, 0) if end else 0
        setup = min(duration, 1000) if end else 0
        return {
            "start_time": run.start_time,
            "end_time": end,
            "setup_duration": setup,
            "execution_duration": duration - setup if end else 0,
            "cleanup_duration": 0,
            "run_duration": duration,
            "queue_duration": 0,
        }

    def _state_json(self, run: EmulatedRun) -> dict[str, Any]:
        state: dict[str, Any] = {
            "life_cycle_state": run.life_cycle_state,
            "state_message": run.state_message,
            "user_cancelled_or_timedout": run.user_cancelled_or_timedout,
        }
        if run.result_state is not None:
            state["result_state"] = run.result_state
        if run.life_cycle_state == "QUEUED":
            state["queue_reason"] = "Queued due to reaching maximum concurrent runs of 1."
        return state

    def _status_json(self, run: EmulatedRun) -> dict[str, Any]:
        status_state = _status_state(run)
        status: dict[str, Any] = {"state": status_state}
        if _has_termination_details(run):
            code, kind = _termination(run)
            status["termination_details"] = {"code": code, "type": kind, "message": run.state_message}
        if status_state == "QUEUED":
            status["queue_details"] = {
                "code": "ACTIVE_RUNS_LIMIT_REACHED",
                "message": "Queued due to reaching maximum concurrent runs of 1.",
            }
        return status

    def _task_json(self, run: EmulatedRun, task: EmulatedTask) -> dict[str, Any]:
        data = {k: copy.deepcopy(v) for k, v in task.settings.items() if k != "task_key"}
        data.update(
            {
                "task_key": task.task_key,
                "run_id": task.run_id,
                "attempt_number": 0,
                "state": self._state_json(run),
                "status": self._status_json(run),
                "run_page_url": self._run_page_url(run.job_id, task.run_id),
                **self._timing(run),
            }
        )
        return data

    def _run_json(self, run: EmulatedRun) -> dict[str, Any]:
        data: dict[str, Any] = {
            "job_id": run.job_id,
            "run_id": run.run_id,
            "number_in_job": run.run_id,
            "original_attempt_run_id": run.run_id,
            "creator_user_name": "emulator@example.com",
            "run_name": run.run_name,
            "run_page_url": self._run_page_url(run.job_id, run.run_id),
            "run_type": run.run_type,
            "attempt_number": 0,
            "state": self._state_json(run),
            "status": self._status_json(run),
            "tasks": [self._task_json(run, task) for task in run.tasks],
            "trigger": "ONE_TIME",
            "format": "MULTI_TASK",
            **self._timing(run),
        }
        if run.job_parameters or run.run_type == "JOB_RUN":
            defaults = self._job_parameter_defaults(run.job_id)
            data["job_parameters"] = [
                {"name": name, "value": value, **({"default": defaults[name]} if name in defaults else {})}
                for name, value in sorted(run.job_parameters.items())
            ]
        return data

    def _task_run_json(self, run: EmulatedRun, task: EmulatedTask) -> dict[str, Any]:
        """A task run seen as a ``Run`` (``runs/get`` and ``get-output``'s ``metadata`` for a task run ID)."""
        data = self._task_json(run, task)
        data.update(
            {
                "job_id": run.job_id,
                "job_run_id": run.run_id,
                "number_in_job": task.run_id,
                "original_attempt_run_id": task.run_id,
                "creator_user_name": "emulator@example.com",
                "run_name": run.run_name,
                "run_type": run.run_type,
                "format": "SINGLE_TASK",
            }
        )
        return data

    def _job_parameter_defaults(self, job_id: int) -> dict[str, str]:
        settings = self._jobs.get(job_id, {})
        return {
            str(p["name"]): str(p.get("default", ""))
            for p in settings.get("parameters", []) or []
            if isinstance(p, dict) and "name" in p
        }

    def _output_json(self, run: EmulatedRun, task: EmulatedTask) -> dict[str, Any]:
        data: dict[str, Any] = {"metadata": self._task_run_json(run, task)}
        if not run.terminal:
            return data
        override = {**self._default_output, **task.output}
        if run.result_state in ("SUCCESS", "SUCCESS_WITH_FAILURES"):
            if "notebook_task" in task.settings:
                result = override.get("result")
                if result is None:
                    result = _default_notebook_result(task.settings, run.job_parameters)
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
            data["error"] = override.get("error", f"Exception: emulated failure of task {task.task_key!r}")
            data["error_trace"] = override.get(
                "error_trace",
                'Traceback (most recent call last):\n  File "<emulated>", line 1, in <module>\n'
                f"Exception: emulated failure of task {task.task_key!r}",
            )
        return data

    # ------------------------------------------------------------------ endpoints

    def _submit(self, body: dict[str, Any]) -> _Response:
        token = _check_token(body)
        tasks = _submitted_tasks(body)
        with self._lock:
            existing = self._existing_run(("runs/submit", None, token) if token else None)
            if existing is not None:
                return 200, {"run_id": existing}, {}
            run = self._create_run(
                endpoint="runs/submit",
                run_type="SUBMIT_RUN",
                job_id=self._new_id(),
                run_name=str(body.get("run_name") or "Untitled"),
                body=body,
                token=token,
                tasks=tasks,
                job_parameters={},
            )
        self._call_submit_hook(run)
        with self._lock:
            delay = self.submit_delays.pop(run.run_name, 0.0)
        if delay > 0:
            # The run exists; the response is late: a client killed now never learns the run_id.
            time.sleep(delay)
        return 200, {"run_id": run.run_id}, {}

    def _run_now(self, body: dict[str, Any]) -> _Response:
        token = _check_token(body)
        job_id = _int_field(body, "job_id")
        with self._lock:
            settings = self._jobs.get(job_id)
            if settings is None:
                raise _invalid(f"Job {job_id} does not exist.")
            existing = self._existing_run(("run-now", job_id, token) if token else None)
            if existing is not None:
                return 200, {"run_id": existing, "number_in_job": existing}, {}
            job_parameters = self._job_parameter_defaults(job_id)
            requested = body.get("job_parameters") or {}
            if not isinstance(requested, dict):
                raise _invalid("job_parameters must be an object")
            job_parameters.update({str(k): str(v) for k, v in requested.items()})
            notebook_params = body.get("notebook_params") or {}
            tasks: list[dict[str, Any]] = []
            for task in settings.get("tasks", []):
                task = copy.deepcopy(task)
                if notebook_params and isinstance(task.get("notebook_task"), dict):
                    base = dict(task["notebook_task"].get("base_parameters") or {})
                    base.update({str(k): str(v) for k, v in notebook_params.items()})
                    task["notebook_task"]["base_parameters"] = base
                tasks.append(task)
            run = self._create_run(
                endpoint="run-now",
                run_type="JOB_RUN",
                job_id=job_id,
                run_name=str(settings.get("name") or "Untitled"),
                body=body,
                token=token,
                tasks=tasks,
                job_parameters=job_parameters,
            )
        self._call_submit_hook(run)
        return 200, {"run_id": run.run_id, "number_in_job": run.run_id}, {}

    def _existing_run(self, key: tuple[str, int | None, str] | None) -> int | None:
        if key is None:
            return None
        run_id = self._tokens.get(key)
        if run_id is None:
            return None
        run = self._runs[run_id]
        if run.token_released:
            del self._tokens[key]
            return None
        if run.forgotten:
            raise _invalid(f"The run with idempotency token {key[2]!r} was deleted.")
        self.deduplicated.append(run_id)
        return run_id

    def _create_run(
        self,
        *,
        endpoint: str,
        run_type: str,
        job_id: int,
        run_name: str,
        body: dict[str, Any],
        token: str | None,
        tasks: list[dict[str, Any]],
        job_parameters: dict[str, str],
    ) -> EmulatedRun:
        run = EmulatedRun(
            run_id=self._new_id(),
            job_id=job_id,
            run_type=run_type,
            endpoint=endpoint,
            run_name=run_name,
            request=copy.deepcopy(body),
            idempotency_token=token,
            tasks=[EmulatedTask(str(t["task_key"]), self._new_id(), t) for t in tasks],
            start_time=_now_ms(),
            job_parameters=job_parameters,
        )
        if self._polls_to_finish is None:
            self._move(run, self._hold_state, None)
        else:
            self._move(run, "PENDING", None)
        self._runs[run.run_id] = run
        for task in run.tasks:
            self._task_index[task.run_id] = (run, task)
        self.submissions.append(run.run_id)
        if token:
            self._tokens[(endpoint, job_id if endpoint == "run-now" else None, token)] = run.run_id
        return run

    def _call_submit_hook(self, run: EmulatedRun) -> None:
        hook = self.on_submit
        if hook is not None:
            try:
                hook(run)
            except Exception as exc:  # noqa: BLE001 - a test hook may fail in any way
                self.hook_errors.append(exc)

    def _get_run(self, query: dict[str, str]) -> _Response:
        run_id = _int_field(query, "run_id")
        hook = self.on_get
        if hook is not None:
            try:
                hook(run_id)
            except Exception as exc:  # noqa: BLE001 - a test hook may fail in any way
                self.hook_errors.append(exc)
        with self._lock:
            self._gets[run_id] += 1
            run = self._runs.get(run_id)
            if run is not None and not run.forgotten:
                self._on_poll(run)
                return 200, self._run_json(run), {}
            indexed = self._task_index.get(run_id)
            if indexed is not None and not indexed[0].forgotten:
                return 200, self._task_run_json(*indexed), {}
        raise _invalid(f"Run {run_id} does not exist.")

    def _cancel(self, body: dict[str, Any]) -> _Response:
        run_id = _int_field(body, "run_id")
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                indexed = self._task_index.get(run_id)
                run = indexed[0] if indexed is not None else None
            if run is None or run.forgotten:
                raise _invalid(f"Run {run_id} does not exist.")
            self.cancelled.append(run_id)
            if not run.terminal and not run.cancel_requested:
                run.cancel_requested = True
                run.cancel_polls = 0
                if self.polls_to_cancel <= 0:
                    self._move(run, "TERMINATED", "CANCELED", user_cancelled_or_timedout=True)
                else:
                    self._move(run, "TERMINATING", None, state_message="Run cancellation requested")
        return 200, {}, {}

    def _get_output(self, query: dict[str, str]) -> _Response:
        run_id = _int_field(query, "run_id")
        with self._lock:
            indexed = self._task_index.get(run_id)
            if indexed is not None and not indexed[0].forgotten:
                return 200, self._output_json(*indexed), {}
            run = self._runs.get(run_id)
            if run is None or run.forgotten:
                raise _invalid(f"Run {run_id} does not exist.")
            if self.parent_output and len(run.tasks) == 1:
                data = self._output_json(run, run.tasks[0])
                data["metadata"] = self._run_json(run)
                return 200, data, {}
        raise _invalid(MULTI_TASK_OUTPUT_MESSAGE)

    def _create_job(self, body: dict[str, Any]) -> int:
        tasks = body.get("tasks") or []
        if not isinstance(tasks, list) or not tasks:
            raise _invalid("A job needs at least one task.")
        _check_tasks(tasks)
        settings = {k: copy.deepcopy(v) for k, v in body.items() if k != "access_control_list"}
        settings.setdefault("name", "Untitled")
        with self._lock:
            job_id = self._new_id()
            self._jobs[job_id] = settings
            self._job_created[job_id] = _now_ms()
        return job_id

    def _list_jobs(self, query: dict[str, str]) -> _Response:
        """``GET /api/2.2/jobs/list`` (https://docs.databricks.com/api/workspace/jobs/list), ``name`` filter only."""
        name = query.get("name")
        with self._lock:
            jobs = [
                {"job_id": job_id, "settings": copy.deepcopy(settings), "created_time": self._job_created[job_id]}
                for job_id, settings in sorted(self._jobs.items())
                if name is None or settings.get("name") == name
            ]
        return 200, ({"jobs": jobs, "has_more": False} if jobs else {"has_more": False}), {}

    def _get_job(self, query: dict[str, str]) -> _Response:
        job_id = _int_field(query, "job_id")
        with self._lock:
            settings = self._jobs.get(job_id)
            if settings is None:
                raise _invalid(f"Job {job_id} does not exist.")
            return (
                200,
                {
                    "job_id": job_id,
                    "creator_user_name": "emulator@example.com",
                    "run_as_user_name": "emulator@example.com",
                    "created_time": self._job_created[job_id],
                    "settings": copy.deepcopy(settings),
                },
                {},
            )

    # ------------------------------------------------------------------ routing

    def _take_fault(self, endpoint: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.endpoint in (None, endpoint) and fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
            rate = self._fault_rate
            if rate is not None and rate.endpoint in (None, endpoint) and rate.random.random() < rate.rate:
                status = rate.random.choice(rate.statuses)
                return _Fault(1, status, endpoint, rate.retry_after_seconds, None, None, None)
        return None

    def _fault_response(self, fault: _Fault, endpoint: str) -> tuple[int, str, bytes, dict[str, str]]:
        headers: dict[str, str] = {}
        if fault.status in (429, 503) and fault.retry_after_seconds is not None:
            headers["Retry-After"] = str(fault.retry_after_seconds)
        if fault.body is not None:
            content_type = "text/html" if fault.body.lstrip().startswith("<") else "text/plain"
            return fault.status, content_type, fault.body.encode("utf-8"), headers
        code = fault.error_code or _FAULT_ERROR_CODES.get(fault.status, "UNKNOWN")
        message = fault.message or f"Emulated {fault.status} on {endpoint}"
        payload = json.dumps({"error_code": code, "message": message}).encode("utf-8")
        return fault.status, JSON_CONTENT_TYPE, payload, headers

    def _route(
        self, method: str, raw_path: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, str, bytes, dict[str, str]] | None:
        """Return ``(status, content type, body, extra headers)``; ``None`` means: drop the connection."""
        parts = urlsplit(raw_path)
        path = parts.path
        if path.startswith(CONTROL_PREFIX + "/"):
            return _control(self, method, path[len(CONTROL_PREFIX) + 1 :], body)
        endpoint = next((path[len(p) :] for p in _API_PREFIXES if path.startswith(p)), None)
        if endpoint not in ENDPOINTS:
            endpoint = None
        record = RecordedRequest(method, raw_path, endpoint, 0, headers.get("Authorization"), headers.get("User-Agent"))
        with self._lock:
            self.requests.append(record)
            if endpoint is not None:
                self.calls[endpoint] += 1
        if path == _WELL_KNOWN:
            record.status = 404
            error = {"error_code": "NOT_FOUND", "message": f"No API found for 'GET {path}'"}
            return 404, JSON_CONTENT_TYPE, json.dumps(error).encode("utf-8"), {}
        if endpoint is None:
            record.status = 404
            error = {"error_code": "ENDPOINT_NOT_FOUND", "message": f"No API found for '{method} {path}'"}
            return 404, JSON_CONTENT_TYPE, json.dumps(error).encode("utf-8"), {}
        if self.latency_seconds > 0:
            time.sleep(self.latency_seconds)
        fault = self._take_fault(endpoint)
        if fault is not None:
            with self._lock:
                self.faults_served[endpoint] += 1
            record.status = fault.status
            if fault.status == 0:
                return None
            return self._fault_response(fault, endpoint)
        try:
            status, payload, extra = self._dispatch(method, endpoint, path, parts.query, body)
        except DatabricksApiError as exc:
            status, payload, extra = exc.status, exc.body(), {}
        record.status = status
        return status, JSON_CONTENT_TYPE, json.dumps(payload).encode("utf-8"), extra

    def _dispatch(self, method: str, endpoint: str, path: str, query_string: str, body: bytes) -> _Response:
        expected = "GET" if endpoint in ("runs/get", "runs/get-output", "get", "list") else "POST"
        if method != expected:
            raise DatabricksApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")
        if expected == "GET":
            query = {k: v[-1] for k, v in parse_qs(query_string).items()}
            if endpoint == "runs/get":
                return self._get_run(query)
            if endpoint == "runs/get-output":
                return self._get_output(query)
            if endpoint == "list":
                return self._list_jobs(query)
            return self._get_job(query)
        request = _parse_body(body)
        if endpoint == "runs/submit":
            return self._submit(request)
        if endpoint == "run-now":
            return self._run_now(request)
        if endpoint == "runs/cancel":
            return self._cancel(request)
        return 200, {"job_id": self._create_job(request)}, {}


# ---------------------------------------------------------------------- control API (process mode)


def _control(
    emulator: DatabricksJobsEmulator, method: str, action: str, body: bytes
) -> tuple[int, str, bytes, dict[str, str]]:
    try:
        payload = _control_dispatch(emulator, method, action, json.loads(body or b"{}"))
        status = 200
    except (KeyError, ValueError, TypeError) as exc:
        status, payload = 400, {"error": f"{type(exc).__name__}: {exc}"}
    except LookupError as exc:
        status, payload = 404, {"error": str(exc)}
    return status, JSON_CONTENT_TYPE, json.dumps(payload).encode("utf-8"), {}


def _control_dispatch(emulator: DatabricksJobsEmulator, method: str, action: str, args: Any) -> Any:
    if not isinstance(args, dict):
        raise ValueError("control body must be a JSON object")
    if method == "GET":
        if action == "health":
            return {"ok": True, "port": emulator.port}
        if action in ("runs", "state"):
            return emulator.state_dump()
        if action.startswith("runs/"):
            return emulator.run(int(action[len("runs/") :])).to_json()
        raise LookupError(f"unknown control endpoint GET {CONTROL_PREFIX}/{action}")
    if method != "POST":
        raise LookupError(f"unknown control endpoint {method} {CONTROL_PREFIX}/{action}")
    if action == "set_state":
        emulator.set_state(**args)
    elif action == "advance":
        emulator.advance(**args)
    elif action == "hold":
        emulator.hold(**args)
    elif action == "forget":
        emulator.forget(**args)
    elif action == "fail_next":
        emulator.fail_next(**args)
    elif action == "fault_rate":
        emulator.fault_rate(**args)
    elif action == "set_output":
        emulator.set_output(**args)
    elif action == "submit_delay":
        with emulator._lock:
            emulator.submit_delays[str(args["run_name"])] = float(args["seconds"])
    elif action == "latency":
        emulator.latency_seconds = float(args.get("seconds", 0.0))
    elif action == "create_job":
        return {"job_id": emulator.create_job(**args)}
    elif action == "reset":
        emulator.reset()
    else:
        raise LookupError(f"unknown control endpoint POST {CONTROL_PREFIX}/{action}")
    return {}


class EmulatorControlError(RuntimeError):
    """The emulator's control API refused a request."""


class EmulatorControl:
    """Client of the control API of an emulator running in another process (uses ``httpx``).

    Args:
        url: The emulator's base URL (``http://127.0.0.1:PORT``).
        timeout_seconds: Per-request timeout.
    """

    def __init__(self, url: str, *, timeout_seconds: float = 10.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self._client: httpx.Client = httpx.Client(base_url=self.url + CONTROL_PREFIX, timeout=timeout_seconds)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def __enter__(self) -> EmulatorControl:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check(self, response: httpx.Response) -> Any:
        if response.status_code != 200:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise EmulatorControlError(f"{response.request.method} {response.request.url}: {message}")
        return response.json()

    def _post(self, action: str, **payload: Any) -> Any:
        return self._check(self._client.post(f"/{action}", json=payload))

    def _get(self, action: str) -> Any:
        return self._check(self._client.get(f"/{action}"))

    def wait_until_up(self, timeout_seconds: float = 10.0) -> None:
        """Wait until the control API answers.

        Args:
            timeout_seconds: How long to wait.

        Raises:
            TimeoutError: It did not answer in time.
        """
        import httpx

        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                self._get("health")
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"emulator at {self.url} did not answer within {timeout_seconds}s") from None
                time.sleep(0.05)

    def state(self) -> dict[str, Any]:
        """Return the state dump (see :meth:`DatabricksJobsEmulator.state_dump`).

        Returns:
            The dump.
        """
        result: dict[str, Any] = self._get("runs")
        return result

    def runs(self) -> list[dict[str, Any]]:
        """Return every run (see :meth:`EmulatedRun.to_json`).

        Returns:
            Run summaries, oldest first.
        """
        runs: list[dict[str, Any]] = self.state()["runs"]
        return runs

    def run(self, run_id: int) -> dict[str, Any]:
        """Return one run's summary.

        Args:
            run_id: A run ID.

        Returns:
            The summary.
        """
        result: dict[str, Any] = self._get(f"runs/{run_id}")
        return result

    def submissions(self) -> list[int]:
        """Return the IDs of the runs created, oldest first.

        Returns:
            Run IDs.
        """
        return [int(r) for r in self.state()["submissions"]]

    def calls(self) -> dict[str, int]:
        """Return the requests received per endpoint.

        Returns:
            Endpoint name -> count.
        """
        return {str(k): int(v) for k, v in self.state()["calls"].items()}

    def wait_for_runs(self, count: int, timeout_seconds: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` runs were created.

        Args:
            count: Number of runs.
            timeout_seconds: How long to wait.

        Returns:
            Run summaries.

        Raises:
            TimeoutError: Fewer runs were created in time.
        """
        deadline = time.monotonic() + timeout_seconds
        while True:
            runs = self.runs()
            if len(runs) >= count:
                return runs
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} runs, got {len(runs)}")
            time.sleep(0.05)

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
        """See :meth:`DatabricksJobsEmulator.set_state`.

        Args:
            run_id: A run ID.
            life_cycle_state: ``state.life_cycle_state``.
            result_state: ``state.result_state``.
            status_state: ``status.state``.
            termination_code: ``status.termination_details.code``.
            termination_type: ``status.termination_details.type``.
            state_message: ``state.state_message``.
            user_cancelled_or_timedout: ``state.user_cancelled_or_timedout``.
        """
        self._post(
            "set_state",
            run_id=run_id,
            life_cycle_state=life_cycle_state,
            result_state=result_state,
            status_state=status_state,
            termination_code=termination_code,
            termination_type=termination_type,
            state_message=state_message,
            user_cancelled_or_timedout=user_cancelled_or_timedout,
        )

    def advance(self, polls_to_finish: int = 3, outcome: str = "SUCCESS") -> None:
        """See :meth:`DatabricksJobsEmulator.advance`.

        Args:
            polls_to_finish: At least 1.
            outcome: How runs end.
        """
        self._post("advance", polls_to_finish=polls_to_finish, outcome=outcome)

    def hold(self, state: str = "RUNNING") -> None:
        """See :meth:`DatabricksJobsEmulator.hold`.

        Args:
            state: Birth state of new runs.
        """
        self._post("hold", state=state)

    def forget(self, run_id: int, *, release_token: bool = False) -> None:
        """See :meth:`DatabricksJobsEmulator.forget`.

        Args:
            run_id: A run ID.
            release_token: Free the run's idempotency token.
        """
        self._post("forget", run_id=run_id, release_token=release_token)

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        *,
        endpoint: str | None = None,
        retry_after_seconds: int | None = 1,
        error_code: str | None = None,
        message: str | None = None,
        body: str | None = None,
    ) -> None:
        """See :meth:`DatabricksJobsEmulator.fail_next`.

        Args:
            n: How many requests fail.
            status: HTTP status (0 drops the connection).
            endpoint: Endpoint name or ``None`` for any.
            retry_after_seconds: ``Retry-After`` for 429/503.
            error_code: ``error_code`` of the body.
            message: ``message`` of the body.
            body: Raw body instead of the JSON error.
        """
        self._post(
            "fail_next",
            n=n,
            status=status,
            endpoint=endpoint,
            retry_after_seconds=retry_after_seconds,
            error_code=error_code,
            message=message,
            body=body,
        )

    def fault_rate(
        self,
        rate: float,
        statuses: Iterable[int] = (429, 503),
        *,
        endpoint: str | None = "runs/get",
        seed: int | None = None,
        retry_after_seconds: int | None = 1,
    ) -> None:
        """See :meth:`DatabricksJobsEmulator.fault_rate`.

        Args:
            rate: Probability in ``[0, 1]``.
            statuses: Statuses to pick from.
            endpoint: Endpoint name or ``None`` for any.
            seed: Random seed.
            retry_after_seconds: ``Retry-After`` for 429/503.
        """
        self._post(
            "fault_rate",
            rate=rate,
            statuses=list(statuses),
            endpoint=endpoint,
            seed=seed,
            retry_after_seconds=retry_after_seconds,
        )

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
        """See :meth:`DatabricksJobsEmulator.set_output`.

        Args:
            run_id: A run or task run ID, or ``None`` for the default.
            result: ``notebook_output.result``.
            logs: ``logs``.
            error: ``error``.
            error_trace: ``error_trace``.
            task_key: Only this task of the run.
        """
        self._post(
            "set_output",
            run_id=run_id,
            result=result,
            logs=logs,
            error=error,
            error_trace=error_trace,
            task_key=task_key,
        )

    def delay_submit(self, run_name: str, seconds: float) -> None:
        """Delay the response to the next ``runs/submit`` of ``run_name`` (after the run is created).

        Args:
            run_name: The run name to match.
            seconds: How long to hold the response.
        """
        self._post("submit_delay", run_name=run_name, seconds=seconds)

    def set_latency(self, seconds: float) -> None:
        """Set :attr:`DatabricksJobsEmulator.latency_seconds`.

        Args:
            seconds: Delay before every Jobs API answer.
        """
        self._post("latency", seconds=seconds)

    def create_job(self, name: str, tasks: Iterable[Mapping[str, Any]], **settings: Any) -> int:
        """See :meth:`DatabricksJobsEmulator.create_job`.

        Args:
            name: Job name.
            tasks: Task settings.
            **settings: More ``JobSettings`` fields.

        Returns:
            The new ``job_id``.
        """
        result = self._post("create_job", name=name, tasks=[dict(t) for t in tasks], **settings)
        return int(result["job_id"])

    def reset(self) -> None:
        """See :meth:`DatabricksJobsEmulator.reset`."""
        self._post("reset")


# ---------------------------------------------------------------------- HTTP plumbing


# ---------------------------------------------------------------------- helpers


def _now_ms() -> int:
    return int(time.time() * 1000)


def _check_outcome(outcome: str) -> str:
    if outcome not in RESULT_STATES and outcome not in ("INTERNAL_ERROR", "SKIPPED"):
        raise ValueError(
            f"unknown outcome {outcome!r}; expected a result state {sorted(RESULT_STATES)}, INTERNAL_ERROR or SKIPPED"
        )
    return outcome


def _status_state(run: EmulatedRun) -> str:
    if run.status_state is not None:
        return run.status_state
    return _STATUS_FOR_LIFE_CYCLE.get(run.life_cycle_state, run.life_cycle_state)


def _has_termination_details(run: EmulatedRun) -> bool:
    """Whether ``status.termination_details`` is sent: terminating/terminated with a result, or terminal."""
    if _status_state(run) not in ("TERMINATING", "TERMINATED"):
        return False
    return run.result_state is not None or run.life_cycle_state in TERMINAL_LIFE_CYCLE_STATES


def _termination(run: EmulatedRun) -> tuple[str, str]:
    """Return ``(termination_details.code, termination_details.type)`` of a terminating or terminal run."""
    code = run.termination_code
    derived_type: str | None = None
    if code is None:
        if run.life_cycle_state == "INTERNAL_ERROR":
            code = "INTERNAL_ERROR"
        elif run.result_state in _TERMINATION_FOR_RESULT:
            code, derived_type = _TERMINATION_FOR_RESULT[run.result_state]
        elif run.life_cycle_state == "SKIPPED" and run.result_state is None:
            code = "SKIPPED"
        else:
            code = "RUN_EXECUTION_ERROR"
    kind = run.termination_type or derived_type or _TYPE_FOR_CODE.get(code, "CLIENT_ERROR")
    return code, kind


def _parse_body(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        message = f"Invalid JSON given in the body of the request: {exc}"
        raise DatabricksApiError(400, "MALFORMED_REQUEST", message) from exc
    if not isinstance(parsed, dict):
        raise DatabricksApiError(400, "MALFORMED_REQUEST", "The body of the request must be a JSON object")
    return parsed


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
        raise _invalid(
            f"Idempotency token must have at most {MAX_IDEMPOTENCY_TOKEN_LENGTH} characters, got {len(token)}."
        )
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
        return [copy.deepcopy(t) for t in tasks]
    legacy = {k: copy.deepcopy(body[k]) for k in _LEGACY_TASK_SETTINGS if k in body}
    if not any(k in legacy for k in LEGACY_TASK_FIELDS):
        raise _invalid("A run needs at least one task (tasks or a legacy single-task field).")
    return [{"task_key": LEGACY_TASK_KEY, **legacy}]


def _effective_notebook_params(settings: Mapping[str, Any], job_parameters: Mapping[str, str]) -> dict[str, Any]:
    notebook = settings.get("notebook_task") or {}
    params = dict(notebook.get("base_parameters") or {}) if isinstance(notebook, dict) else {}
    params.update(job_parameters)
    return params


def _default_notebook_result(settings: Mapping[str, Any], job_parameters: Mapping[str, str]) -> str:
    return json.dumps(_effective_notebook_params(settings, job_parameters), sort_keys=True)


def _default_logs(settings: Mapping[str, Any], job_parameters: Mapping[str, str]) -> str:
    for field in LEGACY_TASK_FIELDS:
        spec = settings.get(field)
        if isinstance(spec, dict):
            for name in ("parameters", "named_parameters"):
                if name in spec:
                    return json.dumps(spec[name], sort_keys=True)
    return json.dumps(dict(job_parameters), sort_keys=True)
