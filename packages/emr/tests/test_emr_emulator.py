"""The EMR emulators' wire format, against the real boto3 clients over HTTP.

No AWS account is needed: moto answers in-process behind each emulator, and the emulators drive the job
operations (create, status, list, cancel) through the kit's life cycle.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from airflow_durable.status import JobState
from airflow_durable.testing import ControlClient, EmulatorSystem
from airflow_durable_emr import statuses
from airflow_durable_emr.testing import (
    EmrContainersEmulator,
    EmrServerlessEmulator,
    EmrStepsEmulator,
    emr_boto3_env,
    emr_connection_env,
)

TOKEN = "ad-0123456789abcdef0123456789ab-g0"
ROLE = "arn:aws:iam::123456789012:role/emr"


def client(service: str, url: str) -> Any:
    """A real boto3 client with botocore's own retries off (so one injected fault is one error)."""
    config = Config(retries={"total_max_attempts": 1})
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        config=config,
    )


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def steps() -> Iterator[EmrStepsEmulator]:
    with EmrStepsEmulator() as emulator:
        yield emulator
        emulator.reset()


@pytest.fixture
def serverless() -> Iterator[EmrServerlessEmulator]:
    with EmrServerlessEmulator() as emulator:
        yield emulator
        emulator.reset()


@pytest.fixture
def containers() -> Iterator[EmrContainersEmulator]:
    with EmrContainersEmulator() as emulator:
        yield emulator
        emulator.reset()


def step(name: str) -> dict[str, Any]:
    return {"Name": name, "ActionOnFailure": "CONTINUE", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": []}}


def step_states(emr: Any, cluster_id: str, step_ids: list[str]) -> list[str]:
    listed = emr.list_steps(ClusterId=cluster_id, StepIds=step_ids)["Steps"]
    by_id = {s["Id"]: s["Status"]["State"] for s in listed}
    return [by_id[i] for i in step_ids]


# ---------------------------------------------------------------------- EMR steps


def test_add_steps_is_one_job_with_the_token_of_the_step_names(steps: EmrStepsEmulator) -> None:
    emr = client("emr", steps.url)
    cluster_id = steps.create_cluster()
    step_ids = emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step(f"a [{TOKEN}]"), step(f"b [{TOKEN}]")])[
        "StepIds"
    ]
    (job,) = steps.jobs
    assert job.external_id == statuses.step_job_id(cluster_id, step_ids)
    assert re.match(steps.id_pattern, job.external_id)
    assert statuses.parse_step_job_id(job.external_id) == (cluster_id, step_ids)
    assert job.token == TOKEN
    assert job.name == "a", "the job's name is the first step's, before its token"
    assert step_states(emr, cluster_id, step_ids) == ["RUNNING", "PENDING"]
    emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step("no token")])
    assert steps.jobs[1].token is None
    assert len(steps.jobs) == 2, "AddJobFlowSteps has no token: never deduplicated"


def test_steps_follow_the_job_state(steps: EmrStepsEmulator) -> None:
    emr = client("emr", steps.url)
    cluster_id = steps.create_cluster()
    steps.finish_after(3, "COMPLETED")
    step_ids = emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step("a"), step("b")])["StepIds"]
    seen = [step_states(emr, cluster_id, step_ids) for _ in range(3)]
    assert seen == [["PENDING", "PENDING"], ["RUNNING", "PENDING"], ["COMPLETED", "COMPLETED"]]
    assert steps.observed_status_calls == 3
    described = emr.describe_step(ClusterId=cluster_id, StepId=step_ids[1])["Step"]
    assert described["Status"]["State"] == "COMPLETED"
    assert "EndDateTime" in described["Status"]["Timeline"]

    failing = emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step("c"), step("d"), step("e")])["StepIds"]
    steps.force_state(steps.jobs[-1].external_id, "FAILED")
    assert step_states(emr, cluster_id, failing) == ["FAILED", "CANCELLED", "CANCELLED"]
    steps.force_state(steps.jobs[-1].external_id, "SOMETHING_NEW")
    assert step_states(emr, cluster_id, failing) == ["SOMETHING_NEW", "PENDING", "PENDING"]


