"""Measure the submit-to-persist window of ``DurableSparkSubmitOperator`` against upstream, for real.

Starts a real Spark 4.2 standalone master and worker (pyspark wheel, ``ManagedProcesses``), builds the demo
jar, and submits it ``--runs`` times (default 5) in cluster mode through the master's REST gateway with the
provider's real ``SparkSubmitHook`` (connection from ``AIRFLOW_CONN_SPARK_PERSIST_BENCH``), wrapped by
:func:`airflow_durable_spark.submit_log.report_driver_id_early` exactly as the durable operator wraps it. The
callback does what ``DurableJobMixin.record_external_id`` does: validate the ID and write the state record
to a ``task_state_store`` (``airflow_durable.testing.InMemoryTaskStateStore``).

Per submission (``t0`` = just before ``hook.submit``):

(a) ``id read``: ``t0`` until the hook has parsed the driver-ID line and called the callback, the point at
    which ``DurableSparkSubmitOperator`` persists the ID;
(b) ``exit``: ``t0`` until ``spark-submit`` has exited and ``hook.submit`` returned, the first point at
    which upstream ``SparkSubmitOperator`` has the driver ID (persisting would come later still);
(c) ``line->stored``: from reading the driver-ID line off ``spark-submit``'s pipe until the callback's
    ``task_state_store`` write is done (includes the hook's own handling of the line); ``store`` is the
    ``set`` call alone.

The window in which a crash orphans a driver starts when the *master* creates the driver, which is before
the line is printed. The driver ID's timestamp has second resolution, so the script gives every Spark JVM
of the benchmark cluster (master and ``spark-submit``) a ``log4j2.properties`` with millisecond timestamps
and reads the master's ``Driver submitted`` line (logged just before ``createDriver``) that precedes
``Launching driver <id>``. Spark's log clock and Python's ``time.time()`` are the same system clock:

* ``ours``: master created the driver -> our ``task_state_store`` write done;
* ``upstream``: master created the driver -> ``spark-submit`` exited (a lower bound for upstream).

For reference, the create round trip itself is measured with direct ``httpx`` POSTs of the same
``CreateSubmissionRequest`` against the master (median of ``--runs``), and ``spark-submit``'s own view
of it ("Submitting a request to launch" -> "Submission successfully created" log lines).

Every created driver is killed through the REST API before the next measurement, and the script waits
until the worker runs no driver or executor JVM, so runs do not compete for CPU. The master, the worker and
any ``spark-submit`` still running are stopped by PID at the end, also on errors or SIGTERM.

Run: ``cd /work/main && uv run python benchmarks/spark_submit_persist_window.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import httpx

CONN_ID = "spark_persist_bench"
TERMINAL = {"FINISHED", "FAILED", "ERROR", "KILLED"}
APP_ARGS = ["60", "10"]
"""Demo app arguments: the driver still runs when it is killed (``<seconds> <n>``)."""

LOG4J2_MS = """\
# Spark's log4j2-defaults.properties with millisecond timestamps (written by the persist-window benchmark).
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss.SSS} %p %c{1}: %m%n%ex
logger.jetty.name = org.sparkproject.jetty
logger.jetty.level = warn
logger.jetty2.name = org.sparkproject.jetty.util.component.AbstractLifeCycle
logger.jetty2.level = error
"""
_SPARK_TS = re.compile(r"^(\d\d/\d\d/\d\d \d\d:\d\d:\d\d\.\d\d\d) ")


def spark_log_time(line: str) -> float | None:
    """Return the epoch seconds of a Spark log line written with :data:`LOG4J2_MS` (local time zone).

    Args:
        line: One log line.

    Returns:
        Seconds since the epoch, or ``None`` when the line has no such timestamp.
    """
    match = _SPARK_TS.match(line.strip())
    if not match:
        return None
    return dt.datetime.strptime(match.group(1), "%y/%m/%d %H:%M:%S.%f").timestamp()


@dataclass
class Run:
    """Timings of one submission through the real hook, in seconds after ``t0`` (monotonic clock)."""

    t0_wall: float = 0.0
    driver_id: str = ""
    line_read: float | None = None
    callback_start: float | None = None
    callback_end: float | None = None
    submit_returned: float | None = None
    master_created: float | None = None
    """The master's ``Driver submitted`` log time, converted to seconds after ``t0``."""
    lines: list[tuple[float, str]] = field(default_factory=list)

    def _line_spark_time(self, needle: str) -> float | None:
        for _, line in self.lines:
            if needle in line:
                wall = spark_log_time(line)
                return None if wall is None else wall - self.t0_wall
        return None

    @property
    def client_create_ms(self) -> float:
        """spark-submit's own log: "Submitting a request to launch" -> "Submission successfully created"."""
        sending = self._line_spark_time("Submitting a request to launch")
        created = self._line_spark_time("Submission successfully created")
        return _ms(created) - _ms(sending)

    @property
    def ours_window_ms(self) -> float:
        """Master created the driver -> our ``task_state_store`` write done."""
        return _ms(self.callback_end) - _ms(self.master_created)

    @property
    def upstream_window_ms(self) -> float:
        """Master created the driver -> spark-submit exited (upstream cannot persist before)."""
        return _ms(self.submit_returned) - _ms(self.master_created)


