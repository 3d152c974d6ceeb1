"""How a finished Databricks run is reported: upstream's failure text, and upstream's trigger events.

A failed run raises :class:`DatabricksRunFailedError`, a ``JobFailedError`` and an ``AirflowException``,
whose message is upstream's, word for word: the run's ``state`` (as upstream's ``RunState`` prints it) and,
for a ``FAILED`` run, each failed task's ``error`` from ``runs/get-output`` (upstream's
``extract_failed_task_errors``), else the run's ``state_message``.

A task deferred by upstream's ``DatabricksSubmitRunOperator`` / ``DatabricksRunNowOperator`` resumes with a
``DatabricksExecutionTrigger`` event (``run_id``, ``run_page_url``, ``run_state`` as JSON, ``repair_run``,
``errors``); :func:`from_upstream_event` reads it, so such a task completes with our operator.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from airflow.sdk.exceptions import AirflowException

from airflow_durable import JobFailedError

UPSTREAM_EVENT_KEYS = ("run_id", "run_page_url", "run_state", "errors")
"""The keys of a ``DatabricksExecutionTrigger`` event (upstream's ``validate_trigger_event``)."""


class DatabricksRunFailedError(JobFailedError, AirflowException):
    """A Databricks run ended in a terminal failure; the message is upstream's.

    Both our ``JobFailedError`` and upstream's ``AirflowException``, so handlers written for either catch it.

    Attributes:
        external_id: The run ID.
        status: The raw terminal status (see ``statuses.run_status``).
        failed_tasks: ``[{"task_key", "run_id", "error"}]`` for a ``FAILED`` multi-task run, else ``[]``.
    """

    def __init__(self, run_id: int, status: str, message: str, failed_tasks: list[dict[str, Any]]) -> None:
        super().__init__(run_id, status, message)
        self.args = (message,)
        self.failed_tasks = failed_tasks


def run_state(run: Mapping[str, Any]) -> dict[str, str]:
    """The run's legacy ``state`` block as upstream's ``RunState`` holds it (missing fields are ``""``)."""
    state = run.get("state") or {}
    return {
        "life_cycle_state": str(state.get("life_cycle_state") or ""),
        "result_state": str(state.get("result_state") or ""),
        "state_message": str(state.get("state_message") or ""),
    }


def failed_task_errors(run: Mapping[str, Any], get_output: Callable[[int], Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each failed task's error, one entry per ``task_key`` (its latest attempt), for a ``FAILED`` run.

    Args:
        run: The terminal run (``runs/get``).
        get_output: ``runs/get-output`` of a task run (``DatabricksRuns.get_output``).

    Returns:
        ``[{"task_key", "run_id", "error"}]``: ``error`` is the task output's ``error``, else the run's
        ``state_message``; ``[]`` unless the run's ``result_state`` is ``FAILED``.
    """
    state = run_state(run)
    if state["result_state"] != "FAILED":
        return []
    latest: dict[str, Mapping[str, Any]] = {}
    for task in run.get("tasks") or []:
        seen = latest.get(task["task_key"])
        if seen is None or task.get("attempt_number", 0) >= seen.get("attempt_number", 0):
            latest[task["task_key"]] = task
    failed = []
    for task in latest.values():
        if (task.get("state") or {}).get("result_state") == "FAILED":
            output = get_output(task["run_id"])
            error = output["error"] if "error" in output else state["state_message"]
            failed.append({"task_key": task["task_key"], "run_id": task["run_id"], "error": error})
    return failed


def failure_message(task_id: str, state: Mapping[str, str], failed_tasks: list[Any], *, deferrable: bool) -> str:
    """Upstream's text for a failed run (its synchronous and its deferrable wording).

    Args:
        task_id: The Airflow task.
        state: :func:`run_state` of the run.
        failed_tasks: :func:`failed_task_errors` (or a trigger event's ``errors``).
        deferrable: Use the deferrable operator's wording (``"Job run failed with ..."``).
    """
    if deferrable:
        return f"Job run failed with terminal state: {dict(state)} and with the errors {failed_tasks}"
    if state.get("result_state") == "FAILED":
        return f"{task_id} failed with terminal state: {dict(state)} and with the errors {failed_tasks}"
    return f"{task_id} failed with terminal state: {dict(state)} and with the error {state.get('state_message')}"


def is_upstream_event(event: Mapping[str, Any] | None) -> bool:
    """Whether a trigger event is not one of ours (ours always carry ``external_id``)."""
    return event is not None and "external_id" not in event


def from_upstream_event(event: Mapping[str, Any]) -> tuple[int, str, dict[str, str]]:
    """Read a ``DatabricksExecutionTrigger`` event.

    Returns:
        ``(run_id, raw status, run state)``: the status folded as ``statuses.run_status`` folds a run.

    Raises:
        AirflowException: A key is missing or ``run_state`` is not a run state (upstream's errors).
    """
    for key in UPSTREAM_EVENT_KEYS:
        if key not in event:
            raise AirflowException(f"Could not find `{key}` in the event: {event}")
    try:
        state = json.loads(event["run_state"])
        life_cycle = state["life_cycle_state"]
    except (TypeError, ValueError, KeyError):
        raise AirflowException(f"Run state returned by the Trigger is incorrect: {event['run_state']}") from None
    state = run_state({"state": state})
    status = f"TERMINATED:{state['result_state']}" if life_cycle == "TERMINATED" else f"{life_cycle}:"
    return int(event["run_id"]), status, state