def test_list_steps_pages_newest_first_and_counts_shown_jobs(steps: EmrStepsEmulator) -> None:
    emr = client("emr", steps.url)
    cluster_id = steps.create_cluster()
    added = [emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step(f"s{i}")])["StepIds"][0] for i in range(60)]
    first = emr.list_steps(ClusterId=cluster_id)
    assert [s["Id"] for s in first["Steps"]] == added[::-1][:50]
    assert steps.observed_status_calls == 50, "each job a page shows counts as one status call"
    second = emr.list_steps(ClusterId=cluster_id, Marker=first["Marker"])
    assert [s["Id"] for s in second["Steps"]] == added[::-1][50:]
    assert "Marker" not in second
    pages = emr.get_paginator("list_steps").paginate(ClusterId=cluster_id)
    assert [s["Id"] for page in pages for s in page["Steps"]] == added[::-1]


def test_list_steps_refuses_more_than_ten_step_ids_and_unknown_clusters(steps: EmrStepsEmulator) -> None:
    emr = client("emr", steps.url)
    cluster_id = steps.create_cluster()
    with pytest.raises(ClientError) as too_many:
        emr.list_steps(ClusterId=cluster_id, StepIds=[f"s-{i:013d}" for i in range(11)])
    assert error(too_many) == ("ValidationException", 400)
    with pytest.raises(ClientError) as unknown:
        emr.list_steps(ClusterId="j-NOSUCHCLUSTER")
    assert error(unknown) == ("InvalidRequestException", 400)
    assert "j-NOSUCHCLUSTER" in str(unknown.value)


def test_add_steps_to_a_missing_or_finished_cluster_creates_nothing(steps: EmrStepsEmulator) -> None:
    emr = client("emr", steps.url)
    with pytest.raises(ClientError) as unknown:
        emr.add_job_flow_steps(JobFlowId="j-NOSUCHCLUSTER", Steps=[step("a")])
    assert error(unknown) == ("InvalidRequestException", 400)
    cluster_id = steps.create_cluster(state="TERMINATED")
    with pytest.raises(ClientError) as finished:
        emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step("a")])
    assert error(finished) == ("ValidationException", 400)
    assert steps.jobs == []


def test_cancel_steps_is_asynchronous_and_idempotent(steps: EmrStepsEmulator) -> None:
    emr = client("emr", steps.url)
    cluster_id = steps.create_cluster()
    done = emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step("done")])["StepIds"]
    steps.force_state(steps.jobs[0].external_id, "COMPLETED")
    step_ids = emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step("a"), step("b")])["StepIds"]
    answer = emr.cancel_steps(ClusterId=cluster_id, StepIds=[*step_ids, *done, "s-UNKNOWN"])["CancelStepsInfoList"]
    assert [(a["StepId"], a["Status"]) for a in answer] == [
        (step_ids[0], "SUBMITTED"),
        (step_ids[1], "SUBMITTED"),
        (done[0], "FAILED"),
        ("s-UNKNOWN", "FAILED"),
    ]
    assert all(a["Reason"] for a in answer if a["Status"] == "FAILED")
    again = emr.cancel_steps(ClusterId=cluster_id, StepIds=step_ids)["CancelStepsInfoList"]
    assert [a["Status"] for a in again] == ["SUBMITTED", "SUBMITTED"]
    assert step_states(emr, cluster_id, step_ids) == ["CANCEL_PENDING", "CANCEL_PENDING"]
    assert step_states(emr, cluster_id, step_ids) == ["CANCELLED", "CANCELLED"]
    assert steps.book.cancelled == [steps.jobs[1].external_id] * 2, "one cancel per job and request"


