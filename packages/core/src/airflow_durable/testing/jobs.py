"""The job life cycle every emulator shares, in the spirit of moto's ``ManagedState``.

A :class:`JobBook` holds an emulator's jobs. Each :class:`EmulatedJob` moves through the emulator's state
vocabulary (the vendor's raw statuses, each classified as a :class:`~airflow_durable.status.JobState`):

* it is born in the script's ``born`` state;
* on its N-th status call it takes the state the script gives for N (:meth:`JobBook.advance`), or it stays
  where it is (:meth:`JobBook.hold`);
* a test can force any state (which pins the job), forget the job (the vendor answers "not found"), or
  cancel it (optionally through a ``cancelling`` state for a number of status calls);
* a repeated submission token is deduplicated per the :class:`Dedupe` policy;
* listeners hear about every creation, status call and cancel.

The book knows nothing about HTTP: an emulator's route handlers call :meth:`JobBook.submit`,
:meth:`JobBook.poll` and :meth:`JobBook.cancel`, then render the job in the vendor's wire format.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from airflow_durable.status import JobState


class Dedupe(enum.Enum):
    """What a submission with a token the book already knows does."""

    NONE = "none"
    """Every submission creates a job (Spark standalone: there is no token)."""
    DEDUPE = "dedupe"
    """Return the existing job, unless it failed: then create a new one (EMR ``clientToken``)."""
    DEDUPE_FAILED = "dedupe_failed"
    """Return the existing job whatever its state, failed too (Databricks ``idempotency_token``)."""


@dataclass(eq=False)
class EmulatedJob:
    """One job an emulator created. Vendors subclass it to keep their own fields.

    Attributes:
        external_id: The vendor's ID of the job (what the book keys it by; named so that a vendor's record
            may use ``job_id`` for something else, such as the Databricks job a run belongs to).
        state: The current raw status (a name of the emulator's vocabulary, or any string a test forced).
        token: The submission token the request carried (``None``: none).
        request: The request as received (decoded JSON), for tests to inspect.
        created_at: Epoch seconds of the creation.
        status_calls: Status calls answered for this job (fault-injected ones excluded).
        scripted_calls: Status calls answered while a script moved the job (they drive :meth:`JobBook.advance`).
        pinned: A test forced the state; the job no longer moves on its own.
        forgotten: The vendor answers "not found" for the job.
        token_released: The job's token no longer maps to it.
        cancel_requested: A cancel was accepted while the job was active.
        cancel_calls: Status calls answered since the cancel.
        history: Every :meth:`history_entry` the job went through, oldest first (consecutive repeats dropped).
    """

    external_id: Any
    state: str
    token: str | None = None
    request: Any = None
    created_at: float = field(default_factory=time.time)
    status_calls: int = 0
    scripted_calls: int = 0
    pinned: bool = False
    forgotten: bool = False
    token_released: bool = False
    cancel_requested: bool = False
    cancel_calls: int = 0
    history: list[Any] = field(default_factory=list)

    def history_entry(self) -> Any:
        """What :attr:`history` records for the current state (default: :attr:`state`).

        Vendors whose state has several fields (Databricks: life-cycle and result state) return them all.
        """
        return self.state


JobT = TypeVar("JobT", bound=EmulatedJob)
Listener = Callable[[str, Any], None]
"""``listener(event, job_id)`` with ``event`` one of ``"create"``, ``"status"``, ``"cancel"``."""


class UnknownStateError(ValueError):
    """A state name is not in the emulator's vocabulary."""


@dataclass(frozen=True)
class Script:
    """How jobs move on their own: born in ``born``; ``transitions`` are ``(status call, state)`` pairs.

    From its N-th scripted status call on, a job is in the state of the largest N listed that it reached.
    No transitions: hold (jobs stay in ``born`` until a test moves them).
    """

    born: str
    transitions: tuple[tuple[int, str], ...] = ()

    def state_after(self, calls: int) -> str | None:
        """Return the state a job takes on its ``calls``-th scripted status call, or ``None`` to stay."""
        reached = [state for n, state in self.transitions if calls >= n]
        return reached[-1] if reached else None


class JobBook(Generic[JobT]):
    """All jobs of one emulator, their tokens and their life cycle; thread-safe.

    Args:
        states: The vendor's vocabulary: raw status -> what it means. A forced state outside it counts as
            active (never terminal).
        new_job: Builds a job: ``new_job(external_id, state, token, request, **fields)`` (called under the
            book's lock).
        new_id: Returns the next job ID (called under the book's lock).
        script: The initial script (default: hold in the first active state).
        dedupe: The token policy.
        cancelling: The state a cancelled active job shows for ``calls_to_cancel`` status calls before
            ``cancelled`` (``None``: straight to ``cancelled``).
        cancelled: The state a cancelled job ends in.
        calls_to_cancel: See ``cancelling``.
        enter: ``enter(job, state, **fields)`` sets a job's state; vendors pass one that keeps their derived
            fields in step (called with the lock held). Default: set :attr:`EmulatedJob.state`.
    """

    def __init__(
        self,
        states: Mapping[str, JobState],
        *,
        new_job: Callable[..., JobT],
        new_id: Callable[[], Any],
        script: Script | None = None,
        dedupe: Dedupe = Dedupe.NONE,
        cancelled: str,
        cancelling: str | None = None,
        calls_to_cancel: int = 0,
        enter: Callable[..., None] | None = None,
    ) -> None:
        self.states = dict(states)
        self.dedupe = dedupe
        self.cancelled_state = self.check(cancelled)
        self.cancelling_state = None if cancelling is None else self.check(cancelling)
        self.calls_to_cancel = calls_to_cancel
        self.lock = threading.RLock()
        self._new_job = new_job
        self._new_id = new_id
        self._set_state = enter or _set_state
        first_active = next(name for name, meaning in self.states.items() if meaning is JobState.ACTIVE)
        self._initial_script = script or Script(first_active)
        self.listeners: list[Listener] = []
        """Called outside the lock; an exception propagates to the caller (the emulator records it)."""
        self.reset()

    def reset(self) -> None:
        """Forget every job, token and record; back to the initial script. IDs are not reused."""
        with self.lock:
            self.script = self._initial_script
            self._jobs: dict[Any, JobT] = {}
            self._tokens: dict[Any, Any] = {}
            self.deduplicated: list[Any] = []
            """Job IDs returned for a known token (one entry per such request), oldest first."""
            self.cancelled: list[Any] = []
            """Job IDs of every accepted cancel request (terminal jobs included), in order."""

    @property
    def initial_script(self) -> Script:
        """The script :meth:`reset` returns to; set it to keep the one an emulator's constructor chose."""
        return self._initial_script

    @initial_script.setter
    def initial_script(self, script: Script) -> None:
        self._initial_script = script

    # ------------------------------------------------------------------ vocabulary and script

    def check(self, state: str) -> str:
        """Return ``state`` if it is in the vocabulary.

        Raises:
            UnknownStateError: It is not.
        """
        if state not in self.states:
            raise UnknownStateError(f"unknown state {state!r}; expected one of {sorted(self.states)}")
        return state

    def meaning(self, state: str) -> JobState:
        """Classify a state (anything outside the vocabulary is active)."""
        return self.states.get(state, JobState.ACTIVE)

    def is_terminal(self, job: EmulatedJob) -> bool:
        """Whether the job ended (succeeded or failed)."""
        return self.meaning(job.state) is not JobState.ACTIVE

    @property
    def mode(self) -> str:
        """``"hold"`` (no transitions) or ``"advance"``."""
        return "advance" if self.script.transitions else "hold"

    def hold(self, state: str) -> None:
        """New jobs are born in ``state``; no job moves on its own."""
        with self.lock:
            self.script = Script(self.check(state))

    def advance(self, born: str, transitions: Iterable[tuple[int, str]]) -> None:
        """Jobs are born in ``born`` and take each state from its status call on.

        Held jobs that are not pinned start counting from now.

        Raises:
            ValueError: No transitions, a call number below 1, or an unknown state.
        """
        steps = tuple(sorted(((int(n), self.check(state)) for n, state in transitions), key=lambda step: step[0]))
        if not steps or steps[0][0] < 1:
            raise ValueError("advance needs transitions at status calls >= 1")
        with self.lock:
            self.script = Script(self.check(born), steps)

    # ------------------------------------------------------------------ the vendor's calls

    def submit(self, token: str | None, request: Any = None, *, scope: Any = None, **fields: Any) -> tuple[JobT, bool]:
        """Create a job, or return the one ``token`` already names (per :attr:`dedupe`).

        Args:
            token: The request's submission token (``None``/empty: none).
            request: The decoded request, kept on the job.
            scope: Narrows the token (Databricks: run-now tokens are per job).
            **fields: More fields for ``new_job``.

        Returns:
            ``(job, created)``.

        Raises:
            LookupError: The token names a forgotten job whose token was not released (vendors answer an
                error then; the emulator renders it).
        """
        with self.lock:
            key = (scope, token)
            if token and self.dedupe is not Dedupe.NONE and key in self._tokens:
                job = self._jobs[self._tokens[key]]
                failed = self.meaning(job.state) is JobState.FAILED
                if job.token_released or (failed and self.dedupe is Dedupe.DEDUPE):
                    del self._tokens[key]
                elif job.forgotten:
                    raise LookupError(f"the job with token {token!r} was deleted")
                else:
                    self.deduplicated.append(job.external_id)
                    return job, False
            job = self._new_job(self._new_id(), self.script.born, token or None, request, **fields)
            self._enter(job, self.script.born)
            self._jobs[job.external_id] = job
            if token:
                self._tokens[key] = job.external_id
        self._notify("create", job.external_id)
        return job, True

    def poll(self, job_id: Any, *, notify: bool = True) -> JobT | None:
        """Answer one status call: count it, move the job, and return it (``None``: unknown or forgotten).

        Args:
            job_id: The job asked about.
            notify: Tell the listeners (``False`` for calls a test must not see, such as a client's own).
        """
        if notify:
            self._notify("status", job_id)
        with self.lock:
            job = self._jobs.get(job_id)
            if job is None or job.forgotten:
                return None
            job.status_calls += 1
            if job.cancel_requested and not self.is_terminal(job):
                job.cancel_calls += 1
                if job.cancel_calls >= self.calls_to_cancel:
                    self._enter(job, self.cancelled_state)
            elif not job.pinned and not self.is_terminal(job) and self.script.transitions:
                job.scripted_calls += 1
                state = self.script.state_after(job.scripted_calls)
                if state is not None:
                    self._enter(job, state)
            return job

    def cancel(self, job_id: Any) -> JobT | None:
        """Accept a cancel request (a terminal job ignores it); ``None``: unknown or forgotten."""
        with self.lock:
            job = self._jobs.get(job_id)
            if job is None or job.forgotten:
                return None
            self.cancelled.append(job_id)
            if not self.is_terminal(job) and not job.cancel_requested:
                job.cancel_requested = True
                job.cancel_calls = 0
                if self.cancelling_state is None or self.calls_to_cancel <= 0:
                    self._enter(job, self.cancelled_state)
                else:
                    self._enter(job, self.cancelling_state)
        self._notify("cancel", job_id)
        return job

    # ------------------------------------------------------------------ a test's controls

    def force(self, job_id: Any, state: str, **fields: Any) -> JobT:
        """Move a job to any state (also one outside the vocabulary) and pin it there.

        Args:
            job_id: The job.
            state: The raw status.
            **fields: Vendor fields to pass to ``enter`` (for example a message).

        Raises:
            KeyError: Unknown job.
        """
        with self.lock:
            job = self._known(job_id)
            job.pinned = True
            job.cancel_requested = False
            self._enter(job, state, **fields)
            return job

    def forget(self, job_id: Any, *, release_token: bool = False) -> None:
        """Make the vendor answer "not found" for a job; ``release_token`` frees its token too.

        Raises:
            KeyError: Unknown job.
        """
        with self.lock:
            job = self._known(job_id)
            job.forgotten = True
            job.token_released = job.token_released or release_token

    # ------------------------------------------------------------------ inspection

    @property
    def jobs(self) -> list[JobT]:
        """Every job created, oldest first (forgotten ones included). The records are live."""
        with self.lock:
            return list(self._jobs.values())

    def get(self, job_id: Any) -> JobT:
        """Return one job.

        Raises:
            KeyError: No such job was ever created.
        """
        with self.lock:
            return self._known(job_id)

    def find(self, job_id: Any) -> JobT | None:
        """Return a job the vendor still knows, or ``None``."""
        with self.lock:
            job = self._jobs.get(job_id)
            return None if job is None or job.forgotten else job

    def __iter__(self) -> Iterator[JobT]:
        return iter(self.jobs)

    def wait_for(self, count: int, timeout_seconds: float = 10.0) -> Sequence[JobT]:
        """Wait until at least ``count`` jobs exist and return them.

        Raises:
            TimeoutError: Fewer jobs were created in time.
        """
        deadline = time.monotonic() + timeout_seconds
        while len(jobs := self.jobs) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} jobs, got {len(jobs)}")
            time.sleep(0.01)
        return jobs

    # ------------------------------------------------------------------ internals

    def _enter(self, job: JobT, state: str, **fields: Any) -> None:
        self._set_state(job, state, **fields)
        entry = job.history_entry()
        if not job.history or job.history[-1] != entry:
            job.history.append(entry)

    def _known(self, job_id: Any) -> JobT:
        try:
            return self._jobs[job_id]
        except KeyError:
            known = ", ".join(repr(k) for k in list(self._jobs)[-5:]) or "none yet"
            raise KeyError(f"no job {job_id!r} (latest known: {known})") from None

    def _notify(self, event: str, job_id: Any) -> None:
        for listener in list(self.listeners):
            listener(event, job_id)


def _set_state(job: EmulatedJob, state: str) -> None:
    job.state = state
