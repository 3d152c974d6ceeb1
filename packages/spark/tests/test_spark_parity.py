"""Upstream's own tests for ``SparkSubmitOperator``, run against ours (see ``docs/parity.md``)."""

from __future__ import annotations

from pathlib import Path

from airflow_durable.testing.parity import Difference, UpstreamSuite, check_suite

DB_TEST = (
    "needs Airflow's test database (upstream marks it db_test); test_spark_operators.py renders every templated "
    "field without one"
)

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
    differences=(
        Difference(
            "state-record",
            "task_state_store holds our versioned JSON record (token, generation, phase, external_id), not upstream's "
            "bare ID; the ID is its external_id",
            (
                "test_spark_submit.py::TestSparkSubmitOperatorResumable::test_cluster_mode_first_run_persists_id_before_polling",
                "test_spark_submit.py::TestSparkSubmitOperatorResumable::test_yarn_first_run_persists_app_id_before_polling",
                "test_spark_submit.py::TestSparkSubmitOperatorK8sTracking::test_k8s_execute_persists_pod_id_when_durable",
            ),
        ),
        Difference(
            "spark-rest-status",
            "standalone cluster mode polls the master's REST API, not the hook's spark-submit --status tracking "
            "(_start_driver_status_tracking), so a mocked tracking loop is never called",
            (
                "test_spark_submit.py::TestSparkSubmitOperatorResumable::test_poll_until_complete_runs_post_submit_on_failure",
            ),
        ),
    ),
    not_run={
        "test_spark_submit.py::TestSparkSubmitOperator::test_render_template": DB_TEST,
        "test_spark_submit.py::TestSparkSubmitOperator::test_templating_with_create_task_instance_of_operator": DB_TEST,
    },
    plumbing=("spark_parity_plumbing",),
    pythonpath=(Path(__file__).parent,),
)


def test_upstream_spark_tests_pass_but_for_deliberate_differences() -> None:
    check_suite(SUITE)
