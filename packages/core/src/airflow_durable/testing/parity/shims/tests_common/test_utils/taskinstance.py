"""``create_task_instance``, ``render_template_fields``, ``get_template_context``: need Airflow's test database."""

from __future__ import annotations

from typing import Any, NoReturn


def create_task_instance(*args: Any, **kwargs: Any) -> NoReturn:
    """Not provided: tests that need the metadata database are listed as not run."""
    raise NotImplementedError("the parity runner provides no Airflow test database")


def render_template_fields(*args: Any, **kwargs: Any) -> NoReturn:
    """Not provided: tests that need the metadata database are listed as not run."""
    raise NotImplementedError("the parity runner provides no Airflow test database")


def get_template_context(*args: Any, **kwargs: Any) -> NoReturn:
    """Not provided: it reads a task instance from the metadata database (tests using it are not run)."""
    raise NotImplementedError("the parity runner provides no Airflow test database")
