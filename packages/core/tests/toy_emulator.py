"""A minimal vendor on the emulator kit, for the kit's own tests (and ``serve``'s, in a subprocess)."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow_durable.status import JobState
from airflow_durable.testing.emulator import Emulator
from airflow_durable.testing.jobs import Dedupe, EmulatedJob
from airflow_durable.testing.routes import ApiError, Reply, Request, Route, RouteTable


class ToyEmulator(Emulator[EmulatedJob]):
    """Jobs API: ``POST /v1/jobs`` (``{"token": ...}``), ``GET /v1/jobs/{id}``, ``POST /v1/jobs/{id}/cancel``."""

    routes = RouteTable(
        Route("POST", "/jobs", "create", "_create"),
        Route("GET", "/jobs/{job_id}", "status", "_status"),
        Route("POST", "/jobs/{job_id}/cancel", "cancel", "_cancel"),
        prefixes=("/v1", "/v2"),
    )
    states: ClassVar[dict[str, JobState]] = {
        "QUEUED": JobState.ACTIVE,
        "RUNNING": JobState.ACTIVE,
        "STOPPING": JobState.ACTIVE,
        "DONE": JobState.SUCCEEDED,
        "FAILED": JobState.FAILED,
        "CANCELLED": JobState.FAILED,
    }
    id_pattern = r"^\d+$"
    representative_states: ClassVar[dict[JobState, str]] = {
        JobState.ACTIVE: "RUNNING",
        JobState.SUCCEEDED: "DONE",
        JobState.FAILED: "FAILED",
    }
    born_state = "QUEUED"
    advance_steps = ((1, "RUNNING"),)
    cancelled_state = "CANCELLED"
    cancelling_state = "STOPPING"
    calls_to_cancel = 1

    def __init__(self, *, dedupe: str = "dedupe", **kwargs: Any) -> None:
        self.dedupe = Dedupe(dedupe)  # type: ignore[misc]
        super().__init__(**kwargs)

    def _create(self, request: Request) -> Reply:
        body = request.json()
        try:
            job, created = self.book.submit(body.get("token"), body)
        except LookupError as exc:
            raise ApiError(409, str(exc), code="DELETED") from exc
        return Reply(201 if created else 200, {"id": job.external_id})

    def _status(self, request: Request) -> Reply:
        job = self.status_call(self.coerce_id(request.params["job_id"]))
        if job is None:
            raise ApiError(404, f"job {request.params['job_id']} not found", code="NOT_FOUND")
        return Reply(200, {"id": job.external_id, "state": job.state})

    def _cancel(self, request: Request) -> Reply:
        if self.book.cancel(self.coerce_id(request.params["job_id"])) is None:
            raise ApiError(404, "not found", code="NOT_FOUND")
        return Reply(200, {})

    def coerce_id(self, job_id: Any) -> Any:
        """IDs are ints on the wire and in JSON."""
        return int(job_id)
