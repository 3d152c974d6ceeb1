"""Focused protocol tests of ``DurableJobMixin`` on the reference service, operator and Airflow doubles.

Nothing of ours is mocked: the service and operator are the reference ones (subclassed only to observe or
to inject faults at the vendor boundary), the state store is the ``task_state_store`` double.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from airflow.sdk import DAG, ResumableJobMixin
from airflow.sdk._shared.observability.metrics import stats
from structlog.testing import capture_logs

from airflow_durable.errors import DurableJobError, JobFailedError, UnidentifiedSubmissionError
from airflow_durable.state import DurableState, Phase
from airflow_durable.status import JobState
from airflow_durable.testing.doubles import (
    FakeTaskInstance,
    InMemoryTaskStateStore,
    ScopedTaskStateStore,
    SimulatedCrash,
    TaskInstanceRun,
    TryOutcome,
)
from airflow_durable.testing.reference import InMemoryJobOperator, InMemoryJobService, UpstreamStyleJobOperator
from airflow_durable.tokens import TaskInstanceScope, submission_token

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

SCOPE = TaskInstanceScope("mixin_dag", "manual__2026-11-29T00:00:00+00:00", "job", -1)
KEY = InMemoryJobOperator.external_id_key
PAYLOAD = {"n": 10}
RESULT = {"rows": 55, "status": "DONE"}  # the reference service's result for PAYLOAD, minus job_id
DECISION_EVENT = "Durable resume decision"


def tok(generation: int) -> str:
    return submission_token(SCOPE, generation)


# ---------------------------------------------------------------------- observed vendor boundary


class Flaky(Exception):
    """A transient vendor error (think HTTP 503)."""


@dataclass(eq=False)
class InstrumentedService(InMemoryJobService):
    """The reference service, recording each call and able to fail ``status`` transiently."""

    calls: list[str] = field(default_factory=list)
    before_submit: list[Callable[[], None]] = field(default_factory=list)
    status_failures: int = 0
    crash_in_result: bool = False
    result_calls: int = 0

    def submit(self, payload: dict[str, Any], token: str | None = None) -> str:
        for hook in list(self.before_submit):
            hook()
        self.calls.append("submit")
        return super().submit(payload, token)

    def status(self, job_id: str) -> str:
        self.calls.append("status")
        if self.status_failures > 0:
            self.status_failures -= 1
            raise Flaky(f"503 Service Unavailable for {job_id}")
        return super().status(job_id)

    def find_by_token(self, token: str) -> str | None:
        self.calls.append("find_by_token")
        return super().find_by_token(token)

    def result(self, job_id: str) -> dict[str, Any]:
        self.result_calls += 1
        if self.crash_in_result:
            self.crash_in_result = False
            raise SimulatedCrash("worker died while fetching the result")
        return super().result(job_id)

    def create_job(self, token: str | None, status: str = "RUNNING", active_calls: int | None = 1) -> str:
        """Create a job directly (not through the operator, not recorded as a call)."""
        job_id = super().submit(PAYLOAD, token)
        self.jobs[job_id].status = status
        self.jobs[job_id].active_calls_left = active_calls
        return job_id


@dataclass(eq=False)
class StuckCancelService(InstrumentedService):
    """A service whose cancel call never returns (until the test releases it)."""

    release: threading.Event = field(default_factory=threading.Event)

    def cancel(self, job_id: str) -> None:
        self.calls.append("cancel")
        self.release.wait()


class CountingScopedStore(ScopedTaskStateStore):
    """``context["task_state_store"]`` that counts reads."""

    backend: CountingStore

    def get(self, key: str, default: Any = None) -> Any:
        self.backend.reads += 1
        return super().get(key, default)


class CountingStore(InMemoryTaskStateStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def scoped(self, scope: TaskInstanceScope) -> CountingScopedStore:
        return CountingScopedStore(self, scope)


class ProbedOperator(InMemoryJobOperator):
    """The reference operator, calling ``probe`` when the job is attached (ends a no-submit decision)."""

    probe: Callable[[], None] | None = None

    def attach_job(self, external_id: JsonValue, context: Context) -> None:
        if self.probe is not None:
            self.probe()
        super().attach_job(external_id, context)


class TransientAwareOperator(ProbedOperator):
    def is_transient_error(self, error: Exception) -> bool:
        return isinstance(error, Flaky)


class NoLookupOperator(ProbedOperator):
    supports_token_lookup: ClassVar[bool] = False


class NoCancelOperator(ProbedOperator):
    supports_cancel: ClassVar[bool] = False


class UpstreamOperator(InMemoryJobOperator):
    """The same operator driven by upstream ``airflow.sdk.ResumableJobMixin.execute_resumable``."""

    def execute(self, context: Context) -> Any:
        return ResumableJobMixin.execute_resumable(self, context)


class Harness:
    """One task instance: the service, its state store, and successive tries of it."""

    def __init__(self, service: InstrumentedService | None = None) -> None:
        self.service = service or InstrumentedService(active_calls=1)
        self.store = CountingStore()
        self.run = TaskInstanceRun(self.store, SCOPE)
        self.decision_calls: list[str] | None = None
        self.stored_at_submit: list[Any] = []
        self.stored_at_status: list[Any] = []
        self.service.before_submit.append(self._end_of_decision)
        self.service.before_submit.append(lambda: self.stored_at_submit.append(self.stored()))
        self.service.listeners.append(lambda _id: self.stored_at_status.append(self.stored()))

    def _end_of_decision(self) -> None:
        if self.decision_calls is None:
            self.decision_calls = list(self.service.calls)

    def operator(self, cls: type[ProbedOperator] = ProbedOperator, **kwargs: Any) -> ProbedOperator:
        kwargs.setdefault("poll_interval_seconds", 0.001)
        kwargs.setdefault("max_poll_interval_seconds", 0.002)
        op = cls(task_id=SCOPE.task_id, service=self.service, payload=dict(PAYLOAD), **kwargs)
        op.probe = self._end_of_decision
        return op

    def run_try(self, operator: InMemoryJobOperator | None = None) -> TryOutcome:
        self.decision_calls = None
        self.store.reads = 0
        self.service.calls.clear()
        self.stored_at_submit.clear()
        self.stored_at_status.clear()
        return self.run.run_try(operator if operator is not None else self.operator())

    def put(self, state: DurableState | str | int) -> None:
        self.store.set(SCOPE, KEY, state.to_json() if isinstance(state, DurableState) else state)

    def stored(self) -> Any:
        return self.store.get(SCOPE, KEY)  # the backend itself: not counted as a read of the try

    def tokens(self) -> list[str | None]:
        return [job.token for job in self.service.jobs.values()]


def kept(external_id: Any) -> dict[str, Any]:
    """The ``result`` field the reference operator's succeeded record keeps: its value and its XComs."""
    return {"value": {"job_id": external_id, **RESULT}, "xcoms": {"job_id": external_id}}


