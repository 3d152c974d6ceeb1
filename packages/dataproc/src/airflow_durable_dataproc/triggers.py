"""Triggers of the deferrable Dataproc operators, on core's :class:`~airflow_durable.trigger.JobStatusTrigger`.

Each states only how to read one raw status through ``google-cloud-dataproc``; the poll loop, backoff and
events are core's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from airflow_durable import JobLostError
from airflow_durable.trigger import JobStatusTrigger
from airflow_durable_dataproc.client import DEFAULT_CONN_ID, DataprocConnection, Transport, is_not_found, is_transient
from airflow_durable_dataproc.statuses import BATCH_STATES

# ---------------------------------------------------------------- jobs (DurableDataprocSubmitJobOperator)


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
