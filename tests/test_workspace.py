"""Checks that span packages.

Every durable operator is proven by the contract suite, examples parse, entry points are registered,
and importing operators stays cheap.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import typing
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from airflow_durable import DurableJobMixin
from airflow_durable.testing import DurableOperatorContract

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file())
PROVIDERS = [p for p in PACKAGES if p.name != "core"]


def _provider_operator_modules() -> list[str]:
    modules = []
    for entry_point in entry_points(group="apache_airflow_provider"):
        if not entry_point.value.startswith("airflow_durable"):
            continue
        info = entry_point.load()()
        for operator in info.get("operators", []):
            modules.extend(operator["python-modules"])
    return modules


def _durable_operators() -> set[type]:
    found: set[type] = set()
    for name in _provider_operator_modules():
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            # Private shared bases (``_DurableDatabricksRunOperator``) are proven through their subclasses.
            if (
                issubclass(obj, DurableJobMixin)
                and obj.__module__ == module.__name__
                and not obj.__name__.startswith("_")
            ):
                found.add(obj)
    return found


def _contract_subjects() -> set[type]:
    """Import every test module of every package and collect what its contract subclasses test."""
    subjects: set[type] = set()
    for package in PACKAGES:
        for path in sorted((package / "tests").glob("test_*.py")):
            spec = importlib.util.spec_from_file_location(f"_workspace_{package.name}_{path.stem}", path)
            assert spec is not None
            assert spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            sys.path.insert(0, str(path.parent))
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(path.parent))
            for _, obj in inspect.getmembers(module, inspect.isclass):
                if issubclass(obj, DurableOperatorContract) and obj is not DurableOperatorContract:
                    for base in getattr(obj, "__orig_bases__", ()):
                        if typing.get_origin(base) is DurableOperatorContract:
                            subjects.update(a for a in typing.get_args(base) if isinstance(a, type))
    return subjects


def test_every_durable_operator_has_a_contract_subclass() -> None:
    operators = _durable_operators()
    assert operators, "no durable operator found through the provider entry points"
    missing = operators - _contract_subjects()
    assert not missing, f"durable operators without a DurableOperatorContract subclass: {sorted(map(str, missing))}"


RUNTIME_MODULES = ("operators.py", "statuses.py", "client.py")
"""What every provider's runtime holds (see docs/adding-a-provider.md); ``triggers.py`` where it defers."""
TESTING_MODULES = ("__init__.py", "emulator.py", "contract.py")
MAX_DEMO_SCENARIO_LINES = 120


@pytest.mark.parametrize("package", PROVIDERS, ids=lambda p: p.name)
def test_provider_package_layout(package: Path) -> None:
    """The one provider layout of docs/adding-a-provider.md."""
    src = next((package / "src").iterdir())
    assert (src / "py.typed").is_file()
    assert (package / "README.md").is_file()
    assert list((package / "examples").glob("*.py")), f"{package.name} has no example DAG"
    text = (package / "pyproject.toml").read_text()
    assert "apache_airflow_provider" in text
    for name in RUNTIME_MODULES:
        assert (src / name).is_file(), f"{package.name} has no runtime module {name}"
    for name in TESTING_MODULES:
        assert (src / "testing" / name).is_file(), f"{package.name} has no testing/{name}"
    assert (src / "demo" / "__init__.py").is_file(), f"{package.name} keeps its demo-only code outside demo/"
    for misleading in ("hooks.py", "rest.py", "system.py", "testing/system.py", "testing/__main__.py", "demo.py"):
        assert not (src / misleading).exists(), f"{package.name}/{misleading}: not part of the provider layout"


TEMPLATE_PACKAGE = ROOT / "templates" / "provider" / "template" / "packages" / "{{ provider }}"


