"""The random-kill soak (R2) and the fault storm (R3): each provider's workload, repeated, on one Airflow stack.

:func:`run_soak` starts one stack (:func:`~airflow_durable.demo.runner.build_stack`; by default the
production shape, Postgres + CeleryExecutor + Redis with two Celery workers) whose dags folder holds
only :mod:`airflow_durable.demo.workload_dag`, with ``AIRFLOW_DURABLE_WORKLOAD`` in every Airflow
process's environment. It starts each provider's external system, writes its connections and calls
``prepare_workload`` (jobs succeed by themselves); with a fault rate, ``start_fault_storm``. Then, per
repetition:

1. trigger every provider's workload DAG at once;
2. once the repetition's first job exists in an external system, wait a delay drawn uniformly from
   the kill window by ``random.Random(seed)``, then SIGKILL a Celery worker drawn among those running a
   workload task instance at that moment (the whole worker with its task processes, started again at
   once); on the local stack, the supervisor and task process of a running task instance drawn at
   random. The task instances the kill caught are recorded. Counting from the first job rather than
   from the trigger keeps the kills among polling and submitting tries however slowly the task
   processes start on a loaded machine;
3. wait until every dag run ends;
4. count the jobs each task instance created in this repetition, from the external system's own
   records (``workload_jobs`` now minus before), and read each durable task instance's state and
   ``return_value`` XCom.

Per provider it tallies (:class:`ProviderTally`) durable duplicates and lost results, both of which must
be 0, the non-durable twins' duplicates for contrast, task failures, kills that caught its task
instances, vendor calls and wall time. :func:`report_lines` formats the table. A repetition that does not
end in time stops the soak without losing the tallies of the repetitions before it
(:attr:`SoakReport.stopped_early`).
"""

from __future__ import annotations

import contextlib
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_durable.demo.airflow_stack import TERMINAL_DAG_RUN_STATES
from airflow_durable.demo.processes import ManagedProcesses
from airflow_durable.demo.runner import build_stack, shared_stack_env
from airflow_durable.demo.workload import Workload, workload_env

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from airflow_durable.demo.airflow_stack import AirflowStack
    from airflow_durable.demo.provider import DemoProvider, DemoSystem

__all__ = [
    "DEFAULT_KILL_WINDOW_SECONDS",
    "CaughtTaskInstance",
    "Kill",
    "ProviderTally",
    "SoakReport",
    "report_lines",
    "run_soak",
]

#: Seconds after the repetition's first job appears between which the kill happens, by default. On the
#: 2-core machine (Celery, Databricks, 6 task instances, load 8-12) the tries' submissions spread over
#: about 15 s after the first one, and each job is polled for about 11 s (``polls_to_finish`` 6).
DEFAULT_KILL_WINDOW_SECONDS = (0.0, 12.0)
#: The stack's ``[scheduler] task_instance_heartbeat_timeout``: how soon a killed try is noticed.
HEARTBEAT_TIMEOUT_SECONDS = 10
#: ``[scheduler] task_queued_timeout``: a try whose worker died before it started running is queued
#: again after this long (Airflow's default, 600 s, would stall the repetition).
TASK_QUEUED_TIMEOUT_SECONDS = 90
#: A repetition waits for its dag runs up to this many times the slowest provider's ``timeout_seconds``:
#: the killed worker's tries wait for the heartbeat timeout or the queued timeout, then for their retry, and
#: on a loaded 2-core machine with every workload at once one repetition once took more than 300 s.
REPETITION_WAIT_FACTOR = 3

_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class CaughtTaskInstance:
    """A task instance whose running try a kill ended.

    Attributes:
        provider: The provider name.
        task_id: ``"durable"`` or ``"not_durable"``.
        map_index: The map index.
        try_number: The try that was killed.
    """

    provider: str
    task_id: str
    map_index: int
    try_number: int

    def __str__(self) -> str:
        return f"{self.provider} {self.task_id}[{self.map_index}] try {self.try_number}"


@dataclass(frozen=True)
class Kill:
    """One kill of the soak.

    Attributes:
        repetition: The repetition (1 for the first).
        delay_seconds: Seconds after the repetition's first job appeared, as drawn.
        after_trigger_seconds: Seconds after the trigger, when the kill happened.
        target: The Celery worker killed, or the task instance (local stack); ``"nothing"`` when no
            workload task instance was running.
        caught: The task instances whose running try it ended.
    """

    repetition: int
    delay_seconds: float
    after_trigger_seconds: float
    target: str
    caught: tuple[CaughtTaskInstance, ...]


