"""``DurableOperatorContract``: the scenarios every durable operator must pass.

Subclass it in a provider's test module, give it the ``system`` fixture and the operator's constructor
arguments (``operator_kwargs``, or an ``operator_factory`` fixture), and pytest collects every scenario.
The suite reads its subject (like zarr's ``StoreTests``): the operator class comes from the generic
parameter (or an ``operator_class`` attribute), and the capability flags default to what that class
declares, so a provider's subclass states nothing twice::

    class TestDurableSparkSubmitOperator(DurableOperatorContract[DurableSparkSubmitOperator]):
        @pytest.fixture
        def system(self):
            with SparkMasterEmulator() as emulator:
                yield EmulatorSystem(emulator)  # any emulator built on the kit

        def operator_kwargs(self, system):
            return {"application": "app.jar"}

Crashes are injected at named :class:`~airflow_durable.testing.doubles.CrashPoint` s and raised as
:class:`~airflow_durable.testing.doubles.SimulatedCrash` (a ``BaseException``). Only the boundaries of the
operator are touched: the ``task_state_store`` double and the operator thread's ``time.sleep`` between
polls, which is also shortened so that scenarios run fast. The external system is the provider's emulator.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Generic, Protocol, TypeVar, get_args, get_origin

import pytest

from airflow_durable.mixin import DurableJobMixin
from airflow_durable.status import JobState
from airflow_durable.testing import corrupt_state, storm
from airflow_durable.testing.corrupt_state import CATEGORIES
from airflow_durable.testing.doubles import (
    CrashPoint,
    InMemoryTaskStateStore,
    RunawayPolling,
    SimulatedCrash,
    TaskInstanceRun,
    TryOutcome,
)
from airflow_durable.testing.system import ExternalSystem, Submission
from airflow_durable.tokens import TaskInstanceScope

OperatorT = TypeVar("OperatorT")
RUN_ID = "scheduled__2026-11-29T00:00:00+00:00"
EXTERNAL_ID_PLACEHOLDER = "<external_id>"


class OperatorFactory(Protocol[OperatorT]):  # type: ignore[misc]
    """Builds a fresh operator, as each new worker process would.

    Keyword overrides the suite passes: ``durable`` (bool) and ``on_lost_job`` (``"resubmit"``/``"fail"``).
    """

    def __call__(self, task_id: str, **overrides: Any) -> OperatorT:
        """Return a new operator with ``task_id`` and the overrides applied."""
        ...


class CrashController:
    """Arms crash points and guards against runaway polling in the operator's thread.

    ``time.sleep`` is patched for the thread that runs a try: each sleep is shortened to
    ``max_sleep_seconds``, an armed :attr:`CrashPoint.MID_POLL` fires at the first sleep after a status
    call, and more than ``max_sleeps`` sleeps in one try raise :class:`RunawayPolling`.
    """

    def __init__(self, system: ExternalSystem, store: InMemoryTaskStateStore, max_sleeps: int = 60) -> None:
        self.system = system
        self.store = store
        self.max_sleeps = max_sleeps
        self.max_sleep_seconds = 0.005
        self._real_sleep = time.sleep
        self._threads: set[int] = set()
        self._mid_poll_after: int | None = None
        self._sleeps = 0

    def arm(self, point: CrashPoint) -> None:
        """Make the next try crash at ``point``."""
        if point is CrashPoint.SUBMIT_WINDOW:
            self.store.crash_on_external_id_write = True
        else:
            self._mid_poll_after = self.system.status_calls()

    def sleep(self, seconds: float) -> None:
        """The patched ``time.sleep``."""
        if threading.get_ident() in self._threads:
            self._sleeps += 1
            if self._mid_poll_after is not None and self.system.status_calls() > self._mid_poll_after:
                self._mid_poll_after = None
                raise SimulatedCrash("crash between two status polls")
            if self._sleeps > self.max_sleeps:
                raise RunawayPolling(f"the operator slept {self._sleeps} times in one try")
            seconds = min(seconds, self.max_sleep_seconds)
        self._real_sleep(seconds)

    def run_try(self, run: TaskInstanceRun, operator: Any, **kwargs: Any) -> TryOutcome:
        """Run one try of ``run`` in the current thread under this controller.

        ``kwargs`` go to :meth:`TaskInstanceRun.run_try` (``run_triggers``, ``before_trigger``...).
        """
        ident = threading.get_ident()
        self._threads.add(ident)
        self._sleeps = 0
        try:
            return run.run_try(operator, **kwargs)
        finally:
            self._threads.discard(ident)


def _implements_trigger(operator_class: type) -> bool:
    return issubclass(operator_class, DurableJobMixin) and operator_class.job_trigger is not DurableJobMixin.job_trigger


_SUBJECT_FLAGS: dict[str, Callable[[type], Any]] = {
    "external_id_key": lambda op: getattr(op, "external_id_key", None),
    "supports_token_lookup": lambda op: bool(getattr(op, "supports_token_lookup", False)),
    "supports_cancel": lambda op: bool(getattr(op, "supports_cancel", False)),
    "deduplicates_submissions": lambda op: bool(getattr(op, "deduplicates_submissions", False)),
    "supports_lost_job_policy": lambda op: issubclass(op, DurableJobMixin),
    "supports_deferral": _implements_trigger,
    "fire_and_forget_kwargs": lambda op: dict(getattr(op, "fire_and_forget_kwargs", {}) or {}),
    "rejects_unknown_statuses": lambda op: getattr(op, "status_table", None) is not None,
}
"""Capability flag -> how to read it from the operator class, when the contract subclass does not set it."""


class DurableOperatorContract(Generic[OperatorT]):
    """The contract suite. Subclass it with ``Test`` in the name; see the module docstring.

    Capability flags (class attributes) turn scenarios into skips. Those marked *(subject)* default to what
    the operator class declares (``DurableOperatorContract[OperatorT]``'s parameter, or
    :attr:`operator_class`); set one in the subclass only where the class cannot say it, as for upstream
    operators that are run to show their gaps.

    Attributes:
        operator_class: The operator under test; read from the generic parameter when not set.
        external_id_key: *(subject)* The operator's ``task_state_store`` key.
        supports_token_lookup: *(subject)* The operator finds a job by its submission token after a crash in
            the submit-to-persist window.
        supports_cancel: *(subject)* ``on_kill`` cancels the job this try owns.
        deduplicates_submissions: *(subject)* The vendor returns the existing job for a repeated token, so a
            retry after a crash in the submit window adopts the job by resubmitting with the same token.
        supports_lost_job_policy: *(subject: a ``DurableJobMixin``)* The operator takes ``on_lost_job``.
        supports_deferral: *(subject: implements ``job_trigger``)* The operator takes ``deferrable=True``.
        fire_and_forget_kwargs: *(subject)* Constructor arguments of the operator's fire-and-forget mode;
            empty when it has none.
        rejects_unknown_statuses: *(subject: has a ``status_table``)* A status no table lists fails the try.
        records_tokens: The system can show the token sent with each submission.
        validates_state: Corrupt stored state raises a clear error naming the key.
        external_id_kind: The operator's ID format, a key of
            :data:`~airflow_durable.testing.corrupt_state.ID_KINDS` (``None``: the mixin's default,
            ``"generic"``); the corrupt-state corpus's inputs valid for it must be accepted, not refused.
        known_gaps: Scenario name (optionally with ``[param id]``) -> why the operator fails it. Each
            becomes a strict xfail, so the gap shows in the report and an unexpected pass fails the run.
            Meant for anchor comparisons against upstream operators, not for hiding our own defects.
    """

    operator_class: ClassVar[type | None] = None
    external_id_key: ClassVar[str]
    supports_token_lookup: ClassVar[bool] = False
    supports_cancel: ClassVar[bool] = False
    deduplicates_submissions: ClassVar[bool] = False
    supports_lost_job_policy: ClassVar[bool] = True
    supports_deferral: ClassVar[bool] = False
    fire_and_forget_kwargs: ClassVar[dict[str, Any]] = {}
    rejects_unknown_statuses: ClassVar[bool] = True
    records_tokens: ClassVar[bool] = True
    validates_state: ClassVar[bool] = True
    external_id_kind: ClassVar[str | None] = None
    known_gaps: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Resolve the operator class and default every *(subject)* flag the subclass does not set."""
        super().__init_subclass__(**kwargs)
        subject = cls._subject()
        if subject is None:
            return
        cls.operator_class = subject
        declared: set[str] = set()
        for klass in cls.__mro__:
            if klass is DurableOperatorContract:
                break
            own = vars(klass)
            derived = own.get("_derived_flags", frozenset())
            declared |= {name for name in _SUBJECT_FLAGS if name in own and name not in derived}
        derived_now = set()
        for name, read in _SUBJECT_FLAGS.items():
            if name in declared:
                continue
            value = read(subject)
            if value is not None:
                setattr(cls, name, value)
                derived_now.add(name)
        cls._derived_flags = frozenset(derived_now)

    _derived_flags: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def _subject(cls) -> type | None:
        """The operator class: ``operator_class`` if a subclass sets it, else the generic parameter."""
        for klass in cls.__mro__:
            if klass is DurableOperatorContract:
                break
            explicit = vars(klass).get("operator_class")
            if isinstance(explicit, type):
                return explicit
            for base in vars(klass).get("__orig_bases__", ()):
                origin = get_origin(base)
                if isinstance(origin, type) and issubclass(origin, DurableOperatorContract):
                    args = get_args(base)
                    if args and isinstance(args[0], type):
                        return args[0]
        return None

    # ------------------------------------------------------------------ fixtures a provider supplies

    @pytest.fixture
    def system(self) -> Iterator[ExternalSystem]:
        """The controllable external system (abstract: override in the subclass)."""
        raise NotImplementedError(f"{type(self).__name__} must define the 'system' fixture")

    def operator_kwargs(self, system: ExternalSystem) -> dict[str, Any]:
        """The constructor arguments (besides ``task_id``) of the operator under test against ``system``.

        Define this, or override the ``operator_factory`` fixture where building the operator needs more.

        Raises:
            NotImplementedError: The subclass defines neither.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must define operator_kwargs() or the 'operator_factory' fixture"
        )

    @pytest.fixture
    def operator_factory(self, system: ExternalSystem) -> OperatorFactory[OperatorT]:
        """Builds ``operator_class(task_id=..., **operator_kwargs(system))``; the suite's overrides win."""
        kwargs = self.operator_kwargs(system)
        operator_class = self.operator_class
        assert operator_class is not None, f"{type(self).__name__} has no operator class"

        def make(task_id: str, **overrides: Any) -> OperatorT:
            operator: OperatorT = operator_class(task_id=task_id, **{**kwargs, **overrides})
            return operator

        return make

    # ------------------------------------------------------------------ fixtures the suite supplies

    @pytest.fixture
    def state_store(self) -> InMemoryTaskStateStore:
        """A fresh ``task_state_store`` double."""
        return InMemoryTaskStateStore()

    @pytest.fixture
    def crash(
        self, system: ExternalSystem, state_store: InMemoryTaskStateStore, monkeypatch: pytest.MonkeyPatch
    ) -> CrashController:
        """The crash controller, with ``time.sleep`` patched for operator threads."""
        controller = CrashController(system, state_store)
        monkeypatch.setattr(time, "sleep", controller.sleep)
        return controller

    def task_run(
        self, store: InMemoryTaskStateStore, task_id: str = "durable_task", map_index: int = -1
    ) -> TaskInstanceRun:
        """Return a run of the task instance ``(dag, RUN_ID, task_id, map_index)``."""
        return TaskInstanceRun(store, TaskInstanceScope("durable_contract", RUN_ID, task_id, map_index))

    # ------------------------------------------------------------------ oracle helpers

    def normalize(self, value: Any, external_id: Any) -> Any:
        """Replace the job's external ID in a result or XCom value, so results of different jobs compare.

        Override it when a result holds other per-job values (timestamps, URLs with the ID encoded).
        """
        if isinstance(value, dict):
            return {k: self.normalize(v, external_id) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.normalize(v, external_id) for v in value]
        if value == external_id:
            return EXTERNAL_ID_PLACEHOLDER
        if isinstance(value, str):
            # Only whole tokens: run 2 must not rewrite "127.0.0.1:8443" (override for URLs and the like).
            pattern = rf"(?<![0-9A-Za-z_.-]){re.escape(str(external_id))}(?![0-9A-Za-z_.-])"
            return re.sub(pattern, EXTERNAL_ID_PLACEHOLDER, value)
        return value

    def _only_submission(self, system: ExternalSystem) -> Submission:
        submissions = list(system.submissions())
        assert len(submissions) == 1, f"expected exactly one job, the system has {submissions}"
        return submissions[0]

    def _crash_mid_poll(
        self,
        system: ExternalSystem,
        crash: CrashController,
        run: TaskInstanceRun,
        operator: OperatorT,
        polls_to_finish: int | None = None,
    ) -> Submission:
        """Run a try of ``run`` that crashes between two polls; return the job it submitted.

        ``polls_to_finish`` goes to ``system.finish_jobs_after`` (``None``: the job runs until told).
        """
        system.finish_jobs_after(polls_to_finish)
        crash.arm(CrashPoint.MID_POLL)
        first = crash.run_try(run, operator)
        assert first.crashed, f"the first try was expected to crash mid-poll, got {first}"
        return system.submissions()[-1]

    def _crash_then_lose_the_job(
        self, system: ExternalSystem, crash: CrashController, run: TaskInstanceRun, operator: OperatorT
    ) -> Submission:
        """Crash a try of ``run`` mid-poll, then make the vendor forget its only job; return that job."""
        self._crash_mid_poll(system, crash, run, operator)
        lost = self._only_submission(system)
        system.forget_job(lost.external_id)
        return lost

    def _retry_keeps_one_job(
        self, system: ExternalSystem, crash: CrashController, run: TaskInstanceRun, operator: OperatorT
    ) -> TryOutcome:
        """Run the retry of ``run``: it must succeed, and the system must still hold exactly one job."""
        second = crash.run_try(run, operator)
        assert second.succeeded, f"the retry failed: {second.error!r}"
        self._only_submission(system)
        return second

    def _two_jobs(self, system: ExternalSystem, expected: str, same_token_message: str) -> list[Submission]:
        """Check that the system holds two different jobs under different tokens; return them.

        ``expected`` says what the two jobs are (for the count's message); ``same_token_message`` is the
        message when both carry one token (checked only where the system records tokens).
        """
        jobs = list(system.submissions())
        assert len(jobs) == 2, f"expected {expected}, the system has {jobs}"
        assert jobs[0].external_id != jobs[1].external_id
        if self.records_tokens:
            assert jobs[0].token != jobs[1].token, same_token_message
        return jobs

    def _run_fresh_to_success(
        self, system: ExternalSystem, factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> tuple[TryOutcome, Any]:
        run = self.task_run(crash.store, task_id="baseline")
        system.finish_jobs_after(2)
        outcome = crash.run_try(run, factory("baseline"))
        assert outcome.succeeded, f"an uninterrupted run failed: {outcome.error!r}"
        return outcome, system.submissions()[-1].external_id

    # ------------------------------------------------------------------ scenarios

    def test_fresh_run_persists_before_first_poll(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """The external ID is in ``task_state_store`` before the first status request reaches the system."""
        run = self.task_run(crash.store)
        seen: list[Any] = []
        system.add_status_listener(lambda _id: seen.append(run.stored(self.external_id_key)))
        system.finish_jobs_after(2)
        outcome = crash.run_try(run, operator_factory("durable_task"))
        assert outcome.succeeded, outcome.error
        job = self._only_submission(system)
        assert seen, "the operator never asked the system for the job's status"
        _assert_stored_is(seen[0], job.external_id, "at the first status poll")

    def test_crash_mid_poll_then_retry_reconnects(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """A worker death while polling, then a retry: the retry reconnects; one job in total."""
        run = self.task_run(crash.store)
        self._crash_mid_poll(system, crash, run, operator_factory("durable_task"), polls_to_finish=3)
        self._retry_keeps_one_job(system, crash, run, operator_factory("durable_task"))

    def test_crash_after_job_succeeded_returns_result_without_polling(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """The job finished while the worker was dead: the retry returns the result from one status call."""
        run = self.task_run(crash.store)
        self._crash_mid_poll(system, crash, run, operator_factory("durable_task"))
        job = self._only_submission(system)
        system.set_job_state(job.external_id, JobState.SUCCEEDED)
        calls_before = system.status_calls()
        self._retry_keeps_one_job(system, crash, run, operator_factory("durable_task"))
        assert system.status_calls() - calls_before <= 1, (
            f"the retry polled a finished job {system.status_calls() - calls_before} times"
        )

    def test_cleared_after_success_with_the_job_forgotten_replays_the_result(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """A retry or clear after success, once the vendor forgot the job: same result and XComs, no calls."""
        run = self.task_run(crash.store)
        system.finish_jobs_after(2)
        first = crash.run_try(run, operator_factory("durable_task"))
        assert first.succeeded, f"an uninterrupted run failed: {first.error!r}"
        job = self._only_submission(system)
        system.forget_job(job.external_id)  # the vendor's run history expired
        calls_before = system.status_calls()
        again = crash.run_try(run, operator_factory("durable_task"))
        assert again.succeeded, (
            f"a clear after success failed once the vendor forgot the job (no result kept?): {again.error!r}"
        )
        self._only_submission(system)
        assert system.status_calls() == calls_before, (
            f"the clear asked the vendor {system.status_calls() - calls_before} times about a job that succeeded"
        )
        assert again.result == first.result, "the replayed result differs from the first run's"
        assert again.xcoms == first.xcoms, "the replayed XComs differ from the first run's"

    def test_terminal_failure_then_retry_resubmits_with_new_token(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """A failed job fails the try; the retry submits a fresh job under a new token (two jobs)."""
        run = self.task_run(crash.store)
        system.finish_jobs_after(1, JobState.FAILED)
        first = crash.run_try(run, operator_factory("durable_task"))
        assert first.error is not None, "a failed job must fail the try"
        assert not first.crashed
        system.finish_jobs_after(1, JobState.SUCCEEDED)
        second = crash.run_try(run, operator_factory("durable_task"))
        assert second.succeeded, (
            f"the retry after a terminal failure did not succeed with a fresh job: {second.error!r}"
        )
        jobs = list(system.submissions())
        assert len(jobs) == 2, f"expected a fresh job after the terminal failure, the system has {jobs}"
        assert jobs[0].external_id != jobs[1].external_id
        if self.records_tokens:
            assert None not in (jobs[0].token, jobs[1].token), "submissions carried no token"
            assert jobs[0].token != jobs[1].token, (
                f"the retry reused token {jobs[0].token!r}: the vendor would hand back the failed job"
            )

    def test_crash_in_submit_window_then_retry_adopts_by_token(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """A crash after the job was created but before its ID was persisted: the retry adopts it."""
        if not (self.supports_token_lookup or self.deduplicates_submissions):
            pytest.skip("the submit window stays open: no token lookup and no vendor deduplication")
        run = self.task_run(crash.store)
        system.finish_jobs_after(3)
        crash.arm(CrashPoint.SUBMIT_WINDOW)
        first = crash.run_try(run, operator_factory("durable_task"))
        assert first.crashed, f"expected a crash in the submit window, got {first}"
        assert len(system.submissions()) == 1, "the first try should have created the job"
        self._retry_keeps_one_job(system, crash, run, operator_factory("durable_task"))

    def test_lost_job_resubmits_by_default(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """The vendor forgot the stored job: with the default policy the retry submits a fresh one."""
        run = self.task_run(crash.store)
        self._crash_then_lose_the_job(system, crash, run, operator_factory("durable_task"))
        system.finish_jobs_after(1)
        second = crash.run_try(run, operator_factory("durable_task"))
        assert second.succeeded, f"a lost job must lead to a fresh submission, got {second.error!r}"
        self._two_jobs(system, "one fresh job after the lost one", "the fresh job reused the lost job's token")

    def test_lost_job_fails_when_policy_is_fail(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """With ``on_lost_job="fail"`` the retry fails clearly and submits nothing."""
        if not self.supports_lost_job_policy:
            pytest.skip("operator has no on_lost_job policy")
        run = self.task_run(crash.store)
        lost = self._crash_then_lose_the_job(system, crash, run, operator_factory("durable_task", on_lost_job="fail"))
        second = crash.run_try(run, operator_factory("durable_task", on_lost_job="fail"))
        assert second.error is not None, "on_lost_job='fail' must fail the try"
        assert str(lost.external_id) in str(second.error), f"the error should name the job: {second.error}"
        self._only_submission(system)

    def test_not_durable_always_resubmits(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """``durable=False``: a crash mid-poll and a retry give two jobs, and nothing is stored."""
        run = self.task_run(crash.store)
        self._crash_mid_poll(system, crash, run, operator_factory("durable_task", durable=False), polls_to_finish=3)
        second = crash.run_try(run, operator_factory("durable_task", durable=False))
        assert second.succeeded, second.error
        assert len(system.submissions()) == 2
        assert run.stored(self.external_id_key) is None, "durable=False must not write task_state_store"

    def test_mapped_task_instances_are_isolated(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """Two map indexes of one task each keep their own job, token and state across a crash."""
        system.finish_jobs_after(3)
        runs = [self.task_run(crash.store, task_id="mapped", map_index=i) for i in (0, 1)]
        for run in runs:
            crash.arm(CrashPoint.MID_POLL)
            first = crash.run_try(run, operator_factory("mapped"))
            assert first.crashed, f"map index {run.scope.map_index}: expected a crash mid-poll, got {first}"
        for run in runs:
            retry = crash.run_try(run, operator_factory("mapped"))
            assert retry.succeeded, f"map index {run.scope.map_index}: {retry.error!r}"
        self._two_jobs(system, "one job per map index", "two map indexes derived the same token")

    def test_on_kill_cancels_reconnected_job(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """``on_kill`` during a reconnected try cancels that job, in bounded time."""
        if not self.supports_cancel:
            pytest.skip("operator cannot cancel jobs (supports_cancel = False)")
        run = self.task_run(crash.store)
        self._crash_mid_poll(system, crash, run, operator_factory("durable_task"))
        job = self._only_submission(system)
        operator = operator_factory("durable_task")
        polled = threading.Event()
        polls: list[Any] = []

        def on_status(external_id: Any) -> None:
            polls.append(external_id)
            if len(polls) >= 2:  # the resume decision's call, then the reconnected poll loop's
                polled.set()

        system.add_status_listener(on_status)
        outcome: list[TryOutcome] = []
        worker = threading.Thread(target=lambda: outcome.append(crash.run_try(run, operator)), daemon=True)
        crash.max_sleeps = 10_000
        worker.start()
        assert polled.wait(30), "the retry never polled the reconnected job"
        started = time.monotonic()
        operator.on_kill()  # type: ignore[attr-defined]
        assert time.monotonic() - started < 60, "on_kill took too long"
        assert job.external_id in list(system.cancelled_jobs()), "on_kill did not cancel the reconnected job"
        system.set_job_state(job.external_id, JobState.FAILED)
        worker.join(30)
        assert not worker.is_alive(), "the killed try kept polling a cancelled job"
        self._only_submission(system)

    def test_result_and_xcoms_identical_on_every_path(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """Fresh, reconnect and already-succeeded runs return the same value and push the same XComs."""
        fresh, fresh_id = self._run_fresh_to_success(system, operator_factory, crash)

        reconnect_run = self.task_run(crash.store, task_id="reconnect")
        self._crash_mid_poll(system, crash, reconnect_run, operator_factory("reconnect"), polls_to_finish=3)
        reconnected = crash.run_try(reconnect_run, operator_factory("reconnect"))
        reconnect_id = system.submissions()[-1].external_id

        done_run = self.task_run(crash.store, task_id="succeeded")
        done_id = self._crash_mid_poll(system, crash, done_run, operator_factory("succeeded")).external_id
        system.set_job_state(done_id, JobState.SUCCEEDED)
        already = crash.run_try(done_run, operator_factory("succeeded"))

        assert reconnected.succeeded, reconnected.error
        assert already.succeeded, already.error
        assert len(system.submissions()) == 3
        expected = self.normalize(fresh.result, fresh_id)
        assert self.normalize(reconnected.result, reconnect_id) == expected, "reconnect path result differs"
        assert self.normalize(already.result, done_id) == expected, "already-succeeded path result differs"
        expected_xcoms = self.normalize(fresh.xcoms, fresh_id)
        assert self.normalize(reconnected.xcoms, reconnect_id) == expected_xcoms, "reconnect XComs differ"
        assert self.normalize(already.xcoms, done_id) == expected_xcoms, "already-succeeded XComs differ"

    @pytest.mark.parametrize("category", CATEGORIES)
    def test_corrupt_stored_state_gives_clear_error(
        self,
        category: str,
        system: ExternalSystem,
        operator_factory: OperatorFactory[OperatorT],
        crash: CrashController,
        request: pytest.FixtureRequest,
    ) -> None:
        """Each input of the shared corpus (one category) fails with an error naming the key; no submission.

        The inputs come from :mod:`airflow_durable.testing.corrupt_state`. One the corpus marks valid for
        :attr:`external_id_kind` (an upstream record, a record naming a job of this kind) is stored with the
        ID of a job that exists and succeeded, and must be accepted without a new submission. Each input
        runs as its own task instance; the failures are summed up in one assertion message. Where the
        scenario is a known gap (an upstream anchor), the category stops at its first failure, unless
        ``--corrupt-state-report`` asks for every figure.
        """
        if not self.validates_state:
            pytest.skip("operator does not validate stored state")
        inputs = corrupt_state.inputs_of(category)
        live_id: Any = None
        if any(item.valid_for(self.external_id_kind) for item in inputs):
            live_run = self.task_run(crash.store, task_id="corpus_live")
            live_id = self._crash_mid_poll(system, crash, live_run, operator_factory("corpus_live")).external_id
            system.set_job_state(live_id, JobState.SUCCEEDED)
        tally = corrupt_state.CorpusTally(type(self).__name__, category)
        corrupt_state.TALLIES.append(tally)
        known_gap = bool({request.node.name, request.node.originalname} & set(self.known_gaps))
        stop_at_first_failure = known_gap and not request.config.getoption("corrupt_state_report", False)
        for number, item in enumerate(inputs):
            if stop_at_first_failure and tally.failures:
                break
            task_id = f"corpus_{number}"
            run = self.task_run(crash.store, task_id=task_id)
            stored = item.stored(self.external_id_kind, live_id)
            valid = item.valid_for(self.external_id_kind)
            crash.store.set(run.scope, self.external_id_key, stored)
            for key, value in item.beside.items():
                crash.store.set(run.scope, key, value)
            before = len(system.submissions())
            try:
                outcome = crash.run_try(run, operator_factory(task_id))
            except RunawayPolling:
                tally.invalid += not valid
                tally.valid += valid
                tally.failures[item.name] = "the try kept polling"
                continue
            submitted = len(system.submissions()) - before
            tally.submissions += submitted
            shown = _shorten(repr(stored))
            if valid:
                tally.valid += 1
                if outcome.error is None and not submitted:
                    tally.accepted += 1
                else:
                    tally.failures[item.name] = (
                        f"valid record {shown} was not accepted without a submission "
                        f"({submitted} submitted, error {_shorten(repr(outcome.error))})"
                    )
                continue
            tally.invalid += 1
            if outcome.error is None:
                tally.failures[item.name] = f"corrupt state {shown} was accepted ({submitted} submitted)"
            elif self.external_id_key not in str(outcome.error):
                tally.failures[item.name] = f"the error does not name the key: {_shorten(repr(outcome.error))}"
            elif submitted:
                tally.failures[item.name] = f"corrupt state {shown} led to {submitted} submission(s)"
            else:
                tally.clear_errors += 1
        summary = "\n".join(f"  {name}: {why}" for name, why in tally.failures.items())
        assert not tally.failures, (
            f"{len(tally.failures)} of {tally.tried} {category} inputs were mishandled "
            f"({tally.submissions} submission(s)):\n{summary}"
        )

    def test_unknown_status_is_an_error(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """A status no table lists fails the try with an error naming it; it is never taken as active."""
        if not self.rejects_unknown_statuses:
            pytest.skip("the operator has no status table: upstream's decision takes any other status for a failure")
        run = self.task_run(crash.store)
        self._crash_mid_poll(system, crash, run, operator_factory("durable_task"))
        job = self._only_submission(system)
        system.set_raw_status(job.external_id, "SOMETHING_NEW")
        try:
            outcome = crash.run_try(run, operator_factory("durable_task"))
        except RunawayPolling:
            pytest.fail("the operator kept polling a job with an unknown status")
        assert outcome.error is not None, "an unknown status was accepted"
        assert "SOMETHING_NEW" in str(outcome.error), f"the error does not name the status: {outcome.error}"
        self._only_submission(system)

    def test_fault_storm_ends_with_one_job_within_the_retry_budget(
        self,
        storm_seed: int,
        system: ExternalSystem,
        operator_factory: OperatorFactory[OperatorT],
        crash: CrashController,
    ) -> None:
        """A share :data:`~airflow_durable.testing.storm.STORM_RATE` of all vendor calls fails (429, 5xx, timeouts).

        The storm runs from the first vendor call of :data:`~airflow_durable.testing.storm.TASK_INSTANCES` map
        indexes to their last. Each runs tries as Airflow would (``retries``:
        :data:`~airflow_durable.testing.storm.RETRY_BUDGET`) until one succeeds, and must end with the
        uninterrupted run's result and XComs, exactly one job, and at most the budget of failed tries: a
        transient error may fail a try, never make a retry submit a second job. The figures go to
        :data:`airflow_durable.testing.storm.TALLIES` (``--storm-report``); ``storm_seed`` comes from
        ``--storm-seeds``.
        """
        try:
            system.fault_storm(0.0, storm_seed)
        except NotImplementedError:
            pytest.skip("the external system cannot inject a fault storm")
        baseline = self._run_fresh_to_success(system, operator_factory, crash)
        tally = storm.StormTally(type(self).__name__, storm_seed)
        storm.TALLIES.append(tally)
        system.finish_jobs_after(storm.STATUS_CALLS_TO_FINISH)
        calls_before, faults_before = system.vendor_calls(), system.faults_injected()
        crash.max_sleeps = 5_000  # the vendor clients' own retry backoffs sleep too
        problems: list[str] = []
        system.fault_storm(storm.STORM_RATE, storm_seed)
        try:
            for map_index in range(storm.TASK_INSTANCES):
                problems += self._storm_task_instance(system, operator_factory, crash, map_index, tally, baseline)
        finally:
            system.fault_storm(0.0, storm_seed)
            tally.vendor_calls = system.vendor_calls() - calls_before
            tally.faults = system.faults_injected() - faults_before
        figures = f"{tally.vendor_calls} vendor calls, {tally.faults} faults injected, {tally.jobs} job(s)"
        tries = "\n".join(f"  {failed}" for failed in tally.failures) or "  none"
        assert not problems, (
            f"the storm (seed {storm_seed}; {figures}):\n" + "\n".join(f"  {p}" for p in problems)
        ) + f"\nfailed tries:\n{tries}"

    def _storm_task_instance(
        self,
        system: ExternalSystem,
        operator_factory: OperatorFactory[OperatorT],
        crash: CrashController,
        map_index: int,
        tally: storm.StormTally,
        baseline: tuple[TryOutcome, Any],
    ) -> list[str]:
        """Run one map index's tries through the storm and add its figures to ``tally``.

        Returns:
            What broke the contract (a failed task instance, a duplicate, another result); each failed try
            is added to ``tally.failures``.
        """
        run = self.task_run(crash.store, task_id="storm", map_index=map_index)
        jobs_before = len(system.submissions())
        tally.task_instances += 1
        outcome: TryOutcome | None = None
        for _ in range(1 + storm.RETRY_BUDGET):
            tally.tries += 1
            try:
                attempt = crash.run_try(run, operator_factory("storm"))
            except RunawayPolling as exc:
                attempt = TryOutcome(tally.tries, error=RuntimeError(f"the try kept polling: {exc}"))
            if attempt.succeeded:
                outcome = attempt
                break
            tally.failed_tries += 1
            what = "crashed" if attempt.crashed else f"failed: {_shorten(repr(attempt.error))}"
            tally.failures.append(f"map index {map_index}: a try {what}")
        jobs = list(system.submissions())[jobs_before:]
        tally.jobs += len(jobs)
        tally.duplicates += max(len(jobs) - 1, 0)
        if len(jobs) > 1:
            return [f"map index {map_index}: {len(jobs)} jobs, not 1: {jobs}"]
        if outcome is None:
            tally.task_failures += 1
            return [f"map index {map_index}: no try succeeded within {1 + storm.RETRY_BUDGET} tries"]
        if not jobs:
            return [f"map index {map_index}: succeeded without a job"]
        result, job_id = (outcome.result, outcome.xcoms), jobs[0].external_id
        expected = (baseline[0].result, baseline[0].xcoms)
        if self.normalize(result, job_id) != self.normalize(expected, baseline[1]):
            return [f"map index {map_index}: the result or XComs differ from an uninterrupted run's"]
        return []

    # ------------------------------------------------------------------ deferrable mode

    def _require_deferral(self) -> None:
        if not self.supports_deferral:
            pytest.skip("the operator has no deferrable mode")

    def test_deferrable_persists_the_job_before_deferring(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """``deferrable=True``: the job's ID is in ``task_state_store`` when the try defers."""
        self._require_deferral()
        run = self.task_run(crash.store)
        system.finish_jobs_after(None)
        outcome = crash.run_try(run, operator_factory("durable_task", deferrable=True), run_triggers=False)
        assert outcome.deferred is not None, f"deferrable=True did not defer: {outcome}"
        job = self._only_submission(system)
        _assert_stored_is(outcome.stored_at_deferral, job.external_id, "when the try deferred,")

    def test_deferrable_retry_after_a_trigger_failure_reconnects(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """The trigger fails: the try fails; the retry makes the resume decision and reconnects (one job)."""
        self._require_deferral()
        run = self.task_run(crash.store)
        system.finish_jobs_after(None)

        def break_the_trigger() -> None:
            system.set_raw_status(system.submissions()[-1].external_id, "SOMETHING_NEW")

        first = crash.run_try(run, operator_factory("durable_task", deferrable=True), before_trigger=break_the_trigger)
        assert first.deferred is not None, f"deferrable=True did not defer: {first}"
        assert first.error is not None, f"a failed trigger must fail the try: {first}"
        assert not first.crashed, f"the try crashed instead of failing: {first}"
        job = self._only_submission(system)
        system.set_job_state(job.external_id, JobState.ACTIVE)
        calls_before = system.status_calls()

        def finish() -> None:
            system.set_job_state(job.external_id, JobState.SUCCEEDED)

        try:
            second = crash.run_try(
                run,
                operator_factory("durable_task", deferrable=True),
                before_trigger=finish,
                trigger_timeout_seconds=10,
            )
        except RunawayPolling:
            pytest.fail(f"the retry's trigger waited for another job than the first one: {system.submissions()}")
        assert second.succeeded, f"the retry after a trigger failure failed: {second.error!r}"
        self._only_submission(system)
        assert second.deferred is not None, "the retry did not reconnect and defer to the running job"
        assert system.status_calls() > calls_before, "the retry skipped the resume decision's status call"

    def test_deferrable_result_and_xcoms_equal_the_polling_path(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """The trigger's event gives the same return value and XComs as a run that polled."""
        self._require_deferral()
        polled, polled_id = self._run_fresh_to_success(system, operator_factory, crash)
        run = self.task_run(crash.store, task_id="deferred")
        system.finish_jobs_after(2)
        deferred = crash.run_try(run, operator_factory("deferred", deferrable=True))
        assert deferred.succeeded, f"the deferred run failed: {deferred.error!r}"
        assert deferred.deferred is not None, "deferrable=True did not defer"
        deferred_id = system.submissions()[-1].external_id
        assert self.normalize(deferred.result, deferred_id) == self.normalize(polled.result, polled_id), (
            "the deferred path's result differs"
        )
        assert self.normalize(deferred.xcoms, deferred_id) == self.normalize(polled.xcoms, polled_id), (
            "the deferred path's XComs differ"
        )

    # ------------------------------------------------------------------ fire-and-forget mode

    def _fire_and_forget(self, factory: OperatorFactory[OperatorT], task_id: str = "durable_task") -> OperatorT:
        if not self.fire_and_forget_kwargs:
            pytest.skip("the operator has no fire-and-forget mode")
        return factory(task_id, **self.fire_and_forget_kwargs)

    def test_fire_and_forget_submits_once_without_waiting(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """Fire-and-forget: one job, the try returns while it runs, and the record holds the job."""
        operator = self._fire_and_forget(operator_factory)
        run = self.task_run(crash.store)
        system.finish_jobs_after(None)
        try:
            outcome = crash.run_try(run, operator)
        except RunawayPolling:
            pytest.fail("a fire-and-forget try waited for the job")
        assert outcome.succeeded, f"the fire-and-forget try failed: {outcome.error!r}"
        job = self._only_submission(system)
        stored = run.stored(self.external_id_key)
        stored_id = stored.get("external_id") if isinstance(stored, dict) else stored
        assert stored_id == job.external_id, f"task_state_store holds {stored!r}, not the job {job.external_id!r}"

    @pytest.mark.parametrize("later", ["active", "failed", "lost"])
    def test_fire_and_forget_retry_returns_the_submitted_job(
        self,
        later: str,
        system: ExternalSystem,
        operator_factory: OperatorFactory[OperatorT],
        crash: CrashController,
    ) -> None:
        """A retry or clear of a fire-and-forget try returns the job already submitted, whatever its state."""
        run = self.task_run(crash.store)
        system.finish_jobs_after(None)
        first = crash.run_try(run, self._fire_and_forget(operator_factory))
        assert first.succeeded, f"the fire-and-forget try failed: {first.error!r}"
        job = self._only_submission(system)
        if later == "failed":
            system.set_job_state(job.external_id, JobState.FAILED)
        elif later == "lost":
            system.forget_job(job.external_id)
        calls_before = system.status_calls()
        again = crash.run_try(run, self._fire_and_forget(operator_factory))
        assert again.succeeded, f"the retry of a fire-and-forget try ({later} job) failed: {again.error!r}"
        assert len(system.submissions()) == 1, (
            f"the retry of a fire-and-forget try ({later} job) submitted another job: {system.submissions()}"
        )
        assert again.result == first.result, "the retry returned another result"
        assert again.xcoms == first.xcoms, "the retry pushed other XComs"
        assert system.status_calls() == calls_before, "the retry asked the vendor about a job it must not wait for"

    def test_fire_and_forget_crash_in_submit_window_then_retry_one_job(
        self, system: ExternalSystem, operator_factory: OperatorFactory[OperatorT], crash: CrashController
    ) -> None:
        """Fire-and-forget, crash before the ID is persisted: the retry adopts the job (one job)."""
        operator = self._fire_and_forget(operator_factory)
        if not (self.supports_token_lookup or self.deduplicates_submissions):
            pytest.skip("the submit window stays open: no token lookup and no vendor deduplication")
        run = self.task_run(crash.store)
        system.finish_jobs_after(None)
        crash.arm(CrashPoint.SUBMIT_WINDOW)
        assert crash.run_try(run, operator).crashed, "expected a crash in the submit window"
        self._retry_keeps_one_job(system, crash, run, self._fire_and_forget(operator_factory))


def _shorten(text: str, limit: int = 160) -> str:
    """Return ``text`` cut to ``limit`` characters, so an oversized input does not flood the report."""
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} chars)"


def _assert_stored_is(stored: Any, external_id: Any, when: str) -> None:
    """Assert that a ``task_state_store`` value (a durable record or a bare ID) names ``external_id``."""
    stored_id = stored.get("external_id") if isinstance(stored, dict) else stored
    assert stored_id == external_id, f"{when} task_state_store held {stored!r}, not the job {external_id!r}"