def test_forgotten_steps_vanish_as_emr_answers(steps: EmrStepsEmulator) -> None:
    emr = client("emr", steps.url)
    cluster_id = steps.create_cluster()
    step_ids = emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step("a")])["StepIds"]
    steps.forget(steps.jobs[0].external_id)
    with pytest.raises(ClientError) as gone:
        emr.describe_step(ClusterId=cluster_id, StepId=step_ids[0])
    assert error(gone) == ("InvalidRequestException", 400)
    assert emr.list_steps(ClusterId=cluster_id)["Steps"] == []
    assert emr.cancel_steps(ClusterId=cluster_id, StepIds=step_ids)["CancelStepsInfoList"][0]["Status"] == "FAILED"
    steps.moto_describe_step(True)
    odd = emr.describe_step(ClusterId=cluster_id, StepId=step_ids[0])
    assert "Step" not in odd
    assert odd["ResponseMetadata"]["HTTPStatusCode"] == 200


# ---------------------------------------------------------------------- EMR Serverless


def start_run(emr: Any, application_id: str, token: str = TOKEN, name: str = "nightly") -> str:
    answer = emr.start_job_run(
        applicationId=application_id,
        executionRoleArn=ROLE,
        jobDriver={"sparkSubmit": {"entryPoint": "s3://bucket/job.py"}},
        clientToken=token,
        name=name,
    )
    return str(answer["jobRunId"])


def test_serverless_runs_are_born_active_and_advance_on_status_calls(serverless: EmrServerlessEmulator) -> None:
    emr = client("emr-serverless", serverless.url)
    application_id = serverless.create_application()
    serverless.finish_after(3, "SUCCESS")
    run_id = start_run(emr, application_id)
    (job,) = serverless.jobs
    assert job.external_id == statuses.pair_job_id(application_id, run_id)
    assert re.match(serverless.id_pattern, job.external_id)
    assert job.token == TOKEN
    seen = [emr.get_job_run(applicationId=application_id, jobRunId=run_id)["jobRun"]["state"] for _ in range(3)]
    assert seen == ["SUBMITTED", "RUNNING", "SUCCESS"]
    serverless.force_state(job.external_id, "QUEUED")
    assert emr.get_job_run(applicationId=application_id, jobRunId=run_id)["jobRun"]["state"] == "QUEUED"
    assert set(serverless.states) == {*statuses.SERVERLESS_JOB_RUN_STATES.active, "SUCCESS", "FAILED", "CANCELLED"}


@pytest.mark.parametrize(
    ("dedupe", "runs_after_repeat", "runs_after_failure"),
    [("none", 2, 3), ("dedupe", 1, 2), ("dedupe_failed", 1, 1)],
)
def test_serverless_client_token_policy(dedupe: str, runs_after_repeat: int, runs_after_failure: int) -> None:
    with EmrServerlessEmulator(dedupe=dedupe) as emulator:
        emr = client("emr-serverless", emulator.url)
        application_id = emulator.create_application()
        first = start_run(emr, application_id)
        second = start_run(emr, application_id)
        assert len(emulator.jobs) == runs_after_repeat
        assert (first == second) == (runs_after_repeat == 1)
        emulator.force_state(emulator.jobs[-1].external_id, "FAILED")
        start_run(emr, application_id)
        assert len(emulator.jobs) == runs_after_failure
        emulator.reset()


def test_serverless_cancel_goes_through_cancelling(serverless: EmrServerlessEmulator) -> None:
    emr = client("emr-serverless", serverless.url)
    application_id = serverless.create_application()
    run_id = start_run(emr, application_id)
    answer = emr.cancel_job_run(applicationId=application_id, jobRunId=run_id)
    assert (answer["applicationId"], answer["jobRunId"]) == (application_id, run_id)
    seen = [emr.get_job_run(applicationId=application_id, jobRunId=run_id)["jobRun"]["state"] for _ in range(3)]
    assert seen == ["CANCELLING", "CANCELLED", "CANCELLED"]
    assert serverless.book.cancelled == [serverless.jobs[0].external_id]


def test_serverless_list_and_forget(serverless: EmrServerlessEmulator) -> None:
    emr = client("emr-serverless", serverless.url)
    application_id = serverless.create_application()
    assert emr.list_job_runs(applicationId=application_id)["jobRuns"] == []
    kept, lost = start_run(emr, application_id, name="kept"), start_run(emr, application_id, name="lost")
    serverless.forget(serverless.jobs[1].external_id)
    assert [r["id"] for r in emr.list_job_runs(applicationId=application_id)["jobRuns"]] == [kept]
    with pytest.raises(ClientError) as gone:
        emr.get_job_run(applicationId=application_id, jobRunId=lost)
    assert error(gone) == ("ResourceNotFoundException", 404)


