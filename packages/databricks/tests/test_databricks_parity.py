"""Upstream's own tests for the Databricks run operators, run against ours (see ``docs/parity.md``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_durable.testing.parity import UpstreamSuite, check_suite

UPSTREAM = "airflow.providers.databricks.operators.databricks"
OURS = "airflow_durable_databricks.operators"
TESTS = "tests/unit/databricks/operators/test_databricks.py"

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
    differences=(),
    plumbing=("databricks_parity_plumbing",),
    pythonpath=(Path(__file__).parent,),
)


@pytest.mark.xfail(reason="TEMPORARY while issue 7 closes the gaps; removed before the issue is resolved")
def test_upstream_databricks_tests_pass_but_for_deliberate_differences() -> None:
    check_suite(SUITE)
