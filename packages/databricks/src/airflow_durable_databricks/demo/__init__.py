"""Demo-only code of airflow-durable-databricks; nothing here is needed to run the operators.

:mod:`airflow_durable_databricks.demo.scenario` declares ``airflow-durable demo databricks``.
"""
