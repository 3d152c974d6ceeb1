"""Upstream's own tests for ``ResumableJobMixin``, run against ``DurableJobMixin`` (see ``docs/parity.md``).

Upstream's test operator implements the six methods of ``ResumableJobMixin`` and no status table: the
interface operators written for upstream keep (migration guide, step 10).
"""

from __future__ import annotations

import pytest

from airflow_durable.testing.parity import UpstreamSuite, check_suite

SUITE = UpstreamSuite(
    name="mixin",
    distribution="apache-airflow-task-sdk",
    version="1.3.2",
    select=("tests/task_sdk/bases/test_resumablejobmixin.py",),
    swaps={"airflow.sdk:ResumableJobMixin": "airflow_durable:DurableJobMixin"},
    differences=(),
)


@pytest.mark.xfail(reason="TEMPORARY while issue 7 closes the gaps; removed before the issue is resolved")
def test_upstream_mixin_tests_pass_but_for_deliberate_differences() -> None:
    check_suite(SUITE)
