"""The contract suite against ``DurableEmrContainerOperator`` and, for comparison, upstream's ``EmrContainerOperator``.

Both run their real client code (boto3 through the amazon provider's ``EmrContainerHook``) against the EMR on
EKS emulator over HTTP, which deduplicates a repeated ``clientToken`` as EMR on EKS does.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.amazon.aws.operators.emr import EmrContainerOperator

from airflow_durable.testing import DurableOperatorContract, EmulatorSystem
from airflow_durable.testing.corrupt_state import CATEGORIES as CORPUS_CATEGORIES
from airflow_durable_emr.containers import DurableEmrContainerOperator
from emr_containers_support import containers, containers_system, operator_kwargs

__all__ = ["containers", "containers_system"]  # the fixtures the classes below use


class _OnTheEmulator:
    external_id_kind = "emr-containers"

    @pytest.fixture
    def system(self, containers_system: EmulatorSystem) -> EmulatorSystem:
        return containers_system

    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        return operator_kwargs(system.emulator.create_virtual_cluster(), **self.extra_kwargs)

    extra_kwargs: dict[str, Any] = {}

    def normalize(self, value: Any, external_id: Any) -> Any:
        """The result is the job run ID, the second half of the external ID."""
        job_run_id = str(external_id).partition(":")[2]
        return super().normalize(  # type: ignore[misc]
            "<external_id>" if value == job_run_id else value, external_id
        )


class TestDurableEmrContainerOperator(_OnTheEmulator, DurableOperatorContract[DurableEmrContainerOperator]):
    extra_kwargs = {"cancel_timeout_seconds": 5}


NEW_RUN_PER_TRY = "every try sends a new UUID clientToken and stores nothing: the retry starts a second run"
NO_STATE = "upstream never reads task_state_store: the stored value is ignored and a run is started"

UPSTREAM_GAPS = {
    "test_fault_storm_ends_with_one_job_within_the_retry_budget": (
        "StartJobRun goes out with botocore retries off (max retries 0) and a fresh clientToken per try: a 429 "
        "or a dropped answer fails the try, and the retry starts a second run"
    ),
    "test_fresh_run_persists_before_first_poll": "upstream stores nothing in task_state_store",
    "test_crash_mid_poll_then_retry_reconnects": NEW_RUN_PER_TRY,
    "test_crash_after_job_succeeded_returns_result_without_polling": (
        f"{NEW_RUN_PER_TRY}, and polls it (the suite's runaway guard stops it)"
    ),
    "test_cleared_after_success_with_the_job_forgotten_replays_the_result": NEW_RUN_PER_TRY,
    "test_not_durable_always_resubmits": "no durable argument (TypeError): upstream is never durable",
    "test_mapped_task_instances_are_isolated": NEW_RUN_PER_TRY,
    "test_on_kill_cancels_reconnected_job": (
        "the retry never reconnects (it starts a second run), so on_kill cancels that run, not the first"
    ),
    "test_result_and_xcoms_identical_on_every_path": (
        f"{NEW_RUN_PER_TRY}, and polls it (the suite's runaway guard stops it)"
    ),
    **{f"test_corrupt_stored_state_gives_clear_error[{category}]": NO_STATE for category in CORPUS_CATEGORIES},
    "test_fire_and_forget_submits_once_without_waiting": "wait_for_completion=False records nothing",
    **{
        f"test_fire_and_forget_retry_returns_the_submitted_job[{case}]": NEW_RUN_PER_TRY
        for case in ("active", "failed", "lost")
    },
}


class TestUpstreamEmrContainerOperator(_OnTheEmulator, DurableOperatorContract[EmrContainerOperator]):
    """The anchor: upstream's operator (amazon provider 9.39.0), each failed scenario a strict xfail."""

    external_id_key = "emr_container_job_id"  # upstream stores nothing; the suite reads this key
    supports_cancel = True
    fire_and_forget_kwargs = {"wait_for_completion": False}
    rejects_unknown_statuses = False
    known_gaps = UPSTREAM_GAPS


class TestUpstreamEmrContainerOperatorWithToken(TestUpstreamEmrContainerOperator):
    """The public report: upstream with a fixed ``client_request_token``, which EMR on EKS deduplicates.

    A retry after a crash gets its run back (the window closes), but a retry after a failed run gets that
    failed run back too, so the task can never succeed again.
    """

    extra_kwargs = {"client_request_token": "nightly-etl-2026-11-29"}
    deduplicates_submissions = True
    known_gaps = {
        "test_fault_storm_ends_with_one_job_within_the_retry_budget": (
            "a 429 or a dropped answer on StartJobRun fails the try (no botocore retry), and the static "
            "clientToken gives every task instance the run of the one before it, not one of its own"
        ),
        "test_fresh_run_persists_before_first_poll": UPSTREAM_GAPS["test_fresh_run_persists_before_first_poll"],
        "test_cleared_after_success_with_the_job_forgotten_replays_the_result": (
            "nothing is kept: the clear starts the run again with the same clientToken, which names a run EMR on "
            "EKS no longer knows (ResourceNotFoundException)"
        ),
        "test_terminal_failure_then_retry_resubmits_with_new_token": (
            "the public report: the retry sends the same clientToken and EMR on EKS hands back the failed run, "
            "so the retry fails too"
        ),
        "test_crash_in_submit_window_then_retry_adopts_by_token": (
            "nothing is written to task_state_store, so there is no persist for the crash to interrupt"
        ),
        "test_lost_job_resubmits_by_default": (
            "the retry sends the same clientToken, which names a run EMR on EKS no longer knows"
        ),
        "test_not_durable_always_resubmits": UPSTREAM_GAPS["test_not_durable_always_resubmits"],
        "test_mapped_task_instances_are_isolated": "every map index sends the same clientToken: they share one run",
        "test_result_and_xcoms_identical_on_every_path": (
            "every task sends the same clientToken: the later ones get the first one's finished run back"
        ),
        **{key: NO_STATE for key in UPSTREAM_GAPS if key.startswith("test_corrupt_stored_state")},
        "test_fire_and_forget_submits_once_without_waiting": UPSTREAM_GAPS[
            "test_fire_and_forget_submits_once_without_waiting"
        ],
        "test_fire_and_forget_retry_returns_the_submitted_job[lost]": (
            "the retry sends the same clientToken, which names a run EMR on EKS no longer knows"
        ),
        "test_fire_and_forget_crash_in_submit_window_then_retry_one_job": (
            "nothing is written to task_state_store, so there is no persist for the crash to interrupt"
        ),
    }
