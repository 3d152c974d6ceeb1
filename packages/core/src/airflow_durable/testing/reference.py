"""A small in-memory reference: a job service, the durable operator for it, and its contract system.

It is the suite's proof that it can be passed (fsspec tests its abstract suite against its memory
filesystem the same way), and the shortest complete example of a durable operator to copy.

The service behaves like the vendors in ``notes/external-apis.md``: a submission carrying a known token
returns the existing job, even a failed one (as Databricks and EMR on EKS do); forgotten jobs answer
"not found"; cancel moves a job to ``CANCELLED``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_durable.errors import JobLostError
from airflow_durable.mixin import DurableJobMixin
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


@dataclass
class _Job:
    job_id: str
    token: str | None
    payload: dict[str, Any]
    status: str = "QUEUED"
    active_calls_left: int | None = None
    outcome: JobState = JobState.SUCCEEDED


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

    def submit(self, payload: dict[str, Any], token: str | None = None) -> str:
        """Create a job, or return the job already created with ``token``."""
        with self._lock:
            if token is not None:
                for job in self.jobs.values():
                    if job.token == token:
                        return job.job_id
            job_id = f"job-{next(self._ids):04d}"
            self.jobs[job_id] = _Job(job_id, token, dict(payload), "QUEUED", self.active_calls, self.outcome)
            return job_id

    def status(self, job_id: str) -> str:
        """Return the job's status, advancing its scripted life cycle by one status call."""
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
        """Return the ID of the job submitted with ``token``, if any."""
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
        """Return the output of a finished job: a deterministic function of its payload."""
        with self._lock:
            job = self._get(job_id)
            return {"rows": sum(range(int(job.payload.get("n", 10)) + 1)), "status": job.status}

    def _get(self, job_id: str) -> _Job:
        if job_id in self.forgotten or job_id not in self.jobs:
            raise JobNotFound(job_id)
        return self.jobs[job_id]


class InMemoryJobOperator(DurableJobMixin, BaseOperator):
    """The reference durable operator for :class:`InMemoryJobService`.

    Args:
        service: The job service.
        payload: The job's parameters (``{"n": int}``).
        **kwargs: ``DurableJobMixin`` and ``BaseOperator`` arguments.

    Returns (from ``execute``):
        ``{"job_id": str, "rows": int, "status": "DONE"}``; it also pushes the ``job_id`` XCom.
    """

    external_id_key = "in_memory_job_id"
    status_table = REFERENCE_STATUSES
    supports_token_lookup: ClassVar[bool] = True
    supports_cancel: ClassVar[bool] = True

    def __init__(self, *, service: InMemoryJobService, payload: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.service = service
        self.payload = payload or {"n": 10}

    def execute(self, context: Context) -> Any:
        """Run the durable protocol."""
        return self.execute_resumable(context)

    def submit_job(self, context: Context) -> JsonValue:
        """Submit with the protocol's token."""
        return self.service.submit(self.payload, token=self.submission_token)

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
        """Push ``job_id`` and return the job's output."""
        context["ti"].xcom_push(key="job_id", value=external_id)
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
