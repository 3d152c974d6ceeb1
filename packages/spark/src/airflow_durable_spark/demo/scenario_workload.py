"""The Spark standalone workload of the soak: ``DurableSparkSubmitOperator`` mapped over application names.

Each map index of ``durable`` and ``not_durable`` submits the demo application (the demo's jar, from
``task_env``) to the demo's real standalone cluster, named :func:`~airflow_durable.demo.workload.workload_job_name`
``(task_id, map_index)`` (``spark-submit --name``, Spark's ``spark.app.name``). The drivers are counted per task
instance from the worker's own records (each launched driver's ``spark.app.name``).

A real driver cannot be told to end after a number of status calls: each workload driver runs for about
``polls_to_finish`` seconds (the operator's first polls are one second apart), set through the application's
arguments when the DAG is built, and then ends by itself. The cluster's worker has :data:`WORKER_CORES` cores;
every application needs two (its driver and one executor), and drivers take their cores first, so at most
:data:`MAX_APPLICATIONS` applications may be in flight at once (more could leave no core for any executor).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar

from airflow_durable.demo.provider import DemoProvider
from airflow_durable.demo.workload import WorkloadConfigError, group_workload_jobs, workload_job_name

if TYPE_CHECKING:
    from airflow_durable.demo.workload import Workload
    from airflow_durable_spark.demo.cluster import SparkStandaloneCluster

CONN_ID = "spark_durable_demo"
"""The Spark connection to the demo cluster's REST port (the demo's)."""
WORKER_CORES = 8
"""Cores of the demo cluster's one worker."""
WORKER_MEMORY = "6g"
"""Memory of the demo cluster's one worker."""
MAX_APPLICATIONS = WORKER_CORES - 1
"""The most workload applications that may run at once: every driver's core taken, one left for an executor."""


class SparkWorkload(DemoProvider["SparkStandaloneCluster"]):
    """The workload members of the Spark standalone demo (see the module docstring)."""

    workload_dag_id: ClassVar[str | None] = "durable_workload_spark"

    def workload_tasks(self, workload: Workload) -> None:
        """Create ``durable`` (and ``not_durable``), each mapped over ``workload.maps`` application names.

        Raises:
            WorkloadConfigError: More than :data:`MAX_APPLICATIONS` task instances in all.
        """
        from airflow_durable_spark.operators import DurableSparkSubmitOperator

        if workload.maps * len(workload.task_ids) > MAX_APPLICATIONS:
            raise WorkloadConfigError(
                f"the Spark workload runs at most {MAX_APPLICATIONS} applications at once on its "
                f"{WORKER_CORES}-core worker, not {workload.maps} maps x {len(workload.task_ids)} tasks"
            )
        for task_id in workload.task_ids:
            DurableSparkSubmitOperator.partial(
                task_id=task_id,
                conn_id=CONN_ID,
                application=os.environ.get("AIRFLOW_DURABLE_DEMO_JAR", "/opt/jobs/durable-demo.jar"),
                java_class=os.environ.get("AIRFLOW_DURABLE_DEMO_CLASS", "DurableDemoApp"),
                application_args=[str(workload.polls_to_finish), "1000"],
                driver_memory="512m",
                executor_memory="512m",
                total_executor_cores=1,
                executor_cores=1,
                conf={"spark.driver.cores": "1", "spark.master.rest.enabled": "true"},
                durable=task_id == "durable",
                poll_interval_seconds=1,
                max_poll_interval_seconds=3,
            ).expand(name=[workload_job_name(task_id, index) for index in range(workload.maps)])

    def prepare_workload(self, system: SparkStandaloneCluster, workload: Workload) -> None:
        """Nothing to do: each driver ends by itself after the seconds :meth:`workload_tasks` gave it."""
        del system, workload

    def workload_jobs(self, system: SparkStandaloneCluster) -> dict[tuple[str, int], list[str]]:
        """Driver IDs per task instance, matched on the ``spark.app.name`` of every launched driver."""
        by_name = system.drivers_by_app_name()
        return group_workload_jobs((name, driver) for name, drivers in by_name.items() for driver in drivers)

    def vendor_calls(self, system: SparkStandaloneCluster) -> int:
        """Not available: a real Spark master keeps no count of the REST requests it answered.

        Raises:
            NotImplementedError: Always.
        """
        del system
        raise NotImplementedError(
            "the Spark standalone workload runs on a real master, which counts no REST requests; "
            "vendor calls are counted for the emulated providers only"
        )