@pytest.mark.parametrize("package", [*PACKAGES, TEMPLATE_PACKAGE], ids=lambda p: p.name)
def test_every_package_ships_the_repository_license(package: Path) -> None:
    """Hatchling puts ``<package>/LICENSE`` into the wheel; each copy is the repository's Apache-2.0 text."""
    assert (package / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")


@pytest.mark.parametrize("package", PROVIDERS, ids=lambda p: p.name)
def test_provider_emulator_is_built_on_the_kit(package: Path) -> None:
    from airflow_durable.testing.emulator import Emulator

    module = importlib.import_module(f"{next((package / 'src').iterdir()).name}.testing.emulator")
    emulators = [
        c for _, c in inspect.getmembers(module, inspect.isclass) if issubclass(c, Emulator) and c is not Emulator
    ]
    assert emulators, f"{package.name}: testing/emulator.py defines no Emulator subclass"


def test_demo_scenarios_stay_small() -> None:
    for entry_point in entry_points(group="airflow_durable.demo"):
        module = importlib.import_module(entry_point.value.partition(":")[0])
        lines = len(Path(module.__file__ or "").read_text().splitlines())
        assert lines <= MAX_DEMO_SCENARIO_LINES, f"{entry_point.name} demo scenario: {lines} lines"


def test_no_reference_to_files_outside_the_repository() -> None:
    """The design notes live outside the repository: state the fact or cite a public URL instead."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    offenders = [
        path
        for path in tracked
        if path.endswith((".py", ".md", ".toml"))
        and "notes/" in (ROOT / path).read_text(errors="replace")
        and path != "tests/test_workspace.py"
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "dag_file", sorted(ROOT.glob("packages/*/examples/*.py")), ids=lambda p: f"{p.parent.parent.name}/{p.name}"
)
def test_example_dags_parse(dag_file: Path, tmp_path: Path) -> None:
    """Each example DAG imports in a fresh interpreter and defines at least one DAG with no cycles."""
    script = (
        "import json, runpy, sys\n"
        "from airflow.sdk import DAG\n"
        "ns = runpy.run_path(sys.argv[1])\n"
        "dags = [v for v in ns.values() if isinstance(v, DAG)]\n"
        "for dag in dags:\n"
        "    dag.check_cycle() if hasattr(dag, 'check_cycle') else None\n"
        "print(json.dumps({d.dag_id: sorted(d.task_dict) for d in dags}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(dag_file)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"AIRFLOW_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    dags = json.loads(out.stdout.strip().splitlines()[-1])
    assert dags, f"{dag_file} defines no DAG"


def test_demo_scenarios_are_registered() -> None:
    names = {ep.name for ep in entry_points(group="airflow_durable.demo")}
    assert {p.name for p in PROVIDERS} <= names


def test_public_api_is_importable() -> None:
    import airflow_durable
    import airflow_durable.testing

    for module in (airflow_durable, airflow_durable.testing):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"


def test_pytest_plugin_is_registered() -> None:
    plugins = {ep.value for ep in entry_points(group="pytest11")}
    assert "airflow_durable.testing.plugin" in plugins


@pytest.mark.parametrize("package", PROVIDERS, ids=lambda p: p.name)
def test_provider_depends_on_core_and_its_vendor_only(package: Path) -> None:
    """`pip install airflow-durable-<x>` must not pull in another provider's vendor SDK."""
    import tomllib

    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    deps = " ".join(project["dependencies"])
    foreign = {"databricks-sdk", "boto3", "google-cloud-dataproc", "apache-airflow-providers-apache-spark"}
    own = {
        "spark": "apache-airflow-providers-apache-spark",
        "databricks": "databricks-sdk",
        "emr": "boto3",
        "dataproc": "google-cloud-dataproc",
    }[package.name]
    assert "airflow-durable" in deps
    assert own in deps
    for name in foreign - {own}:
        assert name not in deps, f"{package.name} depends on {name}"


def test_operator_modules_do_not_import_vendor_sdks_at_module_top() -> None:
    """DAG parse time: vendor SDKs are imported lazily, inside methods."""
    heavy = {"databricks", "boto3", "botocore", "google.cloud", "pyspark"}
    for name in _provider_operator_modules():
        tree = ast.parse(Path(importlib.util.find_spec(name).origin).read_text())  # type: ignore[arg-type,union-attr]
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                for imported in names:
                    assert not any(imported == h or imported.startswith(h + ".") for h in heavy), (name, imported)


@pytest.mark.parametrize("package", PROVIDERS, ids=lambda p: p.name)
def test_importing_a_providers_operators_imports_no_vendor_sdk(package: Path) -> None:
    """Not even indirectly: ``import airflow_durable_<x>.operators`` in a fresh interpreter loads no vendor SDK."""
    module = f"{next((package / 'src').iterdir()).name}.operators"
    heavy = ("boto3", "botocore", "databricks.sdk", "google.cloud.dataproc_v1", "pyspark")
    code = f"import sys, {module}; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize(
    "module",
    [
        "airflow_durable.tokens",
        "airflow_durable_spark.testing.emulator",
        "airflow_durable_spark.testing.fake_spark_submit",
        "airflow_durable_databricks.testing",
        "airflow_durable_emr.testing",
        "airflow_durable_emr.testing.contract",
        "airflow_durable_emr.testing.emulator",
        "airflow_durable.testing.emulator",
        "airflow_durable.testing.serve",
    ],
)
def test_light_modules_do_not_import_airflow_or_pytest(module: str) -> None:
    """Emulators run as their own processes and the fake spark-submit starts per submission: keep them light."""
    code = f"import sys, {module}; print(sorted(m for m in ('airflow', 'pytest') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_make_help_lists_every_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = re.findall(r"^([a-zA-Z0-9_-]+):", makefile, re.MULTILINE)
    assert {"help", "demo", "test", "test-fast", "test-e2e", "lint", "docs", "docs-serve", "templates-check"} <= set(
        targets
    )
    assert {"release", "release-check", "test-lowest", "publish-dry-run"} <= set(targets)
    assert re.search(r"^release: release-check test-lowest publish-dry-run\b", makefile, re.MULTILINE)
    helped = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    described = dict(re.findall(r"^  (\S+) +(\S.*)$", helped, re.MULTILINE))
    assert sorted(described) == sorted(targets), "a target lacks its '## what it does' comment"
    assert re.search(r"^test: test-fast test-e2e\b", makefile, re.MULTILINE), "make test is not the two CI stages"


