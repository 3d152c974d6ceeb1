"""Start subprocesses and always stop them again, by PID.

:class:`ManagedProcesses` is the only way the demo and the end-to-end tests start long-running
services (Airflow, a provider's cluster or emulator). Each process runs in its own session and process
group, and writes stdout and stderr to one log file. On exit, even on an exception or a failed test, every
process is stopped by PID: ``SIGTERM`` to its process group and to each descendant, a grace period,
then ``SIGKILL`` to whatever is left.

Descendants are found in two ways, because an orphaned grandchild is re-parented to init and no
longer shows up as a child:

- walking the process tree with :mod:`psutil` (``children(recursive=True)``);
- a marker variable (unique per :class:`ManagedProcesses` instance and process name) that every
  started process and its descendants inherit in their environment. Any process of the current
  user whose environment carries the marker was started by us, whatever its parent is now.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import psutil  # type: ignore[import-untyped,unused-ignore]  # types-psutil is not a dev dependency (yet)

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence
    from types import TracebackType

__all__ = ["OWNER_ENV_VAR", "ManagedProcesses"]

#: Environment variable set in every process that :class:`ManagedProcesses` starts. Its value,
#: ``<instance token>/<name>``, is unique, so orphaned descendants can be found again.
OWNER_ENV_VAR = "AIRFLOW_DURABLE_DEMO_OWNER"


@dataclass
class _Managed:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    argv: list[str]
    started_monotonic: float = field(default_factory=time.monotonic)


class ManagedProcesses:
    """Start subprocesses with logs under one directory, and stop every one of them on exit.

    Use it as a context manager::

        with ManagedProcesses(workdir / "logs") as processes:
            processes.start("sleeper", ["sleep", "60"])
            ...
        # every process (and every descendant) is gone here, even if the body raised

    Args:
        log_dir: Directory for the per-process log files (``<name>.log``). Created if missing.
        stop_timeout_seconds: Grace period between ``SIGTERM`` and ``SIGKILL`` when stopping.
    """

    def __init__(self, log_dir: Path, *, stop_timeout_seconds: float = 5.0) -> None:
        self.log_dir = Path(log_dir)
        self.stop_timeout_seconds = stop_timeout_seconds
        self.owner_token = uuid.uuid4().hex
        self._managed: list[_Managed] = []

    # -- context manager ------------------------------------------------------------------------

    def __enter__(self) -> ManagedProcesses:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop_all()

    # -- public API -----------------------------------------------------------------------------

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        unset_env: Collection[str] = (),
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in a new session, with stdout and stderr appended to ``log_path(name)``.

        Args:
            name: A short unique name, used for the log file. A name may be reused only after the
                previous process of that name has exited; its log is then appended to.
            argv: The program and its arguments.
            env: Variables added to (or overriding) the current environment. The current
                environment is inherited either way.
            cwd: Working directory, or ``None`` for the current one.
            unset_env: Names removed from the inherited environment (before ``env`` is applied).

        Returns:
            The started process. Its PID is recorded and stopped by :meth:`stop_all`.

        Raises:
            ValueError: If ``name`` is empty, contains a path separator, or is still running.
        """
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"invalid process name {name!r}: use a short name without '/'")
        for managed in self._managed:
            if managed.name == name and managed.popen.poll() is None:
                raise ValueError(f"a process named {name!r} is already running (pid {managed.popen.pid})")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path(name)
        full_env = {key: value for key, value in os.environ.items() if key not in unset_env}
        if env is not None:
            full_env.update(env)
        full_env[OWNER_ENV_VAR] = f"{self.owner_token}/{name}"
        log_file = log_path.open("ab")
        try:
            log_file.write(f"$ {' '.join(argv)}\n".encode())
            log_file.flush()
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=full_env,
                cwd=cwd,
                start_new_session=True,
            )
        except BaseException:
            log_file.close()
            raise
        self._managed.append(_Managed(name=name, popen=popen, log_path=log_path, log_file=log_file, argv=list(argv)))
        return popen

    def wait_for_port_file(self, name: str, port_file: Path, *, timeout_seconds: float = 30.0) -> int:
        """Wait until the server started under ``name`` writes its port to ``port_file``.

        For servers that bind port 0 and report the port they got in a file (written atomically).

        Args:
            name: The name given to :meth:`start`.
            port_file: The file the server writes its port number to.
            timeout_seconds: How long to wait.

        Returns:
            The port.

        Raises:
            RuntimeError: If the process exits first (the message has its log tail).
            TimeoutError: If the file does not appear in time.
        """
        deadline = time.monotonic() + timeout_seconds
        while True:
            with contextlib.suppress(FileNotFoundError, ValueError):
                return int(port_file.read_text().strip())
            returncode = self.popen(name).poll()
            if returncode is not None:
                raise RuntimeError(
                    f"{name} exited with {returncode} before writing {port_file}.\n{self.log_tail(name)}"
                )
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{name} did not write {port_file} within {timeout_seconds:.0f} s")
            time.sleep(0.05)

    def log_path(self, name: str) -> Path:
        """Return the log file of the process called ``name`` (it may not exist yet).

        Args:
            name: The name given to :meth:`start`.

        Returns:
            ``<log_dir>/<name>.log``.
        """
        return self.log_dir / f"{name}.log"

    def log_tail(self, name: str, *, max_lines: int = 40) -> str:
        """Return the last lines of a process's log, for error messages.

        Args:
            name: The name given to :meth:`start`.
            max_lines: How many lines to return at most.

        Returns:
            The tail of the log, or a short note if there is no log yet.
        """
        return tail_file(self.log_path(name), max_lines=max_lines)

    @property
    def pids(self) -> list[int]:
        """The PIDs of every process started so far, running or not, in start order."""
        return [managed.popen.pid for managed in self._managed]

    def popen(self, name: str) -> subprocess.Popen[bytes]:
        """Return the most recent process started under ``name``.

        Args:
            name: The name given to :meth:`start`.

        Returns:
            The process.

        Raises:
            KeyError: If no process was started under that name.
        """
        for managed in reversed(self._managed):
            if managed.name == name:
                return managed.popen
        raise KeyError(f"no process named {name!r}; started: {sorted({m.name for m in self._managed})}")

    def owned_pids(self) -> list[int]:
        """Return the PIDs of every live process we started, and of all their descendants.

        Returns:
            Sorted PIDs of live processes: the started ones, their descendants, and any process of
            this user whose environment carries this instance's owner marker.
        """
        return sorted(proc.pid for proc in self._collect_targets(self._managed))

    def stop(self, name: str) -> None:
        """Stop the processes started under ``name`` (and their descendants), by PID.

        Args:
            name: The name given to :meth:`start`.
        """
        self._stop([managed for managed in self._managed if managed.name == name])

    def stop_all(self) -> None:
        """Stop every process started so far and all their descendants, by PID.

        Sends ``SIGTERM`` to each process group and to each descendant, waits up to
        ``stop_timeout_seconds``, then sends ``SIGKILL`` to whatever is left. Safe to call twice.
        """
        self._stop(list(self._managed))

    # -- internals ------------------------------------------------------------------------------

    def _stop(self, entries: list[_Managed]) -> None:
        if not entries:
            return
        leader_pids = {managed.popen.pid for managed in entries}
        targets = self._collect_targets(entries)
        self._signal(targets, leader_pids, signal.SIGTERM)
        _gone, alive = psutil.wait_procs(list(targets), timeout=self.stop_timeout_seconds)
        # Anything that appeared in the meantime (a child spawned while shutting down) is collected too.
        alive_set = set(alive) | (self._collect_targets(entries) - targets)
        if alive_set:
            self._signal(alive_set, leader_pids, signal.SIGKILL)
            psutil.wait_procs(list(alive_set), timeout=self.stop_timeout_seconds)
        for managed in entries:
            with contextlib.suppress(subprocess.TimeoutExpired):
                managed.popen.wait(timeout=self.stop_timeout_seconds)
            if not managed.log_file.closed:
                managed.log_file.close()

    @staticmethod
    def _signal(targets: set[psutil.Process], leader_pids: set[int], signum: signal.Signals) -> None:
        # Signal a process group only while one of our targets is still in it: a PGID cannot be reused
        # as a PID while any member of the group is alive, so the group holds only processes that we
        # started or that they spawned.
        groups: set[int] = set()
        for proc in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                pgid = os.getpgid(proc.pid)
                if pgid in leader_pids:
                    groups.add(pgid)
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signum)
        for proc in targets:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                proc.send_signal(signum)

    def _collect_targets(self, entries: list[_Managed]) -> set[psutil.Process]:
        targets: set[psutil.Process] = set()
        for managed in entries:
            if managed.popen.poll() is not None:
                # Already reaped: its PID may belong to someone else now. Its descendants are found below.
                continue
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                proc = psutil.Process(managed.popen.pid)
                targets.add(proc)
                targets.update(proc.children(recursive=True))
        targets.update(self._marked_processes({f"{self.owner_token}/{managed.name}" for managed in entries}))
        return {proc for proc in targets if proc.pid != os.getpid()}

    @staticmethod
    def _marked_processes(markers: set[str]) -> set[psutil.Process]:
        """Find live processes of this user whose environment carries one of ``markers``."""
        found: set[psutil.Process] = set()
        uid = os.getuid()
        for proc in psutil.process_iter():
            try:
                if proc.uids().real != uid or proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                if proc.environ().get(OWNER_ENV_VAR) in markers:
                    found.add(proc)
            except psutil.Error:
                continue
        return found


def tail_file(path: Path, *, max_lines: int = 40, max_bytes: int = 64_000) -> str:
    """Return the last ``max_lines`` lines of a text file, for error messages.

    Args:
        path: The file.
        max_lines: How many lines to return at most.
        max_bytes: How many bytes to read from the end of the file at most.

    Returns:
        The tail, or a short note if the file does not exist.
    """
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except FileNotFoundError:
        return f"<no log file at {path}>"
    lines = data.decode("utf-8", errors="replace").splitlines()
    return "\n".join(lines[-max_lines:])
