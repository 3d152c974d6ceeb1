"""``DurableDataprocCreateBatchOperator``: a Dataproc Serverless batch, exactly once, on ``google-cloud-dataproc``.

Importing this module does not import ``google.cloud.dataproc_v1`` (nor the google provider): DAG files
parse fast.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException

from airflow_durable import JobFailedError, JobLostError
from airflow_durable.links import ProviderLinks
from airflow_durable.upstream_interface import flag_or_conf
from airflow_durable_dataproc import statuses
from airflow_durable_dataproc.base import DEFAULT, DataprocRequestError, DurableDataprocOperatorBase
from airflow_durable_dataproc.client import DEFAULT_CONN_ID, Transport, is_already_exists, is_not_found

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

BATCH_LINK_KEY = "dataproc_batch"
"""The XCom key of the batch link (the provider's ``DataprocBatchLink.key``)."""
PROVIDER_LINKS = ProviderLinks("DataprocBatchLink", module="airflow.providers.google.cloud.links.dataproc")
"""The ``operator_extra_links``: the google provider's ``DataprocBatchLink``, imported when first read."""
BATCH_LINK_PATH = "/dataproc/batches/{region}/{batch_id}/monitoring?project={project_id}"
"""The path of the provider's ``DATAPROC_BATCH_LINK``: the batch's page in the console (the driver logs)."""
LABELS_LIMIT = 32
"""The most labels a batch may carry (upstream adds its three only when they fit)."""
LABEL_VALUE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
"""A label value upstream adds (its own check)."""
UNREACHABLE_REGIONS = frozenset({"global"})
"""Regions with no batch endpoint: Dataproc Serverless is regional only (``global`` serves clusters and jobs)."""
BATCH_ID_SUFFIX_LENGTH = 8
"""Upstream's random suffix of a ``batch_id_prefix`` ID (``durable=False`` keeps it)."""


class DataprocBatchFailedError(JobFailedError, AirflowException):
    """The batch ended ``FAILED`` or ``CANCELLED``; upstream's text (``Batch job ... failed with error``).

    Attributes:
        external_id: The batch ID.
        status: The batch's terminal state.
    """

    def __init__(self, batch_id: str, status: str, message: str) -> None:
        super().__init__(batch_id, status, message)
        self.args = (message,)


def batch_link(region: str, project_id: str, batch_id: str) -> str:
    """The batch's console page as upstream's error and log show it (the provider's ``DATAPROC_BATCH_LINK``).

    The host is ``console.cloud.<domain>``, ``<domain>`` being ``GOOGLE_CLOUD_HIGH_VALUE_COOKIE_DOMAIN`` or
    ``google.com``, as the provider's ``GoogleBaseHook.get_high_value_cookie_domain``.
    """
    domain = os.getenv("GOOGLE_CLOUD_HIGH_VALUE_COOKIE_DOMAIN") or "google.com"
    return f"https://console.cloud.{domain}" + BATCH_LINK_PATH.format(
        region=region, project_id=project_id, batch_id=batch_id
    )


def airflow_labels(dag_id: str, task_id: str, dag_display_name: str | None) -> dict[str, str]:
    """Upstream's batch labels: ``airflow-dag-id``, ``airflow-task-id``, ``airflow-dag-display-name``.

    Each is lower-cased with characters outside ``[a-z0-9-]`` replaced by ``-``; none is added when the DAG
    or task ID does not make a valid label value, and the display name only when it does.
    """
    dag_label = re.sub(r"[^a-z0-9-]", "-", dag_id.lower())
    task_label = re.sub(r"[^a-z0-9-]", "-", task_id.lower())
    if not LABEL_VALUE.match(dag_label) or not LABEL_VALUE.match(task_label):
        return {}
    labels = {"airflow-dag-id": dag_label, "airflow-task-id": task_label}
    if dag_display_name is not None:
        display = re.sub(r"[^a-z0-9-]", "-", dag_display_name.lower())
        if LABEL_VALUE.match(display):
            labels["airflow-dag-display-name"] = display
    return labels


class DurableDataprocCreateBatchOperator(DurableDataprocOperatorBase):
    """Crash-safe ``DataprocCreateBatchOperator``: ``CreateBatch`` exactly once, then wait for the batch.

    Takes the arguments of ``airflow.providers.google.cloud.operators.dataproc.DataprocCreateBatchOperator``
    (same defaults and templated fields), adds upstream's labels, persists the ``DataprocBatchLink`` and
    returns ``Batch.to_dict`` of the batch, on every path (deferrable included: upstream returns ``None``
    there). See https://cloud.google.com/dataproc-serverless/docs/reference/rest/v1/projects.locations.batches/create.

    Exactly once:

    * ``batch_id`` is derived from the protocol's submission token (:func:`~airflow_durable_dataproc.statuses.
      derive_batch_id`, 4-63 of ``[a-z0-9-]``), new with every generation; ``request_id`` is the token. A
      user's ``batch_id``, ``batch_id_prefix`` or ``request_id`` only seeds the token (and prefixes the ID).
      So a retry after a failed batch creates a new batch: it never gets ``ALREADY_EXISTS`` and attaches to
      the old failed batch, as upstream's retries do with a static ``batch_id``.
    * A retry after a crash between ``CreateBatch`` and the persist finds the batch by its derived ID
      (``GetBatch``) and adopts it; ``ALREADY_EXISTS`` for our own derived ID also means "adopt".
    * ``CANCELLING`` is active until the batch ends; ``CANCELLED`` is a failure. Neither is ever success.
      ``STATE_UNSPECIFIED``, or a state no table lists, is an error naming it (upstream's wait returns it).
    * ``asynchronous=True`` is fire-and-forget exactly once: a retry returns the batch already created.
    * ``on_kill`` cancels the batch this try owns (created, adopted or reconnected to) through its operation
      (``Batch.operation``: Dataproc has no ``CancelBatch``), bounded by ``cancel_timeout_seconds``; so does
      the trigger when a deferred task is killed.
    * Bad input (a malformed ``batch_id``/``batch_id_prefix``/``request_id``, a batch without exactly one
      batch type or with an unknown field, no project, a region that is ``global``, malformed or unreachable)
      raises :class:`~airflow_durable_dataproc.base.DataprocRequestError` before any intent is written.

    Stored state: the ``airflow_durable`` record (see ``DurableJobMixin``) under ``dataproc_batch_id``,
    ``external_id`` the batch ID (in ``project_id`` and ``region``).

    With ``durable=False`` it submits as upstream: the user's ``batch_id`` (or ``<prefix>-<8 hex>``, or a
    server-generated ID) and ``request_id`` as given; an ``ALREADY_EXISTS`` then fails the task, since nothing
    says the existing batch is this task's.

    Args:
        region: The Dataproc region (templated).
        project_id: The project (templated); default the connection's project.
        batch: The batch, a dict or a ``google.cloud.dataproc_v1.Batch`` (templated).
        batch_id: Seeds (and prefixes) the derived batch ID; 4-63 of ``[a-z0-9-]`` (templated).
        batch_id_prefix: Seeds (and prefixes) the derived batch ID; exclusive with ``batch_id`` and
            ``request_id`` (templated).
        request_id: Seeds the derived ``request_id`` (never sent as given when durable).
        num_retries_if_resource_is_not_ready: Kept for compatibility; a batch that fails because resources
            are not ready fails the try, and Airflow's retry creates a new batch (see ``docs/migration.md``).
        retry: The client library's retry of each call (``DEFAULT``: the method's own).
        timeout: Seconds each call may take.
        metadata: More gRPC metadata of each call.
        gcp_conn_id: The Airflow connection (templated); see :mod:`airflow_durable_dataproc.client`.
        impersonation_chain: A service account, or a chain, to impersonate (templated).
        result_retry: Kept for compatibility; unused (as upstream's).
        asynchronous: Return once the batch is created, without waiting: fire-and-forget, exactly once.
        deferrable: Wait in the triggerer (default ``[operators] default_deferrable``).
        polling_interval_seconds: Seconds between status polls (default 5); the first poll interval.
        openlineage_inject_parent_job_info: Inject the OpenLineage parent job into the batch's Spark
            properties (default ``[openlineage] spark_inject_parent_job_info``; needs the google provider).
        openlineage_inject_transport_info: Inject the OpenLineage transport (default
            ``[openlineage] spark_inject_transport_info``; needs the google provider).
        transport: ``"grpc"`` or ``"rest"``; default the connection's ``dataproc_transport`` extra, else gRPC.
        api_endpoint: The API endpoint; default the connection's ``dataproc_api_endpoint`` extra, else
            ``{region}-dataproc.googleapis.com:443``.
        poll_interval_seconds: The first delay between polls (default ``polling_interval_seconds``).
        max_poll_interval_seconds: The ceiling the delay grows to, and the bound on the detection latency
            (default ``max(120 s, 4 x`` the first delay``)``, the core policy; ``polling_interval_seconds``
            gives upstream's fixed cadence).
        **kwargs: ``DurableJobMixin`` (``on_lost_job``, ``cancel_timeout_seconds``, ``durable``...) and
            ``BaseOperator`` arguments.

    Raises:
        ValueError: On construction, ``deferrable`` with ``polling_interval_seconds`` <= 0 (upstream's text).
    """

    external_id_key = "dataproc_batch_id"
    status_table = statuses.BATCH_STATES
    template_fields: Sequence[str] = (
        "project_id",
        "batch",
        "batch_id",
        "batch_id_prefix",
        "region",
        "gcp_conn_id",
        "impersonation_chain",
    )
    operator_extra_links = PROVIDER_LINKS

    def __init__(
        self,
        *,
        region: str,
        project_id: str | None = None,
        batch: Any,
        batch_id: str | None = None,
        batch_id_prefix: str | None = None,
        request_id: str | None = None,
        num_retries_if_resource_is_not_ready: int = 0,
        retry: Any = DEFAULT,
        timeout: float | None = None,
        metadata: Sequence[tuple[str, str]] = (),
        gcp_conn_id: str = DEFAULT_CONN_ID,
        impersonation_chain: str | Sequence[str] | None = None,
        result_retry: Any = DEFAULT,
        asynchronous: bool = False,
        deferrable: bool | None = None,
        polling_interval_seconds: int = 5,
        openlineage_inject_parent_job_info: bool | None = None,
        openlineage_inject_transport_info: bool | None = None,
        transport: Transport | None = None,
        api_endpoint: str | None = None,
        poll_interval_seconds: float | None = None,
        max_poll_interval_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:
        deferrable = flag_or_conf(deferrable, "operators", "default_deferrable")
        if deferrable and polling_interval_seconds <= 0:
            raise ValueError("Invalid value for polling_interval_seconds. Expected value greater than 0")
        first = float(max(polling_interval_seconds, 0)) if poll_interval_seconds is None else poll_interval_seconds
        super().__init__(
            region=region,
            project_id=project_id,
            retry=retry,
            timeout=timeout,
            metadata=metadata,
            gcp_conn_id=gcp_conn_id,
            impersonation_chain=impersonation_chain,
            transport=transport,
            api_endpoint=api_endpoint,
            poll_interval_seconds=first,
            max_poll_interval_seconds=None
            if max_poll_interval_seconds is None
            else max(first, max_poll_interval_seconds),
            **kwargs,
        )
        self.batch = batch
        self.batch_id = batch_id
        self.batch_id_prefix = batch_id_prefix
        self.request_id = request_id
        self.num_retries_if_resource_is_not_ready = num_retries_if_resource_is_not_ready
        self.result_retry = result_retry
        self.asynchronous = asynchronous
        self.deferrable = deferrable
        self.polling_interval_seconds = polling_interval_seconds
        self.openlineage_inject_parent_job_info = flag_or_conf(
            openlineage_inject_parent_job_info, "openlineage", "spark_inject_parent_job_info"
        )
        self.openlineage_inject_transport_info = flag_or_conf(
            openlineage_inject_transport_info, "openlineage", "spark_inject_transport_info"
        )
        self.operation: Any = None
        """The ``CreateBatch`` operation of this try (upstream's attribute), when this try created the batch."""
        self._client: Any = None
        self._last_batch: tuple[str, Any] | None = None
        self._request_batch: Any = None

    # ------------------------------------------------------------------ client

    @property
    def client(self) -> Any:
        """The ``BatchControllerClient`` of this try (built on first use)."""
        if self._client is None:
            self._client = self.connection.batch_client(self.region)
        return self._client

    def batch_name(self, batch_id: str) -> str:
        """``projects/{project}/locations/{region}/batches/{batch_id}``."""
        return f"projects/{self.project}/locations/{self.region}/batches/{batch_id}"

    def get_batch(self, batch_id: str) -> Any:
        """``GetBatch`` of one of this operator's batches.

        Raises:
            JobLostError: Dataproc does not know the batch.
        """
        try:
            batch = self.client.get_batch(name=self.batch_name(batch_id), **self.call_options())
        except Exception as err:
            if is_not_found(err):
                raise JobLostError(batch_id, str(err)) from err
            raise
        self._last_batch = (batch_id, batch)
        return batch

    # ------------------------------------------------------------------ execute

    def execute(self, context: Context) -> Any:
        """Run the durable protocol (see ``DurableJobMixin``); returns ``Batch.to_dict`` of the batch.

        Raises:
            AirflowException: Both ``asynchronous`` and ``deferrable`` (upstream's text), before anything else.
            DataprocBatchFailedError: The batch failed or was cancelled.
        """
        if self.asynchronous and self.deferrable:
            raise AirflowException("Both asynchronous and deferrable parameters were passed. Please, provide only one.")
        return self.execute_resumable(context)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired (upstream's method name); returns ``Batch.to_dict`` of the batch.

        Raises:
            AirflowException: No event (upstream's ``Batch failed.``).
            DataprocBatchFailedError: The batch failed or was cancelled.
            DurableJobError: The trigger could not finish polling; the retry reconnects.
        """
        if event is None:
            raise AirflowException("Batch failed.")
        return super().execute_complete(context, event)

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        """The mixin's polling; a failed or cancelled batch raises upstream's error.

        Raises:
            DataprocBatchFailedError: The batch failed or was cancelled.
        """
        self.log.info("Waiting for the completion of batch job %s", external_id)
        super().poll_until_complete(external_id, context)

    def job_failed_error(self, err: JobFailedError, *, resumed: bool) -> JobFailedError:
        """Upstream's error for a failed or cancelled batch, with its ``state_message``."""
        if isinstance(err, DataprocBatchFailedError):
            return err
        batch_id = str(err.external_id)
        link = batch_link(self.region, self.project, batch_id)
        if err.status == "FAILED":
            message = self._state_message(batch_id)
            return DataprocBatchFailedError(
                batch_id, err.status, f"Batch job {batch_id} failed with error: {message}.\nDriver logs: {link}"
            )
        return DataprocBatchFailedError(
            batch_id, err.status, f"Batch job {batch_id} was cancelled.\nDriver logs: {link}"
        )

    def _state_message(self, batch_id: str) -> str:
        if self._last_batch is None or self._last_batch[0] != batch_id:
            try:
                self._call_vendor(lambda: self.get_batch(batch_id))
            except Exception as err:  # noqa: BLE001 - the failure is reported either way
                self.log.warning("Could not read the state message of batch %s: %r", batch_id, err)
                return ""
        assert self._last_batch is not None
        return str(self._last_batch[1].state_message)

    # ------------------------------------------------------------------ submission

    def prepare_submission(self, context: Context) -> None:
        """Check the request and build the batch (labels, OpenLineage) before any intent is written.

        Raises:
            ValueError: ``batch_id`` with ``batch_id_prefix``, or ``batch_id_prefix`` with ``request_id``
                (upstream's texts).
            DataprocRequestError: A ``batch_id``, ``batch_id_prefix`` or ``request_id`` that breaks the API's
                pattern; a batch that is not a valid ``Batch`` (an unknown field, no batch type or more than
                one); no project; a region that is malformed, ``global``, not served or cannot be reached.
        """
        if self.batch_id and self.batch_id_prefix:
            raise ValueError("batch_id and batch_id_prefix are mutually exclusive")
        if self.batch_id_prefix and self.request_id:
            raise ValueError("batch_id_prefix and request_id are mutually exclusive")
        for check, value, what in (
            (statuses.check_batch_id, self.batch_id, "batch_id"),
            (statuses.check_batch_id_prefix, self.batch_id_prefix, "batch_id_prefix"),
            (statuses.check_request_id, self.request_id, "request_id"),
        ):
            if value:
                try:
                    check(value)
                except ValueError as err:
                    raise DataprocRequestError(f"{what}: {err}") from err
        self._request_batch = self._checked_batch()
        if self.region in UNREACHABLE_REGIONS:
            raise DataprocRequestError(
                f"region {self.region!r} has no Dataproc Serverless endpoint: batches run in a region "
                "(such as 'us-central1')"
            )
        _ = self.project
        self.check_region(
            lambda seconds: next(
                iter(
                    self.client.list_batches(
                        request={"parent": self._parent(), "page_size": 1}, retry=None, timeout=seconds
                    ).batches
                ),
                None,
            )
        )
        if self.openlineage_inject_parent_job_info or self.openlineage_inject_transport_info:
            self.log.info("Automatic injection of OpenLineage information into Spark properties is enabled.")
            self._inject_openlineage(context)
        self._update_batch_labels()

    def _parent(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    def _checked_batch(self) -> Any:
        """The ``CreateBatch`` message of ``batch``: one batch type, no unknown field."""
        from google.cloud import dataproc_v1

        try:
            batch = self.batch if isinstance(self.batch, dataproc_v1.Batch) else dataproc_v1.Batch(self.batch)
        except (TypeError, ValueError, KeyError) as err:
            raise DataprocRequestError(f"batch is not a valid google.cloud.dataproc_v1.Batch: {err}") from err
        oneof = dataproc_v1.Batch.pb(batch).DESCRIPTOR.oneofs_by_name["batch_config"]
        types = [field.name for field in oneof.fields]
        given = [name for name in types if name in self.batch] if isinstance(self.batch, Mapping) else []
        if len(given) > 1 or dataproc_v1.Batch.pb(batch).WhichOneof("batch_config") is None:
            raise DataprocRequestError(f"batch needs exactly one batch type of {types}, got {given or 'none'}")
        return batch

    def _inject_openlineage(self, context: Context) -> None:
        try:
            from airflow.providers.google.cloud.openlineage.utils import (
                inject_openlineage_properties_into_dataproc_batch,
            )

            self.batch = inject_openlineage_properties_into_dataproc_batch(
                batch=self.batch,
                context=context,
                inject_parent_job_info=self.openlineage_inject_parent_job_info,
                inject_transport_info=self.openlineage_inject_transport_info,
            )
        except Exception as e:  # upstream's: a failed injection leaves the batch as it is
            self.log.warning(
                "An error occurred while trying to inject OpenLineage information. "
                "Dataproc batch has not been modified by OpenLineage.",
                exc_info=e,
            )

    def _update_batch_labels(self) -> None:
        """Add upstream's labels to ``batch`` when they fit the 32-label limit (as upstream, in place)."""
        dag = getattr(self, "_dag", None)
        new_labels = airflow_labels(self.dag_id, self.task_id, None if dag is None else dag.dag_display_name)
        if not new_labels:
            return
        if isinstance(self.batch, Mapping):
            if "labels" not in self.batch:
                self.batch["labels"] = new_labels  # type: ignore[index]
            elif (
                isinstance(self.batch.get("labels"), dict)
                and len(self.batch["labels"]) + len(new_labels) <= LABELS_LIMIT
            ):
                self.batch["labels"].update(new_labels)
            return
        labels = getattr(self.batch, "labels", None)
        if labels is not None and len(labels) + len(new_labels) <= LABELS_LIMIT:
            labels.update(new_labels)

    def token_base(self) -> str | None:
        """The user's ``batch_id``, ``batch_id_prefix`` and ``request_id``: they seed every derived ID."""
        return statuses.token_seed(
            batch_id=self.batch_id, batch_id_prefix=self.batch_id_prefix, request_id=self.request_id
        )

    def requested_batch_id(self, token: str | None) -> str | None:
        """The ``batch_id`` to create: derived from ``token``; without one (``durable=False``) upstream's."""
        if token is not None:
            return statuses.derive_batch_id(token, self.batch_id, self.batch_id_prefix)
        if self.batch_id:
            return str(self.batch_id)
        if self.batch_id_prefix:
            return self._build_unique_batch_id_from_prefix(str(self.batch_id_prefix))
        return None

    @classmethod
    def _build_unique_batch_id_from_prefix(cls, batch_id_prefix: str) -> str:
        """Upstream's ``<prefix>-<8 random hex>`` (``durable=False`` only: durable IDs are derived)."""
        return f"{batch_id_prefix}-{uuid.uuid4().hex[:BATCH_ID_SUFFIX_LENGTH]}"

    def submit_job(self, context: Context) -> str:
        """``CreateBatch`` with the derived ``batch_id`` and ``request_id``; returns the batch ID.

        ``ALREADY_EXISTS`` for the derived ID is this generation's own batch: it is adopted. Transient errors are
        retried with the same request (see :meth:`submit_options`).

        Raises:
            AirflowException: No operation metadata (upstream's text); with ``durable=False``, a ``batch_id``
                that already exists.
        """
        token = self.submission_token
        batch_id = self.requested_batch_id(token)
        request_id = statuses.derive_request_id(token) if token is not None else self.request_id
        if batch_id:
            self.log.info("Starting batch %s", batch_id)
        else:
            self.log.info("Starting batch. The batch ID will be generated since it was not provided.")
        if self._request_batch is None:
            self._request_batch = self._checked_batch()
        request = {
            "parent": self._parent(),
            "batch": self.batch,
            "batch_id": batch_id or "",
            "request_id": request_id or "",
        }
        try:
            self.operation = self.client.create_batch(request=request, **self.submit_options(token is not None))
        except Exception as err:
            if not is_already_exists(err) or batch_id is None:
                raise
            if token is None:
                raise AirflowException(
                    f"Batch {batch_id} already exists and this task did not create it (durable=False): {err}"
                ) from err
            self.log.info("Batch %s already exists: it is this submission's own (derived ID); adopting it", batch_id)
            return batch_id
        metadata = getattr(self.operation, "metadata", None)
        if not metadata or not getattr(metadata, "batch", ""):
            raise AirflowException("Operation metadata is not available.")
        # The ID we chose is the batch's; the server names one only when we chose none.
        created = batch_id or str(metadata.batch).split("/")[-1]
        self.log.info("The batch %s was created.", created)
        return created

    # ------------------------------------------------------------------ the protocol's questions

    def validate_external_id(self, external_id: JsonValue) -> str:
        """A batch ID: 4-63 of ``[a-z0-9-]``."""
        return statuses.check_batch_id(external_id)

    def find_job_by_token(self, token: str, context: Context) -> str | None:
        """The batch of ``token`` (``GetBatch`` of its derived ID), or ``None``."""
        batch_id = statuses.derive_batch_id(token, self.batch_id, self.batch_id_prefix)
        try:
            self.get_batch(batch_id)
        except JobLostError:
            return None
        return batch_id

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """The batch's ``state`` name (``GetBatch``).

        Raises:
            JobLostError: Dataproc does not know the batch.
        """
        batch = self.get_batch(self.validate_external_id(external_id))
        state = statuses.state_name(batch.state)
        self.log.debug("Batch %s is %s", external_id, state)
        return state

    def attach_job(self, external_id: JsonValue, context: Context) -> None:
        """Persist the ``DataprocBatchLink``'s XCom (key ``dataproc_batch``), on every path."""
        self.push_xcom(
            context, BATCH_LINK_KEY, {"project_id": self.project, "region": self.region, "batch_id": str(external_id)}
        )

    def get_job_result(self, external_id: JsonValue, context: Context) -> dict[str, Any]:
        """``Batch.to_dict`` of the batch (as upstream's synchronous and asynchronous paths), on every path.

        The batch read last by this try when it is the final one; else one ``GetBatch``.
        """
        from google.cloud import dataproc_v1

        batch_id = self.validate_external_id(external_id)
        last = self._last_batch
        if (
            last is None
            or last[0] != batch_id
            or (
                self.waits_for_job()
                and statuses.BATCH_STATES.classify(statuses.state_name(last[1].state)).value == "active"
            )
        ):
            self._call_vendor(lambda: self.get_batch(batch_id))
            last = self._last_batch
        assert last is not None
        if self.asynchronous:
            self.log.info("The batch %s was created asynchronously. Exiting.", batch_id)
        else:
            link = batch_link(self.region, self.project, batch_id)
            self.log.info("Batch job %s completed.\nDriver logs: %s", batch_id, link)
        result: dict[str, Any] = dataproc_v1.Batch.to_dict(last[1])
        return result

    def job_trigger(self, external_id: JsonValue, context: Context) -> Any:
        """The trigger that polls the batch in the triggerer (``deferrable=True``)."""
        from airflow_durable_dataproc.triggers import DurableDataprocBatchTrigger

        return DurableDataprocBatchTrigger(external_id=self.validate_external_id(external_id), **self.trigger_kwargs())

    # ------------------------------------------------------------------ kill

    def cancel_job(self, external_id: JsonValue) -> None:
        """Cancel the batch through its operation (``Batch.operation``); bounded by the mixin's ``on_kill``."""
        batch = self.get_batch(self.validate_external_id(external_id))
        operation = str(batch.operation) or (self.operation.operation.name if self.operation is not None else "")
        if not operation:
            self.log.error("Batch %s names no operation; it cannot be cancelled", external_id)
            return
        self.log.info("Cancelling batch %s (operation %s)", external_id, operation)
        self.client.cancel_operation(request={"name": operation}, timeout=self.cancel_timeout_seconds)
