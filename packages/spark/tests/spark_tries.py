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


def watch_persists(run: TaskInstanceRun, operator: DurableSparkSubmitOperator, key: str) -> list[tuple[Any, bool]]:
    """Record, at each ID the operator persists, the stored ID and whether ``spark-submit`` was still running.

    Returns:
        The list the observations are appended to, as the try runs.
    """
    seen: list[tuple[Any, bool]] = []
    record = operator.record_external_id

    def spy(external_id: Any) -> None:
        record(external_id)
        process = operator.hook._submit_sp
        seen.append((run.stored(key)["external_id"], process is not None and process.poll() is None))

    operator.record_external_id = spy  # type: ignore[method-assign]
    return seen
