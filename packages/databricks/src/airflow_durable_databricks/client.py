"""``DatabricksRuns``: the Jobs API 2.2 calls the durable operators make, through ``databricks-sdk``.

``databricks.sdk`` is imported on first use, not at module import: it costs about 1.4 s, and operator
modules are imported at every DAG parse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_durable import JobLostError

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient


@dataclass
class DatabricksRuns:
    """Submit, read, cancel runs through the SDK's ``WorkspaceClient`` (its auth, its retries).

    Each method is one call of the Jobs (or Pipelines) REST API; its docstring names the
    ``airflow.providers.databricks`` ``DatabricksHook`` method with the same purpose.

    Attributes:
        conn_id: The Airflow connection to build the SDK ``Config`` from.
        config_overrides: ``Config`` fields that win over the connection.
        config_defaults: ``Config`` fields the connection wins over (the operators' mapped retry budget).
    """

    conn_id: str
    config_overrides: dict[str, Any] = field(default_factory=dict)
    config_defaults: dict[str, Any] = field(default_factory=dict)
    _client: WorkspaceClient | None = field(default=None, init=False, repr=False)

    @property
    def client(self) -> WorkspaceClient:
        """The SDK client (built on first use)."""
        if self._client is None:
            from databricks.sdk import WorkspaceClient

            from airflow_durable_databricks.connection import sdk_config

            config = sdk_config(self.conn_id, defaults=self.config_defaults, **self.config_overrides)
            self._client = WorkspaceClient(config=config)
        return self._client

    def submit(self, body: dict[str, Any]) -> int:
        """``POST /api/2.2/jobs/runs/submit`` (https://docs.databricks.com/api/workspace/jobs/submit).

        ~ ``DatabricksHook.submit_run``. The body goes as is, so every field the API accepts works, new ones
        included.
        """
        response = self.client.api_client.do("POST", "/api/2.2/jobs/runs/submit", body=body)
        return int(response["run_id"])  # type: ignore[index,call-overload]

    def run_now(self, body: dict[str, Any]) -> int:
        """``POST /api/2.2/jobs/run-now`` (https://docs.databricks.com/api/workspace/jobs/runnow).

        ~ ``DatabricksHook.run_now``. The body goes as is, but a ``job_id`` of digits (what upstream's
        normalisation makes of every number) goes as the integer the API documents.
        """
        job_id = body.get("job_id")
        if isinstance(job_id, str) and job_id.isdigit():
            body = {**body, "job_id": int(job_id)}
        response = self.client.api_client.do("POST", "/api/2.2/jobs/run-now", body=body)
        return int(response["run_id"])  # type: ignore[index,call-overload]

    def find_job_id(self, name: str) -> int | None:
        """``GET /api/2.2/jobs/list?name=`` (https://docs.databricks.com/api/workspace/jobs/list), all pages.

        ~ ``DatabricksHook.find_job_id_by_name``.

        Returns:
            The ID of the one job of that name, or ``None`` when there is none.

        Raises:
            AirflowException: More than one job has that name (upstream's text).
        """
        found = self._list("/api/2.2/jobs/list", {"name": name}, "jobs")
        ids = [job["job_id"] for job in found if job.get("settings", {}).get("name") == name]
        if len(ids) > 1:
            from airflow.sdk.exceptions import AirflowException

            raise AirflowException(f"There are more than one job with name {name}. Please delete duplicated jobs first")
        return int(ids[0]) if ids else None

    def find_pipeline_id(self, name: str) -> str | None:
        """``GET /api/2.0/pipelines?filter=name LIKE '<name>'``, all pages.

        ~ ``DatabricksHook.find_pipeline_id_by_name``. See
        https://docs.databricks.com/api/workspace/pipelines/listpipelines.

        Returns:
            The ``pipeline_id`` of the one pipeline of that name, or ``None`` when there is none.

        Raises:
            AirflowException: More than one pipeline has that name (upstream's text).
        """
        found = self._list("/api/2.0/pipelines", {"filter": f"name LIKE '{name}'"}, "statuses")
        if len(found) > 1:
            from airflow.sdk.exceptions import AirflowException

            raise AirflowException(
                f"There are more than one pipelines with name {name}. Please delete duplicated pipelines first"
            )
        return str(found[0]["pipeline_id"]) if found else None

    def _list(self, path: str, query: dict[str, Any], key: str) -> list[dict[str, Any]]:
        """Every item under ``key`` of a paginated ``GET`` (``next_page_token``)."""
        items: list[dict[str, Any]] = []
        page: dict[str, Any] = dict(query)
        while True:
            response: Any = self.client.api_client.do("GET", path, query=page)
            items += response.get(key, [])
            token = response.get("next_page_token")
            if not token:
                return items
            page = {**query, "page_token": token}

    def get(self, run_id: int) -> dict[str, Any]:
        """``GET /api/2.2/jobs/runs/get`` (https://docs.databricks.com/api/workspace/jobs/getrun).

        ~ ``DatabricksHook.get_run``.

        Returns:
            The ``Run`` as JSON.

        Raises:
            JobLostError: Databricks does not know the run (``ResourceDoesNotExist``, a ``NotFound``, which
                the SDK raises for both a 404 and a 400 "does not exist"; run history expires).
        """
        from databricks.sdk.errors import NotFound

        try:
            response = self.client.api_client.do("GET", "/api/2.2/jobs/runs/get", query={"run_id": run_id})
        except NotFound as err:
            raise JobLostError(run_id, str(err)) from err
        return dict(response)  # type: ignore[arg-type]

    def run_page_url(self, run_id: int) -> str:
        """The run's page URL, from ``GET /api/2.2/jobs/runs/get`` (https://docs.databricks.com/api/workspace/jobs/getrun).

        ~ ``DatabricksHook.get_run_page_url``. The operators call it only when a ``runs/get`` answer they
        already hold has no ``run_page_url`` (older API versions), once per run and try.

        Raises:
            JobLostError: Databricks does not know the run.
        """
        return str(self.get(run_id).get("run_page_url") or "")

    def cancel(self, run_id: int) -> None:
        """``POST /api/2.2/jobs/runs/cancel`` (https://docs.databricks.com/api/workspace/jobs/cancelrun).

        ~ ``DatabricksHook.cancel_run``. It does not wait for the run to reach ``TERMINATED``.
        """
        self.client.api_client.do("POST", "/api/2.2/jobs/runs/cancel", body={"run_id": run_id})

    def cancel_all(self, job_id: int) -> None:
        """``POST /api/2.2/jobs/runs/cancel-all`` for one job (https://docs.databricks.com/api/workspace/jobs/cancelallruns).

        ~ ``DatabricksHook.cancel_all_runs``. Every active run of the job is cancelled, asynchronously.
        """
        self.client.api_client.do("POST", "/api/2.2/jobs/runs/cancel-all", body={"job_id": job_id})

    def get_output(self, run_id: int) -> dict[str, Any]:
        """``GET /api/2.2/jobs/runs/get-output`` of a *task* run (https://docs.databricks.com/api/workspace/jobs/getrunoutput).

        ~ ``DatabricksHook.get_run_output``.

        Returns:
            The ``RunOutput`` as JSON; a failed task's has ``error`` and ``error_trace``.
        """
        response = self.client.api_client.do("GET", "/api/2.2/jobs/runs/get-output", query={"run_id": run_id})
        return dict(response)  # type: ignore[arg-type]

    def latest_repair_id(self, run_id: int) -> int | None:
        """The ID of the run's latest repair, from ``runs/get`` with ``include_history`` (``None``: never repaired).

        ~ ``DatabricksHook.get_latest_repair_id``. ``repair_history`` lists the original run first,
        then each repair (``type`` ``REPAIR``, with its ``id``).
        """
        query = {"run_id": run_id, "include_history": "true"}
        response = self.client.api_client.do("GET", "/api/2.2/jobs/runs/get", query=query)
        history = response.get("repair_history") or []  # type: ignore[union-attr]
        repairs = [entry for entry in history if entry.get("type") == "REPAIR" and entry.get("id") is not None]
        return int(repairs[-1]["id"]) if repairs else None

    def repair(self, body: dict[str, Any]) -> int:
        """``POST /api/2.2/jobs/runs/repair`` (https://docs.databricks.com/api/workspace/jobs/repairrun).

        ~ ``DatabricksHook.repair_run``. Databricks refuses a repair whose ``latest_repair_id`` is not
        the run's latest repair, so two repairs made from the same view of the run cannot both start.

        Returns:
            The ``repair_id``.
        """
        response = self.client.api_client.do("POST", "/api/2.2/jobs/runs/repair", body=body)
        return int(response["repair_id"])  # type: ignore[index,call-overload]

    def update_job(self, job_id: int, new_settings: dict[str, Any]) -> None:
        """``POST /api/2.2/jobs/update``, a partial update (https://docs.databricks.com/api/workspace/jobs/update).

        ~ ``DatabricksHook.update_job``.
        """
        body = {"job_id": job_id, "new_settings": new_settings}
        self.client.api_client.do("POST", "/api/2.2/jobs/update", body=body)


def is_transient(error: Exception) -> bool:
    """Return True for errors the operator retries in place, beyond the SDK's own 429/503 retries.

    Plain 500s, gateway errors and timeouts: the SDK gives up on those (or after ``retry_timeout_seconds``)
    but the run is unaffected, so polling again is right and resubmitting would be wrong.
    """
    from databricks.sdk import errors

    transient = (
        errors.InternalError,
        errors.TemporarilyUnavailable,
        errors.TooManyRequests,
        errors.DeadlineExceeded,
        TimeoutError,
        ConnectionError,
    )
    if isinstance(error, transient):
        return True
    # The SDK maps no class to 502: a gateway's answer keeps its error code, or is no JSON at all.
    if isinstance(error, errors.base.DatabricksError) and getattr(error, "error_code", None) == "BAD_GATEWAY":
        return True
    import requests

    return isinstance(error, requests.ConnectionError | requests.Timeout)
