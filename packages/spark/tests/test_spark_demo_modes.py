"""The YARN and Kubernetes demos' own decisions, without Airflow: when to kill, what counts, what is released."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_durable_spark.demo.emulated_modes import EmulatedModeDemo
from airflow_durable_spark.demo.scenario_kubernetes import NAMESPACE, SparkKubernetesDemo
from airflow_durable_spark.demo.scenario_yarn import SparkYarnDemo


class FakeControl:
    """The controls the demos call, recorded; ``jobs()`` answers what the test set."""

    def __init__(self, jobs: list[dict[str, Any]]) -> None:
        self._jobs = jobs
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def jobs(self) -> list[dict[str, Any]]:
        return self._jobs

    def finish_after(self, *args: Any) -> None:
        self.calls.append(("finish_after", args))

    def force_state(self, *args: Any) -> None:
        self.calls.append(("force_state", args))


def job(demo: EmulatedModeDemo, task_id: str, status_calls: int, state: str = "Running") -> dict[str, Any]:
    app = f"durable-demo-{task_id}"
    record: dict[str, Any] = {"external_id": f"id-{task_id}", "status_calls": status_calls, "state": state}
    record["forgotten"] = False
    if isinstance(demo, SparkKubernetesDemo):  # Spark's spark-app-name label: "_" becomes "-"
        return record | {"manifest": {"metadata": {"labels": {"spark-app-name": app.replace("_", "-")}}}}
    return record | {"name": app}


def at_crash_points(demo: EmulatedModeDemo, **status_calls: int) -> list[dict[str, Any]]:
    calls = {"durable": 2, "not_durable": 1, "submit_window": 0, "window_not_durable": 0, **status_calls}
    return [job(demo, task, n) for task, n in calls.items() if n >= 0]


INTENT = {"phase": "intent"}


@pytest.mark.parametrize("demo", [SparkYarnDemo(), SparkKubernetesDemo()], ids=lambda d: d.name)
def test_ready_to_kill_needs_every_crash_point(demo: EmulatedModeDemo) -> None:
    def ready(jobs: list[dict[str, Any]], stored: Any = INTENT) -> bool:
        return demo.ready_to_kill(FakeControl(jobs), lambda task_id: stored if task_id == "submit_window" else None)  # type: ignore[arg-type]

    assert ready(at_crash_points(demo))
    assert not ready(at_crash_points(demo, durable=1)), "the durable task has not polled twice"
    assert not ready(at_crash_points(demo, not_durable=0)), "the twin's job was never seen"
    assert not ready(at_crash_points(demo, window_not_durable=-1)), "a window job does not exist yet"
    assert not ready(at_crash_points(demo), {"phase": "submitted"}), "the window closed: the ID is stored"
    assert not ready(at_crash_points(demo), None), "the durable window task stored nothing yet"


@pytest.mark.parametrize("demo", [SparkYarnDemo(), SparkKubernetesDemo()], ids=lambda d: d.name)
def test_jobs_by_task_and_comparable(demo: EmulatedModeDemo) -> None:
    jobs = [*at_crash_points(demo), job(demo, "not_durable", 0), job(demo, "uninterrupted", 3)]
    by_task = demo.jobs_by_task(FakeControl(jobs))  # type: ignore[arg-type]
    assert by_task["not_durable"] == ["id-not_durable", "id-not_durable"]
    assert by_task["window_not_durable"] == ["id-window_not_durable"]
    assert by_task["uninterrupted"] == ["id-uninterrupted"]
    first, second = ({demo.id_field: job_id, "other": 1} for job_id in ("a", "b"))
    assert demo.comparable(first) == demo.comparable(second) == {"other": 1}


def test_kubernetes_release_finishes_existing_pods_now_and_new_ones_on_first_read() -> None:
    demo = SparkKubernetesDemo()
    control = FakeControl(
        [job(demo, "durable", 2), job(demo, "not_durable", 1, "Pending"), job(demo, "x", 1, "Failed")]
    )
    demo.release(control)  # type: ignore[arg-type]
    assert control.calls == [
        ("finish_after", (1, "Succeeded")),
        ("force_state", ("id-durable", "Succeeded")),
        ("force_state", ("id-not_durable", "Succeeded")),
    ]


def test_connections_reach_the_emulator(tmp_path: Path) -> None:
    yarn = SparkYarnDemo().connections(tmp_path / "yarn", "http://127.0.0.1:8088")
    assert yarn["spark_yarn_durable_demo"]["extra"]["yarn_resourcemanager_webapp_address"] == "http://127.0.0.1:8088"
    assert (tmp_path / "yarn" / "bin" / "spark-submit").is_file()
    assert "127.0.0.1:8088" in (tmp_path / "yarn" / "hadoop-conf" / "yarn-site.xml").read_text()
    assert SparkYarnDemo().task_env(tmp_path / "yarn") == {
        "AIRFLOW_DURABLE_DEMO_YARN_SPARK_SUBMIT": str(tmp_path / "yarn" / "bin" / "spark-submit")
    }
    k8s = SparkKubernetesDemo().connections(tmp_path / "k8s", "http://127.0.0.1:6443")
    assert k8s["spark_k8s_durable_demo"]["host"] == "k8s://http://127.0.0.1"
    assert k8s["spark_k8s_durable_demo"]["extra"]["namespace"] == NAMESPACE
    kubeconfig = Path(k8s["kubernetes_durable_demo"]["extra"]["kube_config_path"])
    assert json.loads(kubeconfig.read_text())["clusters"][0]["cluster"]["server"] == "http://127.0.0.1:6443"
