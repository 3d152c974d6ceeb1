"""Airflow provider metadata, read through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Return the provider metadata Airflow's ProvidersManager expects.

    Returns:
        A dict with ``package-name``, ``name``, ``description``, ``operators`` and ``triggers``.
    """
    return {
        "package-name": "airflow-durable-databricks",
        "name": "Airflow Durable: Databricks",
        "description": "Crash-safe Databricks submit-run and run-now operators on databricks-sdk.",
        "operators": [{"integration-name": "Databricks", "python-modules": ["airflow_durable_databricks.operators"]}],
        "triggers": [{"integration-name": "Databricks", "python-modules": ["airflow_durable_databricks.triggers"]}],
    }