def _ms(seconds: float | None) -> float:
    if seconds is None:
        raise RuntimeError("a timing is missing")
    return seconds * 1000.0


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(f"terminated by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Start the cluster, measure, print the table, stop everything.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The process exit code.
    """
    parser = argparse.ArgumentParser(description="Measure the Spark submit-to-persist window.")
    parser.add_argument("--runs", type=int, default=5, help="measured submissions (default 5)")
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="logs and jars (default: a new temporary directory)"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)

    from airflow_durable.demo.processes import ManagedProcesses
    from airflow_durable_spark.demo.cluster import SparkStandaloneCluster
    from airflow_durable_spark.demo.demo_app import build_demo_jar

    work_dir: Path = args.work_dir or Path(tempfile.mkdtemp(prefix="spark-persist-bench-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    print(f"work dir: {work_dir}")
    active_hooks: list[Any] = []
    hook_log = (work_dir / "hook.log").open("a")
    try:
        with ManagedProcesses(work_dir / "process-logs") as processes:
            cluster = SparkStandaloneCluster(work_dir / "cluster", processes)
            try:
                cluster.conf_dir.mkdir(parents=True, exist_ok=True)
                (cluster.conf_dir / "log4j2.properties").write_text(LOG4J2_MS)  # on every JVM's classpath
                cluster.start(progress=print, timeout_seconds=180)
                print(f"Java home: {cluster.java_home}")
                os.environ.update(cluster.env())
                os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
                    {
                        "conn_type": "spark",
                        "host": "spark://127.0.0.1",
                        "port": cluster.rest_port,
                        "extra": {"deploy-mode": "cluster", "rest-port": cluster.rest_port},
                    }
                )
                _route_hook_logs(hook_log)
                started = time.monotonic()
                jar = build_demo_jar(work_dir / "jars")
                print(f"demo jar built in {time.monotonic() - started:.2f} s: {jar}")

                print("warm-up submission (not counted) ...")
                warm = _hook_run(cluster, jar, "persist-bench-warmup", active_hooks)
                _kill_and_settle(cluster, warm.driver_id)
                runs: list[Run] = []
                for index in range(args.runs):
                    run = _hook_run(cluster, jar, f"persist-bench-{index}", active_hooks)
                    runs.append(run)
                    print(
                        f"  run {index + 1}: {run.driver_id}: id read {_ms(run.callback_start):.0f} ms, "
                        f"exit {_ms(run.submit_returned):.0f} ms"
                    )
                    _kill_and_settle(cluster, run.driver_id)

                print("direct CreateSubmissionRequest POSTs ...")
                _kill_and_settle(cluster, _direct_create(cluster, jar, "persist-bench-rtt-warmup")[1])
                rtts: list[float] = []
                for index in range(args.runs):
                    seconds, driver_id = _direct_create(cluster, jar, f"persist-bench-rtt-{index}")
                    rtts.append(seconds * 1000.0)
                    _kill_and_settle(cluster, driver_id)
                _report(runs, rtts, warm)
            finally:
                for hook in active_hooks:
                    proc = getattr(hook, "_submit_sp", None)
                    if proc is not None and proc.poll() is None:
                        with contextlib.suppress(ProcessLookupError):
                            proc.kill()
                        proc.wait(timeout=30)
                cluster.stop()
        # ManagedProcesses.__exit__ has stopped every remaining process (and descendant) by PID here.
    finally:
        hook_log.close()
    print(f"logs: {work_dir}")
    return 0


def _route_hook_logs(stream: TextIO) -> None:
    """Write the hook's per-line INFO logs to a file (as a task log would) instead of the console."""
    import structlog

    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=stream))


