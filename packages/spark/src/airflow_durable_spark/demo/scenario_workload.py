"""The Spark standalone workload of the soak: ``DurableSparkSubmitOperator`` mapped over application names.

Each map index of ``durable`` and ``not_durable`` submits the demo application (the demo's jar, from
``task_env``) to the demo's real standalone cluster, named :func:`~airflow_durable.demo.workload.workload_job_name`
``(task_id, map_index)`` (``spark-submit --name``, Spark's ``spark.app.name``). The drivers are counted per task
instance from the worker's own records (each launched driver's ``spark.app.name``). The workload's connection
(:data:`WORKLOAD_CONN_ID`) reaches the master's REST gateway through
:class:`~airflow_durable_spark.demo.master_proxy.SparkMasterProxy`, its own process, which counts the vendor
calls (a real master counts none) and can fault them; the demo's own connection goes to the master directly.

A real driver cannot be told to end after a number of status calls: each workload driver runs for about
``polls_to_finish`` seconds (the operator's first polls are one second apart), set through the application's
arguments when the DAG is built, and then ends by itself. The cluster's worker has :data:`WORKER_CORES` cores;
every application needs two (its driver and one executor), and drivers take their cores first, so at most
:data:`MAX_APPLICATIONS` applications may be in flight at once (more could leave no core for any executor).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from airflow_durable.demo.provider import DemoProvider
from airflow_durable.demo.workload import (
    WorkloadConfigError,
    emulator_vendor_calls,
    group_workload_jobs,
    workload_job_name,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from airflow_durable.demo.processes import ManagedProcesses
    from airflow_durable.demo.workload import Workload
    from airflow_durable.testing.control import ControlClient
    from airflow_durable_spark.demo.cluster import SparkStandaloneCluster

CONN_ID = "spark_durable_demo"
"""The Spark connection to the demo cluster's REST port (the demo's)."""
WORKLOAD_CONN_ID = "spark_durable_workload"
"""The Spark connection to the demo cluster through the proxy (the workload's)."""
PROXY = "airflow_durable_spark.demo.master_proxy:SparkMasterProxy"
WORKER_CORES = 8
"""Cores of the demo cluster's one worker."""
WORKER_MEMORY = "6g"
"""Memory of the demo cluster's one worker."""
MAX_APPLICATIONS = WORKER_CORES - 1
"""The most workload applications that may run at once: every driver's core taken, one left for an executor."""


@dataclass(frozen=True)
class SparkSystem:
    """The demo's running system.

    Attributes:
        cluster: The real standalone cluster.
        proxy: The control client of the proxy in front of its REST gateway.
    """

    cluster: SparkStandaloneCluster
    proxy: ControlClient


def spark_connection(rest_port: int) -> dict[str, Any]:
    """The Airflow connection (``AIRFLOW_CONN_*`` JSON form) of a standalone master whose REST port is ``rest_port``."""
    extra = {"deploy-mode": "cluster", "rest-port": rest_port}
    return {"conn_type": "spark", "host": "spark://127.0.0.1", "port": rest_port, "extra": extra}


def connections(rest_port: int, proxy: ControlClient) -> dict[str, dict[str, Any]]:
    """The demo's connection (:data:`CONN_ID`, the master's REST port) and the workload's (through the proxy)."""
    proxy_port = urlsplit(proxy.url).port
    if proxy_port is None:
        raise ValueError(f"the proxy's URL {proxy.url!r} names no port")
    return {CONN_ID: spark_connection(rest_port), WORKLOAD_CONN_ID: spark_connection(proxy_port)}


@contextlib.contextmanager
def serve_master_proxy(workdir: Path, processes: ManagedProcesses, rest_port: int) -> Iterator[ControlClient]:
    """Start :data:`PROXY` in front of the master's REST port, as its own process; yield its control client."""
    from airflow_durable.testing.control import ControlClient

    port_file = workdir / "proxy.port"
    port_file.unlink(missing_ok=True)
    upstream = json.dumps(f"http://127.0.0.1:{rest_port}")
    argv = [sys.executable, "-m", "airflow_durable.testing.serve", PROXY, "--port-file", str(port_file)]
    processes.start("spark-master-proxy", [*argv, "--option", f"upstream={upstream}"])
    url = f"http://127.0.0.1:{processes.wait_for_port_file('spark-master-proxy', port_file)}"
    with ControlClient(url) as proxy:
        proxy.wait_until_up()
        yield proxy


class SparkWorkload(DemoProvider[SparkSystem]):
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
                conn_id=WORKLOAD_CONN_ID,
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

    def prepare_workload(self, system: SparkSystem, workload: Workload) -> None:
        """Nothing to do: each driver ends by itself after the seconds :meth:`workload_tasks` gave it."""
        del system, workload

    def workload_jobs(self, system: SparkSystem) -> dict[tuple[str, int], list[str]]:
        """Driver IDs per task instance, matched on the ``spark.app.name`` of every launched driver."""
        by_name = system.cluster.drivers_by_app_name()
        return group_workload_jobs((name, driver) for name, drivers in by_name.items() for driver in drivers)

    def vendor_calls(self, system: SparkSystem) -> int:
        """Every REST gateway request (create, status, kill...) the proxy forwarded or answered with a fault."""
        return emulator_vendor_calls(system.proxy)

    def start_fault_storm(self, system: SparkSystem, rate: float, seed: int) -> None:
        """The proxy answers a share ``rate`` of the gateway requests with a fault (the kit's ``fault_storm``)."""
        system.proxy.fault_storm(rate, seed)
