"""``make templates-check``: render the contributor templates, install the result alone, run its contract.

For each template under ``templates/`` (see ``templates/README.md``), two renders with the answers in
``templates/samples/``:

* the **sample** (``sample=true``): the provider package, with the migration rendered into it, must be
  lint-clean (ruff, the workspace's configuration) and type-clean (strict mypy), and, installed in a clean
  virtual environment with only core, its own dependencies and the migration's upstream distribution
  (versions from ``uv.lock``), must pass its contract suites and its emulator tests;
* the **unfinished** render (``sample=false``): lint-clean too, and its tests must fail, every failure a
  ``NotImplementedError`` whose message says what to implement next.

Each step is timed. Exit status 0 when every check holds, 1 otherwise. Usage::

    scripts/uv run --all-packages --locked python scripts/templates_check.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates"
SAMPLES = TEMPLATES / "samples"
PROVIDER_ANSWERS = SAMPLES / "acme-provider.yml"
MIGRATION_ANSWERS = SAMPLES / "acme-migration.yml"
GUIDANCE = (
    # The first thing each unfinished piece asks for, as the contract run reports it.
    "AcmeJobsClient.submit: call the Acme Jobs API that creates a job",
    "TestUpstreamHttpOperator.operator_kwargs: return the same arguments",
    "TestDurableAcmeHttpJobOperator.operator_kwargs: return upstream HttpOperator's constructor arguments",
)
"""Guidance the unfinished render's test run must show."""
UV = os.environ.get("UV") or str(ROOT / "scripts" / "uv")
"""uv: the one ``uv run`` runs this script with, else the workspace's installer script."""
SUMMARY_LINE = re.compile(r"^(FAILED|ERROR) (\S+)(?: - (.*))?$", re.MULTILINE)


class CheckFailed(Exception):
    """One check did not hold."""


timings: list[tuple[str, float]] = []


@contextmanager
def step(name: str) -> Iterator[None]:
    """Announce, time and record one step."""
    print(f"==> {name}", flush=True)
    started = time.monotonic()
    try:
        yield
    finally:
        took = time.monotonic() - started
        timings.append((name, took))
        print(f"<== {name}: {took:.1f} s", flush=True)


def run(argv: Sequence[str | Path], *, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    """Run a command; return its output, or raise ``CheckFailed`` with it."""
    result = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=900
    )
    if result.returncode != 0:
        command = " ".join(map(str, argv))
        raise CheckFailed(f"{command} exited with {result.returncode}:\n{result.stdout}{result.stderr}")
    return result.stdout


def render(template: str, answers: Path, destination: Path, *, sample: bool, extra: Sequence[str] = ()) -> None:
    """Render ``templates/<template>`` into ``destination`` with the sample answers."""
    data = ["--data", f"sample={str(sample).lower()}", *extra]
    argv: list[str | Path] = ["copier", "copy", "--quiet", "--trust", "--defaults", "--data-file", answers, *data]
    run([*argv, TEMPLATES / template, destination])


def lint(destination: Path, *, types: bool) -> None:
    """Run ruff (and strict mypy) over a render, with the workspace's configuration, as if it were in the tree."""
    shutil.copy(ROOT / "pyproject.toml", destination / "pyproject.toml")
    # Rendered alone, core is not in the tree: tell isort it is first-party, as it is in the workspace.
    first_party = "lint.isort.known-first-party=['airflow_durable']"
    run(["ruff", "check", "--no-cache", "--config", first_party, "."], cwd=destination)
    run(["ruff", "format", "--no-cache", "--check", "."], cwd=destination)
    if types:
        sources = sorted(destination.glob("packages/*/src"))
        cache = ROOT / ".mypy_cache"
        run(["mypy", "--config-file", ROOT / "pyproject.toml", "--cache-dir", cache, *sources])


def clean_environment(venv: Path, workdir: Path, packages: Sequence[str | Path]) -> Path:
    """A new virtual environment with ``packages`` installed at the versions of ``uv.lock``; its Python."""
    constraints = workdir / "constraints.txt"
    export = ["export", "--frozen", "--all-packages", "--no-emit-workspace", "--no-hashes", "--quiet"]
    run([UV, *export, "--format", "requirements-txt", "--output-file", constraints])
    run([UV, "venv", "--quiet", "--python", sys.executable, venv])
    python = venv / "bin" / "python"
    # --no-sources: the rendered pyproject names core as a workspace source; here core comes from its path.
    run([UV, "pip", "install", "--quiet", "--no-sources", "--python", python, "-c", constraints, *packages])
    return python


