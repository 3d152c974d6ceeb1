"""Airflow provider metadata, read through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Return the provider metadata Airflow's ProvidersManager expects.

    Returns:
        A dict with ``package-name``, ``name``, ``description`` and ``operators``.
    """
    return {
        "package-name": "airflow-durable-spark",
        "name": "Airflow Durable: Apache Spark",
        "description": "Crash-safe DurableSparkSubmitOperator (Spark standalone cluster mode).",
        "operators": [
            {
                "integration-name": "Apache Spark",
                "python-modules": ["airflow_durable_spark.operators"],
            }
        ],
    }
