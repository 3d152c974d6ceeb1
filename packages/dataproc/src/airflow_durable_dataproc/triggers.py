"""Triggers of the deferrable Dataproc operators, on core's :class:`~airflow_durable.trigger.JobStatusTrigger`.

Each states only how to read one raw status through ``google-cloud-dataproc`` and how to cancel; the
connection arguments, the client and the bounded cancel on kill are :class:`DataprocTrigger`'s, the poll loop,
backoff and events core's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

from airflow_durable import JobLostError
from airflow_durable.trigger import JobStatusTrigger
from airflow_durable_dataproc.client import (
    DEFAULT_CONN_ID,
    DataprocConnection,
    Transport,
    is_not_found,
    is_transient,
)
from airflow_durable_dataproc.statuses import BATCH_STATES, JOB_STATES, state_name


class DataprocTrigger(JobStatusTrigger):
    """What every Dataproc trigger shares: the connection arguments, the client, a bounded cancel on kill.

    The connection is read in the triggerer; no credential is serialized. The transport and endpoint are the
    ones the operator resolved.

    Args:
        external_id: What is polled (see each subclass).
        project_id: The Google Cloud project.
        region: The Dataproc region.
        gcp_conn_id: The Airflow Google Cloud connection.
        impersonation_chain: A service account (or a chain of them) to impersonate.
        transport: ``"grpc"`` or ``"rest"``.
        api_endpoint: The Dataproc endpoint (``None``: Google's regional one).
        cancel_on_kill: Cancel when a user marks the deferred task failed or succeeded, or clears it.
        cancel_timeout_seconds: How long that cancel may take.
        **kwargs: ``JobStatusTrigger``'s polling arguments.
    """

    serialized_fields: ClassVar[tuple[str, ...]] = (
        "project_id",
        "region",
        "gcp_conn_id",
        "impersonation_chain",
        "transport",
        "api_endpoint",
        "cancel_on_kill",
        "cancel_timeout_seconds",
    )

    def __init__(
        self,
        external_id: Any,
        project_id: str,
        region: str,
        gcp_conn_id: str | None = DEFAULT_CONN_ID,
        impersonation_chain: str | Sequence[str] | None = None,
        transport: Transport = "grpc",
        api_endpoint: str | None = None,
        cancel_on_kill: bool = True,
        cancel_timeout_seconds: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(external_id, **kwargs)
        self.project_id = project_id
        self.region = region
        self.gcp_conn_id = gcp_conn_id
        self.impersonation_chain = impersonation_chain
        self.transport: Transport = transport
        self.api_endpoint = api_endpoint
        self.cancel_on_kill = cancel_on_kill
        self.cancel_timeout_seconds = cancel_timeout_seconds
        self._client: Any = None

    @property
    def connection(self) -> DataprocConnection:
        """Where the client comes from."""
        return DataprocConnection(self.gcp_conn_id, self.impersonation_chain, self.transport, self.api_endpoint)

    def make_client(self) -> Any:
        """Build the ``google-cloud-dataproc`` client this trigger polls with (subclasses pick which)."""
        raise NotImplementedError

    @property
    def client(self) -> Any:
        """The client of :meth:`make_client`, with credentials read in the triggerer (built once)."""
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def is_transient_error(self, error: Exception) -> bool:
        """429, 5xx, timeouts and dropped connections."""
        return is_transient(error)

    def cancel(self) -> None:
        """Cancel what is polled (a blocking call, run in a worker thread)."""
        raise NotImplementedError

    async def on_kill(self) -> None:
        """Cancel (when ``cancel_on_kill``), bounded by ``cancel_timeout_seconds``; never raises."""
        if not self.cancel_on_kill:
            return
        self.log.info("Cancelling Dataproc %r", self.external_id)
        try:
            await asyncio.wait_for(asyncio.to_thread(self.cancel), self.cancel_timeout_seconds)
        except Exception as err:  # noqa: BLE001 - a kill must not raise
            self.log.error("Cancelling Dataproc %r failed: %r; it may still be running", self.external_id, err)


# ---------------------------------------------------------------- jobs (DurableDataprocSubmitJobOperator)


class DurableDataprocJobTrigger(DataprocTrigger):
    """Poll one Dataproc job (``GetJob``) until it ends; cancel it (``CancelJob``) when a user kills the task.

    ``external_id`` is the job ID; the other arguments are :class:`DataprocTrigger`'s.
    """

    status_table = JOB_STATES

    def make_client(self) -> Any:
        """A ``JobControllerClient`` for the region."""
        return self.connection.job_client(self.region)

    def _request(self) -> dict[str, Any]:
        return {"project_id": self.project_id, "region": self.region, "job_id": str(self.external_id)}

    def get_status(self) -> str:
        """The job's ``status.state`` name.

        Raises:
            JobLostError: Dataproc does not know the job.
        """
        try:
            job = self.client.get_job(request=self._request())
        except Exception as err:
            if is_not_found(err):
                raise JobLostError(self.external_id, f"Dataproc does not know job {self.external_id!r}") from err
            raise
        return state_name(job.status.state)

    def cancel(self) -> None:
        """``CancelJob``, bounded by ``cancel_timeout_seconds``."""
        self.client.cancel_job(request=self._request(), retry=None, timeout=self.cancel_timeout_seconds)


# ---------------------------------------------------------------- batches (DurableDataprocCreateBatchOperator)


class DurableDataprocBatchTrigger(JobStatusTrigger):
    """Poll one Dataproc Serverless batch (``GetBatch``) until it ends.

    ``CANCELLING`` is active until the batch ends; ``STATE_UNSPECIFIED`` or an unlisted state ends the wait
    with an error naming it. The connection is read in the triggerer; no credential is serialized.

    Args:
        external_id: The batch ID.
        project_id: The batch's project.
        region: The batch's region.
        gcp_conn_id: The Airflow connection.
        impersonation_chain: A service account, or a chain, to impersonate.
        transport: ``"grpc"`` or ``"rest"``.
        api_endpoint: The API endpoint (``None``: ``{region}-dataproc.googleapis.com:443``).
        **kwargs: ``JobStatusTrigger``'s polling arguments.
    """

    status_table = BATCH_STATES
    serialized_fields: ClassVar[tuple[str, ...]] = (
        "project_id",
        "region",
        "gcp_conn_id",
        "impersonation_chain",
        "transport",
        "api_endpoint",
    )

    def __init__(
        self,
        external_id: str,
        project_id: str,
        region: str,
        gcp_conn_id: str | None = DEFAULT_CONN_ID,
        impersonation_chain: str | Sequence[str] | None = None,
        transport: Transport = "grpc",
        api_endpoint: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(external_id, **kwargs)
        self.project_id = project_id
        self.region = region
        self.gcp_conn_id = gcp_conn_id
        self.impersonation_chain = impersonation_chain
        self.transport: Transport = transport
        self.api_endpoint = api_endpoint
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The ``BatchControllerClient``, with credentials read in the triggerer (built once)."""
        if self._client is None:
            connection = DataprocConnection(
                self.gcp_conn_id, self.impersonation_chain, self.transport, self.api_endpoint
            )
            self._client = connection.batch_client(self.region)
        return self._client

    def get_status(self) -> str:
        """The batch's ``state`` name.

        Raises:
            JobLostError: Dataproc does not know the batch.
        """
        name = f"projects/{self.project_id}/locations/{self.region}/batches/{self.external_id}"
        try:
            batch = self.client.get_batch(name=name, retry=None, timeout=60)
        except Exception as err:
            if is_not_found(err):
                raise JobLostError(self.external_id, str(err)) from err
            raise
        from airflow_durable_dataproc.batches import batch_state_name

        return batch_state_name(batch)

    def is_transient_error(self, error: Exception) -> bool:
        """429, 5xx, UNAVAILABLE, DEADLINE_EXCEEDED and timeouts."""
        return is_transient(error)
