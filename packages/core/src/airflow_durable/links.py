"""A provider's extra-link classes, for an operator's ``operator_extra_links``, imported late.

Upstream operators list their provider's link classes (``EmrClusterLink``, ``DataprocJobLink``...). Importing
them imports the vendor SDK (boto3 about 0.3 s, the google provider's links over 1 s with gRPC), which a DAG
file must not pay when it only imports an operator module. A :class:`ProviderLinks` is the
``operator_extra_links`` collection that imports them the first time it is read (when Airflow serializes the
DAG or runs the task), so the links, their XCom keys and their rendering are exactly upstream's.

Without the provider the collection is empty: the operator has no extra links (their classes are the
provider's).
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Iterator
from typing import Any


class ProviderLinks(Collection[Any]):
    """A collection of instances of a provider's link classes, imported when first read.

    Args:
        *class_names: Class names in ``module`` (``"EmrClusterLink"``...).
        module: The module that defines them (``"airflow.providers.amazon.aws.links.emr"``...).
    """

    def __init__(self, *class_names: str, module: str) -> None:
        self.class_names = class_names
        self.module = module
        self._links: tuple[Any, ...] | None = None

    def link_classes(self) -> tuple[type, ...]:
        """Return the provider's link classes, or ``()`` without the provider."""
        try:
            module = importlib.import_module(self.module)
        except ImportError:
            return ()
        return tuple(getattr(module, name) for name in self.class_names)

    def _instances(self) -> tuple[Any, ...]:
        if self._links is None:
            self._links = tuple(link_class() for link_class in self.link_classes())
        return self._links

    def __iter__(self) -> Iterator[Any]:
        return iter(self._instances())

    def __len__(self) -> int:
        return len(self._instances())

    def __contains__(self, item: object) -> bool:
        return item in self._instances()

    def __repr__(self) -> str:
        return f"ProviderLinks{self.class_names!r}"
