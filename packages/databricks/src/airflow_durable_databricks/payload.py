"""The request body of ``runs/submit`` and ``run-now``, built and checked as the Airflow Databricks provider does.

Every check here runs before any API call and before the durable intent is written, so a bad payload fails
the try without creating a run or a ``task_state_store`` record. The rules and error texts are those of
``airflow.providers.databricks`` 7.23 (``operators/databricks.py`` and ``utils/databricks.py``).
"""

from __future__ import annotations

import ast
import json as json_lib
from collections.abc import Mapping
from typing import Any

from airflow.sdk.exceptions import AirflowException

DICT_PARAM_FIELD_BY_TASK: dict[str, str] = {
    "notebook_task": "base_parameters",
    "python_wheel_task": "named_parameters",
    "sql_task": "parameters",
    "run_job_task": "job_parameters",
}
"""Task types with a dict-shaped parameter field, and that field: where DAG ``params`` (and the OpenLineage
context) go. Tasks whose parameters are a list of strings (``spark_jar_task``...) are left alone."""

RUN_NOW_LEGACY_PARAMETER_SLOTS: tuple[str, ...] = (
    "notebook_params",
    "python_params",
    "jar_params",
    "spark_submit_params",
    "python_named_params",
    "dbt_commands",
)
"""``run-now`` fields the API refuses together with ``job_parameters``."""


class DatabricksPayloadError(AirflowException, ValueError):
    """The operator's request body is invalid; raised before any API call.

    An ``AirflowException`` with the upstream provider's texts (as its ``DatabricksOperatorPayloadError``
    and ``normalise_json_content`` raise), and a ``ValueError``.
    """


def normalise_json_content(content: Any, json_path: str = "json") -> Any:
    """Return ``content`` with every number turned into a string, as the upstream operators send it.

    Strings and booleans stay as they are (Databricks reads ``"True"`` as a string, not a boolean); lists,
    tuples and dicts are walked.

    Args:
        content: The payload or part of it.
        json_path: Where ``content`` sits, for the error message (``json[new_cluster][num_workers]``).

    Returns:
        The normalised copy.

    Raises:
        DatabricksPayloadError: A value is of another type (a ``datetime``, ``None``...), with upstream's
            text ``Type <class '...'> used for parameter json[...] is not a number or a string``.
    """
    if isinstance(content, str | bool):
        return content
    if isinstance(content, int | float):
        return str(content)
    if isinstance(content, list | tuple):
        return [normalise_json_content(item, f"{json_path}[{i}]") for i, item in enumerate(content)]
    if isinstance(content, dict):
        return {key: normalise_json_content(value, f"{json_path}[{key}]") for key, value in content.items()}
    raise DatabricksPayloadError(f"Type {type(content)} used for parameter {json_path} is not a number or a string")


def coerce_json_to_dict(json: Any) -> dict[str, Any]:
    """Accept ``json`` as a mapping, a JSON string or a Python dict literal (what Jinja renders from an XCom).

    Raises:
        DatabricksPayloadError: It does not parse, or is not a mapping.
    """
    if json is None:
        return {}
    if isinstance(json, Mapping):
        return dict(json)
    if isinstance(json, str):
        if not json:
            return {}
        try:
            parsed = json_lib.loads(json)
        except ValueError:
            try:
                parsed = ast.literal_eval(json)
            except (SyntaxError, ValueError, TypeError, MemoryError) as err:
                raise DatabricksPayloadError(
                    "Databricks json payload string must be valid JSON or a Python literal dict resolving to a mapping."
                ) from err
        json = parsed
        if isinstance(json, Mapping):
            return dict(json)
    raise DatabricksPayloadError(f"Databricks json payload must resolve to a mapping, not {type(json).__name__}.")


def merge_json(json: Any, named: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``json`` as a dict with the named arguments that are not ``None`` written over its top level."""
    merged = coerce_json_to_dict(json)
    merged.update((key, value) for key, value in named.items() if value is not None)
    return merged


def forwardable_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the DAG ``params`` worth forwarding: resolved values, ``None`` ones left out."""
    return {key: value for key, value in dict(params or {}).items() if value is not None}


def inject_params_into_task(task: dict[str, Any], params: Mapping[str, Any]) -> None:
    """Fill each empty dict-shaped parameter field of ``task`` (see :data:`DICT_PARAM_FIELD_BY_TASK`)."""
    for task_type, field in DICT_PARAM_FIELD_BY_TASK.items():
        spec = task.get(task_type)
        if isinstance(spec, dict) and not spec.get(field):
            spec[field] = dict(params)


def each_task(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The tasks of a ``runs/submit`` body: its ``tasks``, or the body itself (legacy single-task form)."""
    tasks = job.get("tasks")
    if isinstance(tasks, list):
        return [task for task in tasks if isinstance(task, dict)]
    return [job]


def validate_submit(json: Mapping[str, Any]) -> None:
    """Check a merged ``runs/submit`` body as upstream does.

    Raises:
        DatabricksPayloadError: ``dbt_task`` without ``git_source``, or a ``pipeline_task`` with both
            ``pipeline_id`` and ``pipeline_name``.
    """
    if "dbt_task" in json and "git_source" not in json:
        raise DatabricksPayloadError("git_source is required for dbt_task")
    pipeline_task = json.get("pipeline_task")
    if isinstance(pipeline_task, Mapping) and "pipeline_id" in pipeline_task and "pipeline_name" in pipeline_task:
        raise DatabricksPayloadError("'pipeline_name' is not allowed in conjunction with 'pipeline_id'")


def validate_run_now(json: Mapping[str, Any]) -> None:
    """Check a merged ``run-now`` body as upstream does.

    Raises:
        DatabricksPayloadError: ``job_id`` together with ``job_name``.
    """
    if "job_id" in json and "job_name" in json:
        raise DatabricksPayloadError("Argument 'job_name' is not allowed with argument 'job_id'")
