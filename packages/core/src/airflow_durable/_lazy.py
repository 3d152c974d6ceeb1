"""``lazy_exports``: a package's public names, each imported from its module on first use.

Light modules (tokens, the emulators) must not pull in Airflow or pytest just because a package
``__init__`` names them. A package declares where each name lives, once::

    __getattr__, __all__ = lazy_exports(__name__, {"mixin": ["DurableJobMixin"], "status": ["StatusTable"]})

and keeps an ``if TYPE_CHECKING:`` block of the same imports for type checkers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(package: str, modules: Mapping[str, Sequence[str]]) -> tuple[Callable[[str], Any], list[str]]:
    """Build a module ``__getattr__`` (PEP 562) and ``__all__`` for ``package``.

    Args:
        package: The package's ``__name__``.
        modules: Submodule (relative to ``package``) -> the names it exports.

    Returns:
        ``(__getattr__, __all__)``; ``__getattr__`` raises ``AttributeError`` for any other name.
    """
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{where[name]}"), name)

    return __getattr__, sorted(where)
