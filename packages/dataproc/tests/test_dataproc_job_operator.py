"""``DurableDataprocSubmitJobOperator`` beyond the contract, against the Dataproc job emulator (gRPC and REST).

Upstream's arguments, templated fields, link and return value; bad input failing before any intent; the public
report (re-attach by ID prefix picked up another DAG run's job); the user's IDs only seeding ours; adopt on
``ALREADY_EXISTS``; ``on_kill`` bounded; deferrable; fire-and-forget; ``wait_timeout``; odd replies.
"""

from __future__ import annotations

import inspect
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from airflow.providers.google.cloud.links.dataproc import DataprocJobLink
from airflow.providers.google.cloud.operators.dataproc import DataprocSubmitJobOperator
from airflow.sdk.exceptions import AirflowException, TaskDeferred

from airflow_durable import TaskInstanceScope, submission_token
from airflow_durable.testing import FakeTaskInstance, InMemoryTaskStateStore, TaskInstanceRun, first_trigger_event
from airflow_durable_dataproc.base import DEFAULT, DataprocRequestError, is_default
from airflow_durable_dataproc.jobs import (
    JOB_LINK_KEY,
    DataprocJobFailedError,
    DataprocJobWaitTimeoutError,
    DurableDataprocSubmitJobOperator,
)
from airflow_durable_dataproc.statuses import derive_job_id, derive_request_id, token_seed
from airflow_durable_dataproc.testing import DataprocJobEmulator
from airflow_durable_dataproc.triggers import DurableDataprocJobTrigger

PROJECT = "operator-project"
REGION = "europe-west4"
KEY = "dataproc_job_id"
JOB = {"placement": {"cluster_name": "cluster-1"}, "pyspark_job": {"main_python_file_uri": "gs://bucket/job.py"}}


@pytest.fixture(scope="module")
def module_emulator() -> Iterator[DataprocJobEmulator]:
    with DataprocJobEmulator() as emulator:
        yield emulator


@pytest.fixture
def emulator(module_emulator: DataprocJobEmulator) -> Iterator[DataprocJobEmulator]:
    module_emulator.reset()
    yield module_emulator
    module_emulator.reset()


