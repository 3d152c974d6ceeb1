"""Upstream's own tests for ``EmrServerlessStartJobOperator``, run against ours (see ``docs/parity.md``).

The calls reach our operator unchanged: with the amazon provider installed our boto3 client is
``EmrServerlessHook(...).conn``, the very attribute upstream's tests patch, so no plumbing module is needed.
"""

from __future__ import annotations

from airflow_durable.testing.parity import Difference, UpstreamSuite, check_suite

TESTS = "tests/unit/amazon/aws/operators/test_emr_serverless.py"
START = "test_emr_serverless.py::TestEmrServerlessStartJobOperator::"

DIFFERENCES = (
    Difference(
        "unusable-stored-value",
        "a MagicMock context's task_state_store hands back a MagicMock as the stored job: upstream never reads "
        "the store; ours raises CorruptStateError naming the key, before any call to EMR Serverless",
        (
            f"{START}test_cancel_job_run",
            f"{START}test_execute_deferrable_does_not_cancel",
            f"{START}test_execute_max_attempts_cancel_job*",
            f"{START}test_execute_no_wait_for_completion_does_not_cancel",
            f"{START}test_execute_waiter_other_exception_does_not_cancel",
            f"{START}test_failed_start_job_run",
            f"{START}test_job_run_*",
            f"{START}test_links_*",
            f"{START}test_start_job_custom_name",
            f"{START}test_start_job_default_name",
            f"{START}test_start_job_deferrable",
            f"{START}test_start_job_deferrable_app_not_started",
            f"{START}test_start_job_deferrable_without_wait_for_completion",
            f"{START}test_start_job_run_fail_on_wait_for_completion",
        ),
    ),
)

SUITE = UpstreamSuite(
    name="emr-serverless",
    distribution="apache-airflow-providers-amazon",
    version="9.39.0",
    select=(f"{TESTS}::TestEmrServerlessStartJobOperator",),
    swaps={
        "airflow.providers.amazon.aws.operators.emr:EmrServerlessStartJobOperator": (
            "airflow_durable_emr.serverless:DurableEmrServerlessStartJobOperator"
        ),
    },
    differences=DIFFERENCES,
)


def test_upstream_emr_serverless_tests_pass_but_for_deliberate_differences() -> None:
    check_suite(SUITE)
