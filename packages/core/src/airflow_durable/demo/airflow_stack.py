"""A real Airflow 3.3 in a temporary ``AIRFLOW_HOME``: SQLite, LocalExecutor, api-server, scheduler.

It is the cheapest stack that is still genuine: a real scheduler, executor, task runner and
``task_state_store``, and no other service.

- ``airflow db migrate`` then ``airflow dags reserialize`` run once before the services start, so no
  dag-processor is needed. DAG files must therefore be in ``dags_folder`` before :meth:`start`.
- Only ``airflow api-server`` and ``airflow scheduler`` run. No triggerer, so deferrable tasks would
  never resume.
- Heartbeat-timeout detection is tuned down, so that after :meth:`AirflowStack.kill_task_processes`
  (a real worker death: SIGKILL to the supervisor and the task process) the scheduler itself marks
  the task instance ``up_for_retry`` within seconds and the next try runs.

Every service is started through :class:`~airflow_durable.demo.processes.ManagedProcesses`, so it
is stopped by PID even if the caller fails. Every wait has a timeout and raises :class:`TimeoutError`
with the tail of the relevant log.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psutil  # type: ignore[import-untyped,unused-ignore]  # types-psutil is not a dev dependency (yet)

from airflow_durable.demo.processes import tail_file

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

    from airflow_durable.demo.processes import ManagedProcesses

__all__ = ["AirflowStack", "AirflowStackError", "TaskStateError", "free_port"]

#: Task-instance states from which Airflow never moves on by itself.
TERMINAL_TASK_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
#: Dag-run states from which Airflow never moves on by itself.
TERMINAL_DAG_RUN_STATES = frozenset({"success", "failed"})

_POLL_INTERVAL_SECONDS = 0.5
#: The api-server's answer may take long on a loaded 2-core machine (a soak of every workload at once, load
#: 15): a read waits this long, and a GET that still times out is sent again (:data:`_HTTP_GET_ATTEMPTS`).
_HTTP_TIMEOUT_SECONDS = 60.0
_HTTP_GET_ATTEMPTS = 3


class AirflowStackError(RuntimeError):
    """A service of the stack failed (exited, or answered with an error)."""


class TaskStateError(AirflowStackError):
    """A task instance reached a terminal state that the caller was not waiting for."""


def free_port(*, avoid: Collection[int] = ()) -> int:
    """Return a TCP port on 127.0.0.1 that is free right now.

    Args:
        avoid: Ports never to return.

    Returns:
        A free port number.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port


def _describe(predicate_or_states: Callable[[dict[str, Any]], bool] | Collection[str] | str) -> str:
    if callable(predicate_or_states):
        return getattr(predicate_or_states, "__name__", "predicate")
    if isinstance(predicate_or_states, str):
        return predicate_or_states
    return " | ".join(sorted(predicate_or_states))


