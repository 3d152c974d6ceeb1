"""Each wheel installed alone in a fresh virtual environment with Airflow.

It imports, ``airflow providers list`` shows it, and it brings its own vendor's SDK and no other.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from release.workspace import CORE

VENDOR_SDKS: Mapping[str, tuple[str, ...]] = {
    # vendor: its SDK distributions (the first must be present when the vendor is a package's own).
    "spark": ("apache-airflow-providers-apache-spark", "pyspark-client", "pyspark"),
    "kubernetes": ("kubernetes", "apache-airflow-providers-cncf-kubernetes"),
    "databricks": ("databricks-sdk",),
    "aws": ("boto3", "botocore", "s3transfer", "apache-airflow-providers-amazon"),
    "google": ("google-cloud-dataproc", "apache-airflow-providers-google"),
}
"""Vendor SDKs by vendor. grpcio and protobuf are not markers: Airflow itself brings them (OpenTelemetry)."""


@dataclass(frozen=True)
class InstallCase:
    """One ``pip install`` a user would type, and the vendors whose SDK it may bring.

    Attributes:
        distribution: The wheel's distribution name.
        extras: The extras asked for (``("kubernetes",)`` for ``airflow-durable-spark[kubernetes]``).
        own_vendors: Keys of :data:`VENDOR_SDKS` that this install brings; every other vendor's SDK is absent.
    """

    distribution: str
    extras: tuple[str, ...] = ()
    own_vendors: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The requirement as typed: ``airflow-durable-spark[kubernetes]``."""
        return self.distribution + (f"[{','.join(self.extras)}]" if self.extras else "")


INSTALL_CASES = (
    InstallCase(CORE),
    InstallCase("airflow-durable-spark", own_vendors=("spark",)),
    InstallCase("airflow-durable-spark", ("kubernetes",), own_vendors=("spark", "kubernetes")),
    InstallCase("airflow-durable-databricks", own_vendors=("databricks",)),
    InstallCase("airflow-durable-emr", own_vendors=("aws",)),
    InstallCase("airflow-durable-dataproc", own_vendors=("google",)),
)
"""Every published package alone; Spark's ``[kubernetes]`` extra too, the one extra that adds an SDK."""


def sdk_problems(case: InstallCase, installed: Iterable[str]) -> list[str]:
    """Foreign vendor SDKs present, or the case's own SDK missing, among the installed distributions."""
    names = {canonicalize_name(n) for n in installed}
    problems = []
    for vendor, distributions in VENDOR_SDKS.items():
        if vendor in case.own_vendors:
            if canonicalize_name(distributions[0]) not in names:
                problems.append(f"{case.label}: its own SDK {distributions[0]} is not installed")
        else:
            foreign = sorted(d for d in distributions if canonicalize_name(d) in names)
            problems += [f"{case.label}: pulls in {d} ({vendor}'s SDK)" for d in foreign]
    return problems


# Run inside the fresh environment: the provider entry point of the installed distribution, its operator and
# trigger modules imported, and what provider_info says about name and version.
_PROBE = """
import importlib, json, sys
from importlib.metadata import distribution
dist = distribution(sys.argv[1])
problems, modules = [], []
eps = [ep for ep in dist.entry_points if ep.group == "apache_airflow_provider"]
if not eps:
    problems.append("no apache_airflow_provider entry point")
for ep in eps:
    info = ep.load()()
    if info.get("package-name") != dist.metadata["Name"]:
        problems.append(f"provider_info package-name {info.get('package-name')!r}")
    if "versions" in info and info["versions"][0] != dist.version:
        problems.append(f"provider_info versions[0] {info['versions'][0]!r} is not {dist.version}")
    for kind in ("operators", "triggers"):
        for entry in info.get(kind, []):
            for module in entry["python-modules"]:
                importlib.import_module(module)
                modules.append(module)
print(json.dumps({"problems": problems, "modules": modules}))
"""