def test_ci_runs_each_stage_timed_and_stops_at_the_first_failure(tmp_path: Path) -> None:
    """``.ci/run`` against a ``make`` that records its calls and fails the fast tests with status 3."""
    calls = tmp_path / "calls"
    fake_make = tmp_path / "make"
    fake_make.write_text(f'#!/bin/sh\necho "$1" >> {calls}\n[ "$1" != test-fast ] || exit 3\n')
    fake_make.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([str(ROOT / ".ci" / "run")], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 3, result.stdout + result.stderr
    assert calls.read_text().split() == ["disk", "lint", "docs", "test-fast"], "the run went on after a failed stage"
    assert re.search(r"^<== lint: ok in \d+ s$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^<== docs: ok in \d+ s$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^<== fast-tests: FAILED \(exit status 3\) after \d+ s$", result.stdout, re.MULTILINE)
    summary = result.stdout.split("Stages (wall time):", 1)[1]
    assert re.search(r"lint +ok +\d+ s", summary)
    assert re.search(r"fast-tests +FAILED +\d+ s", summary)

    fake_make.write_text(f'#!/bin/sh\necho "$1" >> {calls}\n')
    calls.unlink()
    passed = subprocess.run([str(ROOT / ".ci" / "run")], env=env, capture_output=True, text=True, check=False)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    expected = ["disk", "lint", "docs", "test-fast", "templates-check", "release", "test-e2e"]
    assert calls.read_text().split() == expected


MAX_TESTING_LINES = {"spark": 900 + 1000 + 1300}
"""A provider's ``testing/`` holds only its vendor's wire format (issue 6: the kit carries the rest).

Spark emulates three vendor systems: the standalone master (900 lines), the YARN ResourceManager with its
stand-in ``spark-submit`` (1,000 more), and the Kubernetes API with its label selectors, its generic object
store for what the real ``spark-submit`` applies, and a stand-in ``spark-submit`` (1,300 more).
"""


@pytest.mark.parametrize("package", PROVIDERS, ids=lambda p: p.name)
def test_provider_testing_stays_small(package: Path) -> None:
    testing = next((package / "src").iterdir()) / "testing"
    lines = sum(len(path.read_text().splitlines()) for path in testing.rglob("*.py"))
    assert lines <= MAX_TESTING_LINES.get(package.name, 1000), f"{package.name}/testing: {lines} lines"
