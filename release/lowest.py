"""The packages' own fast tests at the lowest versions their direct dependencies declare.

A copy of the tracked files is locked with ``uv lock --resolution lowest-direct`` (the workspace's ``uv.lock`` is
not touched), synced into its own environment, and ``pytest packages -m "not e2e"`` runs there. The root
``dev`` group takes part in the resolution, so its exact pins (Airflow, the upstream providers the parity suites
import) also bound what "lowest" can reach; the table printed at the end says which version was tested.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
import tomllib
from io import BytesIO
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from release.build import UV
from release.workspace import ROOT, load_packages

LOWEST = ("--resolution", "lowest-direct")


def copy_tracked(destination: Path) -> None:
    """The committed and staged state of the repository (``git archive`` of the index's tree).

    Raises:
        subprocess.CalledProcessError: When git fails.
    """
    tree = subprocess.run(["git", "write-tree"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    archive = subprocess.run(["git", "archive", tree], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")


def lowest_versions(lock: Path, root: Path) -> list[tuple[str, str, str, str]]:
    """``(package, requirement, declared bound, locked version)`` for each direct dependency of each package."""
    locked: dict[str, list[str]] = {}
    for entry in tomllib.loads(lock.read_text())["package"]:
        locked.setdefault(canonicalize_name(entry["name"]), []).append(entry.get("version", "?"))
    rows = []
    for package in load_packages(root):
        for text in package.requirements():
            requirement = Requirement(text)
            name = canonicalize_name(requirement.name)
            if name.startswith("airflow-durable"):
                continue
            lowest = min(locked.get(name, ["0"]), key=Version)
            rows.append((package.name, requirement.name, str(requirement.specifier) or "(none)", lowest))
    return sorted(set(rows))


def run(pytest_args: list[str]) -> int:
    """Lock, sync and test the copy; print the lowest versions; return pytest's exit status.

    Raises:
        subprocess.CalledProcessError: When the lowest-direct resolution or the sync fails.
    """
    work = Path(tempfile.mkdtemp(prefix="test-lowest-"))
    try:
        copy_tracked(work)
        uv = [str(UV), "--no-progress"]
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}  # the copy's own .venv, not ours
        subprocess.run([*uv, "lock", "-q", *LOWEST], cwd=work, env=env, check=True)
        subprocess.run([*uv, "sync", "-q", "--all-packages", "--locked", *LOWEST], cwd=work, env=env, check=True)
        tests = [str(p.relative_to(ROOT)) for p in sorted(ROOT.glob("packages/*/tests"))]
        command = [*uv, "run", "--all-packages", "--locked", *LOWEST, "pytest", *tests, "-m", "not e2e"]
        pytest = [*command, "-p", "no:cacheprovider", *pytest_args]
        status = subprocess.run(pytest, cwd=work, env=env, check=False).returncode
        print("\nLowest versions tested (package, dependency, declared, locked):")
        for row in lowest_versions(work / "uv.lock", work):
            print("  {:<28} {:<40} {:<14} {}".format(*row))
        return status
    finally:
        shutil.rmtree(work, ignore_errors=True)
