"""Triggers of the deferrable Dataproc operators, on core's :class:`~airflow_durable.trigger.JobStatusTrigger`.

Each states only how to read one raw status through ``google-cloud-dataproc``; the poll loop, backoff and
events are core's.
"""

from __future__ import annotations

# ---------------------------------------------------------------- jobs (DurableDataprocSubmitJobOperator)


# ---------------------------------------------------------------- batches (DurableDataprocCreateBatchOperator)
