"""The release checker's own logic (``python -m release``): what it must catch before a release goes out."""

from __future__ import annotations

import sys
from email.message import Message
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from release.changelog import check_changelog  # noqa: E402
from release.install import INSTALL_CASES, InstallCase, sdk_problems  # noqa: E402
from release.metadata import (  # noqa: E402
    REQUIRED_CLASSIFIERS,
    REQUIRED_URLS,
    URL_BASE,
    check_complete,
    check_versions,
)
from release.workspace import CORE, load_packages, workspace_pin  # noqa: E402


def _metadata(name: str, version: str = "0.1.0", requires: tuple[str, ...] = (), **overrides: object) -> Message:
    fields: dict[str, object] = {
        "Name": name,
        "Version": version,
        "Summary": "Crash-safe operators.",
        "License-Expression": "Apache-2.0",
        "License-File": "LICENSE",
        "Author": "The airflow-durable contributors",
        "Maintainer": "The airflow-durable contributors",
        "Keywords": "airflow,durable",
        "Description-Content-Type": "text/markdown",
        "Project-URL": [f"{label}, {URL_BASE}/{label.lower()}" for label in REQUIRED_URLS],
        "Classifier": [*REQUIRED_CLASSIFIERS, "Development Status :: 3 - Alpha"],
        "Requires-Dist": list(requires),
    }
    fields.update(overrides)
    message = Message()
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                message[key] = str(item)
    message.set_payload("# README\n")
    return message


def _workspace(**provider: object) -> list[Message]:
    return [
        _metadata(CORE),
        _metadata("airflow-durable-spark", requires=("airflow-durable>=0.1.0",), **provider),  # type: ignore[arg-type]
    ]


def test_consistent_versions_pass() -> None:
    assert check_versions(_workspace()) == []


def test_a_provider_on_another_version_is_caught() -> None:
    problems = check_versions(_workspace(Version="0.1.1"))
    assert problems == ["airflow-durable-spark is version 0.1.1, the core is 0.1.0 (versions move in lockstep)"]


@pytest.mark.parametrize(
    "requirement",
    [
        "airflow-durable",  # unversioned: an old core would satisfy it
        "airflow-durable>=0.0.9",  # a bound below the core released with it
        'airflow-durable[demo]; extra == "demo"',  # extras count too
        "airflow-durable<0.1.0,>=0.1.0",  # excludes the core it ships with
    ],
)
def test_a_core_requirement_without_the_released_lower_bound_is_caught(requirement: str) -> None:
    problems = check_versions(_workspace(**{"Requires-Dist": ["airflow-durable>=0.1.0", requirement]}))
    assert len(problems) == 1, problems
    assert repr(requirement) in problems[0]


def test_a_missing_core_wheel_is_caught() -> None:
    assert check_versions(_workspace()[1:]) == ["no airflow-durable wheel among ['airflow-durable-spark']"]


def test_complete_metadata_passes() -> None:
    assert check_complete(_metadata(CORE)) == []


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"Project-URL": [f"Homepage, {URL_BASE}"]}, "no [project.urls] Source"),
        (
            {"Project-URL": [*(f"{u}, {URL_BASE}" for u in REQUIRED_URLS), "Docs, https://elsewhere.example"]},
            "URL https://elsewhere.example is not under",
        ),
        ({"Classifier": ["Development Status :: 3 - Alpha"]}, "no classifier 'Framework :: Apache Airflow'"),
        ({"Classifier": list(REQUIRED_CLASSIFIERS)}, "no Development Status classifier"),
        ({"License-Expression": None}, "License-Expression is None"),
        ({"License-File": None}, "no License-File LICENSE"),
        ({"Author": None}, "no authors"),
        ({"Maintainer": None}, "no maintainers"),
        ({"Keywords": None}, "no keywords"),
        ({"Description-Content-Type": "text/x-rst"}, "README content type is 'text/x-rst'"),
    ],
)
def test_incomplete_metadata_is_caught(override: dict[str, object], expected: str) -> None:
    problems = check_complete(_metadata(CORE, **override))  # type: ignore[arg-type]
    assert any(expected in p for p in problems), problems


def test_an_empty_readme_is_caught() -> None:
    metadata = _metadata(CORE)
    metadata.set_payload("")
    assert check_complete(metadata) == ["airflow-durable: empty README (long description)"]


def test_a_foreign_vendor_sdk_is_caught() -> None:
    emr = InstallCase("airflow-durable-emr", own_vendors=("aws",))
    assert sdk_problems(emr, ["boto3", "botocore", "apache-airflow"]) == []
    assert sdk_problems(emr, ["boto3", "Databricks_SDK"]) == [
        "airflow-durable-emr: pulls in databricks-sdk (databricks's SDK)"
    ]


def test_the_kubernetes_client_is_foreign_unless_the_extra_is_asked() -> None:
    installed = ["apache-airflow-providers-apache-spark", "pyspark-client", "kubernetes"]
    plain, with_extra = (c for c in INSTALL_CASES if c.distribution == "airflow-durable-spark")
    assert sdk_problems(plain, installed) == ["airflow-durable-spark: pulls in kubernetes (kubernetes's SDK)"]
    assert sdk_problems(with_extra, installed) == []


def test_a_missing_own_sdk_is_caught() -> None:
    dataproc = InstallCase("airflow-durable-dataproc", own_vendors=("google",))
    assert sdk_problems(dataproc, ["apache-airflow"]) == [
        "airflow-durable-dataproc: its own SDK google-cloud-dataproc is not installed"
    ]


def test_every_package_is_installed_alone() -> None:
    assert {c.distribution for c in INSTALL_CASES} == {p.name for p in load_packages()}
    assert load_packages()[0].name == CORE


def test_the_airflow_pin_is_read_from_the_workspace() -> None:
    assert workspace_pin("apache-airflow") == "apache-airflow==3.3.2"
    with pytest.raises(LookupError):
        workspace_pin("not-a-dependency")


def test_bump_moves_every_version_and_core_bound_together(tmp_path: Path) -> None:
    from release.bump import bump
    from release.metadata import check_versions as versions_of

    for package in load_packages():
        target = tmp_path / "packages" / package.directory.name
        target.mkdir(parents=True)
        (target / "pyproject.toml").write_text((package.directory / "pyproject.toml").read_text())
    changed = bump("0.2.0", tmp_path)
    assert len(changed) == len(load_packages())
    bumped = load_packages(tmp_path)
    assert {p.version for p in bumped} == {"0.2.0"}
    metadatas = [
        _metadata(p.name, p.version, requires=tuple(r for r in p.requirements() if Requirement(r).name == CORE))
        for p in bumped
    ]
    assert versions_of(metadatas) == []
    assert any("airflow-durable[demo]>=0.2.0" in p.requirements() for p in bumped)
    assert not any("0.1.0" in r for p in bumped for r in p.requirements())


def test_the_changelog_needs_a_section_for_the_release() -> None:
    assert check_changelog((ROOT / "CHANGELOG.md").read_text(), load_packages()[0].version) == []
    assert check_changelog("# Changelog\n\n## [0.2.0] - 2027-01-04\n", "0.2.0") == []
    assert check_changelog("# Changelog\n\n## [0.1.0] - 2026-12-24\n", "0.2.0") == [
        "CHANGELOG.md has neither a [0.2.0] nor an [Unreleased] section on top"
    ]
    assert check_changelog("# Changelog\n", "0.2.0") != []
