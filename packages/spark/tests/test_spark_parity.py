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
        Difference(
            "spark-durable-needs-a-cluster-driver",
            "durable=True refuses a master and deploy mode without a driver in the cluster (local, client deploy "
            "mode) with a ValueError before submitting, instead of running spark-submit without durability",
            (
                "test_spark_submit.py::TestSparkSubmitOperatorResumable::test_non_cluster_mode_calls_hook_submit_directly",
            ),
        ),
        Difference(
            "spark-yarn-without-rm-flag",
            "YARN cluster mode with durable=True needs no yarn_track_via_rm_api: it always tracks through the "
            "ResourceManager (upstream raises ValueError without the flag)",
            (
                "test_spark_submit.py::TestSparkSubmitOperatorResumable::test_yarn_cluster_reconnect_without_rm_api_raises",
            ),
        ),
        Difference(
            "spark-yarn-status",
            "YARN statuses are the ResourceManager's '<state>/<finalStatus>' (e.g. 'RUNNING/UNDEFINED', "
            "'FINISHED/SUCCEEDED') from our own RM client, classified by a cited table; upstream's collapsed "
            "'RUNNING'/'SUCCEEDED'/'FAILED' from query_yarn_application_status are unknown statuses",
            (
                "test_spark_submit.py::TestSparkSubmitOperatorResumable::test_job_status_mappings[[]True-False-*",
                "test_spark_submit.py::TestSparkSubmitOperatorResumable::test_yarn_retry_reconnects_to_running_app",
                "test_spark_submit.py::TestSparkSubmitOperatorResumable::test_yarn_retry_resubmits_after_failed_app",
                "test_spark_submit.py::TestSparkSubmitOperatorResumable::test_yarn_retry_skips_already_succeeded_app",
            ),
        ),
        Difference(
            "spark-mode-polling",
            "YARN and Kubernetes cluster modes poll with DurableJobMixin's loop (get_job_status(external_id, "
            "context), backoff, transient errors retried) and read pods through our own CoreV1Api (cncf.kubernetes "
            "KubernetesHook on kubernetes_conn_id, else kubeconfig or in-cluster); upstream's tests patch "
            "hook._start_yarn_application_status_tracking, hook._poll_k8s_driver_via_api and "
            "kube_client.get_kube_client, which ours never calls (a 404 is JobLostError, never 'NotFound' and never "
            "a success while polling; upstream's k8s_driver_status is read only beside a bare upstream record)",
            (
                "test_spark_submit.py::TestSparkSubmitOperatorResumable::test_yarn_poll_tolerates_transient_resourcemanager_failures",
                "test_spark_submit.py::TestSparkSubmitOperatorK8sTracking::test_k8s_get_job_status_*",
                "test_spark_submit.py::TestSparkSubmitOperatorK8sTracking::test_k8s_poll_until_complete_*",
                "test_spark_submit.py::TestSparkSubmitOperatorK8sTracking::test_k8s_polling_does_not_write_task_store_when_reconnect_disabled",
            ),
        ),
        Difference(
            "spark-kill-owned-job",
            "on_kill cancels the job this try owns (submitted or reconnected) through the mode's own client, "
            "bounded by cancel_timeout_seconds (YARN: PUT .../apps/{id}/state with the hook's auth), not an "
            "application ID set on the hook by hand through hook._kill_yarn_application",
            (
                "test_spark_submit.py::TestSparkSubmitOperatorResumable::test_on_kill_sends_authenticated_kill_to_yarn_rm",
            ),
        ),
        Difference(
            "spark-validated-ids",
            "the IDs spark-submit's output gives (YARN application ID, namespace and driver pod) are validated "
            "before any API call; the MagicMock values of a mocked hook are refused",
            (
                "test_spark_submit.py::TestSparkSubmitOperator::test_inject_*",
                "test_spark_submit.py::TestSparkSubmitOperatorK8sTracking::test_execute_calls_submit_then_poll_when_flag_set",
                "test_spark_submit.py::TestSparkSubmitOperatorK8sTracking::test_execute_falls_through_to_plain_submit_when_flag_off",
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
