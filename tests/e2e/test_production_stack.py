"""The production shape: Airflow 3.3 on Postgres with the CeleryExecutor, a Redis broker and two Celery workers.

Postgres and Redis come from Debian's packages (installed when missing), every service is started by PID
and stopped even when a test fails. The crash is a SIGKILL of the whole Celery worker running the
crashed tasks (its main process, pool processes, supervisors and task processes); Airflow's
heartbeat-timeout detection schedules the retries, which run on the restarted worker. Each provider's
baseline task is pinned to the other worker, so it runs uninterrupted.

By default the CI subset runs (Databricks, EMR Serverless); ``AIRFLOW_DURABLE_E2E_CELERY=all`` (``make
test-e2e-celery``) runs every provider's scenario.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

import psutil
import pytest

from airflow_durable.demo.celery_stack import DEBIAN_PACKAGES, CeleryStack
from airflow_durable.demo.debian import ensure_debian_packages
from airflow_durable.demo.postgres_server import PostgresServer
from airflow_durable.demo.processes import ManagedProcesses
from airflow_durable.demo.redis_server import RedisServer
from airflow_durable.demo.registry import available_providers
from airflow_durable.demo.runner import run_provider

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import DemoStack

pytestmark = pytest.mark.e2e

#: The scenarios CI runs on the production shape; AIRFLOW_DURABLE_E2E_CELERY=all runs every installed one.
CI_SUBSET = ("databricks", "emr-serverless")
SELECTED = tuple(available_providers()) if os.environ.get("AIRFLOW_DURABLE_E2E_CELERY") == "all" else CI_SUBSET


def test_postgres_and_redis_run_by_pid_and_stop(tmp_path: Path) -> None:
    report = ensure_debian_packages(DEBIAN_PACKAGES)
    print(f"Debian packages: installed {report.installed or 'none'} in {report.seconds:.1f} s")
    with ManagedProcesses(tmp_path / "logs") as processes:
        postgres = PostgresServer(tmp_path / "pg", processes)
        redis = RedisServer(tmp_path / "redis", processes)
        postgres.start()
        redis.start()
        print(f"Postgres ready in {postgres.start_seconds:.1f} s")
        with contextlib.closing(postgres.connect()) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT current_database(), current_user, inet_server_port()")
            assert cursor.fetchone() == ("airflow", "airflow", postgres.port)
        postmaster = psutil.Process(processes.popen(postgres.name).pid)
        # Postgres never runs as root: as root it runs as Debian's postgres user.
        assert postmaster.uids().real != 0
        assert postmaster.name() == "postgres"
        assert redis.ping()
        pids = processes.owned_pids()
        assert postmaster.pid in pids
        assert len(pids) >= 3  # the postmaster's own helper processes, and redis-server
        data_dir = postgres.data_dir
        assert (data_dir / "PG_VERSION").exists()
        assert (tmp_path / "pg").resolve() == data_dir.resolve()
        postgres.stop()
        assert processes.popen(postgres.name).poll() is not None
        # A data directory outside the work directory (as root, when pytest's 0700 base directory hides
        # the work directory from the postgres user) does not outlive the server.
        assert data_dir.is_relative_to(tmp_path) or not data_dir.exists()
    assert processes.owned_pids() == []
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids)
    assert not redis.ping()


@pytest.mark.parametrize("celery_demo_stack", [SELECTED], indirect=True, ids=["celery"])
@pytest.mark.parametrize("name", SELECTED)
def test_whole_worker_sigkill_gives_one_job_per_durable_task(celery_demo_stack: DemoStack, name: str) -> None:
    provider = celery_demo_stack.providers[name]
    stack = celery_demo_stack.stack
    assert isinstance(stack, CeleryStack)
    crashing_worker, pinned_worker = stack.worker_processes
    before = {worker: stack.processes.popen(worker).pid for worker in stack.worker_processes}
    rows = run_provider(stack, provider, celery_demo_stack.workdir, print)
    # The crashed tasks' worker was killed and started again; the baseline's worker was left alone.
    assert stack.processes.popen(crashing_worker).pid != before[crashing_worker]
    assert stack.processes.popen(pinned_worker).pid == before[pinned_worker]
    assert stack.processes.popen(pinned_worker).poll() is None
    for row in rows:
        print(f"{name} on celery: {row} kill-to-decision {row.details['kill_to_retry_decision_seconds']} s")
    details = rows[0].details
    assert len(rows) == len(provider.crash_cases)
    assert details["dag_run_state"] == "success", details
    # The baseline ran on the pinned worker, which was never killed: one try, one job.
    assert details["try_numbers"][provider.baseline_task] == 1, details["try_numbers"]
    assert len(details["jobs"][provider.baseline_task]) == 1, details["jobs"]
    baseline = provider.comparable(details["xcoms"][provider.baseline_task])
    assert baseline, details["xcoms"]
    for case, row in zip(provider.crash_cases, rows, strict=True):
        assert row.operator == provider.operator
        assert row.crash_point.endswith(stack.crash_label), row.crash_point
        assert (row.jobs_durable, row.jobs_not_durable) == (1, 2), (case, details["jobs"])
        assert details["try_numbers"][case.durable_task] == 2, details["try_numbers"]
        assert details["try_numbers"][case.twin_task] == 2, details["try_numbers"]
        assert provider.comparable(details["xcoms"][case.durable_task]) == baseline, details["xcoms"]
        assert row.ok, details
