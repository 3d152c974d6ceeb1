"""``airflow-durable demo dataproc dataproc-batches``: worker crashes on Airflow 3.3 against Dataproc emulators.

One demo per operator: its example DAG (``examples/durable_dataproc_*.py``) and its emulator as its own process,
reached by the real ``google-cloud-dataproc`` client over gRPC (``transport="rest"``: REST) through the extras
``dataproc_transport`` / ``dataproc_api_endpoint``. ``durable`` / ``not_durable`` are SIGKILLed while polling;
``submit_window`` / ``window_not_durable`` in the submit-to-persist window (in their own region,
:data:`WINDOW_REGION`, whose create answers the emulator holds after the job exists); ``uninterrupted`` is the
baseline. Expected: one job per durable task, two per non-durable task (counted by the label
``durable-demo-task``), XComs equal to the baseline's.
"""

from __future__ import annotations

import contextlib
import re
import sys
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_durable.demo.provider import CrashCase, DemoSystem
from airflow_durable_dataproc.demo import scenario_workload as workload
from airflow_durable_dataproc.demo.scenario_workload import CONN_ID

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from airflow_durable.demo.processes import ManagedProcesses
    from airflow_durable.testing.control import ControlClient

WINDOW_REGION = "europe-west1"  # the window pair's region in the example DAGs (the others: us-central1)
WINDOW_TASKS = ("submit_window", "window_not_durable")
TASK_LABEL = "durable-demo-task"
SERVE, EMULATORS = "airflow_durable.testing.serve", "airflow_durable_dataproc.testing.emulator"
_IDS = re.compile(r"[\w-]*ad-[0-9a-f]{28}-g\d+|\b[0-9a-f]{32}\b|\b[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b")
_PER_BATCH = ("name", "uuid", "create_time", "state_time", "state_history", "operation", "labels")


class _DataprocDemo(workload.DataprocWorkload):
    """One Dataproc operator's crash-and-retry demo (see the module docstring).

    Subclasses name ``emulator`` (a class of ``airflow_durable_dataproc.testing.emulator``) and ``succeeded``
    (the state held jobs end in once the retries decided).

    Args:
        transport: ``"grpc"`` (Dataproc's default) or ``"rest"``: how the operators' clients reach the emulator.
    """

    emulator: ClassVar[str]
    crash_cases = (
        CrashCase("mid-poll (SIGKILL supervisor + task process)", "durable", "not_durable", "reconnect"),
        CrashCase("submit→persist window (SIGKILL)", *WINDOW_TASKS, "adopt"),
    )

    def __init__(self, transport: str = "grpc") -> None:
        if transport not in ("grpc", "rest"):
            raise ValueError(f"transport must be 'grpc' or 'rest', got {transport!r}")
        self.transport = transport
        self.operator = f"{type(self).operator} ({'gRPC' if transport == 'grpc' else 'REST'})"

    @contextlib.contextmanager
    def start(
        self, workdir: Path, processes: ManagedProcesses, progress: Callable[[str], None]
    ) -> Iterator[DemoSystem[ControlClient]]:
        """Start the emulator (jobs held active) and hold the window tasks' create answers after the job exists."""
        from airflow_durable.testing.control import ControlClient

        progress(f"Starting the {self.emulator} (its own process, {self.transport})")
        workdir.mkdir(parents=True, exist_ok=True)
        port_file, spec = workdir / f"{self.transport}.port", f"{EMULATORS}:{self.emulator}"
        port_file.unlink(missing_ok=True)
        processes.start(self.emulator, [sys.executable, "-m", SERVE, spec, "--port-file", str(port_file)])
        url = f"http://127.0.0.1:{processes.wait_for_port_file(self.emulator, port_file)}"
        with ControlClient(url) as control:
            control.wait_until_up()
            control.hold()
            for _ in WINDOW_TASKS:  # each hold answers one create: the window pair's first tries
                control.hold_after_create(120, region=WINDOW_REGION)
            endpoint = f"http://{control.addresses()['grpc']}" if self.transport == "grpc" else url
            extra = {"dataproc_transport": self.transport, "dataproc_api_endpoint": endpoint}
            connections = {CONN_ID: {"conn_type": "google_cloud_platform", "extra": extra}}
            yield DemoSystem(control, self.with_workload_connections(connections))

    def jobs_by_task(self, system: ControlClient) -> dict[str, list[str]]:
        """Jobs by task, matched on the label ``durable-demo-task`` the example DAGs set."""
        labelled = [(job["labels"].get(TASK_LABEL), str(job["external_id"])) for job in system.jobs()]
        return {task: [job_id for label, job_id in labelled if label == task] for task in self.task_ids}

    def ready_to_kill(self, system: ControlClient, record: Callable[[str], Any]) -> bool:
        """The mid-poll pair polled its active jobs twice; the window pair's jobs exist, unanswered."""
        jobs, stored = system.jobs(), record("submit_window")
        polled = {job["labels"].get(TASK_LABEL) for job in jobs if job["status_calls"] >= 2}
        created = {job["labels"].get(TASK_LABEL) for job in jobs}
        window_open = isinstance(stored, dict) and stored.get("phase") == "intent"
        return window_open and {"durable", "not_durable"} <= polled and set(WINDOW_TASKS) <= created

    def release(self, system: ControlClient) -> None:
        """Every held job succeeds two status calls later."""
        system.finish_after(2, self.succeeded)

    def comparable(self, xcom: Any) -> Any:
        """Mask what differs between two runs of the same job: IDs, and a batch's names, times and labels."""
        if isinstance(xcom, dict):
            return {key: self.comparable(value) for key, value in xcom.items() if key not in _PER_BATCH}
        return _IDS.sub("<id>", xcom) if isinstance(xcom, str) else xcom


class DataprocJobsDemo(workload.DataprocJobsWorkload, _DataprocDemo):
    """``DurableDataprocSubmitJobOperator`` against ``DataprocJobEmulator``."""

    name, operator = "dataproc", "DurableDataprocSubmitJobOperator"
    emulator = "DataprocJobEmulator"
    dag_id, example_dag, state_key = "durable_dataproc_jobs", "durable_dataproc_submit_job.py", "dataproc_job_id"


class DataprocBatchesDemo(workload.DataprocBatchesWorkload, _DataprocDemo):
    """``DurableDataprocCreateBatchOperator`` against ``DataprocBatchEmulator`` (the batch's operation too)."""

    name, operator = "dataproc-batches", "DurableDataprocCreateBatchOperator"
    emulator = "DataprocBatchEmulator"
    dag_id, example_dag, state_key = "durable_dataproc_batches", "durable_dataproc_create_batch.py", "dataproc_batch_id"
