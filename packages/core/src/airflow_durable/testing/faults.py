"""Faults as a wrapper around an emulator's request handling, the way zarr's ``LatencyStore`` wraps a store.

:class:`Faults` sits between the HTTP server and the vendor's handlers. Before a request reaches its
handler it may wait (:attr:`Faults.latency_seconds`), fail with an error in the vendor's format
(:meth:`Faults.fail_next`, :meth:`Faults.fault_rate`) or lose its connection before it is handled
(:data:`DROP_CONNECTION`). A :data:`TIMEOUT` is handled for real (a create creates its job), then the answer is
held :attr:`Faults.timeout_hold_seconds` and the connection dropped: the client never learns the outcome and
must retry with its token. After a handler created a job, :meth:`Faults.hold_after_create` can hold the
response: the job exists, but a client killed meanwhile never learns its ID (the submit-to-persist window).
A storm (:meth:`Faults.fault_storm`) answers a seeded share of all vendor requests with one of
:data:`STORM_FAULTS`.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DROP_CONNECTION = 0
"""The status that closes the connection without handling the request or answering it."""

TIMEOUT = -1
"""The status of a timeout: the request is handled (a create creates its job), then, after
:attr:`Faults.timeout_hold_seconds`, the connection is dropped without an answer (gRPC: ``DEADLINE_EXCEEDED``)."""

STORM_FAULTS: tuple[int, ...] = (429, 500, 502, 503, 504, TIMEOUT)
"""What a fault storm answers, picked uniformly: throttling, server errors and timeouts."""


@dataclass
class Fault:
    """One injected error.

    Attributes:
        status: HTTP status, :data:`DROP_CONNECTION` or :data:`TIMEOUT`.
        endpoint: The endpoint it applies to (``None``: any).
        remaining: Requests it still fails.
        body: A raw body to send instead of the vendor's error (for example a proxy's HTML page).
        details: Vendor fields of the error (message, error code, ``retry_after_seconds``).
    """

    status: int
    endpoint: str | None = None
    remaining: int = 1
    body: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Rate:
    rate: float
    statuses: tuple[int, ...]
    endpoint: str | None
    generator: random.Random
    details: dict[str, Any]


@dataclass
class _Hold:
    seconds: float
    match: dict[str, Any]


def _matches(actual: Any, wanted: Any) -> bool:
    """``actual == wanted``, or, for two mappings, ``wanted``'s items are all in ``actual``."""
    if isinstance(actual, Mapping) and isinstance(wanted, Mapping):
        return all(key in actual and actual[key] == value for key, value in wanted.items())
    return bool(actual == wanted)


