"""Example: a Spark application in YARN cluster mode that survives a worker crash, exactly once.

``durable_spark_yarn`` submits the same application five ways, one Airflow task each: ``durable`` and
``not_durable`` are killed while polling, ``submit_window`` and ``window_not_durable`` after YARN accepted the
application and before its ID reached ``task_state_store`` (the durable retry finds the application by its
``spark.yarn.tags`` token through the ResourceManager REST API and adopts it), ``uninterrupted`` is the baseline.

Connection ``spark_yarn_durable_demo`` (Spark, host ``yarn``) with the extras ``deploy-mode: cluster`` and
``yarn_resourcemanager_webapp_address`` (the ResourceManager's ``http://host:8088``), e.g.
``AIRFLOW_CONN_SPARK_YARN_DURABLE_DEMO='{"conn_type": "spark", "host": "yarn", "extra": {"deploy-mode":
"cluster", "yarn_resourcemanager_webapp_address": "http://rm.example.com:8088"}}'``; ``spark-submit`` finds the
ResourceManager's IPC address in ``$HADOOP_CONF_DIR/yarn-site.xml`` as usual.

``AIRFLOW_DURABLE_DEMO_YARN_SPARK_SUBMIT`` names the ``spark-submit`` to run (default ``spark-submit``); the
demo points it at a stand-in that speaks the ResourceManager's REST API (no Hadoop IPC on the demo machine).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_durable_spark.operators import DurableSparkSubmitOperator

with DAG(
    dag_id="durable_spark_yarn",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=2)},
    tags=["airflow-durable", "example"],
) as dag:
    for task_id, durable in (
        ("durable", True),
        ("not_durable", False),
        ("submit_window", True),
        ("window_not_durable", False),
        ("uninterrupted", True),
    ):
        DurableSparkSubmitOperator(
            task_id=task_id,
            conn_id="spark_yarn_durable_demo",
            spark_binary=os.environ.get("AIRFLOW_DURABLE_DEMO_YARN_SPARK_SUBMIT", "spark-submit"),
            application="local:///opt/spark/examples/jars/spark-examples.jar",
            java_class="org.apache.spark.examples.SparkPi",
            application_args=["100"],
            name=f"durable-demo-{task_id}",
            conf={"spark.yarn.tags": "durable-demo"},
            durable=durable,
            poll_interval_seconds=1,
            max_poll_interval_seconds=3,
        )