def test_serverless_applications_pass_through_and_can_refuse_to_start(serverless: EmrServerlessEmulator) -> None:
    emr = client("emr-serverless", serverless.url)
    application_id = serverless.create_application(name="app", state="CREATED")
    assert emr.get_application(applicationId=application_id)["application"]["state"] == "CREATED"
    emr.start_application(applicationId=application_id)
    assert emr.get_application(applicationId=application_id)["application"]["state"] == "STARTED"
    serverless.refuse_start(application_id, "no capacity")
    with pytest.raises(ClientError) as refused:
        emr.start_application(applicationId=application_id)
    assert error(refused) == ("ValidationException", 400)
    assert "no capacity" in str(refused.value)
    terminated = serverless.create_application(state="TERMINATED")
    with pytest.raises(ClientError) as gone:
        emr.start_application(applicationId=terminated)
    assert error(gone) == ("ValidationException", 400)


# ---------------------------------------------------------------------- EMR on EKS


def start_container_run(emr: Any, virtual_cluster_id: str, name: str = "nightly", token: str = TOKEN) -> str:
    answer = emr.start_job_run(
        virtualClusterId=virtual_cluster_id,
        name=name,
        executionRoleArn=ROLE,
        releaseLabel="emr-7.0.0-latest",
        jobDriver={"sparkSubmitJobDriver": {"entryPoint": "s3://bucket/job.py"}},
        clientToken=token,
    )
    return str(answer["id"])


def test_containers_token_returns_the_original_run_even_failed(containers: EmrContainersEmulator) -> None:
    emr = client("emr-containers", containers.url)
    virtual_cluster_id = containers.create_virtual_cluster()
    run_id = start_container_run(emr, virtual_cluster_id)
    (job,) = containers.jobs
    assert job.external_id == statuses.pair_job_id(virtual_cluster_id, run_id, statuses.CONTAINER_ID_PATTERN)
    containers.force_state(job.external_id, "FAILED")
    assert start_container_run(emr, virtual_cluster_id) == run_id
    assert len(containers.jobs) == 1
    assert containers.book.deduplicated == [job.external_id]
    assert start_container_run(emr, virtual_cluster_id, token=TOKEN.replace("g0", "g1")) != run_id


def test_containers_status_list_and_cancel(containers: EmrContainersEmulator) -> None:
    emr = client("emr-containers", containers.url)
    virtual_cluster_id = containers.create_virtual_cluster()
    containers.finish_after(2, "COMPLETED")
    done = start_container_run(emr, virtual_cluster_id, name="done", token="t1")
    states = [emr.describe_job_run(virtualClusterId=virtual_cluster_id, id=done)["jobRun"]["state"] for _ in range(2)]
    assert states == ["PENDING", "COMPLETED"]
    containers.hold()
    running = start_container_run(emr, virtual_cluster_id, name="nightly", token="t2")
    listed = emr.list_job_runs(virtualClusterId=virtual_cluster_id, name="nightly")["jobRuns"]
    assert [r["id"] for r in listed] == [running]
    emr.cancel_job_run(virtualClusterId=virtual_cluster_id, id=running)
    states = [
        emr.describe_job_run(virtualClusterId=virtual_cluster_id, id=running)["jobRun"]["state"] for _ in range(2)
    ]
    assert states == ["CANCEL_PENDING", "CANCELLED"]
    with pytest.raises(ClientError) as finished:
        emr.cancel_job_run(virtualClusterId=virtual_cluster_id, id=done)
    assert error(finished) == ("ValidationException", 400)
    containers.forget(containers.jobs[0].external_id)
    with pytest.raises(ClientError) as gone:
        emr.describe_job_run(virtualClusterId=virtual_cluster_id, id=done)
    assert error(gone) == ("ResourceNotFoundException", 404)


