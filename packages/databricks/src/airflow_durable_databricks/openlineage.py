"""OpenLineage injection into the request body, through the providers' own helpers.

``openlineage_inject_parent_job_info`` and ``openlineage_inject_transport_info`` do what they do upstream,
by calling the same helpers: ``airflow.providers.databricks.utils.openlineage`` when the Airflow Databricks
provider is installed (the ``OPENLINEAGE_CONTEXT`` task and job parameter, and the ``spark_conf`` of every
``new_cluster``). Without it, the OpenLineage provider's ``airflow.providers.openlineage.utils.spark``
helpers fill the ``spark_conf`` of the top-level, per-task and job-cluster ``new_cluster``; the
``OPENLINEAGE_CONTEXT`` parameter, which only the Databricks provider can build, is then left out with a
warning. Without either provider nothing is injected (a warning says so). A failing helper never fails the
task: the body is sent without what that helper would have added, as upstream does.
"""

from __future__ import annotations

import copy
import importlib
import logging
from typing import TYPE_CHECKING, Any

from airflow_durable_databricks.payload import DICT_PARAM_FIELD_BY_TASK, RUN_NOW_LEGACY_PARAMETER_SLOTS, each_task

if TYPE_CHECKING:
    from types import ModuleType

    from airflow.sdk.definitions.context import Context

log = logging.getLogger(__name__)

DATABRICKS_HELPERS = "airflow.providers.databricks.utils.openlineage"
SPARK_HELPERS = "airflow.providers.openlineage.utils.spark"


def _helpers(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def inject_context_into_parameters(parameters: dict[str, Any], context: Context) -> dict[str, Any]:
    """Return ``parameters`` with the ``OPENLINEAGE_CONTEXT`` of the task instance added.

    Raises:
        ImportError: The Airflow Databricks provider, which builds the context, is not installed.
    """
    helpers = _helpers(DATABRICKS_HELPERS)
    if helpers is None:
        raise ImportError(f"{DATABRICKS_HELPERS} (apache-airflow-providers-databricks) is not installed")
    return dict(
        helpers.inject_openlineage_context_into_databricks_job_parameters(job_parameters=parameters, context=context)
    )


def _inject_spark_conf(job: dict[str, Any], context: Context, *, parent: bool, transport: bool) -> dict[str, Any]:
    helpers = _helpers(DATABRICKS_HELPERS)
    if helpers is not None:
        return dict(
            helpers.inject_openlineage_properties_into_databricks_job(
                job=job, context=context, inject_parent_job_info=parent, inject_transport_info=transport
            )
        )
    spark = _helpers(SPARK_HELPERS)
    if spark is None:
        log.warning("Neither the Databricks nor the OpenLineage provider is installed: nothing injected")
        return job
    job = copy.deepcopy(job)
    clusters = [job] + [t for key in ("tasks", "job_clusters") for t in job.get(key) or [] if isinstance(t, dict)]
    for holder in clusters:
        cluster = holder.get("new_cluster")
        if not isinstance(cluster, dict):
            continue
        properties = cluster.get("spark_conf", {})
        if parent:
            properties = spark.inject_parent_job_information_into_spark_properties(properties, context)
        if transport:
            properties = spark.inject_transport_information_into_spark_properties(properties, context)
        cluster["spark_conf"] = properties
    return job


def inject_into_submit(job: dict[str, Any], context: Context, *, parent: bool, transport: bool) -> dict[str, Any]:
    """Return a ``runs/submit`` body with OpenLineage information added, as upstream's operator does.

    Args:
        job: The body (not modified).
        context: The task context (``ti`` is read).
        parent: Add the parent job: ``OPENLINEAGE_CONTEXT`` in each dict-shaped task parameter field and
            ``spark.openlineage.parent*`` in each ``new_cluster``'s ``spark_conf``.
        transport: Add ``spark.openlineage.transport*`` in each ``new_cluster``'s ``spark_conf``.

    Returns:
        The new body; parts whose helper failed are left as they were (a warning is logged).
    """
    if parent:
        try:
            with_context = copy.deepcopy(job)
            for task in each_task(with_context):
                for task_type, field in DICT_PARAM_FIELD_BY_TASK.items():
                    spec = task.get(task_type)
                    if isinstance(spec, dict):
                        spec[field] = inject_context_into_parameters(spec.get(field) or {}, context)
            job = with_context
        except Exception as err:  # noqa: BLE001 - upstream's choice: lineage never fails the task
            log.warning("OpenLineage context not injected; the task parameters are unchanged: %r", err)
    try:
        return _inject_spark_conf(job, context, parent=parent, transport=transport)
    except Exception as err:  # noqa: BLE001 - as above
        log.warning("OpenLineage properties not injected; the Spark configuration is unchanged: %r", err)
        return job


def inject_into_run_now(json: dict[str, Any], context: Context) -> dict[str, Any]:
    """Return a ``run-now`` body with ``OPENLINEAGE_CONTEXT`` added to ``job_parameters``, as upstream does.

    It is skipped (logged) when the body uses a legacy parameter slot, which ``job_parameters`` cannot join.
    A failing helper leaves the body unchanged (a warning is logged).
    """
    if any(key in json for key in RUN_NOW_LEGACY_PARAMETER_SLOTS):
        log.info("OpenLineage parent job information not injected: the run uses a legacy parameter slot")
        return json
    try:
        parameters = inject_context_into_parameters(json.get("job_parameters") or {}, context)
    except Exception as err:  # noqa: BLE001 - as above
        log.warning("OpenLineage context not injected; job_parameters are unchanged: %r", err)
        return json
    return {**json, "job_parameters": parameters}
