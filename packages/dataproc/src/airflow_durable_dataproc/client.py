"""``google-cloud-dataproc`` clients with credentials from the Airflow connection, and error classification.

Credentials are never handled here. With the google provider installed (``apache-airflow-providers-google``)
they come from its ``GoogleBaseHook`` (``gcp_conn_id``, ``impersonation_chain``: key files, secret keys,
workload identity, impersonation, exactly as upstream's operators read them), and so does the default
project. Without it, ``google.auth.default()`` (Application Default Credentials) gives both, and
``gcp_conn_id`` is ignored with a warning.

The transport is gRPC by default, as for upstream's ``DataprocHook``; ``transport="rest"`` uses the REST
transport. The endpoint is ``{region}-dataproc.googleapis.com:443`` unless ``api_endpoint`` says otherwise.
A plaintext endpoint (``http://host:port``, a local emulator) gets an insecure channel and anonymous
credentials: real credentials never travel in the clear.

``google.cloud.dataproc_v1`` is imported on first use, never at DAG parse time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

Transport = Literal["grpc", "rest"]
TRANSPORTS: tuple[str, ...] = ("grpc", "rest")
DEFAULT_CONN_ID = "google_cloud_default"


@dataclass(frozen=True)
class DataprocConnection:
    """Where an operator's Dataproc clients come from: upstream's connection arguments plus the transport.

    Attributes:
        gcp_conn_id: The Airflow connection (read through the google provider's ``GoogleBaseHook``).
        impersonation_chain: A service account (or a chain of them) to impersonate, as upstream's.
        transport: ``"grpc"`` (default) or ``"rest"``.
        api_endpoint: ``host:port`` (gRPC, TLS), ``https://host`` (REST), or ``http://host:port`` for a
            plaintext local emulator; ``None``: ``{region}-dataproc.googleapis.com:443``.
    """

    gcp_conn_id: str | None = DEFAULT_CONN_ID
    impersonation_chain: str | Sequence[str] | None = None
    transport: Transport = "grpc"
    api_endpoint: str | None = None

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {TRANSPORTS}, got {self.transport!r}")

    @classmethod
    def for_operator(
        cls,
        gcp_conn_id: str | None,
        impersonation_chain: str | Sequence[str] | None = None,
        transport: Transport | None = None,
        api_endpoint: str | None = None,
    ) -> DataprocConnection:
        """Build the connection an operator's clients use.

        ``transport`` and ``api_endpoint`` come from the operator's arguments, else from the Airflow
        connection's extras ``dataproc_transport`` and ``dataproc_api_endpoint`` (so that a DAG runs unchanged
        against the emulator: only its connection points elsewhere), else the defaults (gRPC, Google's
        regional endpoint). The connection is read only when one of the two is missing and ``gcp_conn_id`` is
        set; a connection that does not exist gives the defaults.

        Raises:
            ValueError: An unknown transport.
        """
        if (transport is None or api_endpoint is None) and gcp_conn_id:
            extras = _connection_extras(gcp_conn_id)
            transport = transport or extras.get("dataproc_transport")
            api_endpoint = api_endpoint or extras.get("dataproc_api_endpoint")
        return cls(gcp_conn_id, impersonation_chain, transport or "grpc", api_endpoint or None)

    @property
    def plaintext(self) -> bool:
        """Whether the endpoint is a plaintext ``http://`` one (a local emulator)."""
        return bool(self.api_endpoint) and urlsplit(str(self.api_endpoint)).scheme == "http"

    def endpoint(self, region: str) -> str:
        """Return the endpoint the clients talk to for ``region``.

        Raises:
            ValueError: No region and no ``api_endpoint``.
        """
        if self.api_endpoint:
            return self.api_endpoint
        if not region:
            raise ValueError("a Dataproc region is required (the endpoint is {region}-dataproc.googleapis.com)")
        return f"{region}-dataproc.googleapis.com:443"

    def credentials_and_project(self) -> tuple[Any, str | None]:
        """Return ``(credentials, default project ID)`` from the connection, else from ADC.

        A plaintext endpoint gets anonymous credentials and no project.
        """
        if self.plaintext:
            from google.auth.credentials import AnonymousCredentials

            return AnonymousCredentials(), None  # type: ignore[no-untyped-call]
        hook_class = provider_hook_class()
        if hook_class is not None:
            hook = hook_class(
                gcp_conn_id=self.gcp_conn_id or DEFAULT_CONN_ID, impersonation_chain=self.impersonation_chain
            )
            return hook.get_credentials(), hook.project_id
        import google.auth

        if self.gcp_conn_id not in (None, "", DEFAULT_CONN_ID) or self.impersonation_chain:
            log.warning(
                "apache-airflow-providers-google is not installed: gcp_conn_id %r and impersonation_chain are "
                "ignored and google.auth.default() is used",
                self.gcp_conn_id,
            )
        credentials, project = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        return credentials, project

    def job_client(self, region: str) -> Any:
        """Return a ``google.cloud.dataproc_v1.JobControllerClient`` for ``region``."""
        from google.cloud import dataproc_v1

        return self._client(dataproc_v1.JobControllerClient, region)

    def batch_client(self, region: str) -> Any:
        """Return a ``google.cloud.dataproc_v1.BatchControllerClient`` for ``region``.

        Its ``get_operation`` / ``cancel_operation`` serve the long-running operation behind a batch.
        """
        from google.cloud import dataproc_v1

        return self._client(dataproc_v1.BatchControllerClient, region)

    def _client(self, client_class: Any, region: str) -> Any:
        from google.api_core.client_options import ClientOptions

        endpoint = self.endpoint(region)
        credentials, _ = self.credentials_and_project()
        client_info = provider_client_info()
        extra: dict[str, Any] = {} if client_info is None else {"client_info": client_info}
        if self.transport == "grpc" and self.plaintext:
            import grpc

            transport_class = client_class.get_transport_class("grpc")
            channel = grpc.insecure_channel(urlsplit(endpoint).netloc)
            return client_class(transport=transport_class(channel=channel), **extra)
        if self.transport == "grpc":
            return client_class(credentials=credentials, client_options=ClientOptions(api_endpoint=endpoint), **extra)
        return client_class(
            transport="rest", credentials=credentials, client_options=ClientOptions(api_endpoint=endpoint), **extra
        )


