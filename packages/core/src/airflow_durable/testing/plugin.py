"""The pytest plugin (``pytest11`` entry point ``airflow_durable``) of the contract suite."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the suite's marker."""
    config.addinivalue_line(
        "markers", "durable_contract: a scenario of airflow_durable.testing.DurableOperatorContract"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every contract scenario, and turn a subclass's ``known_gaps`` into strict xfails.

    ``-m durable_contract`` selects the scenarios. A gap is keyed by the scenario's name, with or without
    its parameter id (``test_corrupt_stored_state_gives_clear_error`` or
    ``test_corrupt_stored_state_gives_clear_error[bool]``); the value is the reason shown in the report.
    """
    from airflow_durable.testing.contract import DurableOperatorContract

    for item in items:
        cls = getattr(item, "cls", None)
        if cls is None or not issubclass(cls, DurableOperatorContract):
            continue
        item.add_marker(pytest.mark.durable_contract)
        gaps = cls.known_gaps
        reason = gaps.get(item.name) or gaps.get(getattr(item, "originalname", item.name))
        if reason:
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"known gap of {cls.__name__}: {reason}"))
