"""Import time of our EMR operators vs the amazon provider's ``operators.emr`` module (DAG-parse cost).

Median of N fresh interpreters each (default 5), after ``airflow.sdk``; see ``import_time.py``.

Run: ``uv run python benchmarks/emr_import_time.py [N]``
"""

from __future__ import annotations

from import_time import main

if __name__ == "__main__":
    main("airflow_durable_emr.operators", "airflow.providers.amazon.aws.operators.emr")
