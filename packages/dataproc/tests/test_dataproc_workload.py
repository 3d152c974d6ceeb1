"""The Dataproc soak workloads: their DAGs from the workload DAG file, and their jobs counted from the emulators."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_durable.demo.workload import Workload, workload_job_name, workload_tasks_by_id
from airflow_durable.testing import ControlClient
from airflow_durable_dataproc.demo.scenario import CONN_ID, DataprocBatchesDemo, DataprocJobsDemo
from airflow_durable_dataproc.demo.scenario_workload import WORKLOAD_LABEL, WORKLOAD_REGION
from airflow_durable_dataproc.testing import DataprocBatchEmulator, DataprocJobEmulator


@pytest.mark.parametrize(
    ("provider", "operator", "mapped"),
    [
        (DataprocJobsDemo(), "DurableDataprocSubmitJobOperator", "job"),
        (DataprocBatchesDemo(), "DurableDataprocCreateBatchOperator", "batch"),
    ],
    ids=lambda value: getattr(value, "name", None),
)
def test_workload_dag_file_maps_the_operator_over_labelled_jobs(provider: Any, operator: str, mapped: str) -> None:
    assert provider.workload_dag_id == f"durable_workload_{provider.name.replace('-', '_')}"
    for task_id, task in workload_tasks_by_id(provider, Workload(maps=3)).items():
        assert task.operator_name == operator
        assert task.partial_kwargs["durable"] is (task_id == "durable")
        assert task.partial_kwargs["gcp_conn_id"] == provider.workload_conn_id
        assert task.partial_kwargs["region"] == WORKLOAD_REGION
        labels = [value["labels"][WORKLOAD_LABEL] for value in task.expand_input.value[mapped]]
        assert labels == [workload_job_name(task_id, index) for index in range(3)]


def test_each_workload_has_a_connection_of_its_own_beside_the_demos() -> None:
    demo = {CONN_ID: {"conn_type": "google_cloud_platform", "extra": {"dataproc_transport": "grpc"}}}
    jobs, batches = (
        DataprocJobsDemo().with_workload_connections(demo),
        DataprocBatchesDemo().with_workload_connections(demo),
    )
    assert (
        jobs["dataproc_durable_workload_dataproc"]
        == batches["dataproc_durable_workload_dataproc_batches"]
        == demo[CONN_ID]
    )
    assert set(jobs) & set(batches) == {CONN_ID}


def test_jobs_succeed_by_themselves_and_are_counted_per_task_instance() -> None:
    provider = DataprocJobsDemo()
    with DataprocJobEmulator() as emulator, ControlClient(emulator.url) as control:
        control.hold()  # as the demo's start() leaves it
        provider.prepare_workload(control, Workload(polls_to_finish=2))
        client = emulator.client()

        def submit(name: str) -> str:
            job = {
                "placement": {"cluster_name": "durable-demo"},
                "pyspark_job": {"main_python_file_uri": "gs://durable-demo/aggregate.py"},
                "labels": {WORKLOAD_LABEL: name},
            }
            request = {"project_id": "durable-demo", "region": WORKLOAD_REGION, "job": job}
            return str(client.submit_job(request=request, retry=None).reference.job_id)

        jobs = [submit(name) for name in ("wl-not_durable-0", "wl-durable-1", "not-a-workload", "wl-not_durable-0")]
        get = {"project_id": "durable-demo", "region": WORKLOAD_REGION, "job_id": jobs[1], "retry": None}
        assert [client.get_job(**get).status.state.name for _ in "ab"] == ["SETUP_DONE", "DONE"]
        assert provider.workload_jobs(control) == {("not_durable", 0): [jobs[0], jobs[3]], ("durable", 1): [jobs[1]]}
        assert provider.vendor_calls(control) == 4 + 2


def test_batches_succeed_by_themselves_and_are_counted_per_task_instance() -> None:
    provider = DataprocBatchesDemo("rest")
    with DataprocBatchEmulator() as emulator, ControlClient(emulator.url) as control:
        provider.prepare_workload(control, Workload(polls_to_finish=1))
        client = emulator.client("rest")
        parent = f"projects/durable-demo/locations/{WORKLOAD_REGION}"
        for name in ("wl-durable-0", "wl-durable-1"):
            batch = {"pyspark_batch": {"main_python_file_uri": "gs://b/m.py"}, "labels": {WORKLOAD_LABEL: name}}
            client.create_batch(request={"parent": parent, "batch": batch}, retry=None)
        batches = [str(job["external_id"]) for job in control.jobs()]
        assert client.get_batch(name=f"{parent}/batches/{batches[0]}", retry=None).state.name == "SUCCEEDED"
        assert provider.workload_jobs(control) == {("durable", 0): batches[:1], ("durable", 1): batches[1:]}
        assert provider.vendor_calls(control) == 2 + 1
