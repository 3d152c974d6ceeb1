"""Upstream's own tests for the Databricks run operators, run against ours (see ``docs/parity.md``)."""

from __future__ import annotations

from pathlib import Path

from airflow_durable.testing.parity import Difference, UpstreamSuite, check_suite

UPSTREAM = "airflow.providers.databricks.operators.databricks"
OURS = "airflow_durable_databricks.operators"
TESTS = "tests/unit/databricks/operators/test_databricks.py"
SUBMIT = "test_databricks.py::TestDatabricksSubmitRunOperator::"
RUN_NOW = "test_databricks.py::TestDatabricksRunNowOperator::"
DURABLE = "test_databricks.py::TestDatabricks*OperatorDurable::"  # both operators' durable-mode classes

DIFFERENCES = (
    Difference(
        "state-record",
        "task_state_store holds a versioned record (intent, submitted, succeeded), not upstream's single bare run_id",
        (
            f"{DURABLE}test_persists_run_id_to_task_state_store_on_fresh_submit",
            f"{DURABLE}test_resubmits_when_stored_run_in_terminal_failure",
            f"{DURABLE}test_resubmits_when_stored_run_no_longer_exists",
            f"{DURABLE}test_reconnects_to_active_run_without_resubmitting",
            f"{DURABLE}test_reconnects_to_blocked_run_without_resubmitting",
        ),
    ),
    Difference(
        "no-not-found-sentinel",
        "a run Databricks does not know raises JobLostError; 'NOT_FOUND:' is an unknown status, not 'inactive'",
        (f"{DURABLE}test_is_job_active[[]NOT_FOUND:-False[]]",),
    ),
    Difference(
        "trigger",
        "deferrable: defers on DurableDatabricksRunTrigger right after the persist, without a runs/get first",
        (
            f"{SUBMIT}test_execute_task_deferred",
            f"{RUN_NOW}test_execute_task_deferred",
            f"{SUBMIT}test_databricks_submit_run_deferrable_operator_success_before_defer",
            f"{SUBMIT}test_databricks_submit_run_deferrable_operator_failed_before_defer",
            f"{RUN_NOW}test_databricks_run_now_deferrable_operator_success_before_defer",
            f"{RUN_NOW}test_databricks_run_now_deferrable_operator_failed_before_defer",
        ),
    ),
    Difference(
        "result-dict",
        "execute_complete returns the result dict, as execute does",
        (f"{SUBMIT}test_execute_complete_success", f"{RUN_NOW}test_execute_complete_success"),
    ),
    Difference(
        "repair-event",
        "after a repair from an event, defers on our trigger (upstream's patched helper is not called)",
        (
            f"{SUBMIT}test_execute_complete_repair_includes_job_parameters",
            f"{RUN_NOW}test_execute_complete_repair_includes_named_job_parameters",
            f"{RUN_NOW}test_execute_complete_failure_and_repair_run",
            f"{RUN_NOW}test_deferrable_exec_with_databricks_repair_reason_new_settings",
            f"{RUN_NOW}test_deferrable_exec_with_none_databricks_repair_reason_new_settings",
        ),
    ),
    Difference(
        "repair-run",
        "a reconnecting try resolves job_name only when a repair needs it, and keeps no _merged_json",
        (f"{DURABLE}test_reconnect_with_job_name_resolves_job_id_for_repair",),
    ),
    Difference(
        "patched-hook",
        "no DatabricksHook is ever built: an invalid body fails before any client exists",
        (f"{RUN_NOW}test_cancel_previous_runs_without_job_id_raises",),
    ),
)

SUITE = UpstreamSuite(
    name="databricks",
    distribution="apache-airflow-providers-databricks",
    version="7.23.0",
    select=tuple(
        f"{TESTS}::{cls}"
        for cls in (
            "TestDatabricksSubmitRunOperator",
            "TestDatabricksSubmitRunOperatorOpenLineageInjection",
            "TestDatabricksSubmitRunOperatorDurable",
            "TestDatabricksRunNowOperator",
            "TestDatabricksRunNowOperatorOpenLineageInjection",
            "TestDatabricksRunNowOperatorDurable",
        )
    ),
    swaps={
        f"{UPSTREAM}:DatabricksSubmitRunOperator": f"{OURS}:DurableDatabricksSubmitRunOperator",
        f"{UPSTREAM}:DatabricksRunNowOperator": f"{OURS}:DurableDatabricksRunNowOperator",
    },
    differences=DIFFERENCES,
    plumbing=("databricks_parity_plumbing",),
    pythonpath=(Path(__file__).parent,),
)


def test_upstream_databricks_tests_pass_but_for_deliberate_differences() -> None:
    check_suite(SUITE)