# ---------------------------------------------------------------------- faults, isolation, the control plane


@pytest.mark.parametrize(
    ("status", "code"),
    [(429, "ThrottlingException"), (500, "InternalServerException"), (503, "ServiceUnavailableException")],
)
def test_injected_faults_are_aws_errors(serverless: EmrServerlessEmulator, status: int, code: str) -> None:
    emr = client("emr-serverless", serverless.url)
    application_id = serverless.create_application()
    run_id = start_run(emr, application_id)
    serverless.fail_next(1, status, endpoint="GetJobRun")
    with pytest.raises(ClientError) as failed:
        emr.get_job_run(applicationId=application_id, jobRunId=run_id)
    assert error(failed) == (code, status)
    assert serverless.jobs[0].status_calls == 0, "a failed status call is not one"
    assert emr.get_job_run(applicationId=application_id, jobRunId=run_id)["jobRun"]["state"] == "RUNNING"


def test_faults_on_the_json_protocol_and_dropped_connections(steps: EmrStepsEmulator) -> None:
    emr = client("emr", steps.url)
    cluster_id = steps.create_cluster()
    steps.fail_next(1, 429, endpoint="AddJobFlowSteps")
    with pytest.raises(ClientError) as throttled:
        emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step("a")])
    assert error(throttled) == ("ThrottlingException", 429)
    assert steps.jobs == [], "a failed create creates nothing"
    steps.fail_next(1, 0, endpoint="DescribeCluster")
    with pytest.raises(ConnectionClosedError):
        emr.describe_cluster(ClusterId=cluster_id)
    assert emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Id"] == cluster_id


def test_hold_after_create_opens_the_submit_window(containers: EmrContainersEmulator) -> None:
    emr = client("emr-containers", containers.url)
    virtual_cluster_id = containers.create_virtual_cluster()
    containers.hold_after_create(1.0, name="held")
    answered: list[str] = []
    thread = threading.Thread(target=lambda: answered.append(start_container_run(emr, virtual_cluster_id, "held")))
    thread.start()
    (job,) = containers.wait_for_jobs(1, timeout_seconds=5)
    assert answered == [], "the job exists before the client learns its ID"
    thread.join(timeout=10)
    assert answered == [job.run_ids[0]]


def test_each_emulator_serves_only_its_service_and_resets_only_its_state(
    steps: EmrStepsEmulator, serverless: EmrServerlessEmulator
) -> None:
    cluster_id = steps.create_cluster()
    application_id = serverless.create_application()
    with pytest.raises(ClientError):
        client("emr-serverless", steps.url).get_application(applicationId=application_id)
    serverless.reset()
    assert client("emr", steps.url).describe_cluster(ClusterId=cluster_id)["Cluster"]["Id"] == cluster_id
    with pytest.raises(ClientError) as gone:
        client("emr-serverless", serverless.url).get_application(applicationId=application_id)
    assert error(gone)[0] == "ResourceNotFoundException"


def test_an_emulator_owns_its_service_backend_from_start_to_stop() -> None:
    # moto's backends are global: what one emulator created must not reach the next (moto refuses a second
    # virtual cluster in one namespace), and two emulators of one service cannot share the backend.
    with EmrContainersEmulator() as first:
        virtual_cluster_id = first.create_virtual_cluster()
        with pytest.raises(RuntimeError, match="already serves emr-containers"):
            EmrContainersEmulator().start()
        with EmrServerlessEmulator() as other_service:
            other_service.create_application()
    with EmrContainersEmulator() as second:
        assert second.create_virtual_cluster() != virtual_cluster_id
        with pytest.raises(ClientError):
            client("emr-containers", second.url).describe_virtual_cluster(id=virtual_cluster_id)


def test_emulator_system_drives_the_contract_view(serverless: EmrServerlessEmulator) -> None:
    system = EmulatorSystem(serverless)
    emr = client("emr-serverless", serverless.url)
    application_id = serverless.create_application()
    system.finish_jobs_after(1, JobState.FAILED)
    run_id = start_run(emr, application_id)
    (submission,) = system.submissions()
    assert (submission.external_id, submission.token) == (statuses.pair_job_id(application_id, run_id), TOKEN)
    seen = [emr.get_job_run(applicationId=application_id, jobRunId=run_id)["jobRun"]["state"] for _ in range(3)]
    assert seen == ["SUBMITTED", "FAILED", "FAILED"], "one active answer, then the outcome"
    assert system.status_calls() == 3


