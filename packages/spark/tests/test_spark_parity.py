"""Upstream's own tests for ``SparkSubmitOperator``, run against ours (see ``docs/parity.md``)."""

from __future__ import annotations

import pytest

from airflow_durable.testing.parity import UpstreamSuite, check_suite

DB_TEST = "needs Airflow's test database (upstream marks it db_test); templating is covered by the other tests"

SUITE = UpstreamSuite(
    name="spark",
    distribution="apache-airflow-providers-apache-spark",
    version="6.3.4",
    select=("tests/unit/apache/spark/operators/test_spark_submit.py",),
    swaps={
        "airflow.providers.apache.spark.operators.spark_submit:SparkSubmitOperator": (
            "airflow_durable_spark.operators:DurableSparkSubmitOperator"
        ),
    },
    differences=(),
    not_run={
        "test_spark_submit.py::TestSparkSubmitOperator::test_render_template": DB_TEST,
        "test_spark_submit.py::TestSparkSubmitOperator::test_templating_with_create_task_instance_of_operator": DB_TEST,
    },
)


@pytest.mark.xfail(reason="TEMPORARY while issue 7 closes the gaps; removed before the issue is resolved")
def test_upstream_spark_tests_pass_but_for_deliberate_differences() -> None:
    check_suite(SUITE)
