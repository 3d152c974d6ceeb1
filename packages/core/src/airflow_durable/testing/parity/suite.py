"""Upstream parity suites: upstream's own test files, run against our classes, and the table they yield.

A provider declares an :class:`UpstreamSuite`: which sdist, which upstream test classes, which upstream
names our classes replace, and which :class:`Difference` rows of ``docs/migration.md`` explain the tests
that must fail. :func:`run_suite` runs the files unchanged in a pytest subprocess (see
``airflow_durable.testing.parity.collect``) and returns a :class:`ParityReport`.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from airflow_durable.testing.parity.sdist import upstream_tests

SHIMS = Path(__file__).parent / "shims"
"""Stand-ins for the parts of Airflow's unpublished ``tests_common`` package that upstream tests import."""


@dataclass(frozen=True)
class Difference:
    """A deliberate difference from upstream, argued in ``docs/migration.md``.

    Attributes:
        id: The key of its row in the migration guide's table of deliberate differences.
        summary: One line: what differs.
        tests: The upstream tests it makes fail: test ids such as
            ``test_databricks.py::TestDatabricksSubmitRunOperator::test_exec_success``, or ``fnmatch``
            patterns over them. A parametrized id matches itself as written (``test_x[a-b]``); in a pattern,
            ``[`` opens a character class (write ``[[]`` for a literal one).
    """

    id: str
    summary: str
    tests: tuple[str, ...]

    def explains(self, test: str) -> bool:
        """Whether this difference is the reason ``test`` fails."""
        return any(test == pattern or fnmatch.fnmatchcase(test, pattern) for pattern in self.tests)


@dataclass(frozen=True)
class UpstreamSuite:
    """Upstream's tests for the operators a provider replaces.

    Attributes:
        name: A short name for reports (``"databricks"``).
        distribution: The upstream distribution whose sdist ships the tests.
        version: The exact version; keep it equal to the version the workspace pins.
        select: Node ids inside the sdist to run, e.g.
            ``"tests/unit/databricks/operators/test_databricks.py::TestDatabricksSubmitRunOperator"``.
        swaps: ``{"upstream.module:Name": "our.module:Name"}``: the classes under test.
        differences: The deliberate differences; each failing test must be explained by exactly one.
        not_run: ``{pattern: reason}`` for tests whose fixture plumbing the runner does not provide.
        plumbing: Extra pytest plugin modules loaded into the run (fixture plumbing, never assertions).
        pythonpath: Directories added to ``PYTHONPATH`` so the plumbing modules import.
        env: Extra environment variables for the run.
    """

    name: str
    distribution: str
    version: str
    select: tuple[str, ...]
    swaps: Mapping[str, str]
    differences: tuple[Difference, ...] = ()
    not_run: Mapping[str, str] = field(default_factory=dict)
    plumbing: tuple[str, ...] = ()
    pythonpath: tuple[Path, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """One upstream test in the report.

    Attributes:
        test: The test id (``file.py::Class::test[param]``).
        outcome: ``passed``, ``failed``, ``error``, ``skipped`` or ``not run``.
        message: The failure's first line, or the skip / not-run reason.
        difference: The id of the deliberate difference that explains a failure, if one does.
    """

    test: str
    outcome: str
    message: str
    difference: str | None


@dataclass(frozen=True)
class ParityReport:
    """The outcome of one suite, and the checks that make it pass or fail."""

    suite: UpstreamSuite
    rows: tuple[Row, ...]
    returncode: int
    output: str

    @property
    def counts(self) -> Counter[str]:
        """Tests per outcome."""
        return Counter(row.outcome for row in self.rows)

    def problems(self) -> list[str]:
        """Everything that makes the suite fail; empty when only deliberate differences fail.

        - a failure (or error) that no difference explains: a gap to close, or a difference to document;
        - a failure that more than one difference claims (each must be argued as the one reason);
        - a test a difference names that passes: the mapping is stale;
        - a difference that names no test of the run;
        - a skipped test (a skip hides whether we match upstream), and a run with no rows at all.
        """
        problems = []
        if not self.rows:
            problems.append(f"no upstream test ran (pytest exit {self.returncode}):\n{self.output[-3000:]}")
        for row in self.rows:
            explaining = [d.id for d in self.suite.differences if d.explains(row.test)]
            if row.outcome in ("failed", "error") and len(explaining) > 1:
                problems.append(f"{row.outcome}, explained by more than one difference {explaining}: {row.test}")
            if row.outcome in ("failed", "error") and row.difference is None:
                problems.append(f"unexplained {row.outcome}: {row.test}: {row.message}")
            elif row.outcome == "passed" and row.difference is not None:
                problems.append(f"passes, but difference {row.difference!r} says it fails: {row.test}")
            elif row.outcome == "skipped":
                problems.append(f"skipped: {row.test}: {row.message}")
        for difference in self.suite.differences:
            if not any(difference.explains(row.test) for row in self.rows):
                problems.append(f"difference {difference.id!r} names no upstream test of this run")
        return problems

    def markdown(self) -> str:
        """The table: upstream test, result, and the deliberate difference each failure maps to."""
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(self.counts.items()))
        lines = [
            f"## {self.suite.distribution} {self.suite.version}: {counts}",
            "",
            "| upstream test | result | deliberate difference |",
            "|---|---|---|",
        ]
        for row in self.rows:
            reason = row.difference or (row.message if row.outcome in ("not run", "skipped") else "")
            if row.outcome in ("failed", "error") and row.difference is None:
                reason = f"**UNEXPLAINED**: {row.message}"
            lines.append(f"| `{row.test}` | {row.outcome} | {reason.replace('|', '/')} |")
        return "\n".join(lines) + "\n"


