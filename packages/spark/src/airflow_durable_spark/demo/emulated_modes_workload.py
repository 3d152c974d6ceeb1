"""The soak workload of Spark's emulated cluster modes: ``DurableSparkSubmitOperator`` mapped over application names.

Each map index of ``durable`` and ``not_durable`` submits one application named
:func:`~airflow_durable.demo.workload.workload_job_name` ``(task_id, map_index)`` (``spark-submit --name``)
through the mode's demo connection, to the mode's emulator; the applications are counted per task instance
from the emulator's own records (the name it records for each job), and succeed by themselves on their
``polls_to_finish``-th status call (the stand-in ``spark-submit``'s own status call included).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_durable.demo.provider import DemoProvider
from airflow_durable.demo.workload import emulator_vendor_calls, group_workload_jobs, workload_job_name

if TYPE_CHECKING:
    from airflow_durable.demo.workload import Workload
    from airflow_durable.testing.control import ControlClient


class EmulatedModeWorkload(DemoProvider["ControlClient"]):
    """The workload members of an emulated mode's demo; subclasses give :meth:`operator_arguments`.

    Attributes:
        succeeded: The raw status every application ends in.
    """

    succeeded: ClassVar[str]

    def operator_arguments(self) -> dict[str, Any]:
        """The mode's ``DurableSparkSubmitOperator`` arguments (connection, application...), read at parse time."""
        raise NotImplementedError

    def job_name(self, job: dict[str, Any]) -> str:
        """The application name the emulator records for a job of ``ControlClient.jobs()``."""
        return str(job["name"])

    def workload_tasks(self, workload: Workload) -> None:
        """Create ``durable`` (and ``not_durable``), each mapped over ``workload.maps`` application names."""
        from airflow_durable_spark.operators import DurableSparkSubmitOperator

        for task_id in workload.task_ids:
            DurableSparkSubmitOperator.partial(
                task_id=task_id,
                **self.operator_arguments(),
                durable=task_id == "durable",
                poll_interval_seconds=1,
                max_poll_interval_seconds=3,
            ).expand(name=[workload_job_name(task_id, index) for index in range(workload.maps)])

    def prepare_workload(self, system: ControlClient, workload: Workload) -> None:
        """Every application, held ones included, succeeds on its ``workload.polls_to_finish``-th status call."""
        system.finish_after(workload.polls_to_finish, self.succeeded)

    def workload_jobs(self, system: ControlClient) -> dict[tuple[str, int], list[str]]:
        """Application IDs per task instance, matched on the name the emulator records (:meth:`job_name`)."""
        return group_workload_jobs((self.job_name(job), job["external_id"]) for job in system.jobs())

    def vendor_calls(self, system: ControlClient) -> int:
        """Every request the emulator answered (the stand-in ``spark-submit``'s too), fault-injected ones included."""
        return emulator_vendor_calls(system)


class SparkYarnWorkload(EmulatedModeWorkload):
    """YARN cluster mode: the stand-in ``spark-submit`` against the ResourceManager REST emulator."""

    workload_dag_id: ClassVar[str | None] = "durable_workload_spark_yarn"

    def operator_arguments(self) -> dict[str, Any]:
        """The example DAG's arguments, with the workload's ``spark.yarn.tags``."""
        return {
            "conn_id": "spark_yarn_durable_demo",
            "spark_binary": os.environ.get("AIRFLOW_DURABLE_DEMO_YARN_SPARK_SUBMIT", "spark-submit"),
            "application": "local:///opt/spark/examples/jars/spark-examples.jar",
            "java_class": "org.apache.spark.examples.SparkPi",
            "application_args": ["100"],
            "conf": {"spark.yarn.tags": "durable-workload"},
        }
