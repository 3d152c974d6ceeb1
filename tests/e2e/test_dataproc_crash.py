"""Real Airflow 3.3 + each Dataproc emulator in its own process, reached by the real ``google-cloud-dataproc``
client over gRPC and over REST: SIGKILL mid-poll and in the submit-to-persist window, for both Dataproc
operators; Airflow's heartbeat-timeout detection schedules the retries."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_durable.demo.runner import run_provider
from airflow_durable_dataproc.demo.scenario import DataprocBatchesDemo, DataprocJobsDemo

if TYPE_CHECKING:
    from conftest import DemoStack

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("transport", ["grpc", "rest"])
@pytest.mark.parametrize("name", ["dataproc", "dataproc-batches"])
def test_sigkill_mid_poll_and_in_submit_window_gives_one_job_each(
    demo_stack: DemoStack, name: str, transport: str
) -> None:
    demo = {"dataproc": DataprocJobsDemo, "dataproc-batches": DataprocBatchesDemo}[name]
    provider = demo(transport=transport)  # the stack serves its DAG already (conftest)
    mid_poll, window = run_provider(demo_stack.stack, provider, demo_stack.workdir, print)
    print(f"{name} over {transport} e2e: {mid_poll}\n{window}")
    details = mid_poll.details
    assert mid_poll.operator == provider.operator
    assert details["dag_run_state"] == "success", details
    assert (mid_poll.jobs_durable, mid_poll.jobs_not_durable) == (1, 2), details["jobs"]
    assert (window.jobs_durable, window.jobs_not_durable) == (1, 2), details["jobs"]
    assert len(details["jobs"]["uninterrupted"]) == 1, details["jobs"]
    assert details["try_numbers"]["durable"] == 2
    assert details["try_numbers"]["submit_window"] == 2
    baseline = provider.comparable(details["xcoms"]["uninterrupted"])
    assert provider.comparable(details["xcoms"]["durable"]) == baseline, details["xcoms"]
    assert provider.comparable(details["xcoms"]["submit_window"]) == baseline, details["xcoms"]
    assert mid_poll.ok, details
    assert window.ok, details
