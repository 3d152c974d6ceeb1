"""``DurableDataprocSubmitJobOperator``: a Dataproc job on a cluster, exactly once, on ``google-cloud-dataproc``.

Importing this module imports neither ``google.cloud.dataproc_v1`` nor the google provider: DAG files parse fast.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow.sdk.exceptions import AirflowException

from airflow_durable import JobFailedError, JobLostError, JobState
from airflow_durable.links import ProviderLinks
from airflow_durable.upstream_interface import flag_or_conf
from airflow_durable_dataproc.base import (
    DEFAULT,
    DataprocRequestError,
    DurableDataprocOperatorBase,
)
from airflow_durable_dataproc.client import DEFAULT_CONN_ID, Transport, is_already_exists, is_not_found
from airflow_durable_dataproc.statuses import (
    JOB_STATES,
    check_job_id,
    check_request_id,
    derive_job_id,
    derive_request_id,
    state_name,
    token_seed,
)

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

JOB_TYPES = (
    "hadoop_job",
    "spark_job",
    "pyspark_job",
    "hive_job",
    "pig_job",
    "spark_r_job",
    "spark_sql_job",
    "presto_job",
    "trino_job",
    "flink_job",
)
"""The members of ``Job``'s ``type_job`` oneof (google-cloud-dataproc 5.32.0): a job sets exactly one."""
JOB_LINK_KEY = "dataproc_job"
"""The XCom key of the provider's ``DataprocJobLink`` (value ``{"job_id", "region", "project_id"}``)."""
PROVIDER_LINKS = ProviderLinks("DataprocJobLink", module="airflow.providers.google.cloud.links.dataproc")
"""The ``operator_extra_links``: the google provider's ``DataprocJobLink``, imported when first read."""


class DataprocJobFailedError(JobFailedError, AirflowException):
    """The job ended ``ERROR`` or ``CANCELLED``; upstream's text (``Job failed:`` / ``Job was cancelled:``).

    Attributes:
        external_id: The job ID.
        status: The job's terminal state.
    """

    def __init__(self, external_id: Any, status: str, job: Any = None, *, resumed: bool = False) -> None:
        super().__init__(external_id, status)
        shown = job if job is not None else external_id
        prefix = f"Job {external_id} " if resumed else "Job "
        what = "was cancelled" if status == "CANCELLED" else "failed"
        self.args = (f"{prefix}{what}:\n{shown}",)


class DataprocJobWaitTimeoutError(AirflowException):
    """The job was still active after ``wait_timeout`` seconds (upstream's text); it keeps running.

    Attributes:
        job_id: The job ID; a retry reconnects to it (no second job is submitted).
    """

    def __init__(self, job_id: str, wait_timeout: Any) -> None:
        self.job_id = job_id
        super().__init__(f"Timeout: dataproc job {job_id} is not ready after {wait_timeout}s")


def _job_dict(job: Any) -> dict[str, Any]:
    """The ``job`` argument as a dict (a ``dataproc_v1.Job`` is converted with its field names)."""
    if isinstance(job, Mapping):
        return copy.deepcopy(dict(job))
    to_dict = getattr(type(job), "to_dict", None)
    if to_dict is not None and hasattr(job, "_pb"):
        converted: dict[str, Any] = to_dict(job, preserving_proto_field_name=True)
        return converted
    raise DataprocRequestError(f"job must be a dict or a google.cloud.dataproc_v1.Job, got {type(job).__name__}")


