"""Spark standalone driver states, what the durable protocol makes of them, and the driver-ID format."""

from __future__ import annotations

import re

from airflow_durable import StatusTable

SPARK_DRIVER_STATES = StatusTable(
    # SUBMITTED: accepted, waiting for a worker. RUNNING: launched. RELAUNCHING: being restarted after a
    # worker loss (supervise). UNKNOWN: the master is in failure recovery and has not re-learnt the
    # driver's state yet; the driver is alive as far as anyone knows. It is active here for the resume
    # decision and the poll loop alike (upstream treats it as active in one and terminal in the other).
    active={"SUBMITTED", "RUNNING", "RELAUNCHING", "UNKNOWN"},
    succeeded={"FINISHED"},
    # ERROR: the driver could not start or crashed; FAILED: non-zero exit; KILLED: killed by a user.
    failed={"FAILED", "ERROR", "KILLED"},
    source="https://github.com/apache/spark/blob/v4.0.0/core/src/main/scala/org/apache/spark/deploy/master/DriverState.scala",
)
"""``driverState`` values of ``GET /v1/submissions/status/{id}``, from Spark's ``DriverState``."""

DRIVER_ID_PATTERN = re.compile(r"^driver-[0-9A-Za-z-]{1,120}$")
"""Driver IDs this package accepts: ``driver-`` then letters, digits and ``-`` (at most 127 characters).

The master generates ``driver-<yyyyMMddHHmmss>-<sequence>`` (``Master.newDriverId``); the check is looser
on purpose. It exists so a stored value is safe in a URL and corrupt state is caught, not to pin the
master's format (upstream's tests use IDs such as ``driver-001``)."""


def check_driver_id(driver_id: object) -> str:
    """Return ``driver_id`` if it is a plausible standalone driver ID, so it is safe in a URL.

    Args:
        driver_id: A stored or parsed driver ID.

    Returns:
        The same ID.

    Raises:
        ValueError: If it does not match :data:`DRIVER_ID_PATTERN`.
    """
    if not isinstance(driver_id, str) or not DRIVER_ID_PATTERN.fullmatch(driver_id):
        raise ValueError(f"{driver_id!r} is not a Spark standalone driver ID (driver- then letters, digits and -)")
    return driver_id
