"""Contract wiring for Dataproc: an Airflow connection to the Dataproc emulators.

The operators read the transport and the endpoint from the connection's extras (``dataproc_transport``,
``dataproc_api_endpoint``; see ``DataprocConnection.for_operator``), so a DAG runs unchanged against an emulator.
"""

from __future__ import annotations

import json


def dataproc_connection_env(conn_id: str, emulator_url: str, transport: str = "grpc") -> dict[str, str]:
    """Return the ``AIRFLOW_CONN_*`` variable of a Google Cloud connection to a Dataproc emulator.

    Args:
        conn_id: The connection ID (the operators' ``gcp_conn_id``).
        emulator_url: The emulator's plaintext endpoint: ``"http://" + emulator.grpc_address`` for
            ``transport="grpc"``, ``emulator.url`` for ``"rest"``.
        transport: ``"grpc"`` or ``"rest"``.

    Returns:
        ``{"AIRFLOW_CONN_<CONN_ID>": <JSON connection>}``.

    Raises:
        ValueError: An unknown transport, or an endpoint that is not ``http://host:port``.
    """
    if transport not in ("grpc", "rest"):
        raise ValueError(f"transport must be 'grpc' or 'rest', got {transport!r}")
    if not emulator_url.startswith("http://"):
        raise ValueError(f"an emulator endpoint is plaintext http://host:port, got {emulator_url!r}")
    value = {
        "conn_type": "google_cloud_platform",
        "extra": {"dataproc_transport": transport, "dataproc_api_endpoint": emulator_url},
    }
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(value)}
