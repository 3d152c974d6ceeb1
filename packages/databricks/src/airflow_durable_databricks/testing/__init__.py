"""Test helpers: a wire-level Databricks Jobs API 2.2 emulator for the real ``databricks-sdk`` client.

Run it in-process (:class:`DatabricksJobsEmulator`, a background thread) or as its own process with
``python -m airflow_durable_databricks.testing --port 0 --port-file PATH`` and drive it through
:class:`EmulatorControl`. Neither imports ``databricks.sdk``.
"""

from __future__ import annotations

from airflow_durable_databricks.testing.emulator import (
    CONTROL_PREFIX,
    ENDPOINTS,
    LIFE_CYCLE_STATES,
    MAX_IDEMPOTENCY_TOKEN_LENGTH,
    MULTI_TASK_OUTPUT_MESSAGE,
    RESULT_STATES,
    STATUS_STATES,
    TERMINAL_LIFE_CYCLE_STATES,
    TERMINATION_TYPES,
    DatabricksJobsEmulator,
    EmulatedRun,
    EmulatedTask,
    EmulatorControl,
    EmulatorControlError,
    RecordedRequest,
)

__all__ = [
    "CONTROL_PREFIX",
    "ENDPOINTS",
    "LIFE_CYCLE_STATES",
    "MAX_IDEMPOTENCY_TOKEN_LENGTH",
    "MULTI_TASK_OUTPUT_MESSAGE",
    "RESULT_STATES",
    "STATUS_STATES",
    "TERMINAL_LIFE_CYCLE_STATES",
    "TERMINATION_TYPES",
    "DatabricksJobsEmulator",
    "EmulatedRun",
    "EmulatedTask",
    "EmulatorControl",
    "EmulatorControlError",
    "RecordedRequest",
]
