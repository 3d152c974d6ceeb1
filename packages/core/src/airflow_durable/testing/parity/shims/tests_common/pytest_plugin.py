"""Stand-in for ``tests_common.pytest_plugin``: upstream's markers, default connections and ``caplog``."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, MutableMapping
from typing import Any
from unittest import mock

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register upstream's markers, and define Airflow's default connections as upstream's test DB has them."""
    for marker in ("db_test", "backend(name)", "need_serialized_dag", "want_activate_assets", "execution_timeout"):
        config.addinivalue_line("markers", marker)
    for name, value in default_connections().items():
        os.environ.setdefault(name, value)


def default_connections() -> dict[str, str]:
    """``AIRFLOW_CONN_*`` variables for the connections ``airflow db`` creates (``spark_default``...).

    Upstream tests run against a metadata database holding Airflow's default connections; the parity run
    has no database, so the same connections come from ``create_default_connections`` as variables.
    """
    try:
        from airflow.utils import db
    except ImportError:  # the task SDK alone: no default connections to copy
        return {}
    captured: list[Any] = []
    with mock.patch.object(db, "merge_conn", lambda conn, session=None: captured.append(conn)):
        db.create_default_connections(session=None)  # type: ignore[arg-type]  # merge_conn is patched
    return {f"AIRFLOW_CONN_{conn.conn_id.upper()}": conn.as_json() for conn in captured}


@pytest.fixture(name="caplog")
def structlog_caplog(request: pytest.FixtureRequest) -> Iterator[pytest.LogCaptureFixture]:
    """The ``caplog`` fixture, also holding what Airflow logs through structlog.

    Airflow 3 operators log through structlog (``self.log``), which writes to a stream, not to stdlib
    logging, so pytest's own ``caplog`` never sees those lines. Upstream's ``tests_common`` overrides
    ``caplog`` with a structlog capture; this stand-in keeps pytest's fixture (``messages``, ``text``,
    ``records``, ``at_level``...) and, while it is in use, hands each structlog event to its handler as a
    log record instead of rendering it. Stdlib logging is captured as pytest always does.

    Yields:
        pytest's ``LogCaptureFixture`` for the test.
    """
    fixture = pytest.LogCaptureFixture(request.node, _ispytest=True)
    try:
        import structlog
    except ImportError:  # no structlog: pytest's fixture as is
        yield fixture
        fixture._finalize()
        return

    def to_caplog(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
        level = structlog.processors.NAME_TO_LEVEL.get(method_name, logging.INFO)
        handler = fixture.handler  # pytest installs a new handler for each phase (setup, call, teardown)
        if level >= handler.level:
            name = str(event_dict.get("logger") or event_dict.get("logger_name") or getattr(logger, "name", ""))
            record = logging.LogRecord(name, level, "", 0, str(event_dict.get("event", "")), None, None)
            handler.handle(record)
        raise structlog.DropEvent

    # Bound loggers keep a reference to the configured list: change it in place, and restore it after.
    processors = structlog.get_config()["processors"]
    saved = list(processors)
    processors[-1:] = [to_caplog]  # the last processor renders the line; ours replaces it
    try:
        yield fixture
    finally:
        processors[:] = saved
        fixture._finalize()