@pytest.fixture(params=["grpc", "rest"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store() -> InMemoryTaskStateStore:
    return InMemoryTaskStateStore()


def endpoint(emulator: DataprocJobEmulator, transport: str) -> str:
    return f"http://{emulator.grpc_address}" if transport == "grpc" else str(emulator.url)


@pytest.fixture
def make(emulator: DataprocJobEmulator, transport: str) -> Callable[..., DurableDataprocSubmitJobOperator]:
    def build(task_id: str = "submit", **overrides: Any) -> DurableDataprocSubmitJobOperator:
        arguments: dict[str, Any] = {
            "job": JOB,
            "region": REGION,
            "project_id": PROJECT,
            "gcp_conn_id": None,
            "transport": transport,
            "api_endpoint": endpoint(emulator, transport),
            "polling_interval_seconds": 0,
            "cancel_timeout_seconds": 5,
            **overrides,
        }
        return DurableDataprocSubmitJobOperator(task_id=task_id, **arguments)

    return build


def task_run(
    store: InMemoryTaskStateStore, task_id: str = "submit", run_id: str = "manual__1", map_index: int = -1
) -> TaskInstanceRun:
    return TaskInstanceRun(store, TaskInstanceScope("dataproc_dag", run_id, task_id, map_index))


def token_of(run: TaskInstanceRun, generation: int = 0, base: str | None = None) -> str:
    return submission_token(run.scope, generation, base=base)


def submit_directly(emulator: DataprocJobEmulator, transport: str, job_id: str, request_id: str) -> None:
    job = {**JOB, "reference": {"job_id": job_id}}
    request = {"project_id": PROJECT, "region": REGION, "job": job, "request_id": request_id}
    emulator.client(transport).submit_job(request=request)


# ---------------------------------------------------------------------- upstream's interface


def test_parameters_and_defaults_are_upstreams() -> None:
    ours = inspect.signature(DurableDataprocSubmitJobOperator.__init__).parameters
    theirs = inspect.signature(DataprocSubmitJobOperator.__init__).parameters
    extra = {"transport", "api_endpoint", "poll_interval_seconds", "max_poll_interval_seconds"}
    assert [name for name in ours if name not in extra] == list(theirs)
    for name in ("request_id", "timeout", "metadata", "gcp_conn_id", "impersonation_chain", "asynchronous"):
        assert ours[name].default == theirs[name].default, name
    for name in ("polling_interval_seconds", "cancel_on_kill", "wait_timeout", "start_from_trigger"):
        assert ours[name].default == theirs[name].default, name
    assert theirs["project_id"].default is None
    assert ours["project_id"].default is None
    assert ours["retry"].default is DEFAULT
    assert type(theirs["retry"].default).__name__ == "_MethodDefault"
    assert is_default(theirs["retry"].default)  # both keep the client's own retry
    operator = DurableDataprocSubmitJobOperator(task_id="t", job=JOB, region=REGION)
    assert operator.retry is DEFAULT
    assert operator.poll_interval_seconds == 10.0  # upstream's interval is the first delay
    assert operator.max_poll_interval_seconds == 120.0  # the core policy: max(120 s, 4 x 10 s)
    assert operator.start_from_trigger is False


def test_templated_fields_and_link_are_upstreams() -> None:
    assert tuple(DurableDataprocSubmitJobOperator.template_fields) == tuple(DataprocSubmitJobOperator.template_fields)
    assert DurableDataprocSubmitJobOperator.template_fields_renderers == {"job": "json"}
    assert [type(link) for link in DurableDataprocSubmitJobOperator.operator_extra_links] == [DataprocJobLink]
    assert DataprocJobLink.key == JOB_LINK_KEY


def test_deferrable_with_a_zero_polling_interval_is_upstreams_error() -> None:
    with pytest.raises(ValueError, match="Invalid value for polling_interval_seconds"):
        DurableDataprocSubmitJobOperator(
            task_id="t", job=JOB, region=REGION, deferrable=True, polling_interval_seconds=0
        )


def test_importing_the_operator_imports_no_dataproc_client() -> None:
    code = (
        "import sys, airflow_durable_dataproc.jobs\n"
        "loaded = [m for m in ('google.cloud.dataproc_v1', 'google.api_core', 'grpc') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------- IDs, link and result on every path


def test_fresh_run_derives_job_id_and_request_id_and_pushes_the_link(
    make: Callable[..., DurableDataprocSubmitJobOperator], emulator: DataprocJobEmulator, store: InMemoryTaskStateStore
) -> None:
    emulator.finish_after(1, "DONE")
    run = task_run(store)
    outcome = run.run_try(make())
    token = token_of(run)
    assert outcome.result == token  # no user ID: the job ID is the token
    [job] = emulator.jobs
    assert (job.external_id, job.token) == (token, derive_request_id(token))
    assert outcome.xcoms[JOB_LINK_KEY] == {"job_id": token, "region": REGION, "project_id": PROJECT}
    assert run.stored(KEY)["external_id"] == token


def test_a_users_job_id_and_request_id_only_seed_ours(
    make: Callable[..., DurableDataprocSubmitJobOperator], emulator: DataprocJobEmulator, store: InMemoryTaskStateStore
) -> None:
    job = {**JOB, "reference": {"job_id": "nightly_load"}}
    emulator.finish_after(1, "ERROR")
    run = task_run(store)
    first = run.run_try(make(job=job, request_id="static-request"))
    assert isinstance(first.error, DataprocJobFailedError)
    emulator.finish_after(1, "DONE")
    second = run.run_try(make(job=job, request_id="static-request"))
    assert second.error is None
    base = token_seed(job_id="nightly_load", request_id="static-request")
    tokens = [token_of(run, 0, base), token_of(run, 1, base)]
    assert [j.external_id for j in emulator.jobs] == [derive_job_id(t, "nightly_load") for t in tokens]
    assert all(j.external_id.startswith("nightly_load-") for j in emulator.jobs)
    assert [j.token for j in emulator.jobs] == tokens  # never the user's request_id
    assert second.result == derive_job_id(tokens[1], "nightly_load")


def test_already_exists_for_our_own_id_adopts_the_job(
    make: Callable[..., DurableDataprocSubmitJobOperator],
    emulator: DataprocJobEmulator,
    store: InMemoryTaskStateStore,
    transport: str,
) -> None:
    """The retry after a crash in the submit window: GetJob misses (a 404), the resubmit meets ALREADY_EXISTS."""
    from airflow_durable.state import DurableState, Phase

    # A previous try's intent, its job created with another request_id (the deduplication window is over).
    run = task_run(store)
    token = token_of(run)
    submit_directly(emulator, transport, token, "an-older-request")
    store.set(run.scope, KEY, DurableState(generation=0, token=token, phase=Phase.INTENT).to_json())
    emulator.fail_next(1, 404, endpoint="jobs.get")
    emulator.finish_after(1, "DONE")
    outcome = run.run_try(make())
    assert outcome.error is None, outcome.error
    assert outcome.result == token
    assert [j.external_id for j in emulator.jobs] == [token]
    assert outcome.xcoms[JOB_LINK_KEY]["job_id"] == token


def test_public_report_re_attach_never_matches_another_runs_job_by_prefix(
    make: Callable[..., DurableDataprocSubmitJobOperator],
    emulator: DataprocJobEmulator,
    store: InMemoryTaskStateStore,
    transport: str,
) -> None:
    """Jobs whose IDs start with ours (another DAG run's, a longer ID) are never adopted: only the exact ID is."""
    from airflow_durable.state import DurableState, Phase

    job = {**JOB, "reference": {"job_id": "nightly"}}
    run = task_run(store, run_id="scheduled__2026-12-02")
    base = token_seed(job_id="nightly")
    token = token_of(run, 0, base)
    ours = derive_job_id(token, "nightly")
    other_run = task_run(InMemoryTaskStateStore(), run_id="scheduled__2026-12-01")
    submit_directly(emulator, transport, derive_job_id(token_of(other_run, 0, base), "nightly"), "other-run")
    submit_directly(emulator, transport, f"{ours}-x", "longer-id")
    submit_directly(emulator, transport, "nightly", "bare-user-id")
    store.set(run.scope, KEY, DurableState(generation=0, token=token, phase=Phase.INTENT).to_json())
    emulator.finish_after(1, "DONE")
    outcome = run.run_try(make(job=job))
    assert outcome.error is None, outcome.error
    assert outcome.result == ours
    assert [j.external_id for j in emulator.jobs][-1] == ours
    assert len(emulator.jobs) == 4


# ---------------------------------------------------------------------- bad input before any intent


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"job": {"placement": {"cluster_name": "c"}}}, "exactly one known job type"),
        ({"job": {**JOB, "spark_job": {"main_class": "M"}}}, "exactly one known job type"),
        ({"job": {**JOB, "not_a_job": {}}, "request_id": None}, None),
        ({"job": {**JOB, "reference": {"job_id": "has a space"}}}, "job.reference.job_id"),
        ({"request_id": "x" * 41}, "request_id"),
        ({"region": "Europe West"}, "is not a Dataproc region"),
        ({"project_id": None}, "project_id is not set"),
        ({"job": "not a job"}, "job must be a dict"),
    ],
    ids=["no-job-type", "two-job-types", "unknown-key-ok", "user-job-id", "request-id", "region", "project", "str"],
)
def test_bad_input_fails_before_any_intent(
    make: Callable[..., DurableDataprocSubmitJobOperator],
    emulator: DataprocJobEmulator,
    store: InMemoryTaskStateStore,
    overrides: dict[str, Any],
    message: str | None,
) -> None:
    run = task_run(store)
    outcome = run.run_try(make(**overrides), run_triggers=False)
    if message is None:  # the job type check looks at job types only
        assert outcome.error is None or not isinstance(outcome.error, DataprocRequestError)
        return
    assert isinstance(outcome.error, DataprocRequestError), outcome.error
    assert message in str(outcome.error)
    assert run.stored(KEY) is None
    assert emulator.jobs == []


