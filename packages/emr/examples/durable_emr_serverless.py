"""Example: an EMR Serverless job run that survives a worker crash, exactly once.

``durable_emr_serverless`` starts the same job run five ways, one Airflow task each: ``durable`` and
``not_durable`` are killed while polling, ``submit_window`` and ``window_not_durable`` after EMR Serverless
started the run and before its ID reached ``task_state_store`` (the durable retry finds the run by its
``clientToken`` tag and adopts it), ``uninterrupted`` is the baseline.

Connections: ``aws_durable_demo`` (AWS) and ``emr_durable_demo_resources``, whose extra holds the
``application_id`` the tasks use (``{{ conn.emr_durable_demo_resources.extra_dejson.application_id }}``);
the demo points both at the EMR Serverless emulator.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_durable_emr.operators import DurableEmrServerlessStartJobOperator

with DAG(
    dag_id="durable_emr_serverless",
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
        DurableEmrServerlessStartJobOperator(
            task_id=task_id,
            aws_conn_id="aws_durable_demo",
            application_id="{{ conn.emr_durable_demo_resources.extra_dejson.application_id }}",
            execution_role_arn="arn:aws:iam::123456789012:role/durable-demo",
            job_driver={
                "sparkSubmit": {"entryPoint": "s3://demo/aggregate.py", "entryPointArguments": ["{{ run_id }}"]}
            },
            name=f"durable-demo-{task_id}",
            durable=durable,
            poll_interval_seconds=1,
            max_poll_interval_seconds=3,
        )
