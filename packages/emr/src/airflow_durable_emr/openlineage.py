"""OpenLineage information injected into an EMR job's ``configurationOverrides``, as upstream's operators do.

EMR Serverless and EMR on EKS share upstream's two helpers from
``airflow.providers.common.compat.openlineage.utils.spark``: each adds ``spark.openlineage.*`` properties to the
``spark-defaults`` classification. They are imported when asked for, never when this module is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context

Injector = Callable[[Any, "Context"], Any]
"""``(configuration_overrides, context) -> configuration_overrides``."""


def injectors() -> tuple[Injector, Injector] | None:
    """Upstream's parent-job and transport injectors, or ``None`` without ``apache-airflow-providers-common-compat``."""
    try:
        from airflow.providers.common.compat.openlineage.utils import spark
    except ImportError:
        return None
    return (
        spark.inject_parent_job_information_into_emr_serverless_properties,
        spark.inject_transport_information_into_emr_serverless_properties,
    )


def inject_openlineage(
    overrides: Any,
    context: Context,
    *,
    parent_job_info: bool,
    transport_info: bool,
    service: str,
    log: Any,
) -> Any:
    """Return ``overrides`` with the OpenLineage information asked for (upstream's order: parent, then transport).

    Args:
        overrides: The operator's ``configuration_overrides`` (a dict, or ``None``).
        context: The task context (the parent job is read from it).
        parent_job_info: Inject the parent job (``openlineage_inject_parent_job_info``).
        transport_info: Inject the transport (``openlineage_inject_transport_info``).
        service: How the logs name the API (``"EMR Serverless"``, ``"EMR on EKS"``).
        log: The operator's logger.

    Returns:
        ``overrides`` itself when nothing is asked for, or when the helpers are missing (with a warning);
        else what the helpers return.
    """
    if not (parent_job_info or transport_info):
        return overrides
    helpers = injectors()
    if helpers is None:
        log.warning(
            "OpenLineage injection needs apache-airflow-providers-common-compat; the configuration is sent without it"
        )
        return overrides
    inject_parent, inject_transport = helpers
    if parent_job_info:
        log.info("Injecting OpenLineage parent job information into %s configuration.", service)
        overrides = inject_parent(overrides, context)
    if transport_info:
        log.info("Injecting OpenLineage transport information into %s configuration.", service)
        overrides = inject_transport(overrides, context)
    return overrides
