"""Every code block of ``docs/testing-your-dags.md`` runs, as the test module a user would copy.

The page's ``python`` blocks build on each other (fixtures, helpers), so they are joined in order into one
module and run by pytest in a fresh process; every test they define must pass.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "testing-your-dags.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(PAGE.read_text())]


def test_every_block_is_python() -> None:
    # Only python blocks are run here: a block in another language would go untested.
    assert blocks()
    assert {language for language, _ in blocks()} == {"python"}


def test_the_page_runs_as_a_test_module(tmp_path: Path) -> None:
    source = "\n\n".join(code for _, code in blocks())
    module = tmp_path / "test_testing_your_dags_page.py"
    module.write_text(source)
    expected = len(re.findall(r"^def test_", source, re.MULTILINE))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(module), "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"{expected} passed" in result.stdout, result.stdout[-2000:]


def test_the_page_is_in_the_nav_and_linked_from_the_readme() -> None:
    assert "testing-your-dags.md" in (ROOT / "mkdocs.yml").read_text()
    assert "docs/testing-your-dags.md" in (ROOT / "README.md").read_text()
