"""The crash-and-retry demo of Spark's YARN and Kubernetes cluster modes, declared once for both.

Each demo runs its example DAG (``examples/durable_spark_yarn.py``, ``examples/durable_spark_kubernetes.py``)
against an emulator in its own process (killing a task does not kill the cluster): the ResourceManager REST
emulator with the stand-in ``spark-submit`` for YARN (no Hadoop IPC here), the Kubernetes API emulator with
pyspark's real ``spark-submit`` for Kubernetes. ``durable`` / ``not_durable`` are SIGKILLed while polling an
application or driver pod held running; ``submit_window`` / ``window_not_durable`` inside the submit-to-persist
window (the emulator created the application / pod and holds the create's answer, so ``spark-submit`` has not
printed its ID); ``uninterrupted`` is the baseline. Expected: one job per durable task (its retry adopts the job
it finds by tag / label), two per non-durable task, and XComs equal to the baseline's. The modes' own parts are
in :mod:`.scenario_yarn` and :mod:`.scenario_kubernetes`; core runs the scenarios (:mod:`airflow_durable.demo.runner`).
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_durable.demo.provider import CrashCase, DemoProvider, DemoSystem

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from airflow_durable.demo.processes import ManagedProcesses
    from airflow_durable.testing.control import ControlClient

WINDOW_TASKS = ("submit_window", "window_not_durable")
WINDOW_HOLD_SECONDS = 50  # under the stand-in's 60 s HTTP timeout, after which it would submit again
SERVE = "airflow_durable.testing.serve"


def app_name(task_id: str) -> str:
    """The examples' application name of ``task_id``: ``durable-demo-<task_id>``."""
    return f"durable-demo-{task_id}"


class EmulatedModeDemo(DemoProvider["ControlClient"]):
    """One cluster mode's crash-and-retry demo (see the module docstring); subclasses state the mode's parts."""

    operator, state_key = "DurableSparkSubmitOperator", "spark_job_id"
    emulator: ClassVar[str]  # module:Class for ``python -m airflow_durable.testing.serve``
    running: ClassVar[str]  # the raw status jobs are held in until :meth:`release`
    succeeded: ClassVar[str]  # the raw status they end in
    id_field: ClassVar[str]  # the result's key holding the job's ID (masked by :meth:`comparable`)
    crash_cases = (
        CrashCase("mid-poll (SIGKILL supervisor + task process)", "durable", "not_durable", "reconnect"),
        CrashCase("submit→persist window (SIGKILL)", *WINDOW_TASKS, "adopt"),
    )

    def app(self, task_id: str) -> str:
        """The application name of ``task_id``'s jobs as the emulator records it."""
        return app_name(task_id)

    def app_of(self, job: dict[str, Any]) -> str:
        """The application name of a job of ``ControlClient.jobs()``."""
        return str(job["name"])

    def window_match(self, task_id: str) -> dict[str, Any]:
        """The ``hold_after_create`` match of ``task_id``'s job."""
        return {"name": self.app(task_id)}

    def connections(self, workdir: Path, url: str) -> dict[str, dict[str, Any]]:
        """The Airflow connections reaching the emulator at ``url`` (files they name go into ``workdir``)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def start(
        self, workdir: Path, processes: ManagedProcesses, progress: Callable[[str], None]
    ) -> Iterator[DemoSystem[ControlClient]]:
        """Start the emulator (jobs held running), hold the window tasks' create answers, write the connections."""
        from airflow_durable.testing.control import ControlClient

        progress(f"Starting {self.emulator.rpartition(':')[2]} in its own process")
        workdir.mkdir(parents=True, exist_ok=True)
        port_file = workdir / "emulator.port"
        processes.start(self.name, [sys.executable, "-m", SERVE, self.emulator, "--port-file", str(port_file)])
        url = f"http://127.0.0.1:{processes.wait_for_port_file(self.name, port_file)}"
        with ControlClient(url) as control:
            control.wait_until_up()
            control.hold(self.running)
            for task_id in WINDOW_TASKS:
                control.hold_after_create(WINDOW_HOLD_SECONDS, **self.window_match(task_id))
            yield DemoSystem(control, self.connections(workdir, url))

    def jobs_by_task(self, system: ControlClient) -> dict[str, list[str]]:
        """Jobs by task, matched on the application name ``durable-demo-<task_id>``."""
        jobs = [(self.app_of(job), str(job["external_id"])) for job in system.jobs()]
        return {task: [job_id for app, job_id in jobs if app == self.app(task)] for task in self.task_ids}

    def ready_to_kill(self, system: ControlClient, record: Callable[[str], Any]) -> bool:
        """The mid-poll pair's jobs run (the durable one polled twice); the window pair's exist, their IDs unseen.

        The non-durable twin runs upstream's path, where ``spark-submit`` itself waits for the job (a watch on
        Kubernetes, not a poll), so one status call of its job is all there is to see.
        """
        jobs, stored = system.jobs(), record("submit_window")
        calls = {self.app_of(job): job["status_calls"] for job in jobs}
        window_open = isinstance(stored, dict) and stored.get("phase") == "intent"
        mid_poll = calls.get(self.app("durable"), 0) >= 2 and calls.get(self.app("not_durable"), 0) >= 1
        return window_open and mid_poll and all(self.app(task) in calls for task in WINDOW_TASKS)

    def release(self, system: ControlClient) -> None:
        """Every held job succeeds two status calls later."""
        system.finish_after(2, self.succeeded)

    def comparable(self, xcom: Any) -> Any:
        """Every job has its own ID; the rest of the result must be equal."""
        return {k: v for k, v in xcom.items() if k != self.id_field} if isinstance(xcom, dict) else xcom
