"""How runs end, as upstream reports them: failure text and type, repair, cancel_previous_runs, migration.

Our operators run their real ``databricks-sdk`` client against the Jobs API emulator; where upstream's own
operator is part of the story (a task it deferred before the upgrade), it runs its real hook and trigger
against the same emulator.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from airflow.sdk.exceptions import AirflowException, TaskDeferred

from airflow_durable.errors import CorruptStateError, JobFailedError
from airflow_durable.testing import (
    CrashController,
    CrashPoint,
    EmulatorSystem,
    InMemoryTaskStateStore,
    TaskInstanceRun,
    first_trigger_event,
)
from airflow_durable.testing.doubles import FakeTaskInstance
from airflow_durable.tokens import TaskInstanceScope
from airflow_durable_databricks.client import DatabricksRuns
from airflow_durable_databricks.operators import DurableDatabricksRunNowOperator, DurableDatabricksSubmitRunOperator
from airflow_durable_databricks.outcomes import DatabricksRunFailedError
from airflow_durable_databricks.testing import DatabricksJobsEmulator
from airflow_durable_databricks.testing.contract import databricks_connection_env
from airflow_durable_databricks.triggers import DurableDatabricksRunTrigger

CONN_ID = "databricks_outcomes"
DAG_ID = "durable_outcomes"
RUN_ID = "manual__2026-12-01T00:00:00+00:00"
TASKS = [
    {"task_key": "extract", "notebook_task": {"notebook_path": "/x"}, "existing_cluster_id": "c-1"},
    {"task_key": "load", "notebook_task": {"notebook_path": "/y"}, "existing_cluster_id": "c-1"},
]
POLLING = {"databricks_conn_id": CONN_ID, "polling_period_seconds": 0, "cancel_timeout_seconds": 5}


@pytest.fixture
def emulator(isolated_databricks_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[DatabricksJobsEmulator]:
    with (
        DatabricksJobsEmulator(polls_to_finish=1) as emu,
        mock.patch.dict(os.environ, databricks_connection_env(CONN_ID, emu.url, retry_timeout_seconds=20)),
    ):
        yield emu


def task_run(store: InMemoryTaskStateStore, task_id: str = "durable_task") -> TaskInstanceRun:
    return TaskInstanceRun(store, TaskInstanceScope(DAG_ID, RUN_ID, task_id, -1))


def context_of(store: InMemoryTaskStateStore, task_id: str = "durable_task") -> dict[str, Any]:
    """A task context like ``TaskInstanceRun`` builds, for calling ``execute_complete`` directly."""
    ti = FakeTaskInstance(dag_id=DAG_ID, run_id=RUN_ID, task_id=task_id)
    scope = TaskInstanceScope(DAG_ID, RUN_ID, task_id, -1)
    return {"ti": ti, "task_instance": ti, "run_id": RUN_ID, "params": {}, "task_state_store": store.scoped(scope)}


def submit_op(task_id: str = "durable_task", **overrides: Any) -> DurableDatabricksSubmitRunOperator:
    return DurableDatabricksSubmitRunOperator(task_id=task_id, **{"tasks": TASKS, **POLLING, **overrides})


def run_now_op(job_id: int, task_id: str = "durable_task", **overrides: Any) -> DurableDatabricksRunNowOperator:
    return DurableDatabricksRunNowOperator(task_id=task_id, **{"job_id": job_id, **POLLING, **overrides})


# ---------------------------------------------------------------------- failure text and type


def test_failed_run_raises_upstreams_text_with_each_failed_tasks_error(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    emulator.advance(1, "FAILED")
    emulator.set_output(error="ZeroDivisionError: division by zero")
    outcome = task_run(store).run_try(submit_op())
    error = outcome.error
    assert isinstance(error, DatabricksRunFailedError), outcome
    assert isinstance(error, AirflowException), "upstream raises AirflowException"
    assert isinstance(error, JobFailedError), "our own handlers keep catching it"
    [run] = emulator.runs
    state = {"life_cycle_state": "TERMINATED", "result_state": "FAILED", "state_message": run.state_message}
    failed = [
        {"task_key": task.task_key, "run_id": task.run_id, "error": "ZeroDivisionError: division by zero"}
        for task in run.tasks
    ]
    assert str(error) == f"durable_task failed with terminal state: {state} and with the errors {failed}"
    assert error.failed_tasks == failed
    assert (error.external_id, error.status) == (run.run_id, "TERMINATED:FAILED")
    assert emulator.calls["runs/get-output"] == 2, "one runs/get-output per failed task run"


def test_failed_task_without_an_error_output_reports_the_runs_state_message(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    """Upstream's fallback: a failed task whose output has no ``error`` gets the run's ``state_message``."""
    emulator.hold("RUNNING")
    emulator.on_submit = lambda run: emulator.set_state(
        run.run_id, "TERMINATED", "FAILED", state_message="Task load failed"
    )
    with mock.patch.object(DatabricksRuns, "get_output", return_value={"metadata": {}}):
        outcome = task_run(store).run_try(submit_op())
    assert isinstance(outcome.error, DatabricksRunFailedError), outcome
    assert [t["error"] for t in outcome.error.failed_tasks] == ["Task load failed", "Task load failed"]


@pytest.mark.parametrize(
    ("life_cycle", "result"), [("TERMINATED", "TIMEDOUT"), ("TERMINATED", "CANCELED"), ("INTERNAL_ERROR", None)]
)
def test_a_run_that_did_not_fail_as_failed_reports_its_state_message(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, life_cycle: str, result: str | None
) -> None:
    emulator.hold("RUNNING")
    emulator.on_submit = lambda run: emulator.set_state(run.run_id, life_cycle, result, state_message="why not")
    outcome = task_run(store).run_try(submit_op())
    assert isinstance(outcome.error, DatabricksRunFailedError), outcome
    state = {"life_cycle_state": life_cycle, "result_state": result or "", "state_message": "why not"}
    assert str(outcome.error) == f"durable_task failed with terminal state: {state} and with the error why not"
    assert emulator.calls["runs/get-output"] == 0


def test_deferrable_failure_uses_upstreams_deferrable_wording(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    emulator.advance(1, "FAILED")
    outcome = task_run(store).run_try(submit_op(deferrable=True))
    assert outcome.deferred is not None
    assert isinstance(outcome.error, DatabricksRunFailedError), outcome
    assert str(outcome.error).startswith("Job run failed with terminal state: {'life_cycle_state': 'TERMINATED'")
    assert "emulated failure of task 'extract'" in str(outcome.error)


# ---------------------------------------------------------------------- repair_run


def test_repair_reason_updates_the_job_then_repairs(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    job_id = emulator.create_job("nightly", TASKS)
    emulator.hold("RUNNING")
    emulator.on_get = lambda run_id: (
        emulator.set_state(run_id, "TERMINATED", "SUCCESS")
        if emulator.run(run_id).repairs
        else emulator.set_state(run_id, "TERMINATED", "FAILED", state_message="Reason: SPOT_LOST (CLOUD_FAILURE)")
    )
    new_settings = {"max_concurrent_runs": 2, "tags": {"capacity": "on-demand"}}
    operator = run_now_op(
        job_id,
        repair_run=True,
        databricks_repair_reason_new_settings={"NO_CAPACITY": {"x": 1}, "SPOT_LOST": new_settings},
        job_parameters={"day": "2026-12-01"},
    )
    with mock.patch.object(DatabricksRuns, "repair", autospec=True, side_effect=DatabricksRuns.repair) as repair:
        outcome = task_run(store).run_try(operator)
    assert outcome.succeeded, outcome.error
    [created] = emulator.runs
    assert len(created.repairs) == 1
    assert emulator.jobs[job_id]["max_concurrent_runs"] == "2", "normalised as upstream (numbers to strings)"
    assert emulator.jobs[job_id]["tags"] == {"capacity": "on-demand"}
    assert repair.call_args.args[1] == {
        "run_id": created.run_id,
        "rerun_all_failed_tasks": True,
        "job_parameters": {"day": "2026-12-01"},
    }


def test_no_repair_when_no_reason_matches(emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore) -> None:
    job_id = emulator.create_job("nightly", TASKS)
    emulator.advance(1, "FAILED")
    operator = run_now_op(job_id, repair_run=True, databricks_repair_reason_new_settings={"NO_CAPACITY": {}})
    outcome = task_run(store).run_try(operator)
    assert isinstance(outcome.error, DatabricksRunFailedError), outcome
    assert emulator.calls["runs/repair"] == 0
    assert emulator.calls["update"] == 0


def test_corrupt_repair_record_is_an_error_naming_the_key(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    job_id = emulator.create_job("nightly", TASKS)
    emulator.advance(1, "FAILED")
    run = task_run(store)
    store.set(run.scope, "databricks_run_now_id_repair", {"run_id": "nope"})
    outcome = run.run_try(run_now_op(job_id, repair_run=True))
    assert isinstance(outcome.error, CorruptStateError), outcome
    assert "databricks_run_now_id_repair" in str(outcome.error)
    assert emulator.calls["runs/repair"] == 0


# ---------------------------------------------------------------------- cancel_previous_runs


def test_cancel_previous_runs_cancels_the_jobs_other_runs_not_its_own(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    job_id = emulator.create_job("nightly", TASKS)
    emulator.hold("RUNNING")
    other = DatabricksRuns(CONN_ID).run_now({"job_id": job_id})
    operator = run_now_op(job_id, cancel_previous_runs=True, wait_for_termination=False)
    outcome = task_run(store).run_try(operator)
    assert outcome.succeeded, outcome.error
    assert emulator.cancelled == [other]
    assert emulator.run(outcome.result["run_id"]).life_cycle_state == "RUNNING"


def test_cancel_previous_runs_never_cancels_the_run_a_retry_reconnects_to(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = emulator.create_job("nightly", TASKS)
    emulator.hold("RUNNING")
    crash = CrashController(EmulatorSystem(emulator), store)
    monkeypatch.setattr("time.sleep", crash.sleep)
    run = task_run(store)
    crash.arm(CrashPoint.MID_POLL)
    assert crash.run_try(run, run_now_op(job_id, cancel_previous_runs=True)).crashed
    [created] = emulator.runs
    emulator.on_get = lambda run_id: emulator.set_state(run_id, "TERMINATED", "SUCCESS")
    second = run.run_try(run_now_op(job_id, cancel_previous_runs=True))
    assert second.succeeded, second.error
    assert second.result["run_id"] == created.run_id
    assert emulator.calls["runs/cancel-all"] == 1, "only the first try's run-now cancels"
    assert emulator.cancelled == []


def test_cancel_previous_runs_skips_a_resubmission_with_the_previous_tries_token(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    """A crash between run-now and the persist: the retry's run-now (same token) gets its own run back,
    so cancelling the job's runs first would cancel that very run."""
    job_id = emulator.create_job("nightly", TASKS)
    emulator.advance(2)
    run = task_run(store)
    store.crash_on_external_id_write = True
    assert run.run_try(run_now_op(job_id, cancel_previous_runs=True)).crashed
    second = run.run_try(run_now_op(job_id, cancel_previous_runs=True))
    assert second.succeeded, second.error
    assert len(emulator.runs) == 1
    assert emulator.deduplicated == [emulator.runs[0].run_id]
    assert emulator.calls["runs/cancel-all"] == 1
    assert emulator.cancelled == []


