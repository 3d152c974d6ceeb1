"""Example: a Databricks run that survives a worker crash, exactly once.

``durable_databricks_job`` submits the same one-task run four ways, one Airflow task each:

- ``durable``: ``DurableDatabricksSubmitRunOperator`` (the end-to-end test kills it mid-poll);
- ``not_durable``: the same with ``durable=False`` (killed too: its retry submits a second run);
- ``submit_window``: durable, killed while its ``runs/submit`` request is in flight, after Databricks
  created the run and before the ``run_id`` reached ``task_state_store``; the retry resubmits with the
  same ``idempotency_token`` and gets the same run back;
- ``window_not_durable``: the same kill with ``durable=False``: its retry creates a second run;
- ``uninterrupted``: durable and left alone, the baseline result.

Connection ``databricks_durable_demo`` comes from the environment, e.g.
``AIRFLOW_CONN_DATABRICKS_DURABLE_DEMO='{"conn_type": "databricks", "host": "https://adb-123.azuredatabricks.net",
"extra": {"token": "dapi..."}}'``; the demo points it at the Jobs API emulator.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_durable_databricks.operators import DurableDatabricksSubmitRunOperator

with DAG(
    dag_id="durable_databricks_job",
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
        DurableDatabricksSubmitRunOperator(
            task_id=task_id,
            databricks_conn_id="databricks_durable_demo",
            run_name=f"durable-demo-{task_id}",
            tasks=[
                {
                    "task_key": "aggregate",
                    "notebook_task": {
                        "notebook_path": "/Shared/aggregate",
                        "base_parameters": {"airflow_run_id": "{{ run_id }}"},
                    },
                    "existing_cluster_id": "0000-000000-demo",
                }
            ],
            durable=durable,
            polling_period_seconds=1,
            max_poll_interval_seconds=3,
        )
