"""``tests_common.test_utils.db``: the ``clear_db_*`` helpers, for a run that has no metadata database.

Upstream calls them in class set-up and tear-down to empty its test database between classes. The parity
runner has no database, so there is nothing to clear: they do nothing. Tests that need the database itself
are listed as not run.
"""

from __future__ import annotations


def clear_db_runs() -> None:
    """Nothing to clear: the parity runner has no metadata database."""


def clear_db_xcom() -> None:
    """Nothing to clear: the parity runner has no metadata database."""
