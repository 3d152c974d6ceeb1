"""The README's minimal Dataproc DAG: one PySpark job on a cluster that a worker crash does not submit twice."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_durable_dataproc.operators import DurableDataprocSubmitJobOperator

with DAG(dag_id="minimal_dataproc_submit_job", start_date=datetime(2026, 1, 1), schedule=None, catchup=False) as dag:
    DurableDataprocSubmitJobOperator(
        task_id="aggregate",
        gcp_conn_id="google_cloud_default",
        project_id="my-project",
        region="us-central1",
        job={
            "placement": {"cluster_name": "my-cluster"},
            "pyspark_job": {"main_python_file_uri": "gs://my-bucket/aggregate.py"},
        },
        retries=2,
    )
