"""The demo kit behind ``airflow-durable demo``: real services, started and stopped by PID.

A provider declares its demo (:mod:`airflow_durable.demo.provider`); core runs the rest:

- :mod:`airflow_durable.demo.registry` finds the installed providers' demos (entry-point group
  ``airflow_durable.demo``);
- :mod:`airflow_durable.demo.runner` starts one Airflow stack for all of them and runs each one's
  crash scenario on it;
- :mod:`airflow_durable.demo.outcome` turns what a run left behind into the table's rows;
- :mod:`airflow_durable.demo.airflow_stack` is the real Airflow 3.3 (api-server + scheduler,
  LocalExecutor, SQLite) in a temporary ``AIRFLOW_HOME``;
- :mod:`airflow_durable.demo.processes` starts subprocesses and always stops them again.

Only the declaration types are imported here, so that ``airflow-durable --help`` and a provider's
declaration need no third-party package; the runner needs ``httpx`` and ``psutil`` (extra ``[demo]``).
"""

from __future__ import annotations

from airflow_durable.demo.outcome import DemoResult
from airflow_durable.demo.provider import CrashCase, DemoProvider, DemoSystem
from airflow_durable.demo.registry import (
    ENTRY_POINT_GROUP,
    ProviderLoadError,
    UnknownProviderError,
    available_providers,
    load_providers,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "CrashCase",
    "DemoProvider",
    "DemoResult",
    "DemoSystem",
    "ProviderLoadError",
    "UnknownProviderError",
    "available_providers",
    "load_providers",
]