@dataclass(frozen=True)
class InstallResult:
    """What one install-alone run measured and found.

    Attributes:
        case: The install.
        install_seconds: Wall time of ``uv pip install`` (uv's cache warm after the first run).
        size_bytes: The virtual environment's size on disk, Airflow included.
        distributions: How many distributions the environment holds.
        modules: The operator and trigger modules imported.
        problems: What failed (empty when the wheel installs and works alone).
    """

    case: InstallCase
    install_seconds: float
    size_bytes: int
    distributions: int
    modules: tuple[str, ...]
    problems: tuple[str, ...]


def install_alone(case: InstallCase, wheels: Mapping[str, Path], airflow: str, uv: Path) -> InstallResult:
    """Install ``case`` with ``airflow`` (``apache-airflow==3.3.2``) in a fresh venv, and check it.

    A provider's core dependency comes from the built core wheel (given explicitly and through
    ``--find-links``), never from the workspace; uv runs with ``--no-config`` from a temporary directory.

    Args:
        case: What to install.
        wheels: Built wheel per distribution name (all of them, in one directory).
        airflow: The Airflow requirement.
        uv: The uv executable.

    Raises:
        subprocess.CalledProcessError: When the environment cannot be created or the install fails.
    """
    work = Path(tempfile.mkdtemp(prefix="release-check-"))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["AIRFLOW_HOME"] = str(work / "airflow-home")
    venv = work / "venv"
    python = venv / "bin" / "python"
    try:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        subprocess.run([uv, "venv", "-q", "--no-config", "--python", version, venv], cwd=work, env=env, check=True)
        wheel = wheels[case.distribution]
        requirement = f"{case.label} @ {wheel.as_uri()}"
        extra = [str(wheels[CORE])] if case.distribution != CORE else []
        pip: list[str | Path] = ["install", "-q", "--no-config", "--python", python, "--find-links", wheel.parent]
        start = time.monotonic()
        subprocess.run([uv, "pip", *pip, requirement, *extra, airflow], cwd=work, env=env, check=True)
        took = time.monotonic() - start
        listed = subprocess.run(
            [uv, "pip", "list", "--no-config", "--python", python, "--format", "json"],
            cwd=work, env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        installed = {d["name"]: d["version"] for d in json.loads(listed.stdout)}
        problems = sdk_problems(case, installed)
        probe = subprocess.run(
            [python, "-c", _PROBE, case.distribution], cwd=work, env=env, capture_output=True, text=True, check=False
        )
        modules: list[str] = []
        if probe.returncode:
            problems.append(f"{case.label}: import failed: {probe.stderr.strip()[-2000:]}")
        else:
            found = json.loads(probe.stdout.strip().splitlines()[-1])
            problems += [f"{case.label}: {p}" for p in found["problems"]]
            modules = found["modules"]
        problems += _providers_list_problems(case, venv, work, env, installed)
        return InstallResult(case, took, _size(venv), len(installed), tuple(modules), tuple(problems))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _providers_list_problems(
    case: InstallCase, venv: Path, work: Path, env: Mapping[str, str], installed: Mapping[str, str]
) -> list[str]:
    """``airflow providers list`` (no metadata database needed) must show the package at its version."""
    result = subprocess.run(
        [venv / "bin" / "airflow", "providers", "list", "--output", "json"],
        cwd=work, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode:
        return [f"{case.label}: airflow providers list failed: {result.stderr.strip()[-2000:]}"]
    listing = next((line for line in result.stdout.splitlines() if line.startswith("[")), "[]")
    providers = {p["package_name"]: p["version"] for p in json.loads(listing)}
    want = installed.get(case.distribution)
    if providers.get(case.distribution) != want:
        return [f"{case.label}: airflow providers list shows {providers.get(case.distribution)!r}, not {want!r}"]
    return []


def _size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir() or p.is_symlink())
