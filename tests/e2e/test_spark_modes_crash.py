"""Real Airflow 3.3 + Spark in YARN and Kubernetes cluster modes, each against its emulator in its own process
(the ResourceManager REST API with the stand-in ``spark-submit``; the Kubernetes API with pyspark's real
``spark-submit``): SIGKILL mid-poll and in the submit-to-persist window; Airflow's heartbeat-timeout detection
schedules the retries, and the durable retries find the window's application by tag and driver pod by label."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_durable.demo.runner import run_provider

if TYPE_CHECKING:
    from conftest import DemoStack

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("name", ["spark-yarn", "spark-k8s"])
def test_sigkill_mid_poll_and_in_submit_window_gives_one_job_each(demo_stack: DemoStack, name: str) -> None:
    provider = demo_stack.providers[name]
    mid_poll, window = run_provider(demo_stack.stack, provider, demo_stack.workdir, print)
    print(f"{name} e2e: {mid_poll}\n{window}")
    details = mid_poll.details
    assert mid_poll.operator == provider.operator
    assert details["dag_run_state"] == "success", details
    assert (mid_poll.jobs_durable, mid_poll.jobs_not_durable) == (1, 2), details["jobs"]
    assert (window.jobs_durable, window.jobs_not_durable) == (1, 2), details["jobs"]
    assert len(details["jobs"]["uninterrupted"]) == 1, details["jobs"]
    assert details["try_numbers"]["durable"] == 2
    assert details["try_numbers"]["submit_window"] == 2
    assert details["try_numbers"]["not_durable"] == 2
    assert details["try_numbers"]["window_not_durable"] == 2
    baseline = provider.comparable(details["xcoms"]["uninterrupted"])
    assert isinstance(baseline, dict)
    assert baseline, details["xcoms"]
    assert provider.comparable(details["xcoms"]["durable"]) == baseline, details["xcoms"]
    assert provider.comparable(details["xcoms"]["submit_window"]) == baseline, details["xcoms"]
    assert mid_poll.ok, details
    assert window.ok, details
