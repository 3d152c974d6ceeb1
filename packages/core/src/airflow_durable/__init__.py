"""Crash-safe ("durable") submit-and-poll operators for Apache Airflow 3.3+.

The public API: :class:`DurableJobMixin` and what providers need to implement it.
"""

from airflow_durable.backoff import Backoff
from airflow_durable.errors import (
    CorruptStateError,
    DurableJobError,
    JobFailedError,
    JobLostError,
    UnknownJobStatusError,
)
from airflow_durable.mixin import Decision, DurableJobMixin
from airflow_durable.state import DurableState, Phase
from airflow_durable.status import JobState, StatusTable
from airflow_durable.tokens import TOKEN_MAX_LENGTH, TOKEN_PATTERN, TaskInstanceScope, submission_token

__all__ = [
    "TOKEN_MAX_LENGTH",
    "TOKEN_PATTERN",
    "Backoff",
    "CorruptStateError",
    "Decision",
    "DurableJobError",
    "DurableJobMixin",
    "DurableState",
    "JobFailedError",
    "JobLostError",
    "JobState",
    "Phase",
    "StatusTable",
    "TaskInstanceScope",
    "UnknownJobStatusError",
    "submission_token",
]
