"""Spark driver statuses per deployment mode (standalone driver, YARN application, driver pod), their ID formats."""

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


# ---------------------------------------------------------------------------- YARN

_YARN_ACTIVE_STATES = ("NEW", "NEW_SAVING", "SUBMITTED", "ACCEPTED", "RUNNING")
_YARN_FINAL_STATUSES = ("UNDEFINED", "SUCCEEDED", "FAILED", "KILLED")

YARN_APPLICATION_STATES = StatusTable(
    # ``"<state>/<finalStatus>"`` of ``GET /ws/v1/cluster/apps/{id}`` (``app.state``, ``app.finalStatus``).
    # Queued or running: the application master has not unregistered, finalStatus is UNDEFINED. RUNNING with
    # a final status: the AM unregistered with it and the ResourceManager is still saving the final state
    # (FINAL_SAVING/FINISHING show as RUNNING); keep polling until the state is final.
    active={f"{state}/UNDEFINED" for state in _YARN_ACTIVE_STATES}
    | {"RUNNING/SUCCEEDED", "RUNNING/FAILED", "RUNNING/KILLED"},
    succeeded={"FINISHED/SUCCEEDED"},
    # FINISHED with anything but SUCCEEDED: the AM unregistered with a failure (or never said). FAILED: the
    # AM failed more than the attempts allow. KILLED: killed by a user or an admin.
    failed={"FINISHED/FAILED", "FINISHED/KILLED", "FINISHED/UNDEFINED"}
    | {f"{state}/{final}" for state in ("FAILED", "KILLED") for final in _YARN_FINAL_STATUSES},
    source=(
        "https://hadoop.apache.org/docs/stable/hadoop-yarn/hadoop-yarn-site/ResourceManagerRest.html"
        "#Cluster_Application_API (YarnApplicationState, FinalApplicationStatus: "
        "https://hadoop.apache.org/docs/stable/api/org/apache/hadoop/yarn/api/records/YarnApplicationState.html, "
        "https://hadoop.apache.org/docs/stable/api/org/apache/hadoop/yarn/api/records/FinalApplicationStatus.html)"
    ),
)
"""YARN application states as ``"<state>/<finalStatus>"``, e.g. ``"RUNNING/UNDEFINED"``, ``"FINISHED/SUCCEEDED"``."""

YARN_APPLICATION_ID_PATTERN = re.compile(r"^application_[0-9]{1,20}_[0-9]{1,10}$")
"""YARN application IDs: ``application_<clusterTimestamp>_<sequence>`` (``ApplicationId.toString``)."""


def check_application_id(application_id: object) -> str:
    """Return ``application_id`` if it is a YARN application ID, so it is safe in a URL.

    Args:
        application_id: A stored or parsed application ID.

    Returns:
        The same ID.

    Raises:
        ValueError: If it does not match :data:`YARN_APPLICATION_ID_PATTERN`.
    """
    if not isinstance(application_id, str) or not YARN_APPLICATION_ID_PATTERN.fullmatch(application_id):
        raise ValueError(f"{application_id!r} is not a YARN application ID (application_<clusterTimestamp>_<sequence>)")
    return application_id


# ---------------------------------------------------------------------------- Kubernetes

DRIVER_POD_STATES = StatusTable(
    # The pod phase; a missing phase reads as Pending. Unknown: the node is unreachable, the driver may
    # still run (like standalone's UNKNOWN): active. DriverSucceeded/DriverFailed: the driver container
    # (``spark-kubernetes-driver``) terminated while the pod is still Pending/Running, which a sidecar
    # (Istio) that never exits causes: the driver's exit code decides.
    active={"Pending", "Running", "Unknown"},
    succeeded={"Succeeded", "DriverSucceeded"},
    failed={"Failed", "DriverFailed"},
    source="https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-phase",
)
"""Driver pod statuses: the pod phase, or ``DriverSucceeded``/``DriverFailed`` from the driver container."""

NAMESPACE_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
"""A Kubernetes namespace: a DNS-1123 label (lowercase letters, digits, ``-``; at most 63 characters)."""

POD_NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
"""A pod name: a DNS-1123 subdomain (at most 253 characters, checked apart)."""


def check_driver_pod_id(external_id: object) -> tuple[str, str]:
    """Split and check a driver pod's external ID ``"<namespace>:<pod name>"`` (upstream's format).

    Args:
        external_id: A stored or parsed external ID, e.g. ``"spark-jobs:etl-3f2a1b-driver"``.

    Returns:
        ``(namespace, pod_name)``.

    Raises:
        ValueError: If it is not ``namespace:pod`` with a DNS-1123 label namespace (at most 63 characters)
            and a DNS-1123 subdomain pod name (at most 253 characters).
    """
    if not isinstance(external_id, str) or external_id.count(":") != 1:
        raise ValueError(f"{external_id!r} is not a driver pod ID ('<namespace>:<pod name>')")
    namespace, pod_name = external_id.split(":")
    if not NAMESPACE_PATTERN.fullmatch(namespace):
        raise ValueError(f"{external_id!r}: {namespace!r} is not a Kubernetes namespace (DNS-1123 label)")
    if len(pod_name) > 253 or not POD_NAME_PATTERN.fullmatch(pod_name):
        raise ValueError(f"{external_id!r}: {pod_name!r} is not a pod name (DNS-1123 subdomain)")
    return namespace, pod_name
