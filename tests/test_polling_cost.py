"""The polling-cost benchmark's core (``benchmarks/polling_cost.py``) counts what it claims to count.

One provider (Databricks submit run: an in-process emulator, no subprocess) with a ten-minute fake job.
"""

from __future__ import annotations

import importlib.util
import random
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "polling_cost.py"


@pytest.fixture(scope="module")
def polling_cost() -> ModuleType:
    spec = importlib.util.spec_from_file_location("polling_cost", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["polling_cost"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_fake_clock_moves_only_the_patched_modules(polling_cost: Any) -> None:
    import airflow_durable.mixin as mixin

    clock = polling_cost.FakeClock()
    real_before = time.monotonic()
    with polling_cost.fake_time(clock, ["airflow_durable.mixin"]):
        mixin.time.sleep(3600)
        assert mixin.time.monotonic() == 3600.0
        assert mixin.time.perf_counter is time.perf_counter  # everything else stays real
    assert mixin.time is time
    assert time.monotonic() - real_before < 60, "the real clock must not have waited an hour"


def test_another_threads_sleep_neither_moves_nor_reads_the_fake_clock(polling_cost: Any) -> None:
    """A thread left behind by an earlier test (an abandoned ``on_kill`` cancel still retrying) must not
    advance the clock of the run under measurement."""
    import threading

    import airflow_durable.mixin as mixin

    clock = polling_cost.FakeClock()
    seen: list[float] = []
    with polling_cost.fake_time(clock, ["airflow_durable.mixin"]):
        mixin.time.sleep(30)
        other = threading.Thread(target=lambda: (mixin.time.sleep(0.01), seen.append(mixin.time.monotonic())))
        other.start()
        other.join()
        assert clock.now == 30.0
        assert mixin.time.monotonic() == 30.0
    assert clock.sleeps == 1
    assert seen[0] != 30.0, "the other thread read the real clock"


def test_one_provider_counts_status_calls_and_latency(polling_cost: Any) -> None:
    case = next(case for case in polling_cost.CASES if case.name == "databricks-submit-run")
    random.seed(0)
    row = polling_cost.run_case(case, job_seconds=600)
    ours, upstream = row.ours, row.upstream
    assert ours.error is None
    assert upstream.error is None
    assert ours.jobs == upstream.jobs == 1
    # Upstream's fixed 30 s period, starting at the job's creation: runs/get at 0, 30, ..., 600 s (21 calls),
    # then once more for the run page URL of its result.
    assert upstream.status_calls == 600 // 30 + 1 + 1
    assert upstream.latency_seconds == 0.0
    assert upstream.worst_latency_seconds == 30.0
    assert upstream.fake_seconds == 600.0
    # Ours backs off from 30 s up to 120 s: fewer calls, and the end is seen within the ceiling.
    assert row.max_poll_interval_seconds == 120.0
    assert 0 < ours.status_calls < upstream.status_calls
    assert 0 <= ours.latency_seconds <= ours.worst_latency_seconds <= 120.0
    assert ours.fake_seconds == pytest.approx(600.0 + ours.latency_seconds)
    assert ours.vendor_calls > ours.status_calls  # runs/submit is a vendor call, not a status call
    calls_ok, latency_ok = polling_cost.goals(row)
    assert latency_ok
    assert calls_ok is (ours.status_calls / upstream.status_calls <= 1 / 3 and row.deferred_ratio <= 1 / 3)
    assert "databricks-submit-run" in polling_cost.format_rows([row], 600)
    # The deferrable mode is measured too: its trigger polled, on the same schedule and ceiling.
    deferred = row.deferred
    assert deferred is not None
    assert deferred.deferred
    assert deferred.error is None
    assert deferred.jobs == 1
    assert deferred.max_poll_interval_seconds == 120.0
    assert 0 < deferred.status_calls < upstream.status_calls
    assert 0 <= deferred.latency_seconds <= deferred.worst_latency_seconds <= 120.0 + 1e-6  # float sums


@pytest.mark.parametrize("name", ["databricks-submit-run", "emr-serverless"])
def test_a_one_hour_job_meets_the_goal_at_the_defaults(polling_cost: Any, name: str) -> None:
    """Issue 12, P3, on the fake clock: at most a third of upstream's status calls, in both modes, and the end
    seen within the operator's own ``max_poll_interval_seconds``. EMR Serverless has the slowest upstream
    interval (60 s, so the widest default ceiling: 240 s) and the thinnest margin (``make bench-polling``
    runs every provider)."""
    from airflow_durable.backoff import default_max_poll_interval_seconds

    case = next(case for case in polling_cost.CASES if case.name == name)
    random.seed(0)
    row = polling_cost.run_case(case, job_seconds=3600)
    assert row.ours.error is None
    assert row.upstream.error is None
    assert row.deferred is not None
    assert row.deferred.error is None
    assert row.ours.jobs == row.deferred.jobs == row.upstream.jobs == 1
    assert row.ratio <= 1 / 3, row
    assert row.deferred_ratio <= 1 / 3, row
    assert polling_cost.goals(row) == (True, True)
    first = {"databricks-submit-run": 30.0, "emr-serverless": 60.0}[name]
    assert row.max_poll_interval_seconds == default_max_poll_interval_seconds(first)
    assert row.deferred.max_poll_interval_seconds == row.max_poll_interval_seconds
    assert row.ours.worst_latency_seconds <= row.max_poll_interval_seconds + 1e-6  # float sums
    assert row.deferred.worst_latency_seconds <= row.max_poll_interval_seconds + 1e-6


def test_measure_counts_match_the_emulators_own_counters(polling_cost: Any) -> None:
    """The listener's count is the job book's own per-job count, and the end is forced at the set time."""
    import contextlib
    from unittest import mock

    from airflow_durable_databricks.operators import DurableDatabricksSubmitRunOperator

    with contextlib.ExitStack() as stack:
        emulator = polling_cost.databricks(stack)
        clock = polling_cost.FakeClock()
        no_jitter = mock.patch("airflow_durable.backoff.random.uniform", return_value=0.0)
        with polling_cost.fake_time(clock, polling_cost.OURS_CLOCK), no_jitter:
            measured = polling_cost.measure(
                emulator,
                lambda task_id: DurableDatabricksSubmitRunOperator(
                    task_id=task_id,
                    tasks=polling_cost.DATABRICKS_TASKS,
                    databricks_conn_id="polling_databricks",
                    polling_period_seconds=10,
                    max_poll_interval_seconds=10,
                ),
                clock,
                task_id="counted",
                job_seconds=95,
            )
        [job] = emulator.book.jobs
        assert measured.error is None
        assert measured.status_calls == job.status_calls
        # A fixed 10 s period: polls at 0, 10, ..., 90 see the run active; the one at 100 sees it ended.
        assert measured.latency_seconds == pytest.approx(5.0)
        assert measured.worst_latency_seconds == pytest.approx(10.0)
        assert measured.fake_seconds == pytest.approx(100.0)
