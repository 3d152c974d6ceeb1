"""Triggers of the deferrable EMR operators, on core's :class:`~airflow_durable.trigger.JobStatusTrigger`.

Each states only how to read one raw status through boto3; the poll loop, backoff and events are core's.
"""

from __future__ import annotations

# ---------------------------------------------------------------- steps (DurableEmrAddStepsOperator)


# ---------------------------------------------------------------- EMR Serverless (DurableEmrServerlessStartJobOperator)


# ---------------------------------------------------------------- EMR on EKS (DurableEmrContainerOperator)
