"""``airflow-durable demo spark-yarn``: worker crashes on Airflow 3.3 in YARN cluster mode.

The example DAG ``durable_spark_yarn`` runs against the ResourceManager REST emulator in its own process, with
the stand-in ``spark-submit`` for ``--master yarn`` (the real client speaks Hadoop IPC, which no emulator here
serves); the crash points are :mod:`.emulated_modes`'.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_durable_spark.demo.emulated_modes import EmulatedModeDemo
from airflow_durable_spark.demo.emulated_modes_workload import SparkYarnWorkload

if TYPE_CHECKING:
    from pathlib import Path


class SparkYarnDemo(SparkYarnWorkload, EmulatedModeDemo):
    """YARN cluster mode: the ResourceManager REST emulator and the stand-in ``spark-submit``; and its soak workload."""

    name, dag_id, example_dag = "spark-yarn", "durable_spark_yarn", "durable_spark_yarn.py"
    emulator = "airflow_durable_spark.testing.yarn:YarnResourceManagerEmulator"
    running, succeeded, id_field = "RUNNING/UNDEFINED", "FINISHED/SUCCEEDED", "application_id"

    def task_env(self, workdir: Path) -> dict[str, str]:
        """The stand-in ``spark-submit`` the example runs (written by ``start``); pyspark's stays on ``PATH``."""
        return {"AIRFLOW_DURABLE_DEMO_YARN_SPARK_SUBMIT": str(workdir / "bin" / "spark-submit")}

    def connections(self, workdir: Path, url: str) -> dict[str, dict[str, Any]]:
        """The Spark connection (the RM's web address); the stand-in and its ``yarn-site.xml`` go to ``workdir``."""
        from airflow_durable_spark.testing.contract import install_fake_spark_submit_yarn, yarn_connection_env

        install_fake_spark_submit_yarn(workdir / "bin", url, workdir / "hadoop-conf")
        return {"spark_yarn_durable_demo": json.loads(*yarn_connection_env("spark_yarn_durable_demo", url).values())}
