"""Real Airflow 3.3 + the Databricks Jobs API emulator in its own process: SIGKILL mid-poll and in the
submit-to-persist window; Airflow's heartbeat-timeout detection schedules the retries."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_durable.demo.runner import run_provider

if TYPE_CHECKING:
    from conftest import DemoStack

pytestmark = pytest.mark.e2e


def test_sigkill_mid_poll_and_in_submit_window_gives_one_run_each(demo_stack: DemoStack) -> None:
    provider = demo_stack.providers["databricks"]
    mid_poll, window = run_provider(demo_stack.stack, provider, demo_stack.workdir, print)
    print(f"databricks e2e: {mid_poll}\n{window}")
    details = mid_poll.details
    assert details["dag_run_state"] == "success", details
    assert mid_poll.jobs_durable == 1, details["jobs"]
    assert mid_poll.jobs_not_durable == 2, details["jobs"]
    assert window.jobs_durable == 1, details["jobs"]
    assert window.jobs_not_durable == 2, details["jobs"]
    assert details["try_numbers"]["durable"] == 2
    assert details["try_numbers"]["submit_window"] == 2
    assert mid_poll.ok, details
    assert window.ok, details
