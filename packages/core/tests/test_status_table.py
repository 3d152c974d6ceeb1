"""``StatusTable``: explicit, case-insensitive vendor status classification that never guesses."""

from __future__ import annotations

import pytest

from airflow_durable.errors import DurableJobError, UnknownJobStatusError
from airflow_durable.status import JobState, StatusTable

SOURCE = "https://vendor.example/docs/job-states"


@pytest.fixture
def table() -> StatusTable:
    return StatusTable(
        active={"PENDING", "Running"},
        succeeded={"done"},
        failed={"FAILED", "Cancelled"},
        source=SOURCE,
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("PENDING", JobState.ACTIVE),
        ("pending", JobState.ACTIVE),
        ("Pending", JobState.ACTIVE),
        ("RUNNING", JobState.ACTIVE),
        ("running", JobState.ACTIVE),
        ("rUnNiNg", JobState.ACTIVE),
        ("DONE", JobState.SUCCEEDED),
        ("done", JobState.SUCCEEDED),
        ("failed", JobState.FAILED),
        ("CANCELLED", JobState.FAILED),
        ("cancelled", JobState.FAILED),
    ],
)
def test_classify_is_case_insensitive(table: StatusTable, status: str, expected: JobState) -> None:
    assert table.classify(status) is expected


def test_members_are_normalised_to_upper_case(table: StatusTable) -> None:
    assert table.active == frozenset({"PENDING", "RUNNING"})
    assert table.succeeded == frozenset({"DONE"})
    assert table.failed == frozenset({"FAILED", "CANCELLED"})


@pytest.mark.parametrize("status", ["UNKNOWN", "SOMETHING_NEW", "", "RUNNING ", "DONE\n", "RUN", "None"])
def test_unknown_status_raises_naming_status_and_source(table: StatusTable, status: str) -> None:
    with pytest.raises(UnknownJobStatusError) as info:
        table.classify(status)
    error = info.value
    assert isinstance(error, DurableJobError)
    assert error.status == status
    assert error.source == SOURCE
    assert repr(status) in str(error)
    assert SOURCE in str(error)


def test_unknown_status_is_never_classified_as_active(table: StatusTable) -> None:
    """The failure mode the table exists to prevent: a new vendor status silently polled forever."""
    for status in ("QUEUED", "STARTING", "TERMINATING", "SKIPPED"):
        with pytest.raises(UnknownJobStatusError):
            table.classify(status)


def test_non_string_status_is_classified_by_its_text() -> None:
    table = StatusTable(active={"1"}, succeeded={"0"}, failed={"-1"}, source=SOURCE)
    assert table.classify(0) is JobState.SUCCEEDED  # type: ignore[arg-type]
    with pytest.raises(UnknownJobStatusError) as info:
        table.classify(None)  # type: ignore[arg-type]
    assert info.value.status == "None"


@pytest.mark.parametrize(
    ("active", "succeeded", "failed"),
    [
        ({"RUNNING"}, {"RUNNING"}, {"FAILED"}),
        ({"RUNNING"}, {"DONE"}, {"done"}),
        ({"Running"}, {"DONE"}, {"RUNNING"}),
        ({"RUNNING"}, {"DONE"}, {"FAILED", "running"}),
    ],
)
def test_a_status_listed_in_two_states_is_rejected(active: set[str], succeeded: set[str], failed: set[str]) -> None:
    with pytest.raises(ValueError, match="listed twice"):
        StatusTable(active=active, succeeded=succeeded, failed=failed, source=SOURCE)


def test_contains_is_case_insensitive_and_type_safe(table: StatusTable) -> None:
    assert "running" in table
    assert "DONE" in table
    assert "cancelled" in table
    assert "UNKNOWN" not in table
    assert 1 not in table
    assert None not in table


def test_tables_accept_any_iterable_of_names() -> None:
    table = StatusTable(active=["A", "B"], succeeded=("C",), failed=frozenset({"D"}), source=SOURCE)
    assert [table.classify(s) for s in "abcd"] == [
        JobState.ACTIVE,
        JobState.ACTIVE,
        JobState.SUCCEEDED,
        JobState.FAILED,
    ]
    assert table.active == frozenset({"A", "B"})


def test_one_shot_iterables_classify_correctly() -> None:
    table = StatusTable(active=iter(["A"]), succeeded=(s for s in ["C"]), failed=iter(["D"]), source=SOURCE)
    assert [table.classify(s) for s in "acd"] == [JobState.ACTIVE, JobState.SUCCEEDED, JobState.FAILED]


def test_one_shot_iterables_keep_their_members() -> None:
    table = StatusTable(active=iter(["A"]), succeeded=(s for s in ["C"]), failed=iter(["D"]), source=SOURCE)
    assert table.active == frozenset({"A"})
    assert table.succeeded == frozenset({"C"})
    assert table.failed == frozenset({"D"})


def test_unknown_status_error_without_source() -> None:
    error = UnknownJobStatusError("WEIRD")
    assert error.source is None
    assert "'WEIRD'" in str(error)
    assert "source" not in str(error)


def test_declared_keeps_the_vendors_spelling(table: StatusTable) -> None:
    assert table.declared(JobState.ACTIVE) == ("PENDING", "Running")
    assert table.declared(JobState.SUCCEEDED) == ("done",)
    assert table.declared(JobState.FAILED) == ("Cancelled", "FAILED")
    assert table.active == frozenset({"PENDING", "RUNNING"}), "lookups still use the upper-cased forms"
