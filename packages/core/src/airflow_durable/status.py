"""Vendor status tables: one explicit mapping from raw status strings to the three protocol states."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from airflow_durable.errors import UnknownJobStatusError


class JobState(enum.Enum):
    """What the protocol needs to know about a raw vendor status."""

    ACTIVE = "active"
    """Still running or queued: reconnect and keep polling."""
    SUCCEEDED = "succeeded"
    """Finished successfully: return the result, never resubmit."""
    FAILED = "failed"
    """Terminal failure (failed, cancelled, killed, errored): a retry submits a fresh job."""


@dataclass(frozen=True)
class StatusTable:
    """An explicit, cited mapping from raw vendor statuses to :class:`JobState`.

    Lookups are case-insensitive. A status missing from the table raises :class:`UnknownJobStatusError`
    instead of being treated as active: a silently "active" unknown status polls forever, and a silently
    "failed" one resubmits a job that may be running.

    Example:
        ```python
        SPARK_DRIVER_STATES = StatusTable(
            active={"SUBMITTED", "RUNNING", "RELAUNCHING"},
            succeeded={"FINISHED"},
            failed={"FAILED", "ERROR", "KILLED"},
            source="https://github.com/apache/spark/blob/master/core/src/main/scala/org/apache/spark/deploy/master/DriverState.scala",
        )
        ```

    Attributes:
        active: Raw statuses of a job that is still queued or running.
        succeeded: Raw statuses of a job that finished successfully.
        failed: Raw statuses of a job that ended in a terminal failure.
        source: URL of the vendor document the table follows.
    """

    active: Iterable[str]
    succeeded: Iterable[str]
    failed: Iterable[str]
    source: str
    _index: Mapping[str, JobState] = field(init=False, repr=False, compare=False)
    _declared: Mapping[JobState, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for attr in ("active", "succeeded", "failed"):
            object.__setattr__(self, attr, tuple(getattr(self, attr)))  # one-shot iterables read once
        object.__setattr__(
            self,
            "_declared",
            {state: tuple(sorted(getattr(self, state.value))) for state in JobState},
        )
        index: dict[str, JobState] = {}
        for state, names in (
            (JobState.ACTIVE, self.active),
            (JobState.SUCCEEDED, self.succeeded),
            (JobState.FAILED, self.failed),
        ):
            for name in names:
                key = name.upper()
                if key in index:
                    raise ValueError(f"Status {name!r} is listed twice ({index[key].value} and {state.value})")
                index[key] = state
        object.__setattr__(self, "_index", index)
        for attr in ("active", "succeeded", "failed"):
            object.__setattr__(self, attr, frozenset(n.upper() for n in getattr(self, attr)))

    def declared(self, state: JobState) -> tuple[str, ...]:
        """The raw statuses of one protocol state, spelled as the table declares them, sorted.

        :attr:`active`, :attr:`succeeded` and :attr:`failed` hold the upper-cased forms the lookups use; this
        keeps the vendor's own spelling (Kubernetes' ``Running``, not ``RUNNING``) for documentation.

        Args:
            state: The protocol state.

        Returns:
            The statuses the table maps to ``state``.
        """
        return self._declared[state]

    def classify(self, status: str) -> JobState:
        """Map a raw status to its :class:`JobState`.

        Args:
            status: The raw status string the vendor returned.

        Returns:
            The protocol state.

        Raises:
            UnknownJobStatusError: If the status is not in the table.
        """
        try:
            return self._index[str(status).upper()]
        except KeyError:
            raise UnknownJobStatusError(str(status), self.source) from None

    def __contains__(self, status: object) -> bool:
        return isinstance(status, str) and status.upper() in self._index
