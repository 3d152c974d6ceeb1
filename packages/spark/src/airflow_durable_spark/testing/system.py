"""The contract suite's handle on a :class:`SparkMasterEmulator` (``airflow_durable.testing``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow_durable.status import JobState
from airflow_durable.testing import ExternalSystem, Submission
from airflow_durable_spark.operators import TOKEN_CONF_KEY
from airflow_durable_spark.testing.emulator import FAKE_SUBMIT_USER_AGENT, SparkMasterEmulator

_RAW_FOR = {JobState.ACTIVE: "RUNNING", JobState.SUCCEEDED: "FINISHED", JobState.FAILED: "FAILED"}


class SparkEmulatorSystem(ExternalSystem):
    """Spark standalone, as the contract suite sees it: drivers on a :class:`SparkMasterEmulator`.

    Only the operator's own status requests count as polls (``spark-submit`` polls once after creating a
    driver, as the real client does; the emulator tells them apart by User-Agent). The submission token
    is read from the ``spark.airflow.durable.submission`` Spark property of each ``CreateSubmissionRequest``.
    """

    def __init__(self, emulator: SparkMasterEmulator) -> None:
        self.emulator = emulator
        self._listeners: list[Callable[[Any], None]] = []
        emulator.on_client_status = self._notify

    def _notify(self, driver_id: str) -> None:
        for listener in list(self._listeners):
            listener(driver_id)

    def submissions(self) -> Sequence[Submission]:
        """Every driver created, with the token it carried."""
        return [Submission(d.driver_id, d.spark_properties.get(TOKEN_CONF_KEY)) for d in self.emulator.drivers]

    def status_calls(self) -> int:
        """Status requests from the operator (not from ``spark-submit``)."""
        return sum(1 for _, agent in list(self.emulator.status_log) if agent != FAKE_SUBMIT_USER_AGENT)

    def finish_jobs_after(self, status_calls: int | None, outcome: JobState = JobState.SUCCEEDED) -> None:
        """Script new drivers; ``spark-submit``'s own poll is added to the count."""
        if status_calls is None:
            self.emulator.hold("RUNNING")
        else:
            self.emulator.advance(status_calls + 2, _RAW_FOR[outcome])

    def set_job_state(self, external_id: Any, state: JobState) -> None:
        """Pin a driver to ``RUNNING``, ``FINISHED`` or ``FAILED``."""
        self.emulator.set_state(external_id, _RAW_FOR[state])

    def set_raw_status(self, external_id: Any, raw_status: str) -> None:
        """Make a driver report any ``driverState``, bypassing the emulator's state check."""
        with self.emulator._lock:
            record = self.emulator.driver(external_id)
            record.state = raw_status
            record.pinned = True

    def forget_job(self, external_id: Any) -> None:
        """The master forgets the driver."""
        self.emulator.forget(external_id)

    def cancelled_jobs(self) -> Sequence[Any]:
        """Drivers that received a kill request."""
        return [d.driver_id for d in self.emulator.drivers if d.kill_requests]

    def add_status_listener(self, listener: Callable[[Any], None]) -> None:
        """Observe the operator's status requests."""
        self._listeners.append(listener)


def spark_connection_env(conn_id: str, emulator: SparkMasterEmulator) -> dict[str, str]:
    """Return the ``AIRFLOW_CONN_*`` variable of a cluster-mode connection to the emulator.

    Args:
        conn_id: The connection ID.
        emulator: The emulator; submissions go to its REST port.

    Returns:
        ``{"AIRFLOW_CONN_<CONN_ID>": <JSON connection>}``.
    """
    port = emulator.rest_port
    value = {
        "conn_type": "spark",
        "host": "spark://127.0.0.1",
        "port": port,
        "extra": {"deploy-mode": "cluster", "rest-port": port},
    }
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(value)}


@contextmanager
def emulated_spark_master(bin_dir: Path, **emulator_kwargs: Any) -> Iterator[SparkMasterEmulator]:
    """Start an emulator and put a fake ``spark-submit`` for it into ``bin_dir``.

    The caller puts ``bin_dir`` first on ``PATH``.
    """
    from airflow_durable_spark.testing.fake_spark_submit import install_fake_spark_submit

    with SparkMasterEmulator(**emulator_kwargs) as emulator:
        install_fake_spark_submit(bin_dir, emulator.url)
        yield emulator
