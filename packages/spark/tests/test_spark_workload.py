"""The Spark standalone soak workload: its DAG from the workload DAG file, and its drivers counted from the worker."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from airflow_durable.demo import workload as workload_module
from airflow_durable.demo.workload import (
    WORKLOAD_ENV,
    WORKLOAD_TASKS,
    Workload,
    WorkloadConfigError,
    build_workload_dags,
    workload_env,
    workload_job_name,
)
from airflow_durable_spark.demo.cluster import DRIVER_WRAPPER_CLASS, SparkStandaloneCluster
from airflow_durable_spark.demo.scenario import CONN_ID, SparkDemo
from airflow_durable_spark.demo.scenario_workload import MAX_APPLICATIONS


def test_workload_dag_file_maps_the_operator_over_application_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_DURABLE_DEMO_JAR", "/jobs/demo.jar")
    monkeypatch.setenv(WORKLOAD_ENV, workload_env(["spark"], Workload(maps=3, polls_to_finish=5))[WORKLOAD_ENV])
    found = runpy.run_path(str(Path(workload_module.__file__).with_name("workload_dag.py")))
    dag = found["durable_workload_spark"]
    assert sorted(dag.task_ids) == sorted(WORKLOAD_TASKS)
    for task_id in WORKLOAD_TASKS:
        task = dag.get_task(task_id)
        assert task.operator_name == "DurableSparkSubmitOperator"
        assert task.partial_kwargs["durable"] is (task_id == "durable")
        assert (task.partial_kwargs["conn_id"], task.partial_kwargs["application"]) == (CONN_ID, "/jobs/demo.jar")
        assert task.partial_kwargs["application_args"] == ["5", "1000"], "each driver runs about 5 seconds"
        assert task.expand_input.value["name"] == [workload_job_name(task_id, index) for index in range(3)]


def test_a_workload_that_would_starve_the_executors_is_refused() -> None:
    maps = MAX_APPLICATIONS // 2 + 1
    build_workload_dags([SparkDemo()], Workload(maps=MAX_APPLICATIONS, twins=False))
    with pytest.raises(WorkloadConfigError, match=f"at most {MAX_APPLICATIONS} applications"):
        build_workload_dags([SparkDemo()], Workload(maps=maps))


def test_drivers_are_counted_per_task_instance_from_the_worker(tmp_path: Path) -> None:
    cluster = SparkStandaloneCluster(tmp_path, None)
    names = {1: "wl-durable-0", 2: "wl-not_durable-1", 3: "durable-demo-durable", 4: "wl-not_durable-1", 5: None}
    for number, name in names.items():
        driver = cluster.worker_dir / f"driver-20990101000000-{number:04d}"
        driver.mkdir(parents=True)
        if name is not None:  # driver 5 is launched but its stderr is not written yet
            options = f'"-Dspark.app.name={name}" "{DRIVER_WRAPPER_CLASS}" "-Dspark.app.name=not-this"'
            (driver / "stderr").write_text(f'Launch Command: "/usr/bin/java" "-cp" "jars/*" {options}\n')
    assert SparkDemo().workload_jobs(cluster) == {
        ("durable", 0): ["driver-20990101000000-0001"],
        ("not_durable", 1): ["driver-20990101000000-0002", "driver-20990101000000-0004"],
    }
    with pytest.raises(NotImplementedError, match="counts no REST requests"):
        SparkDemo().vendor_calls(cluster)
