"""Test doubles of the Airflow side of a task run: the task instance, ``task_state_store`` and crashes.

They stand in for the Airflow runtime only. The external system is never faked here: each provider brings
its own emulator through :class:`~airflow_durable.testing.contract.ExternalSystem`.
"""

from __future__ import annotations

import enum
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_durable.tokens import TaskInstanceScope


class SimulatedCrash(BaseException):
    """The worker died here.

    A ``BaseException``, so no ``except Exception`` in the operator (or in a library it calls) can catch
    it: like a SIGKILL, it ends the try without running any handler.
    """


class RunawayPolling(BaseException):
    """The operator kept polling far longer than the scenario allows.

    For example, it took an unknown status for an active one.
    """


class CrashPoint(enum.Enum):
    """Named places where the contract suite kills a try."""

    SUBMIT_WINDOW = "submit_window"
    """The job exists on the external side, but its ID is not yet persisted: the crash is raised by the
    state store when the first record holding the external ID is written, and the write is lost."""
    MID_POLL = "mid_poll"
    """The job is active and the operator waits between two status polls."""


def _holds_external_id(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get("external_id") is not None
    return value is not None


class InMemoryTaskStateStore:
    """A ``task_state_store`` (AIP-103) double, scoped like the real one by task instance.

    Values go through a JSON round trip, as in the real store, and ``None`` is rejected. The scope
    ``(dag_id, run_id, task_id, map_index)`` is shared by all tries of a task instance and by nothing else.
    """

    def __init__(self) -> None:
        self._data: dict[tuple[TaskInstanceScope, str], Any] = {}
        self._lock = threading.Lock()
        self.crash_on_external_id_write = False
        """When True, the next write of a record holding an external ID raises :class:`SimulatedCrash`
        instead of storing it (the submit-to-persist window)."""
        self.writes: list[tuple[TaskInstanceScope, str, Any]] = []

    def scoped(self, scope: TaskInstanceScope) -> ScopedTaskStateStore:
        """Return the view one task instance sees as ``context["task_state_store"]``."""
        return ScopedTaskStateStore(self, scope)

    def get(self, scope: TaskInstanceScope, key: str, default: Any = None) -> Any:
        """Read a value of one task instance."""
        with self._lock:
            value = self._data.get((scope, key))
        return default if value is None else json.loads(json.dumps(value))

    def set(self, scope: TaskInstanceScope, key: str, value: Any) -> None:
        """Write a value of one task instance (JSON round trip; ``None`` is rejected like the real store)."""
        if value is None:
            raise ValueError("task_state_store rejects None values")
        encoded = json.loads(json.dumps(value))
        if self.crash_on_external_id_write and _holds_external_id(encoded):
            self.crash_on_external_id_write = False
            raise SimulatedCrash(f"crash before persisting {key}={encoded!r}")
        with self._lock:
            self._data[(scope, key)] = encoded
            self.writes.append((scope, key, encoded))

    def delete(self, scope: TaskInstanceScope, key: str) -> None:
        """Delete a value of one task instance."""
        with self._lock:
            self._data.pop((scope, key), None)


@dataclass
class ScopedTaskStateStore:
    """``context["task_state_store"]`` for one task instance: ``get``, ``set``, ``delete``, ``clear``."""

    backend: InMemoryTaskStateStore
    scope: TaskInstanceScope

    def get(self, key: str, default: Any = None) -> Any:
        """Return the stored value, or ``default``."""
        return self.backend.get(self.scope, key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        """Store a JSON value (``retention`` is accepted and ignored)."""
        self.backend.set(self.scope, key, value)

    def delete(self, key: str) -> None:
        """Delete a key."""
        self.backend.delete(self.scope, key)

    def clear(self) -> None:
        """Delete every key of this task instance."""
        with self.backend._lock:
            for scope, key in [k for k in self.backend._data if k[0] == self.scope]:
                del self.backend._data[(scope, key)]


@dataclass
class FakeTaskInstance:
    """The parts of a runtime task instance that operators use: identity, try number, XCom."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
    try_number: int = 1
    xcoms: dict[str, Any] = field(default_factory=dict)
    stats_tags: dict[str, str] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        """Record an XCom (JSON round trip, as Airflow serialises it)."""
        self.xcoms[key] = json.loads(json.dumps(value, default=str))

    def xcom_pull(self, task_ids: Any = None, key: str = "return_value", **_: Any) -> Any:
        """Return an XCom this task pushed."""
        return self.xcoms.get(key)


@dataclass
class TryOutcome:
    """What one try of a task instance did.

    Attributes:
        try_number: The try number.
        result: The return value of ``execute`` (pushed as the ``return_value`` XCom), or ``None``.
        error: The exception the try raised, if it failed.
        crashed: True when the try was killed by a :class:`SimulatedCrash`.
        xcoms: Every XCom the try pushed, ``return_value`` included when the try succeeded.
    """

    try_number: int
    result: Any = None
    error: Exception | None = None
    crashed: bool = False
    xcoms: dict[str, Any] = field(default_factory=dict)
    deferred: Any = None
    """The ``TaskDeferred`` the try raised (deferrable operators), before the trigger ran."""
    stored_at_deferral: Any = None
    """What ``task_state_store`` held (the operator's key) when the try deferred."""

    @property
    def succeeded(self) -> bool:
        """True when the try returned normally."""
        return self.error is None and not self.crashed


class TaskInstanceRun:
    """Runs successive tries of one task instance against a shared state store, like Airflow retries.

    Each try gets a fresh operator (a new worker process builds a new one), a fresh task instance with the
    next try number, and the same ``task_state_store`` scope.
    """

    def __init__(self, store: InMemoryTaskStateStore, scope: TaskInstanceScope) -> None:
        self.store = store
        self.scope = scope
        self.tries: list[TryOutcome] = []

    def run_try(
        self,
        operator: Any,
        *,
        before_execute: Callable[[], None] | None = None,
        run_triggers: bool = True,
        before_trigger: Callable[[], None] | None = None,
        trigger_timeout_seconds: float = 60.0,
    ) -> TryOutcome:
        """Run ``operator.execute`` once as the next try; crashes and failures are captured, not raised.

        When the operator defers, the trigger's real ``run()`` is driven to its first event (as the
        triggerer would) and the named method is called with it, like Airflow resumes a deferred task.
        With ``run_triggers=False`` the try stops at the deferral (see :attr:`TryOutcome.deferred`).
        ``before_trigger`` runs after the deferral and before the trigger (to move the job meanwhile). A
        trigger that fires no event within ``trigger_timeout_seconds`` raises :class:`RunawayPolling`.
        """
        from airflow.sdk.exceptions import TaskDeferred

        ti = FakeTaskInstance(
            dag_id=self.scope.dag_id,
            run_id=self.scope.run_id,
            task_id=self.scope.task_id,
            map_index=self.scope.map_index,
            try_number=len(self.tries) + 1,
        )
        context: dict[str, Any] = {
            "ti": ti,
            "task_instance": ti,
            "task": operator,
            "run_id": self.scope.run_id,
            "params": {},
            "task_state_store": self.store.scoped(self.scope),
        }
        outcome = TryOutcome(try_number=ti.try_number)
        if before_execute is not None:
            before_execute()
        try:
            try:
                outcome.result = operator.execute(context)
            except TaskDeferred as deferred:
                outcome.deferred = deferred
                key = getattr(operator, "external_id_key", None)
                outcome.stored_at_deferral = None if key is None else self.store.get(self.scope, key)
                if not run_triggers:
                    outcome.xcoms = dict(ti.xcoms)
                    self.tries.append(outcome)
                    return outcome
                if before_trigger is not None:
                    before_trigger()
                event = first_trigger_event(deferred.trigger, trigger_timeout_seconds)
                method = getattr(operator, deferred.method_name)
                outcome.result = method(context, event=event.payload, **(deferred.kwargs or {}))
        except SimulatedCrash:
            outcome.crashed = True
        except Exception as err:  # noqa: BLE001 - a failed try is an outcome, reported to the test
            outcome.error = err
        else:
            ti.xcom_push("return_value", outcome.result)
        outcome.xcoms = dict(ti.xcoms)
        self.tries.append(outcome)
        return outcome

    def stored(self, key: str) -> Any:
        """Return what ``task_state_store`` holds for this task instance under ``key``."""
        return self.store.get(self.scope, key)


def first_trigger_event(trigger: Any, timeout_seconds: float = 30.0) -> Any:
    """Drive a trigger's real ``run()`` to its first event, in a private event loop, as the triggerer would.

    Args:
        trigger: A ``BaseTrigger``.
        timeout_seconds: How long to wait for the event.

    Returns:
        The first ``TriggerEvent``.

    Raises:
        RunawayPolling: If no event comes within ``timeout_seconds``.
    """
    import asyncio

    async def first() -> Any:
        agen = trigger.run()
        try:
            return await asyncio.wait_for(agen.__anext__(), timeout_seconds)
        except TimeoutError:
            raise RunawayPolling(f"the trigger fired no event within {timeout_seconds} s") from None
        finally:
            await agen.aclose()

    return asyncio.run(first())
