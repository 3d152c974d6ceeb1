"""Dataproc emulators on the airflow-durable kit, serving the real ``google-cloud-dataproc`` clients.

Two services, one emulator each (one book of jobs per emulator, like the kit's other emulators):

* :class:`DataprocJobEmulator`: the ``JobController`` (``SubmitJob``, ``GetJob``, ``ListJobs``,
  ``CancelJob``);
* :class:`DataprocBatchEmulator`: the ``BatchController`` (``CreateBatch``, which returns a long-running
  operation, ``GetBatch``, ``ListBatches``) and the operations behind batches (``GetOperation``,
  ``CancelOperation``: Dataproc has no ``CancelBatch``).

Both answer over **gRPC**, the client's default transport (a generic handler on the library's own message
classes, on :attr:`~airflow_durable.testing.Emulator.grpc_address`), and over **REST** (on
:attr:`~airflow_durable.testing.Emulator.url`), from the same records, with the same faults and counters;
``client(transport=...)`` builds a real client pointed at either. Semantics, as documented:

* ``request_id``: a repeat returns the first job (or the first batch's operation), whatever its state;
* a ``reference.job_id`` / ``batch_id`` already used in the project: ``ALREADY_EXISTS`` (``AlreadyExists``
  over gRPC, ``Conflict`` over REST);
* a malformed ID: ``INVALID_ARGUMENT``; cancelling a finished job or batch: ``FAILED_PRECONDITION``;
  an unknown (or forgotten) one: ``NOT_FOUND``.

Life cycle (the kit's :class:`~airflow_durable.testing.JobBook`): jobs are born PENDING and, while they
advance, go SETUP_DONE, RUNNING, then the final state; batches are born PENDING, then RUNNING. ``GetJob``,
``GetBatch`` and ``GetOperation`` are status calls (they move the record); lists are not. A cancel goes
through CANCEL_PENDING (jobs) or CANCELLING (batches), which one status call still shows, then CANCELLED.

Nothing here imports Airflow or pytest.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from google.cloud import dataproc_v1
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, empty_pb2
from google.rpc import code_pb2, status_pb2

from airflow_durable.status import JobState
from airflow_durable.testing import (
    ApiError,
    Dedupe,
    EmulatedJob,
    Emulator,
    Reply,
    Request,
    Route,
    RouteTable,
)
from airflow_durable.testing.control import control
from airflow_durable.testing.grpc_front import GrpcCall, GrpcMethod
from airflow_durable_dataproc import statuses
from airflow_durable_dataproc.testing import wire

Transport = Literal["grpc", "rest"]

_JOB_SERVICE = "/google.cloud.dataproc.v1.JobController/"
_BATCH_SERVICE = "/google.cloud.dataproc.v1.BatchController/"
_OPERATIONS = "/google.longrunning.Operations/"


def _pb_serialize(message: Any) -> bytes:
    data: bytes = message.SerializeToString()
    return data


@dataclass(eq=False)
class DataprocJob(EmulatedJob):
    """A Dataproc job or batch the emulator holds.

    Attributes:
        project: The project it lives in.
        region: Its region (a batch's location).
        message: The submitted ``Job`` / ``Batch`` as received (the emulator fills in server fields on output).
        uuid: The server-assigned ``job_uuid`` / ``uuid``.
        operation_id: A batch's operation ID (``projects/{p}/regions/{r}/operations/{id}``).
        state_message: Dataproc's ``status.details`` / ``state_message``.
        state_times: ``(state, epoch seconds)`` for every state entered, oldest first.
    """

    project: str = ""
    region: str = ""
    message: Any = None
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    operation_id: str = ""
    state_message: str = ""
    state_times: list[tuple[str, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The record as JSON data, for the control plane."""
        return {
            "external_id": self.external_id,
            "state": self.state,
            "token": self.token,
            "project": self.project,
            "region": self.region,
            "uuid": self.uuid,
            "operation_id": self.operation_id,
            "state_message": self.state_message,
            "labels": dict(self.message.labels) if self.message is not None else {},
            "status_calls": self.status_calls,
            "pinned": self.pinned,
            "forgotten": self.forgotten,
            "cancel_requested": self.cancel_requested,
            "history": list(self.history),
            "created_at": self.created_at,
        }


class _DataprocEmulator(Emulator[DataprocJob]):
    """What the job and batch emulators share: IDs chosen by the client, ``request_id`` deduplication."""

    job_class = DataprocJob
    dedupe = Dedupe.DEDUPE_FAILED  # a repeated request_id returns the first record, a failed one too
    calls_to_cancel = 2  # a client sees CANCEL_PENDING / CANCELLING on one status call, then CANCELLED
    kind: ClassVar[str] = "job"

    def __init__(self, **kwargs: Any) -> None:
        self._local = threading.local()
        super().__init__(**kwargs)

    # ------------------------------------------------------------------ the kit's hooks

    def new_job_id(self) -> Any:
        """The ID the current request chose, else a server-generated one."""
        chosen = getattr(self._local, "chosen_id", None)
        return chosen or self.generated_id()

    def generated_id(self) -> str:
        """A server-generated ID (what Dataproc assigns when the client sets none)."""
        return uuid.uuid4().hex

    def new_job(self, external_id: Any, state: str, token: str | None, request: Any, **fields: Any) -> DataprocJob:
        """Build a record; an ID still in use is ALREADY_EXISTS (checked under the book's lock)."""
        if self.book.find(external_id) is not None:
            raise wire.already_exists(f"{self.kind} {external_id}")
        return DataprocJob(external_id, state, token, request, **fields)

    def enter_state(self, job: DataprocJob, state: str, **fields: Any) -> None:
        """Set the state and keep its time and message (``force_state(..., message=...)``)."""
        job.state = state
        job.state_times.append((state, _now()))
        if "message" in fields:
            job.state_message = str(fields["message"])
        elif self.book.meaning(state) is JobState.FAILED and state not in ("CANCELLED",):
            job.state_message = job.state_message or f"{self.kind} failed (emulated)"

    def error_reply(self, error: ApiError) -> Reply:
        """Google's REST error body."""
        return wire.error_body(error)

    def not_found_reply(self, request: Request) -> Reply:
        """A path no route serves: Google answers 404 with its error body."""
        return wire.error_body(ApiError(404, f"The requested URL {request.path} was not found on this server."))

    # ------------------------------------------------------------------ shared operations

    def _submit(self, project: str, region: str, chosen_id: str | None, request_id: str, message: Any) -> DataprocJob:
        if request_id and not statuses.REQUEST_ID_PATTERN.match(request_id):
            raise wire.invalid_argument(f"Invalid request_id {request_id!r}: 1-40 of [a-zA-Z0-9_-]")
        self._local.chosen_id = chosen_id or None
        try:
            job, _ = self.book.submit(
                request_id or None, message, scope=project, project=project, region=region, message=message
            )
        except LookupError as exc:  # the request_id names a forgotten record
            raise wire.not_found(str(exc)) from None
        finally:
            self._local.chosen_id = None
        if job.project != project or job.region != region:
            raise wire.already_exists(f"request {request_id} was used in another region")
        return job

    def _known(self, project: str, region: str, external_id: str, *, poll: bool) -> DataprocJob:
        job = self.status_call(external_id) if poll else self.book.find(external_id)
        if job is None or job.project != project or job.region != region:
            raise wire.not_found(f"{self.kind} projects/{project}/regions/{region}/{self.kind}s/{external_id}")
        return job

    def _cancel_record(self, project: str, region: str, external_id: str) -> DataprocJob:
        job = self._known(project, region, external_id, poll=False)
        if self.book.is_terminal(job):
            raise wire.failed_precondition(
                f"Cannot cancel {self.kind} '{external_id}' in project '{project}': current state is {job.state}"
            )
        cancelled = self.book.cancel(external_id)
        if cancelled is None:
            raise wire.not_found(f"{self.kind} {external_id}")
        return cancelled

    def _listed(self, project: str, region: str) -> list[DataprocJob]:
        return [job for job in self.book.jobs if not job.forgotten and (job.project, job.region) == (project, region)]

    # ------------------------------------------------------------------ clients for tests

    def client(self, transport: Transport = "grpc") -> Any:
        """Return a real ``google-cloud-dataproc`` client pointed at this emulator (anonymous credentials)."""
        raise NotImplementedError

    def connection(self, transport: Transport = "grpc") -> Any:
        """Return the :class:`~airflow_durable_dataproc.client.DataprocConnection` that reaches this emulator."""
        from airflow_durable_dataproc.client import DataprocConnection

        endpoint = f"http://{self.grpc_address}" if transport == "grpc" else self.url
        return DataprocConnection(gcp_conn_id=None, transport=transport, api_endpoint=endpoint)


def _now() -> float:
    import time

    return time.time()


# ====================================================================== jobs


class DataprocJobEmulator(_DataprocEmulator):
    """The Dataproc ``JobController`` over gRPC and REST. See the module docstring.

    Keyword Args:
        host: Address to bind.
        port: HTTP (REST and control plane) port; 0 picks a free one.
        grpc_port: gRPC port; 0 picks a free one.
        script: How new jobs move on their own (default: hold in PENDING).
    """

    kind = "job"
    routes = RouteTable(
        Route("POST", "/projects/{project}/regions/{region}/jobs:submit", "jobs.submit", "_rest_submit"),
        Route("GET", "/projects/{project}/regions/{region}/jobs", "jobs.list", "_rest_list"),
        Route("POST", "/projects/{project}/regions/{region}/jobs/{job_id}:cancel", "jobs.cancel", "_rest_cancel"),
        Route("GET", "/projects/{project}/regions/{region}/jobs/{job_id}", "jobs.get", "_rest_get"),
        prefixes=("/v1",),
    )
    grpc_methods = (
        GrpcMethod(
            _JOB_SERVICE + "SubmitJob",
            "jobs.submit",
            "_grpc_submit",
            dataproc_v1.SubmitJobRequest.deserialize,
            dataproc_v1.Job.serialize,
        ),
        GrpcMethod(
            _JOB_SERVICE + "GetJob",
            "jobs.get",
            "_grpc_get",
            dataproc_v1.GetJobRequest.deserialize,
            dataproc_v1.Job.serialize,
        ),
        GrpcMethod(
            _JOB_SERVICE + "ListJobs",
            "jobs.list",
            "_grpc_list",
            dataproc_v1.ListJobsRequest.deserialize,
            dataproc_v1.ListJobsResponse.serialize,
        ),
        GrpcMethod(
            _JOB_SERVICE + "CancelJob",
            "jobs.cancel",
            "_grpc_cancel",
            dataproc_v1.CancelJobRequest.deserialize,
            dataproc_v1.Job.serialize,
        ),
    )
    states = {
        "PENDING": JobState.ACTIVE,
        "SETUP_DONE": JobState.ACTIVE,
        "RUNNING": JobState.ACTIVE,
        "CANCEL_PENDING": JobState.ACTIVE,
        "CANCEL_STARTED": JobState.ACTIVE,
        "ATTEMPT_FAILURE": JobState.ACTIVE,
        "DONE": JobState.SUCCEEDED,
        "ERROR": JobState.FAILED,
        "CANCELLED": JobState.FAILED,
    }
    representative_states = {JobState.ACTIVE: "RUNNING", JobState.SUCCEEDED: "DONE", JobState.FAILED: "ERROR"}
    id_pattern = statuses.JOB_ID_PATTERN.pattern
    born_state = "PENDING"
    advance_steps = ((1, "SETUP_DONE"), (2, "RUNNING"))
    cancelling_state = "CANCEL_PENDING"
    cancelled_state = "CANCELLED"

    # ------------------------------------------------------------------ operations

    def submit_job(self, project: str, region: str, job: Any, request_id: str) -> Any:
        """``SubmitJob``: create a job (or return the one ``request_id`` names) and answer it."""
        job_types = [name for name in _JOB_TYPES if name in job]
        if len(job_types) != 1:
            raise wire.invalid_argument(f"A job needs exactly one job type of {_JOB_TYPES}, got {job_types}")
        chosen = job.reference.job_id if "reference" in job else ""
        if chosen and not statuses.JOB_ID_PATTERN.match(chosen):
            raise wire.invalid_argument(f"Invalid job_id {chosen!r}: 1-100 of [a-zA-Z0-9_-]")
        record = self._submit(project, region, chosen or None, request_id, dataproc_v1.Job(job))
        return self.render(record)

    def get_job(self, project: str, region: str, job_id: str) -> Any:
        """``GetJob``: one status call."""
        return self.render(self._known(project, region, job_id, poll=True))

    def list_jobs(self, request: Any) -> Any:
        """``ListJobs``: ``job_state_matcher``, ``cluster_name`` and ``filter`` (``status.state``, ``labels.*``)."""
        clauses = wire.parse_filter(request.filter)
        matcher = dataproc_v1.ListJobsRequest.JobStateMatcher(request.job_state_matcher).name
        found = []
        for record in self._listed(request.project_id, request.region):
            active = self.book.meaning(record.state) is JobState.ACTIVE
            if (matcher == "ACTIVE" and not active) or (matcher == "NON_ACTIVE" and active):
                continue
            message = record.message
            if request.cluster_name and message.placement.cluster_name != request.cluster_name:
                continue

            def field(name: str, record: DataprocJob = record, message: Any = message) -> str | None:
                if name == "status.state":
                    return "ACTIVE" if self.book.meaning(record.state) is JobState.ACTIVE else "NON_ACTIVE"
                if name.startswith("labels."):
                    label = message.labels.get(name[len("labels.") :])
                    return None if label is None else str(label)
                raise wire.invalid_argument(f"Unsupported filter field {name!r}")

            if wire.matches(clauses, field):
                found.append(record)
        chunk, token = wire.page(found, request.page_size, request.page_token)
        return dataproc_v1.ListJobsResponse(jobs=[self.render(r) for r in chunk], next_page_token=token)

    def cancel_job(self, project: str, region: str, job_id: str) -> Any:
        """``CancelJob``: CANCEL_PENDING, then CANCELLED on the second status call; a finished job refuses."""
        return self.render(self._cancel_record(project, region, job_id))

    def render(self, record: DataprocJob) -> Any:
        """The ``Job`` message of a record: what was submitted plus the server's fields."""
        with self.book.lock:
            job = dataproc_v1.Job(record.message)
            job.reference = dataproc_v1.JobReference(project_id=record.project, job_id=record.external_id)
            job.job_uuid = record.uuid
            job.status = self._status(record.state, record.state_message, record.state_times[-1][1])
            job.status_history = [self._status(s, "", t) for s, t in record.state_times[:-1]]
            job.done = self.book.is_terminal(record)
            job.driver_output_resource_uri = (
                f"gs://dataproc-emulator/{record.project}/jobs/{record.external_id}/driveroutput"
            )
            job.driver_control_files_uri = f"gs://dataproc-emulator/{record.project}/jobs/{record.external_id}/"
            return job

    @staticmethod
    def _status(state: str, details: str, at: float) -> Any:
        return dataproc_v1.JobStatus(
            state=wire.enum_value(dataproc_v1.JobStatus.State, state),
            details=details,
            state_start_time=wire.timestamp(at),
        )

    # ------------------------------------------------------------------ gRPC

    def _grpc_submit(self, request: Any, call: GrpcCall) -> Any:
        return self.submit_job(request.project_id, request.region, request.job, request.request_id)

    def _grpc_get(self, request: Any, call: GrpcCall) -> Any:
        return self.get_job(request.project_id, request.region, request.job_id)

    def _grpc_list(self, request: Any, call: GrpcCall) -> Any:
        return self.list_jobs(request)

    def _grpc_cancel(self, request: Any, call: GrpcCall) -> Any:
        return self.cancel_job(request.project_id, request.region, request.job_id)

    # ------------------------------------------------------------------ REST

    def _rest_submit(self, request: Request) -> Reply:
        body = wire.from_json(dataproc_v1.SubmitJobRequest, request.body)
        job = self.submit_job(request.params["project"], request.params["region"], body.job, body.request_id)
        return Reply(200, wire.to_json(job))

    def _rest_get(self, request: Request) -> Reply:
        job = self.get_job(request.params["project"], request.params["region"], request.params["job_id"])
        return Reply(200, wire.to_json(job))

    def _rest_list(self, request: Request) -> Reply:
        query = request.query
        matcher = query.get("jobStateMatcher", "ALL")
        list_request = dataproc_v1.ListJobsRequest(
            project_id=request.params["project"],
            region=request.params["region"],
            page_size=int(query.get("pageSize") or 0),
            page_token=query.get("pageToken", ""),
            cluster_name=query.get("clusterName", ""),
            job_state_matcher=int(matcher) if matcher.isdigit() else matcher,
            filter=query.get("filter", ""),
        )
        return Reply(200, wire.to_json(self.list_jobs(list_request)))

    def _rest_cancel(self, request: Request) -> Reply:
        job = self.cancel_job(request.params["project"], request.params["region"], request.params["job_id"])
        return Reply(200, wire.to_json(job))

    # ------------------------------------------------------------------ tests

    def client(self, transport: Transport = "grpc") -> Any:
        """Return a real ``JobControllerClient`` on ``transport`` pointed at this emulator."""
        return self.connection(transport).job_client("emulated")


_JOB_TYPES = (
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


# ====================================================================== batches


class DataprocBatchEmulator(_DataprocEmulator):
    """The Dataproc ``BatchController`` and the operations behind batches, over gRPC and REST.

    Keyword Args:
        host: Address to bind.
        port: HTTP (REST and control plane) port; 0 picks a free one.
        grpc_port: gRPC port; 0 picks a free one.
        script: How new batches move on their own (default: hold in PENDING).
    """

    kind = "batch"
    routes = RouteTable(
        Route("POST", "/projects/{project}/locations/{region}/batches", "batches.create", "_rest_create"),
        Route("GET", "/projects/{project}/locations/{region}/batches", "batches.list", "_rest_list"),
        Route("GET", "/projects/{project}/locations/{region}/batches/{batch_id}", "batches.get", "_rest_get"),
        Route(
            "POST",
            "/projects/{project}/regions/{region}/operations/{operation}:cancel",
            "operations.cancel",
            "_rest_cancel_operation",
        ),
        Route(
            "POST",
            "/projects/{project}/locations/{region}/operations/{operation}:cancel",
            "operations.cancel",
            "_rest_cancel_operation",
        ),
        Route(
            "GET", "/projects/{project}/regions/{region}/operations/{operation}", "operations.get", "_rest_operation"
        ),
        Route(
            "GET", "/projects/{project}/locations/{region}/operations/{operation}", "operations.get", "_rest_operation"
        ),
        prefixes=("/v1",),
    )
    grpc_methods = (
        GrpcMethod(
            _BATCH_SERVICE + "CreateBatch",
            "batches.create",
            "_grpc_create",
            dataproc_v1.CreateBatchRequest.deserialize,
            _pb_serialize,
        ),
        GrpcMethod(
            _BATCH_SERVICE + "GetBatch",
            "batches.get",
            "_grpc_get",
            dataproc_v1.GetBatchRequest.deserialize,
            dataproc_v1.Batch.serialize,
        ),
        GrpcMethod(
            _BATCH_SERVICE + "ListBatches",
            "batches.list",
            "_grpc_list",
            dataproc_v1.ListBatchesRequest.deserialize,
            dataproc_v1.ListBatchesResponse.serialize,
        ),
        GrpcMethod(
            _OPERATIONS + "GetOperation",
            "operations.get",
            "_grpc_get_operation",
            operations_pb2.GetOperationRequest.FromString,
            _pb_serialize,
        ),
        GrpcMethod(
            _OPERATIONS + "CancelOperation",
            "operations.cancel",
            "_grpc_cancel_operation",
            operations_pb2.CancelOperationRequest.FromString,
            _pb_serialize,
        ),
    )
    states = {
        "PENDING": JobState.ACTIVE,
        "RUNNING": JobState.ACTIVE,
        "CANCELLING": JobState.ACTIVE,
        "SUCCEEDED": JobState.SUCCEEDED,
        "FAILED": JobState.FAILED,
        "CANCELLED": JobState.FAILED,
    }
    representative_states = {JobState.ACTIVE: "RUNNING", JobState.SUCCEEDED: "SUCCEEDED", JobState.FAILED: "FAILED"}
    id_pattern = statuses.BATCH_ID_PATTERN.pattern
    born_state = "PENDING"
    advance_steps = ((1, "RUNNING"),)
    cancelling_state = "CANCELLING"
    cancelled_state = "CANCELLED"

    def generated_id(self) -> str:
        """Dataproc's server-generated batch ID (a lowercase UUID: 36 of ``[a-z0-9-]``)."""
        return str(uuid.uuid4())

    def new_job(self, external_id: Any, state: str, token: str | None, request: Any, **fields: Any) -> DataprocJob:
        """A batch record, with the ID of its operation."""
        job = super().new_job(external_id, state, token, request, **fields)
        job.operation_id = uuid.uuid4().hex
        return job

    # ------------------------------------------------------------------ operations

    def create_batch(self, parent: str, batch: Any, batch_id: str, request_id: str) -> operations_pb2.Operation:
        """``CreateBatch``: create a batch (or return the operation ``request_id`` names)."""
        project, region = _parent(parent)
        if batch_id and not statuses.BATCH_ID_PATTERN.match(batch_id):
            raise wire.invalid_argument(f"Invalid batch_id {batch_id!r}: 4-63 of [a-z0-9-]")
        batch_types = [name for name in _BATCH_TYPES if name in batch]
        if len(batch_types) != 1:
            raise wire.invalid_argument(f"A batch needs exactly one batch type of {_BATCH_TYPES}, got {batch_types}")
        record = self._submit(project, region, batch_id or None, request_id, dataproc_v1.Batch(batch))
        return self.operation(record)

    def get_batch(self, name: str) -> Any:
        """``GetBatch``: one status call."""
        project, region, batch_id = _resource(name, "batches")
        return self.render(self._known(project, region, batch_id, poll=True))

    def list_batches(self, request: Any) -> Any:
        """``ListBatches``: ``filter`` on ``batch_id``, ``state`` and ``labels.*``; newest first."""
        project, region = _parent(request.parent)
        clauses = wire.parse_filter(request.filter)
        found = []
        for record in reversed(self._listed(project, region)):

            def field(name: str, record: DataprocJob = record) -> str | None:
                if name == "batch_id":
                    return str(record.external_id)
                if name == "state":
                    return record.state
                if name.startswith("labels."):
                    label = record.message.labels.get(name[len("labels.") :])
                    return None if label is None else str(label)
                raise wire.invalid_argument(f"Unsupported filter field {name!r}")

            if wire.matches(clauses, field):
                found.append(record)
        chunk, token = wire.page(found, request.page_size, request.page_token)
        return dataproc_v1.ListBatchesResponse(batches=[self.render(r) for r in chunk], next_page_token=token)

    def get_operation(self, name: str) -> operations_pb2.Operation:
        """``GetOperation`` on a batch's operation: one status call of the batch."""
        record = self._operation_record(name)
        polled = self.status_call(record.external_id)
        if polled is None:
            raise wire.not_found(f"operation {name}")
        return self.operation(polled)

    def cancel_operation(self, name: str) -> None:
        """``CancelOperation``: the batch goes CANCELLING, then CANCELLED; a finished batch refuses."""
        record = self._operation_record(name)
        self._cancel_record(record.project, record.region, record.external_id)

    def _operation_record(self, name: str) -> DataprocJob:
        project, _region, operation_id = _resource(name, "operations")
        for record in self.book.jobs:
            if record.operation_id == operation_id and not record.forgotten and record.project == project:
                return record
        raise wire.not_found(f"operation {name}")

    def operation_name(self, record: DataprocJob) -> str:
        """``projects/{p}/regions/{r}/operations/{id}``."""
        return f"projects/{record.project}/regions/{record.region}/operations/{record.operation_id}"

    def operation(self, record: DataprocJob) -> operations_pb2.Operation:
        """The long-running operation behind a batch: done when the batch ends, with the batch or an error."""
        with self.book.lock:
            batch = self.render(record)
            metadata = dataproc_v1.BatchOperationMetadata(
                batch=batch.name,
                batch_uuid=record.uuid,
                create_time=wire.timestamp(record.created_at),
                operation_type=dataproc_v1.BatchOperationMetadata.BatchOperationType.BATCH,
                description=f"Batch {record.external_id} (emulated)",
                labels=dict(record.message.labels),
            )
            packed_metadata = any_pb2.Any()
            packed_metadata.Pack(dataproc_v1.BatchOperationMetadata.pb(metadata))
            operation = operations_pb2.Operation(name=self.operation_name(record), metadata=packed_metadata)
            meaning = self.book.meaning(record.state)
            if meaning is JobState.SUCCEEDED:
                metadata.done_time = wire.timestamp(record.state_times[-1][1])
                operation.done = True
                operation.response.Pack(dataproc_v1.Batch.pb(batch))
            elif meaning is JobState.FAILED:
                operation.done = True
                code = code_pb2.CANCELLED if record.state == "CANCELLED" else code_pb2.UNKNOWN
                message = record.state_message or f"Batch {record.external_id} ended in {record.state}"
                operation.error.CopyFrom(status_pb2.Status(code=code, message=message))
            return operation

    def render(self, record: DataprocJob) -> Any:
        """The ``Batch`` message of a record: what was submitted plus the server's fields."""
        with self.book.lock:
            batch = dataproc_v1.Batch(record.message)
            batch.name = f"projects/{record.project}/locations/{record.region}/batches/{record.external_id}"
            batch.uuid = record.uuid
            batch.create_time = wire.timestamp(record.created_at)
            batch.state = wire.enum_value(dataproc_v1.Batch.State, record.state)
            batch.state_message = record.state_message
            batch.state_time = wire.timestamp(record.state_times[-1][1])
            batch.creator = "emulator@airflow-durable.invalid"
            batch.operation = self.operation_name(record)
            batch.state_history = [
                dataproc_v1.Batch.StateHistory(
                    state=wire.enum_value(dataproc_v1.Batch.State, s), state_start_time=wire.timestamp(t)
                )
                for s, t in record.state_times[:-1]
            ]
            return batch

    # ------------------------------------------------------------------ gRPC

    def _grpc_create(self, request: Any, call: GrpcCall) -> Any:
        return self.create_batch(request.parent, request.batch, request.batch_id, request.request_id)

    def _grpc_get(self, request: Any, call: GrpcCall) -> Any:
        return self.get_batch(request.name)

    def _grpc_list(self, request: Any, call: GrpcCall) -> Any:
        return self.list_batches(request)

    def _grpc_get_operation(self, request: Any, call: GrpcCall) -> Any:
        return self.get_operation(request.name)

    def _grpc_cancel_operation(self, request: Any, call: GrpcCall) -> Any:
        self.cancel_operation(request.name)
        return empty_pb2.Empty()

    # ------------------------------------------------------------------ REST

    def _rest_create(self, request: Request) -> Reply:
        batch = wire.from_json(dataproc_v1.Batch, request.body)
        parent = f"projects/{request.params['project']}/locations/{request.params['region']}"
        operation = self.create_batch(
            parent, batch, request.query.get("batchId", ""), request.query.get("requestId", "")
        )
        return Reply(200, _pb_json(operation))

    def _rest_get(self, request: Request) -> Reply:
        p = request.params
        batch = self.get_batch(f"projects/{p['project']}/locations/{p['region']}/batches/{p['batch_id']}")
        return Reply(200, wire.to_json(batch))

    def _rest_list(self, request: Request) -> Reply:
        query = request.query
        list_request = dataproc_v1.ListBatchesRequest(
            parent=f"projects/{request.params['project']}/locations/{request.params['region']}",
            page_size=int(query.get("pageSize") or 0),
            page_token=query.get("pageToken", ""),
            filter=query.get("filter", ""),
            order_by=query.get("orderBy", ""),
        )
        return Reply(200, wire.to_json(self.list_batches(list_request)))

    def _rest_operation(self, request: Request) -> Reply:
        return Reply(200, _pb_json(self.get_operation(_operation_path(request))))

    def _rest_cancel_operation(self, request: Request) -> Reply:
        self.cancel_operation(_operation_path(request))
        return Reply(200, {})

    # ------------------------------------------------------------------ tests

    def client(self, transport: Transport = "grpc") -> Any:
        """Return a real ``BatchControllerClient`` on ``transport`` pointed at this emulator."""
        return self.connection(transport).batch_client("emulated")

    @control
    def operation_of(self, batch_id: str) -> str:
        """Return the operation name of a batch.

        Raises:
            KeyError: Unknown batch.
        """
        return self.operation_name(self.book.get(batch_id))


_BATCH_TYPES = ("pyspark_batch", "spark_batch", "spark_r_batch", "spark_sql_batch", "pyspark_notebook_batch")


def _pb_json(message: Any) -> Any:
    import json

    from google.protobuf import json_format

    return json.loads(json_format.MessageToJson(message))


def _parent(parent: str) -> tuple[str, str]:
    parts = parent.split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] not in ("locations", "regions"):
        raise wire.invalid_argument(f"Invalid parent {parent!r}: expected projects/{{project}}/locations/{{location}}")
    return parts[1], parts[3]


def _resource(name: str, collection: str) -> tuple[str, str, str]:
    parts = name.split("/")
    if len(parts) != 6 or parts[0] != "projects" or parts[2] not in ("locations", "regions") or parts[4] != collection:
        raise wire.invalid_argument(f"Invalid name {name!r}: expected projects/*/locations/*/{collection}/*")
    return parts[1], parts[3], parts[5]


def _operation_path(request: Request) -> str:
    p = request.params
    return f"projects/{p['project']}/regions/{p['region']}/operations/{p['operation']}"
