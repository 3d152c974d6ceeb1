"""``airflow-durable demo spark-k8s``: worker crashes on Airflow 3.3 in Kubernetes cluster mode.

The example DAG ``durable_spark_kubernetes`` runs against the Kubernetes API emulator in its own process, with
pyspark's real ``spark-submit`` creating the driver pods; the crash points are :mod:`.emulated_modes`'.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_durable_spark.demo.emulated_modes import WINDOW_HOLD_SECONDS, EmulatedModeDemo, app_name

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_durable.testing.control import ControlClient

NAMESPACE = "spark-jobs"
"""Where the driver pods go (the Spark connection's extra ``namespace``)."""


class SparkKubernetesDemo(EmulatedModeDemo):
    """Kubernetes cluster mode: the Kubernetes API emulator and pyspark's real ``spark-submit``."""

    name, dag_id, example_dag = "spark-k8s", "durable_spark_kubernetes", "durable_spark_kubernetes.py"
    emulator = "airflow_durable_spark.testing.kubernetes_api:KubernetesApiEmulator"
    running, succeeded, id_field = "Running", "Succeeded", "driver_pod"

    def app(self, task_id: str) -> str:
        """Spark's ``spark-app-name`` pod label: the name with ``_`` turned into ``-``."""
        return app_name(task_id).replace("_", "-")

    def app_of(self, job: dict[str, Any]) -> str:
        """The pod's ``spark-app-name`` label."""
        return str(job["manifest"]["metadata"]["labels"].get("spark-app-name"))

    def window_match(self, task_id: str) -> dict[str, Any]:
        """Pods match by label (their names end in a random suffix)."""
        return {"labels": {"spark-app-name": self.app(task_id)}}

    def release(self, system: ControlClient) -> None:
        """Driver pods succeed on their next status call, and those that exist succeed now.

        A non-durable task's ``spark-submit`` (upstream's path) waits on a watch and reads its pod once, so
        its pod must not wait for status calls; the killed tries' ``spark-submit`` processes exit with it.
        """
        system.finish_after(1, self.succeeded)
        for job in system.jobs():
            if job["state"] in ("Pending", "Running") and not job["forgotten"]:
                system.force_state(job["external_id"], self.succeeded)

    def task_env(self, workdir: Path) -> dict[str, str]:
        """Pyspark's ``spark-submit`` on ``PATH`` (as the standalone demo's), its API timeout above the hold."""
        from airflow_durable_spark.testing.contract import real_spark_submit_env

        timeout_ms = (WINDOW_HOLD_SECONDS + 60) * 1000  # default 10 s: a held pod create would fail spark-submit
        return {
            **real_spark_submit_env(),
            "SPARK_SUBMIT_OPTS": f"-Dspark.kubernetes.submission.requestTimeout={timeout_ms}",
        }

    def connections(self, workdir: Path, url: str) -> dict[str, dict[str, Any]]:
        """The Spark connection (master ``k8s://<url>``) and the cncf.kubernetes one (a kubeconfig in ``workdir``)."""
        from airflow_durable_spark.testing import contract

        kubeconfig = contract.write_kubeconfig(workdir / "kubeconfig", url, NAMESPACE)
        env = {
            **contract.kubernetes_connection_env("spark_k8s_durable_demo", url, NAMESPACE),
            **contract.kubernetes_api_connection_env("kubernetes_durable_demo", kubeconfig),
        }
        return {key.removeprefix("AIRFLOW_CONN_").lower(): json.loads(value) for key, value in env.items()}
