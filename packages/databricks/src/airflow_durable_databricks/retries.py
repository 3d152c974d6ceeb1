"""Upstream's ``databricks_retry_*`` arguments mapped onto ``databricks-sdk``'s retry budget.

Upstream's hook retries a failed request with tenacity: ``databricks_retry_limit`` attempts in all, waiting
``clamp(2 ** (n - 1), databricks_retry_delay, 2 ** databricks_retry_limit)`` seconds after the n-th, or as
``databricks_retry_args`` (``tenacity.Retrying`` keyword arguments) says. ``databricks-sdk`` retries the
same errors (429 and 503, honouring ``Retry-After``, connection errors and timeouts) in its own loop: it
sleeps ``min(10, n)`` seconds plus up to one second of jitter after the n-th attempt, until a time budget,
``Config.retry_timeout_seconds`` (300 s by default), is spent. It has no attempt limit and takes no tenacity
object, so the arguments become that budget (:func:`retry_timeout_seconds`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

SDK_MAX_SLEEP_SECONDS = 10
"""The longest sleep ``databricks.sdk.retries.retried`` takes between two attempts, without ``Retry-After``."""


def _budget(attempts: int, waits: list[float]) -> int:
    """Seconds the SDK needs to make ``attempts`` attempts, waiting at least ``waits[n-1]`` after the n-th."""
    total = 0.0
    for n in range(1, attempts):
        sdk_sleep = min(SDK_MAX_SLEEP_SECONDS, n) + 1.0  # its sleep, jitter included
        total += max(sdk_sleep, waits[n - 1] if n - 1 < len(waits) else 0.0)
    return max(1, math.ceil(total))


def retry_timeout_seconds(limit: int, delay: float, retry_args: Mapping[str, Any] | None) -> int | None:
    """Return the ``Config.retry_timeout_seconds`` that gives the SDK at least upstream's retries.

    The budget lets the SDK make at least as many attempts as upstream would, and wait at least as long
    between them: the sum, over the attempts but the last, of the longer of the SDK's own sleep and
    upstream's wait. With the defaults (3 attempts, 1 s) that is 5 s.

    ``databricks_retry_args`` wins over the limit and delay, as upstream: a ``stop`` of
    ``stop_after_delay(s)`` maps to ``s``; ``stop_after_attempt(n)`` to the budget of ``n`` attempts, with
    upstream's waits taken from its ``wait`` strategy (any tenacity ``wait_*`` that only reads the attempt
    number). Any other ``stop`` (combinations, custom callables) has no SDK equivalent: the SDK's default
    budget applies and ``None`` is returned.

    Args:
        limit: ``databricks_retry_limit``, at least 1.
        delay: ``databricks_retry_delay``, in seconds.
        retry_args: ``databricks_retry_args``.

    Returns:
        Seconds, or ``None`` to keep the SDK's default.
    """
    if retry_args:
        stop, wait = retry_args.get("stop"), retry_args.get("wait")
        max_delay = getattr(stop, "max_delay", None)
        if isinstance(max_delay, int | float):
            return max(1, math.ceil(max_delay))
        attempts = getattr(stop, "max_attempt_number", None)
        if not isinstance(attempts, int):
            return None
        waits: list[float] = []
        if callable(wait):
            try:
                waits = [float(wait(SimpleNamespace(attempt_number=n))) for n in range(1, attempts)]
            except Exception:  # noqa: BLE001 - a strategy that needs more than the attempt number
                waits = []
        return _budget(attempts, waits)
    waits = [min(max(2.0 ** (n - 1), float(delay)), 2.0**limit) for n in range(1, limit)]
    return _budget(limit, waits)


def check_serializable(retry_args: Mapping[str, Any] | None, owner: str) -> None:
    """Refuse ``databricks_retry_args`` that cannot reach the triggerer, as upstream does (``deferrable=True``).

    Raises:
        ValueError: Upstream's text: ``<owner> does not support non-serializable
            retry_args/databricks_retry_args when deferrable=True. ...``.
    """
    if retry_args is None:
        return
    from airflow.sdk.serde import serialize

    try:
        serialize(retry_args)
    except (AttributeError, RecursionError, TypeError, ValueError) as err:
        raise ValueError(
            f"{owner} does not support non-serializable retry_args/databricks_retry_args when deferrable=True. "
            "Use Airflow-serializable values, remove callable retry strategies, or disable deferrable mode."
        ) from err
