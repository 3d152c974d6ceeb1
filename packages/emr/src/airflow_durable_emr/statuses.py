"""EMR states, what the durable protocol makes of them, and the external-ID formats of the three APIs.

Each table lists every documented value: an unknown status is an error naming it, never "still running".

External IDs (what ``task_state_store`` keeps, validated before any API call):

* steps: ``"<cluster id>:<step id>,<step id>,..."``, e.g. ``"j-2AXXXXXXGAPLF:s-1Z2Y3X4W5V6U7,s-8T9S0R1Q2P3O4"``;
* EMR Serverless: ``"<application id>:<job run id>"``, e.g. ``"00f5l1ojd8fjsn09:00f5l2a9rlh0mb0b"``;
* EMR on EKS: ``"<virtual cluster id>:<job run id>"``, e.g. ``"kfjl7v8pkr3nd8kl5gfmqh3pc:000000031ca9ebhvbpm"``.
"""

from __future__ import annotations

import re

from airflow_durable import StatusTable

STEP_STATES = StatusTable(
    active={"PENDING", "CANCEL_PENDING", "RUNNING"},
    succeeded={"COMPLETED"},
    failed={"CANCELLED", "FAILED", "INTERRUPTED"},
    source="https://docs.aws.amazon.com/emr/latest/APIReference/API_StepStatus.html",
)
"""One EMR step's ``Status.State``. A step that is cancel-pending may still finish either way: active."""

SERVERLESS_JOB_RUN_STATES = StatusTable(
    # QUEUED is in botocore's JobRunState but missing from the amazon provider's hook sets; CANCELLING is
    # not final: the run may still end in another state, so it stays active until it ends.
    active={"SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "QUEUED", "CANCELLING"},
    succeeded={"SUCCESS"},
    failed={"FAILED", "CANCELLED"},
    source="https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_JobRun.html",
)
"""An EMR Serverless job run's ``state``."""

SERVERLESS_APPLICATION_STATES = StatusTable(
    active={"CREATING", "STARTING", "STOPPING"},
    succeeded={"CREATED", "STARTED", "STOPPED"},
    failed={"TERMINATED"},
    source="https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_Application.html",
)
"""An EMR Serverless application's ``state``: "succeeded" means settled (a job run can be started or the
application can be started); TERMINATED can never run a job again."""

CONTAINER_JOB_RUN_STATES = StatusTable(
    active={"PENDING", "SUBMITTED", "RUNNING", "CANCEL_PENDING"},
    succeeded={"COMPLETED"},
    failed={"FAILED", "CANCELLED"},
    source="https://docs.aws.amazon.com/emr-on-eks/latest/APIReference/API_JobRun.html",
)
"""An EMR on EKS job run's ``state``. CANCEL_PENDING is active until the run ends."""

CLUSTER_ID_PATTERN = re.compile(r"^j-[0-9A-Z]{1,64}$")
"""An EMR cluster (job flow) ID: https://docs.aws.amazon.com/emr/latest/APIReference/API_Cluster.html."""
STEP_ID_PATTERN = re.compile(r"^s-[0-9A-Z]{1,64}$")
"""An EMR step ID: https://docs.aws.amazon.com/emr/latest/APIReference/API_Step.html."""
SERVERLESS_ID_PATTERN = re.compile(r"^[0-9a-z]{1,64}$")
"""An EMR Serverless application or job run ID (lowercase letters and digits)."""
CONTAINER_ID_PATTERN = re.compile(r"^[0-9a-z]{1,64}$")
"""An EMR on EKS virtual cluster or job run ID (lowercase letters and digits)."""

MAX_STEPS_PER_LIST_CALL = 10
"""``ListSteps`` accepts at most 10 ``StepIds`` per call."""
MAX_STEPS_PER_CANCEL_CALL = 256
"""``CancelSteps`` accepts at most 256 ``StepIds`` per call."""
CLIENT_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
"""``clientToken`` of EMR Serverless and EMR on EKS ``StartJobRun``: 1-64 of ``[A-Za-z0-9._-]``."""


def _checked(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{value!r} is not an {what}")
    return value


def step_job_id(cluster_id: str, step_ids: list[str]) -> str:
    """Return the external ID of a cluster's steps (``"<cluster id>:<step id>,..."``).

    Raises:
        ValueError: A malformed cluster or step ID, or no step.
    """
    if not step_ids:
        raise ValueError("an EMR steps job needs at least one step ID")
    _checked(cluster_id, CLUSTER_ID_PATTERN, "EMR cluster ID")
    for step_id in step_ids:
        _checked(step_id, STEP_ID_PATTERN, "EMR step ID")
    return f"{cluster_id}:{','.join(step_ids)}"


def parse_step_job_id(external_id: object) -> tuple[str, list[str]]:
    """Split a steps external ID into the cluster ID and the step IDs.

    Raises:
        ValueError: Not a string in the :func:`step_job_id` format.
    """
    if not isinstance(external_id, str) or external_id.count(":") != 1:
        raise ValueError(f"{external_id!r} is not '<cluster id>:<step id>,...'")
    cluster_id, steps = external_id.split(":")
    step_ids = steps.split(",")
    step_job_id(cluster_id, step_ids)
    return cluster_id, step_ids


def pair_job_id(parent_id: str, job_run_id: str, pattern: re.Pattern[str] = SERVERLESS_ID_PATTERN) -> str:
    """Return ``"<application or virtual cluster id>:<job run id>"``.

    Raises:
        ValueError: A malformed ID.
    """
    _checked(parent_id, pattern, "EMR application or virtual cluster ID")
    _checked(job_run_id, pattern, "EMR job run ID")
    return f"{parent_id}:{job_run_id}"


def parse_pair_job_id(external_id: object, pattern: re.Pattern[str] = SERVERLESS_ID_PATTERN) -> tuple[str, str]:
    """Split ``"<parent id>:<job run id>"``.

    Raises:
        ValueError: Not a string in that format.
    """
    if not isinstance(external_id, str) or external_id.count(":") != 1:
        raise ValueError(f"{external_id!r} is not '<id>:<job run id>'")
    parent_id, job_run_id = external_id.split(":")
    pair_job_id(parent_id, job_run_id, pattern)
    return parent_id, job_run_id
