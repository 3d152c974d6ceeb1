"""The pytest plugin loaded into an upstream test run: class swaps, deselection and outcome records.

The parity runner (``airflow_durable.testing.parity.suite``) starts pytest in a subprocess with
``-p airflow_durable.testing.parity.collect`` and passes its settings through environment variables, so the
upstream test files run unchanged:

- ``AIRFLOW_DURABLE_PARITY_SWAPS``: JSON ``{"upstream.module:Name": "our.module:Name"}``. Before any test
  module is imported, each upstream attribute is replaced by ours, for the whole run; the upstream test
  module's ``from upstream.module import Name`` therefore binds our class. Nothing in the test changes.
- ``AIRFLOW_DURABLE_PARITY_NOT_RUN``: JSON ``{"pattern": "reason"}``; matching tests are deselected and
  recorded as not run, with the reason.
- ``AIRFLOW_DURABLE_PARITY_RESULTS``: the JSON file the outcomes are written to:
  ``{"<test id>": {"outcome": "passed|failed|error|skipped|not run", "message": str}}``.

A test id is the node id from the test file's base name on: ``test_databricks.py::TestX::test_y[param]``.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

_results: dict[str, dict[str, str]] = {}


def test_id(nodeid: str) -> str:
    """The node id from the file's base name on (upstream's directory layout is not part of the id)."""
    path, sep, rest = nodeid.partition("::")
    return f"{Path(path).name}{sep}{rest}"


def load(spec: str) -> Any:
    """Import ``"module:attribute"``."""
    module_name, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def pytest_configure(config: pytest.Config) -> None:
    """Swap the upstream classes for ours before any test module is collected."""
    swaps: dict[str, str] = json.loads(os.environ.get("AIRFLOW_DURABLE_PARITY_SWAPS", "{}"))
    for upstream, ours in swaps.items():
        module_name, _, attribute = upstream.partition(":")
        module = importlib.import_module(module_name)
        getattr(module, attribute)  # the upstream name must exist: a typo would swap nothing
        setattr(module, attribute, load(ours))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tests whose plumbing the runner does not provide, and record why."""
    not_run: dict[str, str] = json.loads(os.environ.get("AIRFLOW_DURABLE_PARITY_NOT_RUN", "{}"))
    kept, dropped = [], []
    for item in items:
        tid = test_id(item.nodeid)
        reason = next((why for pattern, why in not_run.items() if fnmatch.fnmatchcase(tid, pattern)), None)
        if reason is None:
            kept.append(item)
        else:
            dropped.append(item)
            _results[tid] = {"outcome": "not run", "message": reason}
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep the worst outcome of each test's phases (an error in teardown still counts)."""
    tid = test_id(report.nodeid)
    previous = _results.get(tid, {"outcome": "passed", "message": ""})
    if report.failed:
        outcome = "failed" if report.when == "call" else "error"
        _results[tid] = {"outcome": outcome, "message": _message(report)}
    elif report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _results[tid] = {"outcome": "skipped", "message": reason}
    elif report.when == "call" or tid not in _results:
        _results[tid] = previous


def _message(report: pytest.TestReport) -> str:
    """The failure's first line: the crash message, else the first ``E`` line (a missing fixture has no crash)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if crash is None:
        lines = [line.removeprefix("E").strip() for line in lines if line.startswith("E ")] or lines
    return lines[0][:300] if lines else ""


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A test file that fails to import is one error row (with the exception's line), not a silent gap."""
    if report.failed:
        lines = [line.removeprefix("E").strip() for line in str(report.longrepr).splitlines() if line.strip()]
        _results[test_id(report.nodeid)] = {"outcome": "error", "message": lines[-1][:300] if lines else ""}


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the outcomes for the runner."""
    path = os.environ.get("AIRFLOW_DURABLE_PARITY_RESULTS")
    if path:
        Path(path).write_text(json.dumps(_results, indent=1, sort_keys=True))
