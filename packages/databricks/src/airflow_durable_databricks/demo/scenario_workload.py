"""The Databricks workload of the soak: mapped ``DurableDatabricksSubmitRunOperator`` over run names.

Each map index of ``durable`` and ``not_durable`` submits a one-task run named
:func:`~airflow_durable.demo.workload.workload_job_name` ``(task_id, map_index)``; the runs are counted per
task instance from the Jobs API emulator's own records (``run_name``, ``run_id``). Runs succeed by
themselves on their ``polls_to_finish``-th ``runs/get``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from airflow_durable.demo.provider import DemoProvider
from airflow_durable.demo.workload import emulator_vendor_calls, group_workload_jobs, workload_job_name

if TYPE_CHECKING:
    from airflow_durable.demo.workload import Workload
    from airflow_durable_databricks.testing.emulator import EmulatorControl

#: The one-task run each workload task instance submits.
WORKLOAD_RUN_TASK = {
    "task_key": "aggregate",
    "notebook_task": {
        "notebook_path": "/Shared/aggregate",
        "base_parameters": {"airflow_run_id": "{{ run_id }}", "map_index": "{{ ti.map_index }}"},
    },
    "existing_cluster_id": "0000-000000-demo",
}


class DatabricksWorkload(DemoProvider["EmulatorControl"]):
    """The workload members of the Databricks demo (see the module docstring).

    Attributes:
        conn_id: The Airflow connection to the emulator, the one the demo's ``start()`` yields.
    """

    conn_id: ClassVar[str]
    workload_dag_id: ClassVar[str | None] = "durable_workload_databricks"

    def workload_tasks(self, workload: Workload) -> None:
        """Create ``durable`` (and ``not_durable``), each mapped over ``workload.maps`` run names."""
        from airflow_durable_databricks.operators import DurableDatabricksSubmitRunOperator

        for task_id in workload.task_ids:
            DurableDatabricksSubmitRunOperator.partial(
                task_id=task_id,
                databricks_conn_id=self.conn_id,
                tasks=[WORKLOAD_RUN_TASK],
                durable=task_id == "durable",
                polling_period_seconds=1,
                max_poll_interval_seconds=3,
            ).expand(run_name=[workload_job_name(task_id, index) for index in range(workload.maps)])

    def prepare_workload(self, system: EmulatorControl, workload: Workload) -> None:
        """Every run, held ones included, ends ``SUCCESS`` on its ``workload.polls_to_finish``-th ``runs/get``."""
        system.advance(polls_to_finish=workload.polls_to_finish, outcome="SUCCESS")

    def workload_jobs(self, system: EmulatorControl) -> dict[tuple[str, int], list[str]]:
        """Run IDs per task instance, matched on the run name, from the emulator's ``runs``."""
        return group_workload_jobs((str(run["run_name"]), run["run_id"]) for run in system.runs())

    def vendor_calls(self, system: EmulatorControl) -> int:
        """Every Jobs API request the emulator answered, fault-injected ones included."""
        return emulator_vendor_calls(system)
