"""The workspace's packages as the release checks see them: name, version, requirements, import name."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
CORE = "airflow-durable"


@dataclass(frozen=True)
class Package:
    """One workspace member (``packages/<dir>/pyproject.toml``).

    Attributes:
        directory: The member's directory.
        project: Its ``[project]`` table.
        import_name: The top-level module its wheel holds (``airflow_durable_spark``).
    """

    directory: Path
    project: dict[str, Any]
    import_name: str

    @property
    def name(self) -> str:
        """The distribution name (``airflow-durable-spark``)."""
        return str(self.project["name"])

    @property
    def version(self) -> str:
        """The version declared in ``pyproject.toml``."""
        return str(self.project["version"])

    @property
    def is_core(self) -> bool:
        """Whether this is the core package every provider depends on."""
        return self.name == CORE

    def requirements(self) -> list[str]:
        """Every requirement string: ``dependencies``, then each extra of ``optional-dependencies``."""
        found = list(self.project.get("dependencies", []))
        for extra in self.project.get("optional-dependencies", {}).values():
            found.extend(extra)
        return found


def load_package(directory: Path) -> Package:
    """Read one member from its ``pyproject.toml``.

    Raises:
        FileNotFoundError: When the directory has no ``pyproject.toml``.
    """
    pyproject = tomllib.loads((directory / "pyproject.toml").read_text())
    wheel_packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    return Package(directory=directory, project=pyproject["project"], import_name=Path(wheel_packages[0]).name)


def load_packages(root: Path = ROOT) -> list[Package]:
    """Every member under ``packages/``, the core first, then the providers by name."""
    found = [load_package(p) for p in sorted((root / "packages").iterdir()) if (p / "pyproject.toml").is_file()]
    return sorted(found, key=lambda p: (not p.is_core, p.name))


def workspace_pin(name: str, root: Path = ROOT) -> str:
    """The root ``dev`` group's requirement for ``name`` (``apache-airflow==3.3.2``), so it is stated once.

    Raises:
        LookupError: When the dev group does not name it.
    """
    dev = tomllib.loads((root / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    for requirement in dev:
        if canonicalize_name(Requirement(requirement).name) == canonicalize_name(name):
            return str(requirement)
    raise LookupError(f"the root dev group does not name {name}")
