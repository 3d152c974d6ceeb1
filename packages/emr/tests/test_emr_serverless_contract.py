"""The contract suite against ``DurableEmrServerlessStartJobOperator`` and, for comparison, upstream's operator.

Both run their real boto3 client (through the amazon provider's ``EmrServerlessHook``) against the EMR
Serverless emulator (moto behind the kit's job life cycle) over HTTP.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from airflow.providers.amazon.aws.operators.emr import EmrServerlessStartJobOperator

from airflow_durable.testing import DurableOperatorContract, EmulatorSystem
from airflow_durable_emr.serverless import DurableEmrServerlessStartJobOperator
from airflow_durable_emr.testing.contract import emr_connection_env
from airflow_durable_emr.testing.emulator import EmrServerlessEmulator

CONN_ID = "emr_serverless_contract"
ROLE_ARN = "arn:aws:iam::123456789012:role/emr-serverless-job"
JOB_DRIVER = {"sparkSubmit": {"entryPoint": "s3://bucket/job.py"}}


@pytest.fixture
def serverless_system() -> Iterator[EmulatorSystem]:
    env = mock.patch.dict(os.environ, {})
    with EmrServerlessEmulator() as emulator, env:
        os.environ.update(emr_connection_env(CONN_ID, emr_serverless=emulator.url))
        yield EmulatorSystem(emulator)


class _OnTheEmulator:
    """The emulator, and results compared with the job run ID (the external ID's second half) masked."""

    external_id_kind = "emr-serverless"

    @pytest.fixture
    def system(self, serverless_system: EmulatorSystem) -> EmulatorSystem:
        return serverless_system

    def normalize(self, value: Any, external_id: Any) -> Any:
        masked = super().normalize(value, external_id)  # type: ignore[misc]
        return super().normalize(masked, str(external_id).rpartition(":")[2])  # type: ignore[misc]


def job_kwargs(system: Any) -> dict[str, Any]:
    """The arguments both operators take: an application created on the emulator, and a Spark job."""
    return {
        "application_id": system.emulator.create_application(),
        "execution_role_arn": ROLE_ARN,
        "job_driver": JOB_DRIVER,
        "aws_conn_id": CONN_ID,
    }


class TestDurableEmrServerlessStartJobOperator(
    _OnTheEmulator, DurableOperatorContract[DurableEmrServerlessStartJobOperator]
):
    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        return {**job_kwargs(system), "waiter_delay": 0, "waiter_max_attempts": 1000, "cancel_timeout_seconds": 5}


class TestUpstreamEmrServerlessStartJobOperator(_OnTheEmulator, DurableOperatorContract[EmrServerlessStartJobOperator]):
    """The anchor: upstream's operator (amazon provider 9.39.0), each failed scenario a strict xfail."""

    external_id_key = "emr_serverless_job_run_id"
    supports_cancel = True
    supports_lost_job_policy = False
    rejects_unknown_statuses = False
    fire_and_forget_kwargs = {"wait_for_completion": False}
    validates_state = False
    known_gaps: dict[str, str] = {
        "test_fresh_run_persists_before_first_poll": (
            "nothing is written to task_state_store: the jobRunId lives only in the operator's memory"
        ),
        "test_crash_mid_poll_then_retry_reconnects": (
            "the retry starts a second job run: nothing was stored, and the clientToken is a new uuid4()"
        ),
        "test_crash_after_job_succeeded_returns_result_without_polling": (
            "the retry starts a second job run and waits for it (the emulator keeps it running: the waiter runs out)"
        ),
        "test_cleared_after_success_with_the_job_forgotten_replays_the_result": (
            "a clear after success starts a second job run: no result is kept"
        ),
        "test_not_durable_always_resubmits": "no durable argument: the operator is not a ResumableJobMixin port",
        "test_mapped_task_instances_are_isolated": "each map index's retry starts another job run",
        "test_on_kill_cancels_reconnected_job": (
            "a retry never reconnects (it starts a new run), so on_kill cancels the new run, not the one that ran on"
        ),
        "test_result_and_xcoms_identical_on_every_path": (
            "the reconnect path starts a second job run and waits for it (the emulator keeps it running: the "
            "waiter runs out)"
        ),
        "test_fire_and_forget_submits_once_without_waiting": "the jobRunId is not written to task_state_store",
        "test_fire_and_forget_retry_returns_the_submitted_job[active]": (
            "the retry of wait_for_completion=False starts another job run while the first still runs"
        ),
        "test_fire_and_forget_retry_returns_the_submitted_job[failed]": (
            "the retry of wait_for_completion=False starts another job run"
        ),
        "test_fire_and_forget_retry_returns_the_submitted_job[lost]": (
            "the retry of wait_for_completion=False starts another job run"
        ),
    }

    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        return {**job_kwargs(system), "waiter_delay": 1, "waiter_max_attempts": 30}


@pytest.mark.parametrize("faults", [("timeout",), ("503", "timeout")])
def test_a_lost_answer_to_start_job_run_is_looked_up_not_sent_again(
    serverless_system: EmulatorSystem, faults: tuple[str, ...]
) -> None:
    """EMR Serverless does not deduplicate StartJobRun: botocore must not resend it blindly. A 503 (nothing
    started) is sent again; a timeout (the job run started, the answer lost) is found by its clientToken and
    adopted: one job run (a storm of all eight workloads on Airflow found two)."""
    from airflow_durable.testing import InMemoryTaskStateStore, TaskInstanceRun
    from airflow_durable.testing.faults import TIMEOUT
    from airflow_durable.tokens import TaskInstanceScope

    emulator = serverless_system.emulator
    serverless_system.finish_jobs_after(1)
    kwargs = job_kwargs(serverless_system)
    for fault in faults:
        emulator.fail_next(1, TIMEOUT if fault == "timeout" else int(fault), endpoint="StartJobRun")
    run = TaskInstanceRun(InMemoryTaskStateStore(), TaskInstanceScope("dag", "run", "serverless"))
    operator = DurableEmrServerlessStartJobOperator(task_id="serverless", poll_interval_seconds=0.01, **kwargs)
    outcome = run.run_try(operator)
    assert outcome.succeeded, outcome.error
    assert emulator.calls["StartJobRun"] == len(faults), "botocore resent StartJobRun, or the mixin did"
    assert len(serverless_system.submissions()) == 1
