"""The contract suite's handle on a :class:`DatabricksJobsEmulator` (``airflow_durable.testing``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from airflow_durable.status import JobState
from airflow_durable.testing import ExternalSystem, Submission
from airflow_durable_databricks.testing.emulator import DatabricksJobsEmulator

_STATE_FOR: dict[JobState, tuple[str, str | None]] = {
    JobState.ACTIVE: ("RUNNING", None),
    JobState.SUCCEEDED: ("TERMINATED", "SUCCESS"),
    JobState.FAILED: ("TERMINATED", "FAILED"),
}


class DatabricksEmulatorSystem(ExternalSystem):
    """Databricks, as the contract suite sees it: runs on a :class:`DatabricksJobsEmulator`.

    A status request is a ``runs/get``; a submission is a run created by ``runs/submit`` or ``run-now``
    (a request whose ``idempotency_token`` matched an existing run creates nothing).
    """

    def __init__(self, emulator: DatabricksJobsEmulator) -> None:
        self.emulator = emulator
        self._listeners: list[Callable[[Any], None]] = []
        emulator.on_get = self._notify

    def _notify(self, run_id: int) -> None:
        for listener in list(self._listeners):
            listener(run_id)

    def submissions(self) -> Sequence[Submission]:
        """Every run created, with its ``idempotency_token``."""
        return [Submission(run.run_id, run.idempotency_token) for run in self.emulator.runs]

    def status_calls(self) -> int:
        """``runs/get`` requests answered."""
        return sum(self.emulator.gets_for(run.run_id) for run in self.emulator.runs)

    def finish_jobs_after(self, status_calls: int | None, outcome: JobState = JobState.SUCCEEDED) -> None:
        """Runs answer active ``status_calls`` times, then ``outcome``; ``None`` holds them RUNNING."""
        if status_calls is None:
            self.emulator.hold("RUNNING")
        else:
            self.emulator.advance(status_calls + 1, "SUCCESS" if outcome is JobState.SUCCEEDED else "FAILED")

    def set_job_state(self, external_id: Any, state: JobState) -> None:
        """Pin a run to RUNNING, TERMINATED/SUCCESS or TERMINATED/FAILED."""
        life_cycle, result = _STATE_FOR[state]
        self.emulator.set_state(int(external_id), life_cycle, result)

    def set_raw_status(self, external_id: Any, raw_status: str) -> None:
        """Put any string in ``life_cycle_state``."""
        self.emulator.set_state(int(external_id), raw_status)

    def forget_job(self, external_id: Any) -> None:
        """Runs/get answers "Run N does not exist." from now on."""
        self.emulator.forget(int(external_id))

    def cancelled_jobs(self) -> Sequence[Any]:
        """Runs that received ``runs/cancel``."""
        return list(self.emulator.cancelled)

    def add_status_listener(self, listener: Callable[[Any], None]) -> None:
        """Observe ``runs/get`` requests."""
        self._listeners.append(listener)


def databricks_connection_env(conn_id: str, emulator_url: str, **extra: Any) -> dict[str, str]:
    """Return the ``AIRFLOW_CONN_*`` variable of a connection to the emulator (PAT auth over http).

    Both our operators (through the SDK ``Config`` mapping) and upstream's ``DatabricksHook`` read it.
    """
    host_port = emulator_url.split("://", 1)[1]
    host, port = host_port.rsplit(":", 1)
    value = {
        "conn_type": "databricks",
        "host": host,
        "port": int(port),
        "schema": "http",
        "extra": {"token": "dapi-emulator", **extra},
    }
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(value)}
