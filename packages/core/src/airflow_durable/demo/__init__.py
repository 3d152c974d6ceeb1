"""Plumbing for ``airflow-durable demo``: real services, started and stopped by PID.

The modules here are provider-agnostic:

- :mod:`airflow_durable.demo.processes` starts subprocesses and always stops them again.
- :mod:`airflow_durable.demo.airflow_stack` runs a real Airflow 3.3 (api-server + scheduler,
  LocalExecutor, SQLite) in a temporary ``AIRFLOW_HOME``.
- :mod:`airflow_durable.demo.scenario` defines what a provider's demo scenario returns and how
  scenarios are discovered (entry-point group ``airflow_durable.demo``).
"""

from __future__ import annotations

from airflow_durable.demo.processes import ManagedProcesses
from airflow_durable.demo.scenario import (
    ENTRY_POINT_GROUP,
    DemoResult,
    DemoScenario,
    available_scenarios,
    load_scenarios,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "DemoResult",
    "DemoScenario",
    "ManagedProcesses",
    "available_scenarios",
    "load_scenarios",
]
