"""Import time of ``DurableSparkSubmitOperator``'s module vs upstream ``SparkSubmitOperator``'s (DAG-parse cost).

Median of N fresh interpreters each (default 5), after ``airflow.sdk``; see ``import_time.py``.

Run: ``uv run python benchmarks/spark_import_time.py [N]``
"""

from __future__ import annotations

from import_time import main

if __name__ == "__main__":
    main("airflow_durable_spark.operators", "airflow.providers.apache.spark.operators.spark_submit")