@dataclass
class ProviderTally:
    """What the soak saw of one provider, over every repetition.

    Attributes:
        provider: The provider name.
        repetitions: Repetitions run.
        durable_tis: Durable task instances (map indexes of ``durable``, over every repetition).
        kills_caught: Kills that caught at least one of its task instances.
        durable_caught: Durable task instances' tries the kills ended.
        durable_duplicates: Jobs beyond the first of each durable task instance (must be 0).
        lost_results: Durable task instances not ``success``, or without a ``return_value`` XCom (must be 0).
        non_durable_duplicates: Jobs beyond the first of each ``durable=False`` twin, for contrast.
        task_failures: Durable task instances that ended ``failed``.
        vendor_calls: Vendor API requests its external system answered during the repetitions.
        wall_seconds: Sum over the repetitions of trigger to the end of its dag run.
        findings: One line per duplicate or lost result, for the report.
    """

    provider: str
    repetitions: int = 0
    durable_tis: int = 0
    kills_caught: int = 0
    durable_caught: int = 0
    durable_duplicates: int = 0
    lost_results: int = 0
    non_durable_duplicates: int = 0
    task_failures: int = 0
    vendor_calls: int = 0
    wall_seconds: float = 0.0
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No durable duplicate and no lost result."""
        return self.durable_duplicates == 0 and self.lost_results == 0


@dataclass
class SoakReport:
    """The soak's outcome.

    Attributes:
        seed: The seed of ``random.Random`` (kill delays, kill targets, the fault storms).
        stack: ``celery`` or ``local``.
        workload: The workload.
        fault_rate: The share of vendor calls that failed (0: no storm).
        kill: Whether workers were killed.
        tallies: One per provider, in the given order.
        kills: Every kill, in order.
        wall_seconds: The whole soak, stack start included.
        stopped_early: Empty, or why the soak stopped before its last repetition (a repetition whose dag
            runs did not end in time); the tallies then cover the repetitions that ended.
    """

    seed: int
    stack: str
    workload: Workload
    fault_rate: float
    kill: bool
    tallies: list[ProviderTally] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    wall_seconds: float = 0.0
    stopped_early: str = ""

    @property
    def ok(self) -> bool:
        """Every repetition ended, and every provider had no durable duplicate and no lost result."""
        return not self.stopped_early and all(tally.ok for tally in self.tallies)


def _kill_randomly(
    stack: AirflowStack, running: dict[str, tuple[str, str, CaughtTaskInstance]], rng: random.Random
) -> tuple[str, tuple[CaughtTaskInstance, ...]]:
    """SIGKILL a worker (Celery) or one task instance's processes (local); return the target and what it caught."""
    from airflow_durable.demo.celery_stack import CeleryStack

    if isinstance(stack, CeleryStack):
        workers = stack.workers_of_task_instances(list(running))
        busy = sorted(set(workers.values()))
        worker = rng.choice(busy or stack.worker_processes)
        stack.kill_worker(worker, restart=True)
        caught = tuple(sorted((running[ti][2] for ti, w in workers.items() if w == worker), key=str))
        return worker, caught
    alive = {ti: procs for ti, procs in stack.processes_of_task_instances(list(running)).items() if procs}
    if not alive:
        return "nothing", ()
    ti_id = rng.choice(sorted(alive, key=lambda ti: str(running[ti][2])))
    dag_id, run_id, caught_ti = running[ti_id]
    stack.kill_tasks(dag_id, run_id, [caught_ti.task_id], caught_ti.map_index)
    return str(caught_ti), (caught_ti,)


def _running_task_instances(
    stack: AirflowStack, runs: dict[str, tuple[DemoProvider[Any], str]]
) -> dict[str, tuple[str, str, CaughtTaskInstance]]:
    """Return the running workload task instances: TI ID to (dag ID, run ID, what a kill would catch)."""
    running: dict[str, tuple[str, str, CaughtTaskInstance]] = {}
    for dag_id, (provider, run_id) in runs.items():
        for ti in stack.task_instances(dag_id, run_id):
            if ti.get("state") in {"running", "queued"} and int(ti.get("map_index", -1)) >= 0:
                caught = CaughtTaskInstance(provider.name, ti["task_id"], int(ti["map_index"]), int(ti["try_number"]))
                running[str(ti["id"])] = (dag_id, run_id, caught)
    return running


