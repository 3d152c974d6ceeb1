"""The google provider's Dataproc extra-link classes, for an operator's ``operator_extra_links``, imported late.

Upstream's Dataproc operators list the provider's link classes (``DataprocBatchLink``, ``DataprocJobLink``).
Importing them imports the google provider's base links (and with them much of ``google.cloud``), which a
DAG file must not pay when it only imports an operator module. A :class:`ProviderLinks` is the
``operator_extra_links`` collection that imports them the first time it is read (when Airflow serializes
the DAG or runs the task), so the links, their XCom keys and their rendering are exactly upstream's.

Without ``apache-airflow-providers-google`` the collection is empty: the operator has no extra links, and
pushes the same link XComs itself (see :func:`persist_link`).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context

LINKS_MODULE = "airflow.providers.google.cloud.links.dataproc"
DATAPROC_BATCH_PATH = "/dataproc/batches/{region}/{batch_id}/monitoring?project={project_id}"
"""The path of the provider's ``DATAPROC_BATCH_LINK``: the batch's page in the console (the driver logs)."""


def console_link(path: str, **arguments: str) -> str:
    """The console URL of ``path`` as the provider builds it: ``https://console.cloud.<domain>`` + ``path``.

    ``<domain>`` is ``GOOGLE_CLOUD_HIGH_VALUE_COOKIE_DOMAIN``, else ``google.com`` (the provider's
    ``GoogleBaseHook.get_high_value_cookie_domain``).

    Args:
        path: A path template (:data:`DATAPROC_BATCH_PATH`).
        **arguments: Its format arguments.
    """
    domain = os.getenv("GOOGLE_CLOUD_HIGH_VALUE_COOKIE_DOMAIN") or "google.com"
    return f"https://console.cloud.{domain}" + path.format(**arguments)


class ProviderLinks(Collection[Any]):
    """A collection of instances of the google provider's link classes, imported when first read.

    Args:
        *class_names: Class names in ``module`` (``"DataprocBatchLink"``...).
        module: The module that defines them.
    """

    def __init__(self, *class_names: str, module: str = LINKS_MODULE) -> None:
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


def persist_link(links: ProviderLinks, key: str, context: Context, **value: Any) -> None:
    """Push a link's XCom as the provider's ``BaseGoogleLink.persist`` does: ``{key: value}`` through ``ti``.

    With the provider installed its class's own ``persist`` pushes it; without it, the same key and value.

    Args:
        links: The operator's :class:`ProviderLinks` (one class per XCom key).
        key: The link's XCom key (``"dataproc_batch"``, ``"dataproc_job"``).
        context: The task context (its ``ti`` pushes).
        **value: The link's format arguments (``project_id``, ``region``, ``batch_id``...).
    """
    for link_class in links.link_classes():
        if getattr(link_class, "key", None) == key:
            link_class.persist(context=context, **value)  # type: ignore[attr-defined]
            return
    context["ti"].xcom_push(key=key, value=value)
