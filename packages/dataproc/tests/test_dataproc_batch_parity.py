"""Upstream's own tests for ``DataprocCreateBatchOperator``, run against ours (see ``docs/parity.md``).

Upstream's tests patch ``DataprocHook`` in upstream's operator module; the plumbing plugin
(``dataproc_batch_parity_plumbing``) makes our client's calls go to it. Each failure is one deliberate
difference, a row of ``docs/migration.md``.
"""

from __future__ import annotations

from pathlib import Path

from airflow_durable.testing.parity import Difference, UpstreamSuite, check_suite

TESTS = "tests/unit/google/cloud/operators/test_dataproc.py"
CLASS = "test_dataproc.py::TestDataprocCreateBatchOperator::"

DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "batch-already-exists",
        "ALREADY_EXISTS is adopted only for our own derived ID; a user's batch ID that exists fails the task",
        tests=(
            f"{CLASS}test_execute_batch_already_exists_succeeds",
            f"{CLASS}test_execute_batch_already_exists_fails",
            f"{CLASS}test_execute_batch_already_exists_cancelled",
        ),
    ),
    Difference(
        "batch-project-required",
        "the project is resolved before any intent (project_id, else the connection's)",
        tests=tuple(
            f"{CLASS}test_create_batch_{name}"
            for name in (
                "asdict_labels_updated",
                "asdict_labels_uppercase_transformed",
                "asdict_taskid_max_length_labels_updated",
                "invalid_taskid_labels_ignored",
                "labels_sanitize_underscores_and_dots",
                "long_taskid_labels_ignored",
            )
        ),
    ),
    Difference(
        "batch-validated",
        "a batch without a batch type is refused before any intent",
        tests=(f"{CLASS}test_create_batch_asobj_labels_updated",),
    ),
    Difference(
        "batch-unknown-state",
        "an unlisted batch state is an error naming it, never success",
        tests=(f"{CLASS}test_execute_openlineage_transport_info_injection_skipped_when_already_present",),
    ),
    Difference(
        "batch-resource-not-ready",
        "no re-creation under the same ID within a try; the retry creates a new batch",
        tests=(
            f"{CLASS}test_execute_with_batch_id_prefix_retries_resource_not_ready_with_same_id",
            f"{CLASS}test_retry_batch_creation_already_exists_attaches_to_batch_id",
        ),
    ),
)

SUITE = UpstreamSuite(
    name="dataproc-batch",
    distribution="apache-airflow-providers-google",
    version="22.8.0",
    select=(f"{TESTS}::TestDataprocCreateBatchOperator",),
    swaps={
        "airflow.providers.google.cloud.operators.dataproc:DataprocCreateBatchOperator": (
            "airflow_durable_dataproc.batches:DurableDataprocCreateBatchOperator"
        ),
    },
    differences=DIFFERENCES,
    plumbing=("dataproc_batch_parity_plumbing",),
    pythonpath=(Path(__file__).parent,),
)


def test_upstream_dataproc_batch_tests_pass_but_for_deliberate_differences() -> None:
    check_suite(SUITE)
