"""Report the driver ID the moment ``spark-submit`` prints it, on the provider's own ``SparkSubmitHook``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook


def report_driver_id_early(hook: SparkSubmitHook, on_driver_id: Callable[[str], None]) -> SparkSubmitHook:
    """Make ``hook`` call ``on_driver_id`` as soon as it parses the driver ID from ``spark-submit``.

    Upstream learns the ID while ``spark-submit`` runs but only returns it when the process exits (about
    120 ms later through the REST port, 5.4 s later through port 7077). Observing the hook's own log loop
    lets the operator persist the ID before ``spark-submit`` has exited. The hook is configured exactly as
    upstream configures it; only its ``_process_spark_submit_log`` is wrapped, on this instance.

    Args:
        hook: A hook built by ``SparkSubmitOperator._get_hook``.
        on_driver_id: Called once with the driver ID, from the thread that reads ``spark-submit``'s output.

    Returns:
        The same hook.
    """
    parse_log = hook._process_spark_submit_log
    reported = False

    def report() -> None:
        nonlocal reported
        if not reported and hook._driver_id:
            reported = True
            on_driver_id(hook._driver_id)

    def lines(itr: Iterator[Any]) -> Iterator[Any]:
        for line in itr:
            yield line
            report()  # the hook has parsed ``line`` by the time it asks for the next one

    def process_spark_submit_log(itr: Iterator[Any]) -> None:
        parse_log(lines(itr))
        report()

    hook._process_spark_submit_log = process_spark_submit_log  # type: ignore[method-assign]
    return hook
