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
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from airflow_durable.demo.processes import ManagedProcesses
    from airflow_durable.demo.workload import Workload

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
        workload_dag_id: The soak's workload DAG (:mod:`airflow_durable.demo.workload`), e.g.
            ``"durable_workload_databricks"``; ``None`` (the default): the provider has no workload,
            and the workload methods below raise :class:`NotImplementedError`.
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
    workload_dag_id: ClassVar[str | None] = None

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

    # -- the soak's workload (optional; see airflow_durable.demo.workload) ---------------------------

    def _no_workload(self, method: str) -> NotImplementedError:
        return NotImplementedError(f"demo provider {self.name!r} has no workload: it does not implement {method}()")

    def workload_tasks(self, workload: Workload) -> None:
        """Create the workload's tasks inside the active DAG context.

        Create the mapped task ``"durable"`` (``durable=True``) and, if ``workload.twins``, ``"not_durable"``
        (``durable=False``), each ``Operator.partial(...).expand(...)`` over ``workload.maps`` inputs. The
        job of map index ``i`` of task ``t`` must carry
        :func:`~airflow_durable.demo.workload.workload_job_name` ``(t, i)`` in a field the external system
        records (run name, step ``Name``, job labels, application name...).

        Args:
            workload: The workload's size.

        Raises:
            NotImplementedError: The provider has no workload (the default).
        """
        del workload
        raise self._no_workload("workload_tasks")

    def prepare_workload(self, system: SystemT, workload: Workload) -> None:
        """Make every new job of the running external system succeed by itself, with no release step.

        Args:
            system: The running system's handle.
            workload: Every job succeeds after ``workload.polls_to_finish`` status calls.

        Raises:
            NotImplementedError: The provider has no workload (the default).
        """
        del system, workload
        raise self._no_workload("prepare_workload")

    def workload_jobs(self, system: SystemT) -> dict[tuple[str, int], list[str]]:
        """Return the external jobs of each workload task instance, across all tries and dag runs.

        Args:
            system: The running system's handle.

        Returns:
            ``(task_id, map_index)`` to job IDs, oldest first, from the external system's own records
            (matched on :func:`~airflow_durable.demo.workload.parse_workload_job_name`).

        Raises:
            NotImplementedError: The provider has no workload (the default).
        """
        del system
        raise self._no_workload("workload_jobs")

    def vendor_calls(self, system: SystemT) -> int:
        """Return the vendor API requests the external system answered so far, fault-injected ones included.

        Args:
            system: The running system's handle.

        Returns:
            The request count since the system started.

        Raises:
            NotImplementedError: The provider has no workload (the default).
        """
        del system
        raise self._no_workload("vendor_calls")

    def start_fault_storm(self, system: SystemT, rate: float, seed: int) -> None:
        """From now on, answer a share ``rate`` of vendor calls with a 429, a 5xx or a timeout.

        The default calls the emulator kit's control method ``system.fault_storm(rate, seed)`` (for a
        system handle that is an emulator's control client).

        Args:
            system: The running system's handle.
            rate: The share of vendor calls that fail, from 0 to 1.
            seed: Seeds the draw of which calls fail and how.
        """
        cast("Any", system).fault_storm(rate, seed)
