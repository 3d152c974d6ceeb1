"""Test helpers: a wire-level Databricks Jobs API 2.2 emulator (on the core emulator kit) for ``databricks-sdk``.

Run it in-process (:class:`DatabricksJobsEmulator`, a background thread) or as its own process with
``python -m airflow_durable.testing.serve airflow_durable_databricks.testing.emulator:DatabricksJobsEmulator
--port 0 --port-file PATH`` and drive it through :data:`EmulatorControl` (the kit's ``ControlClient``).
Neither imports ``databricks.sdk``; names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_durable._lazy import lazy_exports

if TYPE_CHECKING:
    from airflow_durable_databricks.testing.contract import databricks_connection_env as databricks_connection_env
    from airflow_durable_databricks.testing.emulator import ENDPOINTS as ENDPOINTS
    from airflow_durable_databricks.testing.emulator import MAX_IDEMPOTENCY_TOKEN_LENGTH as MAX_IDEMPOTENCY_TOKEN_LENGTH
    from airflow_durable_databricks.testing.emulator import MULTI_TASK_OUTPUT_MESSAGE as MULTI_TASK_OUTPUT_MESSAGE
    from airflow_durable_databricks.testing.emulator import STATES as STATES
    from airflow_durable_databricks.testing.emulator import DatabricksJobsEmulator as DatabricksJobsEmulator
    from airflow_durable_databricks.testing.emulator import EmulatedRun as EmulatedRun
    from airflow_durable_databricks.testing.emulator import EmulatedTask as EmulatedTask
    from airflow_durable_databricks.testing.emulator import EmulatorControl as EmulatorControl
    from airflow_durable_databricks.testing.emulator import EmulatorControlError as EmulatorControlError
    from airflow_durable_databricks.testing.emulator import RecordedRequest as RecordedRequest


__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "contract": ["databricks_connection_env"],
        "emulator": [
            "ENDPOINTS",
            "MAX_IDEMPOTENCY_TOKEN_LENGTH",
            "MULTI_TASK_OUTPUT_MESSAGE",
            "STATES",
            "DatabricksJobsEmulator",
            "EmulatedRun",
            "EmulatedTask",
            "EmulatorControl",
            "EmulatorControlError",
            "RecordedRequest",
        ],
    },
)
