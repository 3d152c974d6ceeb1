"""The controllable external system a provider's contract subclass brings (its emulator, not a mock)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_durable.status import JobState


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
