"""The Dataproc workloads of the soak: each Dataproc operator mapped over jobs labelled with their workload name.

Each map index of ``durable`` and ``not_durable`` submits one job (``SubmitJob``) or batch (``CreateBatch``)
whose label :data:`WORKLOAD_LABEL` is :func:`~airflow_durable.demo.workload.workload_job_name`
``(task_id, map_index)``, in region :data:`WORKLOAD_REGION` (not the demo's window region, whose creates the
demo's emulator holds). The jobs are counted per task instance from the emulator's own records (the label),
and succeed by themselves on their ``polls_to_finish``-th status call. The two demos share their connection ID
(each points it at its own emulator), but the soak runs every workload on one stack at once, so ``start()``
also yields the demo's connection under an ID of the provider's own (:attr:`DataprocWorkload.workload_conn_id`),
which the workload uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow_durable.demo.provider import DemoProvider
from airflow_durable.demo.workload import emulator_vendor_calls, group_workload_jobs, workload_job_name

if TYPE_CHECKING:
    from airflow_durable.demo.workload import Workload
    from airflow_durable.testing.control import ControlClient

CONN_ID = "dataproc_durable_demo"
"""The Google Cloud connection to the emulator (the demo's)."""
PROJECT_ID = "durable-demo"
"""The project every workload job lives in."""
WORKLOAD_REGION = "us-central1"
"""The region every workload job lives in."""
WORKLOAD_LABEL = "durable-workload-job"
"""The label whose value is the job's workload name (``wl-<task_id>-<map_index>``)."""
PYSPARK = {"main_python_file_uri": "gs://durable-demo/aggregate.py", "args": ["{{ run_id }}"]}
"""The PySpark main file and arguments of every workload job."""
POLLING = {"poll_interval_seconds": 1, "max_poll_interval_seconds": 3}
"""The workload's polling: a first poll after 1 s, the delay growing to 3 s at most."""


class DataprocWorkload(DemoProvider["ControlClient"]):
    """What the two Dataproc workloads share; subclasses map their operator in :meth:`map_workload`.

    Attributes:
        succeeded: The state every job ends in.
    """

    succeeded: ClassVar[str]

    @property
    def workload_conn_id(self) -> str:
        """The workload's connection ID: ``dataproc_durable_workload_<name>``."""
        return f"dataproc_durable_workload_{self.name.replace('-', '_')}"

    def with_workload_connections(self, connections: dict[str, Any]) -> dict[str, Any]:
        """Return the demo's connections, plus :data:`CONN_ID`'s again under :attr:`workload_conn_id`."""
        return {**connections, self.workload_conn_id: connections[CONN_ID]}

    def workload_tasks(self, workload: Workload) -> None:
        """Create ``durable`` (and ``not_durable``), each mapped over ``workload.maps`` labelled jobs."""
        for task_id in workload.task_ids:
            labels = [{WORKLOAD_LABEL: workload_job_name(task_id, index)} for index in range(workload.maps)]
            self.map_workload(task_id, labels)

    def map_workload(self, task_id: str, labels: list[dict[str, str]]) -> None:
        """Create the mapped task ``task_id`` whose map index ``i`` submits a job labelled ``labels[i]``."""
        raise NotImplementedError

    def prepare_workload(self, system: ControlClient, workload: Workload) -> None:
        """Every job, held ones included, succeeds on its ``workload.polls_to_finish``-th status call."""
        system.finish_after(workload.polls_to_finish, self.succeeded)

    def workload_jobs(self, system: ControlClient) -> dict[tuple[str, int], list[str]]:
        """Job (batch) IDs per task instance, matched on the label :data:`WORKLOAD_LABEL`."""
        jobs = system.jobs()
        return group_workload_jobs((str(job["labels"].get(WORKLOAD_LABEL, "")), job["external_id"]) for job in jobs)

    def vendor_calls(self, system: ControlClient) -> int:
        """Every Dataproc API request (gRPC or REST) the emulator answered, fault-injected ones included."""
        return emulator_vendor_calls(system)

    def partial_arguments(self, task_id: str) -> dict[str, Any]:
        """The arguments both operators share: connection, project, region, ``durable``, polling."""
        common = {"gcp_conn_id": self.workload_conn_id, "project_id": PROJECT_ID, "region": WORKLOAD_REGION}
        return {"task_id": task_id, **common, "durable": task_id == "durable", **POLLING}


class DataprocJobsWorkload(DataprocWorkload):
    """``DurableDataprocSubmitJobOperator`` mapped over PySpark jobs on the cluster ``durable-demo``."""

    workload_dag_id: ClassVar[str | None] = "durable_workload_dataproc"
    succeeded: ClassVar[str] = "DONE"

    def map_workload(self, task_id: str, labels: list[dict[str, str]]) -> None:
        """Map over ``job``."""
        from airflow_durable_dataproc.operators import DurableDataprocSubmitJobOperator

        placement = {"cluster_name": "durable-demo"}
        jobs = [{"placement": placement, "pyspark_job": PYSPARK, "labels": label} for label in labels]
        DurableDataprocSubmitJobOperator.partial(**self.partial_arguments(task_id)).expand(job=jobs)


class DataprocBatchesWorkload(DataprocWorkload):
    """``DurableDataprocCreateBatchOperator`` mapped over PySpark batches."""

    workload_dag_id: ClassVar[str | None] = "durable_workload_dataproc_batches"
    succeeded: ClassVar[str] = "SUCCEEDED"

    def map_workload(self, task_id: str, labels: list[dict[str, str]]) -> None:
        """Map over ``batch``."""
        from airflow_durable_dataproc.operators import DurableDataprocCreateBatchOperator

        batches = [{"pyspark_batch": PYSPARK, "labels": label} for label in labels]
        DurableDataprocCreateBatchOperator.partial(**self.partial_arguments(task_id)).expand(batch=batches)
