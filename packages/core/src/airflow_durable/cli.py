"""The ``airflow-durable`` command line.

``airflow-durable demo [PROVIDER ...] [--workdir DIR] [--keep] [--stack local|celery]`` starts one real
Airflow 3.3 (a real scheduler, executor and ``task_state_store``; SQLite and the LocalExecutor, or with
``--stack celery`` Postgres, Redis and the CeleryExecutor) and runs each installed provider's declared crash
scenario on it (:mod:`airflow_durable.demo.runner`): tasks are SIGKILLed at their crash points and
Airflow schedules the retries. It then prints one table row per operator and crash point: how many
external jobs the durable operator submitted versus the non-durable one. The exit code is 0 only if
every row is the expected outcome.

``airflow-durable soak [PROVIDER ...] [--reps N] [--seed S] [--maps M] [--stack celery|local]
[--fault-rate R] [--no-kill]`` runs each provider's workload (mapped durable tasks and their
``durable=False`` twins) ``N`` times on one stack, SIGKILLs a worker at a random moment of each
repetition and counts the jobs per task instance (:mod:`airflow_durable.demo.soak`). Its exit code is 0
only if no durable task instance made a duplicate job or lost its result.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from airflow_durable.demo.registry import (
    ProviderLoadError,
    UnknownProviderError,
    available_providers,
    load_providers,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from types import FrameType

    from airflow_durable.demo.outcome import DemoResult

__all__ = ["TABLE_COLUMNS", "format_jobs", "main", "table_rows"]

#: The demo table's column headers, in order.
TABLE_COLUMNS = (
    "provider",
    "operator",
    "crash point",
    "jobs submitted (durable vs not)",
    "result",
    "seconds",
)


def format_jobs(result: DemoResult) -> str:
    """Format the jobs column: durable versus non-durable submissions, e.g. ``"1 vs 2"``.

    Args:
        result: One demo row.

    Returns:
        ``"<jobs_durable> vs <jobs_not_durable>"``.
    """
    return f"{result.jobs_durable} vs {result.jobs_not_durable}"


def table_rows(results: Sequence[DemoResult]) -> list[tuple[str, str, str, str, str, str]]:
    """Turn demo results into table cells, in :data:`TABLE_COLUMNS` order.

    Args:
        results: The rows, in display order.

    Returns:
        One tuple of strings per row. The result cell is prefixed with ``UNEXPECTED:`` when the row
        is not the expected outcome.
    """
    rows: list[tuple[str, str, str, str, str, str]] = []
    for result in results:
        outcome = result.result if result.ok else f"UNEXPECTED: {result.result}"
        rows.append(
            (
                result.provider,
                result.operator,
                result.crash_point,
                format_jobs(result),
                outcome,
                f"{result.seconds:.1f}",
            )
        )
    return rows


class _Reporter(Protocol):
    def line(self, message: str) -> None: ...

    def status(self, message: str) -> contextlib.AbstractContextManager[Callable[[str], None]]: ...

    def table(self, results: Sequence[DemoResult]) -> None: ...


class _PlainReporter:
    """Reporter for when ``rich`` is not importable: plain lines and a fixed-width table."""

    def __init__(self) -> None:
        self._started = time.monotonic()

    def line(self, message: str) -> None:
        print(message, flush=True)

    @contextlib.contextmanager
    def status(self, message: str) -> Iterator[Callable[[str], None]]:
        self.line(message)

        def progress(update: str) -> None:
            self.line(f"  [{time.monotonic() - self._started:6.1f} s] {update}")

        yield progress

    def table(self, results: Sequence[DemoResult]) -> None:
        rows = [TABLE_COLUMNS, *table_rows(results)]
        widths = [max(len(row[index]) for row in rows) for index in range(len(TABLE_COLUMNS))]
        for number, row in enumerate(rows):
            self.line("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
            if number == 0:
                self.line("  ".join("-" * width for width in widths))


class _RichReporter:
    """Reporter with a spinner while services start, and a rich table."""

    def __init__(self) -> None:
        from rich.console import Console

        console = Console()
        if not console.is_terminal:
            # Piped or captured: rich would assume 80 columns and wrap the table; it only takes what it needs.
            console = Console(width=250)
        self._console = console
        self._started = time.monotonic()

    def line(self, message: str) -> None:
        self._console.print(message, markup=False, highlight=False)

    @contextlib.contextmanager
    def status(self, message: str) -> Iterator[Callable[[str], None]]:
        with self._console.status(message) as status:

            def progress(update: str) -> None:
                elapsed = time.monotonic() - self._started
                self._console.print(f"  [{elapsed:6.1f} s] {update}", markup=False, highlight=False)
                status.update(f"{message}: {update}")

            yield progress

    def table(self, results: Sequence[DemoResult]) -> None:
        from rich.table import Table

        table = Table(title="airflow-durable demo: SIGKILL mid-poll on real Airflow 3.3")
        for column in TABLE_COLUMNS:
            table.add_column(column, justify="right" if column in {"seconds"} else "left")
        for result, row in zip(results, table_rows(results), strict=True):
            table.add_row(*row, style=None if result.ok else "bold red")
        self._console.print(table)


def _reporter() -> _Reporter:
    try:
        return _RichReporter()
    except ImportError:
        return _PlainReporter()


def _run_demo(args: argparse.Namespace, reporter: _Reporter) -> int:
    if args.list:
        names = available_providers()
        reporter.line("\n".join(names) if names else "no demo providers are installed")
        return 0
    try:
        providers = load_providers(args.providers)
    except (UnknownProviderError, ProviderLoadError) as exc:
        reporter.line(f"error: {exc}")
        return 2
    if not providers:
        reporter.line("error: no demo providers are installed (install e.g. airflow-durable-databricks)")
        return 2

    # Imported here so that `airflow-durable --help` works without the demo's dependencies (httpx, psutil).
    from airflow_durable.demo.runner import run_demo

    started = time.monotonic()
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="airflow-durable-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    keep = args.keep or args.workdir is not None
    try:
        results = run_demo(providers, workdir, reporter.status, stack=args.stack)
    finally:
        if keep:
            reporter.line(f"Work directory (AIRFLOW_HOME, service and task logs): {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    for result in results:
        if "traceback" in result.details:
            reporter.line(f"demo {result.provider} failed:\n{result.details['traceback']}")

    reporter.table(results)
    unexpected = [result for result in results if not result.ok]
    total_seconds = time.monotonic() - started
    if unexpected:
        reporter.line(f"{len(unexpected)} of {len(results)} rows are NOT the expected outcome.")
    else:
        reporter.line(f"All {len(results)} rows are the expected outcome.")
    reporter.line(f"Total wall time: {total_seconds:.1f} s")
    return 1 if unexpected else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="airflow-durable",
        description="Crash-safe submit-and-poll operators for Apache Airflow 3.3+.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="kill a task mid-poll on real Airflow 3.3 and count the external jobs",
        description=(
            "Start one real Airflow 3.3 (SQLite and LocalExecutor, or --stack celery), then each provider's "
            "external system in turn; SIGKILL its tasks mid-poll (and in the submit window where it has "
            "one), let Airflow retry them, and count the external jobs submitted by the durable operator versus a "
            "non-durable one."
        ),
    )
    demo.add_argument(
        "providers",
        nargs="*",
        metavar="PROVIDER",
        help="providers to run (default: every installed one)",
    )
    demo.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="directory for AIRFLOW_HOME, DAGs and logs (kept afterwards; default: a temporary directory)",
    )
    demo.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    demo.add_argument(
        "--stack",
        choices=("local", "celery"),
        default="local",
        help=(
            "local: SQLite and the LocalExecutor (default); celery: the production shape, Postgres and Redis "
            "from Debian packages (installed when missing, as root) with the CeleryExecutor and two Celery "
            "workers, where the crash is a SIGKILL of the whole worker"
        ),
    )
    demo.add_argument("--list", action="store_true", help="list the installed demo providers and exit")
    _add_soak_parser(commands)
    return parser


def _add_soak_parser(commands: Any) -> None:
    soak = commands.add_parser(
        "soak",
        help="repeat each provider's mapped workload, SIGKILL a worker at random, count duplicates",
        description=(
            "Start one real Airflow 3.3 (by default Postgres, Redis and the CeleryExecutor with two workers) and "
            "each provider's external system; per repetition trigger every provider's workload DAG (mapped durable "
            "tasks and their durable=False twins), SIGKILL a worker at a random moment drawn from a seeded generator, "
            "and count the jobs each task instance created from the external system's own records. Prints durable "
            "duplicates and lost results (both must be 0) and the non-durable duplicates for contrast."
        ),
    )
    soak.add_argument(
        "providers", nargs="*", metavar="PROVIDER", help="providers to soak (default: every one with a workload)"
    )
    soak.add_argument("--reps", type=int, default=20, help="repetitions (default 20)")
    soak.add_argument("--seed", type=int, default=None, help="seed of the kill delays and targets (default: the clock)")
    soak.add_argument("--maps", type=int, default=3, help="map indexes of each mapped task (default 3)")
    soak.add_argument(
        "--stack", choices=("celery", "local"), default="celery", help="the Airflow stack (default celery)"
    )
    soak.add_argument(
        "--fault-rate", type=float, default=0.0, help="share of vendor calls answering 429, 5xx or a timeout (R3)"
    )
    soak.add_argument("--no-kill", action="store_true", help="kill nothing (with --fault-rate: the fault storm)")
    soak.add_argument(
        "--kill-window",
        type=float,
        nargs=2,
        metavar=("EARLIEST", "LATEST"),
        default=None,
        help="seconds after the repetition's first job appears between which the kill happens (default 0 12)",
    )
    soak.add_argument("--workdir", type=Path, default=None, help="directory for AIRFLOW_HOME and logs (kept)")


def _run_soak(args: argparse.Namespace, reporter: _Reporter) -> int:
    from airflow_durable.demo.workload import Workload, WorkloadConfigError

    try:
        providers = load_providers(args.providers)
        workload = Workload(maps=args.maps)
    except (UnknownProviderError, ProviderLoadError, WorkloadConfigError) as exc:
        reporter.line(f"error: {exc}")
        return 2
    with_workload = [provider for provider in providers if provider.workload_dag_id is not None]
    if args.providers and len(with_workload) < len(providers):
        missing = [provider.name for provider in providers if provider.workload_dag_id is None]
        reporter.line(f"error: no workload for {', '.join(missing)}")
        return 2
    if not with_workload:
        reporter.line("error: no installed demo provider has a workload")
        return 2

    from airflow_durable.demo.soak import DEFAULT_KILL_WINDOW_SECONDS, report_lines, run_soak

    seed = args.seed if args.seed is not None else time.time_ns() % 2**32
    reporter.line(f"Soak seed: {seed} (rerun with --seed {seed})")
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="airflow-durable-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        with reporter.status(f"soak {', '.join(provider.name for provider in with_workload)}") as progress:
            report = run_soak(
                with_workload,
                workdir,
                repetitions=args.reps,
                seed=seed,
                workload=workload,
                stack=args.stack,
                fault_rate=args.fault_rate,
                kill=not args.no_kill,
                kill_window_seconds=tuple(args.kill_window or DEFAULT_KILL_WINDOW_SECONDS),
                progress=progress,
            )
    except ValueError as exc:
        reporter.line(f"error: {exc}")
        return 2
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            reporter.line(f"Work directory (AIRFLOW_HOME, service and task logs): {workdir}")
    for line in report_lines(report):
        reporter.line(line)
    return 0 if report.ok else 1


def _raise_system_exit(signum: int, _frame: FrameType | None) -> None:
    # Turn SIGTERM / SIGHUP into an exception so that ManagedProcesses stops every service by PID.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``airflow-durable`` command line.

    Args:
        argv: Arguments without the program name; ``None`` means ``sys.argv[1:]``.

    Returns:
        The exit code: 0 if every demo row is the expected outcome, 1 if not, 2 on usage errors,
        130 on Ctrl-C.
    """
    parser = _parser()
    args = parser.parse_args(list(argv) if argv is not None else sys.argv[1:])
    if args.command not in {"demo", "soak"}:
        parser.print_help()
        return 2
    previous: dict[signal.Signals, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError):  # not the main thread
            previous[signum] = signal.signal(signum, _raise_system_exit)
    try:
        return (_run_demo if args.command == "demo" else _run_soak)(args, _reporter())
    except KeyboardInterrupt:
        print("interrupted; every started process was stopped", file=sys.stderr)
        return 130
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