class Faults:
    """The fault plan of one emulator; thread-safe.

    Args:
        endpoints: The endpoint names faults may name (from the route table).
    """

    def __init__(self, endpoints: Iterable[str]) -> None:
        self.endpoints = tuple(endpoints)
        self._lock = threading.Lock()
        self._local = threading.local()
        self.reset()

    def reset(self) -> None:
        """Drop every fault, the latency, held responses and the served counter."""
        with self._lock:
            self._queue: list[Fault] = []
            self._rate: _Rate | None = None
            self._holds: list[_Hold] = []
            self.latency_seconds = 0.0
            """Seconds every vendor request waits before it is handled."""
            self.timeout_hold_seconds = 0.05
            """Seconds a :data:`TIMEOUT` holds the connection after handling the request, before dropping it."""
            self.served: Counter[str] = Counter()
            """Injected errors answered, per endpoint."""

    def _check_endpoint(self, endpoint: str | None) -> None:
        if endpoint is not None and endpoint not in self.endpoints:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {self.endpoints}")

    def fail_next(
        self, n: int = 1, status: int = 503, *, endpoint: str | None = None, body: str | None = None, **details: Any
    ) -> None:
        """Answer the next ``n`` matching requests with an error instead of handling them.

        Faults queue: a later call applies once earlier ones are used up. A failed create creates nothing,
        and a failed status call does not count as one.

        Args:
            n: How many requests fail (at least 1).
            status: HTTP status; :data:`DROP_CONNECTION` drops the connection, :data:`TIMEOUT` handles the
                request and then drops it.
            endpoint: An endpoint name, or ``None`` for any vendor request.
            body: A raw body instead of the vendor's error body.
            **details: Vendor fields of the error body.

        Raises:
            ValueError: Unknown endpoint or ``n`` below 1.
        """
        self._check_endpoint(endpoint)
        if n < 1:
            raise ValueError("n must be >= 1")
        with self._lock:
            self._queue.append(Fault(status, endpoint, n, body, details))

    def fault_rate(
        self,
        rate: float,
        statuses: Iterable[int] = (429, 503),
        *,
        endpoint: str | None = None,
        seed: int | None = None,
        **details: Any,
    ) -> None:
        """Answer a random share of matching requests with an error (after the :meth:`fail_next` queue).

        Args:
            rate: Probability in ``[0, 1]``; 0 turns it off.
            statuses: Statuses to pick from, uniformly.
            endpoint: An endpoint name, or ``None`` for any vendor request.
            seed: Seed of the generator (``None``: unseeded).
            **details: Vendor fields of the error body.

        Raises:
            ValueError: Bad rate, no statuses, or unknown endpoint.
        """
        self._check_endpoint(endpoint)
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        chosen = tuple(statuses)
        if rate > 0 and not chosen:
            raise ValueError("statuses must not be empty")
        with self._lock:
            self._rate = _Rate(rate, chosen, endpoint, random.Random(seed), details) if rate > 0 else None

    def fault_storm(self, rate: float, seed: int | None = None) -> None:
        """Answer a share ``rate`` of all vendor requests with one of :data:`STORM_FAULTS`, uniformly.

        It replaces any :meth:`fault_rate`; ``rate=0`` ends the storm.

        Args:
            rate: Probability in ``[0, 1]`` that a request fails.
            seed: Seed of the generator (``None``: unseeded).

        Raises:
            ValueError: Bad rate.
        """
        self.fault_rate(rate, STORM_FAULTS, seed=seed)

    def hold_after_create(self, seconds: float, **match: Any) -> None:
        """Hold the response to the next create whose job matches, ``seconds`` after the job exists (once).

        Args:
            seconds: How long to hold the response.
            **match: Job attributes that must be equal (for example ``run_name="nightly"``); none: any job.
                A mapping matches a mapping attribute that has all its items (for example
                ``labels={"app": "nightly"}`` matches a pod with more labels).
        """
        with self._lock:
            self._holds.append(_Hold(seconds, match))

    def job_created(self, job: Any) -> None:
        """Tell the plan that the current request created ``job`` (called by the emulator's job book)."""
        with self._lock:
            for hold in self._holds:
                if all(_matches(getattr(job, k, None), v) for k, v in hold.match.items()):
                    self._holds.remove(hold)
                    self._local.hold_seconds = hold.seconds
                    return

    def take(self, endpoint: str) -> Fault | None:
        """Return the fault the next request to ``endpoint`` gets, if any, and count it as served."""
        with self._lock:
            fault = next((f for f in self._queue if f.endpoint in (None, endpoint)), None)
            if fault is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._queue.remove(fault)
            elif (rate := self._rate) and rate.endpoint in (None, endpoint) and rate.generator.random() < rate.rate:
                fault = Fault(rate.generator.choice(rate.statuses), endpoint, details=dict(rate.details))
            if fault is not None:
                self.served[endpoint] += 1
            return fault

    def wrap(
        self,
        endpoint: str,
        handle: Callable[[], Any],
        render: Callable[[Fault], Any],
        *,
        timed_out: Callable[[], Any] | None = None,
    ) -> Any:
        """Run one vendor request through the plan.

        Args:
            endpoint: The request's endpoint name.
            handle: Handles the request for real.
            render: Turns a fault into the vendor's error response.
            timed_out: What a :data:`TIMEOUT` answers once the request was handled and held (``None``:
                drop the connection).

        Returns:
            ``handle()``'s, ``render(fault)``'s or ``timed_out()``'s result; ``None`` for a dropped connection.
        """
        if self.latency_seconds > 0:
            time.sleep(self.latency_seconds)
        fault = self.take(endpoint)
        if fault is not None and fault.status == TIMEOUT:
            self._local.hold_seconds = 0.0
            handle()
            time.sleep(self.timeout_hold_seconds)
            return None if timed_out is None else timed_out()
        if fault is not None:
            return None if fault.status == DROP_CONNECTION else render(fault)
        self._local.hold_seconds = 0.0
        result = handle()
        if self._local.hold_seconds > 0:
            time.sleep(self._local.hold_seconds)
        return result

    def describe(self) -> Mapping[str, Any]:
        """Return the plan as JSON data (for a state dump)."""
        with self._lock:
            return {
                "latency_seconds": self.latency_seconds,
                "queued": [{"status": f.status, "endpoint": f.endpoint, "remaining": f.remaining} for f in self._queue],
                "rate": None if self._rate is None else self._rate.rate,
                "rate_statuses": None if self._rate is None else list(self._rate.statuses),
                "served": dict(self.served),
            }
