"""Dataproc job and batch states, what the durable protocol makes of them, and Dataproc's ID rules.

Every value of the two state enums (``google.cloud.dataproc_v1.JobStatus.State`` and ``Batch.State``) is
decided here, explicitly: it is in the :class:`~airflow_durable.StatusTable`, or in the ``REFUSED`` set of
states that are an error when read (an unknown status is an error naming it, never "still running").

IDs (what ``task_state_store`` keeps and what goes into a request, validated before any API call):

* ``request_id`` of ``SubmitJob`` and ``CreateBatch``: 1-40 of ``[A-Za-z0-9_-]``; a repeat within the
  deduplication window returns the first job or operation;
* ``reference.job_id``: 1-100 of ``[A-Za-z0-9_-]``, unique per project; a repeat is ``ALREADY_EXISTS``;
* ``batch_id``: 4-63 of ``[a-z0-9-]``, unique per project and location; a repeat is ``ALREADY_EXISTS``.

All three are derived from the protocol's submission token (:func:`airflow_durable.tokens.submission_token`,
at most 40 characters of ``[a-z0-9-]``, starting with a letter), which changes with every generation: a retry
after a failure gets a new job or batch, never the failed one back. A user's ``job_id``, ``request_id``,
``batch_id`` or ``batch_id_prefix`` only seeds the derivation (:func:`token_seed`, the token's ``base``) and,
where it fits, prefixes the ID so that it stays recognisable in the console.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from airflow_durable import StatusTable

JOB_STATES = StatusTable(
    # CANCEL_PENDING and CANCEL_STARTED are not final: the job ends in CANCELLED (or, racing the cancel, in
    # DONE or ERROR), so it stays active until it ends. ATTEMPT_FAILURE is one failed driver attempt of a
    # restartable job (scheduling.max_failures_per_hour): Dataproc restarts the driver, so it is active too;
    # a job out of restarts ends in ERROR.
    active={"PENDING", "SETUP_DONE", "RUNNING", "CANCEL_PENDING", "CANCEL_STARTED", "ATTEMPT_FAILURE"},
    succeeded={"DONE"},
    failed={"ERROR", "CANCELLED"},
    source="https://cloud.google.com/dataproc/docs/reference/rest/v1/projects.regions.jobs#State",
)
"""A Dataproc job's ``status.state``."""

BATCH_STATES = StatusTable(
    # CANCELLING is never success: it is active until the batch ends, in CANCELLED (a failure) or, racing the
    # cancel, in SUCCEEDED or FAILED. Upstream once reported cancelled batches as successes.
    active={"PENDING", "RUNNING", "CANCELLING"},
    succeeded={"SUCCEEDED"},
    failed={"FAILED", "CANCELLED"},
    source="https://cloud.google.com/dataproc-serverless/docs/reference/rest/v1/projects.locations.batches#State",
)
"""A Dataproc Serverless batch's ``state``."""

REFUSED_JOB_STATES = frozenset({"STATE_UNSPECIFIED"})
"""Job states that are an error when read: ``STATE_UNSPECIFIED`` is the proto default ("the job state is
unknown"), never a state a real job reports. Guessing "active" would poll forever; guessing "failed" would
resubmit a job that may be running. Upstream's synchronous wait polls it forever."""

REFUSED_BATCH_STATES = frozenset({"STATE_UNSPECIFIED"})
"""Batch states that are an error when read (see :data:`REFUSED_JOB_STATES`; upstream's batch wait treats it
as final and returns the batch as if it had finished)."""

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
"""``request_id`` of ``SubmitJob`` / ``CreateBatch``: https://cloud.google.com/dataproc/docs/reference/rest/v1/projects.regions.jobs/submit."""
JOB_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
"""``reference.job_id``: https://cloud.google.com/dataproc/docs/reference/rest/v1/JobReference."""
BATCH_ID_PATTERN = re.compile(r"^[a-z0-9-]{4,63}$")
"""``batch_id``: https://cloud.google.com/dataproc-serverless/docs/reference/rest/v1/projects.locations.batches/create."""
BATCH_ID_PREFIX_PATTERN = re.compile(r"^[a-z0-9-]{1,63}$")
"""A user's ``batch_id_prefix``: the characters a ``batch_id`` allows."""

REQUEST_ID_MAX_LENGTH = 40
JOB_ID_MAX_LENGTH = 100
BATCH_ID_MAX_LENGTH = 63
BATCH_ID_MIN_LENGTH = 4


