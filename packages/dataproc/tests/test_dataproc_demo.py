"""The Dataproc demo's probes (``airflow_durable_dataproc.demo.scenario``) against in-process emulators.

The real crash runs are ``tests/e2e/test_dataproc_crash.py``; these check, in a second, what the demo reads
from the emulator: jobs counted by the task label, the kill condition, the held window creates, the masks.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from google.api_core import exceptions

from airflow_durable.testing import ControlClient
from airflow_durable_dataproc.demo.scenario import (
    TASK_LABEL,
    WINDOW_REGION,
    DataprocBatchesDemo,
    DataprocJobsDemo,
)
from airflow_durable_dataproc.testing import DataprocBatchEmulator, DataprocJobEmulator

TOKEN = "ad-0123456789abcdef0123456789ab-g0"


def submit(emulator: DataprocJobEmulator, task_id: str, region: str = "us-central1", timeout: float = 10) -> Any:
    job = {
        "placement": {"cluster_name": "durable-demo"},
        "pyspark_job": {"main_python_file_uri": "gs://durable-demo/aggregate.py"},
        "labels": {TASK_LABEL: task_id},
    }
    request = {"project_id": "durable-demo", "region": region, "job": job}
    return emulator.client().submit_job(request=request, retry=None, timeout=timeout)


def test_transport_names_the_operator_and_only_grpc_or_rest_is_accepted() -> None:
    assert DataprocJobsDemo().operator == "DurableDataprocSubmitJobOperator (gRPC)"
    assert DataprocBatchesDemo("rest").operator == "DurableDataprocCreateBatchOperator (REST)"
    with pytest.raises(ValueError, match="'grpc' or 'rest'"):
        DataprocJobsDemo("http")


def test_jobs_are_counted_by_task_label_and_the_kill_waits_for_every_crash_point() -> None:
    demo = DataprocJobsDemo()
    with DataprocJobEmulator() as emulator, ControlClient(emulator.url) as control:
        control.hold()
        intent = {"phase": "intent"}
        for task_id in ("durable", "not_durable", "not_durable", "uninterrupted"):
            submit(emulator, task_id)
        control.call("hold_after_create", 1.0, region=WINDOW_REGION)
        with pytest.raises((exceptions.DeadlineExceeded, requests.Timeout)):
            submit(emulator, "submit_window", region=WINDOW_REGION, timeout=0.2)
        submit(emulator, "window_not_durable", region=WINDOW_REGION)  # the hold answered one create only
        jobs = demo.jobs_by_task(control)
        assert {task: len(ids) for task, ids in jobs.items()} == {
            "durable": 1,
            "not_durable": 2,
            "submit_window": 1,
            "window_not_durable": 1,
            "uninterrupted": 1,
        }
        assert not demo.ready_to_kill(control, lambda task: intent)  # nothing polled yet
        client = emulator.client()
        for job_id in jobs["durable"] + jobs["not_durable"]:
            for _ in range(2):
                client.get_job(project_id="durable-demo", region="us-central1", job_id=job_id, retry=None)
        assert not demo.ready_to_kill(control, lambda task: None)  # the window task wrote no intent
        assert demo.ready_to_kill(control, lambda task: intent)
        demo.release(control)
        [durable] = jobs["durable"]
        states = [
            client.get_job(project_id="durable-demo", region="us-central1", job_id=durable).status.state.name
            for _ in range(2)
        ]
        assert states[-1] == "DONE"


def test_batches_are_counted_by_task_label() -> None:
    demo = DataprocBatchesDemo("rest")
    with DataprocBatchEmulator() as emulator, ControlClient(emulator.url) as control:
        client = emulator.client("rest")
        for task_id in ("durable", "uninterrupted", "uninterrupted"):
            batch = {"pyspark_batch": {"main_python_file_uri": "gs://b/m.py"}, "labels": {TASK_LABEL: task_id}}
            client.create_batch(request={"parent": "projects/p/locations/us-central1", "batch": batch}, retry=None)
        counts = {task: len(ids) for task, ids in demo.jobs_by_task(control).items()}
        assert counts == {
            "durable": 1,
            "not_durable": 0,
            "submit_window": 0,
            "window_not_durable": 0,
            "uninterrupted": 2,
        }


def test_comparable_masks_ids_and_a_batchs_own_fields_but_not_its_outcome() -> None:
    demo = DataprocBatchesDemo()
    assert demo.comparable(TOKEN) == demo.comparable("3f0c9a1b2d4e5f60718293a4b5c6d7e8") == "<id>"
    assert demo.comparable(f"nightly-{TOKEN}") == "<id>"
    mine = {"name": f"projects/p/locations/r/batches/{TOKEN}", "uuid": "u1", "state": "SUCCEEDED", "labels": {}}
    other = {"name": "projects/p/locations/r/batches/x", "uuid": "u2", "state": "SUCCEEDED", "labels": {"a": "b"}}
    assert demo.comparable(mine) == demo.comparable(other) == {"state": "SUCCEEDED"}
    assert demo.comparable({**mine, "state": "FAILED"}) != demo.comparable(other)
