"""The EMR Serverless job-run calls of the durable operator and its trigger, on a boto3 ``emr-serverless`` client.

One place maps the API's answers onto the protocol: ``ResourceNotFoundException`` is a lost job
(:class:`~airflow_durable.errors.JobLostError`), and an answer without a state is an error that names the
reply, never "lost" (the run may still be active). API reference:
https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_Operations.html.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from airflow_durable import DurableJobError, JobLostError
from airflow_durable_emr.client import is_not_found
from airflow_durable_emr.statuses import pair_job_id, parse_pair_job_id

TOKEN_TAG = "airflow-durable-token"
"""The job-run tag that carries the submission token, beside the user's tags (a retry finds the run by it)."""
LIST_PAGE_SIZE = 50
"""``ListJobRuns`` ``maxResults``: the API's largest page."""
MAX_REPLY_CHARS = 300
"""How much of an odd reply an error message quotes."""
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""An application or job run ID the operator accepts and stores: 1-64 of ``[A-Za-z0-9_-]``.

What keeps the stored ``"<application id>:<job run id>"`` readable and safe in a URL path (no ``:``, ``/``,
``%``, ``?``, ``#``, ``.`` or whitespace). The API's own format (``[0-9a-z]``,
:data:`~airflow_durable_emr.statuses.SERVERLESS_ID_PATTERN`) is narrower; the API refuses the rest, before any
intent for an ``application_id`` (``GetApplication`` comes first)."""


def job_run_external_id(application_id: str, job_run_id: str) -> str:
    """Return the external ID of a job run, ``"<application id>:<job run id>"``.

    Raises:
        ValueError: An ID that does not match :data:`ID_PATTERN`.
    """
    return pair_job_id(application_id, job_run_id, ID_PATTERN)


def parse_job_run_external_id(external_id: object) -> tuple[str, str]:
    """Split ``"<application id>:<job run id>"`` into the two IDs.

    Raises:
        ValueError: Not a string in the :func:`job_run_external_id` format.
    """
    return parse_pair_job_id(external_id, ID_PATTERN)


def get_job_run(client: Any, application_id: str, job_run_id: str) -> dict[str, Any]:
    """Return the ``jobRun`` of ``GetJobRun``, which holds a non-empty ``state``.

    Args:
        client: A boto3 ``emr-serverless`` client.
        application_id: The application.
        job_run_id: The job run.

    Returns:
        The ``jobRun`` object (``state``, ``stateDetails``, ``name``, ``tags``...).

    Raises:
        JobLostError: The API does not know the run or its application (``ResourceNotFoundException``).
        DurableJobError: The reply has no ``jobRun.state``; the run may still be active, so it is not lost.
    """
    try:
        reply = client.get_job_run(applicationId=application_id, jobRunId=job_run_id)
    except Exception as err:
        if is_not_found(err):
            raise JobLostError(job_run_external_id(application_id, job_run_id), str(err)) from err
        raise
    run = reply.get("jobRun") if isinstance(reply, dict) else None
    state = run.get("state") if isinstance(run, dict) else None
    if not isinstance(state, str) or not state:
        raise DurableJobError(
            f"GetJobRun answered without a state for job run {job_run_id!r} of application {application_id!r}: "
            f"{_quote(reply)}. The run may still be active: it is not taken as lost and nothing is resubmitted"
        )
    assert isinstance(run, dict)
    return run


def application_state(client: Any, application_id: str) -> str:
    """Return the application's ``state`` (``GetApplication``).

    Raises:
        JobLostError: The API does not know the application (``ResourceNotFoundException``).
        DurableJobError: The reply has no ``application.state``.
    """
    try:
        reply = client.get_application(applicationId=application_id)
    except Exception as err:
        if is_not_found(err):
            raise JobLostError(application_id, str(err)) from err
        raise
    application = reply.get("application") if isinstance(reply, dict) else None
    state = application.get("state") if isinstance(application, dict) else None
    if not isinstance(state, str) or not state:
        raise DurableJobError(f"GetApplication answered without a state for {application_id!r}: {_quote(reply)}")
    return state


def find_job_run(client: Any, application_id: str, token: str, name: str, created_after: datetime) -> str | None:
    """Find the job run started with the submission ``token``, by its :data:`TOKEN_TAG` tag.

    ``ListJobRuns`` filters only by creation date, states and mode (not by name or tag), so the search is
    bounded by ``createdAtAfter`` and paged; runs whose name is not ``name`` are skipped without a call, and
    each remaining one is read with ``GetJobRun`` and matched exactly on the tag. ``clientToken``
    deduplication is not relied on.

    Args:
        client: A boto3 ``emr-serverless`` client.
        application_id: The application the run was started on.
        token: The submission token (the tag's value).
        name: The run name the submission sent.
        created_after: The earliest creation time to search.

    Returns:
        The run's ID, or ``None`` when no run carries the token.
    """
    request: dict[str, Any] = {
        "applicationId": application_id,
        "createdAtAfter": created_after,
        "maxResults": LIST_PAGE_SIZE,
    }
    while True:
        page = client.list_job_runs(**request)
        for summary in page.get("jobRuns", ()):
            if summary.get("name") != name:
                continue
            run_id = summary.get("id")
            try:
                run = get_job_run(client, application_id, run_id)
            except JobLostError:
                continue  # listed, then gone: not ours to adopt
            if (run.get("tags") or {}).get(TOKEN_TAG) == token:
                return str(run_id)
        next_token = page.get("nextToken")
        if not next_token:
            return None
        request["nextToken"] = next_token


def cancel_job_run(client: Any, application_id: str, job_run_id: str) -> Any:
    """``CancelJobRun``; the run then goes through ``CANCELLING`` to ``CANCELLED`` (or ends otherwise).

    Returns:
        The reply (with ``ResponseMetadata``).
    """
    return client.cancel_job_run(applicationId=application_id, jobRunId=job_run_id)


def _quote(reply: Any) -> str:
    text = repr({k: v for k, v in reply.items() if k != "ResponseMetadata"} if isinstance(reply, dict) else reply)
    return text if len(text) <= MAX_REPLY_CHARS else text[:MAX_REPLY_CHARS] + "..."
