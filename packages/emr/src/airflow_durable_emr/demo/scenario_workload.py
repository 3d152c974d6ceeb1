"""The EMR workloads of the soak: each EMR operator mapped over job names, on the demo's emulators.

Each map index of ``durable`` and ``not_durable`` submits one job named
:func:`~airflow_durable.demo.workload.workload_job_name` ``(task_id, map_index)``: the step ``Name``
(``AddJobFlowSteps``; the operator appends its token marker, which the emulator cuts off), or the job run
``name`` (``StartJobRun`` of EMR Serverless and EMR on EKS). The jobs are counted per task instance from the
emulator's own records, and succeed by themselves on their ``polls_to_finish``-th status call. The resources
they use (the cluster ``durable-demo``, the application, the virtual cluster) are the ones the demo's
``start()`` creates. The three demos share their connection IDs (each points them at its own emulator), but the
soak runs every workload on one stack at once, so ``start()`` also yields the same connections under IDs of
the provider's own (:meth:`EmrWorkload.with_workload_connections`), which the workload uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow_durable.demo.provider import DemoProvider
from airflow_durable.demo.workload import emulator_vendor_calls, group_workload_jobs, workload_job_name

if TYPE_CHECKING:
    from airflow_durable.demo.workload import Workload
    from airflow_durable.testing.control import ControlClient

CONN_ID = "aws_durable_demo"
"""The AWS connection to the emulator (the demo's)."""
RESOURCES_CONN_ID = "emr_durable_demo_resources"
"""The connection whose extra holds the IDs of the resources the demo created (``application_id``...)."""
CLUSTER_NAME = "durable-demo"
"""The name of the cluster the demo creates, which the steps go to."""
ROLE_ARN = "arn:aws:iam::123456789012:role/durable-demo"
"""The execution role of the job runs (the emulator checks none)."""
POLLING = {"poll_interval_seconds": 1, "max_poll_interval_seconds": 3}
"""The workload's polling: a first poll after 1 s, the delay growing to 3 s at most."""


class EmrWorkload(DemoProvider["ControlClient"]):
    """What the three EMR workloads share; subclasses map their operator in :meth:`map_workload`.

    Attributes:
        succeeded: The state every job ends in.
    """

    succeeded: ClassVar[str] = "COMPLETED"

    @property
    def workload_conn_ids(self) -> dict[str, str]:
        """The demo's connection IDs, to the workload's own: ``aws_durable_workload_<name>``..."""
        suffix = self.name.replace("-", "_")
        return {CONN_ID: f"aws_durable_workload_{suffix}", RESOURCES_CONN_ID: f"emr_durable_workload_{suffix}"}

    def with_workload_connections(self, connections: dict[str, Any]) -> dict[str, Any]:
        """Return the demo's connections, plus each again under its workload ID (:attr:`workload_conn_ids`)."""
        ids = self.workload_conn_ids
        return {**connections, **{ids[conn_id]: spec for conn_id, spec in connections.items() if conn_id in ids}}

    def resource_template(self, key: str) -> str:
        """The template reading ``key`` (``application_id``...) from the workload's resources connection."""
        return f"{{{{ conn.{self.workload_conn_ids[RESOURCES_CONN_ID]}.extra_dejson.{key} }}}}"

    def workload_tasks(self, workload: Workload) -> None:
        """Create ``durable`` (and ``not_durable``), each mapped over ``workload.maps`` job names."""
        for task_id in workload.task_ids:
            self.map_workload(task_id, [workload_job_name(task_id, index) for index in range(workload.maps)])

    def map_workload(self, task_id: str, names: list[str]) -> None:
        """Create the mapped task ``task_id`` whose map index ``i`` submits a job named ``names[i]``."""
        raise NotImplementedError

    def prepare_workload(self, system: ControlClient, workload: Workload) -> None:
        """Every job, held ones included, succeeds on its ``workload.polls_to_finish``-th status call."""
        system.finish_after(workload.polls_to_finish, self.succeeded)

    def workload_jobs(self, system: ControlClient) -> dict[tuple[str, int], list[str]]:
        """Job IDs per task instance, matched on the job name the emulator records (steps: the first step's)."""
        return group_workload_jobs((str(job["name"] or ""), job["external_id"]) for job in system.jobs())

    def vendor_calls(self, system: ControlClient) -> int:
        """Every routed EMR API request the emulator answered, fault-injected ones included."""
        return emulator_vendor_calls(system)


class EmrStepsWorkload(EmrWorkload):
    """``DurableEmrAddStepsOperator`` mapped over step lists of one step each, named by the workload."""

    workload_dag_id: ClassVar[str | None] = "durable_workload_emr"

    def map_workload(self, task_id: str, names: list[str]) -> None:
        """Map over ``steps``: one step named ``names[i]`` at map index ``i``."""
        from airflow_durable_emr.operators import DurableEmrAddStepsOperator

        jar: dict[str, Any] = {"Jar": "command-runner.jar", "Args": ["spark-submit", "s3://demo/aggregate.py"]}
        DurableEmrAddStepsOperator.partial(
            task_id=task_id,
            aws_conn_id=self.workload_conn_ids[CONN_ID],
            job_flow_name=CLUSTER_NAME,
            cluster_states=["WAITING", "RUNNING"],
            wait_for_completion=True,
            durable=task_id == "durable",
            **POLLING,
        ).expand(steps=[[{"Name": name, "ActionOnFailure": "CONTINUE", "HadoopJarStep": jar}] for name in names])


class EmrServerlessWorkload(EmrWorkload):
    """``DurableEmrServerlessStartJobOperator`` mapped over job run names."""

    workload_dag_id: ClassVar[str | None] = "durable_workload_emr_serverless"
    succeeded: ClassVar[str] = "SUCCESS"

    def map_workload(self, task_id: str, names: list[str]) -> None:
        """Map over ``name`` (the job run's)."""
        from airflow_durable_emr.operators import DurableEmrServerlessStartJobOperator

        DurableEmrServerlessStartJobOperator.partial(
            task_id=task_id,
            aws_conn_id=self.workload_conn_ids[CONN_ID],
            application_id=self.resource_template("application_id"),
            execution_role_arn=ROLE_ARN,
            job_driver={
                "sparkSubmit": {"entryPoint": "s3://demo/aggregate.py", "entryPointArguments": ["{{ run_id }}"]}
            },
            durable=task_id == "durable",
            **POLLING,
        ).expand(name=names)


class EmrContainersWorkload(EmrWorkload):
    """``DurableEmrContainerOperator`` mapped over job run names."""

    workload_dag_id: ClassVar[str | None] = "durable_workload_emr_containers"

    def map_workload(self, task_id: str, names: list[str]) -> None:
        """Map over ``name`` (the job run's)."""
        from airflow_durable_emr.operators import DurableEmrContainerOperator

        DurableEmrContainerOperator.partial(
            task_id=task_id,
            aws_conn_id=self.workload_conn_ids[CONN_ID],
            virtual_cluster_id=self.resource_template("virtual_cluster_id"),
            execution_role_arn=ROLE_ARN,
            release_label="emr-7.0.0-latest",
            job_driver={"sparkSubmitJobDriver": {"entryPoint": "s3://demo/aggregate.py"}},
            durable=task_id == "durable",
            **POLLING,
        ).expand(name=names)