def test_cancel_previous_runs_without_a_job_is_upstreams_error(emulator: DatabricksJobsEmulator) -> None:
    operator = DurableDatabricksRunNowOperator(task_id="t", cancel_previous_runs=True, **POLLING)
    with pytest.raises(ValueError, match="cancel_previous_runs=True requires either job_id or job_name"):
        operator.build_payload({})
    assert sum(emulator.calls.values()) == 0


# ---------------------------------------------------------------------- migration: tasks upstream deferred


def upstream_deferral(emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore) -> tuple[int, Any]:
    """Upstream's deferrable operator submits and defers; its trigger fires once the run ends.

    Returns:
        The run ID and the trigger event, as the triggerer hands it to the task after the upgrade.
    """
    from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
    from airflow.providers.databricks.triggers.databricks import DatabricksExecutionTrigger

    emulator.hold("RUNNING")
    upstream = DatabricksSubmitRunOperator(
        task_id="durable_task", tasks=TASKS, deferrable=True, polling_period_seconds=0, databricks_conn_id=CONN_ID
    )
    with pytest.raises(TaskDeferred) as deferred:
        upstream.execute(context_of(store))
    trigger = deferred.value.trigger
    assert isinstance(trigger, DatabricksExecutionTrigger)
    assert deferred.value.method_name == "execute_complete"
    [run] = emulator.runs
    return run.run_id, trigger


