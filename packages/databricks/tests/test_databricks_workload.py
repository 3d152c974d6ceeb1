"""The Databricks soak workload: its DAG, and its jobs counted from the Jobs API emulator's own records."""

from __future__ import annotations

import httpx

from airflow_durable.demo.workload import WORKLOAD_TASKS, Workload, build_workload_dags, workload_job_name
from airflow_durable_databricks.demo.scenario import CONN_ID, DatabricksDemo
from airflow_durable_databricks.demo.scenario_workload import WORKLOAD_RUN_TASK
from airflow_durable_databricks.testing.emulator import DatabricksJobsEmulator, EmulatorControl


def test_workload_dag_maps_the_operator_over_run_names() -> None:
    dag = build_workload_dags([DatabricksDemo()], Workload(maps=3))["durable_workload_databricks"]
    for task_id in WORKLOAD_TASKS:
        task = dag.get_task(task_id)
        assert task.operator_name == "DurableDatabricksSubmitRunOperator"
        assert task.partial_kwargs["durable"] is (task_id == "durable")
        assert task.partial_kwargs["databricks_conn_id"] == CONN_ID
        assert task.expand_input.value["run_name"] == [workload_job_name(task_id, i) for i in range(3)]


def test_runs_succeed_by_themselves_and_are_counted_per_task_instance() -> None:
    provider = DatabricksDemo()
    with DatabricksJobsEmulator(polls_to_finish=None) as emulator, EmulatorControl(emulator.url) as control:
        provider.prepare_workload(control, Workload(polls_to_finish=2))
        api = f"{emulator.url}/api/2.1/jobs"
        submitted: list[tuple[str, int]] = []
        for name in ("wl-durable-0", "wl-not_durable-1", "durable-demo-durable", "wl-not_durable-1"):
            answer = httpx.post(f"{api}/runs/submit", json={"run_name": name, "tasks": [WORKLOAD_RUN_TASK]})
            submitted.append((name, answer.json()["run_id"]))
        run_id = submitted[0][1]
        states = [httpx.get(f"{api}/runs/get", params={"run_id": run_id}).json()["state"] for _ in range(2)]
        assert [state.get("result_state") for state in states] == [None, "SUCCESS"]
        assert provider.workload_jobs(control) == {
            ("durable", 0): [str(run_id)],
            ("not_durable", 1): [str(submitted[1][1]), str(submitted[3][1])],
        }
        assert provider.vendor_calls(control) == 6
