"""The EMR soak workloads: their DAGs from the workload DAG file, and their jobs counted from the emulators' records."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config

from airflow_durable.demo.workload import Workload, workload_job_name, workload_tasks_by_id
from airflow_durable.testing import ControlClient
from airflow_durable_emr.demo.scenario import (
    CONN_ID,
    RESOURCES_CONN_ID,
    EmrContainersDemo,
    EmrServerlessDemo,
    EmrStepsDemo,
)
from airflow_durable_emr.testing import EmrServerlessEmulator, EmrStepsEmulator

TOKEN = "ad-0123456789abcdef0123456789ab-g0"
ROLE = "arn:aws:iam::123456789012:role/emr"
DRIVER = {"sparkSubmit": {"entryPoint": "s3://demo/aggregate.py"}}


def client(service: str, url: str) -> Any:
    """A real boto3 client with botocore's own retries off."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.mark.parametrize(
    ("provider", "operator", "mapped"),
    [
        (EmrStepsDemo(), "DurableEmrAddStepsOperator", "steps"),
        (EmrServerlessDemo(), "DurableEmrServerlessStartJobOperator", "name"),
        (EmrContainersDemo(), "DurableEmrContainerOperator", "name"),
    ],
    ids=lambda value: getattr(value, "name", None),
)
def test_workload_dag_file_maps_the_operator_over_job_names(provider: Any, operator: str, mapped: str) -> None:
    assert provider.workload_dag_id == f"durable_workload_{provider.name.replace('-', '_')}"
    for task_id, task in workload_tasks_by_id(provider, Workload(maps=3)).items():
        assert task.operator_name == operator
        assert task.partial_kwargs["durable"] is (task_id == "durable")
        assert task.partial_kwargs["aws_conn_id"] == f"aws_durable_workload_{provider.name.replace('-', '_')}"
        assert task.partial_kwargs["poll_interval_seconds"] == 1
        names = [workload_job_name(task_id, index) for index in range(3)]
        values = task.expand_input.value[mapped]
        assert [value[0]["Name"] for value in values] == names if mapped == "steps" else values == names


def test_each_workload_has_connections_of_its_own_beside_the_demos() -> None:
    providers = [EmrStepsDemo(), EmrServerlessDemo(), EmrContainersDemo()]
    demo = {CONN_ID: {"conn_type": "aws"}, RESOURCES_CONN_ID: {"conn_type": "generic", "extra": {"a": "1"}}}
    ids = [conn_id for provider in providers for conn_id in provider.with_workload_connections(demo)]
    assert len(ids) == 3 * 4
    assert len(set(ids)) == 2 + 3 * 2, "one AWS and one resources connection per workload, and the demo's two"
    serverless = EmrServerlessDemo()
    resources = serverless.workload_conn_ids[RESOURCES_CONN_ID]
    assert serverless.with_workload_connections(demo)[resources] == demo[RESOURCES_CONN_ID]
    assert serverless.resource_template("application_id") == f"{{{{ conn.{resources}.extra_dejson.application_id }}}}"


def test_steps_succeed_by_themselves_and_are_counted_per_task_instance() -> None:
    provider = EmrStepsDemo()
    with EmrStepsEmulator() as emulator, ControlClient(emulator.url) as control:
        cluster = emulator.create_cluster("durable-demo")
        provider.prepare_workload(control, Workload(polls_to_finish=3))
        emr = client("emr", emulator.url)

        def add(name: str) -> str:
            step = {"Name": f"{name} [{TOKEN} 1/1]", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {"Jar": "x"}}
            [step_id] = emr.add_job_flow_steps(JobFlowId=cluster, Steps=[step])["StepIds"]
            return f"{cluster}:{step_id}"

        submitted = [add(name) for name in ("wl-durable-0", "wl-not_durable-1", "durable-demo-durable")]
        submitted.append(add("wl-not_durable-1"))
        step_id = submitted[0].partition(":")[2]
        states = [emr.describe_step(ClusterId=cluster, StepId=step_id)["Step"]["Status"]["State"] for _ in range(3)]
        assert states == ["PENDING", "RUNNING", "COMPLETED"]
        assert provider.workload_jobs(control) == {
            ("durable", 0): [submitted[0]],
            ("not_durable", 1): [submitted[1], submitted[3]],
        }
        assert provider.vendor_calls(control) == 4 + 3


def test_job_runs_succeed_by_themselves_and_are_counted_per_task_instance() -> None:
    provider = EmrServerlessDemo()
    with EmrServerlessEmulator() as emulator, ControlClient(emulator.url) as control:
        application = emulator.create_application(state="STARTED")
        provider.prepare_workload(control, Workload(polls_to_finish=2))
        serverless = client("emr-serverless", emulator.url)

        def start(name: str, token: str) -> str:
            answer = serverless.start_job_run(
                applicationId=application, clientToken=token, executionRoleArn=ROLE, name=name, jobDriver=DRIVER
            )
            return f"{application}:{answer['jobRunId']}"

        runs = [start(name, f"t{index}") for index, name in enumerate(("wl-durable-2", "other", "wl-durable-2"))]
        run_id = runs[0].partition(":")[2]
        states = [serverless.get_job_run(applicationId=application, jobRunId=run_id)["jobRun"]["state"] for _ in "ab"]
        assert states == ["SUBMITTED", "SUCCESS"]
        assert provider.workload_jobs(control) == {("durable", 2): [runs[0], runs[2]]}
        assert provider.vendor_calls(control) == 3 + 2
