"""The emulator kit's hooks for vendors whose records and names differ from the kit's.

``external_id`` keys a job (so a vendor's record may use ``job_id`` for its own purpose), ``history_entry``
chooses what the history records, ``new_job`` builds richer records, ``initial_script`` is what ``reset``
returns to, ``calls`` is a control, ``Alias`` forwards a vendor's name to a kit attribute, and a fault's
``message`` detail becomes the error's message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest

from airflow_durable.status import JobState
from airflow_durable.testing import Alias, ControlClient, EmulatedJob, Emulator, EmulatorSystem, Script
from airflow_durable.testing.routes import Reply, Request, Route, RouteTable


@dataclasses.dataclass(eq=False)
class Run(EmulatedJob):
    job_id: str = ""
    detail: str = ""
    children: list[int] = dataclasses.field(default_factory=list)

    def history_entry(self) -> tuple[str, str]:
        return self.state, self.detail


class VendorEmulator(Emulator[Run]):
    routes = RouteTable(
        Route("POST", "/runs", "create", "_create"),
        Route("GET", "/runs/{run_id}", "status", "_status"),
    )
    states: ClassVar[dict[str, JobState]] = {
        "RUNNING": JobState.ACTIVE,
        "DONE": JobState.SUCCEEDED,
        "FAILED": JobState.FAILED,
    }
    id_pattern = r"^\d+$"
    job_class = Run
    cancelled_state = "FAILED"
    representative_states: ClassVar[dict[JobState, str]] = {
        JobState.ACTIVE: "RUNNING",
        JobState.SUCCEEDED: "DONE",
        JobState.FAILED: "FAILED",
    }
    born_state = "RUNNING"
    latency = Alias("faults.latency_seconds", "Seconds every request waits.")
    created = Alias("book.deduplicated")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.finish_after(2, "DONE")
        self.book.initial_script = self.book.script

    def new_job(self, external_id: Any, state: str, token: str | None, request: Any, **fields: Any) -> Run:
        children = [self.new_job_id(), self.new_job_id()]
        return Run(external_id, state, token, request, job_id="job-of-" + str(external_id), children=children)

    def enter_state(self, job: Run, state: str, **fields: Any) -> None:
        job.state = state
        job.detail = fields.get("detail", state.lower())

    def _create(self, request: Request) -> Reply:
        job, _ = self.book.submit(None, request.json())
        return Reply(200, {"id": job.external_id})

    def _status(self, request: Request) -> Reply:
        job = self.status_call(int(request.params["run_id"]))
        return Reply(200, {"state": job.state}) if job else Reply(404, {"message": "gone"})

    def coerce_id(self, job_id: Any) -> int:
        return int(job_id)


@pytest.fixture
def emulator() -> Iterator[VendorEmulator]:
    with VendorEmulator() as emu:
        yield emu


def test_records_are_keyed_by_external_id_and_built_by_new_job(emulator: VendorEmulator) -> None:
    first = httpx.post(f"{emulator.url}/runs", json={}).json()["id"]
    second = httpx.post(f"{emulator.url}/runs", json={}).json()["id"]
    run = emulator.book.get(first)
    assert run.job_id == f"job-of-{first}"
    assert run.children == [first + 1, first + 2], "new_job draws IDs after the record's own"
    assert second == first + 3
    assert [s.external_id for s in EmulatorSystem(emulator).submissions()] == [first, second]


def test_history_records_history_entry(emulator: VendorEmulator) -> None:
    run_id = httpx.post(f"{emulator.url}/runs", json={}).json()["id"]
    for _ in range(2):
        httpx.get(f"{emulator.url}/runs/{run_id}")
    emulator.book.force(run_id, "FAILED", detail="forced")
    assert emulator.book.get(run_id).history == [("RUNNING", "running"), ("DONE", "done"), ("FAILED", "forced")]


def test_reset_returns_to_the_initial_script(emulator: VendorEmulator) -> None:
    emulator.hold()
    assert emulator.book.mode == "hold"
    emulator.reset()
    assert emulator.book.script == Script("RUNNING", ((2, "DONE"),))


def test_calls_is_a_control_and_alias_forwards(emulator: VendorEmulator) -> None:
    httpx.post(f"{emulator.url}/runs", json={})
    emulator.latency = 0.01
    assert emulator.faults.latency_seconds == 0.01
    assert emulator.created is emulator.book.deduplicated
    assert VendorEmulator.latency.__doc__ == "Seconds every request waits."
    with ControlClient(emulator.url) as client:
        assert client.calls() == {"create": 1}


def test_fault_message_detail_is_the_error_message(emulator: VendorEmulator) -> None:
    emulator.fail_next(1, 503, endpoint="create", message="try later")
    response = httpx.post(f"{emulator.url}/runs", json={})
    assert response.status_code == 503
    assert response.json() == {"message": "try later"}
    emulator.fail_next(1, 503, endpoint="create")
    assert httpx.post(f"{emulator.url}/runs", json={}).json() == {"message": "Emulated 503 on create"}