def _hook_run(cluster: Any, jar: Path, name: str, active_hooks: list[Any]) -> Run:
    """Submit once with the provider's hook wrapped by ``report_driver_id_early``; time every step."""
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    from airflow_durable import TaskInstanceScope, submission_token
    from airflow_durable.state import DurableState, Phase
    from airflow_durable.testing import InMemoryTaskStateStore
    from airflow_durable_spark.demo.demo_app import DEMO_APP_CLASS
    from airflow_durable_spark.statuses import check_driver_id
    from airflow_durable_spark.submit_log import report_driver_id_early

    hook = SparkSubmitHook(
        conn_id=CONN_ID,
        conf={"spark.master.rest.enabled": "true", "spark.driver.memory": "512m"},
        java_class=DEMO_APP_CLASS,
        name=name,
        application_args=list(APP_ARGS),
    )
    scope = TaskInstanceScope("persist_bench", name, "submit")
    store = InMemoryTaskStateStore().scoped(scope)
    intent = DurableState(generation=0, token=submission_token(scope, 0), phase=Phase.INTENT)
    store.set("spark_job_id", intent.to_json())
    run = Run()
    t0 = 0.0

    original_parse = hook._process_spark_submit_log

    def stamped_parse(itr: Iterator[Any]) -> None:
        def stamped() -> Iterator[Any]:
            for line in itr:
                now = time.monotonic() - t0
                run.lines.append((now, str(line).rstrip("\n")))
                if run.line_read is None and "driver-" in str(line):
                    run.line_read = now
                yield line

        original_parse(stamped())

    hook._process_spark_submit_log = stamped_parse  # type: ignore[method-assign]

    def on_driver_id(driver_id: str) -> None:
        # What DurableJobMixin.record_external_id does: validate the ID, write the record once.
        run.callback_start = time.monotonic() - t0
        store.set("spark_job_id", intent.with_external_id(check_driver_id(driver_id)).to_json())
        run.callback_end = time.monotonic() - t0
        run.driver_id = driver_id

    report_driver_id_early(hook, on_driver_id)
    active_hooks.append(hook)
    run.t0_wall = time.time()
    t0 = time.monotonic()
    returned = hook.submit(str(jar))
    run.submit_returned = time.monotonic() - t0
    active_hooks.remove(hook)
    if not run.driver_id or returned != run.driver_id:
        raise RuntimeError(f"callback saw {run.driver_id!r}, hook returned {returned!r}")
    created_wall = _master_created(cluster, run.driver_id)
    run.master_created = created_wall - run.t0_wall
    if not 0 < run.master_created < _ms(run.line_read) / 1000.0:
        raise RuntimeError(f"implausible master time for {run.driver_id}: {run.master_created:.3f} s")
    return run


def _master_created(cluster: Any, driver_id: str) -> float:
    """Epoch time of the master's ``Driver submitted`` line right before ``Launching driver <id>``."""
    lines = cluster.master_log.read_text(errors="replace").splitlines()
    launch = next(i for i, line in enumerate(lines) if f"Launching driver {driver_id} " in line)
    for line in reversed(lines[:launch]):
        if "INFO Master: Driver submitted" in line:
            wall = spark_log_time(line)
            if wall is None:
                raise RuntimeError(f"master log has no millisecond timestamps: {line!r}")
            return wall
    raise RuntimeError(f"no 'Driver submitted' line before the launch of {driver_id}")


def _create_request(cluster: Any, jar: Path, name: str) -> dict[str, Any]:
    """A ``CreateSubmissionRequest`` like the one spark-submit 4.2 sends (see the captured fixture)."""
    from airflow_durable_spark.demo.demo_app import DEMO_APP_CLASS

    jar_url = "file:" + str(jar.resolve())
    return {
        "action": "CreateSubmissionRequest",
        "appArgs": list(APP_ARGS),
        "appResource": jar_url,
        "clientSparkVersion": "4.2.0",
        "environmentVariables": {"SPARK_SCALA_VERSION": "2.13", "SPARK_LOCAL_IP": "127.0.0.1"},
        "mainClass": DEMO_APP_CLASS,
        "sparkProperties": {
            "spark.jars": jar_url,
            "spark.driver.supervise": "false",
            "spark.app.name": name,
            "spark.driver.memory": "512m",
            "spark.submit.pyFiles": "",
            "spark.submit.deployMode": "cluster",
            "spark.master": cluster.rest_master_url,
            "spark.master.rest.enabled": "true",
            "spark.app.submitTime": str(int(time.time() * 1000)),
        },
    }


def _direct_create(cluster: Any, jar: Path, name: str) -> tuple[float, str]:
    """POST one CreateSubmissionRequest on a fresh connection; return (seconds, driver ID)."""
    body = json.dumps(_create_request(cluster, jar, name))
    with httpx.Client(timeout=30.0) as client:
        started = time.monotonic()
        response = client.post(
            f"{cluster.rest_url}/v1/submissions/create",
            content=body,
            headers={"Content-Type": "application/json;charset=UTF-8"},
        )
        elapsed = time.monotonic() - started
    response.raise_for_status()
    payload = response.json()
    if not payload.get("success"):
        raise RuntimeError(f"create failed: {response.text}")
    return elapsed, str(payload["submissionId"])


