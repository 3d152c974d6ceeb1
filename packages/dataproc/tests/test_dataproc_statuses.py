"""Dataproc's state tables, ID rules and token-derived IDs; the client factory and error classification."""

from __future__ import annotations

import pytest
from google.api_core import exceptions
from google.cloud import dataproc_v1

from airflow_durable import JobState, TaskInstanceScope, UnknownJobStatusError, submission_token
from airflow_durable_dataproc import statuses
from airflow_durable_dataproc.client import DataprocConnection, is_already_exists, is_not_found, is_transient
from airflow_durable_dataproc.testing import DataprocBatchEmulator, DataprocJobEmulator

SCOPE = TaskInstanceScope("dag", "manual__2026-01-01", "submit", -1)


def test_every_job_state_of_the_library_is_decided() -> None:
    assert set(statuses.job_states_by_name()) == set(dataproc_v1.JobStatus.State.__members__)
    assert statuses.JOB_STATES.classify("ATTEMPT_FAILURE") is JobState.ACTIVE
    for state in ("CANCEL_PENDING", "CANCEL_STARTED"):
        assert statuses.JOB_STATES.classify(state) is JobState.ACTIVE
    assert statuses.JOB_STATES.classify("CANCELLED") is JobState.FAILED
    with pytest.raises(UnknownJobStatusError, match="STATE_UNSPECIFIED"):
        statuses.JOB_STATES.classify("STATE_UNSPECIFIED")


def test_every_batch_state_of_the_library_is_decided() -> None:
    assert set(statuses.batch_states_by_name()) == set(dataproc_v1.Batch.State.__members__)
    assert statuses.BATCH_STATES.classify("CANCELLING") is JobState.ACTIVE
    assert statuses.BATCH_STATES.classify("CANCELLED") is JobState.FAILED
    with pytest.raises(UnknownJobStatusError, match="STATE_UNSPECIFIED"):
        statuses.BATCH_STATES.classify("STATE_UNSPECIFIED")


@pytest.mark.parametrize(
    ("emulator", "table"),
    [(DataprocJobEmulator, statuses.JOB_STATES), (DataprocBatchEmulator, statuses.BATCH_STATES)],
)
def test_the_emulators_vocabulary_is_the_status_table(emulator: type, table: statuses.StatusTable) -> None:
    assert {name: table.classify(name) for name in emulator.states} == dict(emulator.states)
    assert set(emulator.states) == set(table.active) | set(table.succeeded) | set(table.failed)


def test_derived_ids_fit_the_api_and_change_with_the_generation() -> None:
    tokens = [submission_token(SCOPE, generation) for generation in (0, 1, 9_999_999)]
    for token in tokens:
        assert statuses.REQUEST_ID_PATTERN.match(statuses.derive_request_id(token))
        assert statuses.JOB_ID_PATTERN.match(statuses.derive_job_id(token))
        assert statuses.BATCH_ID_PATTERN.match(statuses.derive_batch_id(token))
    assert len({statuses.derive_job_id(t) for t in tokens}) == 3
    assert len({statuses.derive_batch_id(t, batch_id="nightly") for t in tokens}) == 3


def test_user_ids_only_seed_the_derivation() -> None:
    seed = statuses.token_seed(job_id="etl-daily", request_id=None)
    assert seed == '{"job_id":"etl-daily"}'
    assert statuses.token_seed(job_id=None, request_id="") is None
    token = submission_token(SCOPE, 0, base=seed)
    assert token != submission_token(SCOPE, 0)
    job_id = statuses.derive_job_id(token, "etl-daily")
    assert job_id == f"etl-daily-{token}"
    assert statuses.derive_job_id(token, "x" * 100).endswith(token)
    assert len(statuses.derive_job_id(token, "x" * 100)) <= 100
    batch_id = statuses.derive_batch_id(token, batch_id_prefix="a-very-long-batch-prefix-of-forty-chars")
    assert len(batch_id) <= 63
    assert batch_id.endswith(token)
    assert batch_id.startswith("a-very")
    assert statuses.derive_request_id(token) == token


@pytest.mark.parametrize(
    "call",
    [
        lambda: statuses.derive_batch_id("ad-0-g0", batch_id="Has_Upper"),
        lambda: statuses.derive_batch_id("ad-0-g0", batch_id_prefix="under_score"),
        lambda: statuses.derive_job_id("ad-0-g0", "has space"),
        lambda: statuses.derive_request_id("Not A Token"),
        lambda: statuses.check_request_id("r" * 41),
        lambda: statuses.check_batch_id("abc"),
    ],
)
def test_malformed_ids_are_refused(call: object) -> None:
    with pytest.raises(ValueError, match="not a"):
        call()  # type: ignore[operator]


def test_connection_endpoints_and_transports() -> None:
    assert DataprocConnection().endpoint("europe-west1") == "europe-west1-dataproc.googleapis.com:443"
    with pytest.raises(ValueError, match="region"):
        DataprocConnection().endpoint("")
    with pytest.raises(ValueError, match="transport"):
        DataprocConnection(transport="http")  # type: ignore[arg-type]
    local = DataprocConnection(api_endpoint="http://127.0.0.1:1")
    assert local.plaintext
    assert local.endpoint("any") == "http://127.0.0.1:1"
    credentials, project = local.credentials_and_project()
    assert type(credentials).__name__ == "AnonymousCredentials"
    assert project is None
    assert not DataprocConnection(api_endpoint="dataproc.example:443").plaintext


@pytest.mark.parametrize(
    ("error", "transient", "not_found", "exists"),
    [
        (exceptions.ServiceUnavailable("x"), True, False, False),
        (exceptions.TooManyRequests("x"), True, False, False),
        (exceptions.ResourceExhausted("x"), True, False, False),
        (exceptions.InternalServerError("x"), True, False, False),
        (exceptions.DeadlineExceeded("x"), True, False, False),
        (exceptions.NotFound("x"), False, True, False),
        (exceptions.AlreadyExists("x"), False, False, True),
        (exceptions.Conflict("x"), False, False, True),
        (exceptions.FailedPrecondition("x"), False, False, False),
        (exceptions.PermissionDenied("x"), False, False, False),
        (exceptions.MethodNotImplemented("x"), False, False, False),
        (ConnectionError("x"), True, False, False),
    ],
)
def test_error_classification(error: BaseException, transient: bool, not_found: bool, exists: bool) -> None:
    assert (is_transient(error), is_not_found(error), is_already_exists(error)) == (transient, not_found, exists)
