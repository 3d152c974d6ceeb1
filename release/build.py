"""Build every package's sdist and wheel, and check that their READMEs render (``twine check --strict``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from release.workspace import ROOT

UV = ROOT / "scripts" / "uv"
DIST = ROOT / "build" / "dist"
TWINE = "twine==7.0.0"
"""Run through ``uv tool run`` (not a workspace dependency): its check renders each README as PyPI does."""


def build_all(dist: Path = DIST) -> list[Path]:
    """``uv build --all-packages`` into an emptied ``dist``; return the files built.

    Raises:
        subprocess.CalledProcessError: When a build fails.
    """
    shutil.rmtree(dist, ignore_errors=True)
    subprocess.run([UV, "build", "--all-packages", "--no-progress", "-q", "-o", dist], cwd=ROOT, check=True)
    return sorted(p for p in dist.iterdir() if p.suffix == ".whl" or p.name.endswith(".tar.gz"))


def twine_check(files: list[Path]) -> bool:
    """Whether ``twine check --strict`` passes on every file (it prints its own verdict per file)."""
    result = subprocess.run([UV, "tool", "run", "--from", TWINE, "twine", "check", "--strict", *files], check=False)
    return result.returncode == 0
