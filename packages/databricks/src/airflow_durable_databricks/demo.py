"""``airflow-durable demo databricks``: real worker crashes on real Airflow 3.3, against the Jobs API emulator.

The emulator (``python -m airflow_durable.testing.serve``) runs as its own process, so killing a task
does not kill "Databricks". One run of ``durable_databricks_job`` (``examples/durable_databricks_submit_run.py``):

- ``durable`` / ``not_durable`` are SIGKILLed (supervisor and task process) while polling a RUNNING run;
- ``submit_window`` / ``window_not_durable`` are SIGKILLed inside the submit-to-persist window: the
  emulator has created the run but holds the ``runs/submit`` response;
- ``uninterrupted`` is the baseline.

Airflow's heartbeat-timeout detection schedules every retry. Expected: one run per durable task (the
``idempotency_token`` closes the window), two per non-durable task, and identical XComs.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_durable.demo.airflow_stack import AirflowStack
from airflow_durable.demo.scenario import DemoResult, install_example_dag

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_durable.demo.processes import ManagedProcesses
    from airflow_durable_databricks.testing.emulator import EmulatorControl

DAG_ID = "durable_databricks_job"
CONN_ID = "databricks_durable_demo"
STATE_KEY = "databricks_run_id"
EXAMPLE_DAG = "durable_databricks_submit_run.py"
MID_POLL = ("durable", "not_durable")
IN_WINDOW = ("submit_window", "window_not_durable")
TASKS = (*MID_POLL, *IN_WINDOW, "uninterrupted")


def _run_name(task_id: str) -> str:
    return f"durable-demo-{task_id}"


def _comparable(xcom: Any) -> Any:
    """Mask what differs between two runs of the same job: the run ID and the URL's IDs."""
    if not isinstance(xcom, dict):
        return xcom
    masked = {k: v for k, v in xcom.items() if k != "run_id"}
    if isinstance(masked.get("run_page_url"), str):
        masked["run_page_url"] = re.sub(r"#job/\d+/run/\d+$", "#job/<job_id>/run/<run_id>", masked["run_page_url"])
    return masked


