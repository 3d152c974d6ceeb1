"""Upstream parity: run upstream Airflow's own tests for an operator against its durable replacement.

A provider declares an :class:`UpstreamSuite` (the sdist, the upstream test classes, the class swaps, its
deliberate :class:`Difference` rows) and asserts that :func:`run_suite` reports no problem. The sdist is
downloaded from the package index at test time and cached (:func:`upstream_tests`); no upstream test code is
copied into this tree. See ``docs/parity.md``.
"""

from __future__ import annotations

from airflow_durable.testing.parity.sdist import SdistUnavailableError, upstream_tests
from airflow_durable.testing.parity.suite import (
    Difference,
    ParityReport,
    Row,
    UpstreamSuite,
    check_suite,
    run_suite,
)

__all__ = [
    "Difference",
    "ParityReport",
    "Row",
    "SdistUnavailableError",
    "UpstreamSuite",
    "check_suite",
    "run_suite",
    "upstream_tests",
]
