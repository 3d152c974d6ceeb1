"""A small in-memory reference: a job service, the durable operator for it, and its contract system.

It is the suite's proof that it can be passed (fsspec tests its abstract suite against its memory
filesystem the same way), and the shortest complete example of a durable operator to copy. The operator
has the optional modes the suite covers: deferrable (:class:`InMemoryJobTrigger`) and fire-and-forget
(``wait_for_completion=False``). :class:`UpstreamStyleJobOperator` is the same service driven by an
operator written only to upstream ``ResumableJobMixin``'s six methods.

The service behaves like the vendors the protocol targets: a submission carrying a known token returns
the existing job, even a failed one (as Databricks and EMR on EKS do); forgotten jobs answer "not found";
cancel moves a job to ``CANCELLED``.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_durable.errors import DurableJobError, JobLostError
from airflow_durable.mixin import DurableJobMixin, serialize_trigger
from airflow_durable.status import JobState, StatusTable
from airflow_durable.testing.system import ExternalSystem, Submission

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

REFERENCE_STATUSES = StatusTable(
    active={"QUEUED", "RUNNING"},
    succeeded={"DONE"},
    failed={"FAILED", "CANCELLED"},
    source="airflow_durable.testing.reference.InMemoryJobService (the reference service's own states)",
)
_RAW_FOR: dict[JobState, str] = {
    JobState.ACTIVE: "RUNNING",
    JobState.SUCCEEDED: "DONE",
    JobState.FAILED: "FAILED",
}


class JobNotFound(KeyError):
    """The service does not know the job."""


class TransientServiceError(Exception):
    """A storm's fault: throttled, a server error, or a timeout (then the call was handled, its answer lost)."""


@dataclass
class _Job:
    job_id: str
    token: str | None
    payload: dict[str, Any]
    status: str = "QUEUED"
    active_calls_left: int | None = None
    outcome: JobState = JobState.SUCCEEDED


_SERVICES: dict[str, InMemoryJobService] = {}
"""Live services by name, so that a trigger (which holds only serialisable arguments) finds its service."""
_SERVICE_NAMES = itertools.count(1)


@dataclass
class InMemoryJobService:
    """A thread-safe in-memory job service with idempotency tokens and scripted job life cycles."""

    jobs: dict[str, _Job] = field(default_factory=dict)
    forgotten: set[str] = field(default_factory=set)
    cancelled: list[str] = field(default_factory=list)
    status_calls: int = 0
    listeners: list[Callable[[Any], None]] = field(default_factory=list)
    active_calls: int | None = 2
    outcome: JobState = JobState.SUCCEEDED
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    name: str = field(default_factory=lambda: f"service-{next(_SERVICE_NAMES)}")
    vendor_calls: int = 0
    """Calls to submit, status, find_by_token, cancel and result, failed ones included."""
    faults_served: int = 0
    """Calls a storm failed."""
    _storm: tuple[float, random.Random] | None = None

    def fault_storm(self, rate: float, seed: int) -> None:
        """From now on a share ``rate`` of calls raises :class:`TransientServiceError` (0 ends the storm).

        A third of them are timeouts: the call is handled (a submission creates its job) before it raises.
        """
        with self._lock:
            self._storm = (rate, random.Random(seed)) if rate > 0 else None

    def _weather(self) -> str | None:
        """Count a call; return ``"before"`` (fail unhandled), ``"after"`` (handle, then fail) or ``None``."""
        with self._lock:
            self.vendor_calls += 1
            if self._storm is None or self._storm[1].random() >= self._storm[0]:
                return None
            self.faults_served += 1
            return self._storm[1].choice(("before", "before", "after"))

    def __post_init__(self) -> None:
        _SERVICES[self.name] = self

    @staticmethod
    def named(name: str) -> InMemoryJobService:
        """Return the live service called ``name``.

        Raises:
            KeyError: No such service exists in this process.
        """
        return _SERVICES[name]

    def submit(self, payload: dict[str, Any], token: str | None = None) -> str:
        """Create a job, or return the job already created with ``token``.

        Raises:
            TransientServiceError: A storm's fault (after creating the job, for a timeout).
        """
        fault = self._weather()
        if fault == "before":
            raise TransientServiceError("503 Service Unavailable on submit")
        job_id = self._submit(payload, token)
        if fault == "after":
            raise TransientServiceError("timed out waiting for the answer to submit")
        return job_id

    def _submit(self, payload: dict[str, Any], token: str | None) -> str:
        with self._lock:
            if token is not None:
                for job in self.jobs.values():
                    if job.token == token:
                        return job.job_id
            job_id = f"job-{next(self._ids):04d}"
            self.jobs[job_id] = _Job(job_id, token, dict(payload), "QUEUED", self.active_calls, self.outcome)
            return job_id

    def status(self, job_id: str) -> str:
        """Return the job's status, advancing its scripted life cycle by one status call.

        Raises:
            TransientServiceError: A storm's fault (a failed status call does not count as one).
        """
        if self._weather() is not None:
            raise TransientServiceError(f"429 Too Many Requests on status of {job_id}")
        for listener in list(self.listeners):
            listener(job_id)
        with self._lock:
            self.status_calls += 1
            job = self._get(job_id)
            if job.status in REFERENCE_STATUSES.active and job.active_calls_left is not None:
                if job.active_calls_left <= 0:
                    job.status = _RAW_FOR[job.outcome]
                else:
                    job.active_calls_left -= 1
                    job.status = "RUNNING"
            return job.status

    def find_by_token(self, token: str) -> str | None:
        """Return the ID of the job submitted with ``token``, if any.

        Raises:
            TransientServiceError: A storm's fault.
        """
        if self._weather() is not None:
            raise TransientServiceError("500 Internal Server Error on find_by_token")
        with self._lock:
            return next((j.job_id for j in self.jobs.values() if j.token == token), None)

    def cancel(self, job_id: str) -> None:
        """Cancel a job."""
        with self._lock:
            job = self._get(job_id)
            self.cancelled.append(job_id)
            if job.status in REFERENCE_STATUSES.active:
                job.status = "CANCELLED"

    def result(self, job_id: str) -> dict[str, Any]:
        """Return the output of a finished job: a deterministic function of its payload.

        Raises:
            TransientServiceError: A storm's fault.
        """
        if self._weather() is not None:
            raise TransientServiceError("502 Bad Gateway on result")
        with self._lock:
            job = self._get(job_id)
            return {"rows": sum(range(int(job.payload.get("n", 10)) + 1)), "status": job.status}

    def _get(self, job_id: str) -> _Job:
        if job_id in self.forgotten or job_id not in self.jobs:
            raise JobNotFound(job_id)
        return self.jobs[job_id]


