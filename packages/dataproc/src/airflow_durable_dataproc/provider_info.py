"""Airflow provider metadata, read through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Return the provider metadata Airflow's ProvidersManager expects.

    Returns:
        A dict with ``package-name``, ``name``, ``description``, ``operators`` and ``triggers``.
    """
    return {
        "package-name": "airflow-durable-dataproc",
        "name": "Airflow Durable: Google Cloud Dataproc",
        "description": "Crash-safe Dataproc job and Dataproc Serverless batch operators on google-cloud-dataproc.",
        "operators": [
            {
                "integration-name": "Google Cloud Dataproc",
                # One module per operator; ``airflow_durable_dataproc.operators`` re-exports both.
                "python-modules": ["airflow_durable_dataproc.jobs", "airflow_durable_dataproc.batches"],
            }
        ],
        "triggers": [
            {"integration-name": "Google Cloud Dataproc", "python-modules": ["airflow_durable_dataproc.triggers"]}
        ],
    }
