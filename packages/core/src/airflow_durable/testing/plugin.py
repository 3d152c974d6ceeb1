"""The pytest plugin (``pytest11`` entry point ``airflow_durable``) of the contract suite."""

from __future__ import annotations

from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--corrupt-state-report``: print the corrupt-state corpus's figures per operator at the end."""
    parser.addoption(
        "--corrupt-state-report",
        action="store_true",
        default=False,
        help="print, per operator, the corrupt-state corpus inputs tried, the share refused with an error "
        "naming the key, and the submissions they caused",
    )


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the corrupt-state corpus report when ``--corrupt-state-report`` is given."""
    if not config.getoption("corrupt_state_report"):
        return
    from airflow_durable.testing.corrupt_state import TALLIES, report_lines

    terminalreporter.section("corrupt-state corpus (R4)")
    if not TALLIES:
        terminalreporter.write_line("no corpus scenario ran (select them with -k corrupt)")
        return
    for line in report_lines(TALLIES):
        terminalreporter.write_line(line)
    for tally in TALLIES:
        for name, why in tally.failures.items():
            terminalreporter.write_line(f"{tally.operator} {name}: {why}")


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
