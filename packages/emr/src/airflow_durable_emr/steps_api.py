"""The EMR steps API as the durable protocol uses it: step requests, name markers, lookups, status, cancel.

``AddJobFlowSteps`` has no idempotency token (https://docs.aws.amazon.com/emr/latest/APIReference/API_AddJobFlowSteps.html),
so the submission token travels in every step's ``Name`` (at most 256 characters), after the user's name::

    "nightly-aggregation [ad-3f0c9a1b2d4e5f60718293a4b5c6-g0 1/2]"

The marker names the token and the step's place in its submission (``1/2``): a retry after a crash between
``AddJobFlowSteps`` and the persist of the step IDs finds every step of its own submission with ``ListSteps``
(newest first, 50 a page), and nothing else. The token is scoped by DAG, run, task, map index and
generation, so steps of another task instance, another map index or another generation never match, even
when their definitions are identical.

Every function takes a boto3 ``emr`` client (see :mod:`airflow_durable_emr.client`); boto3 is never imported
here. Both the operator (:mod:`airflow_durable_emr.steps`) and its trigger use them.
"""

from __future__ import annotations

import ast
import copy
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk.exceptions import AirflowException

from airflow_durable import DurableJobError, JobLostError, JobState
from airflow_durable.tokens import TOKEN_MAX_LENGTH
from airflow_durable_emr.client import error_code
from airflow_durable_emr.statuses import MAX_STEPS_PER_CANCEL_CALL, MAX_STEPS_PER_LIST_CALL, STEP_STATES, step_job_id

log = logging.getLogger(__name__)

MAX_STEP_NAME_LENGTH = 256
"""``StepConfig.Name``: at most 256 characters (https://docs.aws.amazon.com/emr/latest/APIReference/API_StepConfig.html)."""
MAX_STEPS_PER_SUBMISSION = 200
"""The most steps one task submits. ``AddJobFlowSteps`` takes 256, but the external ID of 200 step IDs
(about 16 characters each) is what fits, with room to spare, in a ``task_state_store`` record (4 KiB)."""
MAX_LOOKUP_PAGES = 20
"""How many ``ListSteps`` pages (50 steps each, newest first) a token lookup reads: the 1,000 newest steps
of the cluster. A crashed try's steps are among the newest; a cluster runs at most 256 steps at a time, so
1,000 newer steps would have to be added between the crash and the retry for the lookup to miss them."""
STEP_CANCELLATION_OPTION = "SEND_INTERRUPT"
"""``CancelSteps``' ``StepCancellationOption``: AWS's default (a running step gets SIGTERM, then SIGKILL)."""

_MARKER = re.compile(r" \[(?P<token>[A-Za-z0-9_.-]+) (?P<index>[0-9]{1,3})/(?P<count>[0-9]{1,3})\]$")
MAX_MARKER_LENGTH = len(f" [{'x' * TOKEN_MAX_LENGTH} {MAX_STEPS_PER_SUBMISSION}/{MAX_STEPS_PER_SUBMISSION}]")
"""The longest marker :func:`marked_name` appends: a user step name may take the rest of the 256."""


class EmrStepsRequestError(AirflowException, ValueError):
    """The steps request cannot be sent: bad steps, an unknown or ambiguous cluster, a name too long.

    Raised before the intent is written, so nothing is recorded and nothing submitted. Both Airflow's
    ``AirflowException`` (what upstream raises for a cluster name that matches no cluster, or several) and
    ``ValueError``.
    """


class EmrStepsReplyError(DurableJobError):
    """EMR answered in a way that does not say what the steps are doing.

    For example ``ListSteps`` of a known cluster without some of the requested steps. Never taken as
    "lost": the steps may still run, so the task fails and its retry asks again.
    """


class IncompleteSubmissionError(DurableJobError):
    """A token lookup found some, but not all, of the steps of one submission.

    Adopting them or resubmitting could each be wrong, so the task fails naming them.
    """


# ---------------------------------------------------------------- the request


