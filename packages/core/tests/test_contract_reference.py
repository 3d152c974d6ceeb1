"""The contract suite passes against the in-memory reference operator."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_durable.testing import DurableOperatorContract
from airflow_durable.testing.reference import InMemoryJobOperator, InMemoryJobService, InMemorySystem


class TestInMemoryReference(DurableOperatorContract[InMemoryJobOperator]):
    external_id_key = "in_memory_job_id"
    supports_token_lookup = True
    supports_cancel = True

    @pytest.fixture
    def system(self) -> InMemorySystem:
        return InMemorySystem(InMemoryJobService())

    @pytest.fixture
    def operator_factory(self, system: InMemorySystem) -> Any:
        def make(task_id: str, **overrides: Any) -> InMemoryJobOperator:
            return InMemoryJobOperator(task_id=task_id, service=system.service, poll_interval_seconds=0.01, **overrides)

        return make