def run_suite(
    suite: UpstreamSuite, *, timeout_seconds: float = 900.0, extra_args: tuple[str, ...] = ()
) -> ParityReport:
    """Run the suite's upstream tests against our classes, in a fresh pytest process.

    Args:
        suite: The suite.
        timeout_seconds: Limit for the whole run.
        extra_args: More pytest arguments (``-x``, ``-k``...), for debugging.

    Returns:
        The report; call :meth:`ParityReport.problems` to judge it.

    Raises:
        SdistUnavailableError: The sdist cannot be fetched.
        subprocess.TimeoutExpired: The run took longer than ``timeout_seconds``.
    """
    root = upstream_tests(suite.distribution, suite.version)
    with tempfile.TemporaryDirectory(prefix="parity-") as tmp:
        results = Path(tmp) / "results.json"
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\n")
        env = dict(os.environ)
        env.update(suite.env)
        env.update(
            AIRFLOW_DURABLE_PARITY_SWAPS=json.dumps(dict(suite.swaps)),
            AIRFLOW_DURABLE_PARITY_NOT_RUN=json.dumps(dict(suite.not_run)),
            AIRFLOW_DURABLE_PARITY_RESULTS=str(results),
            AIRFLOW_HOME=str(Path(tmp) / "airflow"),
            PYTHONPATH=os.pathsep.join(
                [str(SHIMS), *map(str, suite.pythonpath), *filter(None, [env.get("PYTHONPATH")])]
            ),
        )
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(ini),
            "--rootdir",
            str(root),
            "-p",
            "airflow_durable.testing.parity.collect",
            *(arg for module in suite.plumbing for arg in ("-p", module)),
            "-p",
            "no:cacheprovider",
            "-q",
            "-o",
            "timeout=120",
            *extra_args,
            *(str(root / node) for node in suite.select),
        ]
        completed = subprocess.run(
            command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout_seconds, check=False
        )
        outcomes = json.loads(results.read_text()) if results.exists() else {}
    rows = tuple(
        Row(
            test=test,
            outcome=data["outcome"],
            message=data["message"],
            difference=next((d.id for d in suite.differences if d.explains(test)), None)
            if data["outcome"] != "not run"
            else None,
        )
        for test, data in sorted(outcomes.items())
    )
    return ParityReport(suite, rows, completed.returncode, completed.stdout + completed.stderr)


def check_suite(suite: UpstreamSuite, *, report_dir: Path | None = Path("build/parity")) -> ParityReport:
    """Run the suite, print and save its table, and fail unless only deliberate differences fail.

    Call it from the provider's parity test.

    Args:
        suite: The suite.
        report_dir: Where ``<suite.name>.md`` is written (relative to the working directory); ``None`` to skip.

    Returns:
        The report.

    Raises:
        AssertionError: :meth:`ParityReport.problems` is not empty; the message lists every problem.
    """
    report = run_suite(suite)
    table = report.markdown()
    print(table)
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / f"{suite.name}.md").write_text(table)
    problems = report.problems()
    if problems:
        raise AssertionError(f"{len(problems)} parity problem(s) in {suite.name}:\n" + "\n".join(problems))
    return report
