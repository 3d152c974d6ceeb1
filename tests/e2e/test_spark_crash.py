"""The main job: a genuine worker crash on real Airflow 3.3 and a real Spark standalone cluster.

Real scheduler (LocalExecutor), real api-server, real SQLite metadata DB and ``task_state_store``, a real
Spark master and worker from the pyspark wheel running a real JVM application in cluster mode. The task's
supervisor and task process are SIGKILLed mid-poll; Airflow's own heartbeat-timeout detection schedules
the retry. Every process is started through ``ManagedProcesses`` and stopped by PID, even on failure. The
Airflow stack is shared with the other providers' tests (``conftest.py``), as in ``airflow-durable demo``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_durable.demo.runner import run_provider

if TYPE_CHECKING:
    from conftest import DemoStack

pytestmark = pytest.mark.e2e


def test_sigkill_mid_poll_reconnects_to_one_driver(demo_stack: DemoStack) -> None:
    [row] = run_provider(demo_stack.stack, demo_stack.providers["spark"], demo_stack.workdir, print)
    details = row.details
    print(f"spark e2e: {row}")
    assert details["dag_run_state"] == "success", details
    assert row.jobs_durable == 1, f"durable=True submitted {details['jobs']['durable']}"
    assert row.jobs_not_durable == 2, f"durable=False submitted {details['jobs']['not_durable']}"
    assert len(details["jobs"]["uninterrupted"]) == 1
    assert details["try_numbers"]["durable"] == 2, "the kill did not lead to an Airflow retry"
    durable, baseline = details["xcoms"]["durable"], details["xcoms"]["uninterrupted"]
    assert durable["driver_id"] == details["jobs"]["durable"][0]
    assert {k: v for k, v in durable.items() if k != "driver_id"} == {
        k: v for k, v in baseline.items() if k != "driver_id"
    }
    assert row.ok
