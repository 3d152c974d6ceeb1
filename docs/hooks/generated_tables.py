"""A mkdocs hook: tables built from the code and the tests at build time, so the pages cannot drift from them.

Two placeholders, each alone on its line in a Markdown page:

* ``<!-- upstream-gaps: PROVIDER -->``: the contract anchors of ``packages/PROVIDER/tests/test_*_contract.py``
  (the ``TestUpstream*`` classes, which run the contract suite against upstream's operators): one table per
  anchor, every ``known_gaps`` entry (scenario -> why upstream fails it; each is a strict xfail in CI).
* ``<!-- status-table: MODULE:NAME -->``: the :class:`~airflow_durable.status.StatusTable` ``NAME`` of
  ``MODULE`` (for example ``airflow_durable_emr.statuses:STEP_STATES``): its raw statuses per protocol state,
  and the vendor document it cites.

A placeholder that names nothing (an unknown provider, a module without the table) fails the build. The hook
also drops the Sphinx roles (``:class:``, ``:meth:``...) that the docstrings use from the rendered API
reference, keeping the code span they mark.
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"^<!--\s*(?P<kind>upstream-gaps|status-table):\s*(?P<arg>\S+)\s*-->[ \t]*$", re.MULTILINE)
SPHINX_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj|const):(<code>)(?:~(?:[\w.]*\.)?|\.)?")
STATE_MEANINGS = {
    "active": "active (reconnect and keep polling)",
    "succeeded": "succeeded (return the result, never resubmit)",
    "failed": "failed (a retry submits a fresh job)",
}


@dataclass(frozen=True)
class Anchor:
    """One or more ``TestUpstream*`` classes that share their known gaps (one table).

    Attributes:
        classes: The anchor classes' names, in source order.
        path: The test module, relative to the repository root.
        operator: The upstream operator the anchor runs, as ``module.Class``.
        summary: The first paragraph of the first class's own docstring ("" without one).
        gaps: Scenario (optionally with ``[param id]``) -> why upstream fails it.
    """

    classes: tuple[str, ...]
    path: str
    operator: str
    summary: str
    gaps: dict[str, str]


def contract_modules(provider: str) -> list[Path]:
    """The contract test modules of one provider package.

    Args:
        provider: The folder under ``packages/`` (``spark``, ``emr``...).

    Returns:
        ``packages/PROVIDER/tests/test_*_contract.py``, sorted.

    Raises:
        ValueError: The provider has no such module.
    """
    found = sorted((ROOT / "packages" / provider / "tests").glob("test_*_contract.py"))
    if not found:
        raise ValueError(f"upstream-gaps: packages/{provider}/tests has no test_*_contract.py")
    return found


def anchors(provider: str) -> list[Anchor]:
    """The provider's contract anchors, with the tests folder put on ``sys.path`` to import them.

    Classes of one module whose ``known_gaps`` are equal (the same anchor over gRPC and REST) share one entry.

    Args:
        provider: The folder under ``packages/``.

    Returns:
        The anchors, module by module, in source order.

    Raises:
        ValueError: The provider's contract modules define no ``TestUpstream*`` class.
    """
    result: list[Anchor] = []
    for path in contract_modules(provider):
        folder = str(path.parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        module = importlib.import_module(path.stem)
        for name, cls in vars(module).items():
            if not (name.startswith("TestUpstream") and isinstance(cls, type) and cls.__module__ == module.__name__):
                continue
            gaps = dict(cls.known_gaps)
            same = [i for i, a in enumerate(result) if a.path == _relative(path) and a.gaps == gaps]
            if same:
                first = result[same[0]]
                result[same[0]] = Anchor((*first.classes, name), first.path, first.operator, first.summary, gaps)
                continue
            operator = cls.operator_class
            result.append(
                Anchor(
                    classes=(name,),
                    path=_relative(path),
                    operator=f"{operator.__module__}.{operator.__qualname__}" if operator else "?",
                    summary=_first_paragraph(vars(cls).get("__doc__")),
                    gaps=gaps,
                )
            )
    if not result:
        raise ValueError(f"upstream-gaps: no TestUpstream* class in packages/{provider}/tests")
    return result


def render_upstream_gaps(provider: str) -> str:
    """The Markdown of ``<!-- upstream-gaps: PROVIDER -->``: one table per anchor.

    Args:
        provider: The folder under ``packages/``.

    Returns:
        Markdown: per anchor, a line naming the upstream operator and the test, then scenario | reason rows.
    """
    parts = []
    for anchor in anchors(provider):
        classes = ", ".join(f"`{name}`" for name in anchor.classes)
        count = len(anchor.gaps)
        head = f"**`{anchor.operator}`**, run by {classes} (`{anchor.path}`): " + (
            f"{count} known gap{'s' if count != 1 else ''}." if count else "no known gap."
        )
        if anchor.summary:
            head += f" {anchor.summary}"
        rows = [f"| `{scenario}` | {_cell(reason)} |" for scenario, reason in anchor.gaps.items()]
        table = "\n".join(["| scenario | why upstream fails it |", "|---|---|", *rows]) if rows else ""
        parts.append(f"{head}\n\n{table}".rstrip())
    return "\n\n".join(parts)


def status_table(reference: str) -> Any:
    """The ``StatusTable`` named ``module:NAME``.

    Args:
        reference: ``module:NAME``, for example ``airflow_durable_emr.statuses:STEP_STATES``.

    Returns:
        The table.

    Raises:
        ValueError: The reference is malformed, or does not name a ``StatusTable``.
    """
    from airflow_durable.status import StatusTable

    module_name, _, name = reference.partition(":")
    if not module_name or not name:
        raise ValueError(f"status-table: expected 'module:NAME', got {reference!r}")
    table = getattr(importlib.import_module(module_name), name, None)
    if not isinstance(table, StatusTable):
        raise ValueError(f"status-table: {reference} is not a StatusTable")
    return table


def render_status_table(reference: str) -> str:
    """The Markdown of ``<!-- status-table: MODULE:NAME -->``.

    Args:
        reference: ``module:NAME``.

    Returns:
        Markdown: protocol state | raw statuses rows, then the cited source.
    """
    from airflow_durable.status import JobState

    table = status_table(reference)
    rows = [
        f"| {STATE_MEANINGS[state.value]} | {', '.join(f'`{raw}`' for raw in table.declared(state))} |"
        for state in JobState
    ]
    return "\n".join(
        [
            "| protocol state | raw statuses |",
            "|---|---|",
            *rows,
            "",
            f"`{reference}`; any other status is an error naming it. Source: {_autolink(table.source)}",
        ]
    )


def _autolink(text: str) -> str:
    """Wrap every URL of a table's ``source`` in ``<...>``, so that prose around them stays prose."""
    return re.sub(r"https?://[^\s,;()<>]+", lambda match: f"<{match.group(0)}>", text)


def render(markdown: str) -> str:
    """Replace every placeholder of a page.

    Args:
        markdown: The page's Markdown.

    Returns:
        The page with each placeholder replaced by its table.
    """

    def replace(match: re.Match[str]) -> str:
        if match["kind"] == "upstream-gaps":
            return render_upstream_gaps(match["arg"])
        return render_status_table(match["arg"])

    return PLACEHOLDER.sub(replace, markdown)


def placeholders(markdown: str) -> list[tuple[str, str]]:
    """The placeholders of a page, as ``(kind, argument)`` pairs."""
    return [(m["kind"], m["arg"]) for m in PLACEHOLDER.finditer(markdown)]


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Render the page's placeholders (the ``on_page_markdown`` event)."""
    return render(markdown)


def on_page_content(html: str, **kwargs: Any) -> str:
    """Drop Sphinx roles from rendered docstrings, ``:class:`~a.X``` shows as ``X`` (``on_page_content``)."""
    return SPHINX_ROLE.sub(r"\1", html)


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _first_paragraph(doc: str | None) -> str:
    if not doc:
        return ""
    return " ".join(doc.strip().split("\n\n", 1)[0].split()).replace("``", "`")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
