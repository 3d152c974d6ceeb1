"""Triggers of the deferrable EMR operators, on core's :class:`~airflow_durable.trigger.JobStatusTrigger`.

Each states only how to read one raw status through boto3 (and the EMR on EKS one, its ``on_kill``); the
connection arguments and the client are :class:`EmrTrigger`'s, the poll loop, backoff and events core's.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from airflow_durable.trigger import JobStatusTrigger
from airflow_durable_emr import serverless_runs
from airflow_durable_emr.client import AwsConnection, is_transient
from airflow_durable_emr.statuses import (
    CONTAINER_ID_PATTERN,
    CONTAINER_JOB_RUN_STATES,
    SERVERLESS_APPLICATION_STATES,
    SERVERLESS_JOB_RUN_STATES,
    STEP_STATES,
    parse_pair_job_id,
    parse_step_job_id,
)
from airflow_durable_emr.steps_api import steps_status


class EmrTrigger(JobStatusTrigger):
    """What every EMR trigger shares: the AWS connection arguments and the boto3 client (built once).

    The connection is read in the triggerer; no credential is serialized.

    Args:
        external_id: What is polled (see each subclass).
        aws_conn_id: The Airflow AWS connection (``None``: boto3's default chain).
        region_name: The AWS region.
        verify: SSL verification, or a CA bundle path.
        botocore_config: ``botocore.config.Config`` arguments.
        **kwargs: ``JobStatusTrigger``'s polling arguments.
    """

    client_type: ClassVar[str]
    """The boto3 client type (``"emr"``, ``"emr-serverless"``, ``"emr-containers"``)."""
    serialized_fields: ClassVar[tuple[str, ...]] = ("aws_conn_id", "region_name", "verify", "botocore_config")

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

    @property
    def connection(self) -> AwsConnection:
        """Where the boto3 client comes from (the four connection arguments)."""
        return AwsConnection(self.aws_conn_id, self.region_name, self.verify, self.botocore_config)

    @property
    def client(self) -> Any:
        """The boto3 client of :attr:`client_type`, with credentials read in the triggerer."""
        if self._client is None:
            self._client = self.connection.client(self.client_type)
        return self._client

    def is_transient_error(self, error: Exception) -> bool:
        """Throttling, 5xx, timeouts and dropped connections."""
        return is_transient(error)


# ---------------------------------------------------------------- steps (DurableEmrAddStepsOperator)


class DurableEmrStepsTrigger(EmrTrigger):
    """Poll the steps of one submission until every step ended (``ListSteps``, at most 10 step IDs a call).

    ``external_id`` is ``"<cluster id>:<step id>,..."``; the other arguments are :class:`EmrTrigger`'s.
    """

    status_table = STEP_STATES
    client_type = "emr"

    def get_status(self) -> str:
        """The steps' state folded into one (see :func:`airflow_durable_emr.steps_api.steps_status`).

        Raises:
            JobLostError: EMR does not know the cluster, or calls a step not valid.
            EmrStepsReplyError: EMR answers about a step of a known cluster without it (never "lost").
        """
        cluster_id, step_ids = parse_step_job_id(self.external_id)
        return steps_status(self.client, cluster_id, step_ids).state


# ---------------------------------------------------------------- EMR Serverless (DurableEmrServerlessStartJobOperator)


class DurableEmrServerlessJobTrigger(EmrTrigger):
    """Poll one EMR Serverless job run (``GetJobRun``) until it ends.

    ``external_id`` is ``"<application id>:<job run id>"``.
    """

    status_table = SERVERLESS_JOB_RUN_STATES
    client_type = "emr-serverless"

    def get_status(self) -> str:
        """The run's ``state``.

        Raises:
            JobLostError: The API does not know the run.
            DurableJobError: A reply without a state.
        """
        application_id, job_run_id = serverless_runs.parse_job_run_external_id(self.external_id)
        return str(serverless_runs.get_job_run(self.client, application_id, job_run_id)["state"])


class DurableEmrServerlessApplicationTrigger(EmrTrigger):
    """Poll an EMR Serverless application (``GetApplication``, ``external_id`` its ID) until it settles.

    The operator defers on it while its application starts (``deferrable=True``), before any intent is written;
    when the task resumes, ``execute`` checks the application again and submits, or fails.
    """

    status_table = SERVERLESS_APPLICATION_STATES
    client_type = "emr-serverless"

    def get_status(self) -> str:
        """The application's ``state``.

        Raises:
            JobLostError: The API does not know the application.
            DurableJobError: A reply without a state.
        """
        return serverless_runs.application_state(self.client, str(self.external_id))


# ---------------------------------------------------------------- EMR on EKS (DurableEmrContainerOperator)


class DurableEmrContainerTrigger(EmrTrigger):
    """Poll one EMR on EKS job run (``DescribeJobRun``) until it ends; cancel it when a user kills the task.

    ``CANCEL_PENDING`` is active until the run ends (upstream's waiter has no rule for it). The connection is
    read in the triggerer; no credential is serialized.

    Args:
        external_id: ``"<virtual cluster id>:<job run id>"``.
        aws_conn_id: The Airflow AWS connection (``None``: boto3's default chain).
        region_name: The AWS region.
        verify: SSL verification, or a CA bundle path.
        botocore_config: ``botocore.config.Config`` arguments.
        cancel_on_kill: Cancel the run when a user marks the deferred task failed or succeeded, or clears it.
        cancel_timeout_seconds: How long that cancel may take.
        **kwargs: ``JobStatusTrigger``'s polling arguments.
    """

    status_table = CONTAINER_JOB_RUN_STATES
    client_type = "emr-containers"
    serialized_fields = (*EmrTrigger.serialized_fields, "cancel_on_kill", "cancel_timeout_seconds")

    def __init__(
        self,
        external_id: str,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        cancel_on_kill: bool = True,
        cancel_timeout_seconds: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(external_id, aws_conn_id, region_name, verify, botocore_config, **kwargs)
        self.cancel_on_kill = cancel_on_kill
        self.cancel_timeout_seconds = cancel_timeout_seconds
        self._job_runs: Any = None

    def _runs(self) -> Any:
        from airflow_durable_emr.containers import EmrContainerJobRuns

        if self._job_runs is None:
            virtual_cluster_id = parse_pair_job_id(self.external_id, CONTAINER_ID_PATTERN)[0]
            self._job_runs = EmrContainerJobRuns(self.connection, virtual_cluster_id)
        return self._job_runs

    def get_status(self) -> str:
        """``DescribeJobRun``'s ``state`` (``JobLostError`` when EMR on EKS does not know the run)."""
        state: str = self._runs().describe(*parse_pair_job_id(self.external_id, CONTAINER_ID_PATTERN))["state"]
        return state

    async def on_kill(self) -> None:
        """Cancel the run (when ``cancel_on_kill``), bounded by ``cancel_timeout_seconds``; never raises."""
        if not self.cancel_on_kill:
            return
        virtual_cluster_id, job_run_id = parse_pair_job_id(self.external_id, CONTAINER_ID_PATTERN)
        self.log.info("Cancelling EMR on EKS job run %s of virtual cluster %s", job_run_id, virtual_cluster_id)
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._runs().cancel, virtual_cluster_id, job_run_id), self.cancel_timeout_seconds
            )
        except Exception as err:  # noqa: BLE001 - a kill must not raise
            self.log.error("Cancelling EMR on EKS job run %s failed: %r; it may still be running", job_run_id, err)