@dataclass(frozen=True)
class ReferenceTriggerEvent:
    """The event :class:`InMemoryJobTrigger` fires (the shape of ``airflow.triggers.base.TriggerEvent``)."""

    payload: dict[str, Any]


class InMemoryJobTrigger:
    """Polls an :class:`InMemoryJobService` job until it is terminal; fires one event.

    It has the interface the triggerer uses (``serialize`` and ``async run``) but runs only in the process
    that holds the service; a real provider's trigger subclasses ``airflow.triggers.base.BaseTrigger``.

    Events: ``{"external_id": id, "status": <raw terminal status>}``, or ``{"external_id": id, "error": ...}``
    when the job is lost or reports a status the table does not list.

    Args:
        service_name: :attr:`InMemoryJobService.name`.
        job_id: The job to poll.
        poll_interval_seconds: The delay between polls.
    """

    def __init__(self, service_name: str, job_id: str, poll_interval_seconds: float = 0.01) -> None:
        self.service_name = service_name
        self.job_id = job_id
        self.poll_interval_seconds = poll_interval_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and keyword arguments."""
        return serialize_trigger(self, "service_name", "job_id", "poll_interval_seconds")

    async def run(self) -> AsyncIterator[ReferenceTriggerEvent]:
        """Poll until the job is terminal."""
        service = InMemoryJobService.named(self.service_name)
        while True:
            try:
                status = service.status(self.job_id)
                job_state = REFERENCE_STATUSES.classify(status)
            except (JobNotFound, DurableJobError) as err:
                yield ReferenceTriggerEvent({"external_id": self.job_id, "error": str(err)})
                return
            if job_state is not JobState.ACTIVE:
                yield ReferenceTriggerEvent({"external_id": self.job_id, "status": status})
                return
            await asyncio.sleep(self.poll_interval_seconds)


class InMemoryJobOperator(DurableJobMixin, BaseOperator):
    """The reference durable operator for :class:`InMemoryJobService`.

    Args:
        service: The job service.
        payload: The job's parameters (``{"n": int}``).
        deferrable: Wait in the triggerer (:class:`InMemoryJobTrigger`) instead of polling in the worker.
        wait_for_completion: ``False`` submits and returns without waiting (fire-and-forget): the result is
            then ``{"job_id": str}``, and a retry returns that job whatever its state.
        **kwargs: ``DurableJobMixin`` and ``BaseOperator`` arguments.

    Returns (from ``execute``):
        ``{"job_id": str, "rows": int, "status": "DONE"}``; it also pushes the ``job_id`` XCom.
    """

    external_id_key = "in_memory_job_id"
    status_table = REFERENCE_STATUSES
    supports_token_lookup: ClassVar[bool] = True
    supports_cancel: ClassVar[bool] = True
    fire_and_forget_kwargs: ClassVar[dict[str, Any]] = {"wait_for_completion": False}

    def __init__(
        self,
        *,
        service: InMemoryJobService,
        payload: dict[str, Any] | None = None,
        deferrable: bool = False,
        wait_for_completion: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.service = service
        self.payload = payload or {"n": 10}
        self.deferrable = deferrable
        self.wait_for_completion = wait_for_completion

    def execute(self, context: Context) -> Any:
        """Run the durable protocol."""
        return self.execute_resumable(context)

    def waits_for_job(self) -> bool:
        """False with ``wait_for_completion=False``."""
        return self.wait_for_completion

    def job_trigger(self, external_id: JsonValue, context: Context) -> InMemoryJobTrigger:
        """The trigger of ``deferrable=True``."""
        return InMemoryJobTrigger(self.service.name, str(external_id), self.poll_interval_seconds)

    def submit_job(self, context: Context) -> JsonValue:
        """Submit with the protocol's token."""
        return self.service.submit(self.payload, token=self.submission_token)

    def is_transient_error(self, error: Exception) -> bool:
        """The service's storm faults."""
        return isinstance(error, TransientServiceError)

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """Return the raw status; a job the service forgot is lost."""
        try:
            return self.service.status(str(external_id))
        except JobNotFound as err:
            raise JobLostError(external_id) from err

    def find_job_by_token(self, token: str, context: Context) -> JsonValue:
        """Look the job up by token."""
        return self.service.find_by_token(token)

    def cancel_job(self, external_id: JsonValue) -> None:
        """Cancel the job."""
        self.service.cancel(str(external_id))

    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        """Push ``job_id`` and return the job's output (only ``job_id`` when not waiting for it)."""
        self.push_xcom(context, "job_id", external_id)
        if not self.wait_for_completion:
            return {"job_id": external_id}
        return {"job_id": external_id, **self.service.result(str(external_id))}


