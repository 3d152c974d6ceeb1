"""Map an Airflow Databricks connection onto ``databricks-sdk``'s own ``Config``.

The SDK does the authentication (PAT, OAuth M2M, Azure service principals, its default chain) and the
HTTP retries; this module only translates where the Airflow connection keeps each value. Connection
fields, as the Airflow Databricks provider documents them
(https://airflow.apache.org/docs/apache-airflow-providers-databricks/stable/connections/databricks.html):

==========================================  ====================================================
Airflow connection                          ``databricks.sdk.core.Config``
==========================================  ====================================================
``host`` (or extra ``host``), ``schema``,  ``host``: ``<schema or https>://<host>[:<port>]`` unless the
``port``                                    host already has a scheme
extra ``token``, or ``password`` w/o login  ``token`` (personal access token)
extra ``service_principal_oauth: true``     ``client_id`` = login, ``client_secret`` = password
extra ``azure_tenant_id``                   ``azure_tenant_id``, ``azure_client_id`` = login,
                                            ``azure_client_secret`` = password
``login`` + ``password``                    ``username`` / ``password`` (basic)
any other extra that is a ``Config`` field  passed as is (``auth_type``, ``account_id``,
                                            ``retry_timeout_seconds``, ``http_timeout_seconds`` ...)
==========================================  ====================================================

With no credential at all, the SDK's default chain applies (``DATABRICKS_*`` variables,
``~/.databrickscfg``, cloud metadata).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from databricks.sdk.core import Config


RENAMED_EXTRAS = {
    "azure_resource_id": "azure_workspace_resource_id",
    "azure_managed_identity_client_id": "azure_client_id",
}
"""Upstream connection extras whose value a ``Config`` field of another name takes."""

UNSUPPORTED_EXTRAS = {
    "use_default_azure_credential": "use auth_type 'azure-cli' or 'azure-msi' in the extra instead",
    "azure_ad_endpoint": "set azure_environment (PUBLIC, USGOVERNMENT, CHINA) in the extra instead",
    "proxies": "set the HTTPS_PROXY environment variable, which the SDK honours",
    "federated_k8s": "configure workload identity federation through the SDK's auth_type",
}
"""Upstream connection extras with no direct ``Config`` equivalent, and what to do instead."""


def config_kwargs(
    host: str | None,
    login: str | None,
    password: str | None,
    extra: dict[str, Any],
    config_fields: set[str],
    *,
    schema: str | None = None,
    port: int | None = None,
) -> dict[str, Any]:
    """Translate connection fields into ``Config`` keyword arguments (see the module table).

    Args:
        host: The connection's host.
        login: The connection's login.
        password: The connection's password.
        extra: The connection's extra, as a dict.
        config_fields: Names ``Config`` accepts.
        schema: The connection's schema (``http`` for a local emulator; ``https`` by default).
        port: The connection's port.

    Returns:
        Keyword arguments for ``databricks.sdk.core.Config``.

    Raises:
        ValueError: An extra names a value ``Config`` does not know and Airflow's provider does not use.
    """
    kwargs: dict[str, Any] = {}
    host = host or extra.get("host")
    if host:
        if "://" not in host:
            host = f"{schema or 'https'}://{host}{f':{port}' if port else ''}"
        kwargs["host"] = host
    if extra.get("token"):
        kwargs["token"] = extra["token"]
    elif extra.get("service_principal_oauth"):
        kwargs.update(client_id=login, client_secret=password)
    elif extra.get("azure_tenant_id"):
        kwargs.update(azure_tenant_id=extra["azure_tenant_id"], azure_client_id=login, azure_client_secret=password)
    elif password and not login:
        kwargs["token"] = password
    elif login and password:
        kwargs.update(username=login, password=password)
    provider_only = {"token", "host", "service_principal_oauth", "azure_tenant_id", "use_azure_managed_identity"}
    for key, value in extra.items():
        if key in provider_only:
            continue
        if key in RENAMED_EXTRAS:
            kwargs[RENAMED_EXTRAS[key]] = value
        elif key in UNSUPPORTED_EXTRAS:
            raise ValueError(
                f"Databricks connection extra {key!r} is an apache-airflow-providers-databricks setting that "
                f"databricks-sdk has no equivalent for: {UNSUPPORTED_EXTRAS[key]}"
            )
        elif key not in config_fields:
            raise ValueError(f"Databricks connection extra {key!r} is not a databricks-sdk Config field")
        else:
            kwargs[key] = value
    if extra.get("use_azure_managed_identity"):
        kwargs.setdefault("auth_type", "azure-msi")
    return kwargs


def sdk_config(conn_id: str, *, defaults: dict[str, Any] | None = None, **overrides: Any) -> Config:
    """Build the SDK ``Config`` for an Airflow connection.

    Args:
        conn_id: The Airflow connection ID (``databricks_conn_id``).
        defaults: ``Config`` fields the connection wins over (the operators' ``retry_timeout_seconds``
            mapped from ``databricks_retry_*``).
        **overrides: ``Config`` fields that win over the connection (tests set ``retry_timeout_seconds``).

    Returns:
        A ready ``databricks.sdk.core.Config``; the SDK resolves and validates the credentials.
    """
    from airflow.sdk import BaseHook
    from databricks.sdk.core import Config

    connection = BaseHook.get_connection(conn_id)
    fields = {attr.name for attr in Config.attributes()}
    kwargs = config_kwargs(
        connection.host,
        connection.login,
        connection.password,
        connection.extra_dejson,
        fields,
        schema=connection.schema,
        port=connection.port,
    )
    kwargs = {**(defaults or {}), **kwargs, **overrides}
    return Config(**kwargs)
