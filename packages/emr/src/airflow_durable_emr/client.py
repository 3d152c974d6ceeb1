"""boto3 clients for the three EMR APIs, with credentials from the Airflow connection, and error mapping.

Credentials are never handled here. With the amazon provider installed (``apache-airflow-providers-amazon``)
the client comes from the provider's own hook for the API (``EmrHook``, ``EmrServerlessHook``,
``EmrContainerHook``, all ``AwsBaseHook``), so ``aws_conn_id``, ``region_name``, ``verify`` and
``botocore_config`` mean exactly what they mean for upstream's operators: role assumption, the connection's
``endpoint_url`` extra, and so on. Without it, boto3's default chain (environment, shared config, instance
profile; ``AWS_ENDPOINT_URL``) builds the client, and ``aws_conn_id`` is ignored with a warning.

boto3 is imported on first use, never at DAG parse time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_PROVIDER_HOOKS = {
    "emr": "EmrHook",
    "emr-serverless": "EmrServerlessHook",
    "emr-containers": "EmrContainerHook",
}
"""The amazon provider's hook (in ``airflow.providers.amazon.aws.hooks.emr``) for each boto3 client type."""

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "InternalServerException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
"""AWS error codes worth retrying in place (botocore's standard retry mode retries them too)."""


@dataclass(frozen=True)
class AwsConnection:
    """Where an operator's boto3 clients come from: upstream's ``AwsBaseOperator`` arguments.

    Attributes:
        aws_conn_id: The Airflow connection (``None``: boto3's default chain).
        region_name: The AWS region (``None``: the connection's, else boto3's default).
        verify: SSL verification (``False``, or a CA bundle path), as for ``boto3.client``.
        botocore_config: ``botocore.config.Config`` keyword arguments (retries, timeouts, proxies).
    """

    aws_conn_id: str | None = "aws_default"
    region_name: str | None = None
    verify: bool | str | None = None
    botocore_config: dict[str, Any] | None = None

    def client(self, client_type: str, **hook_kwargs: Any) -> Any:
        """Return a boto3 client for ``client_type`` (``"emr"``, ``"emr-serverless"``, ``"emr-containers"``).

        Args:
            client_type: The boto3 service name.
            **hook_kwargs: Extra arguments for the provider's hook (for example ``virtual_cluster_id``).

        Returns:
            A ``botocore.client.BaseClient``.
        """
        hook_class = provider_hook_class(client_type)
        if hook_class is not None:
            hook = hook_class(
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                config=self.botocore_config,
                **hook_kwargs,
            )
            return hook.conn
        import boto3
        from botocore.config import Config

        if self.aws_conn_id not in (None, "", "aws_default"):
            log.warning(
                "apache-airflow-providers-amazon is not installed: aws_conn_id %r is ignored and boto3's default "
                "credential chain is used",
                self.aws_conn_id,
            )
        config = Config(**self.botocore_config) if self.botocore_config else None
        session = boto3.session.Session(region_name=self.region_name)
        return session.client(client_type, verify=self.verify, config=config)


def provider_hook_class(client_type: str) -> Any:
    """Return the amazon provider's hook class for ``client_type``, or ``None`` without the provider."""
    try:
        from airflow.providers.amazon.aws.hooks import emr
    except ImportError:
        return None
    return getattr(emr, _PROVIDER_HOOKS[client_type])


def error_code(error: BaseException) -> str | None:
    """Return the AWS error code of a ``botocore`` ``ClientError`` (``None`` for anything else)."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code is not None else None


def http_status(error: BaseException) -> int | None:
    """Return the HTTP status of a ``botocore`` ``ClientError`` (``None`` for anything else)."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if isinstance(status, int) else None


def is_transient(error: BaseException) -> bool:
    """Return True for an AWS error worth retrying in place: throttling, 5xx, timeouts, dropped connections.

    botocore's own retry mode has retried it already; this decides whether the durable protocol keeps
    trying (with backoff) instead of failing the task. It never leads to a resubmission.
    """
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(error, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError):
        return True
    code = error_code(error)
    if code in THROTTLING_CODES:
        return True
    status = http_status(error)
    return status is not None and (status == 429 or status >= 500)


def no_blind_retries(client: Any, operation: str) -> None:
    """Make botocore never retry ``operation`` on ``client`` (its other operations keep their retries).

    A create call the service does not deduplicate (``AddJobFlowSteps``, which takes no token; EMR
    Serverless' ``StartJobRun``, whose ``clientToken`` AWS documents no idempotency for) may have created its
    job when it answers a 5xx, times out or drops the connection, and botocore's retry (legacy and standard
    mode alike) would create a second one. The error reaches the operator instead, which looks the job up
    before sending again (``DurableJobMixin``'s submission retry).

    Args:
        client: A boto3 client.
        operation: The API operation's name, as botocore's events spell it (``"StartJobRun"``).
    """

    def veto(**kwargs: Any) -> bool:
        return False  # botocore: a False answer to needs-retry stops every retry handler after it

    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register_first(
        f"needs-retry.{service}.{operation}", veto, unique_id=f"airflow-durable-no-blind-{service}-{operation}-retry"
    )


def is_not_found(error: BaseException) -> bool:
    """Return True for AWS's "no such resource" answer (``ResourceNotFoundException``, HTTP 404)."""
    return error_code(error) == "ResourceNotFoundException" or http_status(error) == 404
