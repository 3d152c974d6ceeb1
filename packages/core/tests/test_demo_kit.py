"""Tests of the demo kit's own logic without a live stack: rows, XCom comparison, env merge, runner checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_durable.demo import runner
from airflow_durable.demo.airflow_stack import AirflowStack, AirflowStackError
from airflow_durable.demo.outcome import Observation, crash_rows, error_row
from airflow_durable.demo.processes import ManagedProcesses
from airflow_durable.demo.runner import run_provider, shared_stack_env
from demo_fakes import MID_POLL, WINDOW, FakeProvider, FakeStack

if TYPE_CHECKING:
    from pathlib import Path


def _observation(**changes: Any) -> Observation:
    seen = Observation(
        dag_run_state="success",
        jobs={"durable": ["1"], "not_durable": ["2", "3"], "uninterrupted": ["4"]},
        xcoms={
            "durable": {"answer": 42, "job": "1"},
            "uninterrupted": {"answer": 42, "job": "4"},
        },
        try_numbers={"durable": 2, "not_durable": 2, "uninterrupted": 1},
        decision_seconds={"durable": 4.2},
    )
    for name, value in changes.items():
        setattr(seen, name, value)
    return seen


@pytest.fixture
def provider(tmp_path: Path) -> FakeProvider:
    return FakeProvider("fake", tmp_path)


class TestCrashRows:
    def test_expected_outcome(self, provider: FakeProvider) -> None:
        [row] = crash_rows(provider, _observation(), 12.345)
        assert row.ok
        assert (row.provider, row.operator, row.crash_point) == ("fake", "DurableFakeOperator", MID_POLL.label)
        assert (row.jobs_durable, row.jobs_not_durable) == (1, 2)
        assert row.result == "dag run success; XCom = uninterrupted run's"
        assert row.seconds == 12.3
        assert row.details["kill_to_retry_decision_seconds"] == 4.2
        assert row.details["jobs"]["not_durable"] == ["2", "3"]

    def test_xcom_is_compared_after_masking_only_what_the_provider_masks(self, provider: FakeProvider) -> None:
        differs = {"durable": {"answer": 41, "job": "1"}, "uninterrupted": {"answer": 42, "job": "4"}}
        [row] = crash_rows(provider, _observation(xcoms=differs), 1.0)
        assert not row.ok
        assert row.result == "dag run success; XCom differs"
        # Without the provider's mask, the job IDs would make equal results differ.
        provider.comparable = lambda xcom: xcom  # type: ignore[method-assign]
        [unmasked] = crash_rows(provider, _observation(), 1.0)
        assert not unmasked.ok

    def test_a_missing_baseline_is_never_equal(self, provider: FakeProvider) -> None:
        [row] = crash_rows(provider, _observation(xcoms={"durable": None, "uninterrupted": None}), 1.0)
        assert not row.ok
        assert "XCom differs" in row.result

    @pytest.mark.parametrize(
        "changes",
        [
            {"dag_run_state": "failed"},
            {"jobs": {"durable": ["1", "5"], "not_durable": ["2", "3"], "uninterrupted": ["4"]}},
            {"jobs": {"durable": ["1"], "not_durable": ["2"], "uninterrupted": ["4"]}},
            {"jobs": {"durable": ["1"], "not_durable": ["2", "3"], "uninterrupted": []}},
            {"jobs": {"not_durable": ["2", "3"], "uninterrupted": ["4"]}},
            {"try_numbers": {"durable": 1, "not_durable": 2, "uninterrupted": 1}},
        ],
        ids=["dag-run-failed", "durable-resubmitted", "twin-not-resubmitted", "no-baseline-job", "no-job", "no-retry"],
    )
    def test_any_deviation_is_unexpected(self, provider: FakeProvider, changes: dict[str, Any]) -> None:
        [row] = crash_rows(provider, _observation(**changes), 1.0)
        assert not row.ok

    def test_one_row_per_crash_case_in_order(self, provider: FakeProvider) -> None:
        provider.crash_cases = (WINDOW, MID_POLL)
        seen = _observation()
        seen.jobs.update(window=["6"], window_twin=["7"])
        seen.xcoms["window"] = {"answer": 42, "job": "6"}
        seen.try_numbers["window"] = 2
        window, mid_poll = crash_rows(provider, seen, 1.0)
        assert window.crash_point == WINDOW.label
        assert (window.jobs_durable, window.jobs_not_durable) == (1, 1)
        assert not window.ok  # the twin submitted once only
        assert mid_poll.ok

    def test_error_row(self) -> None:
        try:
            raise TimeoutError("no driver RUNNING\nsecond line")
        except TimeoutError as exc:
            row = error_row("spark", exc, 3.14159)
        assert not row.ok
        assert row.result == "error: TimeoutError: no driver RUNNING"
        assert row.seconds == 3.1
        assert "TimeoutError" in row.details["traceback"]


class TestSharedStackEnv:
    def test_merges_and_gives_each_provider_its_own_directory(self, tmp_path: Path) -> None:
        env = shared_stack_env([FakeProvider("a", tmp_path, env={"X": "1"}), FakeProvider("b", tmp_path)], tmp_path)
        assert env == {"X": "1", "A_WORKDIR": str(tmp_path / "a"), "B_WORKDIR": str(tmp_path / "b")}

    def test_conflicting_values_are_refused(self, tmp_path: Path) -> None:
        providers = [FakeProvider("a", tmp_path, env={"PATH": "/a"}), FakeProvider("b", tmp_path, env={"PATH": "/b"})]
        with pytest.raises(ValueError, match="'a' and 'b' both set PATH differently"):
            shared_stack_env(providers, tmp_path)


class TestRunProvider:
    @pytest.fixture
    def stack(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeStack:
        monkeypatch.setattr(FakeStack, "dag_run_state", "running")
        return FakeStack(
            tmp_path,
            tmp_path,
            ManagedProcesses(tmp_path / "logs"),
            extra_env={},
            heartbeat_timeout_seconds=6,
            parallelism=4,
        )

    def test_a_provider_without_crash_cases_is_refused(self, provider: FakeProvider, stack: FakeStack) -> None:
        provider.crash_cases = ()
        with pytest.raises(ValueError, match="declares no crash case"):
            run_provider(stack, provider, provider.dag_dir, print)  # type: ignore[arg-type]

    def test_a_dag_run_that_ends_before_the_kill_fails_fast(
        self, provider: FakeProvider, stack: FakeStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setattr(FakeStack, "dag_run_state", "failed")
        with pytest.raises(AirflowStackError, match="ended before the tasks reached their crash points"):
            run_provider(stack, provider, tmp_path, print)  # type: ignore[arg-type]
        assert stack.killed == []

    def test_readiness_times_out(
        self, provider: FakeProvider, stack: FakeStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        provider.ready_to_kill = lambda system, record: False  # type: ignore[method-assign]
        provider.timeout_seconds = 0.2
        monkeypatch.setattr(runner, "_POLL_SECONDS", 0.05)
        with pytest.raises(TimeoutError, match="fake_dag: the tasks did not reach their crash points"):
            run_provider(stack, provider, tmp_path, print)  # type: ignore[arg-type]


def test_set_connection_validates_before_any_request(tmp_path: Path) -> None:
    stack = AirflowStack(tmp_path / "home", tmp_path, ManagedProcesses(tmp_path / "logs"))
    with pytest.raises(ValueError, match="needs conn_type"):
        stack.set_connection("c", {"host": "h"})
    with pytest.raises(ValueError, match="needs conn_type"):
        stack.set_connection("c", {"conn_type": "http", "hots": "h"})


def test_a_slow_api_server_gets_its_get_again_but_never_a_post(tmp_path: Path) -> None:
    """A read that times out on a loaded machine is sent again; a write that may have happened is not."""
    import httpx

    seen: list[str] = []
    slow = {"GET": 2, "POST": 1}

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        if request.url.path == "/auth/token":
            return httpx.Response(200, json={"access_token": "t"})
        if slow[request.method]:
            slow[request.method] -= 1
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, json={"state": "success"})

    stack = AirflowStack(tmp_path / "home", tmp_path, ManagedProcesses(tmp_path / "logs"))
    stack._client = httpx.Client(base_url="http://api", transport=httpx.MockTransport(answer))
    assert stack.dag_run("d", "r") == {"state": "success"}
    assert seen == ["GET", "GET", "GET", "GET"]  # the token, then the dag run three times
    with pytest.raises(httpx.ReadTimeout):
        stack.trigger("d")
    assert seen[4:] == ["POST"]
