"""Spark standalone driver states and what the durable protocol makes of them."""

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

DRIVER_ID_PATTERN = re.compile(r"^driver-\d{14}-\d{4,10}$")
"""Driver IDs the standalone master generates: ``driver-<yyyyMMddHHmmss>-<sequence>``
(``Master.newDriverId``)."""
