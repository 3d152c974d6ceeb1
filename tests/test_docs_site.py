"""The documentation site: its generated tables name what the tests check; CI builds it with ``--strict``.

The hook (``docs/hooks/generated_tables.py``) renders every placeholder of every page; each upstream-gaps
table must name every ``known_gaps`` key of its anchor class, and each status table every status of its
``StatusTable``, so a page can never show less than CI checks.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from airflow_durable.status import JobState

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))


def load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generated_tables", DOCS / "hooks" / "generated_tables.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


hook = load_hook()
PLACEHOLDERS = sorted({found for page in PAGES for found in hook.placeholders(page.read_text())})


def test_the_pages_use_both_kinds_of_placeholder() -> None:
    kinds = {kind for kind, _ in PLACEHOLDERS}
    assert kinds == {"upstream-gaps", "status-table"}, PLACEHOLDERS
    providers = {arg for kind, arg in PLACEHOLDERS if kind == "upstream-gaps"}
    assert {"spark", "databricks", "emr", "dataproc"} <= providers


@pytest.mark.parametrize("provider", sorted({arg for kind, arg in PLACEHOLDERS if kind == "upstream-gaps"}))
def test_upstream_gaps_table_names_every_known_gap(provider: str) -> None:
    rendered = hook.render(f"<!-- upstream-gaps: {provider} -->")
    assert "upstream-gaps" not in rendered, "the placeholder was not replaced"
    anchors = hook.anchors(provider)
    assert anchors, f"no TestUpstream* class for {provider}"
    rows = re.findall(r"^\| `([^`]+)` \| (.+) \|$", rendered, re.MULTILINE)
    named = [scenario for scenario, _ in rows]
    for anchor in anchors:
        module = sys.modules[Path(anchor.path).stem]
        for name in anchor.classes:
            cls = getattr(module, name)
            assert f"`{name}`" in rendered, f"{name} is not named"
            for scenario, reason in cls.known_gaps.items():
                assert scenario in named, f"{name}: {scenario} is missing from the table"
                assert (scenario, hook._cell(reason)) in rows, f"{name}: the reason of {scenario} differs"
    assert len(rows) == sum(len(anchor.gaps) for anchor in anchors), "a row names no known gap"


def test_every_anchor_class_is_rendered() -> None:
    """Each ``TestUpstream*`` class of every contract module is in a table: none is skipped by the hook."""
    for provider in ("spark", "databricks", "emr", "dataproc"):
        rendered = {name for anchor in hook.anchors(provider) for name in anchor.classes}
        for path in hook.contract_modules(provider):
            declared = set(re.findall(r"^class (TestUpstream\w+)\(", path.read_text(), re.MULTILINE))
            assert declared <= rendered, f"{path.name}: {sorted(declared - rendered)} not rendered"


@pytest.mark.parametrize("reference", sorted({arg for kind, arg in PLACEHOLDERS if kind == "status-table"}))
def test_status_table_lists_every_status_and_its_source(reference: str) -> None:
    rendered = hook.render(f"<!-- status-table: {reference} -->")
    table = hook.status_table(reference)
    for state in JobState:
        row = next(line for line in rendered.splitlines() if line.startswith(f"| {state.value} "))
        listed = re.findall(r"`([^`]+)`", row)
        assert sorted(listed) == sorted(table.declared(state)), f"{reference}: {state.value} row"
    urls = re.findall(r"https?://[^\s,;()<>]+", table.source)
    assert urls, f"{reference}: its source cites no URL"
    for url in urls:
        assert f"<{url}>" in rendered, f"{reference}: {url} is not linked"


@pytest.mark.parametrize(
    "placeholder",
    ["<!-- upstream-gaps: no-such-provider -->", "<!-- status-table: airflow_durable.status:JobState -->"],
)
def test_a_placeholder_that_names_nothing_fails(placeholder: str) -> None:
    with pytest.raises(ValueError, match=r"^(upstream-gaps|status-table): "):
        hook.render(placeholder)


def test_sphinx_roles_leave_their_code_span() -> None:
    html = "see :class:<code>~airflow_durable.status.StatusTable</code> and :meth:<code>classify</code>"
    assert hook.on_page_content(html) == "see <code>StatusTable</code> and <code>classify</code>"


def test_the_site_is_built_strictly_with_the_hook() -> None:
    """CI's docs stage (``make docs``) runs ``mkdocs build --strict``; the hook must be registered to run."""
    config = (ROOT / "mkdocs.yml").read_text()
    assert re.search(r"^hooks:\n  - docs/hooks/generated_tables\.py$", config, re.MULTILINE)
    assert re.search(r"^strict: true$", config, re.MULTILINE)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^docs:.*\n\t.*mkdocs build --strict", makefile, re.MULTILINE)
    assert re.search(r"^stage docs make docs$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)
