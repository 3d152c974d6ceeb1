"""``airflow-durable demo spark``: a real worker crash on real Airflow 3.3 and a real Spark cluster.

One run of the example DAG ``durable_spark_job`` (``examples/durable_spark_submit.py``) on a Spark
standalone master and worker from the ``pyspark`` wheel:

- ``durable`` and ``not_durable`` are SIGKILLed (supervisor and task process, a real worker death) while
  they poll their RUNNING drivers; Airflow's heartbeat-timeout detection schedules their retries;
- ``uninterrupted`` runs untouched, as the baseline result.

Expected: the durable task's retry reconnects (one driver in total) and returns the same XCom as the
baseline; the non-durable twin submits a second driver.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_durable.demo.airflow_stack import AirflowStack
from airflow_durable.demo.scenario import DemoResult, install_example_dag

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_durable.demo.processes import ManagedProcesses
    from airflow_durable_spark.cluster import SparkStandaloneCluster

DAG_ID = "durable_spark_job"
CONN_ID = "spark_durable_demo"
STATE_KEY = "spark_job_id"
EXAMPLE_DAG = "durable_spark_submit.py"
CRASHED_TASKS = ("durable", "not_durable")


def _app_name(task_id: str) -> str:
    return f"durable-demo-{task_id}"


@dataclass
class SparkDemoScenario:
    """The Spark crash-and-retry scenario (see the module docstring).

    Attributes:
        driver_seconds: How long each demo driver runs.
        heartbeat_timeout_seconds: Airflow's ``task_instance_heartbeat_timeout``: how soon a dead worker
            is noticed.
        timeout_seconds: Upper bound of each wait.
    """

    provider: str = "spark"
    driver_seconds: int = 30
    heartbeat_timeout_seconds: int = 6
    timeout_seconds: float = 300.0

    def run(self, workdir: Path, processes: ManagedProcesses, progress: Callable[[str], None]) -> list[DemoResult]:
        """Run the scenario; see :class:`airflow_durable.demo.scenario.DemoScenario`."""
        from airflow_durable_spark.cluster import SparkStandaloneCluster
        from airflow_durable_spark.demo_app import DEMO_APP_CLASS, build_demo_jar

        started = time.monotonic()
        # Three drivers may run at once (durable, not_durable's two, uninterrupted): one core each for the
        # driver and its one-core executor.
        cluster = SparkStandaloneCluster(workdir / "spark", processes, worker_cores=8, worker_memory="6g")
        cluster.start(progress)
        progress("Building the demo Spark application")
        jar = build_demo_jar(workdir / "jar")
        dags = workdir / "dags"
        install_example_dag(__file__, EXAMPLE_DAG, dags)
        env = {
            **cluster.env(),
            f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(
                {
                    "conn_type": "spark",
                    "host": "spark://127.0.0.1",
                    "port": cluster.rest_port,
                    "extra": {"deploy-mode": "cluster", "rest-port": cluster.rest_port},
                }
            ),
            "AIRFLOW_DURABLE_DEMO_JAR": str(jar),
            "AIRFLOW_DURABLE_DEMO_CLASS": DEMO_APP_CLASS,
            "AIRFLOW_DURABLE_DEMO_SECONDS": str(self.driver_seconds),
        }
        stack = AirflowStack(
            workdir / "airflow",
            dags,
            processes,
            extra_env=env,
            heartbeat_timeout_seconds=self.heartbeat_timeout_seconds,
        )
        stack.start(progress)
        progress(f"Triggering {DAG_ID}")
        run_id = stack.trigger(DAG_ID)

        durable_driver = self._wait_for_durable_driver(stack, cluster, run_id, progress)
        self._wait_for_running_driver(cluster, _app_name("not_durable"))
        time.sleep(3)  # well inside the poll loop
        progress("SIGKILLing the durable and non-durable tasks' worker processes mid-poll")
        for task_id in CRASHED_TASKS:
            stack.kill_task_processes(DAG_ID, run_id, task_id)
        killed_at = time.monotonic()
        reconnected_at = stack.wait_for_log(
            DAG_ID, run_id, "durable", 2, r"decision.{0,4}reconnect", self.timeout_seconds
        )
        progress(
            f"Try 2 of 'durable' reconnected to {durable_driver} {reconnected_at - killed_at:.1f} s after the kill"
        )
        final_state = stack.wait_for_dag_run(DAG_ID, run_id, self.timeout_seconds)
        return [self._result(stack, cluster, run_id, final_state, killed_at, reconnected_at, started)]

    def _wait_for_durable_driver(
        self,
        stack: AirflowStack,
        cluster: SparkStandaloneCluster,
        run_id: str,
        progress: Callable[[str], None],
    ) -> str:
        deadline = time.monotonic() + self.timeout_seconds
        while time.monotonic() < deadline:
            record = stack.state_store(DAG_ID, run_id, "durable").get(STATE_KEY)
            driver_id = record.get("external_id") if isinstance(record, dict) else None
            if driver_id and cluster.driver_state(driver_id) == "RUNNING":
                progress(f"'durable' persisted {driver_id} and is polling it (RUNNING)")
                return str(driver_id)
            time.sleep(0.5)
        raise TimeoutError(f"the durable task's driver was not RUNNING within {self.timeout_seconds} s")

    def _wait_for_running_driver(self, cluster: SparkStandaloneCluster, app_name: str) -> None:
        deadline = time.monotonic() + self.timeout_seconds
        while time.monotonic() < deadline:
            for driver_id in cluster.drivers_by_app_name().get(app_name, []):
                if cluster.driver_state(driver_id) == "RUNNING":
                    return
            time.sleep(0.5)
        raise TimeoutError(f"no RUNNING driver of {app_name} within {self.timeout_seconds} s")

    def _result(
        self,
        stack: AirflowStack,
        cluster: SparkStandaloneCluster,
        run_id: str,
        final_state: str,
        killed_at: float,
        reconnected_at: float,
        started: float,
    ) -> DemoResult:
        drivers = {
            task: cluster.drivers_by_app_name().get(_app_name(task), [])
            for task in ("durable", "not_durable", "uninterrupted")
        }
        tries = {task: stack.task_instance(DAG_ID, run_id, task) for task in drivers}
        xcoms: dict[str, Any] = {}
        for task in ("durable", "uninterrupted"):
            try:
                xcoms[task] = stack.xcom(DAG_ID, run_id, task)
            except KeyError:
                xcoms[task] = None
        same_xcom = _without_driver_id(xcoms["durable"]) == _without_driver_id(xcoms["uninterrupted"])
        ok = (
            final_state == "success"
            and len(drivers["durable"]) == 1
            and len(drivers["not_durable"]) == 2
            and len(drivers["uninterrupted"]) == 1
            and tries["durable"].get("try_number") == 2
            and same_xcom
        )
        result = f"dag run {final_state}; " + ("XCom = uninterrupted run's" if same_xcom else f"XCom differs: {xcoms}")
        return DemoResult(
            provider=self.provider,
            operator="DurableSparkSubmitOperator",
            crash_point="mid-poll (SIGKILL supervisor + task process)",
            jobs_durable=len(drivers["durable"]),
            jobs_not_durable=len(drivers["not_durable"]),
            result=result,
            seconds=round(time.monotonic() - started, 1),
            details={
                "ok": ok,
                "kill_to_reconnect_seconds": round(reconnected_at - killed_at, 1),
                "drivers": drivers,
                "try_numbers": {task: ti.get("try_number") for task, ti in tries.items()},
                "xcoms": xcoms,
                "dag_run_state": final_state,
            },
        )


def _without_driver_id(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "driver_id"}
    return value


def scenario() -> SparkDemoScenario:
    """The ``airflow_durable.demo`` entry point of this package."""
    return SparkDemoScenario()
