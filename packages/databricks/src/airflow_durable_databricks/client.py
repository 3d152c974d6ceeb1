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

    Attributes:
        conn_id: The Airflow connection to build the SDK ``Config`` from.
        config_overrides: ``Config`` fields that win over the connection.
    """

    conn_id: str
    config_overrides: dict[str, Any] = field(default_factory=dict)
    _client: WorkspaceClient | None = field(default=None, init=False, repr=False)

    @property
    def client(self) -> WorkspaceClient:
        """The SDK client (built on first use)."""
        if self._client is None:
            from databricks.sdk import WorkspaceClient

            from airflow_durable_databricks.connection import sdk_config

            self._client = WorkspaceClient(config=sdk_config(self.conn_id, **self.config_overrides))
        return self._client

    def submit(self, body: dict[str, Any]) -> int:
        """``POST /api/2.2/jobs/runs/submit`` (https://docs.databricks.com/api/workspace/jobs/submit).

        The body goes as is, so every field the API accepts works, new ones included.
        """
        response = self.client.api_client.do("POST", "/api/2.2/jobs/runs/submit", body=body)
        return int(response["run_id"])  # type: ignore[index,call-overload]

    def run_now(self, body: dict[str, Any]) -> int:
        """``POST /api/2.2/jobs/run-now`` (https://docs.databricks.com/api/workspace/jobs/runnow)."""
        response = self.client.api_client.do("POST", "/api/2.2/jobs/run-now", body=body)
        return int(response["run_id"])  # type: ignore[index,call-overload]

    def get(self, run_id: int) -> dict[str, Any]:
        """``GET /api/2.2/jobs/runs/get`` (https://docs.databricks.com/api/workspace/jobs/getrun).

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

    def cancel(self, run_id: int) -> None:
        """``POST /api/2.2/jobs/runs/cancel`` (https://docs.databricks.com/api/workspace/jobs/cancelrun).

        It does not wait for the run to reach ``TERMINATED``.
        """
        self.client.api_client.do("POST", "/api/2.2/jobs/runs/cancel", body={"run_id": run_id})


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
    import requests

    return isinstance(error, requests.ConnectionError | requests.Timeout)
