"""Kubernetes label and field selectors, parsed and matched as the API server does for a list request.

Label selector grammar (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors):
comma-separated requirements, all of which must hold:

* equality: ``key=value``, ``key==value``, ``key!=value`` (``!=`` also matches objects without the label);
* set-based: ``key in (a,b)``, ``key notin (a,b)`` (``notin`` also matches objects without the label);
* existence: ``key``, ``!key``.

Field selectors (https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/) support
``=``, ``==`` and ``!=`` on dotted paths such as ``metadata.name`` or ``status.phase``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Matcher = Callable[[Mapping[str, Any]], bool]
"""Takes an object (a decoded Kubernetes resource) and says whether the selector selects it."""


class SelectorError(ValueError):
    """A selector the API server would reject (it answers 400 ``BadRequest``)."""


_SET = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQUALITY = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s*(==|!=|=)\s*([A-Za-z0-9._-]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*$")


def _split(selector: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part for part in parts if part.strip()]


def _requirement(text: str) -> Callable[[Mapping[str, str]], bool]:
    if found := _SET.match(text):
        key, operator, values = found.group(1), found.group(2), {v.strip() for v in found.group(3).split(",")}
        if operator == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if found := _EQUALITY.match(text):
        key, operator, value = found.groups()
        if operator == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if found := _EXISTS.match(text):
        negate, key = found.group(1) == "!", found.group(2)
        return lambda labels: (key in labels) != negate
    raise SelectorError(f"unable to parse requirement: {text.strip()!r}")


def label_matcher(selector: str | None) -> Matcher:
    """Compile a label selector.

    Args:
        selector: The ``labelSelector`` query parameter (``None`` or empty: everything).

    Returns:
        A matcher on ``metadata.labels``.

    Raises:
        SelectorError: A requirement does not parse.
    """
    requirements = [_requirement(part) for part in _split(selector or "")]

    def matches(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(requirement(labels) for requirement in requirements)

    return matches


def _field(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return "" if value is None else str(value)


def field_matcher(selector: str | None) -> Matcher:
    """Compile a field selector.

    Args:
        selector: The ``fieldSelector`` query parameter (``None`` or empty: everything).

    Returns:
        A matcher on the object's fields.

    Raises:
        SelectorError: A requirement is not ``path=value``, ``path==value`` or ``path!=value``.
    """
    requirements: list[tuple[str, bool, str]] = []
    for part in _split(selector or ""):
        found = re.match(r"^\s*([A-Za-z0-9._]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
        if found is None:
            raise SelectorError(f"invalid field selector: {part.strip()!r}")
        requirements.append((found.group(1), found.group(2) == "!=", found.group(3)))

    def matches(obj: Mapping[str, Any]) -> bool:
        return all((_field(obj, path) == value) != negate for path, negate, value in requirements)

    return matches
