"""Airflow provider metadata, read through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Return the provider metadata Airflow's ProvidersManager expects.

    Returns:
        A dict with ``package-name``, ``name`` and ``description``, as Airflow's provider schema defines it.
    """
    return {
        "package-name": "airflow-durable",
        "name": "Airflow Durable",
        "description": "Crash-safe (durable) submit-and-poll protocol and its contract suite.",
    }
