"""Report a job's ID the moment ``spark-submit`` prints it, on the provider's own ``SparkSubmitHook``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook


def report_id_early(
    hook: SparkSubmitHook,
    read_id: Callable[[], str | None],
    on_id: Callable[[str], None],
    parse_line: Callable[[str], None] | None = None,
) -> SparkSubmitHook:
    """Make ``hook`` call ``on_id`` as soon as the ID it parses from ``spark-submit`` is known.

    Upstream learns the ID (standalone driver ID, YARN application ID, driver pod name) while
    ``spark-submit`` runs but only returns it when the process exits (about 120 ms later through the
    standalone REST port, 5.4 s later through port 7077, seconds on YARN and Kubernetes). Observing the
    hook's own log loop lets the operator persist the ID before ``spark-submit`` has exited. The hook is
    configured exactly as upstream configures it; only its ``_process_spark_submit_log`` is wrapped, on
    this instance.

    Args:
        hook: A hook built by ``SparkSubmitOperator._get_hook``.
        read_id: Returns the external ID from what the hook has parsed so far (``hook._driver_id``,
            ``hook._yarn_application_id``, ``"<namespace>:<pod>"``), or ``None`` before it is printed.
        on_id: Called once with that ID, from the thread that reads ``spark-submit``'s output.
        parse_line: Called with each line (stripped) after the hook parsed it: our own parsing of what
            upstream's regexes miss.

    Returns:
        The same hook.
    """
    parse_log = hook._process_spark_submit_log
    reported = False

    def report() -> None:
        nonlocal reported
        if not reported and (external_id := read_id()):
            reported = True
            on_id(external_id)

    def lines(itr: Iterator[Any]) -> Iterator[Any]:
        for line in itr:
            yield line
            # The hook has parsed ``line`` by the time it asks for the next one.
            if parse_line is not None:
                parse_line(str(line).strip())
            report()

    def process_spark_submit_log(itr: Iterator[Any]) -> None:
        parse_log(lines(itr))
        report()

    hook._process_spark_submit_log = process_spark_submit_log  # type: ignore[method-assign]
    return hook


def report_driver_id_early(hook: SparkSubmitHook, on_driver_id: Callable[[str], None]) -> SparkSubmitHook:
    """Make ``hook`` call ``on_driver_id`` as soon as it parses the standalone driver ID (``hook._driver_id``).

    :func:`report_id_early` for Spark standalone cluster mode.

    Args:
        hook: A hook built by ``SparkSubmitOperator._get_hook``.
        on_driver_id: Called once with the driver ID, from the thread that reads ``spark-submit``'s output.

    Returns:
        The same hook.
    """
    return report_id_early(hook, lambda: hook._driver_id, on_driver_id)