def pytest(python: Path, destination: Path, tests: Sequence[Path], *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest from the clean environment on rendered tests (the workspace's settings left out)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))}
    env["AIRFLOW_HOME"] = str(destination / ".airflow")
    env["COLUMNS"] = "400"
    argv = [python, "-m", "pytest", "-c", os.devnull, "--rootdir", destination, "-p", "no:cacheprovider"]
    return subprocess.run(
        [str(a) for a in [*argv, "-q", "--tb=no", "-rfE", *args, *tests]],
        cwd=destination,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def check(workdir: Path) -> None:
    """Every check of the module docstring, in ``workdir``."""
    migration = yaml.safe_load(MIGRATION_ANSWERS.read_text())
    upstream = f"{migration['upstream_operator']}"
    sample, unfinished = workdir / "sample", workdir / "unfinished"
    with step("render the samples and the unfinished templates"):
        render("provider", PROVIDER_ANSWERS, sample, sample=True)
        render("migration", MIGRATION_ANSWERS, sample, sample=True)
        with_anchor = ["--data", f"upstream_operator={upstream}"]
        render("provider", PROVIDER_ANSWERS, unfinished, sample=False, extra=with_anchor)
        render("migration", MIGRATION_ANSWERS, unfinished, sample=False)
    with step("lint the renders (ruff; strict mypy on the sample)"):
        lint(sample, types=True)
        lint(unfinished, types=False)
    package = sample / "packages" / "acme"
    with step("install the sample alone in a clean virtual environment"):
        upstream_pin = f"{migration['upstream_distribution']}=={migration['upstream_version']}"
        core = f"{ROOT / 'packages' / 'core'}[testing]"
        python = clean_environment(workdir / "venv", workdir, [core, package, upstream_pin])
    tests = sorted((package / "tests").glob("test_*.py"))
    runnable = [t for t in tests if not t.name.endswith("_parity.py")]
    with step("the sample's contract suites and emulator tests pass"):
        result = pytest(python, sample, runnable)
        print(result.stdout.strip().splitlines()[-1])
        if result.returncode != 0:
            raise CheckFailed(f"the sample's tests failed:\n{result.stdout}{result.stderr}")
        parity = pytest(python, sample, [t for t in tests if t.name.endswith("_parity.py")], "--collect-only")
        if parity.returncode != 0:
            raise CheckFailed(f"the sample's parity stub does not collect:\n{parity.stdout}{parity.stderr}")
    with step("the unfinished render fails with guidance"):
        sources = unfinished / "packages" / "acme"
        run([UV, "pip", "install", "--quiet", "--no-deps", "--no-sources", "--python", python, sources])
        unfinished_tests = sorted(p for p in (sources / "tests").glob("test_*.py") if "parity" not in p.name)
        result = pytest(python, unfinished, unfinished_tests)
        print(result.stdout.strip().splitlines()[-1])
        if result.returncode == 0:
            raise CheckFailed("the unfinished render passed its tests")
        failures = SUMMARY_LINE.findall(result.stdout)
        not_guidance = [f"{kind} {test}: {why}" for kind, test, why in failures if "NotImplementedError" not in why]
        missing = [text for text in GUIDANCE if text not in result.stdout]
        if not failures or not_guidance or missing:
            raise CheckFailed(
                f"failures without NotImplementedError guidance: {not_guidance}\nguidance missing: {missing}\n"
                f"{result.stdout[-5000:]}"
            )
        print(f"{len(failures)} failures, each a NotImplementedError naming what to implement next")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checks; print the timings; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="render and install into this directory and keep it")
    options = parser.parse_args(argv)
    started = time.monotonic()
    status = 0
    with tempfile.TemporaryDirectory(prefix="templates-check-") as scratch:
        workdir = options.keep or Path(scratch)
        if options.keep is not None:
            shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            check(workdir)
        except CheckFailed as failure:
            print(f"FAILED: {failure}", file=sys.stderr)
            status = 1
    print("Steps (wall time):")
    for name, took in timings:
        print(f"  {took:6.1f} s  {name}")
    print(f"  {time.monotonic() - started:6.1f} s  in all")
    return status


if __name__ == "__main__":
    sys.exit(main())
