"""Stand-in for ``tests_common.pytest_plugin``: upstream's markers and Airflow's default connections."""

from __future__ import annotations

import os
from typing import Any
from unittest import mock

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register upstream's markers, and define Airflow's default connections as upstream's test DB has them."""
    for marker in ("db_test", "backend(name)", "need_serialized_dag", "want_activate_assets", "execution_timeout"):
        config.addinivalue_line("markers", marker)
    for name, value in default_connections().items():
        os.environ.setdefault(name, value)


def default_connections() -> dict[str, str]:
    """``AIRFLOW_CONN_*`` variables for the connections ``airflow db`` creates (``spark_default``...).

    Upstream tests run against a metadata database holding Airflow's default connections; the parity run
    has no database, so the same connections come from ``create_default_connections`` as variables.
    """
    try:
        from airflow.utils import db
    except ImportError:  # the task SDK alone: no default connections to copy
        return {}
    captured: list[Any] = []
    with mock.patch.object(db, "merge_conn", lambda conn, session=None: captured.append(conn)):
        db.create_default_connections(session=None)  # type: ignore[arg-type]  # merge_conn is patched
    return {f"AIRFLOW_CONN_{conn.conn_id.upper()}": conn.as_json() for conn in captured}
