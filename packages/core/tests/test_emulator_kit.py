"""The emulator kit: life cycle, token deduplication, faults, routes, control plane, ``serve`` and the adapter."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from airflow_durable.status import JobState
from airflow_durable.testing import ControlClient, ControlError, EmulatorSystem
from airflow_durable.testing.faults import STORM_FAULTS, TIMEOUT, Faults
from airflow_durable.testing.jobs import UnknownStateError
from airflow_durable.testing.routes import Route, RouteTable
from toy_emulator import ToyEmulator

HERE = Path(__file__).parent


@pytest.fixture
def toy() -> Iterator[ToyEmulator]:
    with ToyEmulator() as emulator:
        yield emulator


def create(toy: ToyEmulator, token: str | None = None, prefix: str = "/v1") -> httpx.Response:
    return httpx.post(f"{toy.url}{prefix}/jobs", json={"token": token} if token else {})


def state(toy: ToyEmulator, job_id: int) -> str:
    response = httpx.get(f"{toy.url}/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["state"])


# --------------------------------------------------------------------------- life cycle


def test_advance_moves_jobs_through_the_script_on_status_calls(toy: ToyEmulator) -> None:
    toy.finish_after(3, "DONE")
    job_id = create(toy).json()["id"]
    assert toy.job(job_id).state == "QUEUED"
    assert [state(toy, job_id) for _ in range(4)] == ["RUNNING", "RUNNING", "DONE", "DONE"]
    assert toy.job(job_id).history == ["QUEUED", "RUNNING", "DONE"]
    assert toy.job(job_id).status_calls == 4


def test_hold_keeps_jobs_until_released_and_release_counts_from_then(toy: ToyEmulator) -> None:
    toy.hold()
    job_id = create(toy).json()["id"]
    assert [state(toy, job_id) for _ in range(3)] == ["RUNNING"] * 3
    assert toy.book.mode == "hold"
    toy.finish_after(2, "FAILED")
    assert [state(toy, job_id) for _ in range(2)] == ["RUNNING", "FAILED"]


def test_forced_states_pin_the_job_and_unknown_names_are_refused(toy: ToyEmulator) -> None:
    toy.finish_after(1, "DONE")
    job_id = create(toy).json()["id"]
    toy.force_state(job_id, "SOMETHING_NEW")
    assert state(toy, job_id) == "SOMETHING_NEW"
    assert toy.job(job_id).pinned
    with pytest.raises(UnknownStateError, match="unknown state 'NOPE'"):
        toy.book.hold("NOPE")
    with pytest.raises(KeyError):
        toy.force_state(999, "DONE")


def test_forgotten_jobs_answer_not_found_in_the_vendor_format(toy: ToyEmulator) -> None:
    job_id = create(toy).json()["id"]
    toy.forget(job_id)
    response = httpx.get(f"{toy.url}/v1/jobs/{job_id}")
    assert response.status_code == 404
    assert response.json() == {"message": f"job {job_id} not found", "code": "NOT_FOUND"}
    assert toy.jobs[0].forgotten


def test_cancel_goes_through_the_cancelling_state_and_terminal_jobs_ignore_it(toy: ToyEmulator) -> None:
    toy.hold()
    active, done = create(toy).json()["id"], create(toy).json()["id"]
    toy.force_state(done, "DONE")
    for job_id in (active, done):
        assert httpx.post(f"{toy.url}/v1/jobs/{job_id}/cancel").status_code == 200
    assert toy.job(active).state == "STOPPING"
    assert state(toy, active) == "CANCELLED"
    assert state(toy, done) == "DONE"
    assert toy.book.cancelled == [active, done]


@pytest.mark.parametrize(
    ("dedupe", "after_failure_same_job"),
    [("none", False), ("dedupe", False), ("dedupe_failed", True)],
)
def test_token_deduplication_policies(dedupe: str, after_failure_same_job: bool) -> None:
    with ToyEmulator(dedupe=dedupe) as toy:
        toy.hold()
        first = create(toy, "tok-1").json()["id"]
        again = create(toy, "tok-1")
        assert (again.json()["id"] == first) is (dedupe != "none")
        assert again.status_code == (201 if dedupe == "none" else 200)
        toy.force_state(first, "FAILED")
        after = create(toy, "tok-1").json()["id"]
        if dedupe != "none":
            assert (after == first) is after_failure_same_job
        assert toy.book.deduplicated == (
            [] if dedupe == "none" else [first] + ([first] if after_failure_same_job else [])
        )


def test_a_forgotten_jobs_token_is_an_error_until_released() -> None:
    with ToyEmulator(dedupe="dedupe_failed") as toy:
        job_id = create(toy, "tok").json()["id"]
        toy.forget(job_id)
        refused = create(toy, "tok")
        assert refused.status_code == 409
        assert refused.json()["code"] == "DELETED"
        toy.forget(job_id, release_token=True)
        assert create(toy, "tok").json()["id"] != job_id


def test_listeners_hear_every_creation_status_call_and_cancel(toy: ToyEmulator) -> None:
    heard: list[tuple[str, Any]] = []
    toy.book.listeners.append(lambda event, job_id: heard.append((event, job_id)))
    job_id = create(toy).json()["id"]
    state(toy, job_id)
    httpx.post(f"{toy.url}/v1/jobs/{job_id}/cancel")
    assert heard == [("create", job_id), ("status", job_id), ("cancel", job_id)]


def test_hooks_run_and_their_errors_are_kept(toy: ToyEmulator) -> None:
    def broken(job_id: Any) -> None:
        raise RuntimeError("hook failed")

    toy.on_status = broken
    job_id = create(toy).json()["id"]
    assert state(toy, job_id) == "QUEUED"
    assert [str(e) for e in toy.hook_errors] == ["hook failed"]


# --------------------------------------------------------------------------- routes


def test_routes_serve_every_prefix_and_refuse_wrong_methods_and_paths(toy: ToyEmulator) -> None:
    job_id = create(toy, prefix="/v2").json()["id"]
    assert httpx.get(f"{toy.url}/v2/jobs/{job_id}").json()["id"] == job_id
    assert httpx.delete(f"{toy.url}/v1/jobs/{job_id}").status_code == 404
    assert httpx.get(f"{toy.url}/v3/jobs/{job_id}").json() == {"message": f"No API found for 'GET /v3/jobs/{job_id}'"}
    assert toy.calls == {"create": 1, "status": 2}  # a wrong method still names the endpoint
    assert [r.endpoint for r in toy.requests] == ["create", "status", "status", None]


def test_route_templates_match_one_segment() -> None:
    table = RouteTable(Route("GET", "/a/{x}", "a", "h"), Route("POST", "/a/{x}/b", "b", "h"))
    found = table.match("GET", "/a/7")
    assert found is not None
    assert found.params == {"x": "7"}
    assert found.route is not None
    assert table.match("GET", "/a/7/8") is None
    wrong = table.match("GET", "/a/7/b")
    assert wrong is not None
    assert wrong.route is None
    assert wrong.endpoint == "b"
    assert table.endpoints == ("a", "b")


# --------------------------------------------------------------------------- faults


def test_fail_next_answers_vendor_errors_then_recovers_and_creates_nothing(toy: ToyEmulator) -> None:
    toy.fail_next(2, 503, endpoint="create", code="UNAVAILABLE")
    assert [create(toy).status_code for _ in range(3)] == [503, 503, 201]
    assert len(toy.jobs) == 1
    assert toy.faults.served == {"create": 2}
    toy.fail_next(1, 500, endpoint="status", body="<html>proxy</html>")
    job_id = toy.jobs[0].external_id
    response = httpx.get(f"{toy.url}/v1/jobs/{job_id}")
    assert (response.status_code, response.text, response.headers["content-type"]) == (
        500,
        "<html>proxy</html>",
        "text/html",
    )
    assert toy.job(job_id).status_calls == 0, "a failed status call counted as a poll"
    with pytest.raises(ValueError, match="unknown endpoint"):
        toy.fail_next(endpoint="nope")


def test_a_seeded_fault_rate_is_reproducible() -> None:
    def codes() -> list[int]:
        with ToyEmulator() as toy:
            toy.fault_rate(0.5, (429, 503), endpoint="create", seed=7)
            return [create(toy).status_code for _ in range(20)]

    first = codes()
    assert first == codes()
    assert {429, 503, 201} <= set(first)


def test_dropped_connection_and_latency(toy: ToyEmulator) -> None:
    toy.fail_next(1, 0)
    with pytest.raises(httpx.TransportError):
        create(toy)
    toy.set_latency(0.3)
    started = time.monotonic()
    create(toy)
    assert time.monotonic() - started >= 0.3


def test_a_timeout_handles_the_request_then_drops_the_answer(toy: ToyEmulator) -> None:
    toy.fail_next(1, TIMEOUT, endpoint="create")
    started = time.monotonic()
    with pytest.raises(httpx.TransportError):
        create(toy, "t1")
    assert time.monotonic() - started >= toy.faults.timeout_hold_seconds
    assert [job.token for job in toy.jobs] == ["t1"], "a timed-out create must still create its job"
    assert create(toy, "t1").json()["id"] == toy.jobs[0].external_id, "the retry with the token adopts it"
    assert len(toy.jobs) == 1
    assert toy.counters()["faults_served"] == {"create": 1}


def test_a_seeded_storm_fails_its_share_of_every_endpoint_with_every_storm_fault() -> None:
    def outcomes(seed: int) -> list[int]:
        with ToyEmulator() as toy:
            toy.faults.timeout_hold_seconds = 0.0
            toy.fault_storm(0.2, seed)
            seen = []
            for n in range(400):
                try:
                    seen.append(create(toy, f"t{n}").status_code)
                except httpx.TransportError:
                    seen.append(TIMEOUT)
            toy.fault_storm(0.0, seed)
            assert create(toy, "after").status_code == 201, "rate 0 ends the storm"
            assert sum(toy.faults.served.values()) == sum(code != 201 for code in seen)
            return seen

    first = outcomes(3)
    assert first == outcomes(3), "the same seed gives the same storm"
    assert first != outcomes(4)
    failed = [code for code in first if code != 201]
    assert 0.15 <= len(failed) / len(first) <= 0.25
    assert set(failed) == set(STORM_FAULTS)


def test_hold_after_create_holds_the_response_of_an_existing_job(toy: ToyEmulator) -> None:
    toy.hold_after_create(1.0, token="slow")
    answered: list[httpx.Response] = []
    caller = threading.Thread(target=lambda: answered.append(create(toy, "slow")))
    caller.start()
    toy.book.wait_for(1, timeout_seconds=5)
    time.sleep(0.2)
    assert answered == [], "the response was not held after the job was created"
    caller.join(5)
    assert answered[0].json()["id"] == toy.jobs[0].external_id
    started = time.monotonic()
    create(toy, "slow")
    assert time.monotonic() - started < 0.5, "the hold applies once"


def test_hold_after_create_matches_a_mapping_attribute_by_its_items() -> None:
    faults = Faults(["create"])
    faults.hold_after_create(0.3, labels={"app": "slow"})

    def created(labels: dict[str, str]) -> float:
        started = time.monotonic()
        faults.wrap("create", lambda: faults.job_created(SimpleNamespace(labels=labels)), lambda fault: None)
        return time.monotonic() - started

    assert created({"app": "fast", "role": "driver"}) < 0.2, "a job with another value was held"
    assert created({"role": "driver"}) < 0.2, "a job without the key was held"
    assert created({"app": "slow", "role": "driver"}) >= 0.3, "a job with the items and more was not held"
    assert created({"app": "slow"}) < 0.2, "the hold applies once"


# --------------------------------------------------------------------------- control plane and serve


def test_control_client_calls_every_control_with_positional_arguments(toy: ToyEmulator) -> None:
    with ControlClient(toy.url) as client:
        client.wait_until_up()
        client.hold()
        job_id = create(toy).json()["id"]
        client.force_state(job_id, "DONE")
        assert state(toy, job_id) == "DONE"
        assert [job["state"] for job in client.jobs()] == ["DONE"]
        client.fail_next(1, 503, endpoint="status")
        # A control's own keyword called ``name`` (a job attribute to match) does not clash with the control's name.
        client.hold_after_create(0.0, name="no such job")
        assert client.counters()["calls"] == {"create": 1, "status": 1}
        with pytest.raises(ControlError, match="no control 'nope'"):
            client.nope()
        with pytest.raises(ControlError, match="KeyError"):
            client.force_state(12345, "DONE")
    assert httpx.get(f"{toy.url}/v1/jobs/{job_id}").status_code == 503


def test_request_count_counts_vendor_requests_and_faults_but_not_controls(toy: ToyEmulator) -> None:
    with ControlClient(toy.url) as client:
        client.wait_until_up()
        assert client.request_count() == 0
        job_id = create(toy).json()["id"]
        client.fail_next(1, 429, endpoint="status")
        assert httpx.get(f"{toy.url}/v1/jobs/{job_id}").status_code == 429
        assert httpx.get(f"{toy.url}/v3/nowhere").status_code == 404
        client.jobs()
        assert client.request_count() == 3  # create, the faulted status call, the unrouted path; no control
        client.reset()
        assert client.request_count() == 0


def test_serve_runs_an_emulator_as_its_own_process(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_durable.testing.serve",
            "toy_emulator:ToyEmulator",
            "--port-file",
            str(port_file),
            "--option",
            'dedupe="dedupe_failed"',
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        assert int(port_file.read_text()) == port
        url = f"http://127.0.0.1:{port}"
        with ControlClient(url) as client:
            client.wait_until_up()
            first = httpx.post(f"{url}/v1/jobs", json={"token": "t"}).json()["id"]
            client.force_state(first, "FAILED")
            assert httpx.post(f"{url}/v1/jobs", json={"token": "t"}).json()["id"] == first  # --option applied
    finally:
        process.terminate()
        assert process.wait(10) == 0


# --------------------------------------------------------------------------- the contract's adapter


def test_emulator_system_drives_any_emulator(toy: ToyEmulator) -> None:
    system = EmulatorSystem(toy)
    heard: list[Any] = []
    system.add_status_listener(heard.append)
    system.finish_jobs_after(2, JobState.FAILED)
    job_id = create(toy, "tok").json()["id"]
    assert [state(toy, job_id) for _ in range(3)] == ["RUNNING", "RUNNING", "FAILED"]
    assert system.submissions()[0].token == "tok"
    assert system.status_calls() == 3
    assert heard == [job_id] * 3
    system.set_job_state(job_id, JobState.SUCCEEDED)
    assert state(toy, job_id) == "DONE"
    system.set_raw_status(job_id, "ODD")
    assert state(toy, job_id) == "ODD"
    httpx.post(f"{toy.url}/v1/jobs/{job_id}/cancel")
    assert list(system.cancelled_jobs()) == [job_id]
    system.forget_job(job_id)
    assert httpx.get(f"{toy.url}/v1/jobs/{job_id}").status_code == 404


def _serve(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "airflow_durable.testing.serve", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["toy_emulator.ToyEmulator"], "expected 'module:Class'"),
        (["toy_emulator:Nope"], "cannot load the emulator"),
        (["no_such_module:X"], "cannot load the emulator"),
        (["airflow_durable.testing.routes:Route"], "is not an airflow_durable.testing.Emulator subclass"),
        (["toy_emulator:ToyEmulator", "--option", "colour=1"], "cannot build ToyEmulator with --option"),
        (["toy_emulator:ToyEmulator", "--option", "port"], "expected NAME=VALUE"),
    ],
)
def test_serve_refuses_bad_arguments_with_a_usage_error(args: list[str], message: str) -> None:
    process = _serve(*args)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr
    assert message in stderr
    assert "Traceback" not in stderr


def test_serve_stops_cleanly_on_repeated_sigterm(tmp_path: Path) -> None:
    process = _serve("toy_emulator:ToyEmulator")
    assert process.stdout is not None
    int(process.stdout.readline())  # serving
    for _ in range(3):  # the process group's SIGTERM and a forwarded one can arrive together
        process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0


def test_unknown_jobs_are_named_in_the_error(toy: ToyEmulator) -> None:
    create(toy)
    with pytest.raises(KeyError, match=r"no job 999 \(latest known: 1"):
        toy.force_state(999, "DONE")


def test_the_control_plane_starts_and_ends_a_storm(toy: ToyEmulator) -> None:
    """What ``DemoProvider.start_fault_storm`` calls on an emulator running as its own process."""
    with ControlClient(toy.url) as client:
        client.fault_storm(0.2, 7)
        assert toy.faults.describe()["rate"] == 0.2
        assert toy.faults.describe()["rate_statuses"] == list(STORM_FAULTS)
        client.fault_storm(0, 7)
    assert toy.faults.describe()["rate"] is None
