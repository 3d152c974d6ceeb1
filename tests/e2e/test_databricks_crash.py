"""Real Airflow 3.3 + the Databricks Jobs API emulator in its own process: SIGKILL mid-poll and in the
submit-to-persist window; Airflow's heartbeat-timeout detection schedules the retries."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_durable.demo.processes import ManagedProcesses
from airflow_durable_databricks.demo import DatabricksDemoScenario

pytestmark = pytest.mark.e2e


def test_sigkill_mid_poll_and_in_submit_window_gives_one_run_each(tmp_path: Path) -> None:
    with ManagedProcesses(tmp_path / "logs") as processes:
        mid_poll, window = DatabricksDemoScenario().run(tmp_path, processes, print)
    print(f"databricks e2e: {mid_poll}\n{window}")
    details = mid_poll.details
    assert details["dag_run_state"] == "success", details
    assert mid_poll.jobs_durable == 1, details["runs"]
    assert mid_poll.jobs_not_durable == 2, details["runs"]
    assert window.jobs_durable == 1, details["runs"]
    assert window.jobs_not_durable == 2, details["runs"]
    assert details["try_numbers"]["durable"] == 2
    assert details["try_numbers"]["submit_window"] == 2
    assert mid_poll.ok, details
    assert window.ok, details
