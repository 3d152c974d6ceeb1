"""Crash-safe ("durable") submit-and-poll operators for Apache Airflow 3.3+.

The public API: :class:`DurableJobMixin` and what providers need to implement it. Names are imported on
first use, so that light modules (tokens, the emulators' HTTP server) do not pull in Airflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_durable._lazy import lazy_exports

if TYPE_CHECKING:
    from airflow_durable.backoff import Backoff as Backoff
    from airflow_durable.errors import CorruptStateError as CorruptStateError
    from airflow_durable.errors import DurableJobError as DurableJobError
    from airflow_durable.errors import JobFailedError as JobFailedError
    from airflow_durable.errors import JobLostError as JobLostError
    from airflow_durable.errors import MissingContextError as MissingContextError
    from airflow_durable.errors import UnidentifiedSubmissionError as UnidentifiedSubmissionError
    from airflow_durable.errors import UnknownJobStatusError as UnknownJobStatusError
    from airflow_durable.mixin import Decision as Decision
    from airflow_durable.mixin import DurableJobMixin as DurableJobMixin
    from airflow_durable.state import DurableState as DurableState
    from airflow_durable.state import Phase as Phase
    from airflow_durable.status import JobState as JobState
    from airflow_durable.status import StatusTable as StatusTable
    from airflow_durable.tokens import TOKEN_MAX_LENGTH as TOKEN_MAX_LENGTH
    from airflow_durable.tokens import TOKEN_PATTERN as TOKEN_PATTERN
    from airflow_durable.tokens import TaskInstanceScope as TaskInstanceScope
    from airflow_durable.tokens import submission_token as submission_token


__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "backoff": ["Backoff"],
        "errors": [
            "CorruptStateError",
            "DurableJobError",
            "JobFailedError",
            "JobLostError",
            "MissingContextError",
            "UnidentifiedSubmissionError",
            "UnknownJobStatusError",
        ],
        "mixin": ["Decision", "DurableJobMixin"],
        "state": ["DurableState", "Phase"],
        "status": ["JobState", "StatusTable"],
        "tokens": ["TOKEN_MAX_LENGTH", "TOKEN_PATTERN", "TaskInstanceScope", "submission_token"],
    },
)
