"""Upstream's own tests for ``EmrAddStepsOperator``, run against ours (see ``docs/parity.md``)."""

from __future__ import annotations

from airflow_durable.testing.parity import Difference, UpstreamSuite, check_suite

TESTS = "tests/unit/amazon/aws/operators/test_emr_add_steps.py"
CLASS = "test_emr_add_steps.py::TestEmrAddStepsOperator::"

DB_TEST = "needs Airflow's test database (db_test: the session fixture, DagRun and TaskInstance rows)"

DIFFERENCES = (
    Difference(
        "unusable-stored-value",
        "a MagicMock context's task_state_store hands back a MagicMock as the stored record: ours raises "
        "CorruptStateError naming the key and sends nothing (upstream reads no state at all)",
        (
            f"{CLASS}test_execute_returns_step_id",
            f"{CLASS}test_init_with_cluster_name",
            f"{CLASS}test_init_with_nonexistent_cluster_name",
            f"{CLASS}test_wait_for_completion",
            f"{CLASS}test_emr_add_steps_deferrable",
            f"{CLASS}test_inject_openlineage_parent_job_information",
            f"{CLASS}test_does_not_inject_openlineage_parent_job_information[[]*",
        ),
    ),
)

SUITE = UpstreamSuite(
    name="emr-steps",
    distribution="apache-airflow-providers-amazon",
    version="9.39.0",
    select=(TESTS,),
    swaps={
        "airflow.providers.amazon.aws.operators.emr:EmrAddStepsOperator": (
            "airflow_durable_emr.steps:DurableEmrAddStepsOperator"
        ),
    },
    differences=DIFFERENCES,
    not_run={f"{CLASS}test_render_template": DB_TEST, f"{CLASS}test_render_template_from_file": DB_TEST},
)


def test_upstream_emr_add_steps_tests_pass_but_for_deliberate_differences() -> None:
    check_suite(SUITE)
