"""``CHANGELOG.md`` (Keep a Changelog) must have a section for the version being released."""

from __future__ import annotations

import re


def check_changelog(text: str, version: str) -> list[str]:
    """A ``## [<version>] - <date>`` section, or ``## [Unreleased]`` while the version is not released yet.

    Args:
        text: The changelog's Markdown.
        version: The packages' version.

    Returns:
        The problems found; empty when there is none.
    """
    headings = re.findall(r"^## \[([^\]]+)\]", text, re.MULTILINE)
    if not headings:
        return ["CHANGELOG.md has no '## [version]' section (Keep a Changelog)"]
    if version not in headings and headings[0] != "Unreleased":
        return [f"CHANGELOG.md has neither a [{version}] nor an [Unreleased] section on top"]
    return []
