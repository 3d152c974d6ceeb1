"""Exceptions raised by the durable protocol.

Every error names what it is about (the state key, the external ID, the raw vendor status) so that an
operator's log says what to fix. None of them is ever swallowed by the protocol: a swallowed error on the
resume path could make a retry submit a duplicate job.
"""

from __future__ import annotations

from typing import Any


class DurableJobError(Exception):
    """Base class of every error raised by ``airflow_durable``."""


class CorruptStateError(DurableJobError):
    """The value stored in ``task_state_store`` cannot be trusted.

    Raised instead of submitting: a retry that cannot read its own record must not guess, because guessing
    "nothing was submitted" is how duplicate jobs happen. Fix or delete the key, then clear the task.

    Attributes:
        key: The ``task_state_store`` key that holds the bad value.
        reason: What is wrong with it.
    """

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(
            f"task_state_store key {key!r} holds an unusable value: {reason}. "
            "Refusing to submit a job that may duplicate one already running; "
            f"inspect or delete the key {key!r} and retry."
        )


class UnknownJobStatusError(DurableJobError):
    """The external system reported a status that the operator's status table does not list.

    Attributes:
        status: The raw status string.
        source: The vendor document the status table follows.
    """

    def __init__(self, status: str, source: str | None = None) -> None:
        self.status = status
        self.source = source
        where = f" (status table source: {source})" if source else ""
        super().__init__(
            f"Unknown job status {status!r}{where}. It is neither active, succeeded nor failed; "
            "refusing to guess. Update the operator's status table."
        )


class JobLostError(DurableJobError):
    """The external system no longer knows the job (HTTP 404, expired run history, garbage-collected pod).

    Providers raise this from ``get_job_status`` when the vendor's NotFound signal arrives; the mixin then
    applies the operator's ``on_lost_job`` policy. There are no sentinel status strings.

    Attributes:
        external_id: The ID the vendor does not know.
    """

    def __init__(self, external_id: Any, detail: str = "") -> None:
        self.external_id = external_id
        suffix = f": {detail}" if detail else ""
        super().__init__(f"External job {external_id!r} is unknown to the external system{suffix}")


class JobFailedError(DurableJobError):
    """The external job reached a terminal failure (failed, cancelled, killed).

    The task fails; on retry the mixin sees the terminal status, advances the generation and submits a fresh
    job with a new token.

    Attributes:
        external_id: The failed job.
        status: Its raw terminal status.
    """

    def __init__(self, external_id: Any, status: str, detail: str = "") -> None:
        self.external_id = external_id
        self.status = status
        suffix = f": {detail}" if detail else ""
        super().__init__(f"External job {external_id!r} ended in terminal status {status!r}{suffix}")


class UnidentifiedSubmissionError(DurableJobError):
    """``submit_job`` returned no external ID, so a job may exist that no record points to.

    Raised by the try whose ``submit_job`` returned ``None`` (after it recorded an ``unidentified`` record)
    and by every later try that finds that record and cannot adopt the job by its token. Never followed by a
    blind resubmission: find the job on the external system (it carries ``token``), then delete the key and
    clear the task, or fix ``submit_job`` to return the ID.

    Attributes:
        key: The ``task_state_store`` key that holds the ``unidentified`` record.
        token: The submission token the job was sent with.
    """

    def __init__(self, key: str, token: str | None, detail: str = "") -> None:
        self.key = key
        self.token = token
        suffix = f" ({detail})" if detail else ""
        super().__init__(
            f"submit_job returned no external ID for the submission with token {token!r}{suffix}; a job may "
            f"exist that task_state_store key {key!r} cannot point to, so no try submits again. Find the job "
            f"by its token, then delete the key {key!r} and clear the task."
        )


TESTING_PAGE = "docs/testing-your-dags.md"
"""The page that shows how to run operators in tests (named in errors about an incomplete context)."""


class MissingContextError(DurableJobError, KeyError):
    """The task context lacks an entry the operator needs (``ti``).

    Raised when an operator runs outside Airflow with a hand-made context (a unit test), never by a real
    task run, whose context always has them. A subclass of ``KeyError``, the error upstream operators
    raise for ``context["ti"]``.

    Attributes:
        entry: The missing context key.
    """

    def __init__(self, entry: str, needed_for: str) -> None:
        self.entry = entry
        super().__init__(
            f"The task context has no {entry!r}, needed for {needed_for}. In a unit test, run the operator with "
            "airflow_durable.testing.TaskInstanceRun, or put an airflow_durable.testing.FakeTaskInstance "
            f"under {entry!r}; see {TESTING_PAGE}"
        )

    def __str__(self) -> str:
        return str(self.args[0])  # not KeyError's repr() of the message
