"""``airflow-durable demo databricks``: real worker crashes on real Airflow 3.3, against the Jobs API emulator.

The emulator runs as its own process, so killing a task does not kill "Databricks". In the example DAG
``durable_databricks_job`` (``examples/durable_databricks_submit_run.py``), ``durable`` / ``not_durable``
are SIGKILLed while polling a RUNNING run; ``submit_window`` / ``window_not_durable`` inside the
submit-to-persist window (the emulator created the run but holds the ``runs/submit`` answer);
``uninterrupted`` is the baseline. Expected: one run per durable task (the ``idempotency_token`` closes
the window), two per non-durable task, and identical XComs. Core runs the scenario
(:mod:`airflow_durable.demo.runner`); this module declares it.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from typing import TYPE_CHECKING, Any

from airflow_durable.demo.provider import CrashCase, DemoSystem
from airflow_durable_databricks.demo.scenario_workload import DatabricksWorkload

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from airflow_durable.demo.processes import ManagedProcesses
    from airflow_durable_databricks.testing.emulator import EmulatorControl

CONN_ID = "databricks_durable_demo"
WINDOW_TASKS = ("submit_window", "window_not_durable")


def _run_name(task_id: str) -> str:
    return f"durable-demo-{task_id}"


def _serve_emulator(workdir: Path, processes: ManagedProcesses) -> tuple[str, EmulatorControl]:
    """Start the Jobs API emulator as its own process (runs held RUNNING); return its URL and control client."""
    from airflow_durable_databricks.testing.emulator import EmulatorControl

    port_file = workdir / "databricks-emulator.port"
    emulator = "airflow_durable_databricks.testing.emulator:DatabricksJobsEmulator"
    argv = [sys.executable, "-m", "airflow_durable.testing.serve", emulator, "--port-file", str(port_file)]
    processes.start("databricks-emulator", [*argv, "--option", "polls_to_finish=null"])
    url = f"http://127.0.0.1:{processes.wait_for_port_file('databricks-emulator', port_file)}"
    control = EmulatorControl(url)
    control.wait_until_up()
    return url, control


class DatabricksDemo(DatabricksWorkload):
    """The Databricks crash-and-retry demo (see the module docstring), and its soak workload."""

    name = "databricks"
    operator = "DurableDatabricksSubmitRunOperator"
    dag_id = "durable_databricks_job"
    example_dag = "durable_databricks_submit_run.py"
    state_key = "databricks_run_id"
    conn_id = CONN_ID
    crash_cases = (
        CrashCase("mid-poll (SIGKILL supervisor + task process)", "durable", "not_durable", "reconnect"),
        CrashCase("submit→persist window (SIGKILL)", *WINDOW_TASKS, "resubmit_same_token"),
    )

    def task_env(self, workdir: Path) -> dict[str, str]:
        """No ``~/.databrickscfg`` of the user's reaches the SDK."""
        return {"DATABRICKS_CONFIG_FILE": str(workdir / "no-databrickscfg")}

    @contextlib.contextmanager
    def start(
        self, workdir: Path, processes: ManagedProcesses, progress: Callable[[str], None]
    ) -> Iterator[DemoSystem[EmulatorControl]]:
        """Start the emulator; it holds the window tasks' ``runs/submit`` answers after creating their runs."""
        from airflow_durable_databricks.testing.contract import databricks_connection_env

        progress("Starting the Databricks Jobs API emulator (its own process)")
        workdir.mkdir(parents=True, exist_ok=True)
        url, control = _serve_emulator(workdir, processes)
        with control:
            for task_id in WINDOW_TASKS:
                control.delay_submit(_run_name(task_id), 120)
            [spec] = databricks_connection_env(CONN_ID, url, retry_timeout_seconds=30).values()
            yield DemoSystem(control, {CONN_ID: json.loads(spec)})

    def jobs_by_task(self, system: EmulatorControl) -> dict[str, list[str]]:
        """Runs by task, matched on the run name ``durable-demo-<task_id>``."""
        runs: dict[str, list[str]] = {task: [] for task in self.task_ids}
        by_name = {_run_name(task): task for task in self.task_ids}
        for run in system.runs():
            if run["run_name"] in by_name:
                runs[by_name[run["run_name"]]].append(str(run["run_id"]))
        return runs

    def ready_to_kill(self, system: EmulatorControl, record: Callable[[str], Any]) -> bool:
        """The mid-poll pair polled RUNNING runs twice; the window pair's runs exist, unanswered."""
        runs = system.runs()
        polled = {run["run_name"] for run in runs if run["polls"] >= 2}
        created = {run["run_name"] for run in runs}
        stored = record("submit_window")
        window_open = isinstance(stored, dict) and stored.get("phase") == "intent"
        return (
            window_open
            and {_run_name("durable"), _run_name("not_durable")} <= polled
            and {_run_name(task) for task in WINDOW_TASKS} <= created
        )

    def release(self, system: EmulatorControl) -> None:
        """Every held run succeeds after two more polls."""
        system.advance(polls_to_finish=2, outcome="SUCCESS")

    def comparable(self, xcom: Any) -> Any:
        """Mask what differs between two runs of the same job: the run ID and the URL's IDs."""
        if not isinstance(xcom, dict):
            return xcom
        masked = {k: v for k, v in xcom.items() if k != "run_id"}
        if isinstance(masked.get("run_page_url"), str):
            masked["run_page_url"] = re.sub(r"#job/\d+/run/\d+$", "#job/<job_id>/run/<run_id>", masked["run_page_url"])
        return masked
