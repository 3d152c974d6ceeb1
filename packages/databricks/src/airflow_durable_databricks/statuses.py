"""Databricks run states, what the durable protocol makes of them, and the run-ID format.

A run carries two state blocks (Jobs API 2.2, ``GET /api/2.2/jobs/runs/get``,
https://docs.databricks.com/api/workspace/jobs/getrun):

- the legacy ``state``: ``life_cycle_state`` and, once ``TERMINATED``, ``result_state``;
- the newer ``status``: ``state`` and, once ``TERMINATED``, ``termination_details.code`` / ``.type``.

:func:`run_status` folds them into one raw status string, upstream's ``"<life_cycle_state>:<result_state>"``
(``DatabricksSubmitRunOperator.get_job_status``): ``"RUNNING:"``, ``"TERMINATED:SUCCESS"``,
``"INTERNAL_ERROR:"``. Only a ``TERMINATED`` run's ``result_state`` is part of it: for any other life cycle
the life cycle alone decides (as upstream's ``is_job_active`` reads it), so the table stays closed. When a
response has no legacy block, the ``status`` block gives ``"STATUS:<state>"`` or
``"STATUS:TERMINATED:<code>"``. :data:`RUN_STATES` lists every documented value explicitly; anything else is
an error, never "still running" (a run stuck on ``INTERNAL_ERROR`` or ``SKIPPED`` must end the task, not poll
forever). Upstream's ``"NOT_FOUND:"`` (its answer for a 404) is not a status here: a run Databricks does not
know raises ``JobLostError``, and the ``on_lost_job`` policy decides.
"""

from __future__ import annotations

import re
from typing import Any

from airflow_durable import StatusTable

RUN_ID_PATTERN = re.compile(r"^[1-9][0-9]{0,18}$")
"""A ``run_id`` in decimal: a positive ``int64`` (https://docs.databricks.com/api/workspace/jobs/getrun)."""

RUN_ID_MAX = 2**63 - 1
"""The largest ``run_id`` (``int64``)."""

# https://docs.databricks.com/api/workspace/jobs/getrun (RunLifeCycleState, RunResultState)
LIFE_CYCLE_ACTIVE = ("PENDING", "QUEUED", "RUNNING", "TERMINATING", "BLOCKED", "WAITING_FOR_RETRY")
"""Non-terminal ``life_cycle_state`` values."""
LIFE_CYCLE_FAILED = ("SKIPPED", "INTERNAL_ERROR")
"""Terminal ``life_cycle_state`` values that never carry a successful result."""
RESULT_SUCCEEDED = ("SUCCESS",)
RESULT_FAILED = (
    "FAILED",
    "TIMEDOUT",
    "CANCELED",
    "MAXIMUM_CONCURRENT_RUNS_REACHED",
    "EXCLUDED",
    # Some tasks failed although leaf tasks succeeded; upstream's RunState.is_successful treats it as a
    # failure too, so a retry submits a fresh run.
    "SUCCESS_WITH_FAILURES",
    "UPSTREAM_FAILED",
    "UPSTREAM_CANCELED",
    "DISABLED",
)
# https://docs.databricks.com/api/workspace/jobs/getrun (RunLifecycleStateV2State, TerminationCodeCode)
STATUS_ACTIVE = ("PENDING", "QUEUED", "RUNNING", "TERMINATING", "BLOCKED", "WAITING")
TERMINATION_SUCCEEDED = ("SUCCESS",)
TERMINATION_FAILED = (
    "SUCCESS_WITH_FAILURES",
    "USER_CANCELED",
    "CANCELED",
    "DRIVER_ERROR",
    "CLUSTER_ERROR",
    "REPOSITORY_CHECKOUT_FAILED",
    "INVALID_CLUSTER_REQUEST",
    "WORKSPACE_RUN_LIMIT_EXCEEDED",
    "FEATURE_DISABLED",
    "CLUSTER_REQUEST_LIMIT_EXCEEDED",
    "STORAGE_ACCESS_ERROR",
    "RUN_EXECUTION_ERROR",
    "UNAUTHORIZED_ERROR",
    "LIBRARY_INSTALLATION_ERROR",
    "MAX_CONCURRENT_RUNS_EXCEEDED",
    "MAX_SPARK_CONTEXTS_EXCEEDED",
    "RESOURCE_NOT_FOUND",
    "INVALID_RUN_CONFIGURATION",
    "CLOUD_FAILURE",
    "MAX_JOB_QUEUE_SIZE_EXCEEDED",
    "SKIPPED",
    "INTERNAL_ERROR",
    "BUDGET_POLICY_LIMIT_EXCEEDED",
    "DISABLED",
    "BREAKING_CHANGE",
    "CLUSTER_TERMINATED_BY_USER",
    "DRIVER_UNREACHABLE",
    "DRIVER_UNRESPONSIVE",
    "EXTERNAL_SYSTEM_ERROR",
    "EXTERNAL_SYSTEM_TIMEOUT",
    "INVALID_TASK",
    "NETWORK_CONFIGURATION_FAILURE",
    "REQUEST_TIMEOUT",
    "TIMEOUT",
)