class DurableDataprocSubmitJobOperator(DurableDataprocOperatorBase):
    """Crash-safe ``DataprocSubmitJobOperator``: ``SubmitJob`` exactly once, then wait for the job.

    Takes the arguments of ``airflow.providers.google.cloud.operators.dataproc.DataprocSubmitJobOperator``
    (same names, defaults and templated fields), returns the job ID and persists ``DataprocJobLink``'s XCom
    (``dataproc_job``) on every path. See
    https://cloud.google.com/dataproc/docs/reference/rest/v1/projects.regions.jobs/submit.

    Exactly once:

    * ``job.reference.job_id`` and ``request_id`` are derived from the protocol's submission token (the task
      instance and the generation): the same on every try of a generation, new after a failed job. A user's
      ``job.reference.job_id`` or ``request_id`` only seeds the token (the job ID keeps it as a prefix), so a
      retry after a failure never gets the failed job back (upstream passes them through: a retry gets the
      failed job back, or ``ALREADY_EXISTS``).
    * A retry after a crash between ``SubmitJob`` and the persist reads the derived job ID (``GetJob``) and
      adopts the job; ``ALREADY_EXISTS`` for our own derived ID also means "adopt". Only that exact ID is
      ever adopted, never a job whose ID merely starts the same (another DAG run's).
    * Every job state is decided (:data:`~airflow_durable_dataproc.statuses.JOB_STATES`): ``ATTEMPT_FAILURE``
      (a restartable driver's failed attempt), ``CANCEL_PENDING`` and ``CANCEL_STARTED`` are active until the
      job ends; ``STATE_UNSPECIFIED`` or a value we do not know is an error that names it.
    * ``asynchronous=True`` is fire-and-forget, exactly once: a retry returns the recorded job.
    * ``wait_timeout`` bounds the wait as upstream's (the job keeps running; the retry reconnects to it).

    Bad input fails before anything is written or sent (:class:`DataprocRequestError`): a ``job`` without
    exactly one known job type, a malformed user job ID or ``request_id``, no project, a malformed region or
    one Dataproc does not serve or that cannot be reached (one ``ListJobs`` of one item, 30 s at most).

    Stored state: the ``airflow_durable`` record under ``dataproc_job_id``, ``external_id`` the job ID.

    Args:
        job: The ``Job`` resource, a dict of its fields or a ``dataproc_v1.Job`` (templated).
        region: The Dataproc region (templated).
        project_id: The project (templated); default: the connection's.
        request_id: Seeds the derived ``request_id`` (templated); 1-40 of ``[A-Za-z0-9_-]``.
        retry: The retry of each call (``DEFAULT``: the client's; ``None``: none).
        timeout: Seconds each call may take.
        metadata: Extra request metadata.
        gcp_conn_id: The Airflow Google Cloud connection (templated).
        impersonation_chain: A service account (or a chain) to impersonate (templated).
        asynchronous: Return after the submit without waiting: fire-and-forget, exactly once.
        deferrable: Wait in the triggerer (default ``[operators] default_deferrable``); wins over
            ``asynchronous`` as upstream's.
        polling_interval_seconds: Seconds between polls (default 10), in both modes; must be > 0 when
            deferrable.
        cancel_on_kill: ``on_kill`` (and the trigger's, when deferred) cancels the job, bounded by
            ``cancel_timeout_seconds``.
        wait_timeout: Seconds the (non-deferrable) wait may take; ``None``: no limit.
        start_from_trigger: Accepted for compatibility and ignored (a warning): the intent must be written on a
            worker before the submit, so the task starts on a worker and defers after it.
        openlineage_inject_parent_job_info: Inject the OpenLineage parent job into the Spark properties
            (default ``[openlineage] spark_inject_parent_job_info``).
        openlineage_inject_transport_info: Inject the OpenLineage transport (default
            ``[openlineage] spark_inject_transport_info``).
        transport: ``"grpc"`` or ``"rest"``; default the connection's ``dataproc_transport`` extra, else gRPC.
        api_endpoint: The endpoint; default the connection's ``dataproc_api_endpoint`` extra, else Google's.
        poll_interval_seconds: The first delay between polls (default ``polling_interval_seconds``).
        max_poll_interval_seconds: The ceiling the delay grows to, and the bound on the detection latency
            (default ``max(120 s, 4 x`` the first delay``)``, the core policy; ``polling_interval_seconds``
            gives upstream's fixed cadence).
        **kwargs: ``DurableJobMixin`` (``on_lost_job``, ``cancel_timeout_seconds``, ``durable``...) and
            ``BaseOperator`` arguments.

    Raises:
        ValueError: On construction, ``deferrable`` with ``polling_interval_seconds`` <= 0 (upstream's text).
    """

    external_id_key = "dataproc_job_id"
    status_table = JOB_STATES
    template_fields: Sequence[str] = (
        "project_id",
        "region",
        "job",
        "gcp_conn_id",
        "impersonation_chain",
        "request_id",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"job": "json"}
    operator_extra_links = PROVIDER_LINKS
    start_from_trigger = False

    def __init__(
        self,
        *,
        job: dict[str, Any],
        region: str,
        project_id: str | None = None,
        request_id: str | None = None,
        retry: Any = DEFAULT,
        timeout: float | None = None,
        metadata: Sequence[tuple[str, str]] = (),
        gcp_conn_id: str = DEFAULT_CONN_ID,
        impersonation_chain: str | Sequence[str] | None = None,
        asynchronous: bool = False,
        deferrable: bool | None = None,
        polling_interval_seconds: int = 10,
        cancel_on_kill: bool = True,
        wait_timeout: int | None = None,
        start_from_trigger: bool = False,
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
        first = float(polling_interval_seconds) if poll_interval_seconds is None else poll_interval_seconds
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
        self.job = job
        self.request_id = request_id
        self.asynchronous = asynchronous
        self.deferrable = deferrable
        self.polling_interval_seconds = polling_interval_seconds
        self.cancel_on_kill = cancel_on_kill
        self.wait_timeout = wait_timeout
        if start_from_trigger:
            self.log.warning(
                "start_from_trigger is ignored: the submission intent is written on a worker before the submit; "
                "the task defers right after it"
            )
        self.openlineage_inject_parent_job_info = flag_or_conf(
            openlineage_inject_parent_job_info, "openlineage", "spark_inject_parent_job_info"
        )
        self.openlineage_inject_transport_info = flag_or_conf(
            openlineage_inject_transport_info, "openlineage", "spark_inject_transport_info"
        )
        self.job_id: str | None = None
        """The job this try owns (upstream's attribute); set on every path."""
        self._client: Any = None
        self._request_job: dict[str, Any] | None = None
        self._last_job: tuple[str, Any] | None = None
        self._wait_deadline: float | None = None

    # ------------------------------------------------------------------ client

    @property
    def client(self) -> Any:
        """This try's ``dataproc_v1.JobControllerClient`` (built on first use)."""
        if self._client is None:
            self._client = self.connection.job_client(self.region)
        return self._client

    def _job_request(self, job_id: str) -> dict[str, Any]:
        return {"project_id": self.project, "region": self.region, "job_id": job_id}

    # ------------------------------------------------------------------ the request

    def user_job_id(self) -> str | None:
        """The ``job.reference.job_id`` the user set, or ``None``."""
        job = self.job
        reference = job.get("reference") if isinstance(job, Mapping) else getattr(job, "reference", None)
        value = reference.get("job_id") if isinstance(reference, Mapping) else getattr(reference, "job_id", None)
        return str(value) if value else None

    def token_base(self) -> str | None:
        """The user's ``job.reference.job_id`` and ``request_id``, seeding every derived ID (or ``None``)."""
        return token_seed(job_id=self.user_job_id(), request_id=self.request_id)

    def prepare_submission(self, context: Context) -> None:
        """Check the request, before the intent is written (nothing is written or sent when it fails).

        Raises:
            DataprocRequestError: A ``job`` that is no dict or sets no (or more than one) known job type, a
                malformed user job ID or ``request_id``, no project, or a region that is malformed, not served
                or cannot be reached.
        """
        job = _job_dict(self.job)
        job_types = [name for name in JOB_TYPES if job.get(name)]
        if len(job_types) != 1:
            found = job_types or "none"
            raise DataprocRequestError(
                f"job must set exactly one known job type of {list(JOB_TYPES)}; found {found} in {sorted(job)}"
            )
        for check, value, what in (
            (check_job_id, self.user_job_id(), "job.reference.job_id"),
            (check_request_id, self.request_id, "request_id"),
        ):
            if value:
                try:
                    check(value)
                except ValueError as err:
                    raise DataprocRequestError(f"{what}: {err}") from err
        _ = self.project
        self.check_region(
            lambda seconds: next(
                iter(
                    self.client.list_jobs(
                        request={"project_id": self.project, "region": self.region, "page_size": 1},
                        retry=None,
                        timeout=seconds,
                    ).jobs
                ),
                None,
            )
        )
        if self.openlineage_inject_parent_job_info or self.openlineage_inject_transport_info:
            self.log.info("Automatic injection of OpenLineage information into Spark properties is enabled.")
            job = self._inject_openlineage(job, context)
        self._request_job = job

    def _inject_openlineage(self, job: dict[str, Any], context: Context) -> dict[str, Any]:
        """Upstream's injection (the google provider's function); the job unchanged when it is not available."""
        try:
            from airflow.providers.google.cloud.openlineage.utils import (
                inject_openlineage_properties_into_dataproc_job,
            )

            injected: dict[str, Any] = inject_openlineage_properties_into_dataproc_job(
                job=job,
                context=context,
                inject_parent_job_info=self.openlineage_inject_parent_job_info,
                inject_transport_info=self.openlineage_inject_transport_info,
            )
        except Exception as e:
            self.log.warning(
                "An error occurred while trying to inject OpenLineage information. "
                "Dataproc job has not been modified by OpenLineage.",
                exc_info=e,
            )
            return job
        return injected

    def submit_job(self, context: Context) -> str:
        """``SubmitJob`` with the derived job ID and ``request_id``; returns the job ID.

        ``ALREADY_EXISTS`` for the derived job ID means a previous try of this generation created the job: it
        is adopted. Transient errors are retried with the same request (see :meth:`submit_options`). Without a
        token (``durable=False``) the job and ``request_id`` go as given, with the client's retry, as upstream.
        """
        self.log.info("Submitting job")
        job = self._request_job if self._request_job is not None else _job_dict(self.job)
        token = self.submission_token
        request_id = self.request_id
        if token is not None:
            job_id = derive_job_id(token, self.user_job_id())
            job = {**job, "reference": {**dict(job.get("reference") or {}), "job_id": job_id}}
            request_id = derive_request_id(token)
        request = {"project_id": self.project, "region": self.region, "job": job, "request_id": request_id}
        try:
            submitted = self.client.submit_job(request=request, **self.submit_options(token is not None))
        except Exception as err:
            if token is None or not is_already_exists(err):
                raise
            self.log.info("Job %s exists already (a previous try of this generation submitted it): adopting", job_id)
            return job_id
        new_job_id = str(submitted.reference.job_id)
        self.log.info("Job %s submitted successfully.", new_job_id)
        return new_job_id

    # ------------------------------------------------------------------ the protocol's questions

    def validate_external_id(self, external_id: JsonValue) -> str:
        """A Dataproc job ID: 1-100 of ``[A-Za-z0-9_-]``."""
        return check_job_id(external_id)

    def find_job_by_token(self, token: str, context: Context) -> str | None:
        """The job with the ID derived from ``token`` (``GetJob`` of that exact ID), or ``None``."""
        job_id = derive_job_id(token, self.user_job_id())
        try:
            self.client.get_job(request=self._job_request(job_id), **self.call_options())
        except Exception as err:
            if is_not_found(err):
                return None
            raise
        return job_id

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """The job's ``status.state`` name (``GetJob``).

        Raises:
            JobLostError: Dataproc does not know the job.
            DataprocJobWaitTimeoutError: While waiting, the job is still active after ``wait_timeout`` seconds.
        """
        job_id = str(external_id)
        try:
            job = self.client.get_job(request=self._job_request(job_id), **self.call_options())
        except Exception as err:
            if is_not_found(err):
                raise JobLostError(job_id, f"Dataproc does not know job {job_id!r}: {err}") from err
            raise
        self._last_job = (job_id, job)
        state = state_name(job.status.state)
        self.log.info("Job %s is in state %s", job_id, state)
        if (
            self._wait_deadline is not None
            and time.monotonic() > self._wait_deadline
            and JOB_STATES.classify(state) is JobState.ACTIVE
        ):
            raise DataprocJobWaitTimeoutError(job_id, self.wait_timeout)
        return state

    def attach_job(self, external_id: JsonValue, context: Context) -> None:
        """Own the job (``job_id``, for ``on_kill``) and persist ``DataprocJobLink``'s XCom, on every path."""
        self.job_id = str(external_id)
        self.push_xcom(
            context, JOB_LINK_KEY, {"job_id": self.job_id, "region": self.region, "project_id": self.project}
        )

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        """The mixin's polling, within ``wait_timeout`` seconds when it is set.

        Raises:
            DataprocJobFailedError: The job ended ``ERROR`` or ``CANCELLED``.
            DataprocJobWaitTimeoutError: ``wait_timeout`` ran out; the job keeps running.
        """
        self.log.info("Waiting for job %s to complete", external_id)
        self._wait_deadline = None if not self.wait_timeout else time.monotonic() + float(self.wait_timeout)
        try:
            super().poll_until_complete(external_id, context)
        finally:
            self._wait_deadline = None

    def job_failed_error(self, err: JobFailedError, *, resumed: bool) -> JobFailedError:
        """Upstream's text, with the job as this try last read it."""
        if isinstance(err, DataprocJobFailedError):
            return err
        job = None
        if self._last_job is not None and self._last_job[0] == str(err.external_id):
            job = self._last_job[1]
        return DataprocJobFailedError(err.external_id, err.status, job, resumed=resumed)

    def get_job_result(self, external_id: JsonValue, context: Context) -> str:
        """The job ID, on every path (fresh, reconnect, adopt, already-succeeded, deferrable, asynchronous)."""
        if self.waits_for_job():
            self.log.info("Job %s completed successfully.", external_id)
        return str(external_id)

    def cancel_job(self, external_id: JsonValue) -> None:
        """``CancelJob`` (the mixin bounds it by ``cancel_timeout_seconds``)."""
        self.client.cancel_job(
            request=self._job_request(str(external_id)), retry=None, timeout=self.cancel_timeout_seconds
        )

    def job_trigger(self, external_id: JsonValue, context: Context) -> Any:
        """The trigger that polls the job in the triggerer (``deferrable=True``)."""
        from airflow_durable_dataproc.triggers import DurableDataprocJobTrigger

        return DurableDataprocJobTrigger(external_id=self.validate_external_id(external_id), **self.trigger_kwargs())

    def defer(
        self, *, trigger: Any, method_name: str, kwargs: dict[str, Any] | None = None, timeout: Any = None
    ) -> NoReturn:
        """``BaseOperator.defer``; as upstream, a job already ended when the task would defer is not deferred.

        One ``GetJob`` first: when the job is no longer active the task does not defer, and the mixin's poll
        (one more read) finishes it on the worker, with upstream's result or error.
        """
        from airflow_durable_dataproc.triggers import DurableDataprocJobTrigger

        if isinstance(trigger, DurableDataprocJobTrigger):
            state = self._call_vendor(lambda: self.get_job_status(trigger.external_id, {}))  # type: ignore[arg-type]
            if JOB_STATES.classify(state) is not JobState.ACTIVE:
                return  # type: ignore[misc]
        super().defer(trigger=trigger, method_name=method_name, kwargs=kwargs, timeout=timeout)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired (upstream's method name); returns the job ID.

        A task deferred by upstream's operator before the upgrade resumes here with a ``DataprocSubmitTrigger``
        event (``{"job_id", "job_state", "job"}``): it completes as upstream's would.

        Raises:
            DataprocJobFailedError: The job failed or was cancelled.
            AirflowException: Upstream's event reports a failure (upstream's text).
            DurableJobError: The trigger could not finish polling; the retry reconnects to the job.
        """
        if isinstance(event, dict) and "job_state" in event and "external_id" not in event:
            job_id, job_state = event.get("job_id"), event.get("job_state")
            if job_state == "ERROR":
                raise AirflowException(f"Job {job_id} failed:\n{event.get('job')}")
            if job_state == "CANCELLED":
                raise AirflowException(f"Job {job_id} was cancelled:\n{event.get('job')}")
            self.log.info("%s completed successfully.", self.task_id)
            return job_id
        return super().execute_complete(context, event)
