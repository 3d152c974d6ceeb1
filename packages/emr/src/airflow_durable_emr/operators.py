"""The durable EMR operators, drop-in replacements for the amazon provider's (``operators.emr``).

Importing this module imports neither boto3 nor the amazon provider (DAG parse time stays cheap).
"""

from __future__ import annotations

from airflow_durable_emr.containers import DurableEmrContainerOperator
from airflow_durable_emr.serverless import DurableEmrServerlessStartJobOperator
from airflow_durable_emr.steps import DurableEmrAddStepsOperator

__all__ = ["DurableEmrAddStepsOperator", "DurableEmrContainerOperator", "DurableEmrServerlessStartJobOperator"]