def fire(trigger: Any) -> dict[str, Any]:
    payload: dict[str, Any] = first_trigger_event(trigger).payload
    return payload


def test_a_task_deferred_by_upstream_completes_with_our_operator(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    run_id, trigger = upstream_deferral(emulator, store)
    emulator.set_state(run_id, "TERMINATED", "SUCCESS")
    event = fire(trigger)
    gets = emulator.calls["runs/get"]
    context = context_of(store)
    result = submit_op().execute_complete(context, event)
    url = event["run_page_url"]
    assert result == {"run_id": run_id, "run_page_url": url, "state": "TERMINATED:SUCCESS"}
    assert context["ti"].xcoms["run_id"] == run_id
    assert context["ti"].xcoms["run_page_url"] == url
    assert emulator.calls["runs/get"] == gets, "the event held all the result needs"
    assert len(emulator.runs) == 1


def test_a_failed_run_deferred_by_upstream_fails_with_upstreams_text(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    run_id, trigger = upstream_deferral(emulator, store)
    emulator.set_state(run_id, "TERMINATED", "FAILED", state_message="boom")
    event = fire(trigger)
    with pytest.raises(DatabricksRunFailedError) as failed:
        submit_op().execute_complete(context_of(store), event)
    state = {"life_cycle_state": "TERMINATED", "result_state": "FAILED", "state_message": "boom"}
    assert str(failed.value) == f"Job run failed with terminal state: {state} and with the errors {event['errors']}"
    assert event["errors"], "upstream's trigger reports the failed tasks' errors"
    assert len(emulator.runs) == 1


def test_upstream_event_with_repair_run_repairs_and_defers_on_our_trigger(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    job_id = emulator.create_job("nightly", TASKS)
    emulator.hold("RUNNING")
    run_id = DatabricksRuns(CONN_ID).run_now({"job_id": job_id})
    emulator.set_state(run_id, "TERMINATED", "FAILED", state_message="Cluster lost")
    state = json.dumps({"life_cycle_state": "TERMINATED", "result_state": "FAILED", "state_message": "Cluster lost"})
    event = {"run_id": run_id, "run_page_url": "u", "run_state": state, "repair_run": True, "errors": []}
    with pytest.raises(TaskDeferred) as deferred:
        run_now_op(job_id, deferrable=True).execute_complete(context_of(store), event)
    assert isinstance(deferred.value.trigger, DurableDatabricksRunTrigger)
    assert deferred.value.trigger.run_id == run_id
    assert deferred.value.method_name == "execute_complete"
    assert len(emulator.run(run_id).repairs) == 1


@pytest.mark.parametrize(
    "event",
    [{"event_id": "no such column"}, {"run_id": 1, "run_page_url": "u", "run_state": "{}", "errors": []}],
    ids=["missing-keys", "bad-run-state"],
)
def test_a_malformed_upstream_event_is_upstreams_error(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, event: dict[str, Any]
) -> None:
    with pytest.raises(AirflowException, match=r"Could not find `run_id`|Run state returned by the Trigger"):
        submit_op().execute_complete(context_of(store), event)
    assert sum(emulator.calls.values()) == 0


def test_a_bare_run_id_stored_by_upstream_reconnects(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    """Upstream's durable operator stores the bare ``run_id``: after the upgrade the retry reconnects to it."""
    emulator.hold("RUNNING")
    run_id = DatabricksRuns(CONN_ID).submit({"run_name": "r", "tasks": TASKS})
    run = task_run(store)
    store.set(run.scope, "databricks_run_id", run_id)
    emulator.on_get = lambda got: emulator.set_state(got, "TERMINATED", "SUCCESS")
    outcome = run.run_try(submit_op())
    assert outcome.succeeded, outcome.error
    assert outcome.result["run_id"] == run_id
    assert emulator.calls["runs/submit"] == 1
    assert run.stored("databricks_run_id")["phase"] == "succeeded"


def test_upstreams_not_found_sentinel_in_the_store_is_refused_without_submitting(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    """``"NOT_FOUND:"`` is a status upstream returns, never a value it stores; found there, it is corrupt."""
    run = task_run(store)
    store.set(run.scope, "databricks_run_id", "NOT_FOUND:")
    outcome = run.run_try(submit_op())
    assert isinstance(outcome.error, CorruptStateError), outcome
    assert "databricks_run_id" in str(outcome.error)
    assert sum(emulator.calls.values()) == 0


# ---------------------------------------------------------------------- XComs while the run is in flight


def test_run_xcoms_are_pushed_at_the_first_poll_and_once(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As upstream: the extra link's ``run_page_url`` is there while the run is polled (the try crashes then)."""
    emulator.hold("RUNNING")
    crash = CrashController(EmulatorSystem(emulator), store)
    monkeypatch.setattr("time.sleep", crash.sleep)
    run = task_run(store)
    crash.arm(CrashPoint.MID_POLL)
    first = crash.run_try(run, submit_op())
    assert first.crashed
    [created] = emulator.runs
    url = f"{emulator.url}/?o=0#job/{created.job_id}/run/{created.run_id}"
    assert first.xcoms == {"run_id": created.run_id, "run_page_url": url}

    ti = mock.MagicMock(stats_tags={})
    emulator.on_get = lambda run_id: emulator.set_state(run_id, "TERMINATED", "SUCCESS")
    operator = submit_op()
    operator.execute({**context_of(store), "ti": ti, "task_instance": ti})
    pushed = [mock.call(key="run_id", value=created.run_id), mock.call(key="run_page_url", value=url)]
    assert ti.xcom_push.mock_calls == pushed, "pushed once each (by keyword, as upstream)"


def test_not_durable_fire_and_forget_does_not_wait(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    """``durable=False, wait_for_termination=False``: submit and return, as upstream (no polling)."""
    emulator.hold("RUNNING")
    outcome = task_run(store).run_try(submit_op(durable=False, wait_for_termination=False))
    assert outcome.succeeded, outcome.error
    [created] = emulator.runs
    assert outcome.result == {"run_id": created.run_id, "run_page_url": outcome.xcoms["run_page_url"]}
    assert emulator.calls["runs/get"] == 1, "one runs/get for the run page URL, no polling"