class AirflowStack:
    """Real Airflow 3.3 (api-server + scheduler, LocalExecutor, SQLite) in a temporary home.

    Example::

        with ManagedProcesses(tmp / "logs") as processes:
            stack = AirflowStack(tmp / "airflow", dags_folder, processes)
            stack.start()
            run_id = stack.trigger("my_dag")
            stack.wait_for_task("my_dag", run_id, "work", {"running"}, timeout_seconds=60)
            stack.kill_task_processes("my_dag", run_id, "work")
            assert stack.wait_for_dag_run("my_dag", run_id, timeout_seconds=120) == "success"

    Args:
        home: The ``AIRFLOW_HOME`` directory (created; should be empty). The SQLite database,
            ``airflow.cfg`` and the task logs (``home/logs``) live here.
        dags_folder: Directory with the DAG files. They must exist before :meth:`start`.
        processes: Starts and stops the services by PID.
        extra_env: Extra environment for every Airflow process, including the task processes
            (e.g. ``AIRFLOW_CONN_*`` connections, ``JAVA_HOME``, ``PATH``). It overrides the current
            environment and the stack's own settings. ``AIRFLOW__*`` configuration variables of the
            current environment are not inherited (they would silently change the stack); pass one
            here to set it.
        heartbeat_timeout_seconds: ``[scheduler] task_instance_heartbeat_timeout``: how long after a
            task's last heartbeat the scheduler declares it dead and schedules the retry.
        parallelism: ``[core] parallelism``: how many task instances run at once (LocalExecutor
            worker processes).
        name: Prefix of the process names in ``processes`` (and so of the service log files
            ``<name>-api-server.log``, ``<name>-scheduler.log``, ...). Give two stacks that share one
            :class:`ManagedProcesses` different names.

    Attributes:
        port: The api-server's port on 127.0.0.1 (free at construction).
        base_url: ``http://127.0.0.1:<port>``.
        log_server_port: The scheduler's serve-logs port (free at construction; not 8793, so two
            stacks can run side by side).
        start_seconds: Wall time of :meth:`start` in seconds, once it has returned.
    """

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        processes: ManagedProcesses,
        *,
        extra_env: dict[str, str] | None = None,
        heartbeat_timeout_seconds: int = 6,
        parallelism: int = 4,
        name: str = "airflow",
    ) -> None:
        self.home = Path(home).resolve()
        self.dags_folder = Path(dags_folder).resolve()
        self.processes = processes
        self.extra_env = dict(extra_env or {})
        self.heartbeat_timeout_seconds = heartbeat_timeout_seconds
        self.parallelism = parallelism
        self.name = name
        self.api_server_process = f"{name}-api-server"
        self.scheduler_process = f"{name}-scheduler"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_server_port = free_port(avoid=(self.port,))
        self.airflow_executable = Path(sys.executable).parent / "airflow"
        self._jwt_secret = secrets.token_urlsafe(32)
        self._client: httpx.Client | None = None
        self._token: str | None = None
        self.start_seconds: float | None = None

    # -- configuration --------------------------------------------------------------------------

    @property
    def database_path(self) -> Path:
        """The SQLite metadata database file."""
        return self.home / "airflow.db"

    @property
    def logs_folder(self) -> Path:
        """``[logging] base_log_folder``: where the task logs are written."""
        return self.home / "logs"

    #: What :meth:`start` says it creates, and which executor it starts (for progress messages).
    database_description = "the SQLite metadata database"
    executor_description = "LocalExecutor"
    #: What :meth:`crash_tasks` does, for progress messages.
    crash_description = "SIGKILL the task's supervisor and task process"
    #: Appended to each demo row's crash point when the crash differs from the provider's own label
    #: (which describes the LocalExecutor crash); empty here.
    crash_label = ""

    def settings(self) -> dict[tuple[str, str], str]:
        """Return the stack's Airflow configuration, ``(section, key)`` to value.

        Subclasses extend it (another executor, another metadata database); :attr:`env` turns it into
        ``AIRFLOW__SECTION__KEY`` variables.

        Returns:
            The configuration this stack's processes run with.
        """
        return {
            ("core", "dags_folder"): str(self.dags_folder),
            ("core", "executor"): "LocalExecutor",
            ("core", "load_examples"): "False",
            ("core", "dags_are_paused_at_creation"): "False",
            ("core", "parallelism"): str(self.parallelism),
            ("core", "execution_api_server_url"): f"{self.base_url}/execution/",
            ("core", "auth_manager"): (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            ("core", "simple_auth_manager_all_admins"): "True",
            ("database", "sql_alchemy_conn"): f"sqlite:///{self.database_path}",
            ("api", "host"): "127.0.0.1",
            ("api", "port"): str(self.port),
            ("api", "base_url"): self.base_url,
            ("api", "workers"): "1",
            # Must be the same in every component that signs or checks JWTs (scheduler and api-server).
            ("api_auth", "jwt_secret"): self._jwt_secret,
            ("scheduler", "task_instance_heartbeat_timeout"): str(self.heartbeat_timeout_seconds),
            ("scheduler", "task_instance_heartbeat_timeout_detection_interval"): "1",
            ("scheduler", "scheduler_idle_sleep_time"): "0.5",
            ("workers", "min_heartbeat_interval"): "2",
            ("logging", "base_log_folder"): str(self.logs_folder),
            # The scheduler's serve-logs subprocess binds 8793 by default: two stacks would collide.
            ("logging", "worker_log_server_port"): str(self.log_server_port),
        }

    @property
    def env(self) -> dict[str, str]:
        """The environment every Airflow process of this stack gets (on top of the current one)."""
        env = {f"AIRFLOW__{section.upper()}__{key.upper()}": value for (section, key), value in self.settings().items()}
        env["AIRFLOW_HOME"] = str(self.home)
        env["AIRFLOW_CONFIG"] = str(self.home / "airflow.cfg")
        env.update(self.extra_env)
        return env

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, progress: Callable[[str], None] = print, *, timeout_seconds: float = 120.0) -> None:
        """Prepare the home and database, start the api-server and the scheduler, wait until healthy.

        Args:
            progress: Called with a short message at each step.
            timeout_seconds: Upper bound for each step (migrate, reserialize, health).

        Raises:
            TimeoutError: If a step does not finish in time (the message has the log tail).
            AirflowStackError: If a step or a service fails.
        """
        started = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs_folder.mkdir(parents=True, exist_ok=True)
        if not self.dags_folder.is_dir():
            raise AirflowStackError(f"dags_folder {self.dags_folder} does not exist")

        self._start_backing_services(progress, timeout_seconds)
        progress(f"Airflow: creating {self.database_description} (airflow db migrate)")
        self._run_to_completion(f"{self.name}-db-migrate", ["db", "migrate"], timeout_seconds)

        progress(f"Airflow: starting the api-server on {self.base_url} and the scheduler ({self.executor_description})")
        airflow = str(self.airflow_executable)
        self._start_service(self.api_server_process, [airflow, "api-server"])
        self._start_service(self.scheduler_process, [airflow, "scheduler"])
        self._start_workers()

        # Reserializing while the services boot overlaps the slow imports; no dag-processor is needed.
        progress(f"Airflow: serializing the DAGs in {self.dags_folder} (airflow dags reserialize)")
        self._run_to_completion(f"{self.name}-dags-reserialize", ["dags", "reserialize"], timeout_seconds)

        progress("Airflow: waiting for the api-server and the scheduler heartbeat")
        self._wait_healthy(timeout_seconds)
        self._wait_workers_ready(timeout_seconds)
        self.start_seconds = time.monotonic() - started
        progress(f"Airflow: ready in {self.start_seconds:.1f} s ({self.base_url})")

    def stop(self) -> None:
        """Stop the scheduler (and its task processes), then the api-server, by PID."""
        if self._client is not None:
            self._client.close()
            self._client = None
        self.processes.stop(self.scheduler_process)
        self.processes.stop(self.api_server_process)

    # -- hooks for other executors and databases (a subclass overrides them) ----------------------

    def _start_backing_services(self, progress: Callable[[str], None], timeout_seconds: float) -> None:
        """Start what the metadata database and the executor need before ``airflow db migrate``."""
        del progress, timeout_seconds

    def _start_workers(self) -> None:
        """Start the executor's workers once the scheduler runs (LocalExecutor's are the scheduler's children)."""

    def _wait_workers_ready(self, timeout_seconds: float) -> None:
        """Wait until the workers take tasks (LocalExecutor's do as soon as the scheduler is healthy)."""
        del timeout_seconds

    @property
    def service_processes(self) -> list[str]:
        """The names (in :attr:`processes`) of the services that must keep running."""
        return [self.api_server_process, self.scheduler_process]

    def __enter__(self) -> AirflowStack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- REST API -------------------------------------------------------------------------------

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """Trigger a DAG run through the REST API (``POST /api/v2/dags/{dag_id}/dagRuns``).

        Args:
            dag_id: The DAG to run. It must be in ``dags_folder`` at :meth:`start`.
            conf: The run's ``conf``.

        Returns:
            The new dag run's ``dag_run_id``.
        """
        body = {"logical_date": None, "conf": dict(conf or {})}
        response = self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        return str(response.json()["dag_run_id"])

    def set_connection(self, conn_id: str, spec: Mapping[str, Any]) -> None:
        """Create or replace an Airflow connection in the metadata database, through the REST API.

        Task processes read it through the api-server, so it works for a connection whose address is
        known only after the stack started (an ``AIRFLOW_CONN_*`` variable would have to be in the
        scheduler's environment when it started, since LocalExecutor's task processes inherit it).

        Args:
            conn_id: The connection ID.
            spec: The connection in the ``AIRFLOW_CONN_*`` JSON form: ``conn_type`` and any of
                ``host``, ``port``, ``schema``, ``login``, ``password``, ``extra`` (a mapping or a JSON
                string).

        Raises:
            ValueError: If ``spec`` has no ``conn_type`` or an unknown field.
            AirflowStackError: If the api-server refuses it.
        """
        fields = {"conn_type", "host", "port", "schema", "login", "password", "extra", "description"}
        unknown = sorted(set(spec) - fields)
        if "conn_type" not in spec or unknown:
            raise ValueError(f"connection {conn_id!r} needs conn_type and only {sorted(fields)}; got {sorted(spec)}")
        body = {"connection_id": conn_id, **spec}
        if isinstance(body.get("extra"), dict):
            body["extra"] = json.dumps(body["extra"])
        self._request("DELETE", f"/api/v2/connections/{conn_id}", allow_statuses=(404,))
        self._request("POST", "/api/v2/connections", json=body)

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """Return the dag run as the REST API shows it (``state``, ``conf``, dates, ...).

        Args:
            dag_id: The DAG.
            run_id: The dag run ID.

        Returns:
            The ``DAGRunResponse`` JSON.
        """
        result: dict[str, Any] = self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json()
        return result

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """Return a task instance as the REST API shows it (``id``, ``state``, ``try_number``, ...).

        Args:
            dag_id: The DAG.
            run_id: The dag run ID.
            task_id: The task.
            map_index: The map index, ``-1`` for an unmapped task.

        Returns:
            The ``TaskInstanceResponse`` JSON. ``state`` is ``None`` before the task is scheduled.
        """
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        if map_index >= 0:
            path += f"/{map_index}"
        result: dict[str, Any] = self._request("GET", path).json()
        return result

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Return every task instance of a dag run, mapped ones one per map index, as the REST API shows them.

        Args:
            dag_id: The DAG.
            run_id: The dag run ID.

        Returns:
            ``TaskInstanceResponse`` JSONs (``id``, ``task_id``, ``map_index``, ``state``, ``try_number``, ...).
        """
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        found: list[dict[str, Any]] = []
        while True:
            page = self._request("GET", path, params={"limit": 100, "offset": len(found)}).json()
            found.extend(page["task_instances"])
            if not page["task_instances"] or len(found) >= int(page["total_entries"]):
                return found

    def wait_for_task(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        predicate_or_states: Callable[[dict[str, Any]], bool] | Collection[str] | str,
        timeout_seconds: float,
        *,
        map_index: int = -1,
    ) -> dict[str, Any]:
        """Poll a task instance until it matches.

        Args:
            dag_id: The DAG.
            run_id: The dag run ID.
            task_id: The task.
            predicate_or_states: A state (``"running"``), a collection of states, or a predicate
                on the task-instance JSON (e.g. ``lambda ti: ti["try_number"] == 2 and
                ti["state"] == "running"``).
            timeout_seconds: How long to wait.
            map_index: The map index, ``-1`` for an unmapped task.

        Returns:
            The matching task-instance JSON.

        Raises:
            TimeoutError: If it does not match in time (the message has the scheduler log tail).
            TaskStateError: If the task instance reaches a terminal state that does not match.
            AirflowStackError: If the scheduler or the api-server exits.
        """
        if callable(predicate_or_states):
            predicate = predicate_or_states
        else:
            states = {predicate_or_states} if isinstance(predicate_or_states, str) else set(predicate_or_states)

            def predicate(ti: dict[str, Any]) -> bool:
                return ti.get("state") in states

        wanted = _describe(predicate_or_states)
        deadline = time.monotonic() + timeout_seconds
        ti: dict[str, Any] = {}
        while True:
            self._check_services()
            ti = self.task_instance(dag_id, run_id, task_id, map_index)
            if predicate(ti):
                return ti
            if ti.get("state") in TERMINAL_TASK_STATES:
                raise TaskStateError(
                    f"{dag_id}.{task_id}[{map_index}] in run {run_id} reached terminal state "
                    f"{ti.get('state')!r} (try {ti.get('try_number')}) while waiting for {wanted}.\n"
                    f"--- task log tail ---\n{self._task_log_tail(dag_id, run_id, task_id, ti, map_index)}"
                )
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{dag_id}.{task_id}[{map_index}] in run {run_id} did not reach {wanted} within "
                    f"{timeout_seconds:.0f} s; last state {ti.get('state')!r}, try {ti.get('try_number')}.\n"
                    f"{self._tails(self.scheduler_process)}"
                )
            time.sleep(_POLL_INTERVAL_SECONDS)

    def wait_for_dag_run(self, dag_id: str, run_id: str, timeout_seconds: float) -> str:
        """Poll a dag run until it is ``success`` or ``failed``.

        Args:
            dag_id: The DAG.
            run_id: The dag run ID.
            timeout_seconds: How long to wait.

        Returns:
            The final state, ``"success"`` or ``"failed"``.

        Raises:
            TimeoutError: If the run does not finish in time (the message has the scheduler log tail).
            AirflowStackError: If the scheduler or the api-server exits.
        """
        deadline = time.monotonic() + timeout_seconds
        while True:
            self._check_services()
            state = str(self.dag_run(dag_id, run_id).get("state"))
            if state in TERMINAL_DAG_RUN_STATES:
                return state
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"dag run {dag_id}/{run_id} did not finish within {timeout_seconds:.0f} s; "
                    f"last state {state!r}.\n"
                    f"{self._tails(self.scheduler_process)}"
                )
            time.sleep(_POLL_INTERVAL_SECONDS)

    def xcom(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        key: str = "return_value",
        map_index: int = -1,
    ) -> Any:
        """Return an XCom value through the REST API.

        Args:
            dag_id: The DAG.
            run_id: The dag run ID.
            task_id: The task.
            key: The XCom key.
            map_index: The map index, ``-1`` for an unmapped task.

        Returns:
            The value as stored (JSON types come back as they were pushed).

        Raises:
            KeyError: If there is no such XCom.
        """
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        response = self._request("GET", path, params={"map_index": map_index}, allow_statuses=(404,))
        if response.status_code == 404:
            raise KeyError(f"no XCom {key!r} for {dag_id}.{task_id}[{map_index}] in run {run_id}")
        return response.json()["value"]

    # -- logs -----------------------------------------------------------------------------------

    def task_log_path(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> Path:
        """Return the log file of one try, per the default ``[logging] log_filename_template``.

        Args:
            dag_id: The DAG.
            run_id: The dag run ID.
            task_id: The task.
            try_number: The try (1 for the first).
            map_index: The map index, ``-1`` for an unmapped task.

        Returns:
            ``<home>/logs/dag_id=…/run_id=…/task_id=…/[map_index=…/]attempt=<try>.log``.
        """
        path = self.logs_folder / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            path = path / f"map_index={map_index}"
        return path / f"attempt={try_number}.log"

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        """Return the log of one try, as written by the task's supervisor (JSON lines).

        Args:
            dag_id: The DAG.
            run_id: The dag run ID.
            task_id: The task.
            try_number: The try (1 for the first).
            map_index: The map index, ``-1`` for an unmapped task.

        Returns:
            The whole log file; empty if the try has not started logging yet.
        """
        path = self.task_log_path(dag_id, run_id, task_id, try_number, map_index)
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        try_number: int,
        pattern: str,
        timeout_seconds: float,
        *,
        map_index: int = -1,
    ) -> float:
        """Poll one try's log until ``pattern`` (a regular expression) appears in it.

        Args:
            dag_id: The DAG.
            run_id: The dag run ID.
            task_id: The task.
            try_number: The try (1 for the first).
            pattern: A regular expression, searched with :func:`re.search`.
            timeout_seconds: How long to wait.
            map_index: The map index, ``-1`` for an unmapped task.

        Returns:
            ``time.monotonic()`` at the poll that first saw the pattern (accurate to about 0.2 s).

        Raises:
            TimeoutError: If the pattern does not appear in time (the message has the log tail).
            AirflowStackError: If the scheduler or the api-server exits.
        """
        regex = re.compile(pattern)
        path = self.task_log_path(dag_id, run_id, task_id, try_number, map_index)
        deadline = time.monotonic() + timeout_seconds
        while True:
            if regex.search(self.task_log(dag_id, run_id, task_id, try_number, map_index)):
                return time.monotonic()
            self._check_services()
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"pattern {pattern!r} did not appear in {path} within {timeout_seconds:.0f} s.\n"
                    f"--- task log tail ---\n{tail_file(path)}\n"
                    f"{self._tails(self.scheduler_process, max_lines=15)}"
                )
            time.sleep(0.2)

    # -- crash injection and state --------------------------------------------------------------

    def task_processes(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[int, str]:
        """Find the live processes of a task instance's current try, by process title.

        Only processes this stack started (descendants of the scheduler) are searched. Under
        LocalExecutor on Airflow 3.3 the titles are ``airflow worker -- LocalExecutor: <ti uuid>``
        (the supervisor) and ``airflow worker -- <ti uuid>`` (the task process, its child). Every try
        has its own task-instance ID, so this finds the current try only.

        Args:
            dag_id: The DAG.
            run_id: The dag run ID.
            task_id: The task.
            map_index: The map index, ``-1`` for an unmapped task.

        Returns:
            PID to process title. Empty when nothing of that try is running (the supervisor can
            outlive the task instance's ``success`` state by a moment).
        """
        return self._processes_by_task(dag_id, run_id, [task_id], map_index)[task_id]

    def kill_task_processes(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[int]:
        """SIGKILL the running try's supervisor and task process: a real worker death.

        The processes are found with :meth:`task_processes`. Airflow is not told: its
        heartbeat-timeout detection notices the missing heartbeats, marks the task instance
        ``up_for_retry`` and runs the next try (about ``heartbeat_timeout_seconds`` + 3 s later).

        Args:
            dag_id: The DAG.
            run_id: The dag run ID.
            task_id: The task.
            map_index: The map index, ``-1`` for an unmapped task.

        Returns:
            The killed PIDs, sorted.

        Raises:
            AirflowStackError: If no process of that task instance is running, or one survives.
        """
        return self.kill_tasks(dag_id, run_id, [task_id], map_index)[task_id]

    def kill_tasks(
        self, dag_id: str, run_id: str, task_ids: Sequence[str], map_index: int = -1
    ) -> dict[str, list[int]]:
        """SIGKILL the running tries of several tasks of one dag run at the same moment.

        Like :meth:`kill_task_processes`, but every process is found first (one scan) and then all
        are killed together, so that no task outlives another by the time a scan takes.

        Args:
            dag_id: The DAG.
            run_id: The dag run ID.
            task_ids: The tasks.
            map_index: The map index, ``-1`` for unmapped tasks.

        Returns:
            Task ID to its killed PIDs, sorted.

        Raises:
            AirflowStackError: If a task has no running process (then nothing is killed), or a
                process survives.
        """
        found = self._processes_by_task(dag_id, run_id, task_ids, map_index)
        for task_id, processes in found.items():
            if not processes:
                ti = self.task_instance(dag_id, run_id, task_id, map_index)
                raise AirflowStackError(
                    f"no running process for task instance {ti['id']} ({dag_id}.{task_id}[{map_index}], "
                    f"state {ti.get('state')!r}, try {ti.get('try_number')})"
                )
        victims: list[psutil.Process] = []
        for pid in (pid for processes in found.values() for pid in processes):
            with contextlib.suppress(psutil.NoSuchProcess):
                proc = psutil.Process(pid)
                proc.send_signal(signal.SIGKILL)
                victims.append(proc)
        _gone, alive = psutil.wait_procs(victims, timeout=5)
        if alive:
            raise AirflowStackError(f"processes survived SIGKILL: {[proc.pid for proc in alive]}")
        return {task_id: sorted(processes) for task_id, processes in found.items()}

    def crash_tasks(
        self, dag_id: str, run_id: str, task_ids: Sequence[str], map_index: int = -1
    ) -> dict[str, list[int]]:
        """Crash the running tries of several tasks the way this stack's workers die (see :attr:`crash_description`).

        Under LocalExecutor this is :meth:`kill_tasks`: the supervisor and the task process are the
        worker. A stack with separate worker processes (:class:`~airflow_durable.demo.celery_stack.CeleryStack`)
        kills the whole worker instead.

        Args:
            dag_id: The DAG.
            run_id: The dag run ID.
            task_ids: The tasks.
            map_index: The map index, ``-1`` for unmapped tasks.

        Returns:
            Task ID to the PIDs killed for it, sorted.

        Raises:
            AirflowStackError: If a task has no running process, or a process survives.
        """
        return self.kill_tasks(dag_id, run_id, task_ids, map_index)

    def _processes_by_task(
        self, dag_id: str, run_id: str, task_ids: Sequence[str], map_index: int
    ) -> dict[str, dict[int, str]]:
        ti_ids = {task_id: str(self.task_instance(dag_id, run_id, task_id, map_index)["id"]) for task_id in task_ids}
        found = self.processes_of_task_instances(ti_ids.values())
        return {task_id: found[ti_id] for task_id, ti_id in ti_ids.items()}

    def processes_of_task_instances(self, ti_ids: Collection[str]) -> dict[str, dict[int, str]]:
        """Find the live processes of task-instance tries by their ID, in one scan of the stack's processes.

        Args:
            ti_ids: Task-instance IDs (the REST API's ``id``: every try has its own), with or without dashes.

        Returns:
            Each given ID (as given) to its processes, PID to process title; empty when none runs.
        """
        # The REST API gives the ID with dashes; SQLite stores 32 hex digits. Normalize either way.
        ti_uuids = {ti_id: str(uuid.UUID(str(ti_id))) for ti_id in ti_ids}
        found: dict[str, dict[int, str]] = {ti_id: {} for ti_id in ti_ids}
        for pid in self.processes.owned_pids():
            with contextlib.suppress(psutil.Error):
                # setproctitle rewrites argv: the title is one NUL-padded string, or split on spaces.
                title = " ".join(part for part in psutil.Process(pid).cmdline() if part)
                for ti_id, ti_uuid in ti_uuids.items():
                    if ti_uuid in title:
                        found[ti_id][pid] = title
        return found

    def state_store(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """Read a task instance's rows of the real ``task_state_store`` table.

        Args:
            dag_id: The DAG.
            run_id: The dag run ID.
            task_id: The task.
            map_index: The map index, ``-1`` for an unmapped task.

        Returns:
            Key to the JSON-decoded value, for every stored key.
        """
        rows = self._state_store_rows(dag_id, run_id, task_id, map_index)
        return {str(key): json.loads(value) for key, value in rows}

    def _state_store_rows(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> list[tuple[Any, Any]]:
        uri = f"file:{self.database_path}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as connection:
            rows: list[tuple[Any, Any]] = connection.execute(
                "SELECT key, value FROM task_state_store "
                "WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? ORDER BY key",
                (dag_id, run_id, task_id, map_index),
            ).fetchall()
        return rows

    # -- internals ------------------------------------------------------------------------------

    def _start_service(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        env = self.env
        inherited_config = [key for key in os.environ if key.startswith("AIRFLOW__") and key not in env]
        return self.processes.start(name, argv, env=env, cwd=self.home, unset_env=inherited_config)

    def _run_to_completion(self, name: str, args: list[str], timeout_seconds: float) -> None:
        popen = self._start_service(name, [str(self.airflow_executable), *args])
        try:
            returncode = popen.wait(timeout=timeout_seconds)
        except Exception as exc:
            self.processes.stop(name)
            raise TimeoutError(
                f"`airflow {' '.join(args)}` did not finish within {timeout_seconds:.0f} s.\n{self._tails(name)}"
            ) from exc
        if returncode != 0:
            raise AirflowStackError(f"`airflow {' '.join(args)}` exited with {returncode}.\n{self._tails(name)}")

    def check_services(self) -> None:
        """Raise if a service of the stack has exited.

        Raises:
            AirflowStackError: A service exited (the message has its log tail), or was never started.
        """
        self._check_services()

    def _check_services(self) -> None:
        for name in self.service_processes:
            try:
                returncode = self.processes.popen(name).poll()
            except KeyError:
                raise AirflowStackError(f"{name} was never started: call start() first") from None
            if returncode is not None:
                raise AirflowStackError(f"airflow {name} exited with {returncode}.\n{self._tails(name)}")

    def _wait_healthy(self, timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        last = "no answer yet"
        while True:
            self._check_services()
            try:
                response = self._http().get("/api/v2/monitor/health", timeout=5)
                health = response.json() if response.status_code == 200 else {}
                last = response.text[:500]
                if (
                    health.get("metadatabase", {}).get("status") == "healthy"
                    and health.get("scheduler", {}).get("status") == "healthy"
                ):
                    return
            except httpx.HTTPError as exc:
                last = repr(exc)
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"Airflow did not become healthy within {timeout_seconds:.0f} s; last answer: {last}\n"
                    f"{self._tails(self.api_server_process, self.scheduler_process, max_lines=20)}"
                )
            time.sleep(_POLL_INTERVAL_SECONDS)

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url, timeout=_HTTP_TIMEOUT_SECONDS)
        return self._client

    def _fetch_token(self) -> str:
        # With ``simple_auth_manager_all_admins`` the REST API still wants a JWT, but the simple auth
        # manager hands one out without credentials: GET /auth/token.
        response = self._http().get("/auth/token")
        if response.status_code not in (200, 201):
            raise AirflowStackError(f"GET /auth/token answered {response.status_code}: {response.text[:500]}")
        return str(response.json()["access_token"])

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        allow_statuses: Collection[int] = (),
    ) -> httpx.Response:
        for attempt in range(2):
            if self._token is None:
                self._token = self._fetch_token()
            response = self._send(method, path, json, params)
            if response.status_code == 401 and attempt == 0:
                self._token = None
                continue
            break
        if response.is_success or response.status_code in allow_statuses:
            return response
        raise AirflowStackError(f"{method} {path} answered {response.status_code}: {response.text[:1000]}")

    def _send(self, method: str, path: str, json: Any, params: Mapping[str, Any] | None) -> httpx.Response:
        """One request; a GET (it changes nothing) is sent again when the api-server is too slow to answer."""
        headers = {"Authorization": f"Bearer {self._token}"}
        request = functools.partial(self._http().request, method, path, json=json, params=dict(params or {}))
        for _ in range(_HTTP_GET_ATTEMPTS - 1 if method == "GET" else 0):
            with contextlib.suppress(httpx.TimeoutException):
                return request(headers=headers)
        return request(headers=headers)

    def _tails(self, *names: str, max_lines: int = 40) -> str:
        return "\n".join(
            f"--- {name} log tail ({self.processes.log_path(name)}) ---\n"
            f"{self.processes.log_tail(name, max_lines=max_lines)}"
            for name in names
        )

    def _task_log_tail(self, dag_id: str, run_id: str, task_id: str, ti: Mapping[str, Any], map_index: int) -> str:
        try_number = int(ti.get("try_number") or 1)
        return tail_file(self.task_log_path(dag_id, run_id, task_id, try_number, map_index), max_lines=30)
