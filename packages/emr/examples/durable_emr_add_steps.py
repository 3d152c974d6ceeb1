"""Example: EMR steps that survive a worker crash, exactly once.

``durable_emr_steps`` adds the same step to the cluster named ``durable-demo`` five ways, one Airflow
task each:

- ``durable``: ``DurableEmrAddStepsOperator`` (the end-to-end test kills it while it polls the step);
- ``not_durable``: the same with ``durable=False`` (killed too: its retry adds the step again);
- ``submit_window``: durable, killed after EMR added the step and before its ID reached ``task_state_store``;
  the retry finds its step by the token marker in the step name (``ListSteps``) and adopts it;
- ``window_not_durable``: the same kill with ``durable=False``: its retry adds a second step;
- ``uninterrupted``: durable and left alone, the baseline result.

Connection ``aws_durable_demo`` comes from the environment, e.g. ``AIRFLOW_CONN_AWS_DURABLE_DEMO='{"conn_type":
"aws", "extra": {"region_name": "eu-west-1"}}'``; the demo points it at the EMR emulator.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_durable_emr.operators import DurableEmrAddStepsOperator

with DAG(
    dag_id="durable_emr_steps",
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
        DurableEmrAddStepsOperator(
            task_id=task_id,
            aws_conn_id="aws_durable_demo",
            job_flow_name="durable-demo",
            cluster_states=["WAITING", "RUNNING"],
            steps=[
                {
                    "Name": f"durable-demo-{task_id}",
                    "ActionOnFailure": "CONTINUE",
                    "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", "s3://demo/aggregate.py"]},
                }
            ],
            wait_for_completion=True,
            durable=durable,
            poll_interval_seconds=1,
            max_poll_interval_seconds=3,
        )
