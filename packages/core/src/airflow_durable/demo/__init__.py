"""Plumbing for ``airflow-durable demo``: real services, started and stopped by PID.

The modules here are provider-agnostic:

- :mod:`airflow_durable.demo.processes` starts subprocesses and always stops them again.
- :mod:`airflow_durable.demo.airflow_stack` runs a real Airflow 3.3 (api-server + scheduler,
  LocalExecutor, SQLite) in a temporary ``AIRFLOW_HOME``.
- :mod:`airflow_durable.demo.scenario` defines what a provider's demo scenario returns and how
  scenarios are discovered (entry-point group ``airflow_durable.demo``).

``ManagedProcesses`` is imported lazily, so that the scenario types (and ``airflow-durable --help``)
need no third-party package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_durable.demo.scenario import (
    ENTRY_POINT_GROUP,
    DemoResult,
    DemoScenario,
    ScenarioLoadError,
    UnknownScenarioError,
    available_scenarios,
    load_scenarios,
)

if TYPE_CHECKING:
    from airflow_durable.demo.processes import ManagedProcesses

__all__ = [
    "ENTRY_POINT_GROUP",
    "DemoResult",
    "DemoScenario",
    "ManagedProcesses",
    "ScenarioLoadError",
    "UnknownScenarioError",
    "available_scenarios",
    "load_scenarios",
]


def __getattr__(name: str) -> Any:
    if name == "ManagedProcesses":
        from airflow_durable.demo.processes import ManagedProcesses

        return ManagedProcesses
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
