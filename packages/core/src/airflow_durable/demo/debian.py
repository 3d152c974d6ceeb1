"""Install Debian packages that a demo stack needs, when they are missing (``apt-get``, as root).

The production-shaped stack (:mod:`airflow_durable.demo.celery_stack`) runs Postgres and Redis from
Debian's own ``postgresql`` and ``redis-server`` packages. :func:`ensure_debian_packages` installs them
on a fresh machine (CI included) and reports how long that took; on a machine that has them it only
checks and returns at once.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["DebianInstallError", "InstallReport", "ensure_debian_packages"]

_APT_TIMEOUT_SECONDS = 600.0


class DebianInstallError(RuntimeError):
    """A needed Debian package is missing and cannot be installed here."""


@dataclass(frozen=True)
class InstallReport:
    """What :func:`ensure_debian_packages` did.

    Attributes:
        installed: The packages it installed (empty when every one was present).
        seconds: Wall time of the ``apt-get`` commands in seconds (0 when nothing was installed).
    """

    installed: tuple[str, ...]
    seconds: float


def _present(probe: str) -> bool:
    # A probe is a program on PATH, or a glob of an absolute path (versioned directories like
    # /usr/lib/postgresql/*/bin/postgres).
    if os.path.isabs(probe):
        return bool(glob.glob(probe))
    return shutil.which(probe) is not None


def ensure_debian_packages(probes: Mapping[str, str], progress: Callable[[str], None] = print) -> InstallReport:
    """Install the Debian packages whose probe file is missing, with ``apt-get install --no-install-recommends``.

    ``apt-get update`` runs first only when the package lists are empty (a fresh image), or when
    the install fails on stale lists.

    Args:
        probes: Package name to a program name on ``PATH`` or an absolute path glob that exists once
            the package is installed, e.g. ``{"redis-server": "redis-server",
            "postgresql": "/usr/lib/postgresql/*/bin/postgres"}``.
        progress: Receives a short message before and after an install.

    Returns:
        The packages installed and the time it took.

    Raises:
        DebianInstallError: If a package is missing and this is not a root shell on a Debian-like
            system, or ``apt-get`` fails (the message has its output tail).
    """
    missing = tuple(package for package, probe in probes.items() if not _present(probe))
    if not missing:
        return InstallReport(installed=(), seconds=0.0)
    apt_get = shutil.which("apt-get")
    if apt_get is None or os.geteuid() != 0:
        raise DebianInstallError(
            f"missing Debian packages {', '.join(missing)}: install them with "
            f"`apt-get install -y --no-install-recommends {' '.join(missing)}` (as root)"
        )
    progress(f"Installing Debian packages: {', '.join(missing)} (apt-get)")
    started = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt_get, "install", "-y", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300", *missing]
    lists_empty = not glob.glob("/var/lib/apt/lists/*_Packages*")
    if lists_empty:
        _apt([apt_get, "update"], env)
    try:
        _apt(install, env)
    except DebianInstallError:
        if lists_empty:
            raise
        _apt([apt_get, "update"], env)
        _apt(install, env)
    still_missing = [package for package in missing if not _present(probes[package])]
    if still_missing:
        raise DebianInstallError(f"apt-get installed {', '.join(missing)} but {still_missing} are still missing")
    seconds = time.monotonic() - started
    progress(f"Installed {', '.join(missing)} in {seconds:.1f} s")
    return InstallReport(installed=missing, seconds=seconds)


def _apt(argv: list[str], env: dict[str, str]) -> None:
    try:
        completed = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=_APT_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise DebianInstallError(f"`{' '.join(argv)}` did not finish within {_APT_TIMEOUT_SECONDS:.0f} s") from exc
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-20:])
        raise DebianInstallError(f"`{' '.join(argv)}` exited with {completed.returncode}:\n{tail}")
