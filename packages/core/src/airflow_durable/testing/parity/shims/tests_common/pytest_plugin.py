"""Stand-in for ``tests_common.pytest_plugin``: the markers upstream tests use."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register upstream's markers so they do not warn."""
    for marker in ("db_test", "backend(name)", "need_serialized_dag", "want_activate_assets", "execution_timeout"):
        config.addinivalue_line("markers", marker)
