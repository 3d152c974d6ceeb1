"""Smoke test of the real-Airflow harness: a SIGKILLed worker is retried by Airflow itself.

One real Airflow 3.3 stack (api-server + scheduler, LocalExecutor, SQLite) serves the module.
"""

from __future__ import annotations

import textwrap
import time
from typing import TYPE_CHECKING, Any

import psutil
import pytest

from airflow_durable.demo.airflow_stack import AirflowStack, AirflowStackError, TaskStateError
from airflow_durable.demo.processes import ManagedProcesses

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e

SLOW_DAG = "durable_harness_slow"
STATE_DAG = "durable_harness_state"

DAGS = {
    "harness_slow.py": f'''
        from __future__ import annotations

        import time
        from datetime import timedelta

        from airflow.sdk import dag, task


        @dag(dag_id="{SLOW_DAG}", schedule=None, catchup=False)
        def harness_slow():
            @task(retries=1, retry_delay=timedelta(seconds=2))
            def slow() -> dict[str, int]:
                print("SLOW_TASK_STARTED")
                time.sleep(20)
                print("SLOW_TASK_FINISHED")
                return {{"answer": 42}}

            slow()


        harness_slow()
    ''',
    "harness_state.py": f'''
        from __future__ import annotations

        import os

        from airflow.sdk import Connection, dag, get_current_context, task


        @dag(dag_id="{STATE_DAG}", schedule=None, catchup=False)
        def harness_state():
            @task
            def remember() -> dict[str, object]:
                store = get_current_context()["task_state_store"]
                store.set("job", {{"external_id": "driver-20260101-0001", "generation": 0}})
                store.set("counter", 7)
                store.set("counter", 8)
                return {{
                    "job": store.get("job"),
                    "counter": store.get("counter"),
                    "missing": store.get("nope"),
                    "extra_env": os.environ.get("DURABLE_HARNESS_EXTRA"),
                    "leaked_config": os.environ.get("AIRFLOW__CORE__DURABLE_HARNESS_LEAK"),
                    "connection_host": Connection.get("durable_harness").host,
                }}

            remember()


        harness_state()
    ''',
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowStack]:
    workdir = tmp_path_factory.mktemp("airflow_stack")
    dags_folder = workdir / "dags"
    dags_folder.mkdir()
    for name, source in DAGS.items():
        (dags_folder / name).write_text(textwrap.dedent(source))
    extra_env = {
        "DURABLE_HARNESS_EXTRA": "reaches-the-task",
        "AIRFLOW_CONN_DURABLE_HARNESS": "http://harness-host.invalid:1234",
    }
    with ManagedProcesses(workdir / "service-logs") as processes, pytest.MonkeyPatch.context() as patch:
        # A stray AIRFLOW__* variable in the caller's environment must not leak into the stack.
        patch.setenv("AIRFLOW__CORE__DURABLE_HARNESS_LEAK", "leaked")
        airflow = AirflowStack(
            workdir / "airflow-home", dags_folder, processes, extra_env=extra_env, heartbeat_timeout_seconds=6
        )
        airflow.start(progress=lambda message: print(message, flush=True))
        yield airflow
        airflow.stop()
        pids = processes.owned_pids()
        assert pids == [], f"processes left after stop(): {pids}"


def test_sigkilled_worker_is_retried_by_airflow(stack: AirflowStack, record_property: Any) -> None:
    run_id = stack.trigger(SLOW_DAG)
    first = stack.wait_for_task(SLOW_DAG, run_id, "slow", "running", timeout_seconds=60)
    assert first["try_number"] == 1
    stack.wait_for_log(SLOW_DAG, run_id, "slow", 1, "SLOW_TASK_STARTED", timeout_seconds=30)

    titles = stack.task_processes(SLOW_DAG, run_id, "slow")
    # The process titles on Airflow 3.3 under LocalExecutor: the supervisor and the task process.
    assert set(titles.values()) == {
        f"airflow worker -- LocalExecutor: {first['id']}",
        f"airflow worker -- {first['id']}",
    }
    killed = stack.kill_task_processes(SLOW_DAG, run_id, "slow")
    assert killed == sorted(titles)
    killed_at = time.monotonic()
    # Both the supervisor and the task process died.
    assert len(killed) == 2, killed
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in killed)

    # Nobody tells Airflow: its heartbeat-timeout detection must schedule try 2 by itself.
    second = stack.wait_for_task(
        SLOW_DAG,
        run_id,
        "slow",
        lambda ti: ti["try_number"] == 2 and ti["state"] == "running",
        timeout_seconds=60,
    )
    kill_to_try_2_seconds = time.monotonic() - killed_at
    record_property("kill_to_try_2_running_seconds", round(kill_to_try_2_seconds, 1))
    print(f"kill -> try 2 running: {kill_to_try_2_seconds:.1f} s")
    # Airflow 3 gives every try its own task-instance ID.
    assert second["id"] != first["id"]

    assert stack.wait_for_dag_run(SLOW_DAG, run_id, timeout_seconds=90) == "success"
    final = stack.task_instance(SLOW_DAG, run_id, "slow")
    assert final["state"] == "success"
    assert final["try_number"] == 2
    assert stack.xcom(SLOW_DAG, run_id, "slow") == {"answer": 42}

    # Try 1 really died mid-sleep; try 2 ran to the end.
    first_log = stack.task_log(SLOW_DAG, run_id, "slow", 1)
    assert "SLOW_TASK_STARTED" in first_log
    assert "SLOW_TASK_FINISHED" not in first_log
    assert "SLOW_TASK_FINISHED" in stack.task_log(SLOW_DAG, run_id, "slow", 2)

    # Once the supervisor of try 2 has exited, there is nothing left to kill.
    deadline = time.monotonic() + 20
    while stack.task_processes(SLOW_DAG, run_id, "slow") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stack.task_processes(SLOW_DAG, run_id, "slow") == {}
    with pytest.raises(AirflowStackError, match="no running process"):
        stack.kill_task_processes(SLOW_DAG, run_id, "slow")


def test_state_store_reads_the_real_table(stack: AirflowStack) -> None:
    run_id = stack.trigger(STATE_DAG)
    assert stack.wait_for_dag_run(STATE_DAG, run_id, timeout_seconds=60) == "success"

    expected_job = {"external_id": "driver-20260101-0001", "generation": 0}
    assert stack.state_store(STATE_DAG, run_id, "remember") == {"job": expected_job, "counter": 8}
    # What the task read back through the SDK matches the table.
    assert stack.xcom(STATE_DAG, run_id, "remember") == {
        "job": expected_job,
        "counter": 8,
        "missing": None,
        # extra_env (including an AIRFLOW_CONN_* connection) reaches the task process; stray config does not.
        "extra_env": "reaches-the-task",
        "leaked_config": None,
        "connection_host": "harness-host.invalid",
    }
    # Scoped by task and map index.
    assert stack.state_store(STATE_DAG, run_id, "other_task") == {}
    assert stack.state_store(STATE_DAG, run_id, "remember", map_index=0) == {}
    with pytest.raises(KeyError, match="no_such_key"):
        stack.xcom(STATE_DAG, run_id, "remember", key="no_such_key")

    # Waits fail fast on a terminal state, and time out with the relevant log tail.
    with pytest.raises(TaskStateError, match="terminal state 'success'"):
        stack.wait_for_task(STATE_DAG, run_id, "remember", "running", timeout_seconds=30)
    with pytest.raises(TimeoutError, match="scheduler log tail"):
        stack.wait_for_log(STATE_DAG, run_id, "remember", 1, "never-printed", timeout_seconds=1)
