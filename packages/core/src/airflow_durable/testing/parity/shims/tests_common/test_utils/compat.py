"""``tests_common.test_utils.compat``: the Airflow names upstream tests import through it."""

from __future__ import annotations

from airflow.sdk import timezone as timezone


def __getattr__(name: str) -> object:
    """``DagSerialization`` lives in Airflow core, which the task SDK alone lacks: import it on first use."""
    if name == "DagSerialization":
        from airflow.serialization.serialized_objects import DagSerialization

        return DagSerialization
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
