"""Exponential backoff with jitter, for polling and for retrying transient vendor errors.

It also holds the one polling policy every durable operator and trigger shares: the poll delay starts at
the operator's upstream interval (``polling_period_seconds``, ``waiter_delay``, ``poll_interval``,
``polling_interval_seconds``, ``status_poll_interval``) and grows x1.5 with ±10 % jitter up to
``max_poll_interval_seconds``, which defaults to :func:`default_max_poll_interval_seconds`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

DEFAULT_MAX_POLL_INTERVAL_SECONDS = 120.0
"""The least ceiling ``max_poll_interval_seconds`` defaults to, in seconds."""

MAX_POLL_INTERVAL_FACTOR = 4.0
"""The default ceiling is at least this many times the first poll delay."""


def default_max_poll_interval_seconds(poll_interval_seconds: float) -> float:
    """The ceiling the poll delay grows to when an operator is given none; one policy for every provider.

    ``max(DEFAULT_MAX_POLL_INTERVAL_SECONDS, MAX_POLL_INTERVAL_FACTOR * poll_interval_seconds)``: two
    minutes, or four times the first delay when that is longer (EMR Serverless' ``waiter_delay=60`` gives
    240 s). Once at the ceiling (jitter keeps each delay within ``[0.9, 1] x`` the ceiling) a job costs at
    most about a quarter of the status calls upstream's fixed interval makes, and its end is seen within
    the ceiling. ``benchmarks/polling_cost.py`` measures both against upstream for a one-hour job.

    Args:
        poll_interval_seconds: The first delay between polls, in seconds.

    Returns:
        The default ``max_poll_interval_seconds``, in seconds.
    """
    return max(DEFAULT_MAX_POLL_INTERVAL_SECONDS, MAX_POLL_INTERVAL_FACTOR * poll_interval_seconds)


def poll_ceiling_seconds(poll_interval_seconds: float, max_poll_interval_seconds: float | None) -> float:
    """The ``max_poll_interval_seconds`` an operator or trigger polls with.

    Args:
        poll_interval_seconds: The first delay between polls, in seconds.
        max_poll_interval_seconds: The ceiling asked for, in seconds; ``None`` for the default policy.

    Returns:
        ``max_poll_interval_seconds`` as given, or :func:`default_max_poll_interval_seconds` when ``None``.
    """
    if max_poll_interval_seconds is None:
        return default_max_poll_interval_seconds(poll_interval_seconds)
    return float(max_poll_interval_seconds)


@dataclass(frozen=True)
class Backoff:
    """Delays that grow exponentially from ``initial_seconds`` up to ``max_seconds``, with jitter.

    Attributes:
        initial_seconds: The first delay.
        max_seconds: The ceiling every delay is clipped to.
        multiplier: Growth factor between consecutive delays.
        jitter_ratio: Each delay is multiplied by a random factor in ``[1 - jitter_ratio, 1 + jitter_ratio]``
            (and clipped again to ``max_seconds``), so that many tasks do not poll in lock-step.
    """

    initial_seconds: float
    max_seconds: float
    multiplier: float = 1.5
    jitter_ratio: float = 0.1

    def __post_init__(self) -> None:
        if self.initial_seconds < 0:
            raise ValueError(f"initial_seconds must be >= 0, got {self.initial_seconds!r}")
        if self.max_seconds < self.initial_seconds:
            raise ValueError(
                f"max_seconds ({self.max_seconds!r}) must be >= initial_seconds ({self.initial_seconds!r})"
            )
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier!r}")
        if not 0 <= self.jitter_ratio < 1:
            raise ValueError(f"jitter_ratio must be in [0, 1), got {self.jitter_ratio!r}")

    def delays(self) -> Iterator[float]:
        """Yield an endless sequence of delays in seconds."""
        base = self.initial_seconds
        while True:
            jitter = 1 + random.uniform(-self.jitter_ratio, self.jitter_ratio)
            yield min(self.max_seconds, base * jitter)
            base = min(self.max_seconds, base * self.multiplier)
