"""Airflow provider metadata, read through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Return the provider metadata Airflow's ProvidersManager expects.

    Returns:
        A dict with ``package-name``, ``name``, ``description``, ``operators`` and ``triggers``.
    """
    return {
        "package-name": "airflow-durable-emr",
        "name": "Airflow Durable: Amazon EMR",
        "description": "Crash-safe EMR steps, EMR Serverless and EMR on EKS operators on boto3.",
        "operators": [
            {
                "integration-name": "Amazon EMR",
                # One module per operator; ``airflow_durable_emr.operators`` re-exports all three.
                "python-modules": [
                    "airflow_durable_emr.steps",
                    "airflow_durable_emr.serverless",
                    "airflow_durable_emr.containers",
                ],
            }
        ],
        "triggers": [{"integration-name": "Amazon EMR", "python-modules": ["airflow_durable_emr.triggers"]}],
    }
