"""The upstream parity suites agree with the workspace: pinned versions, and documented differences.

The suites themselves run in each package's ``test_*_parity.py``; this checks their declarations.
"""

from __future__ import annotations

import importlib.util
import re
from importlib.metadata import version
from pathlib import Path
from types import ModuleType

import pytest

from airflow_durable.testing.parity import UpstreamSuite

ROOT = Path(__file__).resolve().parents[1]
SUITE_FILES = sorted(ROOT.glob("packages/*/tests/test_*_parity.py"))


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_parity_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def documented_difference_ids() -> set[str]:
    text = (ROOT / "docs" / "migration.md").read_text()
    section = text.split("## Deliberate differences from upstream", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.M))


@pytest.fixture(params=SUITE_FILES, ids=lambda path: path.stem)
def suite(request: pytest.FixtureRequest) -> UpstreamSuite:
    module = _load(request.param)
    assert isinstance(module.SUITE, UpstreamSuite)
    return module.SUITE


def test_every_provider_with_durable_operators_has_a_parity_suite() -> None:
    assert {path.parent.parent.name for path in SUITE_FILES} >= {"core", "spark", "databricks"}


def test_suite_runs_the_upstream_version_the_workspace_pins(suite: UpstreamSuite) -> None:
    assert suite.version == version(suite.distribution)


def test_every_difference_is_a_row_of_the_migration_guide(suite: UpstreamSuite) -> None:
    documented = documented_difference_ids()
    assert documented, "docs/migration.md lost its table of deliberate differences"
    missing = {difference.id for difference in suite.differences} - documented
    assert missing == set(), f"differences of {suite.name} without a row in docs/migration.md"
    for difference in suite.differences:
        assert difference.summary, difference
        assert difference.tests, difference
