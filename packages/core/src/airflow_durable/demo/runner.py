"""Run declared provider demos on one real Airflow 3.3 stack: trigger, kill, wait, compare, tabulate.

:func:`run_demo` migrates the database and starts the api-server and the scheduler once
(:func:`start_shared_stack`), then runs each provider in turn (:func:`run_provider`):

1. start the provider's external system in its own process group and write its connections into
   the metadata database (LocalExecutor's task processes inherit the scheduler's environment, which
   is fixed before any external system runs);
2. trigger the example DAG and wait until the provider says its tasks are at their crash points;
3. crash every crashed task the way the stack's workers die (:meth:`AirflowStack.crash_tasks`): under
   LocalExecutor SIGKILL its supervisor and task process; on the production-shaped stack
   (:class:`~airflow_durable.demo.celery_stack.CeleryStack`) SIGKILL the whole Celery worker running it;
4. wait until each durable task's second try, scheduled by Airflow itself, logs its resume decision;
   then let the jobs finish and wait for the dag run to end;
5. count the jobs per task and compare XComs with the uninterrupted baseline
   (:func:`~airflow_durable.demo.outcome.crash_rows`);
6. stop the external system (by PID) before the next provider starts.
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import TYPE_CHECKING, Any

from airflow_durable.demo.airflow_stack import TERMINAL_DAG_RUN_STATES, AirflowStack, AirflowStackError
from airflow_durable.demo.outcome import Observation, crash_rows, error_row
from airflow_durable.demo.processes import ManagedProcesses

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from airflow_durable.demo.outcome import DemoResult
    from airflow_durable.demo.provider import DemoProvider

__all__ = ["STACKS", "build_stack", "run_demo", "run_provider", "shared_stack_env", "start_shared_stack"]

#: The stack modes :func:`start_shared_stack` can start: ``local`` (SQLite, LocalExecutor, the
#: default) and ``celery`` (Postgres, CeleryExecutor, Redis, two Celery workers).
STACKS = ("local", "celery")

_POLL_SECONDS = 0.5


def shared_stack_env(providers: Sequence[DemoProvider[Any]], workdir: Path) -> dict[str, str]:
    """Merge every provider's :meth:`~airflow_durable.demo.provider.DemoProvider.task_env`.

    Args:
        providers: The providers that will run on the stack.
        workdir: The demo's directory; each provider gets ``workdir / provider.name``.

    Returns:
        The extra environment of every Airflow process.

    Raises:
        ValueError: If two providers set one variable to different values.
    """
    merged: dict[str, str] = {}
    owner: dict[str, str] = {}
    for provider in providers:
        for key, value in provider.task_env(workdir / provider.name).items():
            if key in merged and merged[key] != value:
                raise ValueError(f"demo providers {owner[key]!r} and {provider.name!r} both set {key} differently")
            merged[key], owner[key] = value, provider.name
    return merged


def start_shared_stack(
    providers: Sequence[DemoProvider[Any]],
    workdir: Path,
    processes: ManagedProcesses,
    progress: Callable[[str], None],
    *,
    heartbeat_timeout_seconds: int = 6,
    stack: str = "local",
) -> AirflowStack:
    """Install every provider's example DAG and start one Airflow stack for all of them.

    Args:
        providers: The providers that will run on the stack.
        workdir: The demo's directory: ``dags/``, ``airflow/`` (``AIRFLOW_HOME``) and one directory
            per provider go here.
        processes: Starts the stack's services; stopping it stops the stack.
        progress: Receives short progress messages.
        heartbeat_timeout_seconds: How soon the scheduler notices a killed worker.
        stack: One of :data:`STACKS`. ``celery`` pins every provider's baseline task to a worker of
            its own, so that killing a crashed task's worker never interrupts the baseline.

    Returns:
        The started stack.

    Raises:
        ValueError: If the providers' environments conflict, or ``stack`` is unknown.
        FileNotFoundError: If an example DAG is missing.
        TimeoutError: If the stack does not start in time.
    """
    dags = workdir / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    for provider in providers:
        source = provider.example_dag_path()
        (dags / source.name).write_bytes(source.read_bytes())
    started = build_stack(
        stack,
        workdir,
        processes,
        extra_env=shared_stack_env(providers, workdir),
        heartbeat_timeout_seconds=heartbeat_timeout_seconds,
        # Every watched task of a provider runs at once (LocalExecutor: one worker process each), and
        # the killed tries' retries start while the baseline still runs.
        parallelism=max([8, *(len(provider.task_ids) for provider in providers)]),
        # Worker 1 runs every crashed task of one provider at once; worker 2 only the pinned baselines.
        concurrency=max([2, *(len(provider.task_ids) - 1 for provider in providers)]),
        pinned_tasks=[(provider.dag_id, provider.baseline_task) for provider in providers],
    )
    started.start(progress)
    return started


def build_stack(
    stack: str,
    workdir: Path,
    processes: ManagedProcesses,
    *,
    extra_env: dict[str, str],
    heartbeat_timeout_seconds: int,
    parallelism: int,
    concurrency: int,
    pinned_tasks: Sequence[tuple[str, str]] = (),
) -> AirflowStack:
    """Construct (not start) a stack of one of the :data:`STACKS` over ``workdir / "dags"``.

    Args:
        stack: ``local`` or ``celery``.
        workdir: ``dags/`` (the dags folder, filled by the caller) and ``airflow/`` (``AIRFLOW_HOME``) go here.
        processes: Starts the stack's services.
        extra_env: The extra environment of every Airflow process.
        heartbeat_timeout_seconds: How soon the scheduler notices a killed worker.
        parallelism: ``[core] parallelism``.
        concurrency: Task slots of each of the two Celery workers (``celery`` only).
        pinned_tasks: ``(dag_id, task_id)`` pairs only the last Celery worker runs (``celery`` only).

    Returns:
        The stack, ready for :meth:`~airflow_durable.demo.airflow_stack.AirflowStack.start`.

    Raises:
        ValueError: If ``stack`` is unknown.
    """
    if stack not in STACKS:
        raise ValueError(f"unknown stack {stack!r}; choose one of {', '.join(STACKS)}")
    common: dict[str, Any] = {
        "extra_env": extra_env,
        "heartbeat_timeout_seconds": heartbeat_timeout_seconds,
        "parallelism": parallelism,
    }
    if stack == "celery":
        from airflow_durable.demo.celery_stack import CeleryStack  # only this mode needs Postgres and Celery

        return CeleryStack(
            workdir / "airflow",
            workdir / "dags",
            processes,
            workers=2,
            concurrency=concurrency,
            pinned_tasks=pinned_tasks,
            **common,
        )
    return AirflowStack(workdir / "airflow", workdir / "dags", processes, **common)


def _wait_until(predicate: Callable[[], bool], timeout_seconds: float, what: str) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not predicate():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} within {timeout_seconds:.0f} s")
        time.sleep(_POLL_SECONDS)


def run_provider(
    stack: AirflowStack, provider: DemoProvider[Any], workdir: Path, progress: Callable[[str], None]
) -> list[DemoResult]:
    """Run one provider's crash scenario on a started stack (see the module docstring).

    Args:
        stack: A stack started by :func:`start_shared_stack` with this provider among its providers.
        provider: The provider's declaration.
        workdir: The demo's directory given to :func:`start_shared_stack`. The provider works in
            ``workdir / provider.name``, as its ``task_env`` was told; its service logs go to ``logs/`` there.
        progress: Receives short progress messages.

    Returns:
        One row per crash case.

    Raises:
        ValueError: If the provider declares no crash case.
        TimeoutError: If a wait does not finish in ``provider.timeout_seconds``.
        AirflowStackError: If Airflow fails, or the dag run ends before the kill.
    """
    if not provider.crash_cases:
        raise ValueError(f"demo provider {provider.name!r} declares no crash case")
    started = time.monotonic()
    dag_id, timeout = provider.dag_id, provider.timeout_seconds
    own = workdir / provider.name
    with ManagedProcesses(own / "logs") as processes, provider.start(own, processes, progress) as system:
        for conn_id, spec in system.connections.items():
            stack.set_connection(conn_id, spec)
        progress(f"Triggering {dag_id}")
        run_id = stack.trigger(dag_id)

        def record(task_id: str) -> Any:
            return stack.state_store(dag_id, run_id, task_id).get(provider.state_key)

        def in_position() -> bool:
            if stack.dag_run(dag_id, run_id).get("state") in TERMINAL_DAG_RUN_STATES:
                raise AirflowStackError(f"dag run {dag_id}/{run_id} ended before the tasks reached their crash points")
            return provider.ready_to_kill(system.control, record)

        _wait_until(in_position, timeout, f"{dag_id}: the tasks did not reach their crash points")
        progress(f"Every crashed task is at its crash point ({', '.join(c.label for c in provider.crash_cases)})")
        time.sleep(provider.settle_seconds)
        crashed = [task for task in provider.task_ids if task != provider.baseline_task]
        progress(f"Crashing {', '.join(crashed)}: {stack.crash_description}")
        stack.crash_tasks(dag_id, run_id, crashed)
        killed_at = time.monotonic()
        decision_seconds: dict[str, float] = {}
        for case in provider.crash_cases:
            pattern = rf"decision.{{0,4}}{re.escape(case.retry_decision)}"
            decided_at = stack.wait_for_log(dag_id, run_id, case.durable_task, 2, pattern, timeout)
            decision_seconds[case.durable_task] = round(decided_at - killed_at, 1)
            progress(
                f"Try 2 of {case.durable_task!r}: {case.retry_decision}, {decided_at - killed_at:.1f} s after the kill"
            )
        provider.release(system.control)
        final_state = stack.wait_for_dag_run(dag_id, run_id, timeout)
        jobs = provider.jobs_by_task(system.control)
    xcoms: dict[str, Any] = {}
    for task_id in [case.durable_task for case in provider.crash_cases] + [provider.baseline_task]:
        try:
            xcoms[task_id] = stack.xcom(dag_id, run_id, task_id)
        except KeyError:
            xcoms[task_id] = None
    tries = {task: stack.task_instance(dag_id, run_id, task).get("try_number") for task in provider.task_ids}
    seen = Observation(final_state, jobs, xcoms, tries, decision_seconds)
    rows = crash_rows(provider, seen, time.monotonic() - started)
    if stack.crash_label:
        for row in rows:
            row.crash_point = f"{row.crash_point}; {stack.crash_label}"
    return rows


def run_demo(
    providers: Sequence[DemoProvider[Any]],
    workdir: Path,
    status: Callable[[str], contextlib.AbstractContextManager[Callable[[str], None]]],
    *,
    stack: str = "local",
) -> list[DemoResult]:
    """Start one Airflow stack, run every provider on it in turn, and stop everything.

    One provider's failure becomes its error row (:func:`~airflow_durable.demo.outcome.error_row`)
    and does not stop the next provider.

    Args:
        providers: The providers, in run order.
        workdir: The demo's directory (service logs in ``workdir / "logs"``).
        status: Given a heading, a context manager yielding a progress callback.
        stack: One of :data:`STACKS` (see :func:`start_shared_stack`).

    Returns:
        Every provider's rows, in order.
    """
    rows: list[DemoResult] = []
    started = time.monotonic()
    with ManagedProcesses(workdir / "logs") as processes:
        try:
            names = ", ".join(provider.name for provider in providers)
            with status(f"Airflow 3.3 ({stack} stack) for {names}") as progress:
                airflow = start_shared_stack(providers, workdir, processes, progress, stack=stack)
        except Exception as exc:  # noqa: BLE001 - reported as every provider's row
            return [error_row(provider.name, exc, time.monotonic() - started) for provider in providers]
        with airflow:
            for provider in providers:
                provider_started = time.monotonic()
                try:
                    with status(f"demo {provider.name}") as progress:
                        rows.extend(run_provider(airflow, provider, workdir, progress))
                except Exception as exc:  # noqa: BLE001 - one provider's failure must not hide the others
                    rows.append(error_row(provider.name, exc, time.monotonic() - provider_started))
    return rows
