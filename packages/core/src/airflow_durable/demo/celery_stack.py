"""The production-shaped Airflow 3.3: Postgres metadata database, CeleryExecutor, Redis broker, Celery workers.

:class:`CeleryStack` is a mode of :class:`~airflow_durable.demo.airflow_stack.AirflowStack`, so every
provider's demo scenario runs on it unchanged. It starts, by PID through
:class:`~airflow_durable.demo.processes.ManagedProcesses`:

- PostgreSQL from Debian's ``postgresql`` package (:class:`~airflow_durable.demo.postgres_server.PostgresServer`):
  the metadata database and the Celery result backend;
- Redis from Debian's ``redis-server`` package (:class:`~airflow_durable.demo.redis_server.RedisServer`):
  the Celery broker;
- ``airflow api-server`` and ``airflow scheduler`` (``CeleryExecutor``), as the base stack does;
- ``workers`` times ``airflow celery worker`` (Celery's prefork pool, ``concurrency`` task slots each).

Both Debian packages are installed first when missing (:func:`~airflow_durable.demo.debian.ensure_debian_packages`).

**The crash** (:meth:`CeleryStack.crash_tasks`) is a SIGKILL of the whole Celery worker that runs
the task: its main process, its pool processes, the supervisors and the task processes. Airflow is
not told; its heartbeat-timeout detection marks the task instance ``up_for_retry``, and the next try
runs on a worker that serves the task's queue. The killed worker is started again at once, as a
process supervisor (systemd, a Kubernetes Deployment) would.

**Preloaded modules.** Every task process is forked from a Celery pool process, which is forked from
the worker's main process. Modules named in ``worker_preload`` (heavy vendor SDKs such as
``databricks.sdk``, the operators' modules, Airflow's task runner) are imported once by each worker's
main process, on Celery's ``worker_init`` signal (connected by the same ``airflow_local_settings.py``,
once Airflow is set up and before the pool is forked), so task processes inherit them instead of
importing them again: on a small machine those imports are most of a task's start-up CPU.

**Pinned tasks.** The demo's baseline task must not share a worker with the tasks it kills. Tasks
named in ``pinned_tasks`` are routed, by a cluster policy (``task_policy`` in
``$AIRFLOW_HOME/config/airflow_local_settings.py``), to the queue :data:`PINNED_QUEUE`, which only
the last worker serves; the other workers serve the ``default`` queue. Without pinned tasks every
worker serves ``default``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil  # type: ignore[import-untyped,unused-ignore]  # types-psutil is not a dev dependency (yet)

from airflow_durable.demo.airflow_stack import AirflowStack, AirflowStackError
from airflow_durable.demo.debian import ensure_debian_packages
from airflow_durable.demo.postgres_server import POSTGRES_PROBE, PostgresServer
from airflow_durable.demo.redis_server import RedisServer

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

    from airflow_durable.demo.debian import InstallReport
    from airflow_durable.demo.processes import ManagedProcesses

__all__ = ["DEBIAN_PACKAGES", "PINNED_QUEUE", "CeleryStack"]

#: The Debian packages the stack needs, each with the file that shows it is installed.
DEBIAN_PACKAGES = {"postgresql": POSTGRES_PROBE, "redis-server": "redis-server"}
#: The Celery queue of the tasks in ``pinned_tasks``; only the last worker serves it.
PINNED_QUEUE = "airflow_durable_pinned"
#: Airflow's ``[operators] default_queue``.
_DEFAULT_QUEUE = "default"

_HEADER = '''"""Written by airflow_durable.demo.celery_stack: {what}."""

import json
'''
_POLICY = """
_PINNED = {{tuple(pair) for pair in json.loads({pinned!r})}}


def task_policy(task):
    if (task.dag_id, task.task_id) in _PINNED:
        task.queue = {queue!r}
"""
_PRELOAD = """
import importlib
import sys

if sys.argv[1:3] == ["celery", "worker"]:
    from celery.signals import worker_init

    # Celery sends worker_init in the worker's main process, once Airflow is set up and before the
    # pool is forked; every task process is forked from a pool process and inherits the modules.
    @worker_init.connect(weak=False)
    def _preload(**_kwargs):
        for module in json.loads({modules!r}):
            importlib.import_module(module)
