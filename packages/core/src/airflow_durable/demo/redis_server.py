"""A private Redis server from Debian's ``redis-server`` package, started by PID for one run.

``redis-server --port <p> --bind 127.0.0.1 --dir <dir> --save ''`` runs through
:class:`~airflow_durable.demo.processes.ManagedProcesses`: no system service, no persistence (a
Celery broker for one run needs none). Redis runs as the current user, root included.
"""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_durable.demo.airflow_stack import free_port

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_durable.demo.processes import ManagedProcesses

__all__ = ["RedisServer", "RedisServerError"]


class RedisServerError(RuntimeError):
    """The server is missing or did not start."""


class RedisServer:
    """One Redis server, private to a run, on a free port of 127.0.0.1.

    Args:
        work_dir: Its working directory (created).
        processes: Starts and stops the server by PID.
        name: The process name in ``processes`` (and so the log file ``<name>.log``).

    Attributes:
        port: The server's TCP port on 127.0.0.1 (free at construction).
    """

    def __init__(self, work_dir: Path, processes: ManagedProcesses, *, name: str = "redis") -> None:
        self.work_dir = Path(work_dir).resolve()
        self.processes = processes
        self.name = name
        self.port = free_port()

    def url(self, database: int = 0) -> str:
        """Return the server's URL, e.g. for ``[celery] broker_url``.

        Args:
            database: The Redis database number.

        Returns:
            ``redis://127.0.0.1:<port>/<database>``.
        """
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self, progress: Callable[[str], None] = print, *, timeout_seconds: float = 30.0) -> None:
        """Start the server and wait until it answers ``PING``.

        Args:
            progress: Receives a short progress message.
            timeout_seconds: How long to wait for the first ``PONG``.

        Raises:
            RedisServerError: If ``redis-server`` is not installed or exits.
            TimeoutError: If it does not answer in time.
        """
        executable = shutil.which("redis-server")
        if executable is None:
            raise RedisServerError("redis-server is not installed: apt-get install redis-server")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        progress(f"Redis: starting on 127.0.0.1:{self.port}")
        argv = [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.work_dir)]
        self.processes.start(self.name, [*argv, "--save", "", "--appendonly", "no", "--daemonize", "no"])
        deadline = time.monotonic() + timeout_seconds
        while not self.ping():
            returncode = self.processes.popen(self.name).poll()
            if returncode is not None:
                raise RedisServerError(f"redis-server exited with {returncode}.\n{self.processes.log_tail(self.name)}")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"redis-server did not answer PING within {timeout_seconds:.0f} s")
            time.sleep(0.05)

    def ping(self) -> bool:
        """Send ``PING`` over the wire protocol.

        Returns:
            Whether the server answered ``+PONG``.
        """
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server by PID."""
        self.processes.stop(self.name)
