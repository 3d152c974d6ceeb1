"""Fixture plumbing for upstream's ``EmrAddStepsOperator`` tests, run against ours by the parity suite.

Upstream's tests fake EMR by patching the amazon provider's ``EmrHook.conn`` (our boto3 client is that
attribute, so it already reaches us) or methods of ``EmrHook`` (``get_cluster_id_by_name``), and they
patch the OpenLineage helper where upstream's operator module imported it. This plugin routes our
operator's call of the same purpose to what they patch, looked up at call time, so the test's mocks are the
vendor:

- the cluster name lookup (our ``ListClusters`` call) goes to ``EmrHook.get_cluster_id_by_name``; the rule
  "exactly one cluster" and its error stay ours;
- the OpenLineage parent job helper our operator calls (``airflow.providers.common.compat``'s, the very
  function upstream's module imports) goes to the name in ``airflow.providers.amazon.aws.operators.emr``.

What it cannot prove: ``get_cluster_id_by_name`` answers one ID or none, so our "several clusters" branch
is not reached here; ``test_emr_steps_operator.py`` tests it against the emulator.
"""

from __future__ import annotations

from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Route our operator's cluster name lookup and OpenLineage helper to what upstream's tests patch."""
    from airflow.providers.amazon.aws.hooks.emr import EmrHook
    from airflow.providers.amazon.aws.operators import emr as upstream_module
    from airflow.providers.common.compat.openlineage.utils import spark as compat_spark

    from airflow_durable_emr import steps

    def clusters_named(self: Any, name: str) -> list[str]:
        hook = EmrHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
        )
        cluster_id = hook.get_cluster_id_by_name(name, self.cluster_states)
        return [cluster_id] if cluster_id else []

    def inject_parent_job_information_into_spark_properties(properties: dict[str, Any], context: Any) -> Any:
        return upstream_module.inject_parent_job_information_into_spark_properties(properties, context)

    steps.DurableEmrAddStepsOperator._clusters_named = clusters_named  # type: ignore[method-assign]
    compat_spark.inject_parent_job_information_into_spark_properties = (  # type: ignore[assignment]
        inject_parent_job_information_into_spark_properties
    )
