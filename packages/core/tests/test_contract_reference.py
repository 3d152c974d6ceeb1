"""The contract suite passes against the in-memory reference operators.

The flags come from the operator classes (the suite reads its subject); only the upstream-interface
variant states what its operator cannot declare.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from airflow_durable.testing import DurableOperatorContract
from airflow_durable.testing.reference import (
    InMemoryJobOperator,
    InMemoryJobService,
    InMemorySystem,
    UpstreamStyleJobOperator,
)


class _OnTheInMemoryService:
    """The system and constructor arguments both reference operators run with."""

    @pytest.fixture
    def system(self) -> InMemorySystem:
        return InMemorySystem(InMemoryJobService())

    def operator_kwargs(self, system: InMemorySystem) -> dict[str, Any]:
        return {"service": system.service, "poll_interval_seconds": 0.01}


class TestInMemoryReference(_OnTheInMemoryService, DurableOperatorContract[InMemoryJobOperator]):
    pass


class TestUpstreamStyleOperatorUnderTheMixin(_OnTheInMemoryService, DurableOperatorContract[UpstreamStyleJobOperator]):
    """An operator with only upstream ``ResumableJobMixin``'s six methods passes under ``DurableJobMixin``."""

    # It sends no token (upstream's interface has none) and reads a lost job as a status, as upstream does.
    records_tokens = False
    supports_lost_job_policy = False
    known_gaps: ClassVar[dict[str, str]] = {
        "test_fault_storm_ends_with_one_job_within_the_retry_budget": (
            "upstream's six methods say nothing of transient errors: each storm fault fails a try (never a "
            "second job), and a few in one task instance run out of retries"
        ),
    }


def test_flags_are_read_from_the_operator_class() -> None:
    assert TestInMemoryReference.operator_class is InMemoryJobOperator
    assert TestInMemoryReference.external_id_key == "in_memory_job_id"
    assert TestInMemoryReference.supports_token_lookup is True
    assert TestInMemoryReference.supports_cancel is True
    assert TestInMemoryReference.deduplicates_submissions is False
    assert TestInMemoryReference.supports_deferral is True
    assert TestInMemoryReference.fire_and_forget_kwargs == {"wait_for_completion": False}
    assert TestInMemoryReference.rejects_unknown_statuses is True
    upstream_style = TestUpstreamStyleOperatorUnderTheMixin
    assert (upstream_style.supports_token_lookup, upstream_style.supports_cancel) == (False, False)
    assert (upstream_style.supports_deferral, upstream_style.fire_and_forget_kwargs) == (False, {})
    assert upstream_style.rejects_unknown_statuses is False
    assert upstream_style.supports_lost_job_policy is False, "a flag the subclass sets wins over the class"
