"""DAG-parse cost: importing ``airflow_durable_spark.operators`` adds as little as possible to upstream's module.

DAG files import operator modules at every parse. The REST client and the ``spark-submit`` log reader
are needed only when a task runs, so they must not be imported at parse time; the timing itself is
``benchmarks/spark_import_time.py`` (no timed test here: timings on a shared machine are noise).
"""

from __future__ import annotations

import json
import subprocess
import sys

UPSTREAM = "airflow.providers.apache.spark.operators.spark_submit"

# What our module may add to ``airflow.sdk`` + upstream's module: the mixin and what its class needs.
ALLOWED = {
    "airflow_durable.backoff",
    "airflow_durable.errors",
    "airflow_durable.mixin",
    "airflow_durable.status",
    "airflow_durable_spark.operators",
    "airflow_durable_spark.statuses",
}


def modules_added_by_parse() -> tuple[set[str], bool]:
    """Modules a fresh interpreter imports for a DAG file using our operator, after ``airflow.sdk`` and upstream's."""
    code = (
        "import sys, json, airflow.sdk\n"
        f"import {UPSTREAM}\n"
        "before = set(sys.modules)\n"
        "from airflow_durable_spark.operators import DurableSparkSubmitOperator\n"
        "DurableSparkSubmitOperator(task_id='t', application='app.py', conn_id='spark_default')\n"
        "print(json.dumps([sorted(set(sys.modules) - before), 'httpx' in before, 'requests' in before]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    added, httpx_before, requests_before = json.loads(result.stdout.strip().splitlines()[-1])
    return set(added), httpx_before and requests_before


def test_parse_imports_nothing_beyond_the_mixin() -> None:
    added, httpx_already_imported = modules_added_by_parse()
    assert "airflow_durable_spark.client" not in added
    assert "airflow_durable_spark.submit_log" not in added
    assert added <= ALLOWED, sorted(added - ALLOWED)
    # requests (the REST client's transport) costs nothing at parse: upstream's module imports it already;
    # httpx neither (airflow.sdk imports it).
    assert httpx_already_imported
