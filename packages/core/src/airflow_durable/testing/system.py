"""The controllable external system a provider's contract subclass brings (its emulator, not a mock).

:class:`EmulatorSystem` adapts any emulator built on :mod:`airflow_durable.testing.emulator`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_durable.status import JobState

if TYPE_CHECKING:
    from airflow_durable.testing.emulator import Emulator


@dataclass(frozen=True)
class Submission:
    """One job the external system created.

    Attributes:
        external_id: The vendor's job ID.
        token: The submission token the operator sent with it (``None`` if it sent none, or if the vendor
            cannot show it).
    """

    external_id: Any
    token: str | None = None


class ExternalSystem(ABC):
    """The test's handle on the external side: read what was submitted, move jobs, inject faults.

    A provider implements it over its emulator (moto, a wire-level HTTP emulator, an in-memory fake), so
    that the contract suite drives the real client code of the operator. Everything here bypasses the
    operator.
    """

    @abstractmethod
    def submissions(self) -> Sequence[Submission]:
        """Return every job created so far, oldest first (deduplicated submissions count once)."""

    @abstractmethod
    def status_calls(self) -> int:
        """Return how many status requests the system has served so far, for all jobs."""

    @abstractmethod
    def finish_jobs_after(self, status_calls: int | None, outcome: JobState = JobState.SUCCEEDED) -> None:
        """Script jobs created from now on.

        Args:
            status_calls: Each new job answers "active" to this many status requests, then ``outcome``.
                ``None`` keeps new jobs active until a test moves them.
            outcome: The terminal state new jobs reach.
        """

    @abstractmethod
    def set_job_state(self, external_id: Any, state: JobState) -> None:
        """Move a job to a representative raw status of ``state`` (for example Spark ``FINISHED``)."""

    @abstractmethod
    def set_raw_status(self, external_id: Any, raw_status: str) -> None:
        """Make a job report an arbitrary raw status, such as one no status table lists."""

    @abstractmethod
    def forget_job(self, external_id: Any) -> None:
        """Make the system answer "not found" for the job from now on (expired history, GC'd pod)."""

    def cancelled_jobs(self) -> Sequence[Any]:
        """Return the IDs of jobs that received a cancel request (needed when the operator cancels)."""
        raise NotImplementedError

    def add_status_listener(self, listener: Callable[[Any], None]) -> None:
        """Call ``listener(external_id)`` whenever a status request arrives, before it is answered.

        It may run in a server thread. Needed by the "persists before the first poll" scenario.
        """
        raise NotImplementedError

    def fault_storm(self, rate: float, seed: int) -> None:
        """From now on a share ``rate`` of all vendor calls answers 429, 5xx or times out; 0 ends the storm.

        Needed by the fault-storm scenario (see :data:`~airflow_durable.testing.faults.STORM_FAULTS`).
        """
        raise NotImplementedError

    def vendor_calls(self) -> int:
        """Return how many vendor requests the system received so far, fault-injected ones included."""
        raise NotImplementedError

    def faults_injected(self) -> int:
        """Return how many vendor requests the system answered with an injected fault so far."""
        raise NotImplementedError


class EmulatorSystem(ExternalSystem):
    """Any :class:`~airflow_durable.testing.emulator.Emulator`, as the contract suite sees it.

    A submission is a job the emulator created (a deduplicated token creates none), with the token the
    request carried; a status call is one the operator made (a vendor client's own polls, such as
    ``spark-submit``'s, are not observed).

    Args:
        emulator: The emulator, started or not.
    """

    def __init__(self, emulator: Emulator[Any]) -> None:
        self.emulator = emulator

    def submissions(self) -> Sequence[Submission]:
        """Every job created, with its token."""
        return [Submission(job.external_id, job.token) for job in self.emulator.book.jobs]

    def status_calls(self) -> int:
        """Status calls the operator made."""
        return self.emulator.observed_status_calls

    def finish_jobs_after(self, status_calls: int | None, outcome: JobState = JobState.SUCCEEDED) -> None:
        """Script new jobs through the emulator's own life cycle; ``None`` holds them active."""
        if status_calls is None:
            self.emulator.hold()
        else:
            final = self.emulator.representative_states[outcome]
            self.emulator.finish_after(status_calls + 1 + self.emulator.client_status_calls, final)

    def set_job_state(self, external_id: Any, state: JobState) -> None:
        """Pin a job to the emulator's representative raw status of ``state``."""
        self.emulator.force_state(external_id, self.emulator.representative_states[state])

    def set_raw_status(self, external_id: Any, raw_status: str) -> None:
        """Pin a job to any raw status."""
        self.emulator.force_state(external_id, raw_status)

    def forget_job(self, external_id: Any) -> None:
        """The vendor answers "not found" for the job from now on."""
        self.emulator.forget(external_id)

    def cancelled_jobs(self) -> Sequence[Any]:
        """Jobs that received a cancel request."""
        return list(self.emulator.book.cancelled)

    def fault_storm(self, rate: float, seed: int) -> None:
        """See :meth:`Emulator.fault_storm <airflow_durable.testing.emulator.Emulator.fault_storm>`."""
        self.emulator.fault_storm(rate, seed)

    def vendor_calls(self) -> int:
        """Vendor requests received (HTTP and gRPC), fault-injected ones included."""
        return sum(self.emulator.calls.values())

    def faults_injected(self) -> int:
        """Vendor requests answered with an injected fault."""
        return sum(self.emulator.faults.served.values())

    def add_status_listener(self, listener: Callable[[Any], None]) -> None:
        """Observe the operator's status calls."""
        self.emulator.book.listeners.append(lambda event, job_id: listener(job_id) if event == "status" else None)
