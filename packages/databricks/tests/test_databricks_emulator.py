"""Tests of the Databricks Jobs API emulator, driven by the real ``databricks-sdk`` ``WorkspaceClient``.

Everything runs against a local HTTP server; no Databricks account is needed. The SDK's ``Config`` reads
``DATABRICKS_*`` variables and ``~/.databrickscfg``, so every test isolates both.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk import errors as dbx_errors
from databricks.sdk.clock import Clock
from databricks.sdk.config import Config
from databricks.sdk.service import jobs

import airflow_durable_databricks
from airflow_durable_databricks.testing import (
    MULTI_TASK_OUTPUT_MESSAGE,
    DatabricksJobsEmulator,
    EmulatorControl,
    EmulatorControlError,
)


class FakeClock(Clock):
    """A clock whose ``sleep`` only moves time forward (makes SDK retry waits instant)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def isolated_databricks_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("DATABRICKS_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))


@pytest.fixture
def emulator() -> Iterator[DatabricksJobsEmulator]:
    with DatabricksJobsEmulator(polls_to_finish=3) as emu:
        yield emu


def client(emu_url: str, clock: Clock | None = None, retry_timeout_seconds: int = 5) -> WorkspaceClient:
    return WorkspaceClient(
        config=Config(host=emu_url, token="x", retry_timeout_seconds=retry_timeout_seconds, clock=clock)
    )


def notebook_task(key: str = "nb", **params: str) -> jobs.SubmitTask:
    return jobs.SubmitTask(
        task_key=key,
        existing_cluster_id="0000-000000-emulated",
        notebook_task=jobs.NotebookTask(notebook_path="/Shared/demo", base_parameters=dict(params)),
    )


def python_task(key: str, *parameters: str) -> jobs.SubmitTask:
    return jobs.SubmitTask(
        task_key=key,
        spark_python_task=jobs.SparkPythonTask(python_file="dbfs:/a.py", parameters=list(parameters)),
    )


def submit(w: WorkspaceClient, token: str | None = None, **params: str) -> int:
    waiter = w.jobs.submit(run_name="demo", tasks=[notebook_task(**params)], idempotency_token=token)
    run_id = waiter.run_id
    assert isinstance(run_id, int)
    return run_id


def lifecycle(run: jobs.Run) -> tuple[str | None, str | None]:
    assert run.state is not None
    life = run.state.life_cycle_state.value if run.state.life_cycle_state else None
    result = run.state.result_state.value if run.state.result_state else None
    return life, result


# ---------------------------------------------------------------------- client construction


def test_client_builds_against_emulator_and_well_known_is_404(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    assert w.config.host == emulator.url
    probes = [r for r in emulator.requests if r.path == "/.well-known/databricks-config"]
    # databricks-sdk 0.162 probes the host metadata once per client; older releases (0.50) do not.
    assert [r.status for r in probes] in ([404], [])
    # The token travels as a bearer token on API calls.
    submit(w)
    assert emulator.requests[-1].authorization == "Bearer x"
    assert emulator.requests[-1].endpoint == "runs/submit"


# ---------------------------------------------------------------------- idempotency


def test_same_token_returns_same_run(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    first = submit(w, token="tok-1", a="1")
    second = submit(w, token="tok-1", a="different payload")
    assert first == second
    assert emulator.submissions == [first]
    assert emulator.deduplicated == [first]
    assert emulator.calls["runs/submit"] == 2
    assert emulator.run(first).idempotency_token == "tok-1"
    assert emulator.run(first).request["tasks"][0]["notebook_task"]["base_parameters"] == {"a": "1"}
    third = submit(w, token="tok-2")
    assert third != first
    assert emulator.submissions == [first, third]
    untokened = [submit(w), submit(w)]
    assert len(set(untokened)) == 2


def test_concurrent_submits_with_one_token_create_one_run(emulator: DatabricksJobsEmulator) -> None:
    emulator.latency_seconds = 0.05
    clients = [client(emulator.url) for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        run_ids = list(pool.map(lambda w: submit(w, token="race"), clients))
    assert len(set(run_ids)) == 1
    assert emulator.submissions == run_ids[:1]
    assert len(emulator.deduplicated) == 7


def test_token_reuse_after_failure_returns_the_failed_run(emulator: DatabricksJobsEmulator) -> None:
    emulator.advance(polls_to_finish=1, outcome="FAILED")
    w = client(emulator.url)
    run_id = submit(w, token="retry-me")
    assert lifecycle(w.jobs.get_run(run_id)) == ("TERMINATED", "FAILED")
    emulator.advance(polls_to_finish=1, outcome="SUCCESS")
    again = submit(w, token="retry-me")
    assert again == run_id
    assert lifecycle(w.jobs.get_run(again)) == ("TERMINATED", "FAILED")
    assert emulator.submissions == [run_id]
    fresh = submit(w, token="retry-me-2")
    assert lifecycle(w.jobs.get_run(fresh)) == ("TERMINATED", "SUCCESS")


def test_token_longer_than_64_characters_is_rejected(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    with pytest.raises(dbx_errors.InvalidParameterValue, match="at most 64"):
        submit(w, token="x" * 65)
    assert emulator.submissions == []
    assert submit(w, token="y" * 64) == emulator.submissions[0]


# ---------------------------------------------------------------------- life cycle


def test_advance_life_cycle_and_run_shape(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    run_id = submit(w, token="t")
    seen = [w.jobs.get_run(run_id) for _ in range(4)]
    assert [lifecycle(r) for r in seen] == [
        ("PENDING", None),
        ("RUNNING", None),
        ("TERMINATED", "SUCCESS"),
        ("TERMINATED", "SUCCESS"),
    ]
    statuses = [r.status.state.value for r in seen if r.status and r.status.state]
    assert statuses == ["PENDING", "RUNNING", "TERMINATED", "TERMINATED"]
    assert seen[0].status is not None
    assert seen[0].status.termination_details is None
    final = seen[-1]
    assert final.status is not None
    assert final.status.termination_details is not None
    assert final.status.termination_details.code == jobs.TerminationCodeCode.SUCCESS
    assert final.status.termination_details.type == jobs.TerminationTypeType.SUCCESS
    assert final.run_id == run_id
    assert final.run_type == jobs.RunType.SUBMIT_RUN
    assert final.run_name == "demo"
    assert final.job_id is not None
    assert final.job_id != run_id
    assert final.run_page_url == f"{emulator.url}/?o=0#job/{final.job_id}/run/{run_id}"
    assert final.start_time
    assert final.end_time
    assert final.end_time >= final.start_time
    assert seen[0].end_time == 0
    assert final.state is not None
    assert final.state.user_cancelled_or_timedout is False
    assert final.tasks is not None
    assert len(final.tasks) == 1
    task = final.tasks[0]
    assert task.task_key == "nb"
    assert task.run_id not in (None, run_id)
    assert task.state is not None
    assert task.state.result_state == jobs.RunResultState.SUCCESS
    assert task.notebook_task is not None
    assert task.notebook_task.notebook_path == "/Shared/demo"
    assert emulator.gets_for(run_id) == 4
    assert emulator.run(run_id).history == [("PENDING", None), ("RUNNING", None), ("TERMINATED", "SUCCESS")]
    # A task run ID is a run of its own for runs/get (and does not advance the job run).
    assert task.run_id is not None
    task_run = w.jobs.get_run(task.run_id)
    assert task_run.run_id == task.run_id
    assert task_run.job_run_id == run_id


@pytest.mark.parametrize(
    ("outcome", "life", "result", "code", "kind"),
    [
        ("FAILED", "TERMINATED", "FAILED", "RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
        ("TIMEDOUT", "TERMINATED", "TIMEDOUT", "CANCELED", "CLIENT_ERROR"),
        ("INTERNAL_ERROR", "INTERNAL_ERROR", "FAILED", "INTERNAL_ERROR", "INTERNAL_ERROR"),
        ("SKIPPED", "SKIPPED", None, "SKIPPED", "SUCCESS"),
    ],
)
def test_advance_outcomes_keep_state_and_status_consistent(
    emulator: DatabricksJobsEmulator, outcome: str, life: str, result: str | None, code: str, kind: str
) -> None:
    emulator.advance(polls_to_finish=2, outcome=outcome)
    w = client(emulator.url)
    run_id = submit(w)
    assert lifecycle(w.jobs.get_run(run_id)) == ("PENDING", None)
    run = w.jobs.get_run(run_id)
    assert lifecycle(run) == (life, result)
    assert run.status is not None
    assert run.status.state == jobs.RunLifecycleStateV2State.TERMINATED
    assert run.status.termination_details is not None
    assert run.status.termination_details.code == jobs.TerminationCodeCode(code)
    assert run.status.termination_details.type == jobs.TerminationTypeType(kind)
    assert run.state is not None
    assert run.state.user_cancelled_or_timedout is (outcome == "TIMEDOUT")


def test_advance_rejects_unknown_outcome(emulator: DatabricksJobsEmulator) -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        emulator.advance(2, "MAYBE")
    with pytest.raises(ValueError, match=">= 1"):
        emulator.advance(0)


def test_hold_keeps_runs_running_until_moved(emulator: DatabricksJobsEmulator) -> None:
    emulator.hold()
    w = client(emulator.url)
    run_id = submit(w)
    assert {lifecycle(w.jobs.get_run(run_id)) for _ in range(5)} == {("RUNNING", None)}
    emulator.set_state(run_id, "TERMINATED", "SUCCESS")
    assert lifecycle(w.jobs.get_run(run_id)) == ("TERMINATED", "SUCCESS")
    # A held run resumes counting when advance mode comes back, and never moves backwards.
    other = submit(w)
    emulator.advance(polls_to_finish=2)
    assert lifecycle(w.jobs.get_run(other)) == ("RUNNING", None)
    assert lifecycle(w.jobs.get_run(other)) == ("TERMINATED", "SUCCESS")


@pytest.mark.parametrize(
    ("life", "result", "status_state"),
    [
        ("INTERNAL_ERROR", "FAILED", "TERMINATED"),
        ("SKIPPED", None, "TERMINATED"),
        ("BLOCKED", None, "BLOCKED"),
        ("WAITING_FOR_RETRY", None, "WAITING"),
        ("QUEUED", None, "QUEUED"),
        ("TERMINATING", None, "TERMINATING"),
    ],
)
def test_set_state_forces_any_documented_state(
    emulator: DatabricksJobsEmulator, life: str, result: str | None, status_state: str
) -> None:
    w = client(emulator.url)
    run_id = submit(w)
    emulator.set_state(run_id, life, result)
    for _ in range(3):  # pinned: polls do not move it
        run = w.jobs.get_run(run_id)
        assert lifecycle(run) == (life, result)
        assert run.status is not None
        assert run.status.state == jobs.RunLifecycleStateV2State(status_state)
    if life == "QUEUED":
        assert run.state is not None
        assert run.state.queue_reason
        assert run.status is not None
        assert run.status.queue_details is not None


def test_set_state_with_explicit_status_and_termination_code(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    run_id = submit(w)
    emulator.set_state(run_id, "TERMINATED", "FAILED", termination_code="CLUSTER_ERROR", state_message="boom")
    run = w.jobs.get_run(run_id)
    assert run.state is not None
    assert run.state.state_message == "boom"
    assert run.status is not None
    assert run.status.termination_details is not None
    assert run.status.termination_details.code == jobs.TerminationCodeCode.CLUSTER_ERROR
    assert run.status.termination_details.type == jobs.TerminationTypeType.CLIENT_ERROR
    assert run.status.termination_details.message == "boom"


def test_unknown_state_strings_reach_the_wire_but_the_sdk_parses_them_as_none(
    emulator: DatabricksJobsEmulator,
) -> None:
    w = client(emulator.url)
    run_id = submit(w)
    emulator.set_state(run_id, "EXPLODING", "WEIRD", status_state="MELTING")
    raw = httpx.get(f"{emulator.url}/api/2.2/jobs/runs/get", params={"run_id": run_id}).json()
    assert raw["state"]["life_cycle_state"] == "EXPLODING"
    assert raw["state"]["result_state"] == "WEIRD"
    assert raw["status"]["state"] == "MELTING"
    run = w.jobs.get_run(run_id)
    assert run.state is not None
    assert run.state.life_cycle_state is None
    assert run.state.result_state is None
    assert run.status is not None
    assert run.status.state is None


# ---------------------------------------------------------------------- errors for unknown runs


def test_unknown_run_is_resource_does_not_exist(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    raw = httpx.get(f"{emulator.url}/api/2.2/jobs/runs/get", params={"run_id": 424242})
    assert raw.status_code == 400
    assert raw.json() == {"error_code": "INVALID_PARAMETER_VALUE", "message": "Run 424242 does not exist."}
    with pytest.raises(dbx_errors.ResourceDoesNotExist, match="Run 424242 does not exist") as info:
        w.jobs.get_run(424242)
    assert isinstance(info.value, dbx_errors.NotFound)
    assert emulator.gets_for(424242) == 2


def test_forgotten_run_does_not_exist_and_keeps_its_token(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    run_id = submit(w, token="gone")
    task_run_id = emulator.run(run_id).task_run_ids[0]
    assert lifecycle(w.jobs.get_run(run_id)) == ("PENDING", None)
    emulator.forget(run_id)
    with pytest.raises(dbx_errors.ResourceDoesNotExist):
        w.jobs.get_run(run_id)
    with pytest.raises(dbx_errors.ResourceDoesNotExist):
        w.jobs.get_run(task_run_id)
    with pytest.raises(dbx_errors.ResourceDoesNotExist):
        w.jobs.get_run_output(task_run_id)
    with pytest.raises(dbx_errors.InvalidParameterValue):
        w.jobs.cancel_run(run_id)
    # "If a run with the provided token is deleted, an error is returned."
    with pytest.raises(dbx_errors.InvalidParameterValue, match="deleted"):
        submit(w, token="gone")
    emulator.forget(run_id, release_token=True)
    new_run = submit(w, token="gone")
    assert new_run != run_id
    assert emulator.submissions == [run_id, new_run]
    assert emulator.run(run_id).forgotten


# ---------------------------------------------------------------------- cancel


def test_cancel_unknown_run_is_invalid_parameter_value(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    with pytest.raises(dbx_errors.InvalidParameterValue, match="Run 777 does not exist") as info:
        w.jobs.cancel_run(777)
    assert isinstance(info.value, dbx_errors.BadRequest)
    assert not isinstance(info.value, dbx_errors.NotFound)
    assert emulator.cancelled == []


def test_cancel_moves_running_run_to_terminating_then_canceled(emulator: DatabricksJobsEmulator) -> None:
    emulator.hold()
    w = client(emulator.url)
    run_id = submit(w)
    assert lifecycle(w.jobs.get_run(run_id)) == ("RUNNING", None)
    w.jobs.cancel_run(run_id)
    assert emulator.cancelled == [run_id]
    run = w.jobs.get_run(run_id)
    assert lifecycle(run) == ("TERMINATED", "CANCELED")
    assert run.state is not None
    assert run.state.user_cancelled_or_timedout is True
    assert run.status is not None
    assert run.status.termination_details is not None
    assert run.status.termination_details.code == jobs.TerminationCodeCode.USER_CANCELED
    assert emulator.run(run_id).history == [("RUNNING", None), ("TERMINATING", None), ("TERMINATED", "CANCELED")]
    # Cancelling a terminal run is accepted and changes nothing.
    w.jobs.cancel_run(run_id)
    assert lifecycle(w.jobs.get_run(run_id)) == ("TERMINATED", "CANCELED")
    assert emulator.cancelled == [run_id, run_id]


def test_cancel_waits_polls_to_cancel(emulator: DatabricksJobsEmulator) -> None:
    emulator.polls_to_cancel = 2
    w = client(emulator.url)
    run_id = submit(w)
    w.jobs.cancel_run(run_id)
    assert lifecycle(w.jobs.get_run(run_id)) == ("TERMINATING", None)
    assert lifecycle(w.jobs.get_run(run_id)) == ("TERMINATED", "CANCELED")


# ---------------------------------------------------------------------- retries (the SDK's)


def test_429_and_503_with_retry_after_are_retried_transparently(emulator: DatabricksJobsEmulator) -> None:
    clock = FakeClock()
    w = client(emulator.url, clock=clock, retry_timeout_seconds=60)
    run_id = submit(w)
    emulator.fail_next(2, 429, endpoint="runs/get", retry_after_seconds=3)
    emulator.fail_next(1, 503, endpoint="runs/get", retry_after_seconds=1)
    started = time.monotonic()
    run = w.jobs.get_run(run_id)
    assert time.monotonic() - started < 1.0
    assert lifecycle(run) == ("PENDING", None)  # faulted answers are not polls
    assert emulator.calls["runs/get"] == 4
    assert emulator.faults_served["runs/get"] == 3
    assert emulator.gets_for(run_id) == 1
    # The SDK sleeps Retry-After plus up to 1 s of jitter, on the configured clock.
    assert [int(s) for s in clock.sleeps] == [3, 3, 1]


def test_fault_body_and_retry_after_header_on_the_wire(emulator: DatabricksJobsEmulator) -> None:
    emulator.fail_next(1, 429, endpoint="runs/get", retry_after_seconds=2)
    response = httpx.get(f"{emulator.url}/api/2.2/jobs/runs/get", params={"run_id": 1})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.json()["error_code"] == "TOO_MANY_REQUESTS"
    emulator.fail_next(1, 503, endpoint="runs/get", retry_after_seconds=None)
    response = httpx.get(f"{emulator.url}/api/2.2/jobs/runs/get", params={"run_id": 1})
    assert response.status_code == 503
    assert "Retry-After" not in response.headers
    assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"


def test_429_retry_waits_for_real_without_a_fake_clock(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url, retry_timeout_seconds=30)
    run_id = submit(w)
    emulator.fail_next(1, 429, endpoint="runs/get", retry_after_seconds=1)
    started = time.monotonic()
    w.jobs.get_run(run_id)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 4.0  # Retry-After 1 s + jitter in [0, 1), plus slack for a busy machine
    assert emulator.calls["runs/get"] == 2


def test_retry_after_longer_than_retry_timeout_ends_in_timeout(emulator: DatabricksJobsEmulator) -> None:
    clock = FakeClock()
    w = client(emulator.url, clock=clock, retry_timeout_seconds=5)
    run_id = submit(w)
    emulator.fail_next(1, 429, endpoint="runs/get", retry_after_seconds=30)
    with pytest.raises(TimeoutError):
        w.jobs.get_run(run_id)
    assert emulator.calls["runs/get"] == 1


def test_plain_500_is_not_retried(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url, clock=FakeClock())
    run_id = submit(w)
    emulator.fail_next(1, 500, endpoint="runs/get")
    with pytest.raises(dbx_errors.InternalError):
        w.jobs.get_run(run_id)
    assert emulator.calls["runs/get"] == 1
    assert emulator.gets_for(run_id) == 0


def test_failed_submit_creates_no_run(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url, clock=FakeClock())
    emulator.fail_next(1, 500, endpoint="runs/submit")
    with pytest.raises(dbx_errors.InternalError):
        submit(w, token="t")
    assert emulator.submissions == []
    emulator.fail_next(1, 503, endpoint="runs/submit", retry_after_seconds=0)
    run_id = submit(w, token="t")
    assert emulator.submissions == [run_id]
    assert emulator.calls["runs/submit"] == 3


def test_dropped_connection_is_retried_by_the_sdk(emulator: DatabricksJobsEmulator) -> None:
    clock = FakeClock()
    w = client(emulator.url, clock=clock, retry_timeout_seconds=60)
    run_id = submit(w)
    emulator.fail_next(1, 0, endpoint="runs/get")
    w.jobs.get_run(run_id)
    assert emulator.calls["runs/get"] == 2
    assert len(clock.sleeps) == 1


def test_fault_rate_injects_random_429_and_503(emulator: DatabricksJobsEmulator) -> None:
    emulator.hold()
    clock = FakeClock()
    w = client(emulator.url, clock=clock, retry_timeout_seconds=3600)
    run_id = submit(w)
    emulator.fault_rate(0.2, endpoint="runs/get", seed=7, retry_after_seconds=1)
    for _ in range(40):
        assert lifecycle(w.jobs.get_run(run_id)) == ("RUNNING", None)
    faults = emulator.faults_served["runs/get"]
    assert 2 <= faults <= 25
    assert emulator.calls["runs/get"] == 40 + faults
    assert emulator.gets_for(run_id) == 40
    assert {r.status for r in emulator.requests if r.endpoint == "runs/get"} == {200, 429, 503}
    emulator.fault_rate(0)
    w.jobs.get_run(run_id)
    assert emulator.faults_served["runs/get"] == faults


def test_latency_delays_api_answers(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    run_id = submit(w)
    emulator.latency_seconds = 0.2
    started = time.monotonic()
    w.jobs.get_run(run_id)
    assert time.monotonic() - started >= 0.2


def test_fault_arguments_are_checked(emulator: DatabricksJobsEmulator) -> None:
    with pytest.raises(ValueError, match="unknown endpoint"):
        emulator.fail_next(1, 503, endpoint="runs/list")
    with pytest.raises(ValueError, match="rate"):
        emulator.fault_rate(1.5)


# ---------------------------------------------------------------------- output


def test_get_output_of_task_run_is_deterministic_from_the_payload(emulator: DatabricksJobsEmulator) -> None:
    emulator.advance(polls_to_finish=2)
    w = client(emulator.url)
    run_id = submit(w, b="2", a="1")
    task_run_id = emulator.run(run_id).task_run_ids[0]
    early = w.jobs.get_run_output(task_run_id)
    assert early.notebook_output is None
    assert early.metadata is not None
    assert early.metadata.state is not None
    assert early.metadata.state.life_cycle_state == jobs.RunLifeCycleState.PENDING
    w.jobs.get_run(run_id)
    w.jobs.get_run(run_id)
    output = w.jobs.get_run_output(task_run_id)
    assert output.notebook_output is not None
    assert output.notebook_output.result == json.dumps({"a": "1", "b": "2"}, sort_keys=True)
    assert output.notebook_output.truncated is False
    assert output.metadata is not None
    assert output.metadata.run_id == task_run_id
    assert output.metadata.job_run_id == run_id
    emulator.set_output(run_id, result="custom")
    custom = w.jobs.get_run_output(task_run_id).notebook_output
    assert custom is not None
    assert custom.result == "custom"


def test_get_output_of_the_job_run_id_is_refused_like_api_2_1(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    run_id = submit(w)
    with pytest.raises(dbx_errors.InvalidParameterValue) as info:
        w.jobs.get_run_output(run_id)
    assert str(info.value) == MULTI_TASK_OUTPUT_MESSAGE
    assert not isinstance(info.value, dbx_errors.NotFound)
    emulator.parent_output = True
    emulator.set_state(run_id, "TERMINATED", "SUCCESS")
    output = w.jobs.get_run_output(run_id)
    assert output.metadata is not None
    assert output.metadata.run_id == run_id
    assert output.notebook_output is not None
    assert output.notebook_output.result == "{}"


def test_get_output_of_failed_and_non_notebook_tasks(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    waiter = w.jobs.submit(run_name="py", tasks=[python_task("py", "--x", "1"), notebook_task("nb2")])
    run = emulator.run(waiter.run_id)
    py_task, nb_task = run.tasks
    emulator.set_state(run.run_id, "TERMINATED", "SUCCESS")
    output = w.jobs.get_run_output(py_task.run_id)
    assert output.logs == json.dumps(["--x", "1"])
    assert output.notebook_output is None
    emulator.set_output(run.run_id, error="ValueError: bad input", task_key="nb2")
    emulator.set_state(run.run_id, "TERMINATED", "FAILED")
    failed = w.jobs.get_run_output(nb_task.run_id)
    assert failed.error == "ValueError: bad input"
    assert failed.error_trace
    assert failed.notebook_output is None
    assert "emulated failure" in (w.jobs.get_run_output(py_task.run_id).error or "")


def test_notebook_result_is_truncated_at_5_mb(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    run_id = submit(w)
    emulator.set_state(run_id, "TERMINATED", "SUCCESS")
    emulator.set_output(run_id, result="x" * (5 * 1024 * 1024 + 10))
    output = w.jobs.get_run_output(emulator.run(run_id).task_run_ids[0])
    assert output.notebook_output is not None
    assert output.notebook_output.truncated is True
    assert len(output.notebook_output.result or "") == 5 * 1024 * 1024


# ---------------------------------------------------------------------- jobs and run-now


def test_run_now_needs_an_existing_job(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    with pytest.raises(dbx_errors.InvalidParameterValue, match="Job 31337 does not exist"):
        w.jobs.run_now(31337, idempotency_token="t")
    with pytest.raises(dbx_errors.ResourceDoesNotExist):
        w.jobs.get(31337)
    assert emulator.submissions == []


def test_run_now_with_a_job_created_through_the_sdk(emulator: DatabricksJobsEmulator) -> None:
    emulator.advance(polls_to_finish=1)
    w = client(emulator.url)
    created = w.jobs.create(
        name="nightly",
        tasks=[
            jobs.Task(
                task_key="nb",
                existing_cluster_id="c",
                notebook_task=jobs.NotebookTask(notebook_path="/n", base_parameters={"a": "base", "b": "base"}),
            )
        ],
        parameters=[jobs.JobParameterDefinition(name="env", default="dev")],
    )
    assert created.job_id is not None
    job = w.jobs.get(created.job_id)
    assert job.settings is not None
    assert job.settings.name == "nightly"
    assert job.settings.tasks is not None
    assert job.settings.tasks[0].task_key == "nb"

    waiter = w.jobs.run_now(
        created.job_id, idempotency_token="rn-1", notebook_params={"b": "nb"}, job_parameters={"env": "prod"}
    )
    assert waiter.response is not None
    run_id = waiter.response.run_id
    assert waiter.response.number_in_job == run_id
    again = w.jobs.run_now(created.job_id, idempotency_token="rn-1")
    assert again.response is not None
    assert again.response.run_id == run_id
    assert emulator.submissions == [run_id]

    run = w.jobs.get_run(run_id)
    assert run.job_id == created.job_id
    assert run.run_type == jobs.RunType.JOB_RUN
    assert run.run_name == "nightly"
    assert run.job_parameters is not None
    assert [(p.name, p.value, p.default) for p in run.job_parameters] == [("env", "prod", "dev")]
    assert run.tasks is not None
    assert run.tasks[0].run_id is not None
    output = w.jobs.get_run_output(run.tasks[0].run_id)
    assert output.notebook_output is not None
    assert json.loads(output.notebook_output.result or "") == {"a": "base", "b": "nb", "env": "prod"}


def test_run_now_tokens_are_scoped_to_the_job(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    task = {"task_key": "t", "notebook_task": {"notebook_path": "/n"}}
    job_a = emulator.create_job("a", [task])
    job_b = emulator.create_job("b", [task])
    run_a = w.jobs.run_now(job_a, idempotency_token="same").response
    run_b = w.jobs.run_now(job_b, idempotency_token="same").response
    assert run_a is not None
    assert run_b is not None
    assert run_a.run_id != run_b.run_id
    assert emulator.jobs[job_a]["name"] == "a"


def test_legacy_single_task_submit_body(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    body = {
        "run_name": "legacy",
        "existing_cluster_id": "c",
        "notebook_task": {"notebook_path": "/n", "base_parameters": {"k": "v"}},
        "idempotency_token": "legacy-1",
    }
    response = w.api_client.do("POST", "/api/2.2/jobs/runs/submit", body=body)
    assert isinstance(response, dict)
    run = emulator.run(int(response["run_id"]))
    assert [t.task_key for t in run.tasks] == ["main"]
    assert run.tasks[0].settings["existing_cluster_id"] == "c"
    with pytest.raises(dbx_errors.InvalidParameterValue, match="at least one task"):
        w.api_client.do("POST", "/api/2.2/jobs/runs/submit", body={"run_name": "empty"})
    with pytest.raises(dbx_errors.InvalidParameterValue, match="not unique"):
        w.api_client.do(
            "POST",
            "/api/2.2/jobs/runs/submit",
            body={"tasks": [{"task_key": "a", "notebook_task": {}}, {"task_key": "a", "notebook_task": {}}]},
        )


def test_unknown_endpoint_and_wrong_method(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    with pytest.raises(dbx_errors.NotFound, match="No API found"):
        w.api_client.do("GET", "/api/2.2/jobs/runs/list")
    with pytest.raises(dbx_errors.NotFound, match="No API found for 'POST"):
        w.api_client.do("POST", "/api/2.2/jobs/runs/get", body={"run_id": 1})


# ---------------------------------------------------------------------- hooks, reset, control API


def test_on_get_hook_runs_before_the_answer(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    run_id = submit(w)

    def finish(polled: int) -> None:
        emulator.set_state(polled, "TERMINATED", "FAILED")

    emulator.on_get = finish
    assert lifecycle(w.jobs.get_run(run_id)) == ("TERMINATED", "FAILED")
    assert emulator.hook_errors == []


def test_reset_forgets_everything_but_keeps_ids_increasing(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url)
    first = submit(w, token="t")
    emulator.hold()
    emulator.fail_next(5, 503)
    emulator.reset()
    assert emulator.mode == "advance"
    assert emulator.submissions == []
    assert not emulator.calls
    second = submit(w, token="t")
    assert second > first
    with pytest.raises(dbx_errors.ResourceDoesNotExist):
        w.jobs.get_run(first)


def test_control_api_in_thread(emulator: DatabricksJobsEmulator) -> None:
    w = client(emulator.url, clock=FakeClock(), retry_timeout_seconds=60)
    with EmulatorControl(emulator.url) as control:
        control.wait_until_up()
        control.hold()
        job_id = control.create_job("j", [{"task_key": "t", "notebook_task": {"notebook_path": "/n"}}])
        response = w.jobs.run_now(job_id, idempotency_token="c-1").response
        assert response is not None
        run_id = response.run_id
        assert run_id is not None
        assert control.submissions() == [run_id]
        assert control.run(run_id)["life_cycle_state"] == "RUNNING"
        control.fail_next(1, 429, endpoint="runs/get", retry_after_seconds=0)
        control.set_state(run_id, "INTERNAL_ERROR", "FAILED")
        control.set_output(run_id, error="boom")
        assert lifecycle(w.jobs.get_run(run_id)) == ("INTERNAL_ERROR", "FAILED")
        assert control.calls()["runs/get"] == 2
        state = control.state()
        assert state["mode"] == "hold"
        assert state["runs"][0]["status_state"] == "TERMINATED"
        assert state["runs"][0]["termination_code"] == "INTERNAL_ERROR"
        control.forget(run_id)
        with pytest.raises(dbx_errors.ResourceDoesNotExist):
            w.jobs.get_run(run_id)
        control.set_latency(0.0)
        control.fault_rate(0.0)
        control.advance(1, "FAILED")
        with pytest.raises(EmulatorControlError, match="unknown outcome"):
            control.advance(1, "NOPE")
        with pytest.raises(EmulatorControlError, match="KeyError"):
            control.set_state(99999, "RUNNING")
        control.reset()
        assert control.runs() == []


# ---------------------------------------------------------------------- process mode


def test_process_mode_with_port_file_and_control_client(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    src = Path(airflow_durable_databricks.__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_durable.testing.serve",
            "airflow_durable_databricks.testing.emulator:DatabricksJobsEmulator",
            "--port",
            "0",
            "--port-file",
            str(port_file),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "emulator process did not write its port file"
            time.sleep(0.02)
        port = int(port_file.read_text())
        assert process.stdout is not None
        assert int(process.stdout.readline()) == port
        url = f"http://127.0.0.1:{port}"
        w = client(url)
        with EmulatorControl(url) as control:
            control.wait_until_up()
            control.hold()
            run_id = submit(w, token="proc-1")
            assert submit(w, token="proc-1") == run_id
            assert lifecycle(w.jobs.get_run(run_id)) == ("RUNNING", None)
            control.set_state(run_id, "TERMINATED", "SUCCESS")
            assert lifecycle(w.jobs.get_run(run_id)) == ("TERMINATED", "SUCCESS")
            summary: dict[str, Any] = control.run(run_id)
            assert summary["idempotency_token"] == "proc-1"
            assert summary["history"] == [["RUNNING", None], ["TERMINATED", "SUCCESS"]]
            assert control.calls() == {"runs/submit": 2, "runs/get": 2}
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()
    assert process.returncode == 0