"""


class CeleryStack(AirflowStack):
    """Real Airflow 3.3 on Postgres with the CeleryExecutor, a Redis broker and Celery workers.

    Example::

        with ManagedProcesses(tmp / "logs") as processes:
            stack = CeleryStack(tmp / "airflow", dags_folder, processes, pinned_tasks=[("my_dag", "baseline")])
            stack.start()
            run_id = stack.trigger("my_dag")
            stack.wait_for_task("my_dag", run_id, "work", "running", timeout_seconds=60)
            stack.crash_tasks("my_dag", run_id, ["work"])  # SIGKILL the whole worker running it
            assert stack.wait_for_dag_run("my_dag", run_id, timeout_seconds=120) == "success"

    Args:
        home: The ``AIRFLOW_HOME`` directory. The Postgres data directory (``home/postgres``) and
            Redis's directory (``home/redis``) go here too.
        dags_folder: Directory with the DAG files. They must exist before :meth:`start`.
        processes: Starts and stops every service by PID.
        workers: How many ``airflow celery worker`` processes to run (at least 2 with ``pinned_tasks``).
        concurrency: Task slots (prefork pool processes) per worker.
        pinned_tasks: ``(dag_id, task_id)`` pairs routed to :data:`PINNED_QUEUE`, served by the last
            worker only, which :meth:`crash_tasks` never kills for another task.
        worker_preload: Modules each worker's main process imports before it forks its pool (see the
            module docstring).
        postgres_settings: Extra PostgreSQL server settings (see
            :class:`~airflow_durable.demo.postgres_server.PostgresServer`), e.g. to preload
            ``pg_stat_statements``.
        **kwargs: The base stack's keyword arguments (``extra_env``, ``heartbeat_timeout_seconds``,
            ``parallelism``, ``name``).

    Attributes:
        postgres: The metadata database's server.
        redis: The broker.
        worker_processes: The workers' process names in ``processes``.
        install_report: What :meth:`start` installed from Debian, once it has run.

    Raises:
        ValueError: If ``workers`` is below 1, or below 2 with ``pinned_tasks``.
    """

    database_description = "the Postgres metadata database"
    executor_description = "CeleryExecutor, Redis broker"
    crash_description = "SIGKILL the whole Celery worker running the task (main process, pool, task processes)"
    crash_label = "on Celery: the whole worker SIGKILLed"

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        processes: ManagedProcesses,
        *,
        workers: int = 2,
        concurrency: int = 4,
        pinned_tasks: Collection[tuple[str, str]] = (),
        worker_preload: Sequence[str] = (),
        postgres_settings: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(home, dags_folder, processes, **kwargs)
        if workers < (2 if pinned_tasks else 1):
            raise ValueError(f"{workers} workers: need at least {2 if pinned_tasks else 1}")
        self.concurrency = concurrency
        self.task_slots = workers * concurrency
        self.pinned_tasks = sorted(set(pinned_tasks))
        self.worker_preload = list(dict.fromkeys(worker_preload))
        # Every task slot holds a result-backend connection, and each running task's Execution API calls
        # may hold one of the api-server's at once: Postgres must take both, with room for the rest.
        connections = {"max_connections": str(max(200, 100 + 2 * self.task_slots))}
        self.postgres = PostgresServer(
            self.home / "postgres",
            processes,
            name=f"{self.name}-postgres",
            settings={**connections, **(postgres_settings or {})},
        )
        self.redis = RedisServer(self.home / "redis", processes, name=f"{self.name}-redis")
        self.worker_processes = [f"{self.name}-celery-worker-{index}" for index in range(1, workers + 1)]
        self.install_report: InstallReport | None = None
        self._log_offsets: dict[str, int] = {}

    # -- configuration --------------------------------------------------------------------------

    def settings(self) -> dict[tuple[str, str], str]:
        """Return the base stack's configuration with the CeleryExecutor, Postgres and Redis.

        Returns:
            The configuration, ``(section, key)`` to value.
        """
        settings = super().settings()
        settings.update(
            {
                ("core", "executor"): "CeleryExecutor",
                ("database", "sql_alchemy_conn"): self.postgres.url(),
                ("celery", "broker_url"): self.redis.url(),
                ("celery", "result_backend"): self.postgres.url("db+postgresql"),
                ("celery", "worker_concurrency"): str(self.concurrency),
                # The api-server answers every running task's Execution API calls: with Airflow's default
                # pool (5 + 10 overflow) 48 busy slots on a loaded machine waited out the pool timeout and
                # got "Database error" answers.
                ("database", "sql_alchemy_max_overflow"): str(max(10, self.task_slots)),
                # One message per free slot: a worker never holds tasks it cannot start yet.
                ("celery", "worker_prefetch_multiplier"): "1",
                ("operators", "default_queue"): _DEFAULT_QUEUE,
            }
        )
        return settings

    def queues_of(self, worker: str) -> list[str]:
        """Return the Celery queues a worker serves.

        Args:
            worker: A name from :attr:`worker_processes`.

        Returns:
            ``[PINNED_QUEUE]`` for the last worker when tasks are pinned, else ``["default"]``.
        """
        if self.pinned_tasks and worker == self.worker_processes[-1]:
            return [PINNED_QUEUE]
        return [_DEFAULT_QUEUE]

    @property
    def service_processes(self) -> list[str]:
        """The api-server, the scheduler, the workers, Postgres and Redis."""
        return [*super().service_processes, *self.worker_processes, self.postgres.name, self.redis.name]

    # -- lifecycle ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the workers, the scheduler and the api-server, then Redis and Postgres, by PID."""
        for worker in self.worker_processes:
            self.processes.stop(worker)
        super().stop()
        self.redis.stop()
        self.postgres.stop()

    def _start_backing_services(self, progress: Callable[[str], None], timeout_seconds: float) -> None:
        self.install_report = ensure_debian_packages(DEBIAN_PACKAGES, progress)
        self.postgres.start(progress, timeout_seconds=timeout_seconds)
        self.redis.start(progress, timeout_seconds=timeout_seconds)
        self.write_task_policy()

    def write_task_policy(self) -> Path:
        """Write the cluster policy that routes :attr:`pinned_tasks` to :data:`PINNED_QUEUE`, and the worker preload.

        It must be in place before the DAGs are serialized (:meth:`start` writes it then).

        Returns:
            ``$AIRFLOW_HOME/config/airflow_local_settings.py`` (Airflow puts that directory on
            ``sys.path``). Without pinned tasks and :attr:`worker_preload` it is removed, if present.
        """
        config = self.home / "config"
        config.mkdir(parents=True, exist_ok=True)
        policy = config / "airflow_local_settings.py"
        parts = []
        if self.pinned_tasks:
            parts.append(_POLICY.format(pinned=json.dumps(self.pinned_tasks), queue=PINNED_QUEUE))
        if self.worker_preload:
            parts.append(_PRELOAD.format(modules=json.dumps(self.worker_preload)))
        if parts:
            what = " and ".join(
                text
                for text, wanted in (
                    ("route the pinned tasks to their own Celery queue", self.pinned_tasks),
                    ("preload modules into the Celery workers", self.worker_preload),
                )
                if wanted
            )
            policy.write_text(_HEADER.format(what=what) + "".join(parts))
        else:
            policy.unlink(missing_ok=True)
        return policy

    def _start_workers(self) -> None:
        for worker in self.worker_processes:
            self._start_worker(worker)

    def _start_worker(self, worker: str) -> None:
        log = self.processes.log_path(worker)
        self._log_offsets[worker] = log.stat().st_size if log.exists() else 0
        hostname = worker.removeprefix(f"{self.name}-")
        argv = [str(self.airflow_executable), "celery", "worker", "--queues", ",".join(self.queues_of(worker))]
        argv += ["--concurrency", str(self.concurrency), "--celery-hostname", f"{hostname}@%h"]
        # One machine: the task logs are local files, and the workers would fight over the serve-logs port.
        argv += ["--skip-serve-logs", "--without-mingle", "--without-gossip"]
        self._start_service(worker, argv)

    def _wait_workers_ready(self, timeout_seconds: float) -> None:
        for worker in self.worker_processes:
            self.wait_worker_ready(worker, timeout_seconds)

    def wait_worker_ready(self, worker: str, timeout_seconds: float) -> None:
        """Wait until a worker's latest start logs Celery's ``ready.`` line.

        Args:
            worker: A name from :attr:`worker_processes`.
            timeout_seconds: How long to wait.

        Raises:
            TimeoutError: If it does not get ready in time (the message has its log tail).
            AirflowStackError: If it exits.
        """
        deadline = time.monotonic() + timeout_seconds
        log = self.processes.log_path(worker)
        while True:
            with contextlib.suppress(FileNotFoundError), log.open("rb") as handle:
                handle.seek(self._log_offsets.get(worker, 0))
                if b" ready." in handle.read():
                    return
            returncode = self.processes.popen(worker).poll()
            if returncode is not None:
                raise AirflowStackError(f"{worker} exited with {returncode}.\n{self._tails(worker)}")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{worker} did not get ready within {timeout_seconds:.0f} s.\n{self._tails(worker)}")
            time.sleep(0.2)

    # -- crash injection ------------------------------------------------------------------------

    def worker_of_task(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
        """Return the worker whose process tree runs a task instance's current try.

        The task process is found by its title (``airflow worker -- <ti uuid>``), then its parents
        are walked up to a worker's main process.

        Args:
            dag_id: The DAG.
            run_id: The dag run ID.
            task_id: The task.
            map_index: The map index, ``-1`` for an unmapped task.

        Returns:
            A name from :attr:`worker_processes`.

        Raises:
            AirflowStackError: If no process of that try runs under a worker.
        """
        return self._workers_by_task(dag_id, run_id, [task_id], map_index)[task_id]

    def kill_worker(self, worker: str, *, restart: bool = True) -> list[int]:
        """SIGKILL a whole Celery worker: its process group and every descendant, at once.

        Args:
            worker: A name from :attr:`worker_processes`.
            restart: Start the worker again at once (without waiting for it to get ready), as a
                process supervisor would.

        Returns:
            The killed PIDs, sorted.

        Raises:
            AirflowStackError: If the worker is not running, or a process survives.
        """
        popen = self.processes.popen(worker)
        if popen.poll() is not None:
            raise AirflowStackError(f"{worker} is not running (exit code {popen.returncode})")
        leader = psutil.Process(popen.pid)
        victims = [leader, *leader.children(recursive=True)]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        for proc in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGKILL)
        _gone, alive = psutil.wait_procs(victims, timeout=5)
        with contextlib.suppress(Exception):
            popen.wait(timeout=5)
        if alive:
            raise AirflowStackError(f"processes of {worker} survived SIGKILL: {[proc.pid for proc in alive]}")
        if restart:
            self._start_worker(worker)
        return sorted(proc.pid for proc in victims)

    def crash_tasks(
        self, dag_id: str, run_id: str, task_ids: Sequence[str], map_index: int = -1
    ) -> dict[str, list[int]]:
        """SIGKILL every Celery worker that runs one of the tasks, then start each again.

        Every worker is found first (one scan), then all are killed, so no task outlives another.
        A pinned task's worker is never among them unless a listed task runs there too.

        Args:
            dag_id: The DAG.
            run_id: The dag run ID.
            task_ids: The tasks.
            map_index: The map index, ``-1`` for unmapped tasks.

        Returns:
            Task ID to the PIDs of its killed worker, sorted.

        Raises:
            AirflowStackError: If a task runs under no worker (then nothing is killed), or a
                process survives.
        """
        workers = self._workers_by_task(dag_id, run_id, task_ids, map_index)
        killed = {worker: self.kill_worker(worker, restart=False) for worker in sorted(set(workers.values()))}
        for worker in killed:
            self._start_worker(worker)
        return {task_id: killed[worker] for task_id, worker in workers.items()}

    def workers_of_task_instances(self, ti_ids: Collection[str]) -> dict[str, str]:
        """Return the worker whose process tree runs each task-instance try, in one process scan.

        Args:
            ti_ids: Task-instance IDs (the REST API's ``id``), with or without dashes.

        Returns:
            Each given ID that runs under a worker (as given) to a name from :attr:`worker_processes`;
            IDs with no process under a running worker are left out.
        """
        leaders: dict[int, str] = {}
        for worker in self.worker_processes:
            popen = self.processes.popen(worker)
            if popen.poll() is None:
                leaders[popen.pid] = worker
        workers: dict[str, str] = {}
        for ti_id, processes in self.processes_of_task_instances(ti_ids).items():
            for pid in processes:
                with contextlib.suppress(psutil.NoSuchProcess):
                    for parent in psutil.Process(pid).parents():
                        if parent.pid in leaders:
                            workers[ti_id] = leaders[parent.pid]
                            break
                if ti_id in workers:
                    break
        return workers

    def _workers_by_task(self, dag_id: str, run_id: str, task_ids: Sequence[str], map_index: int) -> dict[str, str]:
        ti_ids = {task_id: str(self.task_instance(dag_id, run_id, task_id, map_index)["id"]) for task_id in task_ids}
        by_ti = self.workers_of_task_instances(list(ti_ids.values()))
        workers: dict[str, str] = {}
        for task_id, ti_id in ti_ids.items():
            if ti_id in by_ti:
                workers[task_id] = by_ti[ti_id]
            else:
                processes = self.processes_of_task_instances([ti_id])[ti_id]
                ti = self.task_instance(dag_id, run_id, task_id, map_index)
                raise AirflowStackError(
                    f"no Celery worker runs task instance {ti['id']} ({dag_id}.{task_id}[{map_index}], "
                    f"state {ti.get('state')!r}, try {ti.get('try_number')}); processes: {processes}"
                )
        return workers

    # -- state ----------------------------------------------------------------------------------

    def _state_store_rows(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> list[tuple[Any, Any]]:
        with contextlib.closing(self.postgres.connect()) as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT key, value FROM task_state_store "
                "WHERE dag_id = %s AND run_id = %s AND task_id = %s AND map_index = %s ORDER BY key",
                (dag_id, run_id, task_id, map_index),
            )
            rows: list[tuple[Any, Any]] = cursor.fetchall()
        return rows
