"""JobStatusTrigger: the generic triggerer-side poll loop every deferrable provider builds on."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from airflow_durable import JobLostError, StatusTable
from airflow_durable.testing import first_trigger_event
from airflow_durable.trigger import JobStatusTrigger

TABLE = StatusTable(active={"RUNNING"}, succeeded={"DONE"}, failed={"FAILED"}, source="https://example.test/states")


class Flaky(Exception):
    pass


class ScriptedTrigger(JobStatusTrigger):
    """Answers from a script: a status string, or an exception to raise."""

    status_table = TABLE
    serialized_fields: ClassVar[tuple[str, ...]] = ("answers",)
    calls: ClassVar[list[Any]] = []

    def __init__(self, answers: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answers = answers

    def get_status(self) -> str:
        answer = self.answers[len(self.calls)]
        self.calls.append(answer)
        if answer == "lost":
            raise JobLostError(self.external_id)
        if answer == "flaky":
            raise Flaky("503")
        if answer == "boom":
            raise RuntimeError("boom")
        return str(answer)

    def is_transient_error(self, error: Exception) -> bool:
        return isinstance(error, Flaky)


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    ScriptedTrigger.calls.clear()


def make(answers: list[Any], **kwargs: Any) -> ScriptedTrigger:
    return ScriptedTrigger(
        answers, external_id="job-1", poll_interval_seconds=0.001, max_poll_interval_seconds=0.002, **kwargs
    )


def test_polls_until_terminal_and_reports_the_raw_status() -> None:
    event = first_trigger_event(make(["RUNNING", "RUNNING", "DONE"]))
    assert event.payload == {"external_id": "job-1", "status": "DONE"}
    assert ScriptedTrigger.calls == ["RUNNING", "RUNNING", "DONE"]


def test_a_failed_job_is_reported_as_its_status_for_the_task_to_decide() -> None:
    assert first_trigger_event(make(["FAILED"])).payload == {"external_id": "job-1", "status": "FAILED"}


def test_transient_errors_are_retried_up_to_the_budget() -> None:
    assert first_trigger_event(make(["flaky", "flaky", "DONE"], max_transient_errors=2)).payload["status"] == "DONE"
    ScriptedTrigger.calls.clear()
    event = first_trigger_event(make(["flaky", "flaky", "flaky", "DONE"], max_transient_errors=2))
    assert "Flaky" in event.payload["error"]
    assert len(ScriptedTrigger.calls) == 3


def test_lost_unknown_and_other_errors_end_in_an_error_event() -> None:
    assert "job-1" in first_trigger_event(make(["lost"])).payload["error"]
    ScriptedTrigger.calls.clear()
    assert "WEIRD" in first_trigger_event(make(["WEIRD"])).payload["error"]
    ScriptedTrigger.calls.clear()
    assert "boom" in first_trigger_event(make(["boom"])).payload["error"]


def test_serializes_base_and_subclass_arguments() -> None:
    path, kwargs = make(["DONE"], max_transient_errors=3).serialize()
    assert path == f"{__name__}.ScriptedTrigger"
    assert kwargs == {
        "external_id": "job-1",
        "poll_interval_seconds": 0.001,
        "max_poll_interval_seconds": 0.002,
        "max_transient_errors": 3,
        "answers": ["DONE"],
    }


def test_without_a_ceiling_the_trigger_takes_the_operators_policy() -> None:
    from airflow_durable.backoff import default_max_poll_interval_seconds

    trigger = ScriptedTrigger(["DONE"], external_id="job-1", poll_interval_seconds=60.0)
    assert trigger.max_poll_interval_seconds == default_max_poll_interval_seconds(60.0) == 240.0
    assert ScriptedTrigger(["DONE"], external_id="job-1").max_poll_interval_seconds == 120.0
