"""What a published wheel's metadata must carry, checked on the built wheels' ``METADATA`` files.

Each check returns the problems it found (an empty list when there is none), so one run reports them all.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from release.workspace import CORE

# PLACEHOLDER (the .invalid domain never resolves): there is no public repository yet. Every package's
# [project.urls] points under this base; replace it in the pyproject.toml files (and here) before the first
# upload (docs/releasing.md).
URL_BASE = "https://placeholder.invalid/airflow-durable"
REQUIRED_URLS = ("Homepage", "Source", "Issues", "Changelog")
REQUIRED_CLASSIFIERS = (
    "Framework :: Apache Airflow",
    "Framework :: Apache Airflow :: Provider",
    "Programming Language :: Python :: 3",
    "Programming Language :: Python :: 3.11",
)
REQUIRED_CLASSIFIER_PREFIXES = ("Development Status :: ",)
LICENSE = "Apache-2.0"
#: The license text every wheel carries (``License-File``; hatchling takes ``LICENSE`` from the package's directory).
LICENSE_FILE = "LICENSE"


def read_wheel_metadata(wheel: Path) -> Message:
    """The ``*.dist-info/METADATA`` of a wheel, parsed as the email-style headers it is.

    Raises:
        KeyError: When the wheel has no ``METADATA``.
    """
    with zipfile.ZipFile(wheel) as archive:
        name = next((n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), None)
        if name is None:
            raise KeyError(f"{wheel.name} has no .dist-info/METADATA")
        return HeaderParser().parsestr(archive.read(name).decode())


def check_complete(metadata: Message) -> list[str]:
    """URLs under :data:`URL_BASE`, classifiers, license and its text, authors, keywords and a Markdown README."""
    name = metadata["Name"]
    problems = []
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL", []))
    for label in REQUIRED_URLS:
        if label not in urls:
            problems.append(f"{name}: no [project.urls] {label}")
    problems += [f"{name}: URL {u} is not under {URL_BASE}" for u in urls.values() if not u.startswith(URL_BASE)]
    classifiers = metadata.get_all("Classifier", [])
    problems += [f"{name}: no classifier {c!r}" for c in REQUIRED_CLASSIFIERS if c not in classifiers]
    for prefix in REQUIRED_CLASSIFIER_PREFIXES:
        if not any(c.startswith(prefix) for c in classifiers):
            problems.append(f"{name}: no {prefix.rstrip(': ')} classifier")
    if metadata.get("License-Expression") != LICENSE:
        problems.append(f"{name}: License-Expression is {metadata.get('License-Expression')!r}, not {LICENSE!r}")
    if LICENSE_FILE not in metadata.get_all("License-File", []):
        problems.append(f"{name}: no License-File {LICENSE_FILE} (the license text is not in the wheel)")
    if not (metadata.get("Author") or metadata.get("Author-email")):
        problems.append(f"{name}: no authors")
    if not (metadata.get("Maintainer") or metadata.get("Maintainer-email")):
        problems.append(f"{name}: no maintainers")
    if not metadata.get("Keywords"):
        problems.append(f"{name}: no keywords")
    if not metadata.get("Summary"):
        problems.append(f"{name}: no description")
    if metadata.get("Description-Content-Type") != "text/markdown":
        problems.append(f"{name}: README content type is {metadata.get('Description-Content-Type')!r}")
    if not metadata.get_payload():
        problems.append(f"{name}: empty README (long description)")
    return problems


def check_versions(metadatas: Sequence[Message]) -> list[str]:
    """Lockstep versions, and core requirements bounded below by the core released with them.

    Every package has the core's version, and every requirement on the core (extras included) has a lower
    bound equal to it (``airflow-durable>=0.1.0``) and admits it.
    """
    core = next((m for m in metadatas if canonicalize_name(m["Name"]) == CORE), None)
    if core is None:
        return [f"no {CORE} wheel among {[m['Name'] for m in metadatas]}"]
    version = Version(core["Version"])
    problems = [
        f"{m['Name']} is version {m['Version']}, the core is {version} (versions move in lockstep)"
        for m in metadatas
        if Version(m["Version"]) != version
    ]
    for metadata in metadatas:
        for requirement in _core_requirements(metadata.get_all("Requires-Dist", [])):
            lower = [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==", "~=")]
            if lower != [version]:
                problems.append(
                    f"{metadata['Name']}: requirement {str(requirement)!r} needs exactly one lower bound "
                    f">={version} (the core version released with it)"
                )
            if any(not s.contains(str(version)) for s in requirement.specifier):
                problems.append(f"{metadata['Name']}: requirement {str(requirement)!r} excludes {CORE} {version}")
    return problems


def _core_requirements(requires_dist: Iterable[str]) -> list[Requirement]:
    return [r for r in map(Requirement, requires_dist) if canonicalize_name(r.name) == CORE]