class UpstreamStyleJobOperator(DurableJobMixin, BaseOperator):
    """An operator written to upstream ``ResumableJobMixin``'s interface, run under ``DurableJobMixin``.

    It implements only the six upstream methods: no status table, no token, no lookup, no cancel. A job the
    service forgot reads as the sentinel status ``NOT_FOUND`` (as upstream providers map a 404). The mixin
    takes upstream's decision for any status that is neither active nor succeeded (a terminal failure:
    resubmit under a new generation), and adds every guarantee that needs nothing from the operator.

    Args:
        service: The job service.
        payload: The job's parameters (``{"n": int}``).
        **kwargs: ``DurableJobMixin`` and ``BaseOperator`` arguments.
    """

    external_id_key = "in_memory_job_id"

    def __init__(self, *, service: InMemoryJobService, payload: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.service = service
        self.payload = payload or {"n": 10}

    def execute(self, context: Context) -> Any:
        """Run the durable protocol."""
        return self.execute_resumable(context)

    def submit_job(self, context: Context) -> JsonValue:
        """Submit, without a token (upstream's interface has none)."""
        return self.service.submit(self.payload)

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """The raw status, or ``NOT_FOUND`` for a job the service forgot."""
        try:
            return self.service.status(str(external_id))
        except JobNotFound:
            return "NOT_FOUND"

    def is_job_active(self, status: str) -> bool:
        """Queued or running."""
        return status in ("QUEUED", "RUNNING")

    def is_job_succeeded(self, status: str) -> bool:
        """Done."""
        return status == "DONE"

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        """Poll until the job is no longer active; raise unless it succeeded."""
        while True:
            status = self.get_job_status(external_id, context)
            if self.is_job_succeeded(status):
                return
            if not self.is_job_active(status):
                raise RuntimeError(f"job {external_id} ended in {status}")
            time.sleep(self.poll_interval_seconds)

    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        """Push ``job_id`` and return the job's output."""
        self.push_xcom(context, "job_id", external_id)
        return {"job_id": external_id, **self.service.result(str(external_id))}


class InMemorySystem(ExternalSystem):
    """The contract suite's handle on an :class:`InMemoryJobService`."""

    def __init__(self, service: InMemoryJobService) -> None:
        self.service = service

    def submissions(self) -> Sequence[Submission]:
        """Every job the service created."""
        return [Submission(j.job_id, j.token) for j in self.service.jobs.values()]

    def status_calls(self) -> int:
        """Status requests served."""
        return self.service.status_calls

    def finish_jobs_after(self, status_calls: int | None, outcome: JobState = JobState.SUCCEEDED) -> None:
        """Script the life cycle of new jobs."""
        self.service.active_calls = status_calls
        self.service.outcome = outcome

    def set_job_state(self, external_id: Any, state: JobState) -> None:
        """Move a job to a representative status."""
        self.service.jobs[external_id].status = _RAW_FOR[state]

    def set_raw_status(self, external_id: Any, raw_status: str) -> None:
        """Set an arbitrary raw status."""
        self.service.jobs[external_id].status = raw_status

    def forget_job(self, external_id: Any) -> None:
        """Make the service answer not-found for a job."""
        self.service.forgotten.add(external_id)

    def cancelled_jobs(self) -> Sequence[Any]:
        """Jobs that received a cancel."""
        return list(self.service.cancelled)

    def add_status_listener(self, listener: Callable[[Any], None]) -> None:
        """Observe status requests."""
        self.service.listeners.append(listener)

    def fault_storm(self, rate: float, seed: int) -> None:
        """See :meth:`InMemoryJobService.fault_storm`."""
        self.service.fault_storm(rate, seed)

    def vendor_calls(self) -> int:
        """Service calls made, failed ones included."""
        return self.service.vendor_calls

    def faults_injected(self) -> int:
        """Service calls a storm failed."""
        return self.service.faults_served
