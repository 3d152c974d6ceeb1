"""The contract suite against ``DurableEmrAddStepsOperator`` and, for comparison, upstream's ``EmrAddStepsOperator``.

Both run their real client code (boto3 through the amazon provider's ``EmrHook``) against the EMR steps
emulator (moto, with steps that run, end and cancel), over HTTP.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator

from airflow_durable.testing import DurableOperatorContract, EmulatorSystem
from airflow_durable_emr.statuses import parse_step_job_id
from airflow_durable_emr.steps import DurableEmrAddStepsOperator
from airflow_durable_emr.testing.contract import emr_connection_env
from airflow_durable_emr.testing.emulator import EmrStepsEmulator

CONN_ID = "emr_steps_contract"
STEPS = [
    {"Name": "aggregate", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["x"]}},
    {"Name": "publish", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["y"]}},
]


@pytest.fixture
def emr_steps_system() -> Iterator[EmulatorSystem]:
    with EmrStepsEmulator() as emulator, mock.patch.dict(os.environ, emr_connection_env(CONN_ID, emr=emulator.url)):
        yield EmulatorSystem(emulator)


class _OnTheEmulator:
    external_id_kind = "emr-steps"

    @pytest.fixture
    def system(self, emr_steps_system: EmulatorSystem) -> EmulatorSystem:
        return emr_steps_system

    def normalize(self, value: Any, external_id: Any) -> Any:
        """The result is the job's step IDs: each becomes ``<step N>`` (the cluster is the same for every job)."""
        if isinstance(external_id, str) and ":" in external_id:
            _, step_ids = parse_step_job_id(external_id)
            if value in step_ids:
                return f"<step {step_ids.index(value) + 1}>"
            if isinstance(value, list):
                return [self.normalize(item, external_id) for item in value]
        return super().normalize(value, external_id)  # type: ignore[misc]


class TestDurableEmrAddStepsOperator(_OnTheEmulator, DurableOperatorContract[DurableEmrAddStepsOperator]):
    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        cluster_id = system.emulator.create_cluster()
        return {
            "job_flow_id": cluster_id,
            "steps": STEPS,
            "wait_for_completion": True,
            "aws_conn_id": CONN_ID,
            "waiter_delay": 0,
            "cancel_timeout_seconds": 5,
        }


class TestUpstreamEmrAddStepsOperator(_OnTheEmulator, DurableOperatorContract[EmrAddStepsOperator]):
    """The anchor: upstream's operator (amazon provider 9.39.0), each failed scenario a strict xfail.

    Upstream is not durable at all: it keeps nothing in ``task_state_store`` and has no ``durable`` argument
    (its one mode is what ``durable=False`` means), so the suite's ``durable`` override is dropped. The flags
    claim a token lookup and a cancel, so that the scenarios run and show what upstream lacks.
    """

    external_id_key = "emr_step_ids"  # upstream stores nothing: the key stays empty
    supports_token_lookup = True  # claimed, to show the gap: "no token exists at all"
    supports_cancel = True  # claimed, to show the gap: "on_kill does nothing"
    supports_lost_job_policy = False
    rejects_unknown_statuses = True
    fire_and_forget_kwargs = {"wait_for_completion": False}
    records_tokens = False
    known_gaps = {
        "test_fresh_run_persists_before_first_poll": "nothing is stored in task_state_store",
        "test_fault_storm_ends_with_one_job_within_the_retry_budget": (
            "nothing is stored: a try that fails on a transient error while waiting makes the retry add the steps again"
        ),
        "test_crash_mid_poll_then_retry_reconnects": "nothing is stored: the retry adds the steps again",
        "test_crash_after_job_succeeded_returns_result_without_polling": (
            "nothing is stored: the retry adds the steps again"
        ),
        "test_cleared_after_success_with_the_job_forgotten_replays_the_result": (
            "nothing is kept: a clear adds the steps again"
        ),
        "test_crash_in_submit_window_then_retry_adopts_by_token": (
            "no token exists at all: the retry adds the steps again"
        ),
        "test_mapped_task_instances_are_isolated": "each retry of each map index adds its steps again",
        "test_on_kill_cancels_reconnected_job": "no on_kill: CancelSteps is never called",
        "test_result_and_xcoms_identical_on_every_path": "a retry adds new steps and returns their IDs",
        "test_corrupt_stored_state_gives_clear_error": "task_state_store is never read",
        "test_unknown_status_is_an_error": (
            "the step_complete waiter ignores an unlisted state until it runs out of attempts "
            "(WaiterMaxAttemptsError, not naming the state)"
        ),
        "test_fire_and_forget_submits_once_without_waiting": "nothing is stored in task_state_store",
        "test_fire_and_forget_retry_returns_the_submitted_job[active]": "the retry adds the steps again",
        "test_fire_and_forget_retry_returns_the_submitted_job[failed]": "the retry adds the steps again",
        "test_fire_and_forget_retry_returns_the_submitted_job[lost]": "the retry adds the steps again",
        "test_fire_and_forget_crash_in_submit_window_then_retry_one_job": (
            "no token exists at all: the retry adds the steps again"
        ),
    }

    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        cluster_id = system.emulator.create_cluster()
        return {
            "job_flow_id": cluster_id,
            "steps": STEPS,
            "wait_for_completion": True,
            "aws_conn_id": CONN_ID,
            "waiter_delay": 1,
            "waiter_max_attempts": 30,
        }

    @pytest.fixture
    def operator_factory(self, system: Any) -> Any:
        kwargs = self.operator_kwargs(system)

        def make(task_id: str, **overrides: Any) -> EmrAddStepsOperator:
            overrides.pop("durable", None)  # upstream's only mode is not durable
            return EmrAddStepsOperator(task_id=task_id, **{**kwargs, **overrides})

        return make


@pytest.mark.parametrize("faults", [("timeout",), ("503", "timeout")])
def test_a_lost_answer_to_add_job_flow_steps_is_looked_up_not_sent_again(
    emr_steps_system: EmulatorSystem, faults: tuple[str, ...]
) -> None:
    """AddJobFlowSteps has no token: botocore must not resend it blindly. A 503 (nothing added) is sent
    again; a timeout (the steps were added, the answer lost) is found by its marker and adopted: one job."""
    from airflow_durable.testing import InMemoryTaskStateStore, TaskInstanceRun
    from airflow_durable.testing.faults import TIMEOUT
    from airflow_durable.tokens import TaskInstanceScope

    emulator = emr_steps_system.emulator
    cluster_id = emulator.create_cluster()
    emr_steps_system.finish_jobs_after(1)
    for fault in faults:
        emulator.fail_next(1, TIMEOUT if fault == "timeout" else int(fault), endpoint="AddJobFlowSteps")
    run = TaskInstanceRun(InMemoryTaskStateStore(), TaskInstanceScope("dag", "run", "steps"))
    operator = DurableEmrAddStepsOperator(
        task_id="steps", job_flow_id=cluster_id, steps=STEPS, aws_conn_id=CONN_ID, poll_interval_seconds=0.01
    )
    outcome = run.run_try(operator)
    assert outcome.succeeded, outcome.error
    assert emulator.calls["AddJobFlowSteps"] == len(faults), "botocore resent AddJobFlowSteps, or the mixin did"
    assert len(emr_steps_system.submissions()) == 1
