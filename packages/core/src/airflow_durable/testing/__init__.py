"""``airflow_durable.testing``: the contract suite every durable operator must pass.

Install with ``pip install "airflow-durable[testing]"``; pytest loads it as a plugin (``pytest11``).

Names are imported on first use, so that provider emulators can use
:mod:`airflow_durable.testing.server` without pulling in pytest and the contract suite.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_durable.testing.contract import CrashController, DurableOperatorContract, OperatorFactory
    from airflow_durable.testing.doubles import (
        CrashPoint,
        FakeTaskInstance,
        InMemoryTaskStateStore,
        RunawayPolling,
        SimulatedCrash,
        TaskInstanceRun,
        TryOutcome,
    )
    from airflow_durable.testing.system import ExternalSystem, Submission

_WHERE = {
    "CrashController": "contract",
    "DurableOperatorContract": "contract",
    "OperatorFactory": "contract",
    "CrashPoint": "doubles",
    "FakeTaskInstance": "doubles",
    "InMemoryTaskStateStore": "doubles",
    "RunawayPolling": "doubles",
    "SimulatedCrash": "doubles",
    "TaskInstanceRun": "doubles",
    "TryOutcome": "doubles",
    "ExternalSystem": "system",
    "Submission": "system",
}

__all__ = [
    "CrashController",
    "CrashPoint",
    "DurableOperatorContract",
    "ExternalSystem",
    "FakeTaskInstance",
    "InMemoryTaskStateStore",
    "OperatorFactory",
    "RunawayPolling",
    "SimulatedCrash",
    "Submission",
    "TaskInstanceRun",
    "TryOutcome",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
