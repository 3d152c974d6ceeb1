"""Upstream's own tests for ``EmrAddStepsOperator``, run against ours (see ``docs/parity.md``)."""

from __future__ import annotations

from pathlib import Path

from airflow_durable.testing.parity import Difference, UpstreamSuite, check_suite

TESTS = "tests/unit/amazon/aws/operators/test_emr_add_steps.py"
CLASS = "test_emr_add_steps.py::TestEmrAddStepsOperator::"

DB_TEST = "needs Airflow's test database (db_test: the session fixture, DagRun and TaskInstance rows)"

DIFFERENCES = (
    Difference(
        "steps-checked-early",
        "the test builds the operator without steps, which upstream sends to AddJobFlowSteps as []: ours raises "
        "EmrStepsRequestError ('steps is empty') before the intent; the deferrable test first fails on our "
        "DescribeCluster check of job_flow_id, which reaches EMR since the test mocks only the hook's "
        "add_job_flow_steps and get_log_uri (and would then defer on our trigger, steps-trigger)",
        (
            f"{CLASS}test_init_with_cluster_name",
            f"{CLASS}test_wait_for_completion",
            f"{CLASS}test_emr_add_steps_deferrable",
        ),
    ),
    Difference(
        "steps-add-reply",
        "the mocked AddJobFlowSteps reply has one step ID for the six steps sent: ours raises EmrStepsReplyError "
        "(the external ID must name every step; a durable retry adopts them all by their marker), upstream "
        "returns the one ID",
        (f"{CLASS}test_inject_openlineage_parent_job_information",),
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
    plumbing=("emr_steps_parity_plumbing",),
    pythonpath=(Path(__file__).parent,),
)


def test_upstream_emr_add_steps_tests_pass_but_for_deliberate_differences() -> None:
    check_suite(SUITE)
