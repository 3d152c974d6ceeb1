"""Import time of our Dataproc operators vs the google provider's ``operators.dataproc`` module (DAG-parse cost).

Median of N fresh interpreters each (default 5), after ``airflow.sdk``; see ``import_time.py``.

Run: ``uv run python benchmarks/dataproc_import_time.py [N]``
"""

from __future__ import annotations

from import_time import main

if __name__ == "__main__":
    main("airflow_durable_dataproc.operators", "airflow.providers.google.cloud.operators.dataproc")
