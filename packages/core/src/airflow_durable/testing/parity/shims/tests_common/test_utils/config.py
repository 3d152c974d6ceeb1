"""``conf_vars``: temporarily set Airflow configuration options."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def conf_vars(overrides: dict[tuple[str, str], str | None]) -> Iterator[None]:
    """Set ``{(section, key): value}`` through ``AIRFLOW__SECTION__KEY`` variables for the block."""
    saved = {}
    for (section, key), value in overrides.items():
        name = f"AIRFLOW__{section.upper()}__{key.upper()}"
        saved[name] = os.environ.get(name)
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
