"""A private PostgreSQL server from Debian's ``postgresql`` package, started by PID for one run.

No cluster manager (``pg_ctlcluster``) and no system service: ``initdb`` creates a data directory
under the run's work directory, and ``postgres -D <dir> -p <port>`` runs from
``/usr/lib/postgresql/<version>/bin/`` through :class:`~airflow_durable.demo.processes.ManagedProcesses`,
listening on 127.0.0.1 only (no Unix socket: a deep work directory would exceed the socket path limit),
with trust authentication for the one superuser it creates.

**Running as root.** ``postgres`` refuses to start as root (it would give every SQL superuser the
machine). As root, both ``initdb`` and ``postgres`` therefore run as the ``postgres`` system user that
the Debian package creates, through ``setpriv --reuid --regid --init-groups`` (which replaces itself
with the program, so the PID we record is the postmaster itself, and root can still signal it). The
data directory is owned by that user, who must be able to enter every directory above it. When the
work directory is not reachable for other users (pytest's ``/tmp/pytest-of-root`` is mode 0700, and
every new pytest session on the machine tightens it back to 0700, so loosening it does not hold), the
data directory goes to a private directory of its own under the system temporary directory instead,
``<work dir>/<name>`` becomes a symbolic link to it, and :meth:`PostgresServer.stop` removes it. No
permission of an existing directory is changed. Not as root, everything runs as the current user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_durable.demo.airflow_stack import free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow_durable.demo.processes import ManagedProcesses

__all__ = ["POSTGRES_PROBE", "PostgresServer", "PostgresServerError"]

#: Where Debian's ``postgresql`` package puts the server binary (one directory per major version).
POSTGRES_PROBE = "/usr/lib/postgresql/*/bin/postgres"
#: The system user Debian's package creates; the server runs as it when we are root.
_SYSTEM_USER = "postgres"


class PostgresServerError(RuntimeError):
    """The server could not be prepared or did not start."""


def _bin_dir() -> Path:
    found = sorted(glob.glob(POSTGRES_PROBE), key=lambda path: int(Path(path).parents[1].name.split(".")[0]))
    if not found:
        raise PostgresServerError(f"no PostgreSQL server at {POSTGRES_PROBE}: apt-get install postgresql")
    return Path(found[-1]).parent


class PostgresServer:
    """One PostgreSQL server, private to a run, on a free port of 127.0.0.1.

    Args:
        data_dir: The data directory (created; must not exist or be empty). As root, when another user
            cannot reach it, a symbolic link to the real one (see the module docstring).
        processes: Starts and stops ``initdb`` and the server by PID.
        name: The process name in ``processes`` (and so the log file ``<name>.log``).
        database: The database :meth:`start` creates.
        user: The superuser ``initdb`` creates (trust authentication, no password).
        settings: Extra server settings, name to value, passed as ``-c name=value`` after the built-in
            ones (which they override), e.g. ``{"shared_preload_libraries": "pg_stat_statements"}``.

    Attributes:
        port: The server's TCP port on 127.0.0.1 (free at construction).
        start_seconds: Wall time of :meth:`start` in seconds, once it has returned.
    """

    def __init__(
        self,
        data_dir: Path,
        processes: ManagedProcesses,
        *,
        name: str = "postgres",
        database: str = "airflow",
        user: str = "airflow",
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self._private_dir: Path | None = None
        self.processes = processes
        self.name = name
        self.database = database
        self.user = user
        self.extra_settings = dict(settings or {})
        self.port = free_port()
        self.start_seconds: float | None = None

    def url(self, driver: str = "postgresql+psycopg2") -> str:
        """Return the database URL, e.g. for ``[database] sql_alchemy_conn``.

        Args:
            driver: The URL scheme: ``postgresql+psycopg2`` for SQLAlchemy, ``db+postgresql`` for a
                Celery result backend.

        Returns:
            ``<driver>://<user>@127.0.0.1:<port>/<database>``.
        """
        return f"{driver}://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def server_settings(self) -> dict[str, str]:
        """Return the settings the server runs with (``-c name=value`` each).

        Returns:
            The built-in ones (listen on 127.0.0.1 only; durability off, for speed, since the database
            is thrown away; 200 connections), then the constructor's ``settings``.
        """
        return {
            "listen_addresses": "127.0.0.1",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            **self.extra_settings,
        }

    def start(self, progress: Callable[[str], None] = print, *, timeout_seconds: float = 60.0) -> None:
        """Run ``initdb``, start the server, wait until it answers, and create :attr:`database`.

        Args:
            progress: Receives short progress messages.
            timeout_seconds: Upper bound of ``initdb`` and of the wait for the server.

        Raises:
            PostgresServerError: If ``initdb`` fails or the server exits.
            TimeoutError: If a step does not finish in time.
        """
        started = time.monotonic()
        bin_dir = _bin_dir()
        run_as = self._prepare_data_dir()
        progress(f"Postgres: initdb in {self.data_dir} ({bin_dir.parent.name}, as {self._run_as_user()})")
        initdb = [
            *run_as,
            str(bin_dir / "initdb"),
            "--pgdata",
            str(self.data_dir),
            "--username",
            self.user,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        ]
        popen = self.processes.start(f"{self.name}-initdb", initdb, cwd=self.data_dir)
        try:
            returncode = popen.wait(timeout=timeout_seconds)
        except Exception as exc:
            self.processes.stop(f"{self.name}-initdb")
            raise TimeoutError(f"initdb did not finish within {timeout_seconds:.0f} s") from exc
        if returncode != 0:
            raise PostgresServerError(
                f"initdb exited with {returncode}.\n{self.processes.log_tail(f'{self.name}-initdb')}"
            )
        server = [
            *run_as,
            str(bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-k",
            "",
            "-p",
            str(self.port),
            *(part for name, value in self.server_settings().items() for part in ("-c", f"{name}={value}")),
        ]
        progress(f"Postgres: starting on 127.0.0.1:{self.port}")
        self.processes.start(self.name, server, cwd=self.data_dir)
        self._wait_ready(timeout_seconds)
        self._create_database()
        self.start_seconds = time.monotonic() - started

    def stop(self) -> None:
        """Stop the server by PID (``SIGTERM``, then ``SIGKILL`` after the grace period).

        A data directory placed under the system temporary directory (see the module docstring) is
        removed; one under the work directory is left with it.
        """
        self.processes.stop(self.name)
        if self._private_dir is not None:
            shutil.rmtree(self._private_dir, ignore_errors=True)
            self._private_dir = None

    def connect(self, database: str | None = None) -> Any:
        """Open a ``psycopg2`` connection as the superuser.

        Args:
            database: The database; :attr:`database` by default.

        Returns:
            An open ``psycopg2`` connection; the caller closes it.
        """
        import psycopg2  # only the production-shaped stack needs it

        return psycopg2.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname=database or self.database, connect_timeout=5
        )

    # -- internals ------------------------------------------------------------------------------

    def _run_as_user(self) -> str:
        return _SYSTEM_USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

    def _prepare_data_dir(self) -> list[str]:
        if os.geteuid() != 0:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return []
        try:
            account = pwd.getpwnam(_SYSTEM_USER)
        except KeyError:
            raise PostgresServerError(
                f"running as root, but there is no {_SYSTEM_USER!r} user (Debian's postgresql package creates it)"
            ) from None
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if not all(ancestor.stat().st_mode & stat.S_IXOTH for ancestor in self.data_dir.parents):
            self._private_dir = Path(tempfile.mkdtemp(prefix=f"airflow-durable-{self.name}-"))
            self.data_dir.symlink_to(self._private_dir, target_is_directory=True)
            self.data_dir = self._private_dir
        self.data_dir.mkdir(exist_ok=True)
        os.chown(self.data_dir, account.pw_uid, account.pw_gid)
        self.data_dir.chmod(0o700)
        return ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups", "--"]

    def _wait_ready(self, timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        last: Exception | None = None
        while True:
            returncode = self.processes.popen(self.name).poll()
            if returncode is not None:
                raise PostgresServerError(f"postgres exited with {returncode}.\n{self.processes.log_tail(self.name)}")
            try:
                with contextlib.closing(self.connect("postgres")):
                    return
            except Exception as exc:  # noqa: BLE001 - psycopg2.OperationalError until it listens
                last = exc
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"postgres did not accept connections within {timeout_seconds:.0f} s: {last!r}\n"
                    f"{self.processes.log_tail(self.name)}"
                )
            time.sleep(0.1)

    def _create_database(self) -> None:
        with contextlib.closing(self.connect("postgres")) as connection:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{self.database}"')
