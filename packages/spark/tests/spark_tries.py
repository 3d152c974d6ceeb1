"""Running one try of a Spark operator in a thread, for the YARN and Kubernetes mode tests."""

from __future__ import annotations

import threading
import time
from typing import Any

from airflow_durable.testing import TaskInstanceRun
from airflow_durable_spark.operators import DurableSparkSubmitOperator


def start_try(run: TaskInstanceRun, operator: DurableSparkSubmitOperator) -> tuple[threading.Event, dict[str, Any]]:
    """Run one try in a thread; return once ``spark-submit`` has exited and the try polls.

    Returns:
        An event set when the try ends, and a dict whose ``"outcome"`` is then the try's outcome.
    """
    done, result = threading.Event(), {}

    def try_once() -> None:
        result["outcome"] = run.run_try(operator)
        done.set()

    threading.Thread(target=try_once, daemon=True).start()
    deadline = time.monotonic() + 15
    while (
        operator._owned_external_id is None
        or operator.hook._submit_sp is None
        or operator.hook._submit_sp.poll() is None
    ):
        assert time.monotonic() < deadline, "spark-submit did not finish"
        time.sleep(0.01)
    return done, result
