"""The contract suite against ``DurableDataprocCreateBatchOperator`` and, for comparison, upstream's operator.

Both run the real ``BatchControllerClient`` against the Dataproc batch emulator, over gRPC (the client's
default transport) and over REST. Upstream's ``DataprocHook`` hard-codes Google's endpoint, so its client
factory is routed to the emulator here (``get_batch_client`` returns a client built for the emulator); its
logic is untouched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from airflow.providers.google.cloud.operators.dataproc import DataprocCreateBatchOperator

from airflow_durable.testing import DurableOperatorContract, EmulatorSystem
from airflow_durable.testing.contract import CrashController
from airflow_durable.testing.doubles import RunawayPolling
from airflow_durable_dataproc.batches import DurableDataprocCreateBatchOperator
from airflow_durable_dataproc.testing import DataprocBatchEmulator

PROJECT = "contract-project"
REGION = "us-central1"
PER_BATCH_FIELDS = ("uuid", "create_time", "state_time", "state_history", "operation", "runtime_info")
"""``Batch.to_dict`` fields that differ between two batches of the same request (masked in comparisons)."""


def batch_spec() -> dict[str, Any]:
    """A fresh batch (the operators add labels to it in place, as upstream's)."""
    return {"pyspark_batch": {"main_python_file_uri": "gs://bucket/job.py"}}


@pytest.fixture(scope="module")
def batch_emulator() -> Iterator[DataprocBatchEmulator]:
    with DataprocBatchEmulator() as emulator:
        yield emulator


@pytest.fixture(params=["grpc", "rest"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def batch_system(batch_emulator: DataprocBatchEmulator) -> Iterator[EmulatorSystem]:
    batch_emulator.reset()
    yield EmulatorSystem(batch_emulator)
    batch_emulator.reset()


class _OnTheEmulator:
    """The emulator, and ``Batch.to_dict`` results compared without their per-batch fields."""

    external_id_kind = "dataproc-batch"

    @pytest.fixture
    def system(self, batch_system: EmulatorSystem) -> EmulatorSystem:
        return batch_system

    def normalize(self, value: Any, external_id: Any) -> Any:
        if isinstance(value, dict) and "name" in value and "state" in value:
            value = {key: item for key, item in value.items() if key not in PER_BATCH_FIELDS}
            # Upstream's labels name the task: the scenarios compare tasks with different IDs.
            value["labels"] = {k: v for k, v in value.get("labels", {}).items() if k != "airflow-task-id"}
        return super().normalize(value, external_id)  # type: ignore[misc]


class TestDurableDataprocCreateBatchOperator(
    _OnTheEmulator, DurableOperatorContract[DurableDataprocCreateBatchOperator]
):
    supports_deferral = True

    @pytest.fixture(autouse=True)
    def _transport(self, transport: str) -> None:
        self.transport = transport

    @pytest.mark.parametrize("raw", ["42", "STATE_UNSPECIFIED"])
    def test_unknown_status_is_an_error(  # type: ignore[override]
        self, system: Any, operator_factory: Any, crash: CrashController, raw: str
    ) -> None:
        """The contract's scenario over the wire: a state travels as an enum number, not a name.

        A name outside the enum (the contract's ``SOMETHING_NEW``) cannot cross gRPC or REST; a newer server's
        state arrives as a number the client library does not know. It is an error naming it, never "active";
        and so is ``STATE_UNSPECIFIED``.
        """
        run = self.task_run(crash.store)
        self._crash_mid_poll(system, crash, run, operator_factory("durable_task"))
        job = self._only_submission(system)
        system.set_raw_status(job.external_id, raw)
        try:
            outcome = crash.run_try(run, operator_factory("durable_task"))
        except RunawayPolling:
            pytest.fail(f"the operator kept polling a batch in state {raw}")
        assert outcome.error is not None, f"state {raw} was accepted"
        assert raw in str(outcome.error), f"the error does not name the state: {outcome.error}"
        self._only_submission(system)

    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        emulator = system.emulator
        endpoint = f"http://{emulator.grpc_address}" if self.transport == "grpc" else emulator.url
        return {
            "project_id": PROJECT,
            "region": REGION,
            "batch": batch_spec(),
            "transport": self.transport,
            "api_endpoint": endpoint,
            "polling_interval_seconds": 1,
            "cancel_timeout_seconds": 5,
        }


class TestUpstreamDataprocCreateBatchOperator(_OnTheEmulator, DurableOperatorContract[DataprocCreateBatchOperator]):
    """The anchor: upstream's operator (google provider 22.8.0), each failed scenario a strict xfail."""

    external_id_key = "dataproc_batch_id"
    supports_cancel = True
    supports_lost_job_policy = False
    rejects_unknown_statuses = False
    fire_and_forget_kwargs = {"asynchronous": True}
    validates_state = False
    known_gaps: dict[str, str] = {
        "test_fresh_run_persists_before_first_poll": "nothing is written to task_state_store",
        "test_fault_storm_ends_with_one_job_within_the_retry_budget": (
            "google-api-core retries no RESOURCE_EXHAUSTED: a 429 fails the try; and the static batch_id gives "
            "every task instance the batch of the run before it (ALREADY_EXISTS), not one of its own"
        ),
        "test_cleared_after_success_with_the_job_forgotten_replays_the_result": (
            "no result is kept: a clear after success creates the batch again and waits for it"
        ),
        "test_terminal_failure_then_retry_resubmits_with_new_token": (
            "the public report: the retry gets ALREADY_EXISTS for the static batch_id and attaches to the old "
            "FAILED batch, so every retry fails"
        ),
        "test_lost_job_resubmits_by_default": (
            "the retry gets ALREADY_EXISTS for the static batch_id and attaches to the lost batch's ID"
        ),
        "test_not_durable_always_resubmits": "no durable argument: the operator is not a ResumableJobMixin port",
        "test_mapped_task_instances_are_isolated": (
            "every map index gets ALREADY_EXISTS for the one static batch_id and attaches to the same batch"
        ),
        "test_on_kill_cancels_reconnected_job": (
            "on_kill cancels only an operation this try created; after ALREADY_EXISTS there is none"
        ),
        "test_result_and_xcoms_identical_on_every_path": (
            "tasks with one static batch_id share one batch: the crashing task attaches to a finished batch"
        ),
        "test_fire_and_forget_submits_once_without_waiting": "the batch ID is not written to task_state_store",
        "test_fire_and_forget_retry_returns_the_submitted_job[grpc-active]": (
            "the retry of asynchronous=True asks the API again (GetBatch) instead of returning the batch it recorded"
        ),
        "test_fire_and_forget_retry_returns_the_submitted_job[grpc-failed]": (
            "the retry of asynchronous=True returns the batch as it is now (FAILED), not what the first try returned"
        ),
        "test_fire_and_forget_retry_returns_the_submitted_job[grpc-lost]": (
            "the retry of asynchronous=True creates the lost batch again and returns another result"
        ),
    }

    @pytest.fixture(params=["grpc"])
    def transport(self, request: pytest.FixtureRequest) -> str:
        """gRPC only: upstream's ``DataprocHook`` uses no other transport (its ``CreateBatch`` parent,
        ``projects/*/regions/*``, matches no REST binding)."""
        return str(request.param)

    @pytest.fixture(autouse=True)
    def _route_the_hook(self, batch_system: EmulatorSystem, transport: str) -> Iterator[None]:
        emulator = batch_system.emulator
        assert isinstance(emulator, DataprocBatchEmulator)
        connection = json.dumps({"conn_type": "google_cloud_platform", "extra": {"project": PROJECT}})
        with (
            mock.patch.dict(os.environ, {"AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT": connection}),
            mock.patch(
                "airflow.providers.google.cloud.hooks.dataproc.DataprocHook.get_batch_client",
                return_value=emulator.client(transport),  # type: ignore[arg-type]
            ),
        ):
            yield

    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        return {"project_id": PROJECT, "region": REGION, "batch": batch_spec(), "batch_id": "static-batch-id"}
