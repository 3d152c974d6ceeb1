"""``DurableDatabricksRunTrigger``: poll a Databricks run in the triggerer, through ``databricks-sdk``."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow_durable.trigger import JobStatusTrigger
from airflow_durable_databricks.client import DatabricksRuns, is_transient
from airflow_durable_databricks.statuses import RUN_STATES, run_status


class DurableDatabricksRunTrigger(JobStatusTrigger):
    """Poll one run until it is terminal, then fire one event for ``execute_resumable_complete``.

    The operator has made the resume decision and persisted the ``run_id`` before deferring, so a
    triggerer restart, or a failure here, never submits anything: the task's retry reconnects. The loop is
    core's :class:`~airflow_durable.trigger.JobStatusTrigger`.

    Events: ``{"external_id": run_id, "status": "TERMINATED:SUCCESS"}`` (any terminal raw status), or
    ``{"external_id": run_id, "error": "..."}`` when the run is lost, its status is unknown, or polling
    fails for good.

    Args:
        run_id: The run to poll.
        databricks_conn_id: The Airflow connection (mapped onto the SDK ``Config``).
        poll_interval_seconds: The first delay between polls.
        max_poll_interval_seconds: The ceiling the delay grows to; ``None``: the core policy (the operator
            passes its own).
        max_transient_errors: Consecutive transient errors tolerated.
        sdk_config_overrides: ``Config`` fields that win over the connection.
        sdk_config_defaults: ``Config`` fields the connection wins over (the operator's retry budget).
    """

    status_table = RUN_STATES
    external_id_arg: ClassVar[str] = "run_id"
    serialized_fields: ClassVar[tuple[str, ...]] = (
        "databricks_conn_id",
        "sdk_config_overrides",
        "sdk_config_defaults",
    )

    def __init__(
        self,
        run_id: int,
        databricks_conn_id: str,
        poll_interval_seconds: float = 30.0,
        max_poll_interval_seconds: float | None = None,
        max_transient_errors: int = 10,
        sdk_config_overrides: dict[str, Any] | None = None,
        sdk_config_defaults: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(run_id, poll_interval_seconds, max_poll_interval_seconds, max_transient_errors)
        self.databricks_conn_id = databricks_conn_id
        self.sdk_config_overrides = dict(sdk_config_overrides or {})
        self.sdk_config_defaults = dict(sdk_config_defaults or {})
        self._runs: DatabricksRuns | None = None

    @property
    def run_id(self) -> int:
        """The run polled."""
        return int(self.external_id)

    def get_status(self) -> str:
        """``runs/get``, folded into upstream's ``"<life_cycle_state>:<result_state>"`` status."""
        if self._runs is None:
            self._runs = DatabricksRuns(self.databricks_conn_id, self.sdk_config_overrides, self.sdk_config_defaults)
        return run_status(self._runs.get(self.run_id))

    def is_transient_error(self, error: Exception) -> bool:
        """429, 5xx and timeouts (after the SDK's own retries)."""
        return is_transient(error)
