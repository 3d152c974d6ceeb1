"""Stand-ins for the demo kit's tests: a declared provider and an Airflow stack that start nothing heavy.

:class:`FakeProvider` starts its "cloud" as a real ``sleep`` process (so process-group handling is real)
and reports the jobs it is told to. :class:`FakeStack` replaces
:class:`~airflow_durable.demo.airflow_stack.AirflowStack` in :mod:`airflow_durable.demo.runner` and
records what the runner asked of it.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import psutil

from airflow_durable.demo.provider import CrashCase, DemoProvider, DemoSystem

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from airflow_durable.demo.processes import ManagedProcesses

MID_POLL = CrashCase("mid-poll (SIGKILL)", "durable", "not_durable", "reconnect")
WINDOW = CrashCase("submit window (SIGKILL)", "window", "window_twin", "resubmit_same_token")


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def expected_jobs() -> dict[str, list[str]]:
    return {"durable": ["j1"], "not_durable": ["j2", "j3"], "uninterrupted": ["j4"]}


@dataclass(eq=False)
class FakeProvider(DemoProvider[dict[str, list[str]]]):
    """A provider whose jobs and failures are given; its cloud is a ``sleep`` process."""

    name: str
    dag_dir: Path
    jobs: dict[str, list[str]] = field(default_factory=expected_jobs)
    error: Exception | None = None
    env: dict[str, str] = field(default_factory=dict)
    seen_pids: list[int] = field(default_factory=list)
    alive_at_start: list[int] = field(default_factory=list)
    others: list[FakeProvider] = field(default_factory=list)

    operator = "DurableFakeOperator"
    example_dag = "fake_dag.py"
    state_key = "fake_job"
    crash_cases = (MID_POLL,)

    def __post_init__(self) -> None:
        self.dag_id = f"{self.name}_dag"

    def example_dag_path(self) -> Path:
        path = self.dag_dir / f"{self.name}_dag.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# the {self.name} example DAG\n")
        return path

    def task_env(self, workdir: Path) -> dict[str, str]:
        return {**self.env, f"{self.name.upper()}_WORKDIR": str(workdir)}

    @contextlib.contextmanager
    def start(
        self, workdir: Path, processes: ManagedProcesses, progress: Callable[[str], None]
    ) -> Iterator[DemoSystem[dict[str, list[str]]]]:
        assert workdir.name == self.name
        progress(f"{self.name}: starting the fake cloud")
        self.alive_at_start.extend(pid for other in self.others for pid in other.seen_pids if alive(pid))
        self.seen_pids.append(processes.start(f"{self.name}-cloud", ["sleep", "300"]).pid)
        if self.error is not None:
            raise self.error
        yield DemoSystem(self.jobs, {f"{self.name}_conn": {"conn_type": "http", "host": "127.0.0.1", "port": 1}})

    def jobs_by_task(self, system: dict[str, list[str]]) -> dict[str, list[str]]:
        return system

    def ready_to_kill(self, system: dict[str, list[str]], record: Callable[[str], Any]) -> bool:
        return record("durable") == {"phase": "submitted"}

    def comparable(self, xcom: Any) -> Any:
        return {k: v for k, v in xcom.items() if k != "job"} if isinstance(xcom, dict) else xcom


class FakeStack:
    """Records what the runner asks; every task's XCom is equal but for its job ID."""

    instances: ClassVar[list[FakeStack]] = []
    fail_start: ClassVar[Exception | None] = None
    dag_run_state: ClassVar[str] = "running"

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        processes: ManagedProcesses,
        *,
        extra_env: dict[str, str],
        heartbeat_timeout_seconds: int,
        parallelism: int,
    ) -> None:
        self.dags_folder = dags_folder
        self.processes = processes
        self.extra_env = extra_env
        self.parallelism = parallelism
        self.starts = 0
        self.dags: list[str] = []
        self.connections: dict[str, dict[str, Any]] = {}
        self.killed: list[tuple[str, str]] = []
        self.patterns: list[tuple[str, int, str]] = []
        self.api_server_pid: int | None = None
        FakeStack.instances.append(self)

    def start(self, progress: Callable[[str], None]) -> None:
        progress("fake Airflow: ready")
        if FakeStack.fail_start is not None:
            raise FakeStack.fail_start
        self.starts += 1
        self.dags = sorted(path.name for path in self.dags_folder.iterdir())
        self.api_server_pid = self.processes.start("airflow-api-server", ["sleep", "300"]).pid

    def stop(self) -> None:
        self.processes.stop("airflow-api-server")

    def __enter__(self) -> FakeStack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def set_connection(self, conn_id: str, spec: Mapping[str, Any]) -> None:
        self.connections[conn_id] = dict(spec)

    def trigger(self, dag_id: str) -> str:
        return f"run-of-{dag_id}"

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return {"state": FakeStack.dag_run_state}

    def state_store(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return {"fake_job": {"phase": "submitted"}} if task_id == "durable" else {}

    def kill_tasks(self, dag_id: str, run_id: str, task_ids: list[str]) -> dict[str, list[int]]:
        self.killed.extend((dag_id, task_id) for task_id in task_ids)
        return {task_id: [1] for task_id in task_ids}

    crash_description = "SIGKILL (fake)"
    crash_label = ""

    def crash_tasks(self, dag_id: str, run_id: str, task_ids: list[str]) -> dict[str, list[int]]:
        return self.kill_tasks(dag_id, run_id, task_ids)

    def wait_for_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int, pattern: str, timeout_seconds: float
    ) -> float:
        self.patterns.append((task_id, try_number, pattern))
        return time.monotonic()

    def wait_for_dag_run(self, dag_id: str, run_id: str, timeout_seconds: float) -> str:
        return "success"

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        return {"answer": 42, "job": f"{task_id}-job"}

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return {"try_number": 1 if task_id == "uninterrupted" else 2}


class FakeCeleryStack(FakeStack):
    """Stands in for :class:`~airflow_durable.demo.celery_stack.CeleryStack`; records its worker layout."""

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        processes: ManagedProcesses,
        *,
        workers: int,
        concurrency: int,
        pinned_tasks: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(home, dags_folder, processes, **kwargs)
        self.workers = workers
        self.concurrency = concurrency
        self.pinned_tasks = pinned_tasks

    crash_description = "SIGKILL the whole worker (fake)"
    crash_label = "on Celery (fake)"
