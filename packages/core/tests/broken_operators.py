"""Deliberately broken variants of the reference operator, for ``test_contract_catches_broken.py``.

Each one breaks exactly one guarantee of DESIGN.md section 3.1 and is otherwise the reference
``InMemoryJobOperator``, so the contract scenarios that fail on it are the ones that guard that guarantee.
This is a plain helper module (not collected by pytest); the pytester-generated test modules import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import ResumableJobMixin

from airflow_durable.errors import UnknownJobStatusError
from airflow_durable.status import JobState
from airflow_durable.testing.reference import InMemoryJobOperator
from airflow_durable.tokens import TaskInstanceScope, submission_token

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue


class PersistsAfterPolling(InMemoryJobOperator):
    """(a) Records the external ID only once polling is over.

    ``record_external_id`` (the persist the mixin calls right after ``submit_job``) is deferred until
    ``poll_until_complete`` returns, so while the job runs ``task_state_store`` only holds the intent.
    """

    _deferred_id: Any = None

    def record_external_id(self, external_id: JsonValue) -> None:
        self._deferred_id = external_id

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        super().poll_until_complete(external_id, context)
        deferred, self._deferred_id = self._deferred_id, None
        if deferred is not None:
            super().record_external_id(deferred)


class DropsResultOnReconnect(InMemoryJobOperator):
    """(b) The reconnect path ends in ``poll_until_complete``'s ``None``, as upstream's does.

    Upstream ``ResumableJobMixin.execute_resumable`` ends its reconnect branch with
    ``return self.poll_until_complete(reconnect_to, context)``: no result, no XComs from
    ``get_job_result``. Here a try that polled a job it did not submit (a reconnect) does the same.
    """

    _submitted = False
    _polled = False

    def submit_job(self, context: Context) -> JsonValue:
        self._submitted = True
        return super().submit_job(context)

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        super().poll_until_complete(external_id, context)
        self._polled = True

    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        if self._polled and not self._submitted:
            return None
        return super().get_job_result(external_id, context)


class ReusesTokenAfterFailure(InMemoryJobOperator):
    """(c) Always submits with generation 0's token, whatever generation the protocol is on.

    After a terminal failure the service deduplicates the "fresh" submission to the old failed job, as
    Databricks, EMR on EKS and Dataproc do.
    """

    def submit_job(self, context: Context) -> JsonValue:
        token = submission_token(TaskInstanceScope.from_context(context), 0, base=self.token_base())
        return self.service.submit(self.payload, token=token)


class UnknownStatusIsActive(InMemoryJobOperator):
    """(d) Takes any status its table does not list for "still running"."""

    def classify_status(self, status: str) -> JobState:
        try:
            return super().classify_status(status)
        except UnknownJobStatusError:
            return JobState.ACTIVE


class KeepsNoResult(InMemoryJobOperator):
    """(e) Keeps no result in the ``succeeded`` record, so a clear after success asks the vendor again.

    That is what the record held before it kept results: once the vendor's history expires (Databricks
    after about 60 days), every clear of the task fails.
    """

    max_stored_result_bytes: ClassVar[int] = 0


class DeferrableSkipsTheDecision(InMemoryJobOperator):
    """(f) Deferrable tries submit and defer without the resume decision, as upstream's deferrable path does.

    The ID is persisted before ``defer()``, but a retry after a trigger failure submits another job.
    """

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return self.execute_resumable(context)
        external_id = self.service.submit(self.payload)
        context["task_state_store"].set(self.external_id_key, external_id)
        self.defer(trigger=self.job_trigger(external_id, context), method_name="execute_resumable_complete")


class DeferredPathReturnsNothing(InMemoryJobOperator):
    """(g) Resuming from the trigger returns ``None`` and pushes nothing, as upstream ``execute_complete`` does."""

    def execute_resumable_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        if not event or event.get("error") or event.get("status") != "DONE":
            return super().execute_resumable_complete(context, event)
        return None


class FireAndForgetWithoutRecord(InMemoryJobOperator):
    """(h) Fire-and-forget runs without the protocol (no record), so every retry submits another job."""

    def execute(self, context: Context) -> Any:
        if self.wait_for_completion:
            return self.execute_resumable(context)
        external_id = self.submit_job(context)
        return self.get_job_result(external_id, context)


class UpstreamResumable(InMemoryJobOperator):
    """Upstream ``airflow.sdk.ResumableJobMixin.execute_resumable`` driving the reference service.

    Not one targeted break but the baseline the project improves on: a bare ID stored after submit, no
    intent, no token, ``None`` from the reconnect path, no lost-job policy, no state validation.
    """

    def execute(self, context: Context) -> Any:
        return ResumableJobMixin.execute_resumable(self, context)


BROKEN_OPERATORS: dict[str, type[InMemoryJobOperator]] = {
    "PersistsAfterPolling": PersistsAfterPolling,
    "DropsResultOnReconnect": DropsResultOnReconnect,
    "ReusesTokenAfterFailure": ReusesTokenAfterFailure,
    "UnknownStatusIsActive": UnknownStatusIsActive,
    "KeepsNoResult": KeepsNoResult,
    "DeferrableSkipsTheDecision": DeferrableSkipsTheDecision,
    "DeferredPathReturnsNothing": DeferredPathReturnsNothing,
    "FireAndForgetWithoutRecord": FireAndForgetWithoutRecord,
    "UpstreamResumable": UpstreamResumable,
}
