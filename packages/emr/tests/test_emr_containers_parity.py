"""Upstream's own tests for ``EmrContainerOperator``, run against ours (see ``docs/parity.md``)."""

from __future__ import annotations

from pathlib import Path

from airflow_durable.testing.parity import Difference, UpstreamSuite, check_suite

UPSTREAM = "airflow.providers.amazon.aws.operators.emr"
OURS = "airflow_durable_emr.containers"
TESTS = "tests/unit/amazon/aws/operators/test_emr_containers.py"
OPERATOR = "test_emr_containers.py::TestEmrContainerOperator::"
OPENLINEAGE = "test_emr_containers.py::TestEmrContainerOperatorOpenLineageInjection::"

DIFFERENCES = (
    Difference(
        "job-run-id-format",
        "job run IDs are checked against the API's format ([0-9a-z], 1-64) before they are stored or sent; "
        "upstream's tests use 'jobid_123456', 'test_job_id' and MagicMock IDs",
        (
            f"{OPERATOR}test_execute_without_failure",
            f"{OPERATOR}test_execute_with_failure",
            f"{OPERATOR}test_operator_defer",
            f"{OPERATOR}test_operator_defer_with_timeout",
            f"{OPERATOR}test_execute_generates_fresh_token_per_attempt",
            f"{OPERATOR}test_execute_honors_explicit_token_across_attempts",
            f"{OPERATOR}test_execute_complete_returns_job_id_on_success",
        ),
    ),
)

SUITE = UpstreamSuite(
    name="emr-containers",
    distribution="apache-airflow-providers-amazon",
    version="9.39.0",
    select=tuple(
        f"{TESTS}::{cls}" for cls in ("TestEmrContainerOperator", "TestEmrContainerOperatorOpenLineageInjection")
    ),
    swaps={f"{UPSTREAM}:EmrContainerOperator": f"{OURS}:DurableEmrContainerOperator"},
    differences=DIFFERENCES,
    plumbing=("emr_containers_parity_plumbing", "emr_openlineage_parity_plumbing"),
    pythonpath=(Path(__file__).parent,),
)


def test_upstream_emr_containers_tests_pass_but_for_deliberate_differences() -> None:
    check_suite(SUITE)
