"""What the three EMR operators share: upstream's ``AwsBaseOperator`` arguments and the protocol's wiring.

Each operator (:mod:`~airflow_durable_emr.steps`, :mod:`~airflow_durable_emr.serverless`,
:mod:`~airflow_durable_emr.containers`) keeps its own upstream signature, defaults, template fields and
docstring; :class:`DurableEmrOperatorBase` holds the rest once:

* the four AWS arguments (``aws_conn_id``, ``region_name``, ``verify``, ``botocore_config``) and the
  :class:`~airflow_durable_emr.client.AwsConnection` they make, for the operator and for its trigger;
* upstream's ``execute_complete`` as the resume method, ``wait_for_completion=False`` as fire-and-forget;
* a failed job raised as upstream's error (:meth:`DurableEmrOperatorBase.job_failed_error`), on the polling and
  on the deferred path;
* ``cancel_on_kill`` gating ``on_kill``; throttling, 5xx and dropped connections as transient errors.

Importing this module does not import boto3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_durable.upstream_interface import UpstreamInterfaceMixin
from airflow_durable_emr.client import AwsConnection, is_transient

if TYPE_CHECKING:
    pass

AWS_TEMPLATE_FIELDS = ("aws_conn_id", "region_name", "verify")
"""The arguments upstream's ``AwsBaseOperator`` templates (``botocore_config`` is not templated)."""


def aws_template_fields(*fields: str) -> tuple[str, ...]:
    """Return ``fields`` and :data:`AWS_TEMPLATE_FIELDS`, sorted: the ``template_fields`` of an upstream AWS operator.

    Args:
        *fields: The operator's own templated arguments.
    """
    return tuple(sorted({*AWS_TEMPLATE_FIELDS, *fields}))


class DurableEmrOperatorBase(UpstreamInterfaceMixin, BaseOperator):
    """The base of the durable EMR operators (not an operator itself): see the module docstring.

    A subclass sets the mixin's class attributes (``external_id_key``, ``status_table``), the protocol's
    methods, ``wait_for_completion`` and ``deferrable``, and maps a failed job to upstream's error in
    :meth:`job_failed_error`.

    Args:
        aws_conn_id: The Airflow AWS connection; ``None``: boto3's default chain.
        region_name: The AWS region.
        verify: SSL verification (``False``, or a CA bundle path).
        botocore_config: ``botocore.config.Config`` keyword arguments.
        **kwargs: ``DurableJobMixin`` and ``BaseOperator`` arguments.
    """

    supports_token_lookup: ClassVar[bool] = True
    supports_cancel: ClassVar[bool] = True
    fire_and_forget_kwargs: ClassVar[dict[str, Any]] = {"wait_for_completion": False}
    resume_method_name: ClassVar[str] = "execute_complete"
    cancel_on_kill: bool = True
    """Whether ``on_kill`` cancels the job this try owns (an argument where upstream's operator has it)."""
    wait_for_completion: bool
    deferrable: bool

    def __init__(
        self,
        *,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config

    @property
    def aws(self) -> AwsConnection:
        """Where the boto3 clients come from (upstream's four ``AwsBaseOperator`` arguments)."""
        return AwsConnection(self.aws_conn_id, self.region_name, self.verify, self.botocore_config)

    def trigger_kwargs(self) -> dict[str, Any]:
        """The keyword arguments every EMR trigger takes from its operator: the AWS ones and the polling ones."""
        return {
            "aws_conn_id": self.aws_conn_id,
            "region_name": self.region_name,
            "verify": self.verify,
            "botocore_config": self.botocore_config,
            "poll_interval_seconds": self.poll_interval_seconds,
            "max_poll_interval_seconds": self.max_poll_interval_seconds,
            "max_transient_errors": self.max_transient_errors,
        }

    # ------------------------------------------------------------------ protocol

    def waits_for_job(self) -> bool:
        """``wait_for_completion`` or ``deferrable``; False makes the operator fire-and-forget, exactly once."""
        return bool(self.wait_for_completion or self.deferrable)

    def is_transient_error(self, error: Exception) -> bool:
        """Throttling, 5xx, timeouts and dropped connections (see :func:`airflow_durable_emr.client.is_transient`)."""
        return is_transient(error)

    def on_kill(self) -> None:
        """Cancel the job this try owns when ``cancel_on_kill`` (bounded by ``cancel_timeout_seconds``)."""
        if not self.cancel_on_kill:
            self.log.info("on_kill: cancel_on_kill is False; job run %s keeps running", getattr(self, "job_id", None))
            return
        super().on_kill()
