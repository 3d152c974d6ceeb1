"""``JobStatusTrigger``: the deferrable half of the protocol, polling one job in the triggerer.

A provider's trigger states only how to read one raw status (a blocking vendor call, run in a worker thread)
and which errors are transient; the loop (backoff with jitter, transient retries, classification through
the cited status table, one event) lives here, once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_durable.backoff import Backoff, poll_ceiling_seconds
from airflow_durable.errors import DurableJobError, JobLostError
from airflow_durable.mixin import serialize_trigger
from airflow_durable.status import JobState, StatusTable


class JobStatusTrigger(BaseTrigger):
    """Poll one job until it is terminal, then fire one event for ``execute_resumable_complete``.

    The operator has made the resume decision and persisted the external ID before deferring, so a
    triggerer restart, or a failure here, never submits anything: the task's retry reconnects.

    Events::

        {"external_id": <the job>, "status": <raw terminal status>}
        {"external_id": <the job>, "error": "<message>"}   # lost, unknown status, or polling failed for good

    Subclasses set :attr:`status_table` and :attr:`serialized_fields` (their own constructor arguments) and
    implement :meth:`get_status`; :meth:`is_transient_error` defaults to False.

    Args:
        external_id: The job to poll (the operator's stored external ID).
        poll_interval_seconds: The first delay between polls, in seconds (operators pass theirs).
        max_poll_interval_seconds: The ceiling the delay grows to (x1.5 a poll, with jitter), in seconds;
            ``None``: :func:`airflow_durable.backoff.default_max_poll_interval_seconds` (the operators' policy).
        max_transient_errors: Consecutive transient errors tolerated before the event reports an error.
    """

    status_table: ClassVar[StatusTable]
    """The cited table that classifies :meth:`get_status`'s answer."""
    serialized_fields: ClassVar[tuple[str, ...]] = ()
    """The subclass's own constructor arguments, serialized besides the base ones (never credentials)."""
    external_id_arg: ClassVar[str] = "external_id"
    """The constructor argument (and attribute) that carries the external ID, for a subclass that keeps a
    vendor's name for it (Databricks: ``run_id``)."""

    def __init__(
        self,
        external_id: Any,
        poll_interval_seconds: float = 30.0,
        max_poll_interval_seconds: float | None = None,
        max_transient_errors: int = 10,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.external_id = external_id
        self.poll_interval_seconds = poll_interval_seconds
        self.max_poll_interval_seconds = poll_ceiling_seconds(poll_interval_seconds, max_poll_interval_seconds)
        self.max_transient_errors = max_transient_errors

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and keyword arguments (the base ones, then :attr:`serialized_fields`)."""
        return serialize_trigger(
            self,
            self.external_id_arg,
            "poll_interval_seconds",
            "max_poll_interval_seconds",
            "max_transient_errors",
            *self.serialized_fields,
        )

    def get_status(self) -> str:
        """Return the job's raw status; a blocking call, run in a worker thread.

        Raises:
            JobLostError: The vendor no longer knows the job.
        """
        raise NotImplementedError

    def is_transient_error(self, error: Exception) -> bool:
        """Return True for an error worth retrying in place (429, 5xx, timeouts); default False."""
        return False

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll with backoff until the status is terminal, then yield one event."""
        waits = Backoff(
            self.poll_interval_seconds, max(self.poll_interval_seconds, self.max_poll_interval_seconds)
        ).delays()
        failures = 0
        while True:
            try:
                status = await asyncio.to_thread(self.get_status)
                job_state = self.status_table.classify(status)
            except (JobLostError, DurableJobError) as err:
                yield TriggerEvent({"external_id": self.external_id, "error": str(err)})  # type: ignore[no-untyped-call]
                return
            except Exception as err:  # noqa: BLE001 - reported in the event; the task decides
                if self.is_transient_error(err) and failures < self.max_transient_errors:
                    failures += 1
                    self.log.warning("Transient error polling %r: %r", self.external_id, err)
                    await asyncio.sleep(next(waits))
                    continue
                yield TriggerEvent({"external_id": self.external_id, "error": repr(err)})  # type: ignore[no-untyped-call]
                return
            failures = 0
            if job_state is not JobState.ACTIVE:
                yield TriggerEvent({"external_id": self.external_id, "status": status})  # type: ignore[no-untyped-call]
                return
            await asyncio.sleep(next(waits))
