"""Triggers of the deferrable EMR operators, on core's :class:`~airflow_durable.trigger.JobStatusTrigger`.

Each states only how to read one raw status through boto3; the poll loop, backoff and events are core's.
"""

from __future__ import annotations

from typing import Any

from airflow_durable.trigger import JobStatusTrigger
from airflow_durable_emr import serverless_runs
from airflow_durable_emr.client import AwsConnection, is_transient
from airflow_durable_emr.statuses import SERVERLESS_JOB_RUN_STATES, parse_pair_job_id

# ---------------------------------------------------------------- steps (DurableEmrAddStepsOperator)


# ---------------------------------------------------------------- EMR Serverless (DurableEmrServerlessStartJobOperator)


class DurableEmrServerlessJobTrigger(JobStatusTrigger):
    """Poll one EMR Serverless job run (``GetJobRun``) until it ends; credentials are read in the triggerer.

    Args:
        external_id: ``"<application id>:<job run id>"``.
        aws_conn_id: The Airflow AWS connection (``None``: boto3's default chain).
        region_name: The AWS region.
        verify: SSL verification, as for ``boto3.client``.
        botocore_config: ``botocore.config.Config`` arguments.
        **kwargs: ``JobStatusTrigger``'s polling arguments.
    """

    status_table = SERVERLESS_JOB_RUN_STATES
    serialized_fields = ("aws_conn_id", "region_name", "verify", "botocore_config")

    def __init__(
        self,
        external_id: str,
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
        """The run's ``state``.

        Raises:
            JobLostError: The API does not know the run.
            DurableJobError: A reply without a state.
        """
        application_id, job_run_id = parse_pair_job_id(self.external_id)
        if self._client is None:
            connection = AwsConnection(self.aws_conn_id, self.region_name, self.verify, self.botocore_config)
            self._client = connection.client("emr-serverless")
        return str(serverless_runs.get_job_run(self._client, application_id, job_run_id)["state"])

    def is_transient_error(self, error: Exception) -> bool:
        """Throttling, 5xx, timeouts and dropped connections."""
        return is_transient(error)


# ---------------------------------------------------------------- EMR on EKS (DurableEmrContainerOperator)
