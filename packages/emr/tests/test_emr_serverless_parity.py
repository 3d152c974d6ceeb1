"""Upstream's own tests for ``EmrServerlessStartJobOperator``, run against ours (see ``docs/parity.md``).

With the amazon provider installed our boto3 client is ``EmrServerlessHook(...).conn``, the very attribute
upstream's tests patch, so those calls reach our operator unchanged. The states the tests give through the
hook's ``get_waiter``, and the OpenLineage helpers they patch in upstream's module, reach it through the
plumbing plugins (``emr_serverless_parity_plumbing``, ``emr_openlineage_parity_plumbing``). No upstream test
fails: there is no deliberate difference to name.
"""

from __future__ import annotations

from pathlib import Path

from airflow_durable.testing.parity import Difference, UpstreamSuite, check_suite

TESTS = "tests/unit/amazon/aws/operators/test_emr_serverless.py"
START = "test_emr_serverless.py::TestEmrServerlessStartJobOperator::"

DIFFERENCES: tuple[Difference, ...] = ()

SUITE = UpstreamSuite(
    name="emr-serverless",
    distribution="apache-airflow-providers-amazon",
    version="9.39.0",
    select=tuple(
        f"{TESTS}::{cls}"
        for cls in ("TestEmrServerlessStartJobOperator", "TestEmrServerlessStartJobOperatorOpenLineageInjection")
    ),
    swaps={
        "airflow.providers.amazon.aws.operators.emr:EmrServerlessStartJobOperator": (
            "airflow_durable_emr.serverless:DurableEmrServerlessStartJobOperator"
        ),
    },
    differences=DIFFERENCES,
    plumbing=("emr_serverless_parity_plumbing", "emr_openlineage_parity_plumbing"),
    pythonpath=(Path(__file__).parent,),
)


def test_upstream_emr_serverless_tests_pass_but_for_deliberate_differences() -> None:
    check_suite(SUITE)
