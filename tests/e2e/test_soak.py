"""The random-kill soak (R2), shortened for CI: 2 repetitions with a fixed seed on the production shape.

Postgres + CeleryExecutor + Redis with two Celery workers; each repetition triggers the providers'
workload DAGs (mapped durable tasks and their ``durable=False`` twins) and SIGKILLs a whole Celery worker
at a seeded random moment while the task instances run. ``make soak`` runs the full soak (20 repetitions).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import psutil
import pytest

from airflow_durable.demo.registry import load_providers
from airflow_durable.demo.soak import report_lines, run_soak
from airflow_durable.demo.workload import Workload

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e

#: The providers whose workload the shortened soak runs.
PROVIDERS = ("databricks",)
#: Fixed, so that a CI failure can be replayed with ``airflow-durable soak --seed``.
SEED = 20261206
#: Seconds after each repetition's first job appears: early, while every task instance of the
#: workload still runs (submitting or polling).
KILL_WINDOW_SECONDS = (0.0, 6.0)


def test_shortened_soak_has_no_durable_duplicate_and_no_lost_result(tmp_path: Path) -> None:
    started = time.monotonic()
    report = run_soak(
        load_providers(PROVIDERS),
        tmp_path,
        repetitions=2,
        seed=SEED,
        workload=Workload(maps=3),
        stack="celery",
        kill_window_seconds=KILL_WINDOW_SECONDS,
    )
    print("\n".join(report_lines(report)))
    print(f"shortened soak: {time.monotonic() - started:.0f} s")
    assert [tally.provider for tally in report.tallies] == list(PROVIDERS)
    for tally in report.tallies:
        assert tally.repetitions == 2
        assert tally.durable_tis == 2 * 3
        assert tally.durable_duplicates == 0, tally.findings
        assert tally.lost_results == 0, tally.findings
    assert len(report.kills) == 2
    caught = [ti for kill in report.kills for ti in kill.caught if ti.task_id == "durable"]
    assert caught, f"no kill caught a durable task instance: {report.kills}"
    left = [proc.pid for proc in psutil.process_iter() if _mentions(proc, str(tmp_path))]
    assert left == [], "the soak left processes behind"


def _mentions(proc: psutil.Process, text: str) -> bool:
    try:
        return any(text in part for part in proc.cmdline())
    except psutil.Error:
        return False
