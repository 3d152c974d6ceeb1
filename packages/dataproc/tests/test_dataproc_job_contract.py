"""The contract suite against ``DurableDataprocSubmitJobOperator`` and, for comparison, upstream's operator.

Both run the real ``google-cloud-dataproc`` ``JobControllerClient`` against the Dataproc job emulator, over
gRPC (the default transport) and over REST. Upstream's ``DataprocHook`` hard-codes Google's endpoint, so its
client factory is routed to the emulator (test plumbing only; upstream's logic is unchanged).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from airflow.providers.google.cloud.hooks.dataproc import DataprocHook
from airflow.providers.google.cloud.operators.dataproc import DataprocSubmitJobOperator

from airflow_durable.testing import DurableOperatorContract, EmulatorSystem
from airflow_durable_dataproc.jobs import DurableDataprocSubmitJobOperator
from airflow_durable_dataproc.testing import DataprocJobEmulator

PROJECT = "contract-project"
REGION = "us-central1"
JOB = {"placement": {"cluster_name": "cluster-1"}, "pyspark_job": {"main_python_file_uri": "gs://bucket/job.py"}}


@pytest.fixture(scope="module")
def job_emulator() -> Iterator[DataprocJobEmulator]:
    with DataprocJobEmulator() as emulator:
        yield emulator


class _OnTheEmulator:
    """The emulator (reset for every test) on one transport."""

    external_id_kind = "dataproc-job"

    transport: str

    @pytest.fixture
    def system(self, job_emulator: DataprocJobEmulator) -> Iterator[EmulatorSystem]:
        job_emulator.reset()
        yield EmulatorSystem(job_emulator)
        job_emulator.reset()

    def endpoint(self, system: Any) -> str:
        emulator: DataprocJobEmulator = system.emulator
        return f"http://{emulator.grpc_address}" if self.transport == "grpc" else str(emulator.url)


class _DurableJobContract(_OnTheEmulator, DurableOperatorContract[DurableDataprocSubmitJobOperator]):
    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        return {
            "job": JOB,
            "region": REGION,
            "project_id": PROJECT,
            "gcp_conn_id": None,
            "transport": self.transport,
            "api_endpoint": self.endpoint(system),
            "polling_interval_seconds": 1,
            "cancel_timeout_seconds": 5,
        }

    @pytest.mark.parametrize(
        ("forced", "named"),
        [("42", "42"), ("SOMETHING_NEW", "STATE_UNSPECIFIED")],
        ids=["newer-server-number", "unspecified"],
    )
    def test_unknown_status_is_an_error(  # type: ignore[override]
        self, system: Any, operator_factory: Any, crash: Any, forced: str, named: str
    ) -> None:
        """The suite's scenario, as the state travels: a name the proto does not know cannot be sent.

        A newer server's state arrives as a bare number (the emulator sends ``"42"`` as 42); a name outside
        the enum travels as ``STATE_UNSPECIFIED``. Either fails the try with an error naming what arrived.
        """
        run = self.task_run(crash.store)
        self._crash_mid_poll(system, crash, run, operator_factory("durable_task"))
        job = self._only_submission(system)
        system.set_raw_status(job.external_id, forced)
        outcome = crash.run_try(run, operator_factory("durable_task"))
        assert outcome.error is not None, "an unknown status was accepted"
        assert f"'{named}'" in str(outcome.error), f"the error does not name the status: {outcome.error}"
        self._only_submission(system)


class TestDurableDataprocSubmitJobOperatorGrpc(_DurableJobContract):
    transport = "grpc"


class TestDurableDataprocSubmitJobOperatorRest(_DurableJobContract):
    transport = "rest"


UPSTREAM_CONNECTION = {"conn_type": "google_cloud_platform", "extra": {"project": PROJECT}}
UPSTREAM_GAPS: dict[str, str] = {
    "test_fault_storm_ends_with_one_job_within_the_retry_budget": (
        "google-api-core retries no RESOURCE_EXHAUSTED on jobs.submit or jobs.get: a 429 fails the try, and the "
        "retry, with nothing stored, submits a second job under a new request_id"
    ),
    "test_fresh_run_persists_before_first_poll": (
        "nothing is written to task_state_store: the job ID lives only in the operator's memory"
    ),
    "test_crash_mid_poll_then_retry_reconnects": "the retry submits a second job: nothing was stored",
    "test_crash_after_job_succeeded_returns_result_without_polling": (
        "the retry submits a second job and waits for it: nothing was stored"
    ),
    "test_cleared_after_success_with_the_job_forgotten_replays_the_result": (
        "a clear after success submits a second job: no result is kept"
    ),
    "test_crash_in_submit_window_then_retry_adopts_by_token": (
        "the retry submits a second job: the request_id is the user's (None here), no job ID is derived"
    ),
    "test_not_durable_always_resubmits": "no durable argument: the operator is not a ResumableJobMixin port",
    "test_mapped_task_instances_are_isolated": "each map index's retry submits another job",
    "test_on_kill_cancels_reconnected_job": (
        "a retry never reconnects (it submits a new job), so on_kill cancels the new job, not the one that ran on"
    ),
    "test_result_and_xcoms_identical_on_every_path": "the reconnect path submits a second job",
    "test_fire_and_forget_submits_once_without_waiting": "the job ID is not written to task_state_store",
    "test_fire_and_forget_retry_returns_the_submitted_job[active]": (
        "the retry of asynchronous=True submits another job while the first still runs"
    ),
    "test_fire_and_forget_retry_returns_the_submitted_job[failed]": "asynchronous=True: the retry submits another job",
    "test_fire_and_forget_retry_returns_the_submitted_job[lost]": "asynchronous=True: the retry submits another job",
    "test_fire_and_forget_crash_in_submit_window_then_retry_one_job": (
        "the retry of asynchronous=True submits a second job: nothing ties it to the first"
    ),
    "test_unknown_status_is_an_error": (
        "STATE_UNSPECIFIED is not final for the hook's wait_for_job: it polls it forever"
    ),
}


class _UpstreamJobContract(_OnTheEmulator, DurableOperatorContract[DataprocSubmitJobOperator]):
    """The anchor: upstream's operator (google provider 22.8.0), each failed scenario a strict xfail."""

    external_id_key = "dataproc_job_id"
    supports_cancel = True
    supports_lost_job_policy = False
    rejects_unknown_statuses = True
    fire_and_forget_kwargs = {"asynchronous": True}
    validates_state = False
    records_tokens = False  # it sends the user's request_id, none here
    known_gaps = UPSTREAM_GAPS
    request_id: str | None = None

    @pytest.fixture(autouse=True)
    def _route_the_hook(self, system: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        """Route ``DataprocHook.get_job_client`` (hard-coded to Google) to the emulator, on this transport.

        The default connection names the project (the hook reads it on some paths); no credential is read.
        """
        monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT", json.dumps(UPSTREAM_CONNECTION))
        emulator: DataprocJobEmulator = system.emulator
        with mock.patch.object(DataprocHook, "get_job_client", return_value=emulator.client(self.transport)):
            yield

    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        return {
            "job": JOB,
            "region": REGION,
            "project_id": PROJECT,
            "cancel_on_kill": True,
            "request_id": self.request_id,
        }


class TestUpstreamDataprocSubmitJobOperatorGrpc(_UpstreamJobContract):
    transport = "grpc"


class TestUpstreamDataprocSubmitJobOperatorRest(_UpstreamJobContract):
    transport = "rest"


# With a static request_id Dataproc hands the first job back to every retry (within its deduplication
# window), so the reconnect scenarios pass; a failed or lost job comes back too, and that is the gap.
_PASS_WITH_A_STATIC_REQUEST_ID = (
    "test_crash_mid_poll_then_retry_reconnects",
    "test_crash_after_job_succeeded_returns_result_without_polling",
    "test_on_kill_cancels_reconnected_job",
    "test_fire_and_forget_retry_returns_the_submitted_job[active]",
    "test_fire_and_forget_retry_returns_the_submitted_job[failed]",
)
STATIC_REQUEST_ID_GAPS = {
    **{name: why for name, why in UPSTREAM_GAPS.items() if name not in _PASS_WITH_A_STATIC_REQUEST_ID},
    "test_fault_storm_ends_with_one_job_within_the_retry_budget": (
        "a 429 fails the try (no RESOURCE_EXHAUSTED retry), and the static request_id gives every task instance "
        "the job of the run before it, not one of its own"
    ),
    "test_terminal_failure_then_retry_resubmits_with_new_token": (
        "the retry sends the same request_id and gets the failed job back: every retry fails"
    ),
    "test_lost_job_resubmits_by_default": "the retry sends the same request_id and gets the lost job's reply back",
}


class TestUpstreamDataprocSubmitJobOperatorStaticRequestId(_UpstreamJobContract):
    """Upstream with a static ``request_id`` in the DAG file (its docstring recommends always setting one)."""

    transport = "grpc"
    request_id = "nightly-load"
    records_tokens = True
    known_gaps = STATIC_REQUEST_ID_GAPS
