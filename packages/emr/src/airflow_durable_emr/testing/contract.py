"""Contract wiring for EMR: an Airflow connection (or boto3's environment) pointing at the emulators.

The contract suite and the operator tests drive the emulators through
:class:`airflow_durable.testing.EmulatorSystem`.
"""

from __future__ import annotations

import json

DUMMY_ACCESS_KEY_ID = "emulator"
"""The access key the emulator connection carries (moto checks no signature)."""
DUMMY_SECRET_ACCESS_KEY = "emulator-secret"
"""The secret key the emulator connection carries."""
SERVICES = {"emr": "emr", "emr_serverless": "emr-serverless", "emr_containers": "emr-containers"}
"""Keyword name -> boto3 service name of each emulated API."""


def _services(endpoint_urls: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(endpoint_urls) - set(SERVICES))
    if unknown:
        raise TypeError(f"unknown EMR service keyword(s) {unknown}; expected some of {sorted(SERVICES)}")
    return {SERVICES[name]: url for name, url in endpoint_urls.items()}


def emr_connection_env(conn_id: str, *, region_name: str = "us-east-1", **endpoint_urls: str) -> dict[str, str]:
    """Return the ``AIRFLOW_CONN_*`` variable of an AWS connection to the emulators.

    The amazon provider's ``AwsBaseHook`` (so ours and upstream's operators) sends each service to its
    ``service_config`` ``endpoint_url``.

    Args:
        conn_id: The connection ID (``aws_conn_id``).
        region_name: The connection's region.
        **endpoint_urls: ``emr=``, ``emr_serverless=``, ``emr_containers=``: each emulator's ``url``.

    Returns:
        ``{"AIRFLOW_CONN_<CONN_ID>": <JSON connection>}`` with dummy keys.

    Raises:
        TypeError: An unknown service keyword.
    """
    service_config = {service: {"endpoint_url": url} for service, url in _services(endpoint_urls).items()}
    value = {
        "conn_type": "aws",
        "login": DUMMY_ACCESS_KEY_ID,
        "password": DUMMY_SECRET_ACCESS_KEY,
        "extra": {"region_name": region_name, "service_config": service_config},
    }
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(value)}


def emr_boto3_env(*, region_name: str = "us-east-1", **endpoint_urls: str) -> dict[str, str]:
    """Return the environment that sends plain boto3 clients (no amazon provider) to the emulators.

    boto3 reads ``AWS_ENDPOINT_URL_<SERVICE>`` (``AWS_ENDPOINT_URL_EMR``, ``..._EMR_SERVERLESS``,
    ``..._EMR_CONTAINERS``), the region and dummy keys from the environment.

    Args:
        region_name: ``AWS_DEFAULT_REGION``.
        **endpoint_urls: ``emr=``, ``emr_serverless=``, ``emr_containers=``: each emulator's ``url``.

    Raises:
        TypeError: An unknown service keyword.
    """
    env = {
        "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": region_name,
    }
    for service, url in _services(endpoint_urls).items():
        env[f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}"] = url
    return env
