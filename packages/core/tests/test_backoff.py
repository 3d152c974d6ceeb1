"""``Backoff``: exponential delays with jitter, capped, for polling and transient-error retries."""

from __future__ import annotations

import itertools
import random

import pytest

from airflow_durable.backoff import Backoff, default_max_poll_interval_seconds, poll_ceiling_seconds


def take(backoff: Backoff, n: int) -> list[float]:
    return list(itertools.islice(backoff.delays(), n))


def test_without_jitter_delays_grow_geometrically_then_cap() -> None:
    delays = take(Backoff(1.0, 10.0, multiplier=2.0, jitter_ratio=0.0), 8)
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0]


def test_default_multiplier_grows_from_initial() -> None:
    delays = take(Backoff(2.0, 1000.0, jitter_ratio=0.0), 4)
    assert delays == pytest.approx([2.0, 3.0, 4.5, 6.75])


def test_delays_are_endless() -> None:
    assert len(take(Backoff(0.1, 0.2, jitter_ratio=0.0), 10_000)) == 10_000


def test_zero_initial_delay_stays_zero() -> None:
    assert take(Backoff(0.0, 5.0), 20) == [0.0] * 20


def test_equal_initial_and_max_is_constant() -> None:
    assert take(Backoff(3.0, 3.0, jitter_ratio=0.0), 5) == [3.0] * 5


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize(("initial", "maximum", "multiplier", "jitter"), [(1.0, 30.0, 1.5, 0.1), (0.5, 4.0, 3.0, 0.5)])
def test_jitter_stays_within_bounds_and_never_exceeds_the_cap(
    seed: int,
    initial: float,
    maximum: float,
    multiplier: float,
    jitter: float,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(random, "uniform", random.Random(seed).uniform)
    delays = take(Backoff(initial, maximum, multiplier=multiplier, jitter_ratio=jitter), 40)
    base = initial
    for delay in delays:
        assert base * (1 - jitter) <= delay <= min(maximum, base * (1 + jitter))
        base = min(maximum, base * multiplier)
    assert max(delays) <= maximum


def test_jitter_actually_varies_the_delays() -> None:
    """Many tasks must not poll in lock-step: the first delay is not always the same."""
    firsts = {next(Backoff(10.0, 60.0, jitter_ratio=0.3).delays()) for _ in range(50)}
    assert len(firsts) > 1
    assert all(7.0 <= d <= 13.0 for d in firsts)


def test_capped_delays_still_jitter_below_the_cap() -> None:
    tail = take(Backoff(1.0, 2.0, multiplier=10.0, jitter_ratio=0.5), 200)[1:]
    assert all(1.0 <= d <= 2.0 for d in tail)
    assert min(tail) < 2.0, "jitter below the cap is lost once delays are capped"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"initial_seconds": -0.1, "max_seconds": 1.0}, "initial_seconds"),
        ({"initial_seconds": 2.0, "max_seconds": 1.0}, "max_seconds"),
        ({"initial_seconds": 1.0, "max_seconds": 2.0, "multiplier": 0.9}, "multiplier"),
        ({"initial_seconds": 1.0, "max_seconds": 2.0, "multiplier": -1.0}, "multiplier"),
        ({"initial_seconds": 1.0, "max_seconds": 2.0, "jitter_ratio": -0.01}, "jitter_ratio"),
        ({"initial_seconds": 1.0, "max_seconds": 2.0, "jitter_ratio": 1.0}, "jitter_ratio"),
        ({"initial_seconds": 1.0, "max_seconds": 2.0, "jitter_ratio": 1.5}, "jitter_ratio"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Backoff(**kwargs)


def test_boundary_arguments_are_accepted() -> None:
    Backoff(0.0, 0.0, multiplier=1.0, jitter_ratio=0.0)
    Backoff(1.0, 1.0, jitter_ratio=0.999)


# ---------------------------------------------------------------------- the polling policy


@pytest.mark.parametrize(
    ("first", "ceiling"),
    [(0.0, 120.0), (1.0, 120.0), (10.0, 120.0), (30.0, 120.0), (60.0, 240.0), (100.0, 400.0)],
)
def test_default_ceiling_is_two_minutes_or_four_times_the_first_delay(first: float, ceiling: float) -> None:
    assert default_max_poll_interval_seconds(first) == ceiling
    assert poll_ceiling_seconds(first, None) == ceiling


def test_a_given_ceiling_is_kept() -> None:
    assert poll_ceiling_seconds(60.0, 60.0) == 60.0
    assert poll_ceiling_seconds(1.0, 3) == 3.0


def test_at_the_default_ceiling_polls_cost_at_most_a_third_of_a_fixed_interval() -> None:
    """An hour of delays, worst jitter for the count (every delay 10 % short), against the fixed interval."""
    for first in (1.0, 5.0, 10.0, 20.0, 30.0, 60.0):
        backoff = Backoff(first, default_max_poll_interval_seconds(first), jitter_ratio=0.0)
        elapsed, polls = 0.0, 1
        for delay in backoff.delays():
            elapsed += 0.9 * delay
            if elapsed > 3600:
                break
            polls += 1
        fixed = 3600 // first + 1
        assert polls <= fixed / 3, (first, polls, fixed)