def _tally_repetition(
    stack: AirflowStack,
    provider: DemoProvider[Any],
    run_id: str,
    workload: Workload,
    new_jobs: dict[tuple[str, int], list[str]],
    tally: ProviderTally,
    repetition: int,
) -> None:
    dag_id = str(provider.workload_dag_id)
    states = {
        (ti["task_id"], int(ti["map_index"])): ti for ti in stack.task_instances(dag_id, run_id) if ti["map_index"] >= 0
    }
    tally.repetitions += 1
    for task_id in workload.task_ids:
        for index in range(workload.maps):
            jobs = new_jobs.get((task_id, index), [])
            ti = states.get((task_id, index), {})
            where = f"repetition {repetition}, {task_id}[{index}] (run {run_id})"
            if task_id != "durable":
                tally.non_durable_duplicates += max(0, len(jobs) - 1)
                continue
            tally.durable_tis += 1
            if len(jobs) > 1:
                tally.durable_duplicates += len(jobs) - 1
                tally.findings.append(f"DUPLICATE: {where}: {len(jobs)} jobs {jobs}")
            state = ti.get("state")
            if state == "failed":
                tally.task_failures += 1
            xcom: Any = None
            if state == "success":
                with contextlib.suppress(KeyError):
                    xcom = stack.xcom(dag_id, run_id, task_id, map_index=index)
            if state != "success" or xcom is None:
                tally.lost_results += 1
                what = f"state {state!r}" if state != "success" else "no return_value XCom"
                tally.findings.append(f"LOST RESULT: {where}: {what}, try {ti.get('try_number')}, jobs {jobs}")


def _new_jobs(
    before: dict[tuple[str, int], list[str]], after: dict[tuple[str, int], list[str]]
) -> dict[tuple[str, int], list[str]]:
    return {key: [job for job in jobs if job not in set(before.get(key, []))] for key, jobs in after.items()}


def _wait_until_done(
    stack: AirflowStack, runs: dict[str, tuple[DemoProvider[Any], str]], started: float, timeout_seconds: float
) -> dict[str, float]:
    """Wait until every dag run ends; return each DAG's seconds from ``started`` to the end it was seen."""
    ended: dict[str, float] = {}
    deadline = time.monotonic() + timeout_seconds
    while len(ended) < len(runs):
        for dag_id, (_provider, run_id) in runs.items():
            if dag_id not in ended and stack.dag_run(dag_id, run_id).get("state") in TERMINAL_DAG_RUN_STATES:
                ended[dag_id] = time.monotonic() - started
        if len(ended) < len(runs):
            if time.monotonic() >= deadline:
                pending = sorted(set(runs) - set(ended))
                raise TimeoutError(f"dag runs of {pending} did not end within {timeout_seconds:.0f} s")
            stack.check_services()
            time.sleep(_POLL_SECONDS)
    return ended


