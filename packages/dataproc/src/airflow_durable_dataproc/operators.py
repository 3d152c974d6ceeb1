"""The durable Dataproc operators, drop-in replacements for the google provider's (``operators.dataproc``).

Importing this module imports neither ``google.cloud.dataproc_v1`` nor the google provider.
"""

from __future__ import annotations

from airflow_durable_dataproc.batches import DataprocBatchFailedError, DurableDataprocCreateBatchOperator
from airflow_durable_dataproc.jobs import (
    DataprocJobFailedError,
    DataprocJobWaitTimeoutError,
    DurableDataprocSubmitJobOperator,
)

__all__ = [
    "DataprocBatchFailedError",
    "DataprocJobFailedError",
    "DataprocJobWaitTimeoutError",
    "DurableDataprocCreateBatchOperator",
    "DurableDataprocSubmitJobOperator",
]
