"""``airflow_durable.testing``: the contract suite every durable operator must pass.

Install with ``pip install "airflow-durable[testing]"``; pytest loads it as a plugin (``pytest11``).
"""

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
