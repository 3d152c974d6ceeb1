"""Fixture plumbing for upstream's Databricks operator tests, run against ours by the parity suite.

Upstream's tests fake Databricks by patching ``airflow.providers.databricks.operators.databricks.DatabricksHook``.
Our operators never use that hook: they call Databricks through ``DatabricksRuns`` (databricks-sdk). This
plugin gives our operators a ``DatabricksRuns`` whose every method calls the hook method of the same
purpose, looked up at call time, so the test's mock is the vendor: its canned replies reach our code and
its call assertions check the requests our code makes.

What it cannot prove: the hook's constructor arguments (``retry_limit``, ``retry_delay``, ``retry_args``,
``caller``) are built here from the operator's upstream-named attributes, so assertions on them show that
we accept and keep those arguments, not how we honour them; ``test_databricks_operators.py`` tests that.
"""

from __future__ import annotations

from typing import Any

import pytest

UPSTREAM_CLASS = {
    "DurableDatabricksSubmitRunOperator": "DatabricksSubmitRunOperator",
    "DurableDatabricksRunNowOperator": "DatabricksRunNowOperator",
}


def hook_backed_runs(operator: Any) -> Any:
    """A ``DatabricksRuns`` for ``operator`` that calls the (mocked) upstream ``DatabricksHook``."""
    from airflow.providers.databricks.exceptions import DatabricksApiError
    from airflow.providers.databricks.operators import databricks as upstream

    from airflow_durable import JobLostError
    from airflow_durable_databricks.client import DatabricksRuns

    class HookBackedRuns(DatabricksRuns):
        _hook: Any = None

        @property
        def hook(self) -> Any:
            if self._hook is None:
                self._hook = upstream.DatabricksHook(
                    operator.databricks_conn_id,
                    retry_limit=operator.databricks_retry_limit,
                    retry_delay=operator.databricks_retry_delay,
                    retry_args=operator.databricks_retry_args,
                    caller=UPSTREAM_CLASS.get(type(operator).__name__, type(operator).__name__),
                )
            return self._hook

        def submit(self, body: dict[str, Any]) -> int:
            return self.hook.submit_run(body)

        def run_now(self, body: dict[str, Any]) -> int:
            return self.hook.run_now(body)

        def find_job_id(self, name: str) -> int | None:
            return self.hook.find_job_id_by_name(name)

        def find_pipeline_id(self, name: str) -> str | None:
            return self.hook.find_pipeline_id_by_name(name)

        def get(self, run_id: int) -> dict[str, Any]:
            try:
                return dict(self.hook.get_run(run_id))
            except DatabricksApiError as err:
                if err.http_status_code == 404:
                    raise JobLostError(run_id, str(err)) from err
                raise

        def run_page_url(self, run_id: int) -> str:
            return self.hook.get_run_page_url(run_id)

        def cancel(self, run_id: int) -> None:
            self.hook.cancel_run(run_id)

        def cancel_all(self, job_id: int) -> None:
            self.hook.cancel_all_runs(job_id)

        def get_output(self, run_id: int) -> dict[str, Any]:
            return dict(self.hook.get_run_output(run_id))

        def latest_repair_id(self, run_id: int) -> int | None:
            return self.hook.get_latest_repair_id(run_id)

        def repair(self, body: dict[str, Any]) -> int:
            return self.hook.repair_run(body)

        def update_job(self, job_id: int, new_settings: dict[str, Any]) -> None:
            self.hook.update_job(job_id=job_id, json=new_settings)

    return HookBackedRuns(operator.databricks_conn_id)


def pytest_configure(config: pytest.Config) -> None:
    """Route our operators' vendor calls through the upstream hook that the tests mock."""
    from airflow_durable_databricks import operators

    def runs(self: Any) -> Any:
        if self._runs is None:
            self._runs = hook_backed_runs(self)
        return self._runs

    operators._DurableDatabricksRunOperator.runs = property(runs)  # type: ignore[assignment,method-assign]
