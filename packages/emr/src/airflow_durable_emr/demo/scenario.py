"""``airflow-durable demo emr emr-serverless emr-containers``: worker crashes on Airflow 3.3 against EMR emulators.

One demo per operator, each with its example DAG (``examples/durable_emr_*.py``) and its emulator as its own
process (killing a task does not kill "AWS"): ``durable`` / ``not_durable`` are SIGKILLed while polling an
active job; ``submit_window`` / ``window_not_durable`` inside the submit-to-persist window (the emulator
created the job but holds the create's answer); ``uninterrupted`` is the baseline. Expected: one job per
durable task (its retry adopts the job it finds by token), two per non-durable task, and XComs equal to the
baseline's. Core runs the scenarios (:mod:`airflow_durable.demo.runner`); this module declares them.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_durable.demo.provider import CrashCase, DemoSystem
from airflow_durable_emr.demo import scenario_workload as workload
from airflow_durable_emr.demo.scenario_workload import CONN_ID, RESOURCES_CONN_ID

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from airflow_durable.demo.processes import ManagedProcesses
    from airflow_durable.testing.control import ControlClient

WINDOW_TASKS = ("submit_window", "window_not_durable")
SERVE = "airflow_durable.testing.serve"
_IDS = re.compile(r"\b(s-[0-9A-Z]+|[0-9a-z]{16,19})\b")
_NAME = "durable-demo-{}".format  # the examples' job names (steps: the first step's), by task ID


class _EmrDemo(workload.EmrWorkload):
    """One EMR operator's crash-and-retry demo (see the module docstring).

    Subclasses name ``emulator`` (a class of ``airflow_durable_emr.testing.emulator``), ``service`` (its
    ``emr_connection_env`` keyword), ``succeeded`` (the state held jobs end in once the retries decided) and
    ``resource`` (the setup control creating what the DAG uses, and its key in the resources connection).
    """

    emulator: ClassVar[str]
    service: ClassVar[str]
    resource: ClassVar[tuple[str, str]]
    crash_cases = (
        CrashCase("mid-poll (SIGKILL supervisor + task process)", "durable", "not_durable", "reconnect"),
        CrashCase("submit→persist window (SIGKILL)", *WINDOW_TASKS, "adopt"),
    )

    @contextlib.contextmanager
    def start(
        self, workdir: Path, processes: ManagedProcesses, progress: Callable[[str], None]
    ) -> Iterator[DemoSystem[ControlClient]]:
        """Start the emulator (jobs held active) and hold the window tasks' create answers after the job exists."""
        from airflow_durable.testing.control import ControlClient
        from airflow_durable_emr.testing.contract import emr_connection_env

        progress(f"Starting the {self.emulator} (moto in its own process)")
        workdir.mkdir(parents=True, exist_ok=True)
        port_file, spec = workdir / f"{self.name}.port", f"airflow_durable_emr.testing.emulator:{self.emulator}"
        processes.start(self.emulator, [sys.executable, "-m", SERVE, spec, "--port-file", str(port_file)])
        url = f"http://127.0.0.1:{processes.wait_for_port_file(self.emulator, port_file)}"
        with ControlClient(url) as control:
            control.wait_until_up()
            create, key = self.resource
            resources = {key: control.call(create, "durable-demo")}
            for task_id in WINDOW_TASKS:
                control.delay_create(_NAME(task_id), 120)
            [aws] = emr_connection_env(CONN_ID, **{self.service: url}).values()
            connections = {CONN_ID: json.loads(aws), RESOURCES_CONN_ID: {"conn_type": "generic", "extra": resources}}
            yield DemoSystem(control, self.with_workload_connections(connections))

    def jobs_by_task(self, system: ControlClient) -> dict[str, list[str]]:
        """Jobs by task, matched on the job name ``durable-demo-<task_id>`` (steps: the first step's)."""
        names = [(job["name"], str(job["external_id"])) for job in system.jobs()]
        return {task: [job_id for name, job_id in names if name == _NAME(task)] for task in self.task_ids}

    def ready_to_kill(self, system: ControlClient, record: Callable[[str], Any]) -> bool:
        """The mid-poll pair polled its active jobs twice; the window pair's jobs exist, unanswered."""
        jobs, stored = system.jobs(), record("submit_window")
        polled = {job["name"] for job in jobs if job["status_calls"] >= 2}
        window_open = isinstance(stored, dict) and stored.get("phase") == "intent"
        mid_poll = {_NAME("durable"), _NAME("not_durable")} <= polled
        return window_open and mid_poll and {_NAME(task) for task in WINDOW_TASKS} <= {job["name"] for job in jobs}

    def release(self, system: ControlClient) -> None:
        """Every held job succeeds two status calls later."""
        system.finish_after(2, self.succeeded)

    def comparable(self, xcom: Any) -> Any:
        """Mask the step and job run IDs (in a string or a list), which differ between runs of the same job."""
        return [self.comparable(x) for x in xcom] if isinstance(xcom, list) else _IDS.sub("<id>", str(xcom))


class EmrStepsDemo(workload.EmrStepsWorkload, _EmrDemo):
    """``DurableEmrAddStepsOperator`` against ``EmrStepsEmulator``."""

    name, operator, service = "emr", "DurableEmrAddStepsOperator", "emr"
    dag_id, example_dag, state_key = "durable_emr_steps", "durable_emr_add_steps.py", "emr_step_ids"
    emulator, resource = "EmrStepsEmulator", ("create_cluster", "cluster_id")  # the DAG names the cluster


class EmrServerlessDemo(workload.EmrServerlessWorkload, _EmrDemo):
    """``DurableEmrServerlessStartJobOperator`` against ``EmrServerlessEmulator`` (no ``clientToken`` dedupe)."""

    name, operator, service = "emr-serverless", "DurableEmrServerlessStartJobOperator", "emr_serverless"
    dag_id, example_dag, state_key = "durable_emr_serverless", "durable_emr_serverless.py", "emr_serverless_job_run_id"
    emulator = "EmrServerlessEmulator"
    resource = ("create_application", "application_id")  # CREATED: the operator starts it


class EmrContainersDemo(workload.EmrContainersWorkload, _EmrDemo):
    """``DurableEmrContainerOperator`` against ``EmrContainersEmulator``."""

    name, operator, service = "emr-containers", "DurableEmrContainerOperator", "emr_containers"
    dag_id, example_dag, state_key = "durable_emr_containers", "durable_emr_containers.py", "emr_container_job_id"
    emulator, resource = "EmrContainersEmulator", ("create_virtual_cluster", "virtual_cluster_id")
