"""How ``airflow-durable demo`` finds the installed providers' demos: the ``airflow_durable.demo`` entry points.

A provider package registers its :class:`~airflow_durable.demo.provider.DemoProvider` subclass (or any
zero-argument callable returning an instance) in its ``pyproject.toml``::

    [project.entry-points."airflow_durable.demo"]
    databricks = "airflow_durable_databricks.demo.scenario:DatabricksDemo"

``airflow-durable demo databricks`` then loads it with :func:`load_providers`.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from airflow_durable.demo.provider import DemoProvider

if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.metadata import EntryPoint

__all__ = [
    "ENTRY_POINT_GROUP",
    "ProviderLoadError",
    "UnknownProviderError",
    "available_providers",
    "load_providers",
]

#: The entry-point group under which provider packages register their demo.
ENTRY_POINT_GROUP = "airflow_durable.demo"


class UnknownProviderError(LookupError):
    """Raised by :func:`load_providers` for a name no installed package registered."""


class ProviderLoadError(RuntimeError):
    """Raised by :func:`load_providers` when a registered demo cannot be imported or built."""


def _entry_points_by_name() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        # The same distribution can be visible twice on sys.path; the first one wins, as for imports.
        found.setdefault(entry_point.name, entry_point)
    return found


def available_providers() -> list[str]:
    """Return the names of every registered demo, sorted.

    Returns:
        Entry-point names in the ``airflow_durable.demo`` group.
    """
    return sorted(_entry_points_by_name())


def load_providers(names: Sequence[str]) -> list[DemoProvider[Any]]:
    """Load demos by provider name.

    Args:
        names: Provider names (entry-point names). Empty means every registered demo, sorted by
            name. Duplicates are loaded once.

    Returns:
        One provider declaration per name, in the given order.

    Raises:
        UnknownProviderError: If a name is not registered; the message lists the available names.
        ProviderLoadError: If a registered factory cannot be imported, fails, or does not return a
            :class:`~airflow_durable.demo.provider.DemoProvider`.
    """
    registered = _entry_points_by_name()
    wanted = list(dict.fromkeys(names)) if names else sorted(registered)
    unknown = [name for name in wanted if name not in registered]
    if unknown:
        available = (
            ", ".join(sorted(registered)) or "none (install a provider package, e.g. airflow-durable-databricks)"
        )
        raise UnknownProviderError(
            f"unknown demo provider(s): {', '.join(unknown)}. "
            f"Available (entry-point group {ENTRY_POINT_GROUP!r}): {available}"
        )
    providers: list[DemoProvider[Any]] = []
    for name in wanted:
        entry_point = registered[name]
        try:
            provider = entry_point.load()()
        except Exception as exc:
            raise ProviderLoadError(
                f"demo provider {name!r} ({entry_point.value}) could not be loaded: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(provider, DemoProvider):
            raise ProviderLoadError(
                f"demo provider {name!r} ({entry_point.value}) returned {type(provider).__name__}, not a DemoProvider"
            )
        providers.append(provider)
    return providers
