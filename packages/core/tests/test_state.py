"""``DurableState``: the versioned JSON record in ``task_state_store``, its legacy form and its rejections."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_durable.errors import CorruptStateError
from airflow_durable.state import MAX_STATE_BYTES, DurableState, Phase, StoredResult
from airflow_durable.tokens import MAX_GENERATION, TaskInstanceScope, submission_token

KEY = "my_job_id"
TOKEN = submission_token(TaskInstanceScope("dag", "run", "task"), 3)


def record(**overrides: Any) -> dict[str, Any]:
    """A valid version 1 'submitted' record, with ``overrides`` applied (``...`` removes a field)."""
    value: dict[str, Any] = {
        "format": "airflow-durable",
        "version": 1,
        "generation": 3,
        "token": TOKEN,
        "phase": "submitted",
        "external_id": "job-1",
    }
    value.update(overrides)
    return {k: v for k, v in value.items() if v is not ...}


@pytest.mark.parametrize(
    "state",
    [
        DurableState(generation=0, token=submission_token(TaskInstanceScope("d", "r", "t"), 0), phase=Phase.INTENT),
        DurableState(generation=3, token=TOKEN, phase=Phase.SUBMITTED, external_id="job-1"),
        DurableState(generation=3, token=TOKEN, phase=Phase.SUCCEEDED, external_id="job-1"),
        DurableState(generation=1, token=TOKEN, phase=Phase.SUBMITTED, external_id=42),
        DurableState(generation=0, token=None, phase=Phase.SUBMITTED, external_id="legacy"),
        DurableState(generation=0, token=None, phase=Phase.SUCCEEDED, external_id=0),
        DurableState(generation=MAX_GENERATION, token=TOKEN, phase=Phase.SUCCEEDED, external_id="x" * 256),
        DurableState(generation=2, token=TOKEN, phase=Phase.UNIDENTIFIED),
        DurableState(3, TOKEN, Phase.SUCCEEDED, "job-1", StoredResult({"rows": [1, 2]}, {"job_id": "job-1"})),
        DurableState(3, TOKEN, Phase.SUBMITTED, 7, StoredResult(None, {})),
    ],
    ids=lambda s: f"{s.phase.value}-{s.external_id!r:.10}",
)
def test_round_trip_through_json(state: DurableState) -> None:
    stored = json.loads(json.dumps(state.to_json()))  # what the store hands back
    assert DurableState.from_json(KEY, stored) == state


def test_to_json_has_the_documented_shape() -> None:
    state = DurableState(generation=3, token=TOKEN, phase=Phase.SUBMITTED, external_id="job-1")
    assert state.to_json() == {
        "format": "airflow-durable",
        "version": 2,
        "generation": 3,
        "token": TOKEN,
        "phase": "submitted",
        "external_id": "job-1",
        "result": None,
    }
    kept = state.succeeded().with_result(StoredResult({"run_id": 1}, {"run_id": 1}))
    assert kept.to_json()["result"] == {"value": {"run_id": 1}, "xcoms": {"run_id": 1}}
    assert kept.to_json()["phase"] == "succeeded"


def test_version_1_records_still_read_without_a_result() -> None:
    assert DurableState.from_json(KEY, record()) == DurableState(3, TOKEN, Phase.SUBMITTED, "job-1")
    assert DurableState.from_json(KEY, record(phase="succeeded")).result is None


def test_unidentified_record_keeps_token_and_generation() -> None:
    submitted = DurableState(generation=2, token=TOKEN, phase=Phase.INTENT).with_external_id("job-9")
    assert submitted.unidentified() == DurableState(2, TOKEN, Phase.UNIDENTIFIED)


def test_phase_transitions_keep_generation_and_token() -> None:
    intent = DurableState(generation=2, token=TOKEN, phase=Phase.INTENT)
    submitted = intent.with_external_id("job-9")
    assert submitted == DurableState(generation=2, token=TOKEN, phase=Phase.SUBMITTED, external_id="job-9")
    assert submitted.succeeded() == DurableState(2, TOKEN, Phase.SUCCEEDED, "job-9")
    assert intent.phase is Phase.INTENT, "transitions return new records"


@pytest.mark.parametrize("legacy", ["driver-20261129140102-0000", "application_1700000000000_0001", 123, 0])
def test_legacy_bare_id_reads_as_submitted_generation_zero(legacy: str | int) -> None:
    assert DurableState.from_json(KEY, legacy) == DurableState(
        generation=0, token=None, phase=Phase.SUBMITTED, external_id=legacy
    )


BAD_VALUES = [
    pytest.param("x" * (MAX_STATE_BYTES + 1), "bytes", id="oversized-string"),
    pytest.param(record(external_id="x" * MAX_STATE_BYTES), "bytes", id="oversized-record"),
    pytest.param(True, "boolean", id="bool-true"),
    pytest.param(False, "boolean", id="bool-false"),
    pytest.param(1.5, "float", id="float"),
    pytest.param(1.0, "float", id="integral-float"),
    pytest.param(["job-1"], "list", id="list"),
    pytest.param({"job": "x"}, "not an airflow-durable record", id="foreign-dict"),
    pytest.param(record(format="something-else"), "not an airflow-durable record", id="foreign-format"),
    pytest.param(record(format=...), "not an airflow-durable record", id="no-format"),
    pytest.param(record(version=3), "version", id="future-version"),
    pytest.param(record(version=True), "version", id="bool-version"),
    pytest.param(record(result=None), "unexpected fields", id="result-in-version-1"),
    pytest.param(record(phase="unidentified", external_id=None), "version 2", id="unidentified-in-version-1"),
    pytest.param(record(version=2, result={"value": 1}), "result", id="result-without-xcoms"),
    pytest.param(record(version=2, result={"value": 1, "xcoms": []}), "xcoms", id="result-xcoms-not-object"),
    pytest.param(record(version=2, result={"value": 1, "xcoms": {"": 1}}), "xcoms", id="result-empty-xcom-key"),
    pytest.param(record(version=2, result=[1]), "result", id="result-not-object"),
    pytest.param(
        record(version=2, phase="intent", external_id=None, result={"value": 1, "xcoms": {}}),
        "cannot have a result",
        id="result-in-intent",
    ),
    pytest.param(record(version=2, phase="unidentified"), "cannot have an external_id", id="unidentified-with-id"),
    pytest.param(
        record(version=2, phase="unidentified", external_id=None, token=None),
        "needs a token",
        id="unidentified-no-token",
    ),
    pytest.param(record(version="1"), "version", id="string-version"),
    pytest.param(record(version=...), "version", id="no-version"),
    pytest.param(record(extra="x"), "unexpected fields", id="extra-field"),
    pytest.param(record(password="hunter2"), "unexpected fields", id="extra-secret-field"),
    pytest.param(record(generation=-1), "generation", id="negative-generation"),
    pytest.param(record(generation=MAX_GENERATION + 1), "generation", id="generation-too-high"),
    pytest.param(record(generation=True), "generation", id="bool-generation"),
    pytest.param(record(generation="1"), "generation", id="string-generation"),
    pytest.param(record(generation=...), "generation", id="no-generation"),
    pytest.param(record(token="not-a-token"), "token", id="bad-token"),
    pytest.param(record(token=TOKEN.upper()), "token", id="uppercase-token"),
    pytest.param(record(token=TOKEN + "0" * 8), "token", id="overlong-generation-token"),
    pytest.param(record(token=123), "token", id="int-token"),
    pytest.param(record(phase="running"), "phase", id="bad-phase"),
    pytest.param(record(phase="SUBMITTED"), "phase", id="uppercase-phase"),
    pytest.param(record(phase=None), "phase", id="null-phase"),
    pytest.param(record(phase="intent"), "intent", id="intent-with-id"),
    pytest.param(record(phase="intent", external_id=None, token=None), "token", id="intent-without-token"),
    pytest.param(record(external_id=None), "needs an external_id", id="submitted-without-id"),
    pytest.param(record(phase="succeeded", external_id=None), "needs an external_id", id="succeeded-without-id"),
    pytest.param(record(external_id=""), "external_id", id="empty-string-id"),
    pytest.param(record(external_id=True), "external_id", id="bool-id"),
    pytest.param(record(external_id=1.5), "external_id", id="float-id"),
    pytest.param(record(external_id=["job-1"]), "external_id", id="list-id"),
    pytest.param("", "empty string", id="empty-string"),
    pytest.param({1, 2}, "JSON", id="not-json"),
]


@pytest.mark.parametrize(("value", "reason"), BAD_VALUES)
def test_rejection_names_the_key(value: Any, reason: str) -> None:
    with pytest.raises(CorruptStateError) as info:
        DurableState.from_json(KEY, value)
    error = info.value
    assert error.key == KEY
    assert repr(KEY) in str(error), "the message must name the key"
    assert reason.lower() in error.reason.lower(), error.reason


def test_corrupt_state_error_never_echoes_an_oversized_value() -> None:
    """The message stays short: a megabyte of garbage in the store must not end up in the log."""
    with pytest.raises(CorruptStateError) as info:
        DurableState.from_json(KEY, "y" * 1_000_000)
    assert "yyyy" not in str(info.value)
    assert len(str(info.value)) < 500


def test_a_record_exactly_at_the_size_limit_is_accepted() -> None:
    value = record()
    padding = MAX_STATE_BYTES - len(json.dumps(value, separators=(",", ":")).encode())
    value["external_id"] = "job-1" + "x" * padding
    assert len(json.dumps(value, separators=(",", ":")).encode()) == MAX_STATE_BYTES
    assert DurableState.from_json(KEY, value).external_id == value["external_id"]


def test_rejection_of_a_foreign_field_does_not_echo_its_value() -> None:
    with pytest.raises(CorruptStateError) as info:
        DurableState.from_json(KEY, record(password="hunter2"))
    assert "password" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_mixins_default_result_bound_is_the_state_modules() -> None:
    """The mixin states the bound as a literal (it does not import this module at parse); they must agree."""
    from airflow_durable.mixin import DurableJobMixin
    from airflow_durable.state import MAX_RESULT_BYTES

    assert DurableJobMixin.max_stored_result_bytes == MAX_RESULT_BYTES