def run_soak(
    providers: Sequence[DemoProvider[Any]],
    workdir: Path,
    *,
    repetitions: int = 20,
    seed: int,
    workload: Workload | None = None,
    stack: str = "celery",
    fault_rate: float = 0.0,
    kill: bool = True,
    kill_window_seconds: tuple[float, float] = DEFAULT_KILL_WINDOW_SECONDS,
    progress: Callable[[str], None] = print,
) -> SoakReport:
    """Run the soak (see the module docstring) and stop everything it started.

    Args:
        providers: Providers with a workload (``workload_dag_id`` set).
        workdir: ``dags/``, ``airflow/`` (``AIRFLOW_HOME``), ``logs/`` and one directory per provider go here.
        repetitions: How many times each workload DAG runs.
        seed: Seeds ``random.Random`` for the kill delays and targets, and the fault storms.
        workload: The workload's size (default :class:`~airflow_durable.demo.workload.Workload`).
        stack: ``celery`` (two Celery workers, the default) or ``local``.
        fault_rate: If above 0, each provider's ``start_fault_storm(system, fault_rate, seed)`` runs
            before the first repetition.
        kill: Kill once per repetition (``False``: the fault storm alone).
        kill_window_seconds: ``(earliest, latest)`` seconds after the repetition's first job appeared.
        progress: Receives one line per step and per repetition.

    Returns:
        The report. If a repetition's first job or the end of its dag runs does not come in time, the
        soak stops there: ``stopped_early`` says why, and the tallies keep the repetitions that ended.

    Raises:
        ValueError: If a provider has no workload, or an argument is out of range.
        TimeoutError: If the stack does not start in time.
        airflow_durable.demo.airflow_stack.AirflowStackError: If a service of the stack fails.
    """
    workload = workload or Workload()
    no_workload = [provider.name for provider in providers if provider.workload_dag_id is None]
    if no_workload or not providers:
        raise ValueError(f"demo providers without a workload: {no_workload or 'none given'}")
    if repetitions < 1 or not 0.0 <= fault_rate <= 1.0 or not 0.0 <= kill_window_seconds[0] <= kill_window_seconds[1]:
        raise ValueError(f"bad soak arguments: {repetitions=}, {fault_rate=}, {kill_window_seconds=}")
    started = time.monotonic()
    rng = random.Random(seed)
    report = SoakReport(seed, stack, workload, fault_rate, kill)
    tallies = {provider.name: ProviderTally(provider.name) for provider in providers}
    report.tallies = list(tallies.values())
    dags = workdir / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__).with_name("workload_dag.py"), dags / "workload_dag.py")
    env = shared_stack_env(providers, workdir) | workload_env([p.name for p in providers], workload)
    env["AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT"] = str(TASK_QUEUED_TIMEOUT_SECONDS)
    env["AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL"] = "10"
    tis = len(providers) * workload.maps * len(workload.task_ids)
    with ManagedProcesses(workdir / "logs") as processes, contextlib.ExitStack() as systems:
        airflow = build_stack(
            stack,
            workdir,
            processes,
            extra_env=env,
            heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_SECONDS,
            parallelism=max(8, tis),
            # Each worker can take the whole workload: the survivor of a kill runs the retries at once.
            concurrency=max(2, tis),
        )
        progress(f"Soak seed {seed}: {repetitions} repetitions of {workload} on the {stack} stack")
        airflow.start(progress)
        systems.enter_context(airflow)
        started_systems: dict[str, DemoSystem[Any]] = {}
        for provider in providers:
            own = workdir / provider.name
            system = systems.enter_context(provider.start(own, processes, progress))
            for conn_id, spec in system.connections.items():
                airflow.set_connection(conn_id, spec)
            provider.prepare_workload(system.control, workload)
            started_systems[provider.name] = system
        calls_before = {p.name: p.vendor_calls(started_systems[p.name].control) for p in providers}
        if fault_rate > 0:
            for provider in providers:
                progress(f"{provider.name}: fault storm, {fault_rate:.0%} of vendor calls fail (seed {seed})")
                provider.start_fault_storm(started_systems[provider.name].control, fault_rate, seed)
        soak = _Soak(
            airflow, providers, started_systems, tallies, report, repetitions, kill_window_seconds, rng, progress
        )
        soak.run_repetitions()
        for provider in providers:
            calls = provider.vendor_calls(started_systems[provider.name].control)
            tallies[provider.name].vendor_calls = calls - calls_before[provider.name]
    report.wall_seconds = time.monotonic() - started
    return report


@dataclass
class _Soak:
    """A started soak: the stack, the providers' systems, and the report its repetitions fill."""

    airflow: AirflowStack
    providers: Sequence[DemoProvider[Any]]
    started_systems: dict[str, DemoSystem[Any]]
    tallies: dict[str, ProviderTally]
    report: SoakReport
    repetitions: int
    kill_window_seconds: tuple[float, float]
    rng: random.Random
    progress: Callable[[str], None]

    def run_repetitions(self) -> None:
        """Run every repetition; at the first that does not end in time, record why and stop."""
        for repetition in range(1, self.repetitions + 1):
            try:
                self.run_repetition(repetition)
            except TimeoutError as exc:
                self.report.stopped_early = f"repetition {repetition}/{self.repetitions}: {exc}"
                self.progress(f"stopping the soak early: {self.report.stopped_early}")
                return

    def run_repetition(self, repetition: int) -> None:
        """Trigger every workload DAG, kill once (if the report's ``kill``), wait for the dag runs, tally them.

        Raises:
            TimeoutError: If no job appears, or the dag runs do not end, within the slowest provider's
                timeout (times ``REPETITION_WAIT_FACTOR`` for the end).
        """
        airflow, providers, started_systems, tallies = self.airflow, self.providers, self.started_systems, self.tallies
        report, workload, repetitions = self.report, self.report.workload, self.repetitions
        timeout = max(provider.timeout_seconds for provider in providers)
        _wait_workers_ready(airflow, timeout)
        before = {p.name: p.workload_jobs(started_systems[p.name].control) for p in providers}
        triggered = time.monotonic()
        runs = {str(p.workload_dag_id): (p, airflow.trigger(str(p.workload_dag_id))) for p in providers}
        line = f"repetition {repetition}/{repetitions}"
        if report.kill:
            delay = self.rng.uniform(*self.kill_window_seconds)
            first_job = _wait_first_job(airflow, providers, started_systems, before, timeout)
            time.sleep(max(0.0, first_job + delay - time.monotonic()))
            target, caught = _kill_randomly(airflow, _running_task_instances(airflow, runs), self.rng)
            after_trigger = time.monotonic() - triggered
            report.kills.append(Kill(repetition, round(delay, 2), round(after_trigger, 2), target, caught))
            for name in {ti.provider for ti in caught}:
                tallies[name].kills_caught += 1
            for ti in caught:
                tallies[ti.provider].durable_caught += ti.task_id == "durable"
            line += f": killed {target} {delay:.1f} s after the first job ({after_trigger:.1f} s after the trigger)"
            line += f", caught {', '.join(map(str, caught)) or 'nothing'}"
        ended = _wait_until_done(airflow, runs, triggered, REPETITION_WAIT_FACTOR * timeout)
        for dag_id, (provider, run_id) in runs.items():
            after = provider.workload_jobs(started_systems[provider.name].control)
            new = _new_jobs(before[provider.name], after)
            tally = tallies[provider.name]
            _tally_repetition(airflow, provider, run_id, workload, new, tally, repetition)
            tally.wall_seconds += ended[dag_id]
        self.progress(f"{line}; every dag run ended in {max(ended.values()):.1f} s")


