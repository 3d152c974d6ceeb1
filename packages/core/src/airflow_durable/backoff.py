"""Exponential backoff with jitter, for polling and for retrying transient vendor errors."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


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
