"""The main job: a genuine worker crash on real Airflow 3.3 and a real Spark standalone cluster.

Real scheduler (LocalExecutor), real api-server, real SQLite metadata DB and ``task_state_store``, a real
Spark master and worker from the pyspark wheel running a real JVM application in cluster mode. The task's
supervisor and task process are SIGKILLed mid-poll; Airflow's own heartbeat-timeout detection schedules
the retry. Every process is started through ``ManagedProcesses`` and stopped by PID, even on failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_durable.demo.processes import ManagedProcesses
from airflow_durable_spark.demo import SparkDemoScenario

pytestmark = pytest.mark.e2e


def test_sigkill_mid_poll_reconnects_to_one_driver(tmp_path: Path) -> None:
    with ManagedProcesses(tmp_path / "logs") as processes:
        [row] = SparkDemoScenario(driver_seconds=30).run(tmp_path, processes, print)
    details = row.details
    print(f"spark e2e: {row}")
    assert details["dag_run_state"] == "success", details
    assert row.jobs_durable == 1, f"durable=True submitted {details['drivers']['durable']}"
    assert row.jobs_not_durable == 2, f"durable=False submitted {details['drivers']['not_durable']}"
    assert len(details["drivers"]["uninterrupted"]) == 1
    assert details["try_numbers"]["durable"] == 2, "the kill did not lead to an Airflow retry"
    durable, baseline = details["xcoms"]["durable"], details["xcoms"]["uninterrupted"]
    assert durable["driver_id"] == details["drivers"]["durable"][0]
    assert {k: v for k, v in durable.items() if k != "driver_id"} == {
        k: v for k, v in baseline.items() if k != "driver_id"
    }
    assert row.ok
