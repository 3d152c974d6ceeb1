"""The contract suite against our Databricks operators and, for comparison, upstream's.

All of them run their real client code (databricks-sdk for ours, the provider's DatabricksHook for
upstream) against the wire-level Jobs API 2.2 emulator.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator

from airflow_durable.testing import DurableOperatorContract, EmulatorSystem
from airflow_durable_databricks.operators import DurableDatabricksRunNowOperator, DurableDatabricksSubmitRunOperator
from airflow_durable_databricks.testing import DatabricksJobsEmulator
from airflow_durable_databricks.testing.contract import databricks_connection_env

CONN_ID = "databricks_contract"
TASKS = [{"task_key": "t", "notebook_task": {"notebook_path": "/x"}, "existing_cluster_id": "c-1"}]


@pytest.fixture
def databricks_system(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[EmulatorSystem]:
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with DatabricksJobsEmulator() as emulator:
        for name, value in databricks_connection_env(CONN_ID, emulator.url, retry_timeout_seconds=20).items():
            monkeypatch.setenv(name, value)
        yield EmulatorSystem(emulator)


def _mask_run_page_url(value: Any) -> Any:
    """Run page URLs hold the (one-time) job ID and the run ID: compare their shape."""
    if isinstance(value, dict):
        return {k: _mask_run_page_url(v) for k, v in value.items()}
    if isinstance(value, str):
        return re.sub(r"#job/\d+/run/\d+$", "#job/<job_id>/run/<run_id>", value)
    return value


class _OurContract:
    """What both our operators' contract subclasses share; the flags come from the operator classes."""

    @pytest.fixture
    def system(self, databricks_system: EmulatorSystem) -> EmulatorSystem:
        return databricks_system

    def normalize(self, value: Any, external_id: Any) -> Any:
        return super().normalize(_mask_run_page_url(value), external_id)  # type: ignore[misc]


class TestDurableDatabricksSubmitRunOperator(_OurContract, DurableOperatorContract[DurableDatabricksSubmitRunOperator]):
    @pytest.fixture
    def operator_factory(self, system: EmulatorSystem) -> Any:
        def make(task_id: str, **overrides: Any) -> DurableDatabricksSubmitRunOperator:
            return DurableDatabricksSubmitRunOperator(
                task_id=task_id,
                databricks_conn_id=CONN_ID,
                tasks=TASKS,
                polling_period_seconds=0,
                cancel_timeout_seconds=5,
                **overrides,
            )

        return make


class TestDurableDatabricksRunNowOperator(_OurContract, DurableOperatorContract[DurableDatabricksRunNowOperator]):
    @pytest.fixture
    def operator_factory(self, system: EmulatorSystem) -> Any:
        job_id = system.emulator.create_job("nightly", TASKS)

        def make(task_id: str, **overrides: Any) -> DurableDatabricksRunNowOperator:
            return DurableDatabricksRunNowOperator(
                task_id=task_id,
                databricks_conn_id=CONN_ID,
                job_id=job_id,
                notebook_params={"day": "2026-11-29"},
                polling_period_seconds=0,
                cancel_timeout_seconds=5,
                **overrides,
            )

        return make


class TestUpstreamDatabricksSubmitRunOperator(DurableOperatorContract[DatabricksSubmitRunOperator]):
    """The anchor: upstream's durable port (provider 7.23.0), each failed scenario a strict xfail."""

    external_id_key = "databricks_run_id"
    supports_token_lookup = False
    deduplicates_submissions = False
    supports_cancel = True
    supports_lost_job_policy = False
    rejects_unknown_statuses = True
    fire_and_forget_kwargs = {"wait_for_termination": False}
    records_tokens = False
    known_gaps = {
        "test_cleared_after_success_with_the_job_forgotten_replays_the_result": (
            "only the bare run_id is stored: a clear after the run history expired asks runs/get, gets "
            "400 'does not exist', and fails instead of returning the result"
        ),
        "test_fire_and_forget_retry_returns_the_submitted_job[active]": (
            "the retry of a wait_for_termination=False run asks runs/get again (status, then run page URL)"
        ),
        "test_fire_and_forget_retry_returns_the_submitted_job[failed]": (
            "the retry sees the fire-and-forget run failed and submits a second run"
        ),
        "test_fire_and_forget_retry_returns_the_submitted_job[lost]": (
            "the retry asks runs/get about the forgotten run, gets 400 'does not exist', and fails"
        ),
        "test_crash_after_job_succeeded_returns_result_without_polling": (
            "the already-succeeded path calls runs/get a second time (get_run_page_url) after the decision's"
        ),
        "test_lost_job_resubmits_by_default": (
            "Databricks answers 400 INVALID_PARAMETER_VALUE 'Run N does not exist.' for a run it no longer "
            "knows; upstream maps only HTTP 404 to its NOT_FOUND: sentinel, so the retry fails instead"
        ),
        "test_corrupt_stored_state_gives_clear_error": (
            "stored values are not validated: they reach runs/get and fail with a DatabricksApiError that "
            "does not name the key"
        ),
    }

    def normalize(self, value: Any, external_id: Any) -> Any:
        return super().normalize(_mask_run_page_url(value), external_id)

    @pytest.fixture
    def system(self, databricks_system: EmulatorSystem) -> EmulatorSystem:
        return databricks_system

    @pytest.fixture
    def operator_factory(self, system: EmulatorSystem) -> Any:
        def make(task_id: str, **overrides: Any) -> DatabricksSubmitRunOperator:
            return DatabricksSubmitRunOperator(
                task_id=task_id,
                databricks_conn_id=CONN_ID,
                tasks=TASKS,
                polling_period_seconds=1,
                databricks_retry_limit=1,
                **overrides,
            )

        return make
