"""Behaviour tests of the durable Databricks operators, beyond the contract suite.

Every test runs the operators' real ``databricks-sdk`` client against the wire-level Jobs API 2.2 emulator
(in a thread); only the Airflow side (task instance, ``task_state_store``, crashes) is a test double.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest
import structlog
from databricks.sdk.core import Config
from databricks.sdk.service import jobs as sdk_jobs

from airflow_durable import JobState
from airflow_durable.errors import DurableJobError, JobFailedError, UnknownJobStatusError
from airflow_durable.testing import (
    CrashController,
    CrashPoint,
    EmulatorSystem,
    InMemoryTaskStateStore,
    RunawayPolling,
    TaskInstanceRun,
    TryOutcome,
    first_trigger_event,
)
from airflow_durable.tokens import TaskInstanceScope, submission_token
from airflow_durable_databricks import statuses
from airflow_durable_databricks.client import DatabricksRuns
from airflow_durable_databricks.connection import config_kwargs, sdk_config
from airflow_durable_databricks.operators import DurableDatabricksRunNowOperator, DurableDatabricksSubmitRunOperator
from airflow_durable_databricks.statuses import RUN_STATES, run_status
from airflow_durable_databricks.testing import DatabricksJobsEmulator
from airflow_durable_databricks.testing.contract import databricks_connection_env, mask_run_page_url
from airflow_durable_databricks.triggers import DurableDatabricksRunTrigger

CONN_ID = "databricks_ops"
CONN_TOKEN = "dapi-emulator"
DAG_ID = "durable_ops"
RUN_ID = "scheduled__2026-11-29T00:00:00+00:00"
TASKS = [{"task_key": "t", "notebook_task": {"notebook_path": "/x"}, "existing_cluster_id": "c-1"}]
SUBMIT_ENDPOINTS = ("runs/submit", "run-now")

# ---------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def emulator(isolated_databricks_env: None) -> Iterator[DatabricksJobsEmulator]:
    with (
        DatabricksJobsEmulator(polls_to_finish=3) as emu,
        mock.patch.dict(os.environ, databricks_connection_env(CONN_ID, emu.url, retry_timeout_seconds=20)),
    ):
        yield emu


@pytest.fixture
def crash(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, monkeypatch: pytest.MonkeyPatch
) -> CrashController:
    """The contract suite's crash controller: ``time.sleep`` patched for operator threads only."""
    controller = CrashController(EmulatorSystem(emulator), store)
    monkeypatch.setattr(time, "sleep", controller.sleep)
    return controller


def task_run(store: InMemoryTaskStateStore, task_id: str = "durable_task", map_index: int = -1) -> TaskInstanceRun:
    return TaskInstanceRun(store, TaskInstanceScope(DAG_ID, RUN_ID, task_id, map_index))


def submit_op(task_id: str = "durable_task", **overrides: Any) -> DurableDatabricksSubmitRunOperator:
    kwargs: dict[str, Any] = {
        "databricks_conn_id": CONN_ID,
        "tasks": TASKS,
        "polling_period_seconds": 0,
        "cancel_timeout_seconds": 5,
    }
    kwargs.update(overrides)
    return DurableDatabricksSubmitRunOperator(task_id=task_id, **kwargs)


def run_now_op(job_id: int | None, task_id: str = "durable_task", **overrides: Any) -> DurableDatabricksRunNowOperator:
    kwargs: dict[str, Any] = {
        "databricks_conn_id": CONN_ID,
        "job_id": job_id,
        "polling_period_seconds": 0,
        "cancel_timeout_seconds": 5,
    }
    kwargs.update(overrides)
    return DurableDatabricksRunNowOperator(task_id=task_id, **kwargs)


@pytest.fixture(params=["submit", "run-now"])
def kind(request: pytest.FixtureRequest) -> str:
    """Which of our operators the test runs: ``submit`` or ``run-now``."""
    return str(request.param)


@pytest.fixture
def make(emulator: DatabricksJobsEmulator, kind: str) -> Callable[..., Any]:
    """``submit_op``, or ``run_now_op`` bound to a fresh job of the emulator."""
    if kind == "submit":
        return submit_op
    job_id = emulator.create_job("nightly", TASKS)

    def make(task_id: str = "durable_task", **overrides: Any) -> DurableDatabricksRunNowOperator:
        return run_now_op(job_id, task_id, **overrides)

    return make


def crash_mid_poll(crash: CrashController, operator: Any) -> TaskInstanceRun:
    """Run a first try of the default task instance that crashes between two polls; return its run."""
    run = task_run(crash.store)
    crash.arm(CrashPoint.MID_POLL)
    assert crash.run_try(run, operator).crashed
    return run


def submits(calls: Counter[str]) -> int:
    return sum(calls[e] for e in SUBMIT_ENDPOINTS)


def normalized(outcome: TryOutcome) -> tuple[Any, Any]:
    """Result and XComs with the per-run values masked."""
    run_id = outcome.result["run_id"]

    def mask(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: mask(v) for k, v in value.items()}
        return "<run_id>" if value == run_id else mask_run_page_url(value)

    return mask(outcome.result), mask(outcome.xcoms)


def get_finishes_after(emulator: DatabricksJobsEmulator, gets: int) -> list[int]:
    """Pin runs to SUCCESS just before the ``gets``-th ``runs/get`` is answered (counted from now)."""
    seen: list[int] = []

    def hook(run_id: int) -> None:
        seen.append(run_id)
        if len(seen) == gets:
            emulator.set_state(run_id, "TERMINATED", "SUCCESS")

    emulator.on_get = hook
    return seen


# ---------------------------------------------------------------------- 1. user idempotency_token


