"""Example: a Spark job on a standalone cluster that survives a worker crash.

``durable_spark_job`` runs the same Spark application three ways, one task each:

- ``durable``: ``DurableSparkSubmitOperator`` (the end-to-end test kills this task's worker mid-poll);
- ``not_durable``: the same with ``durable=False`` (killed too: its retry submits a second driver);
- ``uninterrupted``: the same, durable and left alone, as the baseline result.

Configuration comes from the environment so the DAG file runs unchanged in the demo and in your
deployment:

- connection ``spark_durable_demo``, e.g.
  ``AIRFLOW_CONN_SPARK_DURABLE_DEMO='{"conn_type": "spark", "host": "spark://127.0.0.1", "port": 6066,
  "extra": {"deploy-mode": "cluster", "rest-port": 6066}}'``;
- ``AIRFLOW_DURABLE_DEMO_JAR``: the application jar (``airflow_durable_spark.demo.demo_app.build_demo_jar``);
- ``AIRFLOW_DURABLE_DEMO_SECONDS``: how long each driver runs (default 30).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_durable_spark.operators import DurableSparkSubmitOperator

SECONDS = os.environ.get("AIRFLOW_DURABLE_DEMO_SECONDS", "30")

with DAG(
    dag_id="durable_spark_job",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=2)},
    tags=["airflow-durable", "example"],
) as dag:
    for task_id, durable in (("durable", True), ("not_durable", False), ("uninterrupted", True)):
        DurableSparkSubmitOperator(
            task_id=task_id,
            conn_id="spark_durable_demo",
            application=os.environ.get("AIRFLOW_DURABLE_DEMO_JAR", "/opt/jobs/durable-demo.jar"),
            java_class=os.environ.get("AIRFLOW_DURABLE_DEMO_CLASS", "DurableDemoApp"),
            application_args=[SECONDS, "1000"],
            name=f"durable-demo-{task_id}",
            driver_memory="512m",
            executor_memory="512m",
            total_executor_cores=1,
            executor_cores=1,
            # spark.master.rest.enabled: spark-submit speaks REST to the master's REST port (6066).
            conf={"spark.driver.cores": "1", "spark.master.rest.enabled": "true"},
            durable=durable,
            poll_interval_seconds=1,
            max_poll_interval_seconds=3,
        )
