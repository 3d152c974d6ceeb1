"""Fixture plumbing for upstream's ``SparkSubmitOperator`` tests, run against ours by the parity suite.

Upstream's tests build hooks naming masters that do not exist (``spark://myhost:7077``). Where such a test
reaches our REST status calls, the name does not resolve, which our operator takes as a transient error
and retries with backoff (``max_transient_errors`` times, up to ``max_poll_interval_seconds`` apart) before
it fails. This plugin only makes those pauses instant, so such a test fails in milliseconds instead of
minutes; what is called, how often, and what is raised are unchanged.
"""

from __future__ import annotations

import types

import pytest


@pytest.fixture(autouse=True)
def _instant_mixin_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace the ``time`` module as the mixin sees it by one whose ``sleep`` returns at once."""
    monkeypatch.setattr("airflow_durable.mixin.time", types.SimpleNamespace(sleep=lambda seconds: None))
