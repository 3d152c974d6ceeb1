"""Fixture plumbing for upstream's EMR on EKS operator tests, run against ours by the parity suite.

Upstream's tests fake EMR on EKS by patching methods of the amazon provider's ``EmrContainerHook``
(``submit_job``, ``check_query_status``, ``get_job_failure_reason``, ``stop_query``) or its ``conn``. Our
operator calls boto3 through :class:`~airflow_durable_emr.containers.EmrContainerJobRuns`, whose client is
that hook's ``conn`` (so a patched ``conn`` already reaches us). This plugin gives our operator an
``EmrContainerJobRuns`` whose calls go to the hook method of the same purpose, looked up at call time, so
the test's mocks are the vendor: their canned replies reach our code and their call assertions check the
requests our code makes.

What it cannot prove: ``check_query_status`` answers only a state, so the reply our code sees has no other
field; ``test_emr_containers_operator.py`` tests the whole replies against the emulator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest


def hook_backed_job_runs(operator: Any) -> Any:
    """An ``EmrContainerJobRuns`` for ``operator`` that calls the (mocked) upstream ``EmrContainerHook``."""
    from airflow.providers.amazon.aws.hooks.emr import EmrContainerHook

    from airflow_durable import DurableJobError
    from airflow_durable_emr.client import AwsConnection
    from airflow_durable_emr.containers import EmrContainerJobRuns

    class HookBackedJobRuns(EmrContainerJobRuns):
        _hook: Any = None

        @property
        def hook(self) -> Any:
            if self._hook is None:
                self._hook = EmrContainerHook(
                    aws_conn_id=operator.aws_conn_id,
                    region_name=operator.region_name,
                    verify=operator.verify,
                    config=operator.botocore_config,
                    virtual_cluster_id=operator.virtual_cluster_id,
                )
            return self._hook

        def start(self, request: Mapping[str, Any]) -> str:
            retry = request.get("retryPolicyConfiguration") or {}
            job_run_id: str = self.hook.submit_job(
                request["name"],
                request["executionRoleArn"],
                request["releaseLabel"],
                request["jobDriver"],
                request["configurationOverrides"],
                request["clientToken"],
                request["tags"],
                retry.get("maxAttempts"),
            )
            return job_run_id

        def describe(self, virtual_cluster_id: str, job_run_id: str) -> dict[str, Any]:
            state = self.hook.check_query_status(job_run_id)
            if state is None:  # the hook swallowed a ClientError
                raise DurableJobError(f"no state for job run {job_run_id!r}")
            return {"id": job_run_id, "virtualClusterId": virtual_cluster_id, "state": state}

        def failure_reason(
            self, virtual_cluster_id: str, job_run_id: str, job_run: Mapping[str, Any] | None = None
        ) -> str | None:
            reason: str | None = self.hook.get_job_failure_reason(job_run_id)
            return reason

        def cancel(self, virtual_cluster_id: str, job_run_id: str) -> None:
            self.hook.stop_query(job_run_id)

    connection = AwsConnection(operator.aws_conn_id, operator.region_name, operator.verify, operator.botocore_config)
    return HookBackedJobRuns(connection, operator.virtual_cluster_id)


def pytest_configure(config: pytest.Config) -> None:
    """Route our operator's EMR on EKS calls through the upstream hook that the tests mock."""
    from airflow_durable_emr import containers

    def job_runs(self: Any) -> Any:
        if self._job_runs is None:
            self._job_runs = hook_backed_job_runs(self)
        return self._job_runs

    containers.DurableEmrContainerOperator.job_runs = property(job_runs)  # type: ignore[assignment,method-assign]
