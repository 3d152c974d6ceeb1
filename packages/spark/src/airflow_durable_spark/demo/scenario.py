"""``airflow-durable demo spark``: a real worker crash on real Airflow 3.3 and a real Spark cluster.

The example DAG ``durable_spark_job`` (``examples/durable_spark_submit.py``) runs on a Spark standalone
master and worker from the ``pyspark`` wheel. ``durable`` and ``not_durable`` are SIGKILLed while they
poll their RUNNING drivers; ``uninterrupted`` is the baseline. Expected: the durable task's retry
reconnects (one driver in total) and returns the baseline's XCom; the non-durable twin submits a second
driver. Core runs the scenario (:mod:`airflow_durable.demo.runner`); this module declares it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_durable.demo.provider import CrashCase, DemoSystem
from airflow_durable_spark.demo import scenario_workload as workload
from airflow_durable_spark.demo.scenario_workload import WORKER_CORES, WORKER_MEMORY, SparkSystem

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from airflow_durable.demo.processes import ManagedProcesses
    from airflow_durable_spark.demo.cluster import SparkStandaloneCluster


def _app_name(task_id: str) -> str:
    return f"durable-demo-{task_id}"


@dataclass
class SparkDemo(workload.SparkWorkload):
    """The Spark crash-and-retry demo (see the module docstring), and its soak workload.

    Attributes:
        driver_seconds: How long each demo driver runs; it must outlast the kill and the retry.
    """

    driver_seconds: int = 30

    name = "spark"
    operator = "DurableSparkSubmitOperator"
    dag_id = "durable_spark_job"
    example_dag = "durable_spark_submit.py"
    state_key = "spark_job_id"
    crash_cases = (CrashCase("mid-poll (SIGKILL supervisor + task process)", "durable", "not_durable", "reconnect"),)
    settle_seconds = 1.0  # the driver ID is persisted and RUNNING: the task is polling it
    timeout_seconds = 300.0

    @staticmethod
    def _cluster(workdir: Path, processes: Any = None) -> SparkStandaloneCluster:
        from airflow_durable_spark.demo.cluster import SparkStandaloneCluster

        # Three drivers may run at once: one core each for the driver and its one-core executor.
        return SparkStandaloneCluster(
            workdir / "spark", processes, worker_cores=WORKER_CORES, worker_memory=WORKER_MEMORY
        )

    def task_env(self, workdir: Path) -> dict[str, str]:
        """``spark-submit``'s environment and the demo application (its jar is built here)."""
        from airflow_durable_spark.demo.demo_app import DEMO_APP_CLASS, build_demo_jar

        return {
            **self._cluster(workdir).env(),
            "AIRFLOW_DURABLE_DEMO_JAR": str(build_demo_jar(workdir / "jar")),
            "AIRFLOW_DURABLE_DEMO_CLASS": DEMO_APP_CLASS,
            "AIRFLOW_DURABLE_DEMO_SECONDS": str(self.driver_seconds),
        }

    @contextlib.contextmanager
    def start(
        self, workdir: Path, processes: ManagedProcesses, progress: Callable[[str], None]
    ) -> Iterator[DemoSystem[SparkSystem]]:
        """Start the master, the worker and the workload's proxy; the demo's connection is the master's REST port."""
        cluster = self._cluster(workdir, processes)
        cluster.start(progress)
        try:
            with workload.serve_master_proxy(workdir, processes, cluster.rest_port) as proxy:
                yield DemoSystem(SparkSystem(cluster, proxy), workload.connections(cluster.rest_port, proxy))
        finally:
            cluster.stop()

    def jobs_by_task(self, system: SparkSystem) -> dict[str, list[str]]:
        """Drivers by task, matched on the application name ``durable-demo-<task_id>``."""
        by_name = system.cluster.drivers_by_app_name()
        return {task: by_name.get(_app_name(task), []) for task in self.task_ids}

    def ready_to_kill(self, system: SparkSystem, record: Callable[[str], Any]) -> bool:
        """Both tasks poll a RUNNING driver, and the durable one has persisted its driver ID."""
        cluster, stored = system.cluster, record("durable")
        driver_id = stored.get("external_id") if isinstance(stored, dict) else None
        if not driver_id or cluster.driver_state(driver_id) != "RUNNING":
            return False
        twins = cluster.drivers_by_app_name().get(_app_name("not_durable"), [])
        return any(cluster.driver_state(driver) == "RUNNING" for driver in twins)

    def comparable(self, xcom: Any) -> Any:
        """Every run has its own driver ID; the rest of the XCom must be equal."""
        return {k: v for k, v in xcom.items() if k != "driver_id"} if isinstance(xcom, dict) else xcom
