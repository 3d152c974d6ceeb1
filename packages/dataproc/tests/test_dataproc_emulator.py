"""The Dataproc emulators against the real google-cloud-dataproc clients, over gRPC and REST."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from google.api_core import exceptions
from google.api_core.future.polling import DEFAULT_POLLING
from google.cloud import dataproc_v1

from airflow_durable.testing import ControlClient
from airflow_durable_dataproc.client import DataprocConnection
from airflow_durable_dataproc.testing import DataprocBatchEmulator, DataprocJobEmulator

TRANSPORTS = ("grpc", "rest")
FAST_POLLING = DEFAULT_POLLING.with_delay(initial=0.01, maximum=0.05, multiplier=1.5)
P, R = "proj", "europe-west1"
PARENT = f"projects/{P}/locations/{R}"


def pyspark_job(job_id: str | None = None, **labels: str) -> dict[str, Any]:
    job: dict[str, Any] = {
        "placement": {"cluster_name": "cluster-1"},
        "pyspark_job": {"main_python_file_uri": "gs://bucket/main.py"},
        "labels": labels,
    }
    if job_id:
        job["reference"] = {"job_id": job_id}
    return job


def submit(client: Any, job: dict[str, Any], request_id: str = "", **kwargs: Any) -> Any:
    request = {"project_id": P, "region": R, "job": job, "request_id": request_id}
    return client.submit_job(request=request, retry=None, **{"timeout": 10, **kwargs})


def get(client: Any, job_id: str) -> Any:
    return client.get_job(project_id=P, region=R, job_id=job_id, retry=None, timeout=10)


def create(client: Any, batch_id: str = "", request_id: str = "", **labels: str) -> Any:
    batch = {"pyspark_batch": {"main_python_file_uri": "gs://bucket/main.py"}, "labels": labels}
    request = {"parent": PARENT, "batch": batch, "batch_id": batch_id, "request_id": request_id}
    return client.create_batch(request=request, retry=None, timeout=10)


def get_batch(client: Any, batch_id: str) -> Any:
    return client.get_batch(name=f"{PARENT}/batches/{batch_id}", retry=None, timeout=10)


@pytest.fixture(scope="module")
def job_emulator() -> Iterator[DataprocJobEmulator]:
    with DataprocJobEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def batch_emulator() -> Iterator[DataprocBatchEmulator]:
    with DataprocBatchEmulator() as emulator:
        yield emulator


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def jobs(job_emulator: DataprocJobEmulator, transport: str) -> Iterator[Any]:
    job_emulator.reset()
    yield job_emulator.client(transport)  # type: ignore[arg-type]
    job_emulator.reset()


@pytest.fixture
def batches(batch_emulator: DataprocBatchEmulator, transport: str) -> Iterator[Any]:
    batch_emulator.reset()
    yield batch_emulator.client(transport)  # type: ignore[arg-type]
    batch_emulator.reset()


# ---------------------------------------------------------------------------------------------- jobs


def test_submit_then_get_moves_the_job_through_its_life_cycle(jobs: Any, job_emulator: DataprocJobEmulator) -> None:
    job = submit(jobs, pyspark_job("etl-1", team="data"), request_id="req-1")
    assert isinstance(job, dataproc_v1.Job)
    assert (job.reference.project_id, job.reference.job_id) == (P, "etl-1")
    assert job.status.state == dataproc_v1.JobStatus.State.PENDING
    assert job.placement.cluster_name == "cluster-1"
    assert job.labels == {"team": "data"}
    assert job.job_uuid
    assert not job.done
    job_emulator.finish_after(3, "DONE")
    seen = [get(jobs, "etl-1").status.state.name for _ in range(4)]
    assert seen == ["SETUP_DONE", "RUNNING", "DONE", "DONE"]
    final = get(jobs, "etl-1")
    assert final.done
    assert [s.state.name for s in final.status_history] == ["PENDING", "SETUP_DONE", "RUNNING"]
    assert job_emulator.job("etl-1").history == ["PENDING", "SETUP_DONE", "RUNNING", "DONE"]


def test_without_a_job_id_the_server_generates_one(jobs: Any, job_emulator: DataprocJobEmulator) -> None:
    job = submit(jobs, pyspark_job())
    assert job.reference.job_id
    assert get(jobs, job.reference.job_id).reference.job_id == job.reference.job_id
    assert [j.external_id for j in job_emulator.jobs] == [job.reference.job_id]


def test_a_repeated_request_id_returns_the_first_job_even_a_failed_one(
    jobs: Any, job_emulator: DataprocJobEmulator
) -> None:
    first = submit(jobs, pyspark_job("first"), request_id="req-dup")
    job_emulator.force_state("first", "ERROR")
    again = submit(jobs, pyspark_job("second"), request_id="req-dup")
    assert again.reference.job_id == "first"
    assert again.status.state.name == "ERROR"
    assert again.job_uuid == first.job_uuid
    assert len(job_emulator.jobs) == 1
    assert job_emulator.counters()["deduplicated"] == ["first"]


def test_the_same_job_id_with_another_request_is_already_exists(jobs: Any, transport: str) -> None:
    submit(jobs, pyspark_job("taken"), request_id="req-a")
    with pytest.raises(exceptions.Conflict) as caught:
        submit(jobs, pyspark_job("taken"), request_id="req-b")
    assert type(caught.value) is (exceptions.AlreadyExists if transport == "grpc" else exceptions.Conflict)
    with pytest.raises(exceptions.Conflict):
        submit(jobs, pyspark_job("taken"))


@pytest.mark.parametrize(
    ("job", "request_id"),
    [
        (pyspark_job("has a space"), ""),
        (pyspark_job("x" * 101), ""),
        (pyspark_job("ok"), "r" * 41),
        ({"placement": {"cluster_name": "c"}}, ""),
    ],
    ids=["bad-job-id", "job-id-too-long", "request-id-too-long", "no-job-type"],
)
def test_malformed_submissions_are_invalid_argument(jobs: Any, job: dict[str, Any], request_id: str) -> None:
    with pytest.raises(exceptions.BadRequest):
        submit(jobs, job, request_id=request_id)


def test_list_jobs_filters_and_pages(jobs: Any, job_emulator: DataprocJobEmulator) -> None:
    for n in range(5):
        submit(jobs, pyspark_job(f"job-{n}", env="prod" if n % 2 else "dev"))
    job_emulator.force_state("job-0", "DONE")
    job_emulator.force_state("job-1", "CANCELLED")
    listed = jobs.list_jobs(request={"project_id": P, "region": R, "page_size": 2}, retry=None)
    assert [j.reference.job_id for j in listed] == [f"job-{n}" for n in range(5)]
    pages = jobs.list_jobs(request={"project_id": P, "region": R, "page_size": 2}, retry=None).pages
    assert [len(page.jobs) for page in pages] == [2, 2, 1]

    def ids(**request: Any) -> list[str]:
        found = jobs.list_jobs(request={"project_id": P, "region": R, **request}, retry=None)
        return [j.reference.job_id for j in found]

    assert ids(job_state_matcher="ACTIVE") == ["job-2", "job-3", "job-4"]
    assert ids(job_state_matcher="NON_ACTIVE") == ["job-0", "job-1"]
    assert ids(filter="status.state = ACTIVE AND labels.env = prod") == ["job-3"]
    assert ids(filter="labels.env = dev") == ["job-0", "job-2", "job-4"]
    assert ids(cluster_name="another") == []
    assert jobs.list_jobs(project_id=P, region="elsewhere", retry=None).jobs == []


def test_cancel_goes_through_cancel_pending(jobs: Any, job_emulator: DataprocJobEmulator, transport: str) -> None:
    submit(jobs, pyspark_job("to-cancel"))
    cancelled = jobs.cancel_job(project_id=P, region=R, job_id="to-cancel", retry=None)
    assert cancelled.status.state.name == "CANCEL_PENDING"
    assert [get(jobs, "to-cancel").status.state.name for _ in range(2)] == ["CANCEL_PENDING", "CANCELLED"]
    assert job_emulator.counters()["cancelled"] == ["to-cancel"]
    with pytest.raises(exceptions.BadRequest) as caught:
        jobs.cancel_job(project_id=P, region=R, job_id="to-cancel", retry=None)
    assert type(caught.value) is (exceptions.FailedPrecondition if transport == "grpc" else exceptions.BadRequest)
    with pytest.raises(exceptions.NotFound):
        jobs.cancel_job(project_id=P, region=R, job_id="never-submitted", retry=None)


def test_forget_and_unknown_jobs_are_not_found(jobs: Any, job_emulator: DataprocJobEmulator) -> None:
    submit(jobs, pyspark_job("gone"))
    job_emulator.forget("gone")
    with pytest.raises(exceptions.NotFound):
        get(jobs, "gone")
    with pytest.raises(exceptions.NotFound):
        get(jobs, "never-submitted")
    submit(jobs, pyspark_job("other-project"))
    with pytest.raises(exceptions.NotFound):
        jobs.get_job(project_id="another", region=R, job_id="other-project", retry=None)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (503, exceptions.ServiceUnavailable),
        (429, exceptions.TooManyRequests),
        (500, exceptions.InternalServerError),
        (404, exceptions.NotFound),
        (403, exceptions.Forbidden),
    ],
)
def test_faults_reach_the_client_as_api_core_exceptions(
    jobs: Any, job_emulator: DataprocJobEmulator, status: int, expected: type[Exception]
) -> None:
    submit(jobs, pyspark_job("faulty"))
    job_emulator.fail_next(1, status, endpoint="jobs.get")
    with pytest.raises(expected):
        get(jobs, "faulty")
    assert get(jobs, "faulty").reference.job_id == "faulty"
    assert job_emulator.counters()["faults_served"] == {"jobs.get": 1}
    assert job_emulator.job("faulty").status_calls == 1  # the failed call did not count


def test_a_failed_submit_creates_nothing_and_fault_rate_applies(jobs: Any, job_emulator: DataprocJobEmulator) -> None:
    job_emulator.fail_next(1, 503, endpoint="jobs.submit")
    with pytest.raises(exceptions.ServiceUnavailable):
        submit(jobs, pyspark_job("late"))
    assert job_emulator.jobs == []
    job_emulator.fault_rate(1.0, (429,), endpoint="jobs.list", seed=1)
    with pytest.raises(exceptions.TooManyRequests):
        jobs.list_jobs(project_id=P, region=R, retry=None)


def test_the_clients_own_retry_rides_over_a_transient_fault(jobs: Any, job_emulator: DataprocJobEmulator) -> None:
    from google.api_core.retry import Retry, if_exception_type

    submit(jobs, pyspark_job("retried"))
    job_emulator.fail_next(2, 503, endpoint="jobs.get")
    retry = Retry(predicate=if_exception_type(exceptions.ServiceUnavailable), initial=0.01, maximum=0.02, timeout=5)
    assert jobs.get_job(project_id=P, region=R, job_id="retried", retry=retry).reference.job_id == "retried"
    assert job_emulator.calls["jobs.get"] == 3


def test_a_dropped_connection(jobs: Any, job_emulator: DataprocJobEmulator, transport: str) -> None:
    submit(jobs, pyspark_job("dropped"))
    job_emulator.fail_next(1, 0, endpoint="jobs.get")
    expected: type[Exception] = exceptions.ServiceUnavailable if transport == "grpc" else requests.ConnectionError
    with pytest.raises(expected):
        get(jobs, "dropped")


def test_both_transports_share_one_book(job_emulator: DataprocJobEmulator) -> None:
    job_emulator.reset()
    submit(job_emulator.client("grpc"), pyspark_job("shared"), request_id="req-shared")
    again = submit(job_emulator.client("rest"), pyspark_job("shared"), request_id="req-shared")
    assert again.reference.job_id == "shared"
    methods = [(r.method, r.endpoint, r.status) for r in job_emulator.requests]
    assert methods == [("GRPC", "jobs.submit", 200), ("POST", "jobs.submit", 200)]
    assert job_emulator.requests[0].path == "/google.cloud.dataproc.v1.JobController/SubmitJob"


# ---------------------------------------------------------------------------------------------- batches


def test_create_batch_returns_an_operation_that_ends_with_the_batch(
    batches: Any, batch_emulator: DataprocBatchEmulator
) -> None:
    operation = create(batches, "nightly-0001", request_id="req-1", team="data")
    name = operation.operation.name
    assert name.startswith(f"projects/{P}/regions/{R}/operations/")
    assert operation.metadata.batch == f"{PARENT}/batches/nightly-0001"
    assert not operation.done(retry=None)
    batch = get_batch(batches, "nightly-0001")
    assert batch.state.name == "PENDING"
    assert batch.operation == name
    assert batch.labels == {"team": "data"}
    batch_emulator.finish_after(2, "SUCCEEDED")
    result = operation.result(timeout=10, polling=FAST_POLLING)
    assert isinstance(result, dataproc_v1.Batch)
    assert (result.name, result.state.name) == (f"{PARENT}/batches/nightly-0001", "SUCCEEDED")
    assert batch_emulator.job("nightly-0001").history == ["PENDING", "RUNNING", "SUCCEEDED"]
    assert batch_emulator.operation_of("nightly-0001") == name


def test_a_failed_batch_ends_its_operation_with_an_error(batches: Any, batch_emulator: DataprocBatchEmulator) -> None:
    operation = create(batches, "doomed-1")
    batch_emulator.force_state("doomed-1", "FAILED")
    with pytest.raises(exceptions.GoogleAPICallError, match="failed"):
        operation.result(timeout=10, polling=FAST_POLLING)
    assert get_batch(batches, "doomed-1").state.name == "FAILED"


def test_a_repeated_request_id_returns_the_first_operation(batches: Any, batch_emulator: DataprocBatchEmulator) -> None:
    first = create(batches, "batch-one", request_id="req-same")
    batch_emulator.force_state("batch-one", "FAILED")
    again = create(batches, "batch-two", request_id="req-same")
    assert again.operation.name == first.operation.name
    assert again.metadata.batch.endswith("/batch-one")
    assert [b.external_id for b in batch_emulator.jobs] == ["batch-one"]


def test_the_same_batch_id_is_already_exists_whatever_its_state(
    batches: Any, batch_emulator: DataprocBatchEmulator, transport: str
) -> None:
    create(batches, "static-id", request_id="try-1")
    batch_emulator.force_state("static-id", "FAILED")
    with pytest.raises(exceptions.Conflict) as caught:
        create(batches, "static-id", request_id="try-2")
    assert type(caught.value) is (exceptions.AlreadyExists if transport == "grpc" else exceptions.Conflict)


@pytest.mark.parametrize("batch_id", ["Upper-Case", "abc", "x" * 64, "under_score"])
def test_malformed_batch_ids_are_invalid_argument(batches: Any, batch_id: str) -> None:
    with pytest.raises(exceptions.BadRequest):
        create(batches, batch_id)


def test_without_a_batch_id_the_server_generates_one(batches: Any, batch_emulator: DataprocBatchEmulator) -> None:
    operation = create(batches)
    batch_id = operation.metadata.batch.rsplit("/", 1)[1]
    assert batch_emulator.job(batch_id).state == "PENDING"
    assert 4 <= len(batch_id) <= 63


def test_cancel_through_the_operation(batches: Any, batch_emulator: DataprocBatchEmulator, transport: str) -> None:
    operation = create(batches, "cancel-me")
    batches.cancel_operation(request={"name": operation.operation.name}, retry=None)
    assert get_batch(batches, "cancel-me").state.name == "CANCELLING"
    with pytest.raises(exceptions.GoogleAPICallError) as caught:
        operation.result(timeout=10, polling=FAST_POLLING)
    assert caught.value.code == 499  # google.rpc.Code.CANCELLED
    assert batch_emulator.job("cancel-me").history == ["PENDING", "CANCELLING", "CANCELLED"]
    assert get_batch(batches, "cancel-me").state.name == "CANCELLED"
    assert batch_emulator.counters()["cancelled"] == ["cancel-me"]
    with pytest.raises(exceptions.BadRequest):
        batches.cancel_operation(request={"name": operation.operation.name}, retry=None)


def test_get_operation_is_a_status_call_and_unknown_operations_are_not_found(
    batches: Any, batch_emulator: DataprocBatchEmulator
) -> None:
    operation = create(batches, "polled")
    batch_emulator.finish_after(1, "SUCCEEDED")
    polled = batches.get_operation(request={"name": operation.operation.name}, retry=None)
    assert polled.done
    with pytest.raises(exceptions.NotFound):
        batches.get_operation(request={"name": f"projects/{P}/regions/{R}/operations/nope"}, retry=None)
    batch_emulator.forget("polled")
    with pytest.raises(exceptions.NotFound):
        get_batch(batches, "polled")


def test_list_batches_filters_newest_first(batches: Any, batch_emulator: DataprocBatchEmulator) -> None:
    for n in range(3):
        create(batches, f"listed-{n}", env="prod" if n else "dev")
    batch_emulator.force_state("listed-2", "RUNNING")

    def ids(**request: Any) -> list[str]:
        found = batches.list_batches(request={"parent": PARENT, **request}, retry=None)
        return [b.name.rsplit("/", 1)[1] for b in found]

    assert ids() == ["listed-2", "listed-1", "listed-0"]
    assert ids(page_size=1) == ["listed-2", "listed-1", "listed-0"]
    assert ids(filter='batch_id = "listed-1"') == ["listed-1"]
    assert ids(filter="state = RUNNING") == ["listed-2"]
    assert ids(filter="labels.env = prod AND state = PENDING") == ["listed-1"]
    with pytest.raises(exceptions.BadRequest):
        ids(filter="create_time > 5")


def test_batch_faults(batches: Any, batch_emulator: DataprocBatchEmulator) -> None:
    batch_emulator.fail_next(1, 503, endpoint="batches.create")
    with pytest.raises(exceptions.ServiceUnavailable):
        create(batches, "late-batch")
    assert batch_emulator.jobs == []
    operation = create(batches, "late-batch")
    batch_emulator.fail_next(1, 429, endpoint="operations.get")
    with pytest.raises(exceptions.TooManyRequests):
        batches.get_operation(request={"name": operation.operation.name}, retry=None)


# ---------------------------------------------------------------------------------------------- control plane


def test_the_control_plane_over_http(job_emulator: DataprocJobEmulator) -> None:
    job_emulator.reset()
    client = job_emulator.client("grpc")
    with ControlClient(job_emulator.url) as control:
        assert control.addresses() == {"http": job_emulator.url, "grpc": job_emulator.grpc_address}
        control.hold("RUNNING")
        submit(client, pyspark_job("controlled"), request_id="req-c")
        assert get(client, "controlled").status.state.name == "RUNNING"
        control.force_state("controlled", "ATTEMPT_FAILURE")
        assert get(client, "controlled").status.state.name == "ATTEMPT_FAILURE"
        control.fail_next(1, 503, endpoint="jobs.get")
        with pytest.raises(exceptions.ServiceUnavailable):
            get(client, "controlled")
        [job] = control.jobs()
        assert (job["external_id"], job["token"], job["state"]) == ("controlled", "req-c", "ATTEMPT_FAILURE")
        assert control.counters()["calls"] == {"jobs.submit": 1, "jobs.get": 3}
        control.forget("controlled")
        with pytest.raises(exceptions.NotFound):
            get(client, "controlled")
    job_emulator.reset()


def test_an_unknown_forced_state_travels_as_unspecified(job_emulator: DataprocJobEmulator) -> None:
    job_emulator.reset()
    client = job_emulator.client("rest")
    submit(client, pyspark_job("odd"))
    job_emulator.force_state("odd", "STATE_UNSPECIFIED")
    assert get(client, "odd").status.state.name == "STATE_UNSPECIFIED"
    job_emulator.reset()


@pytest.mark.parametrize("emulator_class", ["DataprocJobEmulator", "DataprocBatchEmulator"])
def test_the_emulator_runs_as_its_own_process(tmp_path: Path, emulator_class: str) -> None:
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_durable.testing.serve",
            f"airflow_durable_dataproc.testing.emulator:{emulator_class}",
            "--port-file",
            str(port_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "the emulator did not start"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        with ControlClient(url) as control:
            control.wait_until_up()
            addresses = control.addresses()
            for transport, endpoint in (("grpc", "http://" + addresses["grpc"]), ("rest", addresses["http"])):
                connection = DataprocConnection(gcp_conn_id=None, transport=transport, api_endpoint=endpoint)  # type: ignore[arg-type]
                if emulator_class == "DataprocJobEmulator":
                    submit(connection.job_client(R), pyspark_job(f"proc-{transport}"))
                else:
                    create(connection.batch_client(R), f"proc-{transport}")
            assert [job["external_id"] for job in control.jobs()] == ["proc-grpc", "proc-rest"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_the_emulator_modules_import_neither_airflow_nor_pytest() -> None:
    code = (
        "import sys, airflow_durable_dataproc.testing.emulator as e, airflow_durable.testing.serve;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'pytest'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------- for the contract


def test_a_held_create_response_leaves_the_job_behind_a_client_deadline(
    job_emulator: DataprocJobEmulator, transport: str
) -> None:
    """The submit-to-persist window: the job exists, but the client gave up before it learned so."""
    job_emulator.reset()
    client = job_emulator.client(transport)  # type: ignore[arg-type]
    job_emulator.hold_after_create(1.5)
    with pytest.raises((exceptions.DeadlineExceeded, requests.Timeout)):
        submit(client, pyspark_job("in-the-window"), request_id="req-window", timeout=0.3)
    assert [job.external_id for job in job_emulator.jobs] == ["in-the-window"]
    time.sleep(1.5)
    again = submit(client, pyspark_job("in-the-window"), request_id="req-window")
    assert again.reference.job_id == "in-the-window"
    job_emulator.reset()


def test_the_emulator_plugs_into_the_contracts_external_system(batch_emulator: DataprocBatchEmulator) -> None:
    from airflow_durable import JobState
    from airflow_durable.testing import EmulatorSystem

    batch_emulator.reset()
    system = EmulatorSystem(batch_emulator)
    client = batch_emulator.client("grpc")
    system.finish_jobs_after(2, JobState.FAILED)
    create(client, "contract-1", request_id="ad-0123456789abcdef0123456789ab-g0")
    [submission] = system.submissions()
    assert (submission.external_id, submission.token) == ("contract-1", "ad-0123456789abcdef0123456789ab-g0")
    # The contract's "finish after N status calls" counts the calls before the final one.
    assert [get_batch(client, "contract-1").state.name for _ in range(3)] == ["RUNNING", "RUNNING", "FAILED"]
    assert system.status_calls() == 3
    batch_emulator.reset()