def record(
    generation: int, phase: str, external_id: Any, token: str | None = "derive", result: Any = "kept"
) -> dict[str, Any]:
    """A version 2 record; a ``succeeded`` one keeps the reference result unless ``result`` says otherwise."""
    return {
        "format": "airflow-durable",
        "version": 2,
        "generation": generation,
        "token": tok(generation) if token == "derive" else token,
        "phase": phase,
        "external_id": external_id,
        "result": (kept(external_id) if phase == "succeeded" else None) if result == "kept" else result,
    }


def decisions(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry.get("event") == DECISION_EVENT]


# ---------------------------------------------------------------------- the decision kinds


@dataclass(frozen=True)
class Case:
    """One kind of resume decision: how to set it up and what it must cost and do."""

    decision: str
    setup: Callable[[Harness], None]
    decision_calls: list[str]
    jobs_after: int
    upstream_counters: list[str]
    operator: type[ProbedOperator] = ProbedOperator


def _submitted(h: Harness, status: str, active_calls: int | None = 1) -> None:
    job = h.service.create_job(tok(0), status, active_calls)
    h.put(DurableState(0, tok(0), Phase.SUBMITTED, job))


def _lost(h: Harness) -> None:
    _submitted(h, "RUNNING")
    h.service.forgotten.add("job-0001")


def _intent(h: Harness, *, job_exists: bool) -> None:
    if job_exists:
        h.service.create_job(tok(0))
    h.put(DurableState(0, tok(0), Phase.INTENT))


def _succeeded_record(h: Harness) -> None:
    job = h.service.create_job(tok(0), "DONE")
    h.put(DurableState(0, tok(0), Phase.SUCCEEDED, job))


CASES = {
    "fresh": Case("fresh_submit", lambda h: None, [], 1, ["resumable_job.fresh_submit"]),
    "reconnect": Case(
        "reconnect",
        lambda h: _submitted(h, "RUNNING"),
        ["status"],
        1,
        ["resumable_job.reconnect_attempt", "resumable_job.reconnect_success"],
    ),
    "already-succeeded-by-status": Case(
        "already_succeeded",
        lambda h: _submitted(h, "DONE"),
        ["status"],
        1,
        ["resumable_job.reconnect_attempt", "resumable_job.already_succeeded"],
    ),
    "already-succeeded-by-record": Case(
        "already_succeeded", _succeeded_record, [], 1, ["resumable_job.already_succeeded"]
    ),
    "terminal": Case(
        "terminal_resubmit",
        lambda h: _submitted(h, "FAILED"),
        ["status"],
        2,
        ["resumable_job.reconnect_attempt", "resumable_job.terminal_resubmit"],
    ),
    "lost": Case("lost_resubmit", _lost, ["status"], 2, ["resumable_job.reconnect_attempt"]),
    "intent-adopt": Case("adopt", lambda h: _intent(h, job_exists=True), ["find_by_token"], 1, []),
    "intent-lookup-finds-nothing": Case(
        "resubmit_same_token", lambda h: _intent(h, job_exists=False), ["find_by_token"], 1, []
    ),
    "intent-without-lookup": Case(
        "resubmit_same_token", lambda h: _intent(h, job_exists=True), [], 1, [], NoLookupOperator
    ),
}


