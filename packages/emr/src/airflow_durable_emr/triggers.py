"""Triggers of the deferrable EMR operators, on core's :class:`~airflow_durable.trigger.JobStatusTrigger`.

Each states only how to read one raw status through boto3; the poll loop, backoff and events are core's.
"""

from __future__ import annotations

from typing import Any

from airflow_durable.trigger import JobStatusTrigger
from airflow_durable_emr.statuses import STEP_STATES

# ---------------------------------------------------------------- steps (DurableEmrAddStepsOperator)


class DurableEmrStepsTrigger(JobStatusTrigger):
    """Poll the steps of one submission until every step ended (``ListSteps``, at most 10 step IDs a call).

    Args:
        external_id: ``"<cluster id>:<step id>,..."``.
        aws_conn_id: The Airflow AWS connection.
        region_name: The AWS region.
        verify: SSL certificate verification.
        botocore_config: ``botocore.config.Config`` keyword arguments.
        **kwargs: ``JobStatusTrigger``'s polling arguments.
    """

    status_table = STEP_STATES
    serialized_fields = ("aws_conn_id", "region_name", "verify", "botocore_config")

    def __init__(
        self,
        external_id: Any,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(external_id, **kwargs)
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config
        self._client: Any = None

    def get_status(self) -> str:
        """The steps' state folded into one (see :func:`airflow_durable_emr.steps_api.steps_status`).

        Raises:
            JobLostError: EMR does not know the cluster, or calls a step not valid.
            EmrStepsReplyError: EMR answers about a step of a known cluster without it (never "lost").
        """
        from airflow_durable_emr.client import AwsConnection
        from airflow_durable_emr.statuses import parse_step_job_id
        from airflow_durable_emr.steps_api import steps_status

        if self._client is None:
            connection = AwsConnection(self.aws_conn_id, self.region_name, self.verify, self.botocore_config)
            self._client = connection.client("emr")
        cluster_id, step_ids = parse_step_job_id(self.external_id)
        return steps_status(self._client, cluster_id, step_ids).state

    def is_transient_error(self, error: Exception) -> bool:
        """Throttling, 5xx, timeouts and dropped connections."""
        from airflow_durable_emr.client import is_transient

        return is_transient(error)


# ---------------------------------------------------------------- EMR Serverless (DurableEmrServerlessStartJobOperator)


# ---------------------------------------------------------------- EMR on EKS (DurableEmrContainerOperator)
