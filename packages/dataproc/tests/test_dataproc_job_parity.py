"""Upstream's own tests for ``DataprocSubmitJobOperator``, run against ours (see ``docs/parity.md``).

Upstream's tests fake Dataproc with a mocked ``DataprocHook``; the plumbing plugin
(``dataproc_job_parity_plumbing``) routes our client calls to it. Each failure is one deliberate difference
(``docs/migration.md``).
"""

from __future__ import annotations

from pathlib import Path

from airflow_durable.testing.parity import Difference, UpstreamSuite, check_suite

TESTS = "tests/unit/google/cloud/operators/test_dataproc.py"
SUBMIT = "test_dataproc.py::TestDataprocSubmitJobOperator::"

DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "dataproc-job-type-checked",
        "a job without a known job type is refused before the intent; these tests submit job={}",
        tuple(
            SUBMIT + name
            for name in (
                "test_execute",
                "test_execute_async",
                "test_execute_deferrable",
                "test_dataproc_operator_execute_async_done_before_defer",
                "test_on_kill",
                "test_on_kill_after_execution_timeout",
            )
        ),
    ),
    Difference(
        "dataproc-start-from-trigger",
        "start_from_trigger is ignored: the intent is written on a worker before the submit",
        (
            SUBMIT + "test_start_from_trigger_sets_start_trigger_args",
            SUBMIT + "test_start_from_trigger_without_deferrable_does_not_set_args",
        ),
    ),
)
NOT_RUN = {
    SUBMIT + "test_execute_openlineage_unsupported_transport_info_injection": (
        "needs confluent-kafka (upstream's test environment has it; ours does not install it)"
    ),
}

SUITE = UpstreamSuite(
    name="dataproc-job",
    distribution="apache-airflow-providers-google",
    version="22.8.0",
    select=(f"{TESTS}::TestDataprocSubmitJobOperator",),
    swaps={
        "airflow.providers.google.cloud.operators.dataproc:DataprocSubmitJobOperator": (
            "airflow_durable_dataproc.jobs:DurableDataprocSubmitJobOperator"
        ),
    },
    differences=DIFFERENCES,
    not_run=NOT_RUN,
    plumbing=("dataproc_job_parity_plumbing",),
    pythonpath=(Path(__file__).parent,),
)


def test_upstream_dataproc_submit_job_tests_pass_but_for_deliberate_differences() -> None:
    check_suite(SUITE)