def _run_case(case: Case) -> tuple[Harness, TryOutcome, list[MutableMapping[str, Any]]]:
    """Set up ``case`` and run one try, which must succeed; return the harness, the try and its logs."""
    h = Harness()
    case.setup(h)
    with capture_logs() as logs:
        outcome = h.run_try(h.operator(case.operator))
    assert outcome.succeeded, outcome.error
    return h, outcome, logs


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_decision_costs_one_state_read_and_at_most_one_external_call(case: Case) -> None:
    h, outcome, logs = _run_case(case)
    assert [d["decision"] for d in decisions(logs)] == [case.decision]
    assert h.store.reads == 1, f"the try read task_state_store {h.store.reads} times"
    assert h.decision_calls == case.decision_calls, "external calls made before acting on the decision"
    assert len(h.service.jobs) == case.jobs_after
    job_id = list(h.service.jobs)[-1]
    assert outcome.result == {"job_id": job_id, **RESULT}
    assert outcome.xcoms == {"job_id": job_id, "return_value": outcome.result}


def test_terminal_and_lost_resubmit_under_the_next_generation_token() -> None:
    for setup in (lambda h: _submitted(h, "FAILED"), _lost):
        h = Harness()
        setup(h)
        assert h.run_try().succeeded
        assert h.tokens() == [tok(0), tok(1)]
        assert h.stored_at_submit == [record(1, "intent", None)]
        assert h.stored() == record(1, "succeeded", "job-0002")


def test_a_job_found_by_token_is_adopted_and_recorded_before_polling() -> None:
    h = Harness()
    _intent(h, job_exists=True)
    assert h.run_try().succeeded
    assert h.stored_at_status[0] == record(0, "submitted", "job-0001")
    assert h.stored() == record(0, "succeeded", "job-0001")


def test_success_seen_while_polling_is_recorded_so_an_expired_history_never_resubmits() -> None:
    h = Harness(InstrumentedService(active_calls=1, crash_in_result=True))
    assert h.run_try().crashed, "the worker dies after polling saw success, while fetching the result"
    assert h.stored() == record(0, "succeeded", "job-0001", result=None)
    h.service.forgotten.add("job-0001")  # the vendor's run history expires

    with capture_logs() as logs:
        h.run_try()
    assert [d["decision"] for d in decisions(logs)] == ["already_succeeded"]
    assert list(h.service.jobs) == ["job-0001"], "a job that succeeded was submitted again"


def test_success_seen_by_the_decision_is_recorded_so_an_expired_history_never_resubmits() -> None:
    h = Harness()
    _submitted(h, "DONE")
    h.service.crash_in_result = True
    assert h.run_try().crashed, "the retry saw success, then died while fetching the result"
    h.service.forgotten.add("job-0001")  # the vendor's run history expires

    h.run_try()
    assert list(h.service.jobs) == ["job-0001"], "a job that succeeded was submitted again"
    assert h.stored() == record(0, "succeeded", "job-0001", result=None)


# ---------------------------------------------------------------------- the stored record


def test_stored_record_has_the_documented_shape_in_every_phase() -> None:
    h = Harness(InstrumentedService(active_calls=2))
    outcome = h.run_try()
    assert outcome.succeeded, outcome.error

    # At the moment the vendor's submit is called: the intent, with generation 0's token.
    assert h.stored_at_submit == [record(0, "intent", None)]
    # At every status poll: the submitted record with the job's ID.
    assert h.stored_at_status
    assert all(value == record(0, "submitted", "job-0001") for value in h.stored_at_status)
    # Once polling saw success: the succeeded record.
    assert h.stored() == record(0, "succeeded", "job-0001")
    assert h.tokens() == [tok(0)], "the job was submitted with the recorded token"


def test_not_durable_reads_and_writes_nothing_and_sends_no_token() -> None:
    h = Harness()
    with capture_logs() as logs:
        outcome = h.run_try(h.operator(durable=False))
    assert outcome.succeeded, outcome.error
    assert h.store.reads == 0
    assert h.store.writes == []
    assert h.tokens() == [None]
    assert decisions(logs) == [
        {
            "event": DECISION_EVENT,
            "log_level": "info",
            "decision": "not_durable",
            "external_id": None,
            "generation": None,
            "token": None,
        }
    ]


def test_legacy_bare_id_written_by_upstream_mixin_is_reconnected_to() -> None:
    h = Harness(InstrumentedService(active_calls=3))
    crashed = False

    def crash_at_first_poll(_job_id: Any) -> None:
        nonlocal crashed
        if not crashed:
            crashed = True
            raise SimulatedCrash("worker died mid-poll")

    h.service.listeners.append(crash_at_first_poll)
    upstream = UpstreamOperator(task_id=SCOPE.task_id, service=h.service, poll_interval_seconds=0.001)
    first = h.run_try(upstream)
    assert first.crashed
    assert h.stored() == "job-0001", "upstream ResumableJobMixin stores the bare external ID"

    with capture_logs() as logs:
        retry = h.run_try()
    assert retry.succeeded, retry.error
    assert list(h.service.jobs) == ["job-0001"], "the retry submitted a duplicate"
    assert retry.result == {"job_id": "job-0001", **RESULT}
    assert [(d["decision"], d["external_id"], d["generation"], d["token"]) for d in decisions(logs)] == [
        ("reconnect", "job-0001", 0, None)
    ]
    assert h.stored() == record(0, "succeeded", "job-0001", token=None)


# ---------------------------------------------------------------------- transient vendor errors