def _wait_first_job(
    stack: AirflowStack,
    providers: Sequence[DemoProvider[Any]],
    systems: dict[str, DemoSystem[Any]],
    before: dict[str, dict[tuple[str, int], list[str]]],
    timeout_seconds: float,
) -> float:
    """Wait until some provider's external system has a workload job it did not have before; return when."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        for provider in providers:
            now = provider.workload_jobs(systems[provider.name].control)
            if any(_new_jobs(before[provider.name], now).values()):
                return time.monotonic()
        stack.check_services()
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no workload job was created within {timeout_seconds:.0f} s of the trigger")
        time.sleep(_POLL_SECONDS)


def _wait_workers_ready(stack: AirflowStack, timeout_seconds: float) -> None:
    from airflow_durable.demo.celery_stack import CeleryStack

    if isinstance(stack, CeleryStack):
        for worker in stack.worker_processes:
            stack.wait_worker_ready(worker, timeout_seconds)


#: The report table's columns, in order.
REPORT_COLUMNS = (
    "provider",
    "reps",
    "durable TIs",
    "kills caught",
    "durable duplicates",
    "lost results",
    "non-durable duplicates",
    "task failures",
    "vendor calls",
    "wall s",
)


def report_lines(report: SoakReport) -> list[str]:
    """Format the report: a heading with the seed, one table row per provider, the findings, a verdict.

    The verdict is ``OK``, ``FAILED`` (a durable duplicate or a lost result) or ``INCOMPLETE`` (the soak
    stopped early, see :attr:`SoakReport.stopped_early`, with no duplicate or lost result before).

    Args:
        report: What :func:`run_soak` returned.

    Returns:
        Lines to print.
    """
    mode = "random-kill soak" if report.kill else "no kills"
    storm = f", fault storm {report.fault_rate:.0%} of vendor calls" if report.fault_rate else ""
    lines = [f"Soak ({mode}{storm}) on the {report.stack} stack, seed {report.seed}, {report.workload}"]
    rows: list[tuple[str, ...]] = [REPORT_COLUMNS]
    for t in report.tallies:
        caught = f"{t.kills_caught} ({t.durable_caught} durable)"
        cells = (t.durable_duplicates, t.lost_results, t.non_durable_duplicates, t.task_failures, t.vendor_calls)
        rows.append(
            (t.provider, str(t.repetitions), str(t.durable_tis), caught, *map(str, cells), f"{t.wall_seconds:.0f}")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(REPORT_COLUMNS))]
    for number, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.extend(finding for tally in report.tallies for finding in tally.findings)
    if report.stopped_early:
        lines.append(f"STOPPED EARLY at {report.stopped_early}; the table covers the repetitions that ended")
    if not all(tally.ok for tally in report.tallies):
        verdict = "FAILED: durable duplicates or lost results"
    elif report.stopped_early:
        verdict = "INCOMPLETE: 0 durable duplicates, 0 lost results in the repetitions that ended"
    else:
        verdict = "OK: 0 durable duplicates, 0 lost results"
    lines.append(f"{verdict}; {len(report.kills)} kills; wall time {report.wall_seconds:.0f} s; seed {report.seed}")
    return lines
