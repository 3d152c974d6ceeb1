"""The amazon provider's extra-link classes, imported late (core's :class:`~airflow_durable.links.ProviderLinks`).

Without ``apache-airflow-providers-amazon`` the collection is empty: the operator has no extra links (their
classes are the provider's), and pushes no link XComs.
"""

from __future__ import annotations

from airflow_durable.links import ProviderLinks as _ProviderLinks

LINKS_MODULE = "airflow.providers.amazon.aws.links.emr"


class ProviderLinks(_ProviderLinks):
    """Instances of the amazon provider's EMR link classes, imported when first read.

    Args:
        *class_names: Class names in ``module`` (``"EmrClusterLink"``...).
        module: The module that defines them (default: the amazon provider's EMR links).
    """

    def __init__(self, *class_names: str, module: str = LINKS_MODULE) -> None:
        super().__init__(*class_names, module=module)