@dataclass
class DatabricksDemoScenario:
    """The Databricks crash-and-retry scenario (see the module docstring).

    Attributes:
        heartbeat_timeout_seconds: Airflow's ``task_instance_heartbeat_timeout``.
        timeout_seconds: Upper bound of each wait.
    """

    provider: str = "databricks"
    heartbeat_timeout_seconds: int = 6
    timeout_seconds: float = 240.0

    def run(self, workdir: Path, processes: ManagedProcesses, progress: Callable[[str], None]) -> list[DemoResult]:
        """Run the scenario; see :class:`airflow_durable.demo.scenario.DemoScenario`."""
        from airflow_durable_databricks.testing.contract import databricks_connection_env
        from airflow_durable_databricks.testing.emulator import EmulatorControl

        started = time.monotonic()
        port_file = workdir / "databricks-emulator.port"
        progress("Starting the Databricks Jobs API emulator (its own process)")
        processes.start(
            "databricks-emulator",
            [
                sys.executable,
                "-m",
                "airflow_durable.testing.serve",
                "airflow_durable_databricks.testing.emulator:DatabricksJobsEmulator",
                "--port",
                "0",
                "--port-file",
                str(port_file),
                "--option",
                "polls_to_finish=null",
            ],
        )
        deadline = time.monotonic() + 30
        while not port_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        control = EmulatorControl(url)
        control.wait_until_up()
        for task_id in IN_WINDOW:
            control.delay_submit(_run_name(task_id), 120)

        dags = workdir / "dags"
        install_example_dag(__file__, EXAMPLE_DAG, dags)
        env = {
            **databricks_connection_env(CONN_ID, url, retry_timeout_seconds=30),
            "AIRFLOW__CORE__PARALLELISM": "8",
            "HOME": str(workdir),  # no ~/.databrickscfg of the user's
        }
        stack = AirflowStack(
            workdir / "airflow",
            dags,
            processes,
            extra_env=env,
            heartbeat_timeout_seconds=self.heartbeat_timeout_seconds,
        )
        stack.start(progress)
        progress(f"Triggering {DAG_ID}")
        run_id = stack.trigger(DAG_ID)
        self._wait_until_in_position(stack, control, run_id, progress)
        progress("SIGKILLing four tasks' worker processes: two mid-poll, two inside the submit window")
        for task_id in (*MID_POLL, *IN_WINDOW):
            stack.kill_task_processes(DAG_ID, run_id, task_id)
        killed_at = time.monotonic()
        reconnected_at = stack.wait_for_log(
            DAG_ID, run_id, "durable", 2, r"decision.{0,4}reconnect", self.timeout_seconds
        )
        adopted_at = stack.wait_for_log(
            DAG_ID, run_id, "submit_window", 2, r"decision.{0,4}resubmit_same_token", self.timeout_seconds
        )
        progress(
            f"Retries: 'durable' reconnected {reconnected_at - killed_at:.1f} s after the kill, "
            f"'submit_window' resubmitted with its token {adopted_at - killed_at:.1f} s after it"
        )
        control.advance(polls_to_finish=2, outcome="SUCCESS")
        final_state = stack.wait_for_dag_run(DAG_ID, run_id, self.timeout_seconds)
        return self._results(stack, control, run_id, final_state, killed_at, reconnected_at, adopted_at, started)

    def _wait_until_in_position(
        self, stack: AirflowStack, control: EmulatorControl, run_id: str, progress: Callable[[str], None]
    ) -> None:
        deadline = time.monotonic() + self.timeout_seconds
        while time.monotonic() < deadline:
            names = {run["run_name"] for run in control.runs()}
            polled = {run["run_name"] for run in control.runs() if run["polls"] >= 2}
            record = stack.state_store(DAG_ID, run_id, "submit_window").get(STATE_KEY)
            window_open = isinstance(record, dict) and record.get("phase") == "intent"
            if (
                all(_run_name(t) in polled for t in ("durable",))
                and _run_name("not_durable") in polled
                and all(_run_name(t) in names for t in IN_WINDOW)
                and window_open
            ):
                progress(
                    "'durable' and 'not_durable' are polling RUNNING runs; the two window tasks wait on runs/submit"
                )
                return
            time.sleep(0.5)
        raise TimeoutError(f"the tasks did not reach their crash points within {self.timeout_seconds} s")

    def _results(
        self,
        stack: AirflowStack,
        control: EmulatorControl,
        run_id: str,
        final_state: str,
        killed_at: float,
        reconnected_at: float,
        adopted_at: float,
        started: float,
    ) -> list[DemoResult]:
        runs: dict[str, list[int]] = {task: [] for task in TASKS}
        by_name = {_run_name(task): task for task in TASKS}
        for run in control.runs():
            if run["run_name"] in by_name:
                runs[by_name[run["run_name"]]].append(run["run_id"])
        xcoms: dict[str, Any] = {}
        for task in ("durable", "submit_window", "uninterrupted"):
            try:
                xcoms[task] = stack.xcom(DAG_ID, run_id, task)
            except KeyError:
                xcoms[task] = None
        baseline = _comparable(xcoms["uninterrupted"])
        tries = {task: stack.task_instance(DAG_ID, run_id, task).get("try_number") for task in TASKS}
        seconds = round(time.monotonic() - started, 1)
        details_common = {"runs": runs, "try_numbers": tries, "xcoms": xcoms, "dag_run_state": final_state}
        rows = []
        for crash_point, durable, twin, at in (
            ("mid-poll (SIGKILL supervisor + task process)", "durable", "not_durable", reconnected_at),
            ("submit→persist window (SIGKILL)", "submit_window", "window_not_durable", adopted_at),
        ):
            same = _comparable(xcoms[durable]) == baseline and baseline is not None
            ok = final_state == "success" and len(runs[durable]) == 1 and len(runs[twin]) == 2 and same
            rows.append(
                DemoResult(
                    provider=self.provider,
                    operator="DurableDatabricksSubmitRunOperator",
                    crash_point=crash_point,
                    jobs_durable=len(runs[durable]),
                    jobs_not_durable=len(runs[twin]),
                    result=f"dag run {final_state}; " + ("XCom = uninterrupted run's" if same else "XCom differs"),
                    seconds=seconds,
                    details={**details_common, "ok": ok, "kill_to_retry_decision_seconds": round(at - killed_at, 1)},
                )
            )
        return rows


def scenario() -> DatabricksDemoScenario:
    """The ``airflow_durable.demo`` entry point of this package."""
    return DatabricksDemoScenario()
