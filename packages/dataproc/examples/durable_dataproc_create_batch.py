"""Example: a Dataproc Serverless batch that survives a worker crash, exactly once.

``durable_dataproc_batches`` creates the same PySpark batch five ways, one Airflow task each: ``durable`` and
``not_durable`` are killed while polling, ``submit_window`` and ``window_not_durable`` after Dataproc created
the batch and before its ID reached ``task_state_store`` (the durable retry finds the batch by the ``batch_id``
derived from its submission token and adopts it), ``uninterrupted`` is the baseline.

Connection: ``dataproc_durable_demo``; ``airflow-durable demo dataproc-batches`` points it at the Dataproc batch
emulator through its extras ``dataproc_transport`` and ``dataproc_api_endpoint``. The window pair runs in its own
region so that the emulator can hold exactly their ``CreateBatch`` answers; the label ``durable-demo-task`` lets
the demo count each task's batches.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_durable_dataproc.operators import DurableDataprocCreateBatchOperator

with DAG(
    dag_id="durable_dataproc_batches",
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
        DurableDataprocCreateBatchOperator(
            task_id=task_id,
            gcp_conn_id="dataproc_durable_demo",
            project_id="durable-demo",
            region="europe-west1" if "window" in task_id else "us-central1",
            batch={
                "pyspark_batch": {"main_python_file_uri": "gs://durable-demo/aggregate.py", "args": ["{{ run_id }}"]},
                "labels": {"durable-demo-task": task_id},
            },
            durable=durable,
            poll_interval_seconds=1,
            max_poll_interval_seconds=3,
        )
