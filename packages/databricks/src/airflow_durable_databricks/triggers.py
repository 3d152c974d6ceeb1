"""``DurableDatabricksRunTrigger``: poll a Databricks run in the triggerer, through ``databricks-sdk``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_durable import Backoff, DurableJobError, JobLostError, JobState
from airflow_durable.mixin import serialize_trigger
from airflow_durable_databricks.client import DatabricksRuns, is_transient
from airflow_durable_databricks.statuses import RUN_STATES, run_status


class DurableDatabricksRunTrigger(BaseTrigger):
    """Poll one run until it is terminal, then fire one event for ``execute_resumable_complete``.

    The operator has made the resume decision and persisted the ``run_id`` before deferring, so a
    triggerer restart, or a failure here, never submits anything: the task's retry reconnects.

    Events: ``{"external_id": run_id, "status": "TERMINATED:SUCCESS"}`` (any terminal raw status), or
    ``{"external_id": run_id, "error": "..."}`` when the run is lost, its status is unknown, or polling
    fails for good.

    Args:
        run_id: The run to poll.
        databricks_conn_id: The Airflow connection (mapped onto the SDK ``Config``).
        poll_interval_seconds: The first delay between polls.
        max_poll_interval_seconds: The ceiling the delay grows to.
        max_transient_errors: Consecutive transient errors tolerated.
        sdk_config_overrides: ``Config`` fields that win over the connection.
        sdk_config_defaults: ``Config`` fields the connection wins over (the operator's retry budget).
    """

    def __init__(
        self,
        run_id: int,
        databricks_conn_id: str,
        poll_interval_seconds: float = 30.0,
        max_poll_interval_seconds: float = 120.0,
        max_transient_errors: int = 10,
        sdk_config_overrides: dict[str, Any] | None = None,
        sdk_config_defaults: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.run_id = run_id
        self.databricks_conn_id = databricks_conn_id
        self.poll_interval_seconds = poll_interval_seconds
        self.max_poll_interval_seconds = max_poll_interval_seconds
        self.max_transient_errors = max_transient_errors
        self.sdk_config_overrides = dict(sdk_config_overrides or {})
        self.sdk_config_defaults = dict(sdk_config_defaults or {})

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and keyword arguments (no credentials: the connection is read in the triggerer)."""
        return serialize_trigger(
            self,
            "run_id",
            "databricks_conn_id",
            "poll_interval_seconds",
            "max_poll_interval_seconds",
            "max_transient_errors",
            "sdk_config_overrides",
            "sdk_config_defaults",
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll with backoff; the SDK's blocking calls run in a worker thread."""
        runs = DatabricksRuns(self.databricks_conn_id, self.sdk_config_overrides, self.sdk_config_defaults)
        delays = Backoff(self.poll_interval_seconds, max(self.poll_interval_seconds, self.max_poll_interval_seconds))
        waits = delays.delays()
        failures = 0
        while True:
            try:
                status = run_status(await asyncio.to_thread(runs.get, self.run_id))
                job_state = RUN_STATES.classify(status)
            except (JobLostError, DurableJobError) as err:
                yield TriggerEvent(  # type: ignore[no-untyped-call]
                    {"external_id": self.run_id, "error": str(err)}
                )
                return
            except Exception as err:  # noqa: BLE001 - reported in the event; the task decides
                if is_transient(err) and failures < self.max_transient_errors:
                    failures += 1
                    self.log.warning("Transient error polling run %s: %r", self.run_id, err)
                    await asyncio.sleep(next(waits))
                    continue
                yield TriggerEvent(  # type: ignore[no-untyped-call]
                    {"external_id": self.run_id, "error": repr(err)}
                )
                return
            failures = 0
            if job_state is not JobState.ACTIVE:
                yield TriggerEvent(  # type: ignore[no-untyped-call]
                    {"external_id": self.run_id, "status": status}
                )
                return
            await asyncio.sleep(next(waits))
