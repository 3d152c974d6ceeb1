"""Contract wiring for Databricks: an Airflow connection to the Jobs API emulator.

The contract suite and the operator tests drive the emulator through
:class:`airflow_durable.testing.EmulatorSystem`.
"""

from __future__ import annotations

import json
import re
from typing import Any


def databricks_connection_env(conn_id: str, emulator_url: str, **extra: Any) -> dict[str, str]:
    """Return the ``AIRFLOW_CONN_*`` variable of a connection to the emulator (PAT auth over http).

    Both our operators (through the SDK ``Config`` mapping) and upstream's ``DatabricksHook`` read it.

    Args:
        conn_id: The connection ID.
        emulator_url: The emulator's ``http://host:port``.
        **extra: More connection extras (for example ``retry_timeout_seconds=20``).

    Returns:
        ``{"AIRFLOW_CONN_<CONN_ID>": <JSON connection>}``.
    """
    host_port = emulator_url.split("://", 1)[1]
    host, port = host_port.rsplit(":", 1)
    value = {
        "conn_type": "databricks",
        "host": host,
        "port": int(port),
        "schema": "http",
        "extra": {"token": "dapi-emulator", **extra},
    }
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(value)}


def mask_run_page_url(value: Any) -> Any:
    """Return ``value`` (a result or XCom; dicts value by value) with run page URLs' IDs masked.

    Each string's trailing ``#job/<id>/run/<id>`` becomes placeholders, so that runs compare by shape.
    """
    if isinstance(value, dict):
        return {k: mask_run_page_url(v) for k, v in value.items()}
    if isinstance(value, str):
        return re.sub(r"#job/\d+/run/\d+$", "#job/<job_id>/run/<run_id>", value)
    return value
