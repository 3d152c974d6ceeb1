"""Airflow provider metadata, read through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Return the provider metadata Airflow's ProvidersManager expects.

    Returns:
        A dict with ``package-name``, ``name``, ``description``, ``operators`` and ``triggers``.
    """
    # The operators and triggers are not written yet (issue 9): the lists fill in with them.
    return {
        "package-name": "airflow-durable-dataproc",
        "name": "Airflow Durable: Google Cloud Dataproc",
        "description": "Crash-safe Dataproc job and Dataproc Serverless batch operators on google-cloud-dataproc.",
        "operators": [],
        "triggers": [],
    }
