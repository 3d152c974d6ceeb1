"""The contract suite against our Databricks operators and, for comparison, upstream's.

All of them run their real client code (databricks-sdk for ours, the provider's DatabricksHook for
upstream) against the wire-level Jobs API 2.2 emulator.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator

from airflow_durable.testing import DurableOperatorContract, EmulatorSystem, InMemoryTaskStateStore, SimulatedCrash
from airflow_durable_databricks.operators import DurableDatabricksRunNowOperator, DurableDatabricksSubmitRunOperator
from airflow_durable_databricks.outcomes import DatabricksRunFailedError
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

    external_id_kind = "databricks"

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


def fail_until_repaired(emulator: DatabricksJobsEmulator, after_repair: str) -> None:
    """Runs end ``FAILED`` until repaired; a repaired run answers ``RUNNING`` once, then ends ``after_repair``."""
    gets_after_repair: Counter[int] = Counter()

    def on_get(run_id: int) -> None:
        run = emulator.run(run_id)
        if not run.repairs:
            emulator.set_state(run_id, "TERMINATED", "FAILED", state_message="Cluster lost")
            return
        gets_after_repair[run_id] += 1
        if gets_after_repair[run_id] == 2:
            emulator.set_state(run_id, "TERMINATED", after_repair)

    emulator.hold("RUNNING")
    emulator.on_get = on_get


class TestDurableDatabricksRunNowOperator(_OnTheEmulator, DurableOperatorContract[DurableDatabricksRunNowOperator]):
    """The contract, and what ``repair_run`` adds to it: a repair is a new attempt of the same run."""

    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        job_id = system.emulator.create_job("nightly", TASKS)
        return {"job_id": job_id, "notebook_params": {"day": "2026-11-29"}, **OUR_POLLING}

    def test_repair_run_repairs_a_failed_run_once_and_returns_its_result(
        self, system: EmulatorSystem, operator_factory: Any, state_store: InMemoryTaskStateStore
    ) -> None:
        fail_until_repaired(system.emulator, "SUCCESS")
        run = self.task_run(state_store)
        outcome = run.run_try(operator_factory("durable_task", repair_run=True))
        assert outcome.succeeded, outcome.error
        [created] = system.emulator.runs
        assert len(created.repairs) == 1
        assert outcome.result == {"run_id": created.run_id, "run_page_url": mock.ANY, "state": "TERMINATED:SUCCESS"}
        assert run.stored("databricks_run_now_id")["phase"] == "succeeded"
        repair = run.stored("databricks_run_now_id_repair")
        assert (repair["run_id"], repair["latest_repair_id"], repair["repair_id"]) == (
            created.run_id,
            None,
            created.repairs[0],
        )

    @pytest.mark.parametrize("after_repair", ["SUCCESS", "FAILED"])
    def test_crash_during_repair_reconnects_to_the_repair_and_never_repairs_twice(
        self, system: EmulatorSystem, operator_factory: Any, state_store: InMemoryTaskStateStore, after_repair: str
    ) -> None:
        """The try dies after Databricks accepted the repair, before its ID is stored: the retry finds the
        run active (the repair runs it), reconnects, and does not repair it again whatever its outcome."""
        emulator = system.emulator
        fail_until_repaired(emulator, after_repair)
        store_set = state_store.set

        def crash_on_repair_id(scope: Any, key: str, value: Any) -> None:
            if key.endswith("_repair") and value["repair_id"] is not None:
                raise SimulatedCrash("crash after the repair request, before its ID is stored")
            store_set(scope, key, value)

        state_store.set = crash_on_repair_id  # type: ignore[method-assign]
        run = self.task_run(state_store)
        first = run.run_try(operator_factory("durable_task", repair_run=True))
        assert first.crashed, first
        [created] = emulator.runs
        assert len(created.repairs) == 1
        assert run.stored("databricks_run_now_id_repair")["repair_id"] is None, "the intent is on record"
        state_store.set = store_set  # type: ignore[method-assign]

        second = run.run_try(operator_factory("durable_task", repair_run=True))
        assert emulator.calls["run-now"] == 1, "the retry started a new run instead of reconnecting"
        assert emulator.calls["runs/repair"] == 1, "the run was repaired twice"
        assert len(created.repairs) == 1
        if after_repair == "SUCCESS":
            assert second.succeeded, second.error
            assert second.result["run_id"] == created.run_id
        else:
            assert isinstance(second.error, DatabricksRunFailedError), second
            assert str(second.error).startswith("durable_task failed with terminal state: "), second.error

    def test_a_repair_from_a_stale_view_is_refused(
        self, system: EmulatorSystem, operator_factory: Any, state_store: InMemoryTaskStateStore
    ) -> None:
        """``latest_repair_id`` is the run's latest repair: a second worker repairing from the same view loses."""
        from airflow_durable_databricks.client import DatabricksRuns

        emulator = system.emulator
        job_id = self.operator_kwargs(system)["job_id"]
        emulator.advance(1, "FAILED")
        runs = DatabricksRuns(CONN_ID)
        run_id = runs.run_now({"job_id": job_id})
        runs.get(run_id)
        assert runs.latest_repair_id(run_id) is None
        first = runs.repair({"run_id": run_id, "rerun_all_failed_tasks": True})
        runs.get(run_id)
        assert runs.latest_repair_id(run_id) == first
        with pytest.raises(Exception, match="latest repair"):
            runs.repair({"run_id": run_id, "rerun_all_failed_tasks": True})
        second = runs.repair({"run_id": run_id, "rerun_all_failed_tasks": True, "latest_repair_id": first})
        assert emulator.run(run_id).repairs == [first, second]


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
        "test_fault_storm_ends_with_one_job_within_the_retry_budget": (
            "run with databricks_retry_limit=1 (as here), the hook gives up on the first 429, 5xx or dropped "
            "connection: a try fails at each, and with a few during one task instance it fails for good"
        ),
    }

    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        return {"databricks_conn_id": CONN_ID, "tasks": TASKS, "polling_period_seconds": 1, "databricks_retry_limit": 1}
