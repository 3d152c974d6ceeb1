"""Hand-made task contexts, as users' unit tests written against upstream operators pass them.

Upstream's own tests call ``execute(None)``, ``execute({})``, ``execute({"ti": ti})`` or
``execute({"task_state_store": store})``. Each case behaves as upstream's does where upstream's works, and
otherwise fails with an error that names what is missing and points to the testing page.
"""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from airflow_durable import MissingContextError
from airflow_durable.errors import TESTING_PAGE
from airflow_durable.testing.doubles import FakeTaskInstance, InMemoryTaskStateStore
from airflow_durable.testing.reference import InMemoryJobOperator, InMemoryJobService
from airflow_durable.tokens import TaskInstanceScope, submission_token

SCOPE = TaskInstanceScope("ctx_dag", "manual__2026-12-01T00:00:00+00:00", "job", -1)
RESULT = {"job_id": "job-0001", "rows": 55, "status": "DONE"}


def operator(**kwargs: Any) -> tuple[InMemoryJobOperator, InMemoryJobService]:
    service = InMemoryJobService()
    kwargs.setdefault("poll_interval_seconds", 0.01)
    return InMemoryJobOperator(task_id="job", service=service, payload={"n": 10}, **kwargs), service


def no_recovery_warnings(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in logs if e["log_level"] == "warning" and "crash recovery is disabled" in e["event"]]


@pytest.mark.parametrize("durable", [True, False])
def test_none_context_runs_once_and_pushes_no_xcom(durable: bool) -> None:
    # Upstream skips its XCom pushes when execute gets None; its tests rely on that with durable=False.
    op, service = operator(durable=durable)
    with capture_logs() as logs:
        result = op.execute(None)  # type: ignore[arg-type]
    assert result == RESULT
    assert list(service.jobs) == ["job-0001"]
    assert len(no_recovery_warnings(logs)) == (1 if durable else 0)


def test_ti_without_store_runs_without_recovery_and_pushes_xcoms() -> None:
    op, service = operator()
    ti = FakeTaskInstance(SCOPE.dag_id, SCOPE.run_id, SCOPE.task_id)
    with capture_logs() as logs:
        result = op.execute({"ti": ti})  # type: ignore[typeddict-item]
    assert result == RESULT
    assert ti.xcoms == {"job_id": "job-0001"}
    assert list(service.jobs) == ["job-0001"]
    [warning] = no_recovery_warnings(logs)
    assert TESTING_PAGE in warning["event"] % warning.get("positional_args", ())


def test_empty_context_fails_at_the_xcom_push_naming_ti_like_upstreams_key_error() -> None:
    op, service = operator()
    with pytest.raises(KeyError) as raised:
        op.execute({})  # type: ignore[typeddict-item]
    assert isinstance(raised.value, MissingContextError)
    assert raised.value.entry == "ti"
    message = str(raised.value)
    assert message.startswith("The task context has no 'ti', needed for pushing the XCom 'job_id'"), message
    assert TESTING_PAGE in message
    assert "do_xcom_push=False" in message
    assert list(service.jobs) == ["job-0001"], "as upstream, the job ran; only the push failed"


class PushOnlyTI:
    """A test double with ``xcom_push`` and ``stats_tags`` but no ``dag_id``/``run_id``/``task_id``."""

    stats_tags: dict[str, str] = {}

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def test_store_with_an_incomplete_ti_is_durable_with_a_scope_from_the_operator_and_context() -> None:
    # Upstream persists and reconnects with such a context; so do we, with the token scoped by what is there.
    backend = InMemoryTaskStateStore()
    store = backend.scoped(SCOPE)
    op, service = operator()
    context = {"task_state_store": store, "run_id": SCOPE.run_id, "ti": PushOnlyTI()}
    with capture_logs() as logs:
        assert op.execute(context) == RESULT  # type: ignore[arg-type]
    assert list(service.jobs) == ["job-0001"]
    warnings = [e["event"] for e in logs if e["log_level"] == "warning"]
    assert any("no complete 'ti'" in event and TESTING_PAGE in event for event in warnings), warnings
    expected = TaskInstanceScope(op.dag_id, SCOPE.run_id, "job", -1)
    tokens = [job.token for job in service.jobs.values()]
    assert tokens == [submission_token(expected, 0)], "the scope comes from the operator and the run_id"
    assert backend.writes, "the intent and the ID are recorded, as upstream records the ID"

    retry = InMemoryJobOperator(task_id="job", service=service, payload={"n": 10}, poll_interval_seconds=0.01)
    retry_context = {"task_state_store": store, "run_id": SCOPE.run_id, "ti": PushOnlyTI()}
    assert retry.execute(retry_context) == RESULT  # type: ignore[arg-type]
    assert retry_context["ti"].pushed == context["ti"].pushed == {"job_id": "job-0001"}
    assert list(service.jobs) == ["job-0001"], "the retry replays the recorded job; nothing is submitted again"


def test_scope_parts_a_test_double_lacks_come_from_the_operator_and_the_context() -> None:
    op, _ = operator()
    scope = TaskInstanceScope.from_context({"ti": PushOnlyTI(), "run_id": "r1", "map_index": 3}, task=op)
    assert scope == TaskInstanceScope(op.dag_id, "r1", "job", 3)
    assert not TaskInstanceScope.is_complete({"ti": PushOnlyTI()})
    assert TaskInstanceScope.is_complete({"ti": FakeTaskInstance(SCOPE.dag_id, SCOPE.run_id, SCOPE.task_id)})
    assert TaskInstanceScope.from_context({}, task=op).run_id == ""
    with pytest.raises(ValueError, match="no operator was given"):
        TaskInstanceScope.from_context({})


def test_a_context_that_is_no_mapping_is_hand_made_runs_without_recovery_and_pushes_xcoms() -> None:
    # Upstream's EMR and Spark tests pass ``MagicMock()``: its "task_state_store" would hand back a MagicMock
    # for the stored job. A real task context is always a mapping, so this one is hand-made: no recovery.
    from unittest import mock

    op, service = operator()
    context = mock.MagicMock()
    with capture_logs() as logs:
        result = op.execute(context)
    assert result == RESULT
    assert list(service.jobs) == ["job-0001"]
    context["ti"].xcom_push.assert_called_once_with(key="job_id", value="job-0001")
    assert not context.get.called, "the MagicMock's task_state_store was read"
    assert len(no_recovery_warnings(logs)) == 1


def test_a_mock_that_claims_to_be_a_dict_is_hand_made_too() -> None:
    # Upstream's EMR steps tests pass ``MagicMock(spec=dict)``: ``isinstance(context, dict)`` holds, but its
    # "task_state_store" is another MagicMock. Only the context's type tells: it is hand-made, no recovery.
    from unittest import mock

    op, service = operator()
    context = mock.MagicMock(spec=dict)
    assert isinstance(context, dict)
    with capture_logs() as logs:
        result = op.execute(context)
    assert result == RESULT
    assert list(service.jobs) == ["job-0001"]
    context["ti"].xcom_push.assert_called_once_with(key="job_id", value="job-0001")
    assert not context.get.called, "the MagicMock's task_state_store was read"
    assert len(no_recovery_warnings(logs)) == 1