def _kill_and_settle(cluster: Any, driver_id: str, timeout_seconds: float = 90.0) -> None:
    """Kill a driver, wait until it is terminal and the worker runs no driver/executor JVM any more."""
    import psutil  # type: ignore[import-untyped,unused-ignore]

    deadline = time.monotonic() + timeout_seconds
    _until(lambda: _kill(cluster, driver_id), deadline, f"kill {driver_id}")
    _until(lambda: _status(cluster, driver_id) in TERMINAL, deadline, f"{driver_id} terminal")

    def worker_idle() -> bool:
        if cluster.worker_pid is None:
            return True
        try:
            return not psutil.Process(cluster.worker_pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return True

    _until(worker_idle, deadline, "worker without driver/executor JVMs")
    time.sleep(1.0)  # let the JVMs' exit settle before the next measurement


def _kill(cluster: Any, driver_id: str) -> bool:
    response = httpx.post(f"{cluster.rest_url}/v1/submissions/kill/{driver_id}", timeout=30.0)
    return bool(response.json().get("success")) or _status(cluster, driver_id) in TERMINAL


def _status(cluster: Any, driver_id: str) -> str:
    response = httpx.get(f"{cluster.rest_url}/v1/submissions/status/{driver_id}", timeout=30.0)
    return str(response.json().get("driverState", ""))


def _until(check: Callable[[], bool], deadline: float, what: str) -> None:
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for: {what}")
        time.sleep(0.2)


def _report(runs: list[Run], rtts: list[float], warm: Run) -> None:
    med = statistics.median
    columns: list[tuple[str, Callable[[Run], float], str]] = [
        ("(a) id read", lambda r: _ms(r.callback_start), "{:.0f}"),
        ("(b) exit", lambda r: _ms(r.submit_returned), "{:.0f}"),
        ("(c) line->stored", lambda r: _ms(r.callback_end) - _ms(r.line_read), "{:.2f}"),
        ("store", lambda r: _ms(r.callback_end) - _ms(r.callback_start), "{:.3f}"),
        ("created@master", lambda r: _ms(r.master_created), "{:.0f}"),
        ("submit RTT (log)", lambda r: r.client_create_ms, "{:.0f}"),
        ("created->read", lambda r: _ms(r.line_read) - _ms(r.master_created), "{:.1f}"),
        ("OURS window", lambda r: r.ours_window_ms, "{:.1f}"),
        ("UPSTREAM window", lambda r: r.upstream_window_ms, "{:.0f}"),
        ("ratio", lambda r: r.upstream_window_ms / r.ours_window_ms, "{:.1f}x"),
    ]
    widths = [max(len(title), 9) for title, _, _ in columns]
    print()
    print("Milliseconds after hook.submit() started spark-submit (t0), 'window' = driver created at the master")
    print("-> driver ID persisted (ours: task_state_store write done; upstream: spark-submit exited).")
    header = f"{'run':>4} {'driver id':<27} " + " ".join(
        f"{title:>{w}}" for (title, _, _), w in zip(columns, widths, strict=True)
    )
    print(header)
    print("-" * len(header))
    for index, run in enumerate(runs, start=1):
        cells = " ".join(f"{fmt.format(get(run)):>{w}}" for (_, get, fmt), w in zip(columns, widths, strict=True))
        print(f"{index:>4} {run.driver_id:<27} {cells}")
    print("-" * len(header))
    cells = " ".join(
        f"{fmt.format(med(get(r) for r in runs)):>{w}}" for (_, get, fmt), w in zip(columns, widths, strict=True)
    )
    print(f"{'med':>4} {'':<27} {cells}")
    print(
        f"warm-up (not counted): id read {_ms(warm.callback_start):.0f} ms, "
        f"exit {_ms(warm.submit_returned):.0f} ms, ours window {warm.ours_window_ms:.1f} ms, "
        f"upstream window {warm.upstream_window_ms:.0f} ms"
    )
    print(
        "direct CreateSubmissionRequest POST round trip (httpx, fresh connection): "
        f"median {med(rtts):.1f} ms "
        f"(runs: {', '.join(f'{x:.1f}' for x in rtts)})"
    )
    ours = med(r.ours_window_ms for r in runs)
    upstream = med(r.upstream_window_ms for r in runs)
    print()
    print(f"window ours     (created -> stored): median {ours:7.1f} ms")
    print(f"window upstream (created -> exited): median {upstream:7.1f} ms (lower bound)")
    print(
        f"upstream / ours: {upstream / ours:.1f}x (ratio of medians); "
        f"{med(r.upstream_window_ms / r.ours_window_ms for r in runs):.1f}x (median of per-run ratios)"
    )


if __name__ == "__main__":
    sys.exit(main())
