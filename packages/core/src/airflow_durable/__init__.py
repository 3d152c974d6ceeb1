"""Crash-safe ("durable") submit-and-poll operators for Apache Airflow 3.3+.

The public API: :class:`DurableJobMixin` and what providers need to implement it. Names are imported on
first use, so that light modules (tokens, the emulators' HTTP server) do not pull in Airflow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_WHERE = {
    "Backoff": "backoff",
    "CorruptStateError": "errors",
    "DurableJobError": "errors",
    "JobFailedError": "errors",
    "JobLostError": "errors",
    "UnknownJobStatusError": "errors",
    "Decision": "mixin",
    "DurableJobMixin": "mixin",
    "DurableState": "state",
    "Phase": "state",
    "JobState": "status",
    "StatusTable": "status",
    "TOKEN_MAX_LENGTH": "tokens",
    "TOKEN_PATTERN": "tokens",
    "TaskInstanceScope": "tokens",
    "submission_token": "tokens",
}

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


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