def test_transient_status_errors_are_retried_without_resubmitting() -> None:
    h = Harness(InstrumentedService(active_calls=2, status_failures=3))
    with capture_logs() as logs:
        outcome = h.run_try(h.operator(TransientAwareOperator, max_transient_errors=5))
    assert outcome.succeeded, outcome.error
    assert list(h.service.jobs) == ["job-0001"]
    assert h.service.calls.count("submit") == 1
    assert len([e for e in logs if e["event"].startswith("Transient error")]) == 3


def test_transient_errors_during_the_decision_still_reconnect() -> None:
    h = Harness()
    _submitted(h, "RUNNING")
    h.service.status_failures = 2
    with capture_logs() as logs:
        outcome = h.run_try(h.operator(TransientAwareOperator, max_transient_errors=2))
    assert outcome.succeeded, outcome.error
    assert [d["decision"] for d in decisions(logs)] == ["reconnect"]
    assert list(h.service.jobs) == ["job-0001"]


def test_too_many_transient_errors_fail_the_task_and_never_resubmit() -> None:
    h = Harness(InstrumentedService(active_calls=2, status_failures=1000))
    first = h.run_try(h.operator(TransientAwareOperator, max_transient_errors=2))
    assert isinstance(first.error, Flaky)
    assert h.service.calls == ["submit", "status", "status", "status"], "1 attempt + 2 retries, then fail"

    retry = h.run_try(h.operator(TransientAwareOperator, max_transient_errors=2))
    assert isinstance(retry.error, Flaky), "a flaky vendor must not be read as lost or failed"
    assert h.service.calls == ["status", "status", "status"]
    assert list(h.service.jobs) == ["job-0001"], "transient errors led to a resubmission"
    assert h.stored() == record(0, "submitted", "job-0001")


def test_errors_not_marked_transient_fail_at_once() -> None:
    h = Harness(InstrumentedService(active_calls=2, status_failures=1))
    outcome = h.run_try(h.operator(max_transient_errors=5))
    assert isinstance(outcome.error, Flaky)
    assert h.service.calls == ["submit", "status"]


def test_terminal_failure_while_polling_fails_the_try_naming_the_job() -> None:
    h = Harness(InstrumentedService(active_calls=1, outcome=JobState.FAILED))
    outcome = h.run_try()
    assert isinstance(outcome.error, JobFailedError)
    assert outcome.error.external_id == "job-0001"
    assert outcome.error.status == "FAILED"
    assert h.stored() == record(0, "submitted", "job-0001"), "a failed job is never recorded as succeeded"


# ---------------------------------------------------------------------- configuration


