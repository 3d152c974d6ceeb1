"""The Spark standalone soak workload: its DAG, its drivers counted from the worker, the proxy before the master."""

from __future__ import annotations

import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
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
from airflow_durable.testing import ControlClient
from airflow_durable_spark.demo.cluster import DRIVER_WRAPPER_CLASS, SparkStandaloneCluster
from airflow_durable_spark.demo.master_proxy import SparkMasterProxy
from airflow_durable_spark.demo.scenario import SparkDemo
from airflow_durable_spark.demo.scenario_workload import (
    CONN_ID,
    MAX_APPLICATIONS,
    WORKLOAD_CONN_ID,
    SparkSystem,
    connections,
)
from airflow_durable_spark.demo.scenario_yarn import SparkYarnDemo
from airflow_durable_spark.testing.emulator import SparkMasterEmulator
from airflow_durable_spark.testing.yarn import YarnResourceManagerEmulator


@pytest.fixture
def proxied() -> Iterator[tuple[SparkMasterEmulator, SparkMasterProxy, ControlClient]]:
    """A master emulator (standing in for the real master) behind the proxy, both in-process."""
    with (
        SparkMasterEmulator() as master,
        SparkMasterProxy(upstream=master.url) as proxy,
        ControlClient(proxy.url) as control,
    ):
        yield master, proxy, control


def create_request(name: str, master_url: str) -> dict[str, Any]:
    """A ``CreateSubmissionRequest`` as ``spark-submit`` sends it, ``--master`` being ``master_url``."""
    properties = {"spark.app.name": name, "spark.master": master_url, "spark.submit.deployMode": "cluster"}
    return {
        "action": "CreateSubmissionRequest",
        "appResource": "file:/jobs/demo.jar",
        "mainClass": "DurableDemoApp",
        "appArgs": ["6", "1000"],
        "clientSparkVersion": "4.0.0",
        "environmentVariables": {},
        "sparkProperties": properties,
    }


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
        assert task.partial_kwargs["conn_id"] == WORKLOAD_CONN_ID
        assert task.partial_kwargs["application"] == "/jobs/demo.jar"
        assert task.partial_kwargs["application_args"] == ["5", "1000"], "each driver runs about 5 seconds"
        assert task.expand_input.value["name"] == [workload_job_name(task_id, index) for index in range(3)]


def test_a_workload_that_would_starve_the_executors_is_refused() -> None:
    maps = MAX_APPLICATIONS // 2 + 1
    build_workload_dags([SparkDemo()], Workload(maps=MAX_APPLICATIONS, twins=False))
    with pytest.raises(WorkloadConfigError, match=f"at most {MAX_APPLICATIONS} applications"):
        build_workload_dags([SparkDemo()], Workload(maps=maps))


def test_drivers_are_counted_per_task_instance_from_the_worker(tmp_path: Path, proxied: Any) -> None:
    cluster, (_, _, proxy) = SparkStandaloneCluster(tmp_path, None), proxied
    names = {1: "wl-durable-0", 2: "wl-not_durable-1", 3: "durable-demo-durable", 4: "wl-not_durable-1", 5: None}
    for number, name in names.items():
        driver = cluster.worker_dir / f"driver-20990101000000-{number:04d}"
        driver.mkdir(parents=True)
        if name is not None:  # driver 5 is launched but its stderr is not written yet
            options = f'"-Dspark.app.name={name}" "{DRIVER_WRAPPER_CLASS}" "-Dspark.app.name=not-this"'
            (driver / "stderr").write_text(f'Launch Command: "/usr/bin/java" "-cp" "jars/*" {options}\n')
    assert SparkDemo().workload_jobs(SparkSystem(cluster, proxy)) == {
        ("durable", 0): ["driver-20990101000000-0001"],
        ("not_durable", 1): ["driver-20990101000000-0002", "driver-20990101000000-0004"],
    }


def test_the_proxy_forwards_counts_and_faults_the_gateway_requests(proxied: Any, tmp_path: Path) -> None:
    master, proxy, control = proxied
    system = SparkSystem(SparkStandaloneCluster(tmp_path, None), control)
    master.hold()
    proxy_port, master_port = proxy.port, master.port
    created = httpx.post(
        f"{proxy.url}/v1/submissions/create", json=create_request("wl-durable-0", f"spark://127.0.0.1:{proxy_port}")
    )
    assert created.json()["success"] is True
    [driver] = master.drivers
    assert driver.spark_properties["spark.master"] == f"spark://127.0.0.1:{master_port}", "the master's own URL"
    status = httpx.get(f"{proxy.url}/v1/submissions/status/{driver.driver_id}")
    assert status.text == httpx.get(f"{master.url}/v1/submissions/status/{driver.driver_id}").text
    assert httpx.get(f"{proxy.url}/json/").json()["activedrivers"][0]["id"] == driver.driver_id
    assert SparkDemo().vendor_calls(system) == 2, "create and status; the master UI's /json/ is no gateway call"
    control.fail_next(1, 503, endpoint="status")
    assert httpx.get(f"{proxy.url}/v1/submissions/status/{driver.driver_id}").status_code == 503
    assert master.status_calls[driver.driver_id] == 2, "the fault never reached the master"
    assert SparkDemo().vendor_calls(system) == 3
    master.stop()
    down = httpx.get(f"{proxy.url}/v1/submissions/status/{driver.driver_id}")
    assert (down.status_code, proxy_port) == (502, proxy.port)
    assert connections(6066, control)[CONN_ID]["port"] == 6066
    assert connections(6066, control)[WORKLOAD_CONN_ID]["extra"]["rest-port"] == proxy_port


def test_yarn_workload_dag_maps_the_operator_over_application_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_DURABLE_DEMO_YARN_SPARK_SUBMIT", "/demo/bin/spark-submit")
    dag = build_workload_dags([SparkYarnDemo()], Workload(maps=2))["durable_workload_spark_yarn"]
    for task_id in WORKLOAD_TASKS:
        task = dag.get_task(task_id)
        assert task.partial_kwargs["durable"] is (task_id == "durable")
        assert task.partial_kwargs["conn_id"] == "spark_yarn_durable_demo"
        assert task.partial_kwargs["spark_binary"] == "/demo/bin/spark-submit"
        assert task.expand_input.value["name"] == [workload_job_name(task_id, index) for index in range(2)]


def test_yarn_applications_succeed_by_themselves_and_are_counted_per_task_instance() -> None:
    provider = SparkYarnDemo()
    with YarnResourceManagerEmulator() as rm, ControlClient(rm.url) as control:
        control.hold(provider.running)  # as the demo's start() leaves it
        provider.prepare_workload(control, Workload(polls_to_finish=2))
        api = f"{rm.url}/ws/v1/cluster/apps"

        def submit(name: str) -> str:
            app_id = httpx.post(f"{api}/new-application").json()["application-id"]
            context = {"application-id": app_id, "application-name": name, "application-type": "SPARK"}
            assert httpx.post(api, json=context).status_code == 202
            return str(app_id)

        apps = [submit(name) for name in ("wl-durable-1", "durable-demo-durable", "wl-durable-1", "wl-not_durable-0")]
        states = [httpx.get(f"{api}/{apps[0]}").json()["app"]["finalStatus"] for _ in "ab"]
        assert states == ["UNDEFINED", "SUCCEEDED"]
        assert provider.workload_jobs(control) == {("durable", 1): [apps[0], apps[2]], ("not_durable", 0): [apps[3]]}
        assert provider.vendor_calls(control) == 2 * 4 + 2
