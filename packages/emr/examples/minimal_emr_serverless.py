"""The README's minimal EMR DAG: one EMR Serverless job run that a worker crash does not start twice."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_durable_emr.operators import DurableEmrServerlessStartJobOperator

with DAG(dag_id="minimal_emr_serverless", start_date=datetime(2026, 1, 1), schedule=None, catchup=False) as dag:
    DurableEmrServerlessStartJobOperator(
        task_id="aggregate",
        aws_conn_id="aws_default",
        application_id="00f5l1ojd8fjsn09",
        execution_role_arn="arn:aws:iam::123456789012:role/emr-serverless-job",
        job_driver={"sparkSubmit": {"entryPoint": "s3://my-bucket/aggregate.py"}},
        retries=2,
    )
