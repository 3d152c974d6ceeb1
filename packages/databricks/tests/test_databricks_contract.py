"""The contract suite against our Databricks operators and, for comparison, upstream's.

All of them run their real client code (databricks-sdk for ours, the provider's DatabricksHook for
upstream) against the wire-level Jobs API 2.2 emulator.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator

from airflow_durable.testing import DurableOperatorContract, EmulatorSystem
from airflow_durable_databricks.operators import DurableDatabricksRunNowOperator, DurableDatabricksSubmitRunOperator
from airflow_durable_databricks.testing import DatabricksJobsEmulator
from airflow_durable_databricks.testing.contract import databricks_connection_env, mask_run_page_url

CONN_ID = "databricks_contract"
TASKS = [{"task_key": "t", "notebook_task": {"notebook_path": "/x"}, "existing_cluster_id": "c-1"}]


@pytest.fixture
def databricks_system(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[EmulatorSystem]:
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with (
        DatabricksJobsEmulator() as emulator,
        mock.patch.dict(os.environ, databricks_connection_env(CONN_ID, emulator.url, retry_timeout_seconds=20)),
    ):
        yield EmulatorSystem(emulator)


class _OnTheEmulator:
    """What every contract subclass here shares: the emulator and run page URLs compared by shape."""

    @pytest.fixture
    def system(self, databricks_system: EmulatorSystem) -> EmulatorSystem:
        return databricks_system

    def normalize(self, value: Any, external_id: Any) -> Any:
        return super().normalize(mask_run_page_url(value), external_id)  # type: ignore[misc]


OUR_POLLING = {"databricks_conn_id": CONN_ID, "polling_period_seconds": 0, "cancel_timeout_seconds": 5}


class TestDurableDatabricksSubmitRunOperator(
    _OnTheEmulator, DurableOperatorContract[DurableDatabricksSubmitRunOperator]
):
    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        return {"tasks": TASKS, **OUR_POLLING}


class TestDurableDatabricksRunNowOperator(_OnTheEmulator, DurableOperatorContract[DurableDatabricksRunNowOperator]):
    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        job_id = system.emulator.create_job("nightly", TASKS)
        return {"job_id": job_id, "notebook_params": {"day": "2026-11-29"}, **OUR_POLLING}


class TestUpstreamDatabricksSubmitRunOperator(_OnTheEmulator, DurableOperatorContract[DatabricksSubmitRunOperator]):
    """The anchor: upstream's durable port (provider 7.23.0), each failed scenario a strict xfail."""

    # What the class cannot declare; the other flags read from it (no token lookup, no on_lost_job).
    external_id_key = "databricks_run_id"
    supports_cancel = True
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

    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        return {"databricks_conn_id": CONN_ID, "tasks": TASKS, "polling_period_seconds": 1, "databricks_retry_limit": 1}
