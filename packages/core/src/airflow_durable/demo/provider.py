"""What a provider declares for ``airflow-durable demo``; core runs the rest.

A provider subclasses :class:`DemoProvider` and states only what is its own:

- its example DAG and the ``task_state_store`` key its operator writes;
- its crash cases (:class:`CrashCase`): which task and non-durable twin are SIGKILLed, and which
  resume decision the durable task's retry must log;
- how to start its external system as its own process (:meth:`DemoProvider.start`), yielding the
  Airflow connections that reach it (:class:`DemoSystem`);
- how to count external jobs per task (:meth:`DemoProvider.jobs_by_task`);
- when its tasks are ready to be killed (:meth:`DemoProvider.ready_to_kill`).

:mod:`airflow_durable.demo.runner` starts one Airflow stack for every provider, triggers the DAG,
kills, waits for Airflow's own retry, compares XComs with the uninterrupted baseline and builds the
table rows (:mod:`airflow_durable.demo.outcome`).
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from airflow_durable.demo.processes import ManagedProcesses

__all__ = ["CrashCase", "DemoProvider", "DemoSystem"]

#: Handle on a provider's running external system (a cluster object, an emulator's control client...).
SystemT = TypeVar("SystemT")


@dataclass(frozen=True)
class CrashCase:
    """One crash point: a durable task and its non-durable twin, SIGKILLed at the same moment.

    Attributes:
        label: The table's crash-point cell, e.g. ``"mid-poll (SIGKILL supervisor + task process)"``.
        durable_task: The task ID of the durable operator.
        twin_task: The task ID of the same operator with ``durable=False``.
        retry_decision: The resume decision the durable task's second try must log, e.g.
            ``"reconnect"`` or ``"resubmit_same_token"``.
    """

    label: str
    durable_task: str
    twin_task: str
    retry_decision: str


@dataclass
class DemoSystem(Generic[SystemT]):
    """A started external system: what Airflow's task processes need, and the provider's handle.

    Attributes:
        control: The provider's handle, passed back to its probes (``jobs_by_task``, ...).
        connections: Airflow connections to create before the DAG is triggered, by connection ID,
            in the ``AIRFLOW_CONN_*`` JSON form (``conn_type``, ``host``, ``port``, ``schema``,
            ``login``, ``password``, ``extra``).
    """

    control: SystemT
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)


class DemoProvider(ABC, Generic[SystemT]):
    """A provider's demo, declared. Subclass it and set the class attributes.

    Attributes:
        name: The provider name (the entry-point name and the table's first column), e.g. ``"databricks"``.
        operator: The durable operator's class name, for the table.
        dag_id: The example DAG's ID.
        example_dag: The example DAG's file name in the provider package's ``examples/``.
        state_key: The ``task_state_store`` key the operator writes (its ``external_id_key``).
        crash_cases: The crash points; every task in them is SIGKILLed once.
        baseline_task: The durable task left alone; its XCom is the expected one.
        settle_seconds: Seconds to wait after :meth:`ready_to_kill` first holds, before the kill.
        timeout_seconds: Upper bound of each wait of this provider's scenario.
    """

    name: str
    operator: str
    dag_id: str
    example_dag: str
    state_key: str
    crash_cases: tuple[CrashCase, ...]
    baseline_task: str = "uninterrupted"
    settle_seconds: float = 0.0
    timeout_seconds: float = 240.0

    @property
    def task_ids(self) -> list[str]:
        """Every task the scenario watches: the crash cases' tasks, then the baseline."""
        crashed = [task for case in self.crash_cases for task in (case.durable_task, case.twin_task)]
        return [*crashed, self.baseline_task]

    def example_dag_path(self) -> Path:
        """Return the example DAG file of the package that defines this provider class.

        A wheel ships ``examples/`` inside the package; a source checkout has it next to ``src/``.

        Returns:
            The path of :attr:`example_dag`.

        Raises:
            FileNotFoundError: Neither location has it.
        """
        top = type(self).__module__.partition(".")[0]
        spec = importlib.util.find_spec(top)
        if spec is None or spec.origin is None:
            raise FileNotFoundError(f"package {top!r} of {type(self).__name__} cannot be located")
        package_dir = Path(spec.origin).resolve().parent
        candidates = (package_dir / "examples", package_dir.parents[1] / "examples")
        for folder in candidates:
            if (folder / self.example_dag).is_file():
                return folder / self.example_dag
        raise FileNotFoundError(f"{self.example_dag} is in none of {', '.join(map(str, candidates))}")

    def task_env(self, workdir: Path) -> dict[str, str]:
        """Return environment variables every Airflow process needs, known before anything starts.

        Under LocalExecutor the task processes inherit the scheduler's environment, which is fixed
        when the one shared stack starts. Values known only once the external system runs (ports,
        URLs) go into :attr:`DemoSystem.connections` instead.

        Args:
            workdir: The provider's own directory (the same one :meth:`start` gets).

        Returns:
            Variable names to values; two providers must not set one name to different values.
        """
        del workdir
        return {}

    @abstractmethod
    def start(
        self, workdir: Path, processes: ManagedProcesses, progress: Callable[[str], None]
    ) -> AbstractContextManager[DemoSystem[SystemT]]:
        """Start the external system as its own process(es); stop it when the context exits.

        Args:
            workdir: The provider's own directory.
            processes: Start every process through this, so that it is stopped by PID.
            progress: Call with short human-readable messages.

        Returns:
            A context manager yielding the running system.
        """

    @abstractmethod
    def jobs_by_task(self, system: SystemT) -> dict[str, list[str]]:
        """Return the external jobs each task submitted, across all tries.

        Args:
            system: The running system's handle.

        Returns:
            Task ID to job IDs, for every task in :attr:`task_ids` (an empty list when none).
        """

    @abstractmethod
    def ready_to_kill(self, system: SystemT, record: Callable[[str], Any]) -> bool:
        """Say whether every crashed task is at its crash point.

        Args:
            system: The running system's handle.
            record: Reads a task's ``task_state_store`` value under :attr:`state_key` (``None``
                when absent).

        Returns:
            ``True`` once the kill may happen.
        """

    def release(self, system: SystemT) -> None:
        """Let the jobs finish, once every crashed durable task's retry has made its decision.

        The default does nothing (jobs that end by themselves).

        Args:
            system: The running system's handle.
        """
        del system

    def comparable(self, xcom: Any) -> Any:
        """Mask what legitimately differs between two runs of the same job (job IDs, URLs).

        Args:
            xcom: A task's ``return_value`` XCom.

        Returns:
            The value to compare with the baseline's; the default returns it unchanged.
        """
        return xcom
