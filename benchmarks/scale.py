"""Scale (P4): 1,000 mapped durable task instances on the production-shaped stack, against the emulators.

One :class:`~airflow_durable.demo.celery_stack.CeleryStack` (Postgres metadata database, CeleryExecutor,
Redis broker, Celery workers) runs the workload DAG of every chosen provider
(:mod:`airflow_durable.demo.workload`): one mapped task ``durable`` per provider, ``durable=True``, no
``durable=False`` twin, every job succeeding by itself after a few status calls. The task instances are
split evenly over the providers (each DAG gets the same number of map indexes, so the total is rounded up
to a multiple of the provider count). Every provider's external system runs as its own process. Nothing is
killed. All DAGs are triggered at once and the benchmark waits until every dag run has ended.

**Parallelism** is sized for the machine's cores (:func:`size_for`) and printed: Celery workers times
``worker_concurrency`` task slots, ``[core] parallelism`` equal to the slots, ``max_active_tasks_per_dag``
equal to the slots too (one DAG may use every slot once the others are done), one active run per DAG.
Each slot holds a supervisor and a task process that mostly wait (status calls, the api-server). The heavy
imports a task process would otherwise make (the vendor SDK, the operators, Airflow's task runner) are
preloaded into each Celery worker before it forks (``CeleryStack(worker_preload=...)``, printed;
``--no-preload`` turns it off): without it, importing ``databricks.sdk`` alone costs a task about three
CPU-seconds, which bounds the rate on two cores.

It prints:

- **duplicates**: for every (task, map index), the vendor jobs it created across all tries minus one,
  summed, from the external system's own records (``DemoProvider.workload_jobs``); must be 0. Task
  instances with no job at all are printed as ``missing``.
- **task_state_store operations per task instance**: an *operation* is one SQL statement that names the
  ``task_state_store`` table, executed by the metadata database (Postgres) for Airflow: the execution API
  serving a task's state-store get (a ``SELECT``), set (an ``INSERT ... ON CONFLICT DO UPDATE``) or delete,
  and the scheduler's expiry clean-up. Counted with ``pg_stat_statements`` (preloaded into the stack's
  Postgres): the ``calls`` of every such statement, snapshot after minus snapshot right before the
  trigger. The benchmark's own statistics queries are excluded (they name ``pg_stat_statements``), and it
  reads no ``task_state_store`` row itself until the last snapshot is taken. Printed by statement kind,
  with the table's row counters from ``pg_stat_user_tables`` (rows inserted, updated, deleted; index and
  sequential scans) beside them. Goal: at most 3 per task instance.
- **vendor calls per task instance**: vendor API requests the emulators answered during the run
  (``DemoProvider.vendor_calls``, fault-injected answers included), after minus before.
- **peak memory**: of the scheduler's process tree, of each Celery worker's tree (its pool processes,
  supervisors and task processes), of the api-server's and of Postgres's, sampled every
  ``--sample-seconds`` in a thread (:mod:`psutil`, ``/proc/<pid>/smaps_rollup``); the peak of each tree's
  sum of proportional set sizes (PSS: a page shared by forked processes split between them, the tree's
  fair share of physical memory) and of resident set sizes (RSS: a shared page counted in each process).
- **wall time**: from the first trigger to the last dag run's ``end_date``, and task instances per minute.

Run: ``make bench-scale`` (``BENCH_ARGS="--tis 40 --providers databricks"`` for a short run).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped,unused-ignore]

#: Providers whose external system is an HTTP emulator of the kit (cheap to run beside 1,000 tasks).
DEFAULT_PROVIDERS = ("databricks", "emr-serverless", "dataproc-batches")
#: Vendor SDKs a provider's tasks import (by demo provider name).
VENDOR_SDKS = {
    "databricks": ("databricks.sdk",),
    "emr": ("boto3",),
    "emr-serverless": ("boto3",),
    "emr-containers": ("boto3",),
    "dataproc": ("google.cloud.dataproc_v1",),
    "dataproc-batches": ("google.cloud.dataproc_v1",),
}
#: What every task process imports after the fork, whatever the provider: Airflow's task runner and the
#: workload DAG file's imports.
COMMON_PRELOAD = ("airflow.sdk.execution_time.task_runner", "airflow_durable.demo.workload", "airflow_durable.mixin")
#: The mapped durable task of every workload DAG.
DURABLE_TASK = "durable"
#: The statement kinds the operations are broken down by (first SQL keyword).
STATEMENT_KINDS = ("select", "insert", "update", "delete")
#: Counters of ``pg_stat_user_tables`` printed beside the statements.
TABLE_COUNTERS = ("n_tup_ins", "n_tup_upd", "n_tup_del", "idx_scan", "seq_scan")

_STATEMENTS_SQL = """
SELECT queryid, query, calls, rows FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query ILIKE '%task_state_store%' AND query NOT ILIKE '%pg_stat_statements%'
"""
_TABLE_SQL = f"SELECT {', '.join(TABLE_COUNTERS)} FROM pg_stat_user_tables WHERE relname = 'task_state_store'"


# --------------------------------------------------------------------------- sizing


@dataclass(frozen=True)
class Sizing:
    """The parallelism the stack runs with.

    Attributes:
        cores: The CPU cores it was sized for.
        workers: Celery workers (``airflow celery worker`` processes).
        concurrency: ``[celery] worker_concurrency``: task slots per worker.
        max_active_runs_per_dag: ``[core] max_active_runs_per_dag``.
    """

    cores: int
    workers: int
    concurrency: int
    max_active_runs_per_dag: int = 1

    @property
    def slots(self) -> int:
        """Task instances running at once: workers times concurrency."""
        return self.workers * self.concurrency

    def airflow_settings(self, max_map_length: int) -> dict[str, str]:
        """Return the ``AIRFLOW__*`` variables beyond what :class:`CeleryStack` sets itself.

        Args:
            max_map_length: The largest number of map indexes of one task.

        Returns:
            ``max_active_tasks_per_dag`` (the slots), ``max_active_runs_per_dag`` and
            ``max_map_length`` (at least Airflow's default 1024).
        """
        return {
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(self.slots),
            "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": str(self.max_active_runs_per_dag),
            "AIRFLOW__CORE__MAX_MAP_LENGTH": str(max(1024, max_map_length)),
        }

    def describe(self) -> str:
        """One line naming every setting."""
        return (
            f"{self.cores} cores: {self.workers} Celery workers x worker_concurrency {self.concurrency} = "
            f"{self.slots} slots; [core] parallelism {self.slots}, max_active_tasks_per_dag {self.slots}, "
            f"max_active_runs_per_dag {self.max_active_runs_per_dag}"
        )


def size_for(cores: int, *, workers: int | None = None, concurrency: int | None = None) -> Sizing:
    """Size the parallelism for a machine: two workers, six task slots per core in all.

    A slot's supervisor and task process mostly wait (status calls between sleeps, the api-server), so a
    core keeps several busy; on two cores with the imports preloaded, 12 slots ran a 40-instance workload
    in 46 s where 8 took 74 s (both under other load). Two workers, so that the Celery side is distributed
    as in production.

    Args:
        cores: CPU cores (at least 1).
        workers: Override the number of workers.
        concurrency: Override the slots per worker.

    Returns:
        The sizing.

    Raises:
        ValueError: If a number is below 1.
    """
    if cores < 1:
        raise ValueError(f"cores must be at least 1, got {cores}")
    workers = workers if workers is not None else min(2, cores) if cores > 1 else 1
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    concurrency = concurrency if concurrency is not None else max(1, math.ceil(6 * cores / workers))
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    return Sizing(cores=cores, workers=workers, concurrency=concurrency)


def maps_per_provider(tis: int, providers: int) -> int:
    """Return the map indexes each provider's DAG gets so that all of them hold at least ``tis``.

    Args:
        tis: The task instances wanted in all.
        providers: How many providers share them.

    Returns:
        ``ceil(tis / providers)``.

    Raises:
        ValueError: If either is below 1.
    """
    if tis < 1 or providers < 1:
        raise ValueError(f"need at least one task instance and one provider, got {tis} and {providers}")
    return math.ceil(tis / providers)


def preload_modules(providers: Sequence[Any]) -> list[str]:
    """Return the modules to import in each Celery worker before it forks (``CeleryStack(worker_preload=...)``).

    Args:
        providers: The demo providers (``DemoProvider``) whose tasks will run.

    Returns:
        :data:`COMMON_PRELOAD`, then per provider its vendor SDKs (:data:`VENDOR_SDKS`), its package's
        ``operators`` module and its demo module; no name twice.
    """
    modules = list(COMMON_PRELOAD)
    for provider in providers:
        demo_module = type(provider).__module__
        modules += [*VENDOR_SDKS.get(provider.name, ()), f"{demo_module.partition('.')[0]}.operators", demo_module]
    return list(dict.fromkeys(modules))


# --------------------------------------------------------------------------- duplicates


@dataclass(frozen=True)
class JobCount:
    """Jobs per task instance, from the external systems' own records.

    Attributes:
        task_instances: Task instances expected.
        jobs: Jobs found for them.
        duplicates: Jobs beyond the first, summed over task instances.
        missing: Expected task instances with no job.
    """

    task_instances: int
    jobs: int
    duplicates: int
    missing: int


def count_jobs(jobs: Mapping[tuple[str, int], Sequence[str]], expected: Iterable[tuple[str, int]]) -> JobCount:
    """Count duplicates and missing jobs.

    Args:
        jobs: Job IDs per ``(task_id, map_index)`` across all tries (``DemoProvider.workload_jobs``).
        expected: Every ``(task_id, map_index)`` that should have exactly one job.

    Returns:
        The counts; jobs of an unexpected task instance count as duplicates of it.
    """
    wanted = set(expected)
    keys = wanted | set(jobs)
    per_ti = {key: len(set(jobs.get(key, ()))) for key in keys}
    return JobCount(
        task_instances=len(wanted),
        jobs=sum(per_ti.values()),
        duplicates=sum(max(0, count - 1) if key in wanted else count for key, count in per_ti.items()),
        missing=sum(1 for key in wanted if per_ti[key] == 0),
    )


# --------------------------------------------------------------------------- task_state_store operations


def statement_kind(query: str) -> str:
    """Classify a statement by its first SQL keyword (comments and a ``WITH`` prefix skipped).

    Args:
        query: Normalized statement text, as ``pg_stat_statements`` shows it.

    Returns:
        One of :data:`STATEMENT_KINDS`, or ``"other"``.
    """
    text = query.strip()
    while text.startswith("/*") and "*/" in text:
        text = text[text.index("*/") + 2 :].strip()
    words = text.replace("(", " ").split()
    if not words:
        return "other"
    first = words[0].lower()
    if first == "with":
        found = [word.lower() for word in words if word.lower() in STATEMENT_KINDS]
        return found[-1] if found else "other"
    return first if first in STATEMENT_KINDS else "other"


@dataclass(frozen=True)
class StatementSnapshot:
    """``pg_stat_statements`` rows for the statements that name ``task_state_store``.

    Attributes:
        statements: ``queryid`` to ``(query, calls, rows)``.
        table: The table's ``pg_stat_user_tables`` counters (:data:`TABLE_COUNTERS`).
    """

    statements: Mapping[int, tuple[str, int, int]]
    table: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StateStoreOps:
    """``task_state_store`` operations between two snapshots.

    Attributes:
        by_kind: Statement executions per kind (:func:`statement_kind`).
        rows_by_kind: Rows those statements returned or affected, per kind.
        table: Difference of the table's ``pg_stat_user_tables`` counters.
        statements: Each statement's text to its executions (for the full printout).
    """

    by_kind: Mapping[str, int]
    rows_by_kind: Mapping[str, int]
    table: Mapping[str, int]
    statements: Mapping[str, int]

    @property
    def total(self) -> int:
        """Every statement execution."""
        return sum(self.by_kind.values())

    @classmethod
    def between(cls, before: StatementSnapshot, after: StatementSnapshot) -> StateStoreOps:
        """Subtract two snapshots (a statement absent before counts from 0).

        Args:
            before: Taken right before the trigger.
            after: Taken once every dag run has ended.

        Returns:
            The operations in between.
        """
        by_kind: Counter[str] = Counter()
        rows_by_kind: Counter[str] = Counter()
        statements: Counter[str] = Counter()
        for queryid, (query, calls, rows) in after.statements.items():
            _query, calls_before, rows_before = before.statements.get(queryid, (query, 0, 0))
            if calls - calls_before <= 0:
                continue
            kind = statement_kind(query)
            by_kind[kind] += calls - calls_before
            rows_by_kind[kind] += rows - rows_before
            statements[" ".join(query.split())] += calls - calls_before
        table = {name: after.table.get(name, 0) - before.table.get(name, 0) for name in TABLE_COUNTERS}
        return cls(dict(by_kind), dict(rows_by_kind), table, dict(statements))


def snapshot_state_store(connection: Any) -> StatementSnapshot:
    """Read ``pg_stat_statements`` and ``pg_stat_user_tables`` for ``task_state_store``.

    Args:
        connection: A ``psycopg2`` connection to the metadata database (``pg_stat_statements`` created).

    Returns:
        The snapshot.
    """
    with connection.cursor() as cursor:
        cursor.execute(_STATEMENTS_SQL)
        statements = {int(qid): (str(query), int(calls), int(rows)) for qid, query, calls, rows in cursor.fetchall()}
        cursor.execute(_TABLE_SQL)
        row = cursor.fetchone()
    table = dict(zip(TABLE_COUNTERS, (int(value or 0) for value in row), strict=True)) if row else {}
    return StatementSnapshot(statements, table)


# --------------------------------------------------------------------------- memory


@dataclass(frozen=True)
class TreeMemory:
    """One sample of a process tree's memory.

    Attributes:
        rss: Sum of the processes' resident set sizes, in bytes (pages shared between forked
            processes counted once per process).
        pss: Sum of their proportional set sizes, in bytes (each shared page split between its
            sharers): the tree's fair share of physical memory.
        processes: How many processes the tree had.
    """

    rss: int = 0
    pss: int = 0
    processes: int = 0


def tree_memory(pid: int) -> TreeMemory:
    """Sample a process and all its descendants (``/proc/<pid>/smaps_rollup`` through :mod:`psutil`).

    Args:
        pid: The tree's root.

    Returns:
        The sums; all 0 when the root is gone.
    """
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return TreeMemory()
    rss = pss = count = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            info = proc.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
            count += 1
    return TreeMemory(rss, pss, count)


@dataclass
class PeakMemory:
    """The peaks of named process trees' memory, from samples.

    Attributes:
        peaks: Tree name to the largest sampled value of each field of :class:`TreeMemory` (each
            field's peak on its own).
        samples: How many sampling rounds ran.
    """

    peaks: dict[str, TreeMemory] = field(default_factory=dict)
    samples: int = 0

    def add(self, readings: Mapping[str, TreeMemory]) -> None:
        """Fold in one sampling round.

        Args:
            readings: Tree name to its sample (:func:`tree_memory`).
        """
        for name, sample in readings.items():
            peak = self.peaks.get(name, TreeMemory())
            self.peaks[name] = TreeMemory(
                max(peak.rss, sample.rss), max(peak.pss, sample.pss), max(peak.processes, sample.processes)
            )
        self.samples += 1


class MemorySampler:
    """Sample process trees' RSS in a thread until stopped; a context manager.

    Args:
        roots: Returns tree name to root PID at each round (a restarted process gets a new PID).
        interval_seconds: Time between rounds.
    """

    def __init__(self, roots: Callable[[], Mapping[str, int]], interval_seconds: float = 1.0) -> None:
        self.roots = roots
        self.interval_seconds = interval_seconds
        self.peak = PeakMemory()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak.add({name: tree_memory(pid) for name, pid in self.roots().items()})
            self._stop.wait(self.interval_seconds)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


# --------------------------------------------------------------------------- wall time


def parse_time(value: str) -> datetime:
    """Parse an ISO 8601 timestamp of the REST API (``Z`` or an offset).

    Args:
        value: E.g. ``"2026-12-06T13:00:01.5Z"``.

    Returns:
        An aware datetime.
    """
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def wall_seconds(triggered_at: datetime, end_dates: Iterable[str]) -> float:
    """Seconds from the first trigger to the last dag run's end.

    Args:
        triggered_at: Aware time just before the first trigger.
        end_dates: Every dag run's ``end_date``.

    Returns:
        The wall time in seconds.

    Raises:
        ValueError: If there is no end date.
    """
    ends = [parse_time(value) for value in end_dates]
    if not ends:
        raise ValueError("no dag run ended")
    return (max(ends) - triggered_at).total_seconds()


# --------------------------------------------------------------------------- the run


@dataclass
class Result:
    """Everything the benchmark prints."""

    sizing: Sizing
    providers: list[str]
    maps: int
    polls_to_finish: int
    jobs: JobCount
    ops: StateStoreOps
    vendor_calls: dict[str, int]
    memory: PeakMemory
    wall_seconds: float
    dag_run_states: dict[str, str]
    ti_states: dict[str, int]
    retried: int
    start_seconds: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    preloaded: list[str] = field(default_factory=list)

    @property
    def tis(self) -> int:
        """Task instances in all."""
        return self.jobs.task_instances

    def report(self) -> str:
        """The printout."""
        mib = 1024 * 1024
        tis = self.tis
        vendor = sum(self.vendor_calls.values())
        lines = [
            f"Scale benchmark (P4): {tis} mapped durable task instances, CeleryExecutor + Postgres + Redis",
            f"  providers: {', '.join(self.providers)} ({self.maps} map indexes each); "
            f"jobs succeed after {self.polls_to_finish} status calls; no kills",
            f"  parallelism: {self.sizing.describe()}",
            f"  preloaded into each Celery worker before it forks: {', '.join(self.preloaded) or 'nothing'}",
            f"  machine: {os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.1f} GiB; load average "
            f"{' '.join(f'{x:.2f}' for x in self.load_before)} before, "
            f"{' '.join(f'{x:.2f}' for x in self.load_after)} after (other work shares the machine)",
            f"  stack started in {self.start_seconds:.1f} s",
            "",
            f"  dag runs: {', '.join(f'{d}={s}' for d, s in sorted(self.dag_run_states.items()))}",
            f"  task instances: {', '.join(f'{s}={n}' for s, n in sorted(self.ti_states.items()))}; "
            f"with more than one try: {self.retried}",
            f"  duplicates: {self.jobs.duplicates} (must be 0); jobs {self.jobs.jobs}, missing {self.jobs.missing}",
            f"  task_state_store operations: {self.ops.total} = {self.ops.total / tis:.2f} per task instance "
            f"(goal <= 3)",
            "    by kind: "
            + ", ".join(f"{kind} {n} ({n / tis:.2f}/TI)" for kind, n in sorted(self.ops.by_kind.items())),
            "    rows returned or written: "
            + ", ".join(f"{kind} {n}" for kind, n in sorted(self.ops.rows_by_kind.items())),
            "    pg_stat_user_tables: " + ", ".join(f"{name} {n}" for name, n in self.ops.table.items()),
            "    (operation = one SQL statement naming task_state_store, executed by Postgres for Airflow, "
            "from pg_stat_statements)",
            f"  vendor calls: {vendor} = {vendor / tis:.2f} per task instance ("
            + ", ".join(f"{name} {n} = {n / self.maps:.2f}/TI" for name, n in self.vendor_calls.items())
            + ")",
            f"  peak memory of each process tree ({self.memory.samples} samples; PSS splits shared pages "
            "between their processes, RSS counts them in each):",
        ]
        for name, peak in self.memory.peaks.items():
            lines.append(
                f"    {name}: PSS {peak.pss / mib:.0f} MiB, RSS {peak.rss / mib:.0f} MiB "
                f"(up to {peak.processes} processes)"
            )
        minutes = self.wall_seconds / 60
        lines.append(
            f"  wall time: {self.wall_seconds:.1f} s from the trigger to the last dag run's end; "
            f"{tis / minutes:.1f} task instances per minute"
        )
        lines.append("  statements:")
        lines.extend(f"    {n:6d} x {query[:150]}" for query, n in sorted(self.ops.statements.items()))
        return "\n".join(lines)


def _workload_dag_source() -> Path:
    import airflow_durable.demo

    return Path(airflow_durable.demo.__file__).parent / "workload_dag.py"


def run(
    provider_names: Sequence[str],
    tis: int,
    sizing: Sizing,
    workdir: Path,
    *,
    polls_to_finish: int = 2,
    preload: bool = True,
    sample_seconds: float = 1.0,
    timeout_seconds: float = 3600.0,
    progress: Callable[[str], None] = print,
) -> Result:
    """Start the stack and the external systems, run the workload, measure (see the module docstring).

    Args:
        provider_names: Demo providers (entry-point names) that have a workload.
        tis: Task instances wanted in all (rounded up to a multiple of the provider count).
        sizing: The parallelism.
        workdir: Logs, ``AIRFLOW_HOME``, the DAGs and the providers' files go here.
        polls_to_finish: Status calls after which every job succeeds.
        preload: Preload the providers' vendor SDKs (:data:`WORKER_PRELOAD`) into the Celery workers.
        sample_seconds: Memory sampling interval.
        timeout_seconds: Upper bound of the wait for the dag runs.
        progress: Receives progress messages.

    Returns:
        The measurements.

    Raises:
        ValueError: If a provider has no workload.
        TimeoutError: If the dag runs do not end in time.
    """
    from airflow_durable.demo.celery_stack import CeleryStack
    from airflow_durable.demo.processes import ManagedProcesses
    from airflow_durable.demo.registry import load_providers
    from airflow_durable.demo.runner import shared_stack_env
    from airflow_durable.demo.workload import Workload, workload_env

    providers = load_providers(provider_names)
    lacking = [provider.name for provider in providers if provider.workload_dag_id is None]
    if lacking:
        raise ValueError(f"no workload for: {', '.join(lacking)}")
    maps = maps_per_provider(tis, len(providers))
    workload = Workload(maps=maps, twins=False, polls_to_finish=polls_to_finish)
    dags = workdir / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    shutil.copy(_workload_dag_source(), dags / "workload_dag.py")
    extra_env = {
        **shared_stack_env(providers, workdir),
        **workload_env([provider.name for provider in providers], workload),
        **sizing.airflow_settings(maps),
    }
    preloaded = preload_modules(providers) if preload else []
    load_before = os.getloadavg()
    with ManagedProcesses(workdir / "logs") as processes, contextlib.ExitStack() as systems:
        stack = CeleryStack(
            workdir / "airflow",
            dags,
            processes,
            workers=sizing.workers,
            concurrency=sizing.concurrency,
            parallelism=sizing.slots,
            # No kills here: a task starved of CPU for a while must not be declared dead.
            heartbeat_timeout_seconds=300,
            extra_env=extra_env,
            worker_preload=preloaded,
            postgres_settings={"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.max": "10000"},
        )
        with stack:
            stack.start(progress, timeout_seconds=300)
            started = {}
            for provider in providers:
                system = systems.enter_context(provider.start(workdir / provider.name, processes, progress))
                for conn_id, conn in system.connections.items():
                    stack.set_connection(conn_id, conn)
                provider.prepare_workload(system.control, workload)
                started[provider.name] = (provider, system)
            vendor_before = {
                name: provider.vendor_calls(system.control) for name, (provider, system) in started.items()
            }
            with contextlib.closing(stack.postgres.connect()) as connection:
                connection.autocommit = True
                with connection.cursor() as cursor:
                    cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                ops_before = snapshot_state_store(connection)

                def roots() -> dict[str, int]:
                    found = {"scheduler": processes.popen(stack.scheduler_process).pid}
                    found.update(
                        {w.removeprefix(f"{stack.name}-"): processes.popen(w).pid for w in stack.worker_processes}
                    )
                    found["api-server"] = processes.popen(stack.api_server_process).pid
                    found["postgres"] = processes.popen(stack.postgres.name).pid
                    return found

                with MemorySampler(roots, sample_seconds) as sampler:
                    triggered_at = datetime.now().astimezone()
                    runs = {str(p.workload_dag_id): stack.trigger(str(p.workload_dag_id)) for p, _s in started.values()}
                    progress(f"Triggered {len(runs)} dag runs, {maps * len(runs)} task instances")
                    states = _wait_for_runs(stack, connection, runs, timeout_seconds, progress)
                # An idle backend flushes its table statistics within 10 s (PGSTAT_IDLE_INTERVAL).
                time.sleep(11)
                ops_after = snapshot_state_store(connection)
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT state, count(*), count(*) FILTER (WHERE try_number > 1) FROM task_instance "
                        "WHERE dag_id = ANY(%s) GROUP BY state",
                        (list(runs),),
                    )
                    ti_rows = cursor.fetchall()
            vendor_after = {name: provider.vendor_calls(system.control) for name, (provider, system) in started.items()}
            jobs: dict[tuple[str, int], list[str]] = {}
            expected: list[tuple[str, int]] = []
            for name, (provider, system) in started.items():
                for (task_id, map_index), found in provider.workload_jobs(system.control).items():
                    jobs[(f"{name}.{task_id}", map_index)] = list(found)
                expected.extend((f"{name}.{DURABLE_TASK}", index) for index in range(maps))
            end_dates = [str(stack.dag_run(dag_id, run_id)["end_date"]) for dag_id, run_id in runs.items()]
            start_seconds = stack.start_seconds or 0.0
    return Result(
        sizing=sizing,
        providers=[provider.name for provider in providers],
        maps=maps,
        polls_to_finish=polls_to_finish,
        jobs=count_jobs(jobs, expected),
        ops=StateStoreOps.between(ops_before, ops_after),
        vendor_calls={name: vendor_after[name] - vendor_before[name] for name in vendor_after},
        memory=sampler.peak,
        wall_seconds=wall_seconds(triggered_at, end_dates),
        dag_run_states=states,
        ti_states={str(state): int(n) for state, n, _retried in ti_rows},
        retried=sum(int(retried) for _state, _n, retried in ti_rows),
        start_seconds=start_seconds,
        load_before=load_before,
        load_after=os.getloadavg(),
        preloaded=preloaded,
    )


def _wait_for_runs(
    stack: Any, connection: Any, runs: Mapping[str, str], timeout_seconds: float, progress: Callable[[str], None]
) -> dict[str, str]:
    """Poll the dag runs until all have ended, printing task-instance progress every 30 s."""
    from airflow_durable.demo.airflow_stack import TERMINAL_DAG_RUN_STATES

    deadline = time.monotonic() + timeout_seconds
    next_report = time.monotonic() + 30
    states: dict[str, str] = {}
    while True:
        stack._check_services()
        states = {dag_id: str(stack.dag_run(dag_id, run_id).get("state")) for dag_id, run_id in runs.items()}
        if all(state in TERMINAL_DAG_RUN_STATES for state in states.values()):
            return states
        if time.monotonic() >= next_report:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT coalesce(state, 'none'), count(*) FROM task_instance WHERE dag_id = ANY(%s) GROUP BY 1",
                    (list(runs),),
                )
                counts = dict(cursor.fetchall())
            progress(f"  task instances: {', '.join(f'{s}={n}' for s, n in sorted(counts.items()))}")
            next_report = time.monotonic() + 30
        if time.monotonic() >= deadline:
            raise TimeoutError(f"dag runs did not end within {timeout_seconds:.0f} s: {states}")
        time.sleep(2)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, run once, print the report.

    Returns:
        0 when there is no duplicate and every dag run succeeded, else 1.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--providers", nargs="+", default=list(DEFAULT_PROVIDERS), help="demo providers with a workload"
    )
    parser.add_argument("--tis", type=int, default=1000, help="task instances in all (default 1000)")
    parser.add_argument(
        "--cores", type=int, default=os.cpu_count() or 1, help="size the parallelism for this many cores"
    )
    parser.add_argument("--workers", type=int, default=None, help="override the Celery workers")
    parser.add_argument("--concurrency", type=int, default=None, help="override worker_concurrency")
    parser.add_argument("--polls-to-finish", type=int, default=2, help="status calls after which a job succeeds")
    parser.add_argument(
        "--no-preload", action="store_true", help="do not preload the vendor SDKs into the Celery workers"
    )
    parser.add_argument("--sample-seconds", type=float, default=1.0, help="memory sampling interval")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the dag runs")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the logs and report.txt here (default: a temporary directory)"
    )
    args = parser.parse_args(argv)
    sizing = size_for(args.cores, workers=args.workers, concurrency=args.concurrency)
    print(f"Parallelism: {sizing.describe()}", flush=True)
    with _workdir(args.workdir) as workdir:
        result = run(
            args.providers,
            args.tis,
            sizing,
            workdir,
            polls_to_finish=args.polls_to_finish,
            preload=not args.no_preload,
            sample_seconds=args.sample_seconds,
            timeout_seconds=args.timeout,
            progress=lambda message: print(message, flush=True),
        )
    report = result.report()
    print(report, flush=True)
    if args.workdir is not None:
        (args.workdir / "report.txt").write_text(report + "\n")
    ok = result.jobs.duplicates == 0 and all(state == "success" for state in result.dag_run_states.values())
    return 0 if ok else 1


@contextlib.contextmanager
def _workdir(path: Path | None) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="airflow-durable-scale-") as tmp:
        yield Path(tmp)


if __name__ == "__main__":
    sys.exit(main())
