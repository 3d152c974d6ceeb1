"""Fast contract tests (no JVM) for the Spark master REST emulator and the fake spark-submit.

The fixtures in ``fixtures/spark_4_2_0_rest.json`` were captured from a real Spark 4.2.0 standalone
master (see ``test_cluster.py``, which re-checks them against a live cluster).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_durable_spark.testing import SparkMasterEmulator, install_fake_spark_submit
from airflow_durable_spark.testing.emulator import DRIVER_ID_PATTERN, jackson_pretty
from airflow_durable_spark.testing.fake_spark_submit import parse_args

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "spark_4_2_0_rest.json").read_text())
REAL = FIXTURES["responses"]
HOOK_DRIVER_REGEX = r"driver-[0-9\-]+"  # what SparkSubmitHook._process_spark_submit_log uses


def normalize(text: str) -> str:
    """Replace run-specific values (IDs, ports, timestamps) so real and emulated output compare."""
    text = re.sub(r"driver-\d{14}-\d{4,}", "DRIVER", text)
    text = re.sub(r"worker-\d{14}-[\d.]+-\d+", "WORKER", text)
    text = re.sub(r"127\.0\.0\.1:\d+", "HOSTPORT", text)
    text = re.sub(r"\d\d/\d\d/\d\d \d\d:\d\d:\d\d", "TIMESTAMP", text)
    return text


@pytest.fixture
def emulator() -> Iterator[SparkMasterEmulator]:
    with SparkMasterEmulator() as master:
        yield master


def create_body(name: str = "demo", args: tuple[str, ...] = ("5", "1000")) -> dict[str, Any]:
    return {
        "action": "CreateSubmissionRequest",
        "appArgs": list(args),
        "appResource": "file:/tmp/app.jar",
        "clientSparkVersion": "4.2.0",
        "environmentVariables": {"SPARK_LOCAL_IP": "127.0.0.1"},
        "mainClass": "DurableDemoApp",
        "sparkProperties": {"spark.app.name": name, "spark.driver.memory": "512m"},
    }


def create(master: SparkMasterEmulator, **kwargs: Any) -> str:
    response = httpx.post(f"{master.url}/v1/submissions/create", json=create_body(**kwargs))
    assert response.status_code == 200, response.text
    return str(response.json()["submissionId"])


def status(master: SparkMasterEmulator, driver_id: str) -> httpx.Response:
    return httpx.get(f"{master.url}/v1/submissions/status/{driver_id}")


# --------------------------------------------------------------------------- wire format vs real Spark


def assert_same_as_real(kind: str, response: httpx.Response) -> None:
    real = REAL[kind]
    assert response.status_code == real["status"]
    assert response.headers["content-type"] == real["content_type"]
    assert normalize(response.text) == normalize(real["body"]), kind


def test_every_response_matches_the_captured_real_bodies(emulator: SparkMasterEmulator) -> None:
    emulator.hold("SUBMITTED")
    url = emulator.url
    create_response = httpx.post(f"{url}/v1/submissions/create", json=create_body())
    assert_same_as_real("create", create_response)
    driver_id = create_response.json()["submissionId"]
    assert_same_as_real("status_submitted", status(emulator, driver_id))
    emulator.set_state(driver_id, "RUNNING")
    assert_same_as_real("status_running", status(emulator, driver_id))
    assert_same_as_real("kill_active", httpx.post(f"{url}/v1/submissions/kill/{driver_id}"))
    assert_same_as_real("status_killed", status(emulator, driver_id))
    assert_same_as_real("kill_finished", httpx.post(f"{url}/v1/submissions/kill/{driver_id}"))

    other = create(emulator)
    emulator.set_state(other, "FINISHED")
    assert_same_as_real("status_finished", status(emulator, other))
    unknown = "driver-20990101000000-9999"
    assert_same_as_real("status_unknown", status(emulator, unknown))
    assert_same_as_real("kill_unknown", httpx.post(f"{url}/v1/submissions/kill/{unknown}"))
    assert_same_as_real("status_missing_id", httpx.get(f"{url}/v1/submissions/status"))
    assert_same_as_real("unknown_action", httpx.get(f"{url}/v1/submissions/bogus"))

    for kind, body in (
        ("create_malformed_json", b"{not json"),
        ("create_invalid", b'{"action":"CreateSubmissionRequest"}'),
    ):
        response = httpx.post(f"{url}/v1/submissions/create", content=body)
        assert response.status_code == REAL[kind]["status"] == 400
        assert sorted(response.json()) == REAL[kind]["keys"]
        assert response.json()["message"].startswith("Malformed request: ")


def test_unknown_id_response_has_no_driver_state_and_no_message(emulator: SparkMasterEmulator) -> None:
    body = status(emulator, "driver-20990101000000-9999").json()
    assert body == json.loads(REAL["status_unknown"]["body"])
    assert "driverState" not in body
    assert "message" not in body


def test_jackson_pretty_reproduces_real_request_and_response_text() -> None:
    for real in REAL.values():
        if real.get("body"):
            assert jackson_pretty(json.loads(real["body"]), sort_top_level=True) == real["body"]
    request = FIXTURES["create_request"]["body"]
    assert jackson_pretty(json.loads(request), sort_top_level=True) == request


def test_master_json_has_the_real_shape(emulator: SparkMasterEmulator) -> None:
    emulator.hold("RUNNING")
    running = create(emulator)
    emulator.hold("SUBMITTED")
    queued = create(emulator)
    done = create(emulator)
    emulator.set_state(done, "FAILED")
    document = httpx.get(f"{emulator.url}/json/").json()
    real = FIXTURES["master_json_parsed"]
    assert list(document) == list(real)
    assert sorted(document["workers"][0]) == sorted(real["workers"][0])
    assert sorted(document["activedrivers"][0]) == sorted(real["activedrivers"][0])
    assert [d["id"] for d in document["activedrivers"]] == [running, queued]
    assert [d["state"] for d in document["activedrivers"]] == ["RUNNING", "SUBMITTED"]
    assert document["activedrivers"][1]["worker"] == "None"
    assert document["activedrivers"][0]["memory"] == 512
    assert [(d["id"], d["state"]) for d in document["completeddrivers"]] == [(done, "FAILED")]
    assert re.fullmatch(r"\w{3} \w{3} \d\d \d\d:\d\d:\d\d \w+ \d{4}", document["activedrivers"][0]["submitdate"])
    assert httpx.get(f"{emulator.url}/json").status_code == 200


def test_driver_ids_use_sparks_format_and_count_up(emulator: SparkMasterEmulator) -> None:
    ids = [create(emulator) for _ in range(3)]
    assert all(DRIVER_ID_PATTERN.match(i) for i in ids)
    assert [i[-4:] for i in ids] == ["0000", "0001", "0002"]
    assert all(re.fullmatch(HOOK_DRIVER_REGEX, i) for i in ids)


# --------------------------------------------------------------------------- lifecycle control


def test_advance_mode_runs_then_finishes_after_n_polls() -> None:
    with SparkMasterEmulator(polls_to_finish=3) as master:
        driver_id = create(master)
        assert master.state_of(driver_id) == "SUBMITTED"
        states = [status(master, driver_id).json()["driverState"] for _ in range(4)]
        assert states == ["RUNNING", "RUNNING", "FINISHED", "FINISHED"]
        assert master.status_calls[driver_id] == 4
        assert master.driver(driver_id).status_polls == 4


def test_advance_mode_with_a_failing_final_state() -> None:
    with SparkMasterEmulator(polls_to_finish=1, final_state="FAILED") as master:
        driver_id = create(master)
        assert status(master, driver_id).json()["driverState"] == "FAILED"


def test_hold_mode_keeps_drivers_until_moved(emulator: SparkMasterEmulator) -> None:
    emulator.hold()
    driver_id = create(emulator)
    for _ in range(5):
        assert status(emulator, driver_id).json()["driverState"] == "RUNNING"
    emulator.set_state(driver_id, "FINISHED")
    assert status(emulator, driver_id).json()["driverState"] == "FINISHED"
    assert emulator.mode == "hold"


def test_switching_back_to_advance_resumes_unpinned_drivers(emulator: SparkMasterEmulator) -> None:
    emulator.hold()
    free = create(emulator)
    pinned = create(emulator)
    emulator.set_state(pinned, "RUNNING")
    emulator.advance(polls_to_finish=1)
    assert status(emulator, free).json()["driverState"] == "FINISHED"
    assert status(emulator, pinned).json()["driverState"] == "RUNNING"


def test_error_state_reports_a_message(emulator: SparkMasterEmulator) -> None:
    driver_id = create(emulator)
    emulator.set_state(driver_id, "ERROR", message="java.io.IOException: worker lost")
    body = status(emulator, driver_id).json()
    assert body["driverState"] == "ERROR"
    assert body["message"] == "java.io.IOException: worker lost"


def test_forget_makes_the_master_answer_like_for_an_unknown_id(emulator: SparkMasterEmulator) -> None:
    driver_id = create(emulator)
    emulator.forget(driver_id)
    body = status(emulator, driver_id).json()
    assert body == {
        "action": "SubmissionStatusResponse",
        "serverSparkVersion": "4.2.0",
        "submissionId": driver_id,
        "success": False,
    }
    assert httpx.post(f"{emulator.url}/v1/submissions/kill/{driver_id}").json()["success"] is False
    assert driver_id not in emulator.known_driver_ids()
    assert emulator.driver(driver_id).forgotten
    assert [d.driver_id for d in emulator.drivers] == [driver_id]
    assert httpx.get(f"{emulator.url}/json/").json()["activedrivers"] == []


def test_a_recovering_master_refuses_with_a_message(emulator: SparkMasterEmulator) -> None:
    driver_id = create(emulator)
    emulator.set_master_state("RECOVERING")
    body = status(emulator, driver_id).json()
    assert body["success"] is False
    assert "driverState" not in body
    assert body["message"].startswith("Exception from the cluster:\njava.lang.Exception: Current state is not")
    kill = httpx.post(f"{emulator.url}/v1/submissions/kill/{driver_id}").json()
    assert kill["success"] is False
    assert "ALIVE" in kill["message"]
    refused = httpx.post(f"{emulator.url}/v1/submissions/create", json=create_body()).json()
    assert refused["success"] is False
    assert "submissionId" not in refused
    assert httpx.get(f"{emulator.url}/json/").json()["status"] == "RECOVERING"
    emulator.set_master_state("ALIVE")
    assert status(emulator, driver_id).json()["success"] is True
    assert len(emulator.drivers) == 1


def test_drivers_keep_their_request_bodies(emulator: SparkMasterEmulator) -> None:
    driver_id = create(emulator, name="my-app", args=("7", "42"))
    (record,) = emulator.drivers
    assert record.driver_id == driver_id
    assert record.request == create_body(name="my-app", args=("7", "42"))
    assert record.app_name == "my-app"
    assert record.app_args == ["7", "42"]
    assert record.main_class == "DurableDemoApp"
    assert record.spark_properties["spark.driver.memory"] == "512m"


def test_fail_next_injects_http_errors_then_recovers(emulator: SparkMasterEmulator) -> None:
    driver_id = create(emulator)
    emulator.fail_next(2, status=503, endpoint="status")
    assert status(emulator, driver_id).status_code == 503
    assert httpx.post(f"{emulator.url}/v1/submissions/kill/nothing").status_code == 200  # other endpoint
    assert status(emulator, driver_id).status_code == 503
    assert status(emulator, driver_id).status_code == 200
    assert emulator.status_calls[driver_id] == 3
    assert emulator.driver(driver_id).status_polls == 1

    emulator.fail_next(1, status=500, endpoint="create", body="boom")
    failed = httpx.post(f"{emulator.url}/v1/submissions/create", json=create_body())
    assert (failed.status_code, failed.text) == (500, "boom")
    assert len(emulator.drivers) == 1
    assert emulator.create_calls == 2


def test_fail_next_with_status_zero_drops_the_connection(emulator: SparkMasterEmulator) -> None:
    emulator.fail_next(1, status=0)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{emulator.url}/v1/submissions/status/driver-20990101000000-0001")
    assert status(emulator, "driver-20990101000000-0001").status_code == 200


def test_on_status_hook_runs_in_the_server_thread_before_answering(emulator: SparkMasterEmulator) -> None:
    emulator.hold()
    driver_id = create(emulator)
    seen: list[tuple[str, str]] = []

    def hook(polled_id: str) -> None:
        seen.append((polled_id, threading.current_thread().name))
        emulator.set_state(polled_id, "FAILED")  # may use the control API: no lock is held

    emulator.on_status = hook
    assert status(emulator, driver_id).json()["driverState"] == "FAILED"
    assert seen[0][0] == driver_id
    assert seen[0][1] != threading.current_thread().name

    def broken(_: str) -> None:
        raise RuntimeError("hook failed")

    emulator.on_status = broken
    assert status(emulator, driver_id).status_code == 200
    assert isinstance(emulator.hook_errors[0], RuntimeError)


def test_kill_of_a_submitted_driver(emulator: SparkMasterEmulator) -> None:
    emulator.hold("SUBMITTED")
    driver_id = create(emulator)
    assert httpx.post(f"{emulator.url}/v1/submissions/kill/{driver_id}").json()["success"] is True
    body = status(emulator, driver_id).json()
    assert body["driverState"] == "KILLED"
    assert "workerId" not in body
    assert emulator.kill_calls[driver_id] == 1


def test_wrong_methods_and_paths(emulator: SparkMasterEmulator) -> None:
    assert httpx.get(f"{emulator.url}/v1/submissions/create").status_code == 405
    assert httpx.post(f"{emulator.url}/v1/submissions/status/x").status_code == 405
    assert httpx.get(f"{emulator.url}/nope").status_code == 404
    assert not emulator.drivers


def test_stop_releases_the_port() -> None:
    master = SparkMasterEmulator().start()
    port = master.port
    master.stop()
    master.stop()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


# --------------------------------------------------------------------------- fake spark-submit


@pytest.fixture
def fake_bin(tmp_path: Path, emulator: SparkMasterEmulator) -> Path:
    install_fake_spark_submit(tmp_path / "bin", emulator.url)
    return tmp_path / "bin"


def fake_env(fake_bin: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "FAKE_SPARK_SUBMIT"))}
    env["PATH"] = f"{fake_bin}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def real_style_argv(master: SparkMasterEmulator, *extra: str) -> list[str]:
    return [
        "spark-submit",
        "--master",
        master.master_url,
        "--deploy-mode",
        "cluster",
        "--class",
        "DurableDemoApp",
        "--name",
        "demo-finish",
        "--conf",
        "spark.driver.memory=512m",
        "--conf",
        "spark.master.rest.enabled=true",
        *extra,
        "/tmp/durable-demo-app.jar",
        "5",
        "1000",
    ]


def run_timed(argv: list[str], env: dict[str, str]) -> tuple[int, list[tuple[float, str]], float]:
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines = [(time.monotonic() - start, line.rstrip("\n")) for line in proc.stdout]
    code = proc.wait()
    return code, lines, time.monotonic() - start


def test_fake_spark_submit_prints_exactly_the_real_lines(fake_bin: Path, emulator: SparkMasterEmulator) -> None:
    emulator.hold()
    code, lines, _ = run_timed(real_style_argv(emulator), fake_env(fake_bin, SPARK_LOCAL_IP="127.0.0.1"))
    assert code == 0, lines
    text = [line for _, line in lines]
    assert [normalize(line) for line in text] == [normalize(line) for line in FIXTURES["spark_submit_stderr"]]
    (record,) = emulator.drivers
    matches = [m.group(0) for line in text if (m := re.search(HOOK_DRIVER_REGEX, line))]
    assert matches[0] == record.driver_id
    # Like the real client, it polled the status once.
    assert emulator.status_calls[record.driver_id] == 1


def test_fake_spark_submit_sends_the_real_create_request(fake_bin: Path, emulator: SparkMasterEmulator) -> None:
    code, lines, _ = run_timed(real_style_argv(emulator), fake_env(fake_bin, SPARK_LOCAL_IP="127.0.0.1"))
    assert code == 0, lines
    real = json.loads(FIXTURES["create_request"]["body"])
    (record,) = emulator.drivers
    sent = record.request
    assert list(sent) == list(real)
    assert sorted(sent["sparkProperties"]) == sorted(real["sparkProperties"])
    assert sent["environmentVariables"] == {"SPARK_LOCAL_IP": "127.0.0.1"}
    assert sent["appResource"] == "file:/tmp/durable-demo-app.jar"
    assert sent["appArgs"] == ["5", "1000"]
    assert sent["mainClass"] == "DurableDemoApp"
    assert sent["sparkProperties"]["spark.master"] == emulator.master_url
    assert sent["sparkProperties"]["spark.app.name"] == "demo-finish"
    assert sent["sparkProperties"]["spark.jars"] == "file:/tmp/durable-demo-app.jar"


def test_fake_spark_submit_exit_delay_from_emulator_and_env(fake_bin: Path, emulator: SparkMasterEmulator) -> None:
    """The emulator's exit delay holds spark-submit after it printed the driver ID; the env var overrides it.

    Compared with each other rather than with a wall-clock bound, so machine load does not matter.
    """
    emulator.fake_submit.exit_delay_ms = 3000
    code, lines, total = run_timed(real_style_argv(emulator), fake_env(fake_bin))
    assert code == 0
    id_seen = next(t for t, line in lines if "Submission successfully created as" in line)
    delayed_gap = total - id_seen
    assert delayed_gap >= 3.0

    code, lines, total = run_timed(real_style_argv(emulator), fake_env(fake_bin, FAKE_SPARK_SUBMIT_EXIT_DELAY_MS="0"))
    id_seen = next(t for t, line in lines if "Submission successfully created as" in line)
    assert total - id_seen < delayed_gap - 2.0


def test_fake_spark_submit_crash_after_create_leaves_an_orphan_driver(
    fake_bin: Path, emulator: SparkMasterEmulator
) -> None:
    emulator.fake_submit.crash_after_create = True
    code, lines, _ = run_timed(real_style_argv(emulator), fake_env(fake_bin))
    assert code == 137
    assert len(emulator.drivers) == 1
    assert not any(re.search(HOOK_DRIVER_REGEX, line) for _, line in lines)


def test_fake_spark_submit_needs_rest_enabled_like_the_real_one(
    fake_bin: Path, emulator: SparkMasterEmulator, tmp_path: Path
) -> None:
    argv = [a for a in real_style_argv(emulator) if a != "spark.master.rest.enabled=true"]
    argv.remove("--conf")  # the one before the removed value
    code, lines, _ = run_timed(argv, fake_env(fake_bin))
    assert code == 1
    assert any("Too large frame" in line for _, line in lines)
    assert not emulator.drivers

    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    (conf_dir / "spark-defaults.conf").write_text("spark.master.rest.enabled true\n")
    code, lines, _ = run_timed(argv, fake_env(fake_bin, SPARK_CONF_DIR=str(conf_dir)))
    assert code == 0, lines
    assert len(emulator.drivers) == 1


def test_fake_spark_submit_reports_http_errors(fake_bin: Path, emulator: SparkMasterEmulator) -> None:
    emulator.fail_next(1, status=503, endpoint="create")
    code, lines, _ = run_timed(real_style_argv(emulator), fake_env(fake_bin))
    assert code == 1
    assert any("Malformed response" in line for _, line in lines)
    assert not emulator.drivers


def test_fake_spark_submit_status_and_kill(fake_bin: Path, emulator: SparkMasterEmulator) -> None:
    emulator.hold()
    driver_id = create(emulator)
    env = fake_env(fake_bin)

    def spark_submit(action: str) -> str:
        argv = ["spark-submit", "--master", emulator.master_url, action, driver_id]
        return subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stderr

    assert '"driverState" : "RUNNING",' in spark_submit("--status")
    assert "KillSubmissionResponse" in spark_submit("--kill")
    assert emulator.state_of(driver_id) == "KILLED"


def test_parse_args_handles_the_options_the_hook_passes() -> None:
    args = parse_args(
        [
            "--master",
            "spark://127.0.0.1:6066",
            "--conf",
            "a.b=c=d",
            "--conf=x=y",
            "--files",
            "f1",
            "--jars",
            "j1.jar",
            "--num-executors",
            "2",
            "--total-executor-cores",
            "3",
            "--executor-cores",
            "1",
            "--executor-memory",
            "1g",
            "--driver-memory",
            "512m",
            "--name",
            "n",
            "--class",
            "C",
            "--verbose",
            "--supervise",
            "--deploy-mode",
            "cluster",
            "app.jar",
            "--not-an-option",
            "2",
        ]
    )
    assert args.master == "spark://127.0.0.1:6066"
    assert args.properties["a.b"] == "c=d"
    assert args.properties["x"] == "y"
    assert args.properties["spark.jars"] == "j1.jar"
    assert args.properties["spark.cores.max"] == "3"
    assert args.supervise
    assert args.verbose
    assert args.primary_resource == "app.jar"
    assert args.app_args == ["--not-an-option", "2"]


# --------------------------------------------------------------------------- Airflow's real SparkSubmitHook


@pytest.fixture
def spark_conn(monkeypatch: pytest.MonkeyPatch, fake_bin: Path, emulator: SparkMasterEmulator) -> str:
    conn = {
        "conn_type": "spark",
        "host": "spark://127.0.0.1",
        "port": emulator.port,
        # rest-port: the hook's status/kill curl calls go to host:rest-port (default 6066).
        "extra": {"deploy-mode": "cluster", "rest-port": emulator.port},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_EMULATOR", json.dumps(conn))
    for key, value in fake_env(fake_bin).items():
        if key == "PATH":
            monkeypatch.setenv("PATH", value)
    for key in [k for k in os.environ if k.startswith(("SPARK_", "FAKE_SPARK_SUBMIT"))]:
        monkeypatch.delenv(key)
    return "spark_emulator"


def make_hook(conn_id: str) -> Any:
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    return SparkSubmitHook(
        conn_id=conn_id,
        java_class="DurableDemoApp",
        name="demo",
        application_args=["5", "1000"],
        conf={"spark.master.rest.enabled": "true", "spark.driver.memory": "512m"},
        status_poll_interval=0,
    )


def test_real_spark_submit_hook_gets_the_driver_id(spark_conn: str, emulator: SparkMasterEmulator) -> None:
    hook = make_hook(spark_conn)
    assert hook._connection["master"] == emulator.master_url
    assert hook._connection["rest_endpoint"] == emulator.url
    driver_id = hook.submit(application="/tmp/durable-demo-app.jar")
    (record,) = emulator.drivers
    assert driver_id == record.driver_id
    assert record.spark_properties["spark.driver.memory"] == "512m"
    assert record.app_args == ["5", "1000"]


@pytest.mark.skipif(not Path("/usr/bin/curl").exists(), reason="the hook hard-codes /usr/bin/curl")
def test_real_hook_curl_status_tracking_works_against_the_emulator(
    spark_conn: str, emulator: SparkMasterEmulator
) -> None:
    emulator.advance(polls_to_finish=4)
    hook = make_hook(spark_conn)
    driver_id = hook.submit(application="/tmp/durable-demo-app.jar")
    hook._start_driver_status_tracking()
    assert hook._driver_status == "FINISHED"
    assert emulator.status_calls[driver_id] == 4  # 1 from spark-submit + 3 curl polls

    # A driver the master forgot: the curl parser sees submissionId but no driverState -> UNKNOWN.
    emulator.hold()
    hook = make_hook(spark_conn)
    driver_id = hook.submit(application="/tmp/durable-demo-app.jar")
    emulator.forget(driver_id)
    hook._start_driver_status_tracking()
    assert hook._driver_status == "UNKNOWN"


@pytest.mark.skipif(not Path("/usr/bin/curl").exists(), reason="the hook hard-codes /usr/bin/curl")
def test_real_hook_on_kill_kills_the_driver_through_curl(spark_conn: str, emulator: SparkMasterEmulator) -> None:
    emulator.hold()
    hook = make_hook(spark_conn)
    driver_id = hook.submit(application="/tmp/durable-demo-app.jar")
    hook.on_kill()
    assert emulator.state_of(driver_id) == "KILLED"
    assert emulator.kill_calls[driver_id] == 1


def test_fake_spark_submit_runs_with_python_dash_m(emulator: SparkMasterEmulator) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "airflow_durable_spark.testing.fake_spark_submit", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "4.2.0" in out.stderr
