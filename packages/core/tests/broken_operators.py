"""Deliberately broken variants of the reference operator, for ``test_contract_catches_broken.py``.

Each one breaks exactly one guarantee of DESIGN.md section 3.1 and is otherwise the reference
``InMemoryJobOperator``, so the contract scenarios that fail on it are the ones that guard that guarantee.
This is a plain helper module (not collected by pytest); the pytester-generated test modules import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    "UpstreamResumable": UpstreamResumable,
}
