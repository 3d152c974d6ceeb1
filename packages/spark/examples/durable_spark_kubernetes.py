"""Example: a Spark application in Kubernetes cluster mode that survives a worker crash, exactly once.

``durable_spark_kubernetes`` submits the same application five ways, one Airflow task each: ``durable`` and
``not_durable`` are killed while polling their driver pods, ``submit_window`` and ``window_not_durable`` after
the API server created the driver pod and before its name reached ``task_state_store`` (the durable retry finds
the pod by its ``airflow-durable-submission`` label and adopts it), ``uninterrupted`` is the baseline.

Connections:

- ``spark_k8s_durable_demo`` (Spark): host ``k8s://https://<api server>``, its port, and the extras
  ``deploy-mode: cluster`` and ``namespace`` (where the driver pods go), e.g.
  ``AIRFLOW_CONN_SPARK_K8S_DURABLE_DEMO='{"conn_type": "spark", "host": "k8s://https://k8s.example.com",
  "port": 6443, "extra": {"deploy-mode": "cluster", "namespace": "spark"}}'``;
- ``kubernetes_durable_demo`` (cncf.kubernetes): how the operator reaches the API server to poll, find and
  delete driver pods (extra ``kube_config_path`` or ``kube_config``, or ``in_cluster``).

``spark-submit`` is the one on ``PATH`` (the demo runs pyspark's own).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_durable_spark.operators import DurableSparkSubmitOperator

with DAG(
    dag_id="durable_spark_kubernetes",
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
            conn_id="spark_k8s_durable_demo",
            kubernetes_conn_id="kubernetes_durable_demo",
            application="local:///opt/spark/examples/jars/spark-examples.jar",
            java_class="org.apache.spark.examples.SparkPi",
            application_args=["100"],
            name=f"durable-demo-{task_id}",
            conf={"spark.kubernetes.container.image": "apache/spark:4.0.1"},
            durable=durable,
            poll_interval_seconds=1,
            max_poll_interval_seconds=3,
        )
