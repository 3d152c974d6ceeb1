"""``create_task_instance`` / ``render_template_fields``: need Airflow's test database (not provided)."""

from __future__ import annotations

from typing import Any, NoReturn


def create_task_instance(*args: Any, **kwargs: Any) -> NoReturn:
    """Not provided: tests that need the metadata database are listed as not run."""
    raise NotImplementedError("the parity runner provides no Airflow test database")


def render_template_fields(*args: Any, **kwargs: Any) -> NoReturn:
    """Not provided: tests that need the metadata database are listed as not run."""
    raise NotImplementedError("the parity runner provides no Airflow test database")
