"""The random-kill soak (R2), shortened for CI: 2 repetitions with a fixed seed on the production shape.

Postgres + CeleryExecutor + Redis with two Celery workers; each repetition triggers the providers'
workload DAGs (mapped durable tasks and their ``durable=False`` twins) and SIGKILLs a whole Celery worker
at a seeded random moment while the task instances run. ``make soak`` runs the full soak (20 repetitions).

By default the CI subset runs (Databricks and EMR Serverless, 2 map indexes each, to stay near 4 minutes on
a 2-core machine); ``AIRFLOW_DURABLE_E2E_SOAK=all`` runs every installed provider that has a workload.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import psutil
import pytest

from airflow_durable.demo.registry import available_providers, load_providers
from airflow_durable.demo.soak import report_lines, run_soak
from airflow_durable.demo.workload import Workload

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e

#: The providers whose workload CI's shortened soak runs; AIRFLOW_DURABLE_E2E_SOAK=all: every one with a workload.
CI_SUBSET = ("databricks", "emr-serverless")
EVERY = os.environ.get("AIRFLOW_DURABLE_E2E_SOAK") == "all"
PROVIDERS = tuple(p.name for p in load_providers(available_providers()) if p.workload_dag_id) if EVERY else CI_SUBSET
MAPS = 2
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
        workload=Workload(maps=MAPS),
        stack="celery",
        kill_window_seconds=KILL_WINDOW_SECONDS,
    )
    print("\n".join(report_lines(report)))
    print(f"shortened soak: {time.monotonic() - started:.0f} s")
    assert [tally.provider for tally in report.tallies] == list(PROVIDERS)
    for tally in report.tallies:
        assert tally.repetitions == 2
        assert tally.durable_tis == 2 * MAPS
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
