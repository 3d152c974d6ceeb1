"""The corrupt-state corpus itself: its categories, its ID kinds and what it marks valid."""

from __future__ import annotations

import pytest

from airflow_durable.state import MAX_STATE_BYTES, json_size
from airflow_durable.testing.corrupt_state import (
    CATEGORIES,
    CORPUS,
    ID_KINDS,
    CorpusTally,
    inputs_of,
    report_lines,
)

NEVER_VALID = ("json-types", "oversized", "unsafe-ids")


def test_every_category_has_inputs_and_names_are_unique() -> None:
    names = [item.name for item in CORPUS]
    assert len(names) == len(set(names))
    for category in CATEGORIES:
        assert inputs_of(category), category
        assert all(item.name.startswith(f"{category}/") for item in inputs_of(category))
    with pytest.raises(ValueError, match="unknown corpus category"):
        inputs_of("nope")


@pytest.mark.parametrize("kind", sorted(ID_KINDS))
def test_no_unsafe_typed_or_oversized_input_is_valid_for_any_kind(kind: str) -> None:
    valid = [item.name for item in CORPUS if item.category in NEVER_VALID and item.valid_for(kind)]
    assert valid == [], f"{kind} would take {valid} for a job ID"


@pytest.mark.parametrize("kind", sorted(ID_KINDS))
def test_each_kind_accepts_its_own_sample_and_its_foreign_record_is_valid(kind: str) -> None:
    assert ID_KINDS[kind].accepts(ID_KINDS[kind].sample)
    own = [item for item in CORPUS if item.name == f"foreign-records/{kind}-record"]
    assert all(item.valid_for(kind) for item in own)
    assert all(item.stored(kind, "LIVE")["external_id"] == "LIVE" for item in own)


def test_upstream_bare_record_is_valid_everywhere_and_built_from_the_live_job() -> None:
    (bare,) = [item for item in CORPUS if item.name == "upstream-records/bare-id"]
    for kind in [None, *ID_KINDS]:
        assert bare.valid_for(kind)
        assert bare.stored(kind, 7) == 7


def test_oversized_inputs_are_beyond_the_record_limit_or_any_id_length() -> None:
    for item in inputs_of("oversized"):
        value = item.stored(None, None)
        size = json_size(value) if not isinstance(value, int) else len(str(value))
        assert size > 255, item.name
    assert any(json_size(item.stored(None, None)) > MAX_STATE_BYTES for item in inputs_of("oversized"))


def test_kinds_refuse_bools_out_of_range_ints_and_trailing_newlines() -> None:
    databricks = ID_KINDS["databricks"]
    assert databricks.accepts(1)
    assert databricks.accepts("12")
    assert not databricks.accepts(True)
    assert not databricks.accepts(2**63)
    assert not databricks.accepts(0)
    assert not ID_KINDS["spark-standalone"].accepts("driver-1\n")


def test_report_gives_the_share_and_submissions_per_operator() -> None:
    tallies = [
        CorpusTally("TestA", "json-types", invalid=3, clear_errors=3),
        CorpusTally("TestA", "upstream-records", invalid=1, clear_errors=0, valid=2, accepted=2, submissions=1),
    ]
    lines = report_lines(tallies)
    (row,) = [line for line in lines if line.startswith("TestA")]
    assert "3/4 (75.0%)" in row
    assert "2/2" in row
    assert row.split()[-1] == "1"
    assert lines[-1].startswith("all operators")
