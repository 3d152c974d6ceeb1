"""Upstream's own tests for ``ResumableJobMixin``, run against ``DurableJobMixin`` (see ``docs/parity.md``).

Upstream's test operator implements the six methods of ``ResumableJobMixin`` and no status table: the
interface operators written for upstream keep (migration guide, step 10).
"""

from __future__ import annotations

from airflow_durable.testing.parity import Difference, UpstreamSuite, check_suite

SUITE = UpstreamSuite(
    name="mixin",
    distribution="apache-airflow-task-sdk",
    version="1.3.2",
    select=("tests/task_sdk/bases/test_resumablejobmixin.py",),
    swaps={"airflow.sdk:ResumableJobMixin": "airflow_durable:DurableJobMixin"},
    differences=(
        Difference(
            "status-table",
            "is_job_active, is_job_succeeded and poll_until_complete are not abstract (a status table classifies, "
            "the mixin polls); the abstract class is DurableJobMixin",
            (
                "test_resumablejobmixin.py::TestAbstractMethodEnforcement::test_mixin_itself_cannot_be_instantiated",
                "test_resumablejobmixin.py::TestAbstractMethodEnforcement::test_missing_all_methods_reports_every_one",
                *(
                    "test_resumablejobmixin.py::TestAbstractMethodEnforcement::"
                    f"test_missing_single_method_fails_at_construction[[]{method}]"  # [[] is a literal [
                    for method in ("is_job_active", "is_job_succeeded", "poll_until_complete")
                ),
            ),
        ),
        Difference(
            "state-record",
            "task_state_store holds a versioned JSON record (intent, then the ID), not the bare ID",
            (
                "test_resumablejobmixin.py::TestExternalIdKey::test_custom_key_used_for_storage_and_retrieval",
                "test_resumablejobmixin.py::TestFirstSubmission::test_persists_external_id_before_polling",
            ),
        ),
        Difference(
            "unidentified-submission",
            "submit_job returning None fails the task instead of silently running without crash recovery",
            ("test_resumablejobmixin.py::TestNoneExternalId::test_none_external_id_is_not_stored",),
        ),
    ),
)


def test_upstream_mixin_tests_pass_but_for_deliberate_differences() -> None:
    check_suite(SUITE)