def test_a_region_that_cannot_be_reached_fails_before_any_intent(
    make: Callable[..., DurableDataprocSubmitJobOperator], store: InMemoryTaskStateStore, transport: str
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    run = task_run(store)
    started = time.monotonic()
    outcome = run.run_try(make(api_endpoint=f"http://127.0.0.1:{port}", timeout=2))
    assert isinstance(outcome.error, DataprocRequestError), outcome.error
    assert "cannot be reached" in str(outcome.error)
    assert time.monotonic() - started < 30
    assert run.stored(KEY) is None


def test_a_region_dataproc_does_not_serve_fails_before_any_intent(
    make: Callable[..., DurableDataprocSubmitJobOperator], emulator: DataprocJobEmulator, store: InMemoryTaskStateStore
) -> None:
    emulator.fail_next(1, 404, endpoint="jobs.list")
    run = task_run(store)
    outcome = run.run_try(make())
    assert isinstance(outcome.error, DataprocRequestError), outcome.error
    assert "does not serve region" in str(outcome.error)
    assert run.stored(KEY) is None
    assert emulator.jobs == []


# ---------------------------------------------------------------------- states, errors and waits


@pytest.mark.parametrize(
    ("final", "text"), [("ERROR", "Job failed:\n"), ("CANCELLED", "Job was cancelled:\n")], ids=["error", "cancelled"]
)
def test_failed_jobs_raise_upstreams_text(
    make: Callable[..., DurableDataprocSubmitJobOperator],
    emulator: DataprocJobEmulator,
    store: InMemoryTaskStateStore,
    final: str,
    text: str,
) -> None:
    emulator.finish_after(1, final)
    outcome = task_run(store).run_try(make())
    assert isinstance(outcome.error, DataprocJobFailedError)
    assert isinstance(outcome.error, AirflowException)
    assert str(outcome.error).startswith(text)
    assert "reference" in str(outcome.error)  # the job as read, as upstream prints it


@pytest.mark.parametrize("active", ["ATTEMPT_FAILURE", "CANCEL_PENDING", "CANCEL_STARTED", "SETUP_DONE"])
def test_attempt_failure_and_cancel_states_are_active_until_the_job_ends(
    make: Callable[..., DurableDataprocSubmitJobOperator],
    emulator: DataprocJobEmulator,
    store: InMemoryTaskStateStore,
    active: str,
) -> None:
    emulator.hold("RUNNING")
    run = task_run(store)
    job_id = run.run_try(make(asynchronous=True)).result
    emulator.force_state(job_id, active)
    calls: list[str] = []

    def on_status(external_id: Any) -> None:
        calls.append(str(external_id))
        if len(calls) == 3:
            emulator.force_state(job_id, "DONE")

    emulator.on_status = on_status
    try:
        outcome = run.run_try(make())  # a waiting try of the same task instance reconnects and waits
    finally:
        emulator.on_status = None
    assert outcome.error is None, outcome.error
    assert outcome.result == job_id
    assert len(calls) >= 3  # it kept polling through the active state
    assert len(emulator.jobs) == 1


def test_wait_timeout_is_upstreams_and_the_retry_reconnects(
    make: Callable[..., DurableDataprocSubmitJobOperator], emulator: DataprocJobEmulator, store: InMemoryTaskStateStore
) -> None:
    emulator.hold("RUNNING")
    run = task_run(store)
    first = run.run_try(make(wait_timeout=1, polling_interval_seconds=0, poll_interval_seconds=0.2))
    assert isinstance(first.error, DataprocJobWaitTimeoutError)
    [job] = emulator.jobs
    assert str(first.error) == f"Timeout: dataproc job {job.external_id} is not ready after 1s"
    assert emulator.job(job.external_id).state == "RUNNING"  # not cancelled: the retry reconnects
    emulator.force_state(job.external_id, "DONE")
    second = run.run_try(make())
    assert second.result == job.external_id
    assert len(emulator.jobs) == 1


def test_a_newer_servers_state_number_is_an_error_naming_it(
    make: Callable[..., DurableDataprocSubmitJobOperator], emulator: DataprocJobEmulator, store: InMemoryTaskStateStore
) -> None:
    run = task_run(store)
    job_id = run.run_try(make(asynchronous=True)).result
    emulator.force_state(job_id, "42")
    outcome = run.run_try(make())
    assert outcome.error is not None
    assert "'42'" in str(outcome.error)


# ---------------------------------------------------------------------- fire-and-forget, deferrable, kill


def test_asynchronous_submits_once_and_reads_no_state(
    make: Callable[..., DurableDataprocSubmitJobOperator], emulator: DataprocJobEmulator, store: InMemoryTaskStateStore
) -> None:
    run = task_run(store)
    first = run.run_try(make(asynchronous=True))
    again = run.run_try(make(asynchronous=True))
    assert first.result == again.result == emulator.jobs[0].external_id
    assert len(emulator.jobs) == 1
    assert emulator.counters().get("jobs.get", 0) == 0
    assert again.xcoms[JOB_LINK_KEY] == first.xcoms[JOB_LINK_KEY]


def test_deferrable_defers_on_our_trigger_and_returns_the_job_id(
    make: Callable[..., DurableDataprocSubmitJobOperator], emulator: DataprocJobEmulator, store: InMemoryTaskStateStore
) -> None:
    run = task_run(store)
    outcome = run.run_try(
        make(deferrable=True, polling_interval_seconds=1, poll_interval_seconds=0.05), run_triggers=False
    )
    assert isinstance(outcome.deferred, TaskDeferred)
    trigger = outcome.deferred.trigger
    assert isinstance(trigger, DurableDataprocJobTrigger)
    assert outcome.deferred.method_name == "execute_complete"
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_durable_dataproc.triggers.DurableDataprocJobTrigger"
    assert "credentials" not in str(kwargs)
    rebuilt = DurableDataprocJobTrigger(**kwargs)
    emulator.finish_after(1, "DONE")
    event = first_trigger_event(rebuilt, 10)
    job_id = emulator.jobs[0].external_id
    assert event.payload == {"external_id": job_id, "status": "DONE"}
    context = {"ti": FakeTaskInstance(dag_id="dataproc_dag", run_id="manual__1", task_id="submit", try_number=1)}
    assert make(deferrable=True, polling_interval_seconds=1).execute_complete(context, event.payload) == job_id
    assert context["ti"].xcoms[JOB_LINK_KEY]["job_id"] == job_id
    # A retry (the job ended meanwhile) returns it from the already-succeeded path: one job.
    retried = run.run_try(make(deferrable=True, polling_interval_seconds=1), run_triggers=False)
    assert (retried.deferred, retried.result) == (None, job_id)
    assert len(emulator.jobs) == 1


def test_deferrable_does_not_defer_a_job_already_ended(
    make: Callable[..., DurableDataprocSubmitJobOperator], emulator: DataprocJobEmulator, store: InMemoryTaskStateStore
) -> None:
    emulator.hold("DONE")
    outcome = task_run(store).run_try(make(deferrable=True, polling_interval_seconds=1), run_triggers=False)
    assert outcome.deferred is None
    assert outcome.result == emulator.jobs[0].external_id


def test_upstreams_trigger_event_completes_as_upstream(
    make: Callable[..., DurableDataprocSubmitJobOperator],
) -> None:
    operator = make(deferrable=True, polling_interval_seconds=1)
    assert operator.execute_complete({}, {"job_id": "j1", "job_state": "DONE", "job": {}}) == "j1"
    with pytest.raises(AirflowException, match="Job j1 was cancelled"):
        operator.execute_complete({}, {"job_id": "j1", "job_state": "CANCELLED", "job": {}})


def test_on_kill_cancels_the_owned_job_bounded_in_time(
    make: Callable[..., DurableDataprocSubmitJobOperator], emulator: DataprocJobEmulator, store: InMemoryTaskStateStore
) -> None:
    run = task_run(store)
    operator = make(asynchronous=True, cancel_timeout_seconds=0.5)
    job_id = run.run_try(operator).result
    emulator.set_latency(3)
    started = time.monotonic()
    operator.on_kill()
    assert time.monotonic() - started < 2
    emulator.set_latency(0)
    deadline = time.monotonic() + 10
    while emulator.job(job_id).state == "PENDING" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert emulator.job(job_id).state in ("CANCEL_PENDING", "CANCELLED")  # the slow cancel was sent


def test_on_kill_cancels_only_with_cancel_on_kill(
    make: Callable[..., DurableDataprocSubmitJobOperator], emulator: DataprocJobEmulator, store: InMemoryTaskStateStore
) -> None:
    run = task_run(store)
    keep = make(asynchronous=True, cancel_on_kill=False)
    job_id = run.run_try(keep).result
    keep.on_kill()
    assert emulator.job(job_id).state == "PENDING"
    cancel = make(asynchronous=True)
    assert run.run_try(cancel).result == job_id
    cancel.on_kill()
    assert emulator.job(job_id).state in ("CANCEL_PENDING", "CANCELLED")


def test_durable_false_sends_the_users_request_id_as_upstream(
    make: Callable[..., DurableDataprocSubmitJobOperator], emulator: DataprocJobEmulator, store: InMemoryTaskStateStore
) -> None:
    emulator.finish_after(1, "DONE")
    job_id = task_run(store).run_try(make(durable=False, request_id="users-request")).result
    [job] = emulator.jobs
    assert (job.external_id, job.token) == (job_id, "users-request")


def test_the_trigger_cancels_on_kill_bounded_and_only_with_cancel_on_kill(
    make: Callable[..., DurableDataprocSubmitJobOperator], emulator: DataprocJobEmulator, store: InMemoryTaskStateStore
) -> None:
    import asyncio

    run = task_run(store)
    outcome = run.run_try(make(deferrable=True, polling_interval_seconds=1), run_triggers=False)
    assert isinstance(outcome.deferred, TaskDeferred)
    trigger = outcome.deferred.trigger
    job_id = emulator.jobs[0].external_id
    _, kwargs = trigger.serialize()
    keep = DurableDataprocJobTrigger(**{**kwargs, "cancel_on_kill": False})
    asyncio.run(keep.on_kill())
    assert emulator.job(job_id).state not in ("CANCEL_PENDING", "CANCELLED")
    slow = DurableDataprocJobTrigger(**{**kwargs, "cancel_timeout_seconds": 0.5})
    emulator.set_latency(3)
    started = time.monotonic()
    asyncio.run(slow.on_kill())  # never raises, gives up after cancel_timeout_seconds
    assert time.monotonic() - started < 2.5
    emulator.set_latency(0)
    asyncio.run(DurableDataprocJobTrigger(**kwargs).on_kill())
    assert emulator.job(job_id).state in ("CANCEL_PENDING", "CANCELLED")


def test_a_job_message_is_accepted_as_upstream_and_its_job_id_seeds_ours(
    make: Callable[..., DurableDataprocSubmitJobOperator], emulator: DataprocJobEmulator, store: InMemoryTaskStateStore
) -> None:
    from google.cloud import dataproc_v1

    job = dataproc_v1.Job(**JOB, reference={"job_id": "from_a_message"})
    emulator.finish_after(1, "DONE")
    outcome = task_run(store).run_try(make(job=job))
    assert outcome.error is None, outcome.error
    assert outcome.result.startswith("from_a_message-")
    assert [j.external_id for j in emulator.jobs] == [outcome.result]