def _connection_extras(conn_id: str) -> dict[str, Any]:
    """The extras of Airflow connection ``conn_id`` (``{}`` when it does not exist)."""
    from airflow.sdk import BaseHook

    try:
        connection = BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - AirflowNotFoundException (its module moved between versions)
        return {}
    extras = connection.extra_dejson
    return extras if isinstance(extras, dict) else {}


def provider_hook_class() -> Any:
    """Return the google provider's ``GoogleBaseHook``, or ``None`` without the provider."""
    try:
        from airflow.providers.google.common.hooks.base_google import GoogleBaseHook
    except ImportError:
        return None
    return GoogleBaseHook


def provider_client_info() -> Any:
    """Return the google provider's ``CLIENT_INFO`` (its user agent), or ``None`` without the provider."""
    try:
        from airflow.providers.google.common.consts import CLIENT_INFO
    except ImportError:
        return None
    return CLIENT_INFO


def is_not_found(error: BaseException) -> bool:
    """Return True for Dataproc's "no such job/batch/operation" (``NotFound``, gRPC NOT_FOUND / HTTP 404)."""
    from google.api_core import exceptions

    return isinstance(error, exceptions.NotFound)


def is_already_exists(error: BaseException) -> bool:
    """Return True for an ID conflict: ``AlreadyExists`` over gRPC, ``Conflict`` (409) over REST."""
    from google.api_core import exceptions

    return isinstance(error, exceptions.Conflict)


SUBMIT_RETRY_TIMEOUT_SECONDS = 120.0
"""How long :func:`transient_retry` keeps retrying a ``SubmitJob`` or ``CreateBatch`` by default."""


def transient_retry(timeout_seconds: float) -> Any:
    """A ``google.api_core.retry.Retry`` of every :func:`is_transient` error, for ``timeout_seconds`` in all.

    The client's default retries cover ``UNAVAILABLE`` only (``SubmitJob``) or nothing (``CreateBatch``):
    a 429 (``RESOURCE_EXHAUSTED``), a 500 or a timeout would fail the try. A request that carries its
    ``request_id`` (and derived job or batch ID) can be sent again safely: Dataproc answers a repeat with
    the job it created, or ``ALREADY_EXISTS``, which the operators adopt.

    Args:
        timeout_seconds: The overall deadline of the attempts, in seconds.

    Returns:
        The retry; waits 0.25 s, doubling up to 4 s, between attempts.
    """
    from google.api_core.retry import Retry

    return Retry(predicate=is_transient, initial=0.25, maximum=4.0, multiplier=2.0, timeout=timeout_seconds)


def is_transient(error: BaseException) -> bool:
    """Return True for an error worth retrying in place: 429, 5xx, UNAVAILABLE, DEADLINE_EXCEEDED, timeouts.

    The client library's own retry has run already where it has one; this decides whether the durable
    protocol keeps trying (with backoff) instead of failing the task. It never leads to a resubmission.
    """
    from google.api_core import exceptions

    if isinstance(error, exceptions.MethodNotImplemented):  # 501 / UNIMPLEMENTED: a server error that stays
        return False
    if isinstance(
        error,
        exceptions.TooManyRequests
        | exceptions.ResourceExhausted
        | exceptions.ServerError
        | exceptions.DeadlineExceeded
        | exceptions.RetryError
        | TimeoutError
        | ConnectionError,
    ):
        return True
    try:
        import requests
    except ImportError:  # pragma: no cover - google-api-core's REST transport needs requests
        return False
    return isinstance(error, requests.ConnectionError | requests.Timeout)
