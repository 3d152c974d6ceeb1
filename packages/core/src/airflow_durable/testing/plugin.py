"""The pytest plugin (``pytest11`` entry point ``airflow_durable``) of the contract suite."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the suite's marker."""
    config.addinivalue_line(
        "markers", "durable_contract: a scenario of airflow_durable.testing.DurableOperatorContract"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every contract scenario, so ``-m durable_contract`` selects them."""
    from airflow_durable.testing.contract import DurableOperatorContract

    for item in items:
        cls = getattr(item, "cls", None)
        if cls is not None and issubclass(cls, DurableOperatorContract):
            item.add_marker(pytest.mark.durable_contract)
