"""Test helpers: a wire-level Databricks Jobs API 2.2 emulator (on the core emulator kit) for ``databricks-sdk``.

Run it in-process (:class:`DatabricksJobsEmulator`, a background thread) or as its own process with
``python -m airflow_durable.testing.serve airflow_durable_databricks.testing.emulator:DatabricksJobsEmulator
--port 0 --port-file PATH`` and drive it through :data:`EmulatorControl` (the kit's ``ControlClient``).
Nothing here imports ``databricks.sdk``, Airflow or pytest.
"""

from __future__ import annotations

from airflow_durable_databricks.testing.contract import databricks_connection_env, mask_run_page_url
from airflow_durable_databricks.testing.emulator import (
    ENDPOINTS,
    MAX_IDEMPOTENCY_TOKEN_LENGTH,
    MULTI_TASK_OUTPUT_MESSAGE,
    STATES,
    DatabricksJobsEmulator,
    EmulatedRun,
    EmulatedTask,
    EmulatorControl,
    EmulatorControlError,
    RecordedRequest,
)

__all__ = [
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
    "databricks_connection_env",
    "mask_run_page_url",
]
