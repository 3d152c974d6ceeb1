"""``DurableDataprocCreateBatchOperator`` beyond the contract, against the Dataproc batch emulator.

Upstream's arguments, templated fields, labels, link and return value; bad input failing before any intent;
the public reports (a static ``batch_id`` attached to an old failed batch on every retry; cancelled batches
reported as success); ``ALREADY_EXISTS`` for our own derived ID adopted; ``on_kill`` through the batch's
operation; the trigger; odd replies. Both transports where the wire matters.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from airflow.providers.google.cloud.operators.dataproc import DataprocCreateBatchOperator
from airflow.sdk.exceptions import AirflowException

from airflow_durable import TaskInstanceScope, submission_token
from airflow_durable.testing import InMemoryTaskStateStore, TaskInstanceRun, first_trigger_event
from airflow_durable_dataproc import statuses
from airflow_durable_dataproc.batches import (
    DataprocBatchFailedError,
    DurableDataprocCreateBatchOperator,
    airflow_labels,
    check_region,
)
from airflow_durable_dataproc.testing import DataprocBatchEmulator
from airflow_durable_dataproc.triggers import DurableDataprocBatchTrigger

PROJECT = "test-project"
REGION = "us-central1"
KEY = "dataproc_batch_id"
SUCCEEDED = 5
"""``Batch.State.SUCCEEDED``: ``Batch.to_dict`` gives enums as numbers."""
PYSPARK = {"pyspark_batch": {"main_python_file_uri": "gs://bucket/job.py"}}


@pytest.fixture(scope="module")
def batch_emulator() -> Iterator[DataprocBatchEmulator]:
    with DataprocBatchEmulator() as emulator:
        yield emulator


@pytest.fixture(params=["grpc", "rest"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emulator(batch_emulator: DataprocBatchEmulator) -> Iterator[DataprocBatchEmulator]:
    batch_emulator.reset()
    yield batch_emulator
    batch_emulator.reset()


@pytest.fixture
def store() -> InMemoryTaskStateStore:
    return InMemoryTaskStateStore()


@pytest.fixture
def make(emulator: DataprocBatchEmulator, transport: str) -> Callable[..., DurableDataprocCreateBatchOperator]:
    endpoint = f"http://{emulator.grpc_address}" if transport == "grpc" else emulator.url

    def build(task_id: str = "batch", **overrides: Any) -> DurableDataprocCreateBatchOperator:
        arguments: dict[str, Any] = {
            "project_id": PROJECT,
            "region": REGION,
            "batch": json.loads(json.dumps(PYSPARK)),
            "transport": transport,
            "api_endpoint": endpoint,
            "polling_interval_seconds": 1,
            "poll_interval_seconds": 0.01,
            "max_poll_interval_seconds": 0.02,
            "cancel_timeout_seconds": 5,
            **overrides,
        }
        return DurableDataprocCreateBatchOperator(task_id=task_id, **arguments)

    return build


SCOPE = TaskInstanceScope("dataproc_dag", "manual__1", "batch", -1)


def task_run(store: InMemoryTaskStateStore) -> TaskInstanceRun:
    return TaskInstanceRun(store, SCOPE)


def stored(store: InMemoryTaskStateStore) -> Any:
    raw = store.get(SCOPE, KEY)
    return None if raw is None else json.loads(raw) if isinstance(raw, str) else raw


def batch_ids(emulator: DataprocBatchEmulator) -> list[str]:
    return [str(job.external_id) for job in emulator.jobs]


# ---------------------------------------------------------------------- upstream's interface


def test_parameters_defaults_and_template_fields_are_upstreams() -> None:
    ours = inspect.signature(DurableDataprocCreateBatchOperator.__init__).parameters
    theirs = inspect.signature(DataprocCreateBatchOperator.__init__).parameters
    conf_defaults = {"deferrable", "openlineage_inject_parent_job_info", "openlineage_inject_transport_info"}
    sentinels = {"retry", "result_retry"}  # the client library's DEFAULT, without importing it at parse time
    for name, parameter in theirs.items():
        if name in ("self", "kwargs"):
            continue
        assert name in ours, f"upstream's argument {name!r} is missing"
        if name not in conf_defaults | sentinels:
            assert ours[name].default == parameter.default, name
    assert repr(ours["retry"].default) == "DEFAULT"
    assert tuple(DurableDataprocCreateBatchOperator.template_fields) == tuple(
        DataprocCreateBatchOperator.template_fields
    )
    operator = DurableDataprocCreateBatchOperator(task_id="t", region=REGION, batch=PYSPARK)
    assert (operator.polling_interval_seconds, operator.poll_interval_seconds) == (5, 5.0)
    assert (operator.asynchronous, operator.deferrable) == (False, False)
    assert operator.gcp_conn_id == "google_cloud_default"


def test_extra_link_is_the_providers_batch_link() -> None:
    from airflow.providers.google.cloud.links.dataproc import DataprocBatchLink

    [link] = list(DurableDataprocCreateBatchOperator.operator_extra_links)
    assert isinstance(link, DataprocBatchLink)
    assert link.key == "dataproc_batch"


def test_importing_the_module_does_not_import_the_dataproc_client() -> None:
    code = (
        "import sys, airflow_durable_dataproc.batches, airflow_durable_dataproc.triggers;"
        "print('google.cloud.dataproc_v1' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_deferrable_needs_a_positive_polling_interval() -> None:
    with pytest.raises(ValueError, match="polling_interval_seconds"):
        DurableDataprocCreateBatchOperator(
            task_id="t", region=REGION, batch=PYSPARK, deferrable=True, polling_interval_seconds=0
        )


def test_labels_are_upstreams() -> None:
    assert airflow_labels("My_Dag", "Load.Data", "My DAG") == {
        "airflow-dag-id": "my-dag",
        "airflow-task-id": "load-data",
        "airflow-dag-display-name": "my-dag",
    }
    assert airflow_labels("-dag", "task", None) == {}
    assert airflow_labels("dag", "t" * 64, None) == {}


# ---------------------------------------------------------------------- the run


def test_a_fresh_run_creates_one_batch_with_derived_ids_labels_link_and_the_batch_as_result(
    make: Callable[..., DurableDataprocCreateBatchOperator],
    store: InMemoryTaskStateStore,
    emulator: DataprocBatchEmulator,
) -> None:
    emulator.finish_after(2, "SUCCEEDED")
    run = task_run(store)
    outcome = run.run_try(make(batch_id="nightly-load"))
    assert outcome.succeeded, outcome.error
    [batch_id] = batch_ids(emulator)
    assert batch_id.startswith("nightly-load-ad-")
    assert statuses.BATCH_ID_PATTERN.match(batch_id)
    record = emulator.job(batch_id)
    assert record.token == batch_id.removeprefix("nightly-load-")  # request_id is the token
    labels = dict(record.message.labels)
    assert labels["airflow-task-id"] == "batch"
    assert set(labels) >= {"airflow-dag-id", "airflow-task-id"}
    result = outcome.result
    assert result["name"] == f"projects/{PROJECT}/locations/{REGION}/batches/{batch_id}"
    assert result["state"] == SUCCEEDED  # Batch.to_dict gives the enum number
    assert outcome.xcoms["dataproc_batch"] == {"project_id": PROJECT, "region": REGION, "batch_id": batch_id}
    assert stored(store)["external_id"] == batch_id


def test_public_report_a_failed_batch_with_a_static_batch_id_gets_a_new_batch_on_retry(
    make: Callable[..., DurableDataprocCreateBatchOperator],
    store: InMemoryTaskStateStore,
    emulator: DataprocBatchEmulator,
) -> None:
    """Upstream: the retry gets ALREADY_EXISTS, attaches to the old FAILED batch, and every retry fails."""
    emulator.finish_after(2, "FAILED")
    run = task_run(store)
    first = run.run_try(make(batch_id="static-id"))
    assert isinstance(first.error, DataprocBatchFailedError)
    assert "failed with error" in str(first.error)
    emulator.finish_after(2, "SUCCEEDED")
    second = run.run_try(make(batch_id="static-id"))
    assert second.succeeded, second.error
    old, new = batch_ids(emulator)
    assert old != new
    assert old.startswith("static-id-")
    assert new.startswith("static-id-")
    assert emulator.job(old).state == "FAILED"
    assert emulator.job(new).state == "SUCCEEDED"
    assert second.result["name"].endswith(f"/batches/{new}")


def test_public_report_a_cancelled_batch_is_never_success(
    make: Callable[..., DurableDataprocCreateBatchOperator],
    store: InMemoryTaskStateStore,
    emulator: DataprocBatchEmulator,
) -> None:
    """Cancelled while the task polls: CANCELLING is polled on (the batch reaches CANCELLED), then the try fails."""
    emulator.hold()
    polled = threading.Event()
    emulator.on_status = lambda job_id: polled.set()
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(task_run(store).run_try(make())), daemon=True)
    worker.start()
    try:
        assert polled.wait(30), "the try never polled the batch"
        [batch_id] = batch_ids(emulator)
        emulator.client("grpc").cancel_operation(request={"name": emulator.operation_of(batch_id)})
        worker.join(30)
    finally:
        emulator.on_status = None
    assert not worker.is_alive(), "the try kept polling a cancelled batch"
    [result] = outcome
    assert isinstance(result.error, DataprocBatchFailedError)
    assert result.error.status == "CANCELLED", "CANCELLING was taken as an end"
    assert str(result.error).startswith(f"Batch job {batch_id} was cancelled.")
    assert emulator.job(batch_id).history[-2:] == ["CANCELLING", "CANCELLED"]


def test_durable_false_sends_the_users_batch_id_and_refuses_an_existing_batch(
    make: Callable[..., DurableDataprocCreateBatchOperator],
    store: InMemoryTaskStateStore,
    emulator: DataprocBatchEmulator,
) -> None:
    emulator.finish_after(1, "FAILED")
    first = task_run(store).run_try(make(batch_id="plain-id", durable=False))
    assert isinstance(first.error, DataprocBatchFailedError)
    assert batch_ids(emulator) == ["plain-id"]
    again = task_run(store).run_try(make(batch_id="plain-id", durable=False))
    assert isinstance(again.error, AirflowException)
    assert "already exists" in str(again.error)
    assert not isinstance(again.error, DataprocBatchFailedError)
    assert stored(store) is None


def test_already_exists_for_our_own_derived_id_adopts_the_batch(
    make: Callable[..., DurableDataprocCreateBatchOperator],
    store: InMemoryTaskStateStore,
    emulator: DataprocBatchEmulator,
) -> None:
    """The batch of this generation exists but the request_id differs (it aged out): adopt, never a second."""
    token = submission_token(SCOPE, 0, base=None)
    emulator.hold()
    emulator.client("grpc").create_batch(
        request={
            "parent": f"projects/{PROJECT}/locations/{REGION}",
            "batch": PYSPARK,
            "batch_id": token,
            "request_id": "another-request",
        }
    )
    emulator.finish_after(1, "SUCCEEDED")
    outcome = task_run(store).run_try(make())
    assert outcome.succeeded, outcome.error
    assert batch_ids(emulator) == [token]
    assert outcome.result["name"].endswith(f"/batches/{token}")


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"batch_id": "Bad_ID"}, "batch_id"),
        ({"batch_id": "abc"}, "batch_id"),
        ({"batch_id_prefix": "UPPER"}, "batch_id_prefix"),
        ({"batch_id": "good-id", "batch_id_prefix": "p"}, "mutually exclusive"),
        ({"batch_id_prefix": "p", "request_id": "r"}, "mutually exclusive"),
        ({"request_id": "no spaces allowed"}, "request_id"),
        ({"region": "global"}, "region"),
        ({"region": "us-central1/../x"}, "region"),
        ({"batch": {"labels": {"a": "b"}}}, "batch type"),
        ({"batch": {**PYSPARK, "spark_batch": {"main_class": "M"}}}, "batch type"),
        ({"batch": {**PYSPARK, "no_such_field": 1}}, "no_such_field"),
    ],
)
def test_bad_input_fails_before_any_intent(
    make: Callable[..., DurableDataprocCreateBatchOperator],
    store: InMemoryTaskStateStore,
    emulator: DataprocBatchEmulator,
    overrides: dict[str, Any],
    match: str,
) -> None:
    outcome = task_run(store).run_try(make(**overrides))
    assert isinstance(outcome.error, ValueError)
    assert match in str(outcome.error)
    assert stored(store) is None
    assert batch_ids(emulator) == []


def test_check_region() -> None:
    assert check_region("europe-west4") == "europe-west4"
    for bad in ("", "global", "Us-Central1", None):
        with pytest.raises(ValueError, match="region"):
            check_region(bad)


def test_asynchronous_and_deferrable_together_is_upstreams_error(
    make: Callable[..., DurableDataprocCreateBatchOperator],
    store: InMemoryTaskStateStore,
    emulator: DataprocBatchEmulator,
) -> None:
    outcome = task_run(store).run_try(make(asynchronous=True, deferrable=True))
    assert isinstance(outcome.error, AirflowException)
    assert "Both asynchronous and deferrable" in str(outcome.error)
    assert batch_ids(emulator) == []
    assert stored(store) is None


def test_asynchronous_returns_the_created_batch_and_a_retry_returns_it_again(
    make: Callable[..., DurableDataprocCreateBatchOperator],
    store: InMemoryTaskStateStore,
    emulator: DataprocBatchEmulator,
) -> None:
    emulator.hold()
    run = task_run(store)
    first = run.run_try(make(asynchronous=True))
    assert first.succeeded, first.error
    [batch_id] = batch_ids(emulator)
    assert first.result["name"].endswith(f"/batches/{batch_id}")
    emulator.force_state(batch_id, "FAILED")
    again = run.run_try(make(asynchronous=True))
    assert again.succeeded, again.error
    assert again.result == first.result
    assert batch_ids(emulator) == [batch_id]


def test_deferrable_returns_the_batch_as_the_polling_path_does(
    make: Callable[..., DurableDataprocCreateBatchOperator],
    store: InMemoryTaskStateStore,
    emulator: DataprocBatchEmulator,
) -> None:
    """Upstream's deferrable path returns None (no XCom); ours returns ``Batch.to_dict``."""
    emulator.finish_after(2, "SUCCEEDED")
    outcome = task_run(store).run_try(make(deferrable=True))
    assert outcome.succeeded, outcome.error
    [batch_id] = batch_ids(emulator)
    assert outcome.result["name"].endswith(f"/batches/{batch_id}")
    assert outcome.result["state"] == SUCCEEDED
    assert outcome.xcoms["dataproc_batch"]["batch_id"] == batch_id