def test_user_token_is_only_the_base_a_retry_after_a_failed_run_gets_a_new_run(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    """The reported upstream bug: run-now with a user token got the prior FAILED run back on retry."""

    def scenario(backend: InMemoryTaskStateStore) -> tuple[TryOutcome, TryOutcome, list[str | None]]:
        job_id = emulator.create_job("nightly", TASKS)
        start = len(emulator.runs)
        run = task_run(backend, "nightly_task")
        emulator.advance(1, "FAILED")
        first = run.run_try(run_now_op(job_id, "nightly_task", idempotency_token="nightly"))
        emulator.advance(1, "SUCCESS")
        second = run.run_try(run_now_op(job_id, "nightly_task", idempotency_token="nightly"))
        return first, second, [r.idempotency_token for r in emulator.runs[start:]]

    first, second, tokens = scenario(store)
    assert isinstance(first.error, JobFailedError), first
    assert second.succeeded, second.error
    runs = emulator.runs
    assert len(runs) == 2, "the retry after a failed run must start a new run"
    assert second.result["run_id"] == runs[1].run_id != runs[0].run_id
    assert second.result["state"] == "TERMINATED:SUCCESS"
    assert emulator.deduplicated == [], "the retry was handed an existing run"
    assert tokens[0] != tokens[1]
    assert "nightly" not in tokens
    assert all(t is not None and len(t) <= 64 for t in tokens), tokens

    # Deterministic per task instance (and the user's value is part of it): a fresh emulator and store
    # for the same task instance derive the same two tokens.
    scope = TaskInstanceScope(DAG_ID, RUN_ID, "nightly_task", -1)
    assert tokens == [submission_token(scope, g, base="nightly") for g in (0, 1)]
    assert tokens[0] != submission_token(scope, 0, base=None)
    emulator.reset()
    again_first, again_second, again_tokens = scenario(InMemoryTaskStateStore())
    assert again_first.error is not None
    assert again_second.succeeded
    assert again_tokens == tokens


def test_upstream_run_now_with_user_token_gets_the_failed_run_back(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    """The gap, documented: upstream sends the user's token unchanged, so the retry gets the failed run."""
    from airflow.providers.databricks.operators.databricks import DatabricksRunNowOperator

    job_id = emulator.create_job("nightly", TASKS)
    run = task_run(store, "upstream_task")

    def upstream() -> DatabricksRunNowOperator:
        return DatabricksRunNowOperator(
            task_id="upstream_task",
            databricks_conn_id=CONN_ID,
            job_id=job_id,
            idempotency_token="nightly",
            polling_period_seconds=0,
            databricks_retry_limit=1,
        )

    emulator.advance(1, "FAILED")
    first = run.run_try(upstream())
    assert first.error is not None, "the failed run must fail the first try"
    emulator.advance(1, "SUCCESS")
    second = run.run_try(upstream())
    assert second.error is not None, "upstream's retry should get the failed run back, and fail again"
    assert len(emulator.runs) == 1, f"upstream created a new run: {emulator.runs}"
    assert emulator.runs[0].idempotency_token == "nightly"
    assert emulator.deduplicated == [emulator.runs[0].run_id], "the retry's run-now was deduplicated"


def test_not_durable_sends_the_user_token_unchanged(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    job_id = emulator.create_job("nightly", TASKS)
    run = task_run(store)
    outcome = run.run_try(run_now_op(job_id, idempotency_token="nightly", durable=False))
    assert outcome.succeeded, outcome.error
    assert [r.idempotency_token for r in emulator.runs] == ["nightly"]
    assert run.stored(DurableDatabricksRunNowOperator.external_id_key) is None
    outcome = task_run(store, "submit").run_try(submit_op("submit", idempotency_token="nightly", durable=False))
    assert outcome.succeeded, outcome.error
    assert emulator.runs[-1].idempotency_token == "nightly"


def token_sent_with_a_json_token(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, **overrides: Any
) -> str | None:
    """Run run-now with ``json={"idempotency_token": "nightly"}`` to success; return the token it sent."""
    job_id = emulator.create_job("nightly", TASKS)
    outcome = task_run(store).run_try(run_now_op(job_id, json={"idempotency_token": "nightly"}, **overrides))
    assert outcome.succeeded, outcome.error
    return emulator.runs[-1].idempotency_token


def test_not_durable_keeps_a_token_given_in_json(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    assert token_sent_with_a_json_token(emulator, store, durable=False) == "nightly"


def test_a_token_in_json_is_the_base_like_the_argument(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    scope = TaskInstanceScope(DAG_ID, RUN_ID, "durable_task", -1)
    assert token_sent_with_a_json_token(emulator, store) == submission_token(scope, 0, base="nightly")


# ---------------------------------------------------------------------- 2. deferrable


def test_deferral_happens_after_the_run_id_is_persisted(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    emulator.hold("RUNNING")
    run = task_run(store)
    outcome = run.run_try(submit_op(deferrable=True), run_triggers=False)
    assert outcome.deferred is not None, outcome
    assert outcome.error is None
    [created] = emulator.runs
    stored = outcome.stored_at_deferral
    assert stored["phase"] == "submitted"
    assert stored["external_id"] == created.run_id
    assert stored["token"] == created.idempotency_token
    trigger = outcome.deferred.trigger
    assert isinstance(trigger, DurableDatabricksRunTrigger)
    assert trigger.run_id == created.run_id
    assert outcome.deferred.method_name == "execute_complete", "upstream's method name (a resumed task calls it)"
    assert emulator.calls["runs/get"] == 0, "a fresh submission needs no status call before deferring"


def test_deferrable_result_and_xcoms_equal_a_non_deferrable_run(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, kind: str, make: Callable[..., Any]
) -> None:
    emulator.advance(3)
    plain = task_run(store, "plain").run_try(make(task_id="plain"))
    deferred_run = task_run(store, "deferred")
    deferred = deferred_run.run_try(make(task_id="deferred", deferrable=True))
    assert plain.succeeded, plain.error
    assert deferred.succeeded, deferred.error
    assert deferred.deferred is not None, "deferrable=True did not defer"
    assert len(emulator.runs) == 2
    assert normalized(deferred) == normalized(plain)
    assert set(plain.xcoms) == {"run_id", "run_page_url", "return_value"}
    stored = deferred_run.stored(make(task_id="x").external_id_key)
    assert stored["phase"] == "succeeded", "the resumed try did not record the success"


@pytest.mark.parametrize("retry_deferrable", [False, True], ids=["retry-plain", "retry-deferred"])
def test_trigger_failure_fails_the_try_and_the_retry_reconnects(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, retry_deferrable: bool
) -> None:
    """The trigger sees an unknown status: the try fails; the retry decides, reconnects; one run."""
    emulator.hold("SOMETHING_NEW")
    run = task_run(store)
    first = run.run_try(submit_op(deferrable=True))
    assert first.deferred is not None
    assert isinstance(first.error, DurableJobError), first
    assert "SOMETHING_NEW" in str(first.error)
    [created] = emulator.runs
    assert str(created.run_id) in str(first.error)

    emulator.set_state(created.run_id, "RUNNING")
    get_finishes_after(emulator, 2)  # the decision's runs/get sees RUNNING, the next one SUCCESS
    calls_before = Counter(emulator.calls)
    second = run.run_try(submit_op(deferrable=retry_deferrable))
    assert second.succeeded, second.error
    assert (second.deferred is not None) is retry_deferrable
    assert len(emulator.runs) == 1, "the retry submitted a new run instead of reconnecting"
    assert submits(emulator.calls - calls_before) == 0
    assert second.result["run_id"] == created.run_id
    assert run.stored(DurableDatabricksSubmitRunOperator.external_id_key)["phase"] == "succeeded"


def test_trigger_sees_the_run_forgotten_then_the_retry_resubmits(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    """A run forgotten while deferred: the trigger fails the try; the retry's decision finds it lost."""
    emulator.hold("RUNNING")

    def forget_once(created: Any) -> None:
        emulator.on_submit = None
        emulator.forget(created.run_id)

    emulator.on_submit = forget_once
    run = task_run(store)
    first = run.run_try(submit_op(deferrable=True))
    assert first.deferred is not None
    assert isinstance(first.error, DurableJobError), first
    lost = emulator.runs[0].run_id
    assert str(lost) in str(first.error)
    assert "does not exist" in str(first.error) or "unknown" in str(first.error)
    emulator.advance(1)
    second = run.run_try(submit_op(deferrable=True))
    assert second.succeeded, second.error
    assert len(emulator.runs) == 2
    assert emulator.runs[0].idempotency_token != emulator.runs[1].idempotency_token


def test_deferred_failed_run_fails_the_try_and_the_retry_gets_a_new_run(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    emulator.advance(2, "FAILED")
    run = task_run(store)
    first = run.run_try(submit_op(deferrable=True))
    assert isinstance(first.error, JobFailedError), first
    emulator.advance(2, "SUCCESS")
    second = run.run_try(submit_op(deferrable=True))
    assert second.succeeded, second.error
    assert len(emulator.runs) == 2


def test_trigger_serializes_without_credentials(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    from airflow.sdk.module_loading import import_string

    emulator.advance(2)
    outcome = task_run(store).run_try(
        submit_op(deferrable=True, polling_period_seconds=1, max_poll_interval_seconds=7), run_triggers=False
    )
    trigger = outcome.deferred.trigger
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_durable_databricks.triggers.DurableDatabricksRunTrigger"
    rebuilt = import_string(classpath)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["run_id"] == emulator.runs[0].run_id
    assert kwargs["databricks_conn_id"] == CONN_ID
    assert (kwargs["poll_interval_seconds"], kwargs["max_poll_interval_seconds"]) == (1.0, 7.0)
    text = json.dumps(kwargs)  # the triggerer stores the kwargs as JSON
    assert CONN_TOKEN not in text
    assert "token" not in text.lower()
    assert "password" not in text.lower()
    # The rebuilt trigger works on its own (it reads the connection in the triggerer).
    event = first_trigger_event(rebuilt)
    assert event.payload == {"external_id": emulator.runs[0].run_id, "status": "TERMINATED:SUCCESS"}


# ---------------------------------------------------------------------- 3. faults


@pytest.mark.parametrize("deferrable", [False, True], ids=["poll", "deferred"])
def test_random_429_503_on_runs_get_one_run(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, deferrable: bool
) -> None:
    emulator.advance(6)
    emulator.fault_rate(0.2, statuses=(429, 503), endpoint="runs/get", seed=3, retry_after_seconds=0)
    started = time.monotonic()
    outcome = task_run(store).run_try(submit_op(deferrable=deferrable))
    assert outcome.succeeded, outcome.error
    assert len(emulator.runs) == 1
    assert emulator.faults_served["runs/get"] > 0, "the seed served no fault: pick another"
    print(
        f"\n[faults] deferrable={deferrable}: served {dict(emulator.faults_served)}, "
        f"calls {dict(emulator.calls)}, {time.monotonic() - started:.1f}s"
    )


@pytest.mark.parametrize("deferrable", [False, True], ids=["poll", "deferred"])
def test_plain_500s_on_runs_get_are_retried_in_place(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, deferrable: bool
) -> None:
    emulator.advance(3)
    emulator.fail_next(3, 500, endpoint="runs/get")
    outcome = task_run(store).run_try(submit_op(deferrable=deferrable))
    assert outcome.succeeded, outcome.error
    assert len(emulator.runs) == 1
    assert emulator.faults_served["runs/get"] == 3
    assert emulator.calls["runs/get"] == 3 + emulator.gets_for(emulator.runs[0].run_id)


@pytest.mark.parametrize(
    "deferrable",
    [
        False,
        True,
    ],
    ids=["poll", "deferred"],
)
def test_500s_beyond_the_limit_fail_the_try_and_the_retry_reconnects(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, deferrable: bool
) -> None:
    """Transient errors never resubmit: past ``max_transient_errors`` the try fails, the retry reconnects."""
    emulator.advance(3)
    emulator.fail_next(4, 500, endpoint="runs/get")
    run = task_run(store)
    first = run.run_try(submit_op(max_transient_errors=2, deferrable=deferrable))
    assert first.error is not None, "4 consecutive 500s were tolerated with max_transient_errors=2"
    assert not first.crashed
    assert "500" in str(first.error) or "Emulated" in str(first.error), first.error
    second = run.run_try(submit_op(max_transient_errors=2, deferrable=deferrable))
    assert second.succeeded, second.error
    assert len(emulator.runs) == 1
    assert submits(emulator.calls) == 1


def test_500s_during_the_resume_decision_do_not_resubmit(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, crash: CrashController
) -> None:
    emulator.advance(4)
    run = crash_mid_poll(crash, submit_op())
    emulator.fail_next(3, 500, endpoint="runs/get")
    second = crash.run_try(run, submit_op())
    assert second.succeeded, second.error
    assert len(emulator.runs) == 1
    assert submits(emulator.calls) == 1


# ---------------------------------------------------------------------- 4. external calls per decision


def spy_poll_start(operator: Any, emulator: DatabricksJobsEmulator) -> list[Counter[str]]:
    """Snapshot the emulator's call counters when the operator enters its poll loop (a spy, not a mock)."""
    snapshots: list[Counter[str]] = []
    real = operator.poll_until_complete

    def spy(external_id: Any, context: Any) -> None:
        snapshots.append(Counter(emulator.calls))
        real(external_id, context)

    operator.poll_until_complete = spy
    return snapshots


def spied_retry(
    emulator: DatabricksJobsEmulator, crash: CrashController, run: TaskInstanceRun, operator: Any
) -> tuple[TryOutcome, list[Counter[str]], Counter[str]]:
    """Run a retry that must succeed; return it, the call counts at each poll start and those before it."""
    before = Counter(emulator.calls)
    at_poll = spy_poll_start(operator, emulator)
    second = crash.run_try(run, operator)
    assert second.succeeded, second.error
    return second, at_poll, before


def test_calls_fresh_run_result_reuses_the_last_poll(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, kind: str, make: Callable[..., Any]
) -> None:
    emulator.advance(3)
    outcome = task_run(store).run_try(make())
    assert outcome.succeeded, outcome.error
    print(f"\n[calls] {kind} fresh run: {dict(emulator.calls)}")
    assert submits(emulator.calls) == 1
    assert emulator.calls["runs/get"] == 3, "the result should come from the poll that saw SUCCESS"


def test_calls_reconnect_after_crash_mid_poll(
    emulator: DatabricksJobsEmulator, crash: CrashController, kind: str, make: Callable[..., Any]
) -> None:
    emulator.advance(4)
    run = crash_mid_poll(crash, make())
    _, at_poll, before = spied_retry(emulator, crash, run, make())
    assert len(at_poll) == 1, "the retry did not poll"
    pre_poll = at_poll[0] - before
    whole = emulator.calls - before
    print(f"\n[calls] {kind} reconnect: before polling {dict(pre_poll)}; whole retry {dict(whole)}")
    assert pre_poll["runs/get"] == 1
    assert submits(pre_poll) == 0
    assert submits(whole) == 0
    assert len(emulator.runs) == 1


def test_calls_already_succeeded_reuses_the_decision_response(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, crash: CrashController
) -> None:
    emulator.hold("RUNNING")
    run = crash_mid_poll(crash, submit_op())
    [created] = emulator.runs
    emulator.set_state(created.run_id, "TERMINATED", "SUCCESS")
    second, at_poll, before = spied_retry(emulator, crash, run, submit_op())
    whole = emulator.calls - before
    print(f"\n[calls] already succeeded: whole retry {dict(whole)}")
    assert at_poll == [], "the retry polled a finished run"
    assert whole == Counter({"runs/get": 1}), whole
    assert second.result["run_page_url"].endswith(f"#job/{created.job_id}/run/{created.run_id}")
    assert second.xcoms["run_id"] == created.run_id


def test_calls_crash_in_submit_window_resubmits_once_with_the_same_token(
    emulator: DatabricksJobsEmulator, crash: CrashController, kind: str, make: Callable[..., Any]
) -> None:
    endpoint = "runs/submit" if kind == "submit" else "run-now"
    emulator.advance(3)
    run = task_run(crash.store)
    crash.arm(CrashPoint.SUBMIT_WINDOW)
    first = crash.run_try(run, make())
    assert first.crashed, first
    [created] = emulator.runs
    stored = run.stored(make().external_id_key)
    assert stored["phase"] == "intent"
    assert stored["external_id"] is None
    before = Counter(emulator.calls)
    second = crash.run_try(run, make())
    assert second.succeeded, second.error
    whole = emulator.calls - before
    print(f"\n[calls] {kind} submit window: whole retry {dict(whole)}; deduplicated {emulator.deduplicated}")
    assert whole[endpoint] == 1
    assert submits(whole) == 1
    assert len(emulator.runs) == 1, "the retry's submission was not deduplicated"
    assert emulator.deduplicated == [created.run_id]
    assert second.result["run_id"] == created.run_id


# ---------------------------------------------------------------------- 5. states


def _lists() -> list[tuple[str, str, JobState]]:
    params: list[tuple[str, str, JobState]] = []
    params += [("life_cycle", s, JobState.ACTIVE) for s in statuses.LIFE_CYCLE_ACTIVE]
    params += [("life_cycle", s, JobState.FAILED) for s in statuses.LIFE_CYCLE_FAILED]
    params += [("result", s, JobState.SUCCEEDED) for s in statuses.RESULT_SUCCEEDED]
    params += [("result", s, JobState.FAILED) for s in statuses.RESULT_FAILED]
    params += [("status", s, JobState.ACTIVE) for s in statuses.STATUS_ACTIVE]
    params += [("termination", s, JobState.SUCCEEDED) for s in statuses.TERMINATION_SUCCEEDED]
    params += [("termination", s, JobState.FAILED) for s in statuses.TERMINATION_FAILED]
    return params


SDK_ENUM_VALUES = {
    member.value
    for enum in (
        sdk_jobs.RunLifeCycleState,
        sdk_jobs.RunResultState,
        sdk_jobs.RunLifecycleStateV2State,
        sdk_jobs.TerminationCodeCode,
    )
    for member in enum
}


@pytest.fixture(scope="module")
def states_emulator() -> Iterator[tuple[DatabricksJobsEmulator, int]]:
    with DatabricksJobsEmulator(polls_to_finish=None) as emu:
        body = json.dumps({"run_name": "states", "tasks": TASKS}).encode()
        request = urllib.request.Request(f"{emu.url}/api/2.2/jobs/runs/submit", data=body, method="POST")
        with urllib.request.urlopen(request) as response:
            run_id = int(json.loads(response.read())["run_id"])
        yield emu, run_id


def _emulated_run_json(emu: DatabricksJobsEmulator, run_id: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"{emu.url}/api/2.2/jobs/runs/get?run_id={run_id}") as response:
        data: dict[str, Any] = json.loads(response.read())
    return data


@pytest.mark.parametrize(("block", "value", "expected"), _lists(), ids=lambda p: getattr(p, "value", p))
def test_run_status_classifies_every_listed_state(
    states_emulator: tuple[DatabricksJobsEmulator, int], block: str, value: str, expected: JobState
) -> None:
    emu, run_id = states_emulator
    if block == "life_cycle":
        emu.set_state(run_id, value)
        raw = f"{value}:"  # upstream's "<life_cycle_state>:<result_state>", no result before TERMINATED
    elif block == "result":
        emu.set_state(run_id, "TERMINATED", value)
        raw = f"TERMINATED:{value}"
    elif block == "status":
        emu.set_state(run_id, "RUNNING", status_state=value)
        raw = f"STATUS:{value}"
    else:
        emu.set_state(run_id, "TERMINATED", "FAILED", termination_code=value)
        raw = f"STATUS:TERMINATED:{value}"
    run = _emulated_run_json(emu, run_id)
    if block in ("status", "termination"):
        del run["state"]  # a response with only the newer block
    assert run_status(run) == raw
    assert RUN_STATES.classify(run_status(run)) is expected
    # The SDK's own dataclass round trip folds to the same status, for the values its enums know (the
    # operator reads the raw JSON, so documented values the SDK lacks still classify in production).
    if value in SDK_ENUM_VALUES:
        assert run_status(sdk_jobs.Run.from_dict(run).as_dict()) == raw


def test_run_status_is_upstreams_encoding_and_only_terminated_runs_carry_a_result() -> None:
    """``"<life_cycle_state>:<result_state>"`` as upstream's ``get_job_status``; the life cycle decides the rest."""
    assert run_status({"state": {"life_cycle_state": "RUNNING", "result_state": ""}}) == "RUNNING:"
    assert run_status({"state": {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS"}}) == "TERMINATED:SUCCESS"
    assert run_status({"state": {"life_cycle_state": "INTERNAL_ERROR", "result_state": "FAILED"}}) == "INTERNAL_ERROR:"
    assert run_status({"state": {"life_cycle_state": "TERMINATING", "result_state": "CANCELED"}}) == "TERMINATING:"
    assert RUN_STATES.classify("TERMINATING:") is JobState.ACTIVE
    assert RUN_STATES.classify("INTERNAL_ERROR:") is JobState.FAILED


def test_upstreams_not_found_sentinel_is_not_a_status() -> None:
    """A run Databricks does not know raises ``JobLostError`` (see ``DatabricksRuns.get``), never a status."""
    with pytest.raises(UnknownJobStatusError, match="NOT_FOUND:"):
        RUN_STATES.classify("NOT_FOUND:")


def test_run_status_needs_a_state_block() -> None:
    with pytest.raises(ValueError, match="neither"):
        run_status({"run_id": 5})


def test_status_table_covers_every_sdk_enum_value() -> None:
    """A value a new SDK adds fails here, not in production (where it would be an UnknownJobStatusError)."""
    missing: list[str] = []
    for life_cycle in sdk_jobs.RunLifeCycleState:
        if life_cycle.value == "TERMINATED":
            missing += [
                f"TERMINATED:{r.value}" for r in sdk_jobs.RunResultState if f"TERMINATED:{r.value}" not in RUN_STATES
            ]
        elif f"{life_cycle.value}:" not in RUN_STATES:
            missing.append(f"{life_cycle.value}:")
    for state in sdk_jobs.RunLifecycleStateV2State:
        if state.value == "TERMINATED":
            missing += [
                f"STATUS:TERMINATED:{c.value}"
                for c in sdk_jobs.TerminationCodeCode
                if f"STATUS:TERMINATED:{c.value}" not in RUN_STATES
            ]
        elif f"STATUS:{state.value}" not in RUN_STATES:
            missing.append(f"STATUS:{state.value}")
    assert missing == [], f"SDK enum values the status table does not classify: {missing}"


@pytest.mark.parametrize("stuck_on", ["INTERNAL_ERROR", "SKIPPED"])
def test_run_stuck_on_a_terminal_life_cycle_state_fails_the_try(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, crash: CrashController, stuck_on: str
) -> None:
    emulator.hold(stuck_on)
    try:
        outcome = crash.run_try(task_run(store), submit_op())
    except RunawayPolling:
        pytest.fail(f"the operator kept polling a run stuck on {stuck_on}")
    assert isinstance(outcome.error, JobFailedError), outcome
    assert stuck_on in str(outcome.error)
    assert len(emulator.runs) == 1


def test_unknown_life_cycle_state_fails_the_try_naming_it(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, crash: CrashController
) -> None:
    emulator.hold("HIBERNATING")
    run = task_run(store)
    try:
        first = crash.run_try(run, submit_op())
        second = crash.run_try(run, submit_op())
    except RunawayPolling:
        pytest.fail("the operator kept polling a run with an unknown state")
    for outcome in (first, second):
        assert isinstance(outcome.error, UnknownJobStatusError), outcome
        assert "HIBERNATING" in str(outcome.error)
    assert len(emulator.runs) == 1, "an unknown state must never lead to a resubmission"


def test_success_with_failures_is_a_failure(emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore) -> None:
    assert RUN_STATES.classify("TERMINATED:SUCCESS_WITH_FAILURES") is JobState.FAILED
    assert RUN_STATES.classify("STATUS:TERMINATED:SUCCESS_WITH_FAILURES") is JobState.FAILED
    emulator.advance(1, "SUCCESS_WITH_FAILURES")
    run = task_run(store)
    first = run.run_try(submit_op())
    assert isinstance(first.error, JobFailedError), first
    assert "SUCCESS_WITH_FAILURES" in str(first.error)
    emulator.advance(1, "SUCCESS")
    second = run.run_try(submit_op())
    assert second.succeeded, second.error
    assert len(emulator.runs) == 2


# ---------------------------------------------------------------------- 6. on_kill


@dataclass
class KilledRetry:
    """A reconnected retry killed while it polled: what ``_kill_a_reconnected_retry`` saw."""

    run_id: int
    worker: threading.Thread
    outcomes: list[TryOutcome]
    elapsed_seconds: float
    logs: list[MutableMapping[str, Any]]


def _kill_a_reconnected_retry(
    emulator: DatabricksJobsEmulator, crash: CrashController, latency_seconds: float = 0.0, **overrides: Any
) -> KilledRetry:
    """Crash a try mid-poll, start the retry in a thread, and call ``on_kill`` once it polls the run.

    The emulator answers every request after ``latency_seconds`` from the kill on; ``on_kill``'s logs
    are captured and its duration measured.
    """
    emulator.hold("RUNNING")
    run = crash_mid_poll(crash, submit_op())
    [created] = emulator.runs
    polled = threading.Event()
    gets: list[int] = []

    def on_get(run_id: int) -> None:
        gets.append(run_id)
        if len(gets) >= 2:  # the decision's runs/get, then the poll loop's
            polled.set()

    emulator.on_get = on_get
    operator = submit_op(**overrides)
    outcomes: list[TryOutcome] = []
    crash.max_sleeps = 100_000
    worker = threading.Thread(target=lambda: outcomes.append(crash.run_try(run, operator)), daemon=True)
    worker.start()
    assert polled.wait(15), "the retry never polled the reconnected run"
    emulator.latency_seconds = latency_seconds
    started = time.monotonic()
    with structlog.testing.capture_logs() as logs:
        operator.on_kill()  # must not raise
    return KilledRetry(created.run_id, worker, outcomes, time.monotonic() - started, logs)


def test_on_kill_cancels_the_reconnected_run_despite_a_slow_cancel(
    emulator: DatabricksJobsEmulator, crash: CrashController
) -> None:
    killed = _kill_a_reconnected_retry(emulator, crash, latency_seconds=0.5, cancel_timeout_seconds=3)
    elapsed = killed.elapsed_seconds
    assert 0.4 <= elapsed < 3, f"on_kill took {elapsed:.2f}s"
    assert emulator.cancelled == [killed.run_id]
    emulator.latency_seconds = 0.0
    killed.worker.join(15)
    assert not killed.worker.is_alive(), "the killed try kept polling a cancelled run"
    assert isinstance(killed.outcomes[0].error, JobFailedError), killed.outcomes
    assert "CANCELED" in str(killed.outcomes[0].error)
    assert len(emulator.runs) == 1


def test_on_kill_gives_up_after_cancel_timeout_seconds(
    emulator: DatabricksJobsEmulator, crash: CrashController
) -> None:
    killed = _kill_a_reconnected_retry(emulator, crash, latency_seconds=1.0, cancel_timeout_seconds=0.3)
    elapsed = killed.elapsed_seconds
    assert elapsed < 0.9, f"on_kill waited {elapsed:.2f}s past cancel_timeout_seconds=0.3"
    assert any("did not finish" in str(entry.get("event")) for entry in killed.logs), killed.logs
    deadline = time.monotonic() + 5
    while killed.run_id not in emulator.cancelled and time.monotonic() < deadline:
        time.sleep(0.05)
    assert emulator.cancelled == [killed.run_id], "the cancel request never reached the emulator"
    emulator.latency_seconds = 0.0
    killed.worker.join(15)
    assert not killed.worker.is_alive()


def test_on_kill_logs_instead_of_raising_when_cancel_fails(
    emulator: DatabricksJobsEmulator, crash: CrashController
) -> None:
    emulator.fail_next(1, 403, endpoint="runs/cancel", message="no permission to cancel")
    killed = _kill_a_reconnected_retry(emulator, crash)
    errors = [entry for entry in killed.logs if entry.get("log_level") == "error"]
    assert errors, killed.logs
    assert "failed" in str(errors[0]["event"]) or "no permission" in str(errors[0]), errors
    assert emulator.cancelled == []
    emulator.set_state(killed.run_id, "TERMINATED", "FAILED")
    killed.worker.join(15)
    assert not killed.worker.is_alive()
    assert isinstance(killed.outcomes[0].error, JobFailedError)


def test_on_kill_without_a_run_does_nothing(emulator: DatabricksJobsEmulator) -> None:
    submit_op().on_kill()
    assert emulator.calls == Counter()


def test_run_id_is_the_run_the_operator_is_attached_to_and_on_kill_cancels_it(
    emulator: DatabricksJobsEmulator,
) -> None:
    """Upstream's attribute: setting ``run_id`` attaches the operator, and ``on_kill`` cancels that run."""
    emulator.hold("RUNNING")
    run_id = DatabricksRuns(CONN_ID).submit({"run_name": "attached", "tasks": TASKS})
    op = submit_op()
    assert op.run_id is None
    op.run_id = run_id
    assert op.run_id == run_id
    op.on_kill()
    assert emulator.cancelled == [run_id]
    with pytest.raises(ValueError, match="positive integer"):
        op.run_id = "1; DROP"  # type: ignore[assignment]
    assert op.run_id == run_id, "a refused value leaves the attached run"


def test_a_try_attaches_run_id_only_to_its_own_run(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    emulator.advance(2)
    op = submit_op()
    outcome = task_run(store).run_try(op)
    assert outcome.succeeded, outcome.error
    [created] = emulator.runs
    assert op.run_id == created.run_id


@dataclass
class RunsWithoutPageUrl:
    """A ``DatabricksRuns`` stand-in whose ``runs/get`` answers lack ``run_page_url`` (older API versions)."""

    calls: list[tuple[str, int]]

    def get(self, run_id: int) -> dict[str, Any]:
        self.calls.append(("get", run_id))
        return {"run_id": run_id, "state": {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS"}}

    def run_page_url(self, run_id: int) -> str:
        self.calls.append(("run_page_url", run_id))
        return f"https://example.cloud.databricks.com/#job/1/run/{run_id}"


def test_run_page_url_is_asked_once_when_the_run_json_lacks_it() -> None:
    op = submit_op()
    runs = RunsWithoutPageUrl([])
    op._runs = runs  # type: ignore[assignment]
    first = op.get_job_result(7, None)  # type: ignore[arg-type]
    again = op.get_job_result(7, None)  # type: ignore[arg-type]
    assert (
        first
        == again
        == {
            "run_id": 7,
            "run_page_url": "https://example.cloud.databricks.com/#job/1/run/7",
            "state": "TERMINATED:SUCCESS",
        }
    )
    assert runs.calls[:2] == [("get", 7), ("run_page_url", 7)]
    assert runs.calls.count(("run_page_url", 7)) == 1, "the URL is asked once per run and try"


def test_run_page_url_comes_from_runs_get_when_present(emulator: DatabricksJobsEmulator) -> None:
    emulator.hold("RUNNING")
    runs = DatabricksRuns(CONN_ID)
    run_id = runs.submit({"run_name": "url", "tasks": TASKS})
    assert runs.run_page_url(run_id) == runs.get(run_id)["run_page_url"] != ""


# ---------------------------------------------------------------------- 7. connection mapping

CONFIG_FIELDS = {attr.name for attr in Config.attributes()}


def test_config_kwargs_pat_in_extra() -> None:
    got = config_kwargs("adb-1.azuredatabricks.net", "ignored", "ignored", {"token": "dapi1"}, CONFIG_FIELDS)
    assert got == {"host": "https://adb-1.azuredatabricks.net", "token": "dapi1"}


def test_config_kwargs_pat_in_password() -> None:
    got = config_kwargs("h.cloud.databricks.com", None, "dapi2", {}, CONFIG_FIELDS)
    assert got == {"host": "https://h.cloud.databricks.com", "token": "dapi2"}


def test_config_kwargs_oauth_m2m() -> None:
    got = config_kwargs("h", "client-id", "client-secret", {"service_principal_oauth": True}, CONFIG_FIELDS)
    assert got == {"host": "https://h", "client_id": "client-id", "client_secret": "client-secret"}


def test_config_kwargs_azure_service_principal() -> None:
    got = config_kwargs("adb-1.azuredatabricks.net", "app-id", "secret", {"azure_tenant_id": "tenant"}, CONFIG_FIELDS)
    assert got == {
        "host": "https://adb-1.azuredatabricks.net",
        "azure_tenant_id": "tenant",
        "azure_client_id": "app-id",
        "azure_client_secret": "secret",
    }


def test_config_kwargs_basic_auth() -> None:
    got = config_kwargs("h", "user", "pw", {}, CONFIG_FIELDS)
    assert got == {"host": "https://h", "username": "user", "password": "pw"}


def test_config_kwargs_azure_managed_identity() -> None:
    got = config_kwargs("h", None, None, {"use_azure_managed_identity": True}, CONFIG_FIELDS)
    assert got == {"host": "https://h", "auth_type": "azure-msi"}


@pytest.mark.parametrize(
    ("host", "schema", "port", "extra", "expected"),
    [
        ("localhost", "http", 8080, {}, "http://localhost:8080"),
        ("h.example", None, 8443, {}, "https://h.example:8443"),
        ("h.example", None, None, {}, "https://h.example"),
        ("https://h.example", "http", 9999, {}, "https://h.example"),
        (None, None, None, {"host": "from-extra.example"}, "https://from-extra.example"),
    ],
)
def test_config_kwargs_host_composition(
    host: str | None, schema: str | None, port: int | None, extra: dict[str, Any], expected: str
) -> None:
    got = config_kwargs(host, None, None, {"token": "t", **extra}, CONFIG_FIELDS, schema=schema, port=port)
    assert got["host"] == expected


def test_config_kwargs_passes_config_fields_through() -> None:
    extra = {"token": "t", "retry_timeout_seconds": 7, "http_timeout_seconds": 3, "auth_type": "pat"}
    got = config_kwargs("h", None, None, extra, CONFIG_FIELDS)
    assert got == {
        "host": "https://h",
        "token": "t",
        "retry_timeout_seconds": 7,
        "http_timeout_seconds": 3,
        "auth_type": "pat",
    }


def test_config_kwargs_unknown_extra_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="definitely_not_a_field"):
        config_kwargs("h", None, None, {"token": "t", "definitely_not_a_field": 1}, CONFIG_FIELDS)


def test_config_kwargs_maps_the_provider_azure_resource_id() -> None:
    extra = {"azure_tenant_id": "tenant", "azure_resource_id": "/subscriptions/s/resourceGroups/g/ws"}
    got = config_kwargs("adb-1.azuredatabricks.net", "app", "secret", extra, CONFIG_FIELDS)
    assert got["azure_workspace_resource_id"] == "/subscriptions/s/resourceGroups/g/ws"


def test_sdk_config_from_an_airflow_conn_env_var(
    emulator: DatabricksJobsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, port = emulator.url.split("://", 1)[1].rsplit(":", 1)
    conn = {
        "conn_type": "databricks",
        "host": host,
        "port": int(port),
        "schema": "http",
        "extra": {"token": "dapi-from-env", "retry_timeout_seconds": 9},
    }
    monkeypatch.setenv("AIRFLOW_CONN_DBX_ENV_TEST", json.dumps(conn))
    config = sdk_config("dbx_env_test")
    assert config.host == emulator.url
    assert config.token == "dapi-from-env"
    assert config.retry_timeout_seconds == 9
    assert config.auth_type == "pat"
    assert sdk_config("dbx_env_test", retry_timeout_seconds=2).retry_timeout_seconds == 2

    basic = {"conn_type": "databricks", "host": emulator.url, "login": "user", "password": "pw"}
    monkeypatch.setenv("AIRFLOW_CONN_DBX_BASIC_TEST", json.dumps(basic))
    config = sdk_config("dbx_basic_test")
    assert (config.host, config.username, config.password, config.auth_type) == (emulator.url, "user", "pw", "basic")


# ---------------------------------------------------------------------- 8. import cost


def test_importing_the_operators_does_not_import_the_sdk() -> None:
    code = (
        "import sys\n"
        "from airflow_durable_databricks.operators import DurableDatabricksRunNowOperator as R, "
        "DurableDatabricksSubmitRunOperator as S\n"
        "S(task_id='s', tasks=[]); R(task_id='r', job_id=1)\n"
        "print(sorted(m for m in sys.modules if m == 'databricks.sdk' or m.startswith('databricks.sdk.')))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout


# ---------------------------------------------------------------------- 9. bad input


@pytest.mark.parametrize("bad_json", [[1, 2], "[1, 2]", "not json {", 5], ids=["list", "json-list", "garbage", "int"])
def test_json_that_is_not_a_mapping_is_a_clear_error(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, bad_json: Any
) -> None:
    outcome = task_run(store).run_try(submit_op(json=bad_json))
    assert isinstance(outcome.error, ValueError), outcome
    assert "mapping" in str(outcome.error)
    assert submits(emulator.calls) == 0


def test_json_string_and_python_literal_are_accepted(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    emulator.advance(1)
    for i, value in enumerate([json.dumps({"run_name": "from-json"}), str({"run_name": "from-literal"})]):
        outcome = task_run(store, f"t{i}").run_try(submit_op(f"t{i}", json=value))
        assert outcome.succeeded, outcome.error
    assert [r.run_name for r in emulator.runs] == ["from-json", "from-literal"]


def test_run_now_with_job_id_and_job_name_is_an_error(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    job_id = emulator.create_job("nightly", TASKS)
    outcome = task_run(store).run_try(run_now_op(job_id, job_name="nightly"))
    assert isinstance(outcome.error, ValueError), outcome
    assert "job_name" in str(outcome.error)
    assert "job_id" in str(outcome.error)
    outcome = task_run(store, "json").run_try(run_now_op(None, "json", json={"job_id": job_id, "job_name": "nightly"}))
    assert isinstance(outcome.error, ValueError), outcome
    assert submits(emulator.calls) == 0
    assert emulator.requests == [], "the bad request reached the API"


def test_run_now_accepts_a_templated_string_job_id(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    job_id = emulator.create_job("nightly", TASKS)
    emulator.advance(1)
    outcome = task_run(store).run_try(run_now_op(str(job_id)))
    assert outcome.succeeded, outcome.error
    assert emulator.runs[0].request["job_id"] == job_id


def test_run_now_without_a_job_is_an_error(emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore) -> None:
    outcome = task_run(store).run_try(run_now_op(None))
    assert isinstance(outcome.error, ValueError), outcome
    assert "job_id or job_name" in str(outcome.error)


def test_wait_for_termination_false_submits_once_and_a_retry_returns_that_run(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, kind: str, make: Callable[..., Any]
) -> None:
    """Fire-and-forget: upstream's XComs, no waiting; a clear of a failed or forgotten run submits nothing."""
    emulator.hold("RUNNING")
    run = task_run(store)
    first = run.run_try(make(wait_for_termination=False))
    assert first.succeeded, first.error
    [created] = emulator.runs
    assert submits(emulator.calls) == 1
    assert emulator.calls["runs/get"] <= 1, "only the run page URL may be read; the run is not waited for"
    assert set(first.xcoms) == {"run_id", "run_page_url", "return_value"}, "upstream pushes run_id and run_page_url"
    assert first.xcoms["run_id"] == created.run_id
    assert first.result == {"run_id": created.run_id, "run_page_url": first.xcoms["run_page_url"]}
    assert first.result["run_page_url"].endswith(f"/run/{created.run_id}")

    for move in (
        lambda: emulator.set_state(created.run_id, "TERMINATED", "FAILED"),
        lambda: emulator.forget(created.run_id),
    ):
        move()
        before = Counter(emulator.calls)
        again = run.run_try(make(wait_for_termination=False))
        assert again.succeeded, again.error
        assert emulator.calls - before == Counter(), "the retry called Databricks"
        assert (again.result, again.xcoms) == (first.result, first.xcoms)
        assert len(emulator.runs) == 1


def test_job_name_resolves_to_the_job(emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore) -> None:
    job_id = emulator.create_job("nightly", TASKS)
    emulator.advance(1)
    outcome = task_run(store).run_try(run_now_op(None, job_name="nightly"))
    assert outcome.succeeded, outcome.error
    assert emulator.runs[0].job_id == job_id


def test_a_bad_gateway_is_transient_and_a_bad_request_is_not() -> None:
    """The SDK maps no class to HTTP 502: its error code alone says it is a gateway's blip, polled again."""
    from databricks.sdk import errors

    from airflow_durable_databricks.client import is_transient

    assert is_transient(errors.base.DatabricksError("Bad Gateway", error_code="BAD_GATEWAY"))
    assert is_transient(errors.InternalError("boom"))
    assert not is_transient(errors.base.DatabricksError("nope", error_code="INVALID_PARAMETER_VALUE"))
    assert not is_transient(errors.BadRequest("bad"))
