"""Fixtures shared by the Databricks tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airflow_durable.testing.doubles import InMemoryTaskStateStore


@pytest.fixture
def isolated_databricks_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The SDK reads DATABRICKS_* variables and ~/.databrickscfg: keep both out of the test."""
    for name in list(os.environ):
        if name.startswith("DATABRICKS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def store() -> InMemoryTaskStateStore:
    """An empty task state store backend."""
    return InMemoryTaskStateStore()
