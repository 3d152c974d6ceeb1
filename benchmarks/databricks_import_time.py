"""Import time of our Databricks operators vs the upstream provider's (DAG-parse cost).

Median of N fresh interpreters each (default 5), after ``airflow.sdk``; see ``import_time.py``.

Run: ``uv run python benchmarks/databricks_import_time.py [N]``
"""

from __future__ import annotations

from import_time import main

if __name__ == "__main__":
    main("airflow_durable_databricks.operators", "airflow.providers.databricks.operators.databricks")