def test_control_plane_over_http(containers: EmrContainersEmulator) -> None:
    emr = client("emr-containers", containers.url)
    with ControlClient(containers.url) as control:
        control.wait_until_up()
        virtual_cluster_id = control.create_virtual_cluster("vc")
        control.hold("SUBMITTED")
        run_id = start_container_run(emr, virtual_cluster_id)
        (job,) = control.jobs()
        assert (job["state"], job["token"], job["run_ids"]) == ("SUBMITTED", TOKEN, [run_id])
        control.force_state(job["external_id"], "COMPLETED")
        assert emr.describe_job_run(virtualClusterId=virtual_cluster_id, id=run_id)["jobRun"]["state"] == "COMPLETED"
        assert control.calls() == {"StartJobRun": 1, "DescribeJobRun": 1}
        control.delay_create("held", 1.0)
        started = time.monotonic()
        start_container_run(emr, virtual_cluster_id, name="other", token="t-other")
        assert time.monotonic() - started < 0.9, "only a job of that name is held"
        start_container_run(emr, virtual_cluster_id, name="held", token="t-held")
        assert time.monotonic() - started >= 1.0


# ---------------------------------------------------------------------- connections and process mode


def test_connection_env_reaches_the_emulators_through_the_amazon_provider(
    monkeypatch: pytest.MonkeyPatch, steps: EmrStepsEmulator, serverless: EmrServerlessEmulator
) -> None:
    hooks = pytest.importorskip("airflow.providers.amazon.aws.hooks.emr")
    env = emr_connection_env("emr_emulator", emr=steps.url, emr_serverless=serverless.url)
    assert json.loads(env["AIRFLOW_CONN_EMR_EMULATOR"])["extra"]["region_name"] == "us-east-1"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cluster_id = steps.create_cluster(name="via-hook")
    emr = hooks.EmrHook(aws_conn_id="emr_emulator").conn
    assert emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Name"] == "via-hook"
    application_id = serverless.create_application(name="via-hook")
    emr_serverless = hooks.EmrServerlessHook(aws_conn_id="emr_emulator").conn
    assert emr_serverless.get_application(applicationId=application_id)["application"]["name"] == "via-hook"
    with pytest.raises(TypeError, match="emr_eks"):
        emr_connection_env("x", emr_eks="http://127.0.0.1:1")


def test_boto3_env_without_the_provider(monkeypatch: pytest.MonkeyPatch, containers: EmrContainersEmulator) -> None:
    for name, value in emr_boto3_env(emr_containers=containers.url).items():
        monkeypatch.setenv(name, value)
    virtual_cluster_id = containers.create_virtual_cluster(name="plain")
    answer = boto3.client("emr-containers").describe_virtual_cluster(id=virtual_cluster_id)
    assert answer["virtualCluster"]["name"] == "plain"


def test_an_emulator_as_its_own_process(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    command = [sys.executable, "-m", "airflow_durable.testing.serve"]
    command += ["airflow_durable_emr.testing.emulator:EmrServerlessEmulator", "--port-file", str(port_file)]
    command += ["--option", "dedupe=dedupe"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the emulator process wrote no port file"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        emr = client("emr-serverless", url)
        with ControlClient(url) as control:
            control.wait_until_up()
            application_id = control.create_application()
            run_id = start_run(emr, application_id)
            assert start_run(emr, application_id) == run_id, "--option dedupe=dedupe reached the constructor"
            control.force_state(statuses.pair_job_id(application_id, run_id), "SUCCESS")
            assert emr.get_job_run(applicationId=application_id, jobRunId=run_id)["jobRun"]["state"] == "SUCCESS"
            assert control.counters()["deduplicated"] == [statuses.pair_job_id(application_id, run_id)]
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert process.returncode == 0
