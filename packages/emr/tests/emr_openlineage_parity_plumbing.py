"""Fixture plumbing for upstream's OpenLineage injection tests of the EMR operators, run against ours.

Upstream's tests replace the injection helpers where upstream's operator module imported them
(``airflow.providers.amazon.aws.operators.emr.inject_*_into_emr_serverless_properties``). Ours take the same
helpers from ``airflow.providers.common.compat`` through :func:`airflow_durable_emr.openlineage.injectors`. This
plugin makes that function return the names of upstream's module, looked up at call time, so the test's mocks
are the helpers our operators call: what they return reaches our request, and their call assertions check our
calls.
"""

from __future__ import annotations

from typing import Any

import pytest


def upstream_module_injectors() -> tuple[Any, Any]:
    """The two helpers as upstream's operator module names them now (patched or not)."""
    from airflow.providers.amazon.aws.operators import emr

    return (
        emr.inject_parent_job_information_into_emr_serverless_properties,
        emr.inject_transport_information_into_emr_serverless_properties,
    )


def pytest_configure(config: pytest.Config) -> None:
    """Route our operators' OpenLineage injection through upstream's operator module."""
    from airflow_durable_emr import openlineage

    openlineage.injectors = upstream_module_injectors  # type: ignore[assignment]