def parse_steps(steps: object) -> list[dict[str, Any]]:
    """Return the step configurations of ``steps``, checked.

    A string (rendered from a ``.json`` template or pulled from XCom) is read with ``ast.literal_eval``, as
    upstream does.

    Args:
        steps: A list of ``StepConfig`` dicts, or a string of one.

    Returns:
        A deep copy, as a list of dicts.

    Raises:
        EmrStepsRequestError: Not a non-empty list of dicts each with a string ``Name``, or more than
            :data:`MAX_STEPS_PER_SUBMISSION` steps.
    """
    if isinstance(steps, str):
        try:
            steps = ast.literal_eval(steps)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as err:
            raise EmrStepsRequestError(f"steps is a string that is not a Python literal list of steps: {err}") from err
    if not isinstance(steps, list | tuple):
        raise EmrStepsRequestError(f"steps must be a list of step configurations, got {type(steps).__name__}")
    if not steps:
        raise EmrStepsRequestError("steps is empty: there is nothing to add to the cluster")
    if len(steps) > MAX_STEPS_PER_SUBMISSION:
        raise EmrStepsRequestError(f"{len(steps)} steps: one task adds at most {MAX_STEPS_PER_SUBMISSION}")
    for number, step in enumerate(steps, start=1):
        if not isinstance(step, Mapping):
            raise EmrStepsRequestError(f"step {number} is a {type(step).__name__}, not a step configuration (a dict)")
        if not isinstance(step.get("Name"), str):
            raise EmrStepsRequestError(f"step {number} has no string 'Name' (a step configuration needs one)")
    return [dict(copy.deepcopy(step)) for step in steps]


def check_names_take_a_marker(steps: Sequence[Mapping[str, Any]]) -> None:
    """Check that every step's ``Name`` leaves room for the longest marker.

    Raises:
        EmrStepsRequestError: A name longer than ``256 - MAX_MARKER_LENGTH`` characters.
    """
    limit = MAX_STEP_NAME_LENGTH - MAX_MARKER_LENGTH
    for number, step in enumerate(steps, start=1):
        if len(step["Name"]) > limit:
            raise EmrStepsRequestError(
                f"step {number}'s Name has {len(step['Name'])} characters; a durable step name is the Name plus a "
                f"marker of up to {MAX_MARKER_LENGTH}, and EMR allows {MAX_STEP_NAME_LENGTH}: shorten it to {limit}"
            )


def marked_name(name: str, token: str, index: int, count: int) -> str:
    """Return ``name`` with the marker of step ``index`` (1-based) of ``count`` of the submission ``token``.

    Raises:
        ValueError: The result would be longer than 256 characters, or a malformed token.
    """
    marked = f"{name} [{token} {index}/{count}]"
    if len(marked) > MAX_STEP_NAME_LENGTH or parse_marker(marked) != (token, index, count):
        raise ValueError(f"cannot mark step name {name!r} with token {token!r}")
    return marked


def parse_marker(name: str) -> tuple[str, int, int] | None:
    """Return ``(token, index, count)`` from a marked step name, or ``None`` for an unmarked one."""
    found = _MARKER.search(name)
    if found is None:
        return None
    return found["token"], int(found["index"]), int(found["count"])


def mark_steps(steps: Sequence[Mapping[str, Any]], token: str) -> list[dict[str, Any]]:
    """Return copies of ``steps`` whose names carry the marker of ``token``."""
    return [
        {**step, "Name": marked_name(step["Name"], token, index, len(steps))}
        for index, step in enumerate(steps, start=1)
    ]


def inject_parent_job_conf(steps: list[dict[str, Any]], properties: Mapping[str, str]) -> list[dict[str, Any]]:
    """Add ``--conf key=value`` for each OpenLineage parent-job property to the Spark steps.

    A Spark step runs ``command-runner.jar`` with ``spark-submit`` or ``run-example`` as its first argument;
    the pairs go right after that argument. Steps that already name ``spark.openlineage.parent`` properties
    and every other step are left as they are.

    Returns:
        New step dicts (the input is not modified).
    """
    if not properties:
        return steps
    extra = [part for key, value in properties.items() for part in ("--conf", f"{key}={value}")]
    result = copy.deepcopy(steps)
    for step in result:
        jar_step = step.get("HadoopJarStep") or {}
        args = list(jar_step.get("Args") or [])
        if str(jar_step.get("Jar", "")).rsplit("/", 1)[-1] != "command-runner.jar" or not args:
            continue
        if str(args[0]).rsplit("/", 1)[-1] not in ("spark-submit", "run-example"):
            continue
        if any("spark.openlineage.parent" in str(arg) for arg in args):
            log.info("Step %r already carries OpenLineage parent job properties; not injecting", step.get("Name"))
            continue
        jar_step["Args"] = [args[0], *extra, *args[1:]]
    return result


# ---------------------------------------------------------------- clusters


def cluster_ids_by_name(client: Any, name: str, states: Sequence[str]) -> list[str]:
    """Return the IDs of the clusters named ``name`` among the clusters in ``states`` (``ListClusters``, paged).

    Args:
        client: A boto3 ``emr`` client.
        name: The cluster name, matched exactly.
        states: The cluster states to list; empty: every state.
    """
    pages = client.get_paginator("list_clusters").paginate(ClusterStates=list(states))
    return [str(cluster["Id"]) for page in pages for cluster in page.get("Clusters", []) if cluster.get("Name") == name]