def test_deferrable_failed_batch_raises_upstreams_error(
    make: Callable[..., DurableDataprocCreateBatchOperator],
    store: InMemoryTaskStateStore,
    emulator: DataprocBatchEmulator,
) -> None:
    emulator.finish_after(2, "FAILED")
    outcome = task_run(store).run_try(make(deferrable=True))
    assert isinstance(outcome.error, DataprocBatchFailedError)
    assert "failed with error: batch failed (emulated)." in str(outcome.error)
    assert "Driver logs: https://console.cloud.google.com/dataproc/batches/" in str(outcome.error)


def test_execute_complete_without_event_is_upstreams_error(
    make: Callable[..., DurableDataprocCreateBatchOperator],
) -> None:
    with pytest.raises(AirflowException, match=r"Batch failed\."):
        make().execute_complete(context={}, event=None)


def test_the_trigger_round_trips_and_reports_the_final_state(emulator: DataprocBatchEmulator, transport: str) -> None:
    endpoint = f"http://{emulator.grpc_address}" if transport == "grpc" else emulator.url
    emulator.finish_after(2, "CANCELLED")
    emulator.client("grpc").create_batch(
        request={"parent": f"projects/{PROJECT}/locations/{REGION}", "batch": PYSPARK, "batch_id": "trig-1"}
    )
    trigger = DurableDataprocBatchTrigger(
        "trig-1", PROJECT, REGION, None, None, transport, endpoint, poll_interval_seconds=0.01
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_durable_dataproc.triggers.DurableDataprocBatchTrigger"
    rebuilt = DurableDataprocBatchTrigger(**kwargs)
    event = first_trigger_event(rebuilt)
    assert event.payload == {"external_id": "trig-1", "status": "CANCELLED"}
    missing = DurableDataprocBatchTrigger(
        "gone-1", PROJECT, REGION, None, None, transport, endpoint, poll_interval_seconds=0.01
    )
    assert "unknown to the external system" in first_trigger_event(missing).payload["error"]


# ---------------------------------------------------------------------- kill and odd replies


def test_on_kill_cancels_through_the_batch_operation_and_is_bounded(
    make: Callable[..., DurableDataprocCreateBatchOperator],
    store: InMemoryTaskStateStore,
    emulator: DataprocBatchEmulator,
) -> None:
    emulator.hold()
    operator = make(asynchronous=True, cancel_timeout_seconds=0.5)
    assert task_run(store).run_try(operator).succeeded
    [batch_id] = batch_ids(emulator)
    operator.on_kill()
    assert emulator.counters()["cancelled"] == [batch_id]
    emulator.set_latency(5)
    try:
        started = time.monotonic()
        operator.on_kill()
        assert time.monotonic() - started < 2.0, "on_kill waited for a slow API"
    finally:
        emulator.set_latency(0)


def test_transient_errors_are_retried_without_a_second_batch(
    make: Callable[..., DurableDataprocCreateBatchOperator],
    store: InMemoryTaskStateStore,
    emulator: DataprocBatchEmulator,
) -> None:
    emulator.finish_after(2, "SUCCEEDED")
    emulator.fail_next(2, 503, endpoint="batches.get")
    outcome = task_run(store).run_try(make())
    assert outcome.succeeded, outcome.error
    assert len(batch_ids(emulator)) == 1