def test_durable_without_task_state_store_warns_and_runs_once_without_recovery() -> None:
    # As upstream ResumableJobMixin: no store means no crash recovery for this run, not a failure
    # (test_context.py covers the other hand-made contexts).
    service = InstrumentedService()
    op = InMemoryJobOperator(task_id="job", service=service)
    ti = FakeTaskInstance(SCOPE.dag_id, SCOPE.run_id, SCOPE.task_id)
    with capture_logs() as logs:
        result = op.execute({"ti": ti, "task_instance": ti})  # type: ignore[arg-type]
    assert result == {"job_id": "job-0001", **RESULT}
    assert list(service.jobs) == ["job-0001"]
    assert op.submission_token is None, "no token without a store: nothing keeps the generation"
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert any("task_state_store not available" in e["event"] for e in warnings), logs


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"on_lost_job": "bogus"}, "on_lost_job"),
        ({"on_lost_job": None}, "on_lost_job"),
        ({"cancel_timeout_seconds": 0}, "cancel_timeout_seconds"),
        ({"max_transient_errors": -1}, "max_transient_errors"),
        ({"poll_interval_seconds": -1.0}, "initial_seconds"),
        ({"poll_interval_seconds": 10.0, "max_poll_interval_seconds": 1.0}, "max_seconds"),
    ],
)
def test_bad_arguments_raise_at_construction(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        InMemoryJobOperator(task_id="job", service=InstrumentedService(), **kwargs)


def test_default_args_of_a_dag_reach_the_operator() -> None:
    service = InstrumentedService()
    with DAG(dag_id="durable_defaults", schedule=None, default_args={"durable": False, "on_lost_job": "fail"}):
        from_defaults = InMemoryJobOperator(task_id="job", service=service, poll_interval_seconds=0.001)
        overridden = InMemoryJobOperator(task_id="other", service=service, durable=True)
    assert from_defaults.durable is False
    assert from_defaults.on_lost_job == "fail"
    assert overridden.durable is True
    assert overridden.on_lost_job == "fail"

    h = Harness(service)
    assert h.run_try(from_defaults).succeeded
    assert h.store.writes == [], "durable=False from default_args still wrote task_state_store"


def test_constructor_defaults() -> None:
    op = InMemoryJobOperator(task_id="job", service=InstrumentedService())
    assert op.durable is True
    assert op.on_lost_job == "resubmit"
    assert isinstance(op, ResumableJobMixin)


# ---------------------------------------------------------------------- on_kill


@pytest.fixture
def stuck_service() -> Iterator[StuckCancelService]:
    service = StuckCancelService(active_calls=None)
    yield service
    service.release.set()


def test_on_kill_with_a_hanging_cancel_returns_within_the_timeout(stuck_service: StuckCancelService) -> None:
    h = Harness(stuck_service)
    operator = h.operator(cancel_timeout_seconds=0.5)
    polling = threading.Event()
    stuck_service.listeners.append(lambda _id: polling.set())
    outcomes: list[TryOutcome] = []
    worker = threading.Thread(target=lambda: outcomes.append(h.run_try(operator)), daemon=True)
    worker.start()
    try:
        assert polling.wait(10), "the try never polled"
        with capture_logs() as logs:
            killer = threading.Thread(target=operator.on_kill, daemon=True)
            started = time.monotonic()
            killer.start()
            killer.join(0.5 + 1.0)
            elapsed = time.monotonic() - started
        assert not killer.is_alive(), f"on_kill still blocked after {elapsed:.2f}s (cancel_timeout_seconds=0.5)"
        assert "cancel" in stuck_service.calls, "on_kill never tried to cancel the job"
        errors = [e for e in logs if e["log_level"] == "error"]
        assert len(errors) == 1
        assert "'job-0001'" in errors[0]["event"]
        assert "did not finish within 0.5" in errors[0]["event"]
    finally:
        stuck_service.jobs["job-0001"].status = "DONE"
        worker.join(10)
    assert not worker.is_alive()


def test_on_kill_before_any_job_does_nothing() -> None:
    service = InstrumentedService()
    operator = InMemoryJobOperator(task_id="job", service=service)
    with capture_logs() as logs:
        operator.on_kill()
    assert service.cancelled == []
    assert service.calls == []
    assert [e["log_level"] for e in logs] == ["info"]
    assert "nothing to cancel" in logs[0]["event"]


def _kill_a_reconnecting_try_at_status_call(n: int) -> Harness:
    """Retry a try whose job runs; call ``on_kill`` at the retry's ``n``-th status call (1: the decision)."""
    h = Harness(InstrumentedService(active_calls=None))
    _submitted(h, "RUNNING", active_calls=None)
    operator = h.operator()
    status_calls = 0

    def kill_at_call_n(_job_id: Any) -> None:
        nonlocal status_calls
        status_calls += 1
        if status_calls == n:
            operator.on_kill()
            raise SimulatedCrash("the task process ends after on_kill")

    h.service.listeners.append(kill_at_call_n)
    assert h.run_try(operator).crashed
    return h


def test_on_kill_while_polling_a_reconnected_job_cancels_it() -> None:
    h = _kill_a_reconnecting_try_at_status_call(2)  # call 1 is the resume decision, call 2 the first poll
    assert h.service.cancelled == ["job-0001"]


def test_on_kill_during_resume_decision_cancels_the_stored_job() -> None:
    """A kill while the retry asks the stored job's status (the decision call) still cancels that job."""
    h = _kill_a_reconnecting_try_at_status_call(1)
    assert h.service.cancelled == ["job-0001"]


def test_on_kill_without_cancel_support_leaves_the_job_running() -> None:
    h = Harness(InstrumentedService(active_calls=1))
    operator = h.operator(NoCancelOperator)
    assert h.run_try(operator).succeeded
    with capture_logs() as logs:
        operator.on_kill()
    assert h.service.cancelled == []
    assert [e["log_level"] for e in logs] == ["warning"]


# ---------------------------------------------------------------------- observability


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_decision_log_line_carries_decision_id_generation_and_token(case: Case) -> None:
    _, _, logs = _run_case(case)
    [line] = decisions(logs)
    assert line["log_level"] == "info"
    assert line["decision"] == case.decision
    assert {"decision", "external_id", "generation", "token"} <= line.keys()
    resubmits = case.decision in ("terminal_resubmit", "lost_resubmit")
    generation = 1 if resubmits else 0
    assert line["generation"] == generation
    assert line["token"] == tok(generation)
    submits = case.decision in ("fresh_submit", "resubmit_same_token") or resubmits
    assert line["external_id"] == (None if submits else "job-0001")


class RecordingStatsLogger:
    """A stats backend (the ``StatsLogger`` protocol) that records counters."""

    def __init__(self) -> None:
        self.counters: list[tuple[str, dict[str, Any] | None]] = []

    def incr(self, stat: str, count: int = 1, rate: int = 1, *, tags: dict[str, Any] | None = None) -> None:
        self.counters.append((stat, tags))

    def decr(self, *args: Any, **kwargs: Any) -> None:
        pass

    def gauge(self, *args: Any, **kwargs: Any) -> None:
        pass

    def timing(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture
def recorded_stats(monkeypatch: pytest.MonkeyPatch) -> RecordingStatsLogger:
    """Install a recording backend through the task SDK's ``stats.initialize``; restore the old one after."""
    for name in ("_factory", "_backend", "_export_legacy_names"):
        monkeypatch.setattr(stats, name, getattr(stats, name))
    recorder = RecordingStatsLogger()
    stats.initialize(factory=lambda: recorder, export_legacy_names=False)
    return recorder


UPSTREAM_COUNTERS = {
    "resumable_job.fresh_submit",
    "resumable_job.reconnect_attempt",
    "resumable_job.reconnect_success",
    "resumable_job.already_succeeded",
    "resumable_job.terminal_resubmit",
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_upstream_metric_names_are_emitted(case: Case, recorded_stats: RecordingStatsLogger) -> None:
    h = Harness()
    case.setup(h)
    assert h.run_try(h.operator(case.operator)).succeeded
    upstream = [(stat, tags) for stat, tags in recorded_stats.counters if stat in UPSTREAM_COUNTERS]
    assert [stat for stat, _ in upstream] == case.upstream_counters
    assert all(tags == {"operator": case.operator.__name__} for _, tags in upstream)


def test_upstream_mixin_emits_the_same_names(recorded_stats: RecordingStatsLogger) -> None:
    """Side by side: the names our fresh and reconnect paths emit are the ones upstream emits."""
    h = Harness(InstrumentedService(active_calls=1))
    upstream = UpstreamOperator(task_id=SCOPE.task_id, service=h.service, poll_interval_seconds=0.001)
    assert h.run_try(upstream).succeeded
    assert [stat for stat, _ in recorded_stats.counters] == ["resumable_job.fresh_submit"]


# ---------------------------------------------------------------------- the kept result


class LargeResultOperator(ProbedOperator):
    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        return {**super().get_job_result(external_id, context), "blob": "x" * 4000}


class TupleResultOperator(ProbedOperator):
    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        return (external_id, super().get_job_result(external_id, context)["rows"])


def test_a_kept_result_is_replayed_with_zero_vendor_calls_after_the_vendor_forgot_the_job() -> None:
    h = Harness()
    first = h.run_try()
    assert first.succeeded, first.error
    assert h.stored() == record(0, "succeeded", "job-0001")
    assert h.stored()["result"] == {"value": first.result, "xcoms": {"job_id": "job-0001"}}
    h.service.forgotten.add("job-0001")
    h.service.result_calls = 0

    with capture_logs() as logs:
        again = h.run_try()
    assert again.succeeded, again.error
    assert [d["decision"] for d in decisions(logs)] == ["already_succeeded"]
    assert h.service.calls == [], "the replay called the vendor"
    assert h.service.result_calls == 0, "the replay fetched the result from the vendor"
    assert (again.result, again.xcoms) == (first.result, first.xcoms)
    assert list(h.service.jobs) == ["job-0001"]


def test_a_result_fetched_on_the_already_succeeded_path_is_kept_for_the_next_try() -> None:
    h = Harness()
    _submitted(h, "DONE")
    assert h.run_try().succeeded
    assert h.stored() == record(0, "succeeded", "job-0001")
    h.service.forgotten.add("job-0001")
    again = h.run_try()
    assert again.succeeded, again.error
    assert h.service.calls == []


@pytest.mark.parametrize(
    ("operator", "reason"),
    [(LargeResultOperator, "more than the 2048"), (TupleResultOperator, "JSON round trip")],
    ids=["too-large", "changed-by-json"],
)
def test_a_result_the_record_cannot_hold_is_not_kept_and_a_later_try_fetches_it(
    operator: type[ProbedOperator], reason: str
) -> None:
    h = Harness()
    with capture_logs() as logs:
        first = h.run_try(h.operator(operator))
    assert first.succeeded, first.error
    assert h.stored() == record(0, "succeeded", "job-0001", result=None)
    [warning] = [e for e in logs if e["event"].startswith("The result is not kept")]
    assert reason in warning["reason"]
    assert warning["external_id"] == "job-0001"
    h.service.result_calls = 0
    again = h.run_try(h.operator(operator))
    assert again.succeeded, again.error
    assert h.service.result_calls == 1, "without a kept result the retry must call get_job_result"
    assert again.result == first.result
    assert list(h.service.jobs) == ["job-0001"]


# ---------------------------------------------------------------------- upstream's interface


class UpstreamStyle(UpstreamStyleJobOperator):
    """An operator with only upstream's six methods (the reference variant), observed like the others."""


def test_an_upstream_interface_operator_resubmits_after_a_failed_job_under_a_new_generation() -> None:
    service = InstrumentedService(active_calls=1, outcome=JobState.FAILED)
    h = Harness(service)

    def make() -> UpstreamStyle:
        return UpstreamStyle(task_id=SCOPE.task_id, service=service, poll_interval_seconds=0.001)

    first = h.run_try(make())
    assert first.error is not None, first
    assert "FAILED" in str(first.error)
    assert h.stored() == record(0, "submitted", "job-0001"), "the intent and token are kept for it too"
    service.outcome = JobState.SUCCEEDED
    with capture_logs() as logs:
        second = h.run_try(make())
    assert second.succeeded, f"upstream's decision (neither active nor succeeded = failed) was not made: {second}"
    assert [(d["decision"], d["generation"]) for d in decisions(logs)] == [("terminal_resubmit", 1)]
    assert list(service.jobs) == ["job-0001", "job-0002"]
    assert h.stored() == record(1, "succeeded", "job-0002")


def test_an_upstream_interface_operator_reads_a_forgotten_job_as_a_failure_and_resubmits() -> None:
    service = InstrumentedService(active_calls=None)
    h = Harness(service)
    _submitted(h, "RUNNING", active_calls=None)
    service.forgotten.add("job-0001")
    service.active_calls = 1
    outcome = h.run_try(UpstreamStyle(task_id=SCOPE.task_id, service=service, poll_interval_seconds=0.001))
    assert outcome.succeeded, outcome.error
    assert list(service.jobs) == ["job-0001", "job-0002"]


# ---------------------------------------------------------------------- submit_job returning None


class ReturnsNoId(ProbedOperator):
    def submit_job(self, context: Context) -> JsonValue:
        super().submit_job(context)  # the job exists...
        return None  # ...but its ID is lost


class ReturnsNoIdWithoutLookup(ReturnsNoId):
    supports_token_lookup: ClassVar[bool] = False


@pytest.mark.parametrize("retry_with", [NoLookupOperator, ReturnsNoIdWithoutLookup], ids=["fixed", "still-broken"])
def test_submit_returning_none_never_leads_to_a_second_job(retry_with: type[ProbedOperator]) -> None:
    h = Harness()
    first = h.run_try(h.operator(ReturnsNoIdWithoutLookup))
    assert isinstance(first.error, UnidentifiedSubmissionError), first
    assert KEY in str(first.error)
    assert tok(0) in str(first.error)
    assert h.stored() == record(0, "unidentified", None)
    retry = h.run_try(h.operator(retry_with))
    assert isinstance(retry.error, UnidentifiedSubmissionError), retry
    assert h.service.calls == [], "the retry called the vendor although it cannot look the job up"
    assert list(h.service.jobs) == ["job-0001"], "a retry submitted a second job"


def test_submit_returning_none_then_a_retry_adopts_the_job_by_token() -> None:
    h = Harness()
    assert isinstance(h.run_try(h.operator(ReturnsNoId)).error, UnidentifiedSubmissionError)
    with capture_logs() as logs:
        retry = h.run_try()
    assert retry.succeeded, retry.error
    assert [d["decision"] for d in decisions(logs)] == ["adopt"]
    assert h.service.calls[0] == "find_by_token"
    assert list(h.service.jobs) == ["job-0001"]
    assert h.stored() == record(0, "succeeded", "job-0001")


def test_submit_returning_none_without_durability_fails_and_stores_nothing() -> None:
    h = Harness()
    outcome = h.run_try(h.operator(ReturnsNoId, durable=False))
    assert isinstance(outcome.error, DurableJobError)
    assert h.store.writes == []


# ---------------------------------------------------------------------- span attributes


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Any:
    from airflow.sdk.bases import resumablejobmixin
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # The decision span comes from upstream's module tracer, so tooling that filters on its scope keeps working.
    monkeypatch.setattr(resumablejobmixin, "tracer", provider.get_tracer("test"))
    return exporter


@pytest.mark.parametrize(
    ("setup", "prior_status"),
    [
        (lambda h: _submitted(h, "RUNNING"), "RUNNING"),
        (lambda h: _submitted(h, "DONE"), "DONE"),
        (lambda h: _submitted(h, "FAILED"), "FAILED"),
        (lambda h: None, None),
        (_succeeded_record, None),
    ],
    ids=["reconnect", "already-succeeded", "terminal", "fresh", "succeeded-record"],
)
def test_decision_span_carries_the_prior_status_as_upstream_does(
    spans: Any, setup: Callable[[Harness], None], prior_status: str | None
) -> None:
    h = Harness()
    setup(h)
    assert h.run_try().succeeded
    [span] = [s for s in spans.get_finished_spans() if s.name == "resumable_job.resume_decision"]
    assert span.attributes.get("resumable.prior_status") == prior_status
    assert span.attributes["resumable.external_id_key"] == KEY


# ---------------------------------------------------------------------- transient pauses


def test_transient_errors_pause_even_when_the_poll_interval_is_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    h = Harness(InstrumentedService(active_calls=0, status_failures=3))
    outcome = h.run_try(
        h.operator(TransientAwareOperator, max_transient_errors=5, poll_interval_seconds=0, max_poll_interval_seconds=0)
    )
    assert outcome.succeeded, outcome.error
    assert len(slept) == 3, slept
    assert all(delay >= 0.09 for delay in slept), f"a transient retry did not pause: {slept}"


# ---------------------------------------------------------------------- fire-and-forget


def test_fire_and_forget_records_the_job_and_a_retry_returns_it_without_calls() -> None:
    h = Harness(InstrumentedService(active_calls=None))
    first = h.run_try(h.operator(wait_for_completion=False))
    assert first.succeeded, first.error
    assert h.service.calls == ["submit"], "a fire-and-forget try polled"
    assert first.result == {"job_id": "job-0001"}
    kept_result = {"value": first.result, "xcoms": {"job_id": "job-0001"}}
    assert h.stored() == record(0, "submitted", "job-0001", result=kept_result)
    h.service.jobs["job-0001"].status = "FAILED"
    with capture_logs() as logs:
        again = h.run_try(h.operator(wait_for_completion=False))
    assert again.succeeded, again.error
    assert [d["decision"] for d in decisions(logs)] == ["already_submitted"]
    assert h.service.calls == []
    assert (again.result, again.xcoms) == (first.result, first.xcoms)


def test_fire_and_forget_retry_without_a_kept_result_still_asks_nothing_about_the_job() -> None:
    h = Harness(InstrumentedService(active_calls=None))
    job = h.service.create_job(tok(0), "FAILED")
    h.put(DurableState(0, tok(0), Phase.SUBMITTED, job))
    outcome = h.run_try(h.operator(wait_for_completion=False))
    assert outcome.succeeded, outcome.error
    assert h.service.calls == []
    assert outcome.result == {"job_id": job}
    assert list(h.service.jobs) == [job]


def test_a_waiting_try_after_a_fire_and_forget_one_waits_and_keeps_its_own_result() -> None:
    h = Harness(InstrumentedService(active_calls=None))
    first = h.run_try(h.operator(wait_for_completion=False))
    assert first.result == {"job_id": "job-0001"}
    h.service.jobs["job-0001"].active_calls_left = 1
    waited = h.run_try()
    assert waited.succeeded, waited.error
    assert waited.result == {"job_id": "job-0001", **RESULT}, "the fire-and-forget result was replayed"
    assert h.stored() == record(0, "succeeded", "job-0001")
    assert list(h.service.jobs) == ["job-0001"]


class PreparingOperator(ProbedOperator):
    """Records the stored value at each ``prepare_submission`` call; raises ``failure`` when set."""

    failure: Exception | None = None
    seen: list[Any]

    def prepare_submission(self, context: Context) -> None:
        self.seen.append(context["task_state_store"].get(KEY) if self.durable else "not durable")
        if self.failure is not None:
            raise self.failure


def _preparing(h: Harness, failure: Exception | None = None, **kwargs: Any) -> PreparingOperator:
    op = h.operator(PreparingOperator, **kwargs)
    assert isinstance(op, PreparingOperator)
    op.failure, op.seen = failure, []
    return op


def test_a_failing_prepare_submission_writes_nothing_and_submits_nothing() -> None:
    for setup in (lambda h: None, lambda h: _submitted(h, "FAILED"), _lost):
        h = Harness()
        setup(h)
        before = h.stored()
        op = _preparing(h, ValueError("bad payload"))
        outcome = h.run_try(op)
        assert isinstance(outcome.error, ValueError), outcome
        assert op.seen == [before], "prepare_submission ran once, before anything was written"
        assert h.stored() == before, "the intent was written although the request was refused"
        assert h.tokens() == [tok(0)] * (before is not None), "a job was submitted"


def test_prepare_submission_runs_before_the_intent_on_every_submitting_path_only() -> None:
    h = Harness()
    fresh = _preparing(h)
    assert h.run_try(fresh).succeeded
    assert fresh.seen == [None], "fresh submit: prepared before the intent"
    again = _preparing(h)
    assert h.run_try(again).succeeded
    assert again.seen == [], "already succeeded: nothing is submitted, nothing prepared"
    h = Harness()
    _submitted(h, "RUNNING")
    reconnect = _preparing(h)
    assert h.run_try(reconnect).succeeded
    assert reconnect.seen == [], "a reconnect submits nothing"
    plain = _preparing(Harness(), durable=False)
    assert TaskInstanceRun(InMemoryTaskStateStore(), SCOPE).run_try(plain).succeeded
    assert plain.seen == ["not durable"]


def test_xcoms_reach_the_task_instance_by_keyword_as_operators_push_them() -> None:
    """Users' tests assert ``ti.xcom_push.assert_any_call(key=..., value=...)`` on a mock task instance."""
    from unittest import mock

    from airflow_durable.mixin import _XComRecorder

    ti = mock.MagicMock()
    pushed: dict[str, Any] = {}
    _XComRecorder(ti, pushed).xcom_push("run_id", 7)
    ti.xcom_push.assert_called_once_with(key="run_id", value=7)
    assert pushed == {"run_id": 7}


def _flaky_submit(h: Harness, *, answer_lost: bool) -> None:
    """The next submission fails transiently; with ``answer_lost`` the job was created first (a timeout)."""
    submit = h.service.submit
    pending = [answer_lost]

    def flaky(payload: dict[str, Any], token: str | None = None) -> str:
        if pending:
            if pending.pop():
                submit(payload, token)
            raise Flaky("503, or the connection dropped before the answer")
        return submit(payload, token)

    h.service.submit = flaky  # type: ignore[method-assign]


@pytest.mark.parametrize("answer_lost", [False, True], ids=["not-created", "answer-lost"])
def test_a_transient_submit_error_looks_the_job_up_before_sending_again(answer_lost: bool) -> None:
    h = Harness()
    _flaky_submit(h, answer_lost=answer_lost)
    outcome = h.run_try(h.operator(TransientAwareOperator, max_transient_errors=2))
    assert outcome.succeeded, outcome.error
    assert list(h.service.jobs) == ["job-0001"], "a transient submit error led to a second job"
    expected = ["submit", "find_by_token"] if answer_lost else ["find_by_token", "submit"]
    assert h.service.calls[:2] == expected
    assert h.stored()["external_id"] == "job-0001"


def test_a_transient_submit_error_without_lookup_or_deduplication_fails_the_try() -> None:
    class Blind(NoLookupOperator, TransientAwareOperator):
        deduplicates_submissions: ClassVar[bool] = False

    h = Harness()
    _flaky_submit(h, answer_lost=True)
    outcome = h.run_try(h.operator(Blind, max_transient_errors=2))
    assert isinstance(outcome.error, Flaky), "the job may exist: sending again could make a second one"
    assert list(h.service.jobs) == ["job-0001"]
    assert h.service.calls == ["submit"]
