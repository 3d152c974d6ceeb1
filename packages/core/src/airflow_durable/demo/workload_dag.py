"""The soak's workload DAGs (a DAG file): one DAG per provider named in ``AIRFLOW_DURABLE_WORKLOAD``.

The soak copies this file into the stack's dags folder and sets ``AIRFLOW_DURABLE_WORKLOAD`` (JSON
``{"providers": [...], "maps": 3, "twins": true, "polls_to_finish": 6}``) in every Airflow process's
environment. Each provider is loaded through the ``airflow_durable.demo`` entry points and builds its
DAG ``provider.workload_dag_id`` (see :func:`airflow_durable.demo.workload.build_workload_dags`).
"""

from __future__ import annotations

from airflow_durable.demo.workload import workload_dags_from_env

globals().update(workload_dags_from_env())