def one_cluster_named(name: str, cluster_ids: Sequence[str]) -> str:
    """Return the one ID of ``cluster_ids``, the clusters named ``name``.

    Raises:
        EmrStepsRequestError: No cluster has the name (``"No cluster found for name: <name>"``), or more
            than one has (``"More than one cluster found for name <name>"``): upstream's texts.
    """
    if not cluster_ids:
        raise EmrStepsRequestError(f"No cluster found for name: {name}")
    if len(cluster_ids) > 1:
        raise EmrStepsRequestError(f"More than one cluster found for name {name}")
    log.info("Found cluster name = %s id = %s", name, cluster_ids[0])
    return str(cluster_ids[0])


def is_unknown_id(error: BaseException) -> bool:
    """Return True for EMR's answer about a cluster (or step) ID it does not know.

    That is ``InvalidRequestException`` ("Cluster id 'j-...' is not valid.", "Step id 's-...' is not
    valid."), the only failure of a well-formed ``DescribeCluster`` or ``DescribeStep``.
    """
    return error_code(error) == "InvalidRequestException"


def describe_cluster(client: Any, cluster_id: str) -> dict[str, Any]:
    """Return ``DescribeCluster``'s answer.

    Raises:
        EmrStepsRequestError: EMR does not know the cluster.
    """
    try:
        reply: dict[str, Any] = client.describe_cluster(ClusterId=cluster_id)
    except Exception as err:
        if is_unknown_id(err):
            raise EmrStepsRequestError(f"No cluster found for id: {cluster_id} ({err})") from err
        raise
    return reply


# ---------------------------------------------------------------- submit and lookup


def add_steps(client: Any, cluster_id: str, steps: list[dict[str, Any]], execution_role_arn: str | None) -> list[str]:
    """``AddJobFlowSteps``; return the new step IDs, in the order of ``steps``.

    Raises:
        EmrStepsReplyError: The reply holds no step IDs, or not one per step.
    """
    extra = {"ExecutionRoleArn": execution_role_arn} if execution_role_arn else {}
    reply = client.add_job_flow_steps(JobFlowId=cluster_id, Steps=steps, **extra)
    step_ids = reply.get("StepIds") if isinstance(reply, Mapping) else None
    if not isinstance(step_ids, list) or len(step_ids) != len(steps):
        raise EmrStepsReplyError(f"AddJobFlowSteps on {cluster_id} answered {reply!r}: not one step ID per step")
    return [str(step_id) for step_id in step_ids]


def find_marked_steps(client: Any, cluster_id: str, token: str, max_pages: int = MAX_LOOKUP_PAGES) -> list[str] | None:
    """Return the IDs of the steps a submission with ``token`` added to the cluster, in submission order.

    Reads ``ListSteps`` newest first, at most ``max_pages`` pages, and stops as soon as every step of the
    submission is found. Only names whose marker carries exactly ``token`` match.

    Returns:
        The step IDs, or ``None`` when no step carries the token.

    Raises:
        IncompleteSubmissionError: Some steps of the submission were found, not all.
    """
    found: dict[int, str] = {}
    count = 0
    marker: str | None = None
    for _ in range(max_pages):
        reply = client.list_steps(ClusterId=cluster_id, **({"Marker": marker} if marker else {}))
        for step in reply.get("Steps", []):
            parsed = parse_marker(str(step.get("Name", "")))
            if parsed is None or parsed[0] != token:
                continue
            count = parsed[2]
            found.setdefault(parsed[1], str(step["Id"]))  # newest first: a later duplicate is older
        if count and len(found) >= count:
            break
        marker = reply.get("Marker")
        if not marker:
            break
    if not found:
        return None
    if sorted(found) != list(range(1, count + 1)):
        raise IncompleteSubmissionError(
            f"Cluster {cluster_id} has steps {sorted(found.items())} of submission {token}, which had {count}: "
            f"some are missing from its {max_pages * 50} newest steps"
        )
    return [found[index] for index in range(1, count + 1)]


# ---------------------------------------------------------------- status and cancel


@dataclass(frozen=True)
class StepsStatus:
    """What the steps of one submission are doing, as one raw status from :data:`STEP_STATES`.

    Attributes:
        state: Active while any step is (the first active step's state), else the first failed,
            cancelled or interrupted step's state, else ``"COMPLETED"``.
        steps: ``{step id: the step as ListSteps lists it}``.
        failed_step_id: The step whose state :attr:`state` is when it is a failure, else ``None``.
    """

    state: str
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed_step_id: str | None = None

    def failure_detail(self) -> str:
        """Return ``"<step id>: <state> (<FailureDetails or StateChangeReason>)"`` of the failed step, or ``""``."""
        if self.failed_step_id is None:
            return ""
        status = self.steps[self.failed_step_id].get("Status", {})
        reason = status.get("FailureDetails") or status.get("StateChangeReason")
        detail = f"{self.failed_step_id}: {status.get('State')}"
        return f"{detail} {reason}" if reason else detail


def chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    """Yield consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def steps_status(client: Any, cluster_id: str, step_ids: Sequence[str]) -> StepsStatus:
    """Read the steps with ``ListSteps``, at most 10 step IDs a call (paged), and fold them into one status.

    Raises:
        JobLostError: EMR does not know the cluster (``DescribeCluster`` says so), or says of a step that
            ``ListSteps`` left out that it is not valid (``DescribeStep``'s ``InvalidRequestException``).
        EmrStepsReplyError: A step ``ListSteps`` left out, of a known cluster, that ``DescribeStep``
            answers without (moto's HTTP 200 with no ``Step``): it may still run, so it is never lost.
        UnknownJobStatusError: A step state no table lists.
    """
    external_id = step_job_id(cluster_id, list(step_ids))
    listed: dict[str, dict[str, Any]] = {}
    try:
        for chunk in chunks(step_ids, MAX_STEPS_PER_LIST_CALL):
            marker: str | None = None
            while True:
                reply = client.list_steps(ClusterId=cluster_id, StepIds=chunk, **({"Marker": marker} if marker else {}))
                for step in reply.get("Steps", []):
                    listed[str(step.get("Id"))] = step
                marker = reply.get("Marker")
                if not marker:
                    break
    except Exception as err:
        if is_unknown_id(err):
            _raise_if_cluster_unknown(client, cluster_id, external_id)
        raise
    missing = [step_id for step_id in step_ids if step_id not in listed]
    if missing:
        _raise_if_cluster_unknown(client, cluster_id, external_id)
        for step_id in missing:
            listed[step_id] = _describe_missing_step(client, cluster_id, step_id, external_id)
    steps = {step_id: listed[step_id] for step_id in step_ids}
    states = {step_id: str(step.get("Status", {}).get("State")) for step_id, step in steps.items()}
    classified = {step_id: STEP_STATES.classify(state) for step_id, state in states.items()}  # unlisted: raises
    for step_id, job_state in classified.items():
        if job_state is JobState.ACTIVE:
            return StepsStatus(states[step_id], steps)
    for step_id, job_state in classified.items():
        if job_state is JobState.FAILED:
            return StepsStatus(states[step_id], steps, failed_step_id=step_id)
    return StepsStatus("COMPLETED", steps)


def _describe_missing_step(client: Any, cluster_id: str, step_id: str, external_id: str) -> dict[str, Any]:
    """``DescribeStep`` of a step ``ListSteps`` left out: EMR's explicit "not valid" is lost, no answer is not."""
    try:
        reply = client.describe_step(ClusterId=cluster_id, StepId=step_id)
    except Exception as err:
        if is_unknown_id(err):  # the cluster exists: "Step id 's-...' is not valid."
            raise JobLostError(external_id, f"EMR does not know step {step_id} of cluster {cluster_id}: {err}") from err
        raise
    step = reply.get("Step") if isinstance(reply, Mapping) else None
    if not isinstance(step, Mapping) or step.get("Id") != step_id:
        raise EmrStepsReplyError(
            f"EMR listed no step {step_id} on cluster {cluster_id}, and DescribeStep answered without it "
            f"({reply!r}); the cluster exists, so the step may still run: not treating it as lost"
        )
    return dict(step)


def _raise_if_cluster_unknown(client: Any, cluster_id: str, external_id: str) -> None:
    try:
        client.describe_cluster(ClusterId=cluster_id)
    except Exception as err:
        if is_unknown_id(err):
            raise JobLostError(external_id, f"EMR does not know cluster {cluster_id}: {err}") from err
        raise


def cancel_steps(client: Any, cluster_id: str, step_ids: Sequence[str]) -> list[dict[str, Any]]:
    """``CancelSteps`` (at most 256 step IDs a call); EMR cancels asynchronously, and only steps not yet ended.

    Returns:
        EMR's ``CancelStepsInfoList`` entries (``StepId``, ``Status``, ``Reason``), all calls together.
    """
    infos: list[dict[str, Any]] = []
    for chunk in chunks(step_ids, MAX_STEPS_PER_CANCEL_CALL):
        reply = client.cancel_steps(
            ClusterId=cluster_id, StepIds=chunk, StepCancellationOption=STEP_CANCELLATION_OPTION
        )
        infos.extend(reply.get("CancelStepsInfoList", []))
    return infos
