"""One version bump for every package: each ``version`` and each provider's ``airflow-durable>=`` bound."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.version import Version

from release.workspace import ROOT, load_packages

_VERSION = re.compile(r'^version = "[^"]+"$', re.MULTILINE)
_CORE_BOUND = re.compile(r'"airflow-durable(\[[\w,]+\])?>=[^",;]+')


def bump(new: str, root: Path = ROOT) -> list[Path]:
    """Set every package's version to ``new`` and every requirement on the core to ``>=new``.

    Run ``uv lock`` afterwards (``python -m release bump`` does) so ``uv.lock`` records the new versions.

    Args:
        new: The version to release, a PEP 440 version (``0.2.0``).
        root: The repository root.

    Returns:
        The ``pyproject.toml`` files changed.

    Raises:
        packaging.version.InvalidVersion: When ``new`` is not a PEP 440 version.
    """
    version = str(Version(new))
    changed = []
    for package in load_packages(root):
        path = package.directory / "pyproject.toml"
        text = path.read_text()
        updated = _VERSION.sub(f'version = "{version}"', text, count=1)
        updated = _CORE_BOUND.sub(lambda m: f'"airflow-durable{m.group(1) or ""}>={version}', updated)
        if updated != text:
            path.write_text(updated)
            changed.append(path)
    return changed