def _checked(value: object, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid Dataproc {what}")
    return value


def check_request_id(value: object) -> str:
    """Return ``value`` if it is a valid ``request_id``.

    Raises:
        ValueError: It is not (1-40 of ``[A-Za-z0-9_-]``).
    """
    return _checked(value, REQUEST_ID_PATTERN, "request_id (1-40 of [A-Za-z0-9_-])")


def check_job_id(value: object) -> str:
    """Return ``value`` if it is a valid ``reference.job_id``.

    Raises:
        ValueError: It is not (1-100 of ``[A-Za-z0-9_-]``).
    """
    return _checked(value, JOB_ID_PATTERN, "job_id (1-100 of [A-Za-z0-9_-])")


def check_batch_id(value: object) -> str:
    """Return ``value`` if it is a valid ``batch_id``.

    Raises:
        ValueError: It is not (4-63 of ``[a-z0-9-]``).
    """
    return _checked(value, BATCH_ID_PATTERN, "batch_id (4-63 of [a-z0-9-])")


def check_batch_id_prefix(value: object) -> str:
    """Return ``value`` if it is a valid ``batch_id_prefix``.

    Raises:
        ValueError: It is not (1-63 of ``[a-z0-9-]``).
    """
    return _checked(value, BATCH_ID_PREFIX_PATTERN, "batch_id_prefix (1-63 of [a-z0-9-])")


def token_seed(**user_values: str | None) -> str | None:
    """Return the ``base`` a user's IDs give the submission token, or ``None`` when none was given.

    The user's ``job_id``, ``request_id``, ``batch_id`` or ``batch_id_prefix`` only seeds the token: it keeps
    deciding identity across task instances (two tasks with different user IDs never share a job), while
    the generation still changes the derived IDs after a failure.

    Args:
        **user_values: The user's values by parameter name (``None``/empty ones are ignored).

    Returns:
        A canonical JSON text of the given values, or ``None``.
    """
    given = {name: value for name, value in sorted(user_values.items()) if value}
    return json.dumps(given, separators=(",", ":"), sort_keys=True) if given else None


def _check_token(token: str) -> str:
    if not isinstance(token, str) or not re.match(r"^[a-z][a-z0-9-]{2,39}$", token):
        raise ValueError(f"{token!r} is not a submission token (3-40 of [a-z0-9-], starting with a letter)")
    return token


def _prefixed(prefix: str | None, token: str, limit: int) -> str:
    if not prefix:
        return token
    room = limit - len(token) - 1
    head = prefix[:room].rstrip("-_")
    return f"{head}-{token}" if head else token


def derive_request_id(token: str) -> str:
    """Return the ``request_id`` of a submission: the token itself (at most 40 characters).

    A user's ``request_id`` only seeds the token (:func:`token_seed`); it is never sent as given, so a
    retry after a failure does not get the failed job or operation back.

    Raises:
        ValueError: ``token`` is not a submission token.
    """
    return check_request_id(_check_token(token))


def derive_job_id(token: str, user_job_id: str | None = None) -> str:
    """Return the ``reference.job_id`` of a submission: ``<user job_id, shortened>-<token>``, or the token.

    Args:
        token: The submission token (of this generation).
        user_job_id: The ``job.reference.job_id`` the user set, if any (it must also have seeded the token).

    Raises:
        ValueError: A malformed token or user job ID.
    """
    _check_token(token)
    if user_job_id:
        check_job_id(user_job_id)
    return check_job_id(_prefixed(user_job_id, token, JOB_ID_MAX_LENGTH))


def derive_batch_id(token: str, batch_id: str | None = None, batch_id_prefix: str | None = None) -> str:
    """Return the ``batch_id`` of a submission: ``<user batch_id or prefix, shortened>-<token>``, or the token.

    Args:
        token: The submission token (of this generation).
        batch_id: The user's ``batch_id``, if any (it must also have seeded the token).
        batch_id_prefix: The user's ``batch_id_prefix``, if any (used when no ``batch_id`` is given).

    Raises:
        ValueError: A malformed token, ``batch_id`` or ``batch_id_prefix``.
    """
    _check_token(token)
    if batch_id:
        check_batch_id(batch_id)
    if batch_id_prefix:
        check_batch_id_prefix(batch_id_prefix)
    return check_batch_id(_prefixed(batch_id or batch_id_prefix, token, BATCH_ID_MAX_LENGTH))


def job_states_by_name() -> Mapping[str, str]:
    """Return every job state name with its decision (``active``, ``succeeded``, ``failed``, ``refused``)."""
    return _decisions(JOB_STATES, REFUSED_JOB_STATES)


def batch_states_by_name() -> Mapping[str, str]:
    """Return every batch state name with its decision (``active``, ``succeeded``, ``failed``, ``refused``)."""
    return _decisions(BATCH_STATES, REFUSED_BATCH_STATES)


def _decisions(table: StatusTable, refused: frozenset[str]) -> dict[str, str]:
    found = {name: meaning for meaning in ("active", "succeeded", "failed") for name in getattr(table, meaning)}
    return {**found, **dict.fromkeys(refused, "refused")}


def state_name(value: object) -> str:
    """Return the name of a job or batch state as the client gives it, for the status tables.

    A state this client version does not know (a newer server's) arrives as a bare number, over gRPC and REST
    alike: it becomes its digits (``"42"``), which no table lists, so the error names it, never "active".

    Args:
        value: ``job.status.state`` or ``batch.state`` (a proto-plus enum member, or an int).
    """
    name = getattr(value, "name", None)
    if isinstance(name, str) and name:
        return name
    return str(int(value)) if isinstance(value, int) else str(value)