RUN_STATES = StatusTable(
    active=[*(f"{s}:" for s in LIFE_CYCLE_ACTIVE), *(f"STATUS:{s}" for s in STATUS_ACTIVE)],
    succeeded=[
        *(f"TERMINATED:{s}" for s in RESULT_SUCCEEDED),
        *(f"STATUS:TERMINATED:{c}" for c in TERMINATION_SUCCEEDED),
    ],
    failed=[
        *(f"{s}:" for s in LIFE_CYCLE_FAILED),
        *(f"TERMINATED:{s}" for s in RESULT_FAILED),
        *(f"STATUS:TERMINATED:{c}" for c in TERMINATION_FAILED),
    ],
    source="https://docs.databricks.com/api/workspace/jobs/getrun",
)
"""The raw statuses :func:`run_status` produces, classified."""


def run_status(run: dict[str, Any]) -> str:
    """Fold a run's state blocks into the raw status :data:`RUN_STATES` classifies.

    Args:
        run: A ``Run`` as JSON (``runs/get`` response, or ``databricks.sdk.service.jobs.Run.as_dict()``).

    Returns:
        For example ``"RUNNING:"``, ``"TERMINATED:SUCCESS"``, ``"INTERNAL_ERROR:"``, ``"STATUS:WAITING"``.

    Raises:
        ValueError: The run has neither a ``state`` nor a ``status`` block.
    """
    state = run.get("state") or {}
    life_cycle = state.get("life_cycle_state")
    if life_cycle:
        if life_cycle == "TERMINATED":
            return f"TERMINATED:{state.get('result_state')}"
        return f"{life_cycle}:"
    status = run.get("status") or {}
    if status.get("state"):
        if status["state"] == "TERMINATED":
            return f"STATUS:TERMINATED:{(status.get('termination_details') or {}).get('code')}"
        return f"STATUS:{status['state']}"
    raise ValueError(f"Databricks run {run.get('run_id')!r} has neither a 'state' nor a 'status' block")


def check_run_id(run_id: object) -> int:
    """Return ``run_id`` as an int if it is a well-formed Databricks run ID, so it is safe in an API call.

    Args:
        run_id: A stored or returned run ID: an int, or a string of digits (older records).

    Returns:
        The run ID as an int.

    Raises:
        ValueError: If it is a bool, not a positive ``int64``, or not digits.
    """
    if isinstance(run_id, bool):
        raise ValueError("a run_id cannot be a boolean")
    if isinstance(run_id, str) and run_id.isascii() and run_id.isdigit():
        run_id = int(run_id)
    if not isinstance(run_id, int) or not RUN_ID_PATTERN.match(str(run_id)) or run_id > RUN_ID_MAX:
        raise ValueError(f"a Databricks run_id is a positive integer, got {run_id!r}")
    return run_id
