"""The soak's workload: mapped durable tasks and their ``durable=False`` twins, one DAG per provider.

A provider with a workload sets :attr:`~airflow_durable.demo.provider.DemoProvider.workload_dag_id` and
implements :meth:`~airflow_durable.demo.provider.DemoProvider.workload_tasks` (and the probes next to
it). Every workload DAG has the tasks :data:`WORKLOAD_TASKS`, each mapped over :attr:`Workload.maps`
inputs; the job that map index ``i`` of task ``t`` submits carries :func:`workload_job_name` ``(t, i)``
in a field the vendor records (run name, step ``Name``, job labels, application name...), so the jobs
can be counted per task instance from the external system's own records.

The DAG file :mod:`airflow_durable.demo.workload_dag` is copied into the stack's dags folder; it reads
:data:`WORKLOAD_ENV` (written by :func:`workload_env`) and calls :func:`workload_dags_from_env`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from airflow.sdk import DAG

    from airflow_durable.demo.provider import DemoProvider

__all__ = [
    "WORKLOAD_ENV",
    "WORKLOAD_RETRIES",
    "WORKLOAD_RETRY_DELAY_SECONDS",
    "WORKLOAD_TASKS",
    "Workload",
    "WorkloadConfigError",
    "build_workload_dags",
    "emulator_vendor_calls",
    "group_workload_jobs",
    "parse_workload_env",
    "parse_workload_job_name",
    "workload_dags_from_env",
    "workload_env",
    "workload_job_name",
    "workload_tasks_by_id",
]

#: The task IDs of every workload DAG: the durable mapped task, then its ``durable=False`` twin.
WORKLOAD_TASKS = ("durable", "not_durable")
#: The environment variable the workload DAG file reads: JSON ``{"providers": [...], "maps": 3,
#: "twins": true, "polls_to_finish": 6}``.
WORKLOAD_ENV = "AIRFLOW_DURABLE_WORKLOAD"
#: ``retries`` of every workload task: a killed try and a few vendor faults fit in the budget.
WORKLOAD_RETRIES = 3
#: ``retry_delay`` of every workload task, in seconds.
WORKLOAD_RETRY_DELAY_SECONDS = 2

_JOB_NAME = re.compile(r"wl-(?P<task>[A-Za-z0-9_]+)-(?P<index>0|[1-9][0-9]*)")


class WorkloadConfigError(ValueError):
    """The workload's configuration (:data:`WORKLOAD_ENV`) is missing or malformed."""


@dataclass(frozen=True)
class Workload:
    """How big the soak's workload is, and how its jobs behave.

    Attributes:
        maps: Map indexes of each mapped task (at least 1).
        twins: Also create the ``durable=False`` twin task ``"not_durable"``.
        polls_to_finish: Status calls after which every job succeeds by itself (at least 1).

    Raises:
        WorkloadConfigError: If a value is out of range or of the wrong type.
    """

    maps: int = 3
    twins: bool = True
    polls_to_finish: int = 6

    def __post_init__(self) -> None:
        for name in ("maps", "polls_to_finish"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise WorkloadConfigError(f"workload {name} must be an integer of at least 1, not {value!r}")
        if not isinstance(self.twins, bool):
            raise WorkloadConfigError(f"workload twins must be true or false, not {self.twins!r}")

    @property
    def task_ids(self) -> tuple[str, ...]:
        """The workload DAG's tasks: ``("durable", "not_durable")``, or ``("durable",)`` without twins."""
        return WORKLOAD_TASKS if self.twins else WORKLOAD_TASKS[:1]


def workload_job_name(task_id: str, map_index: int) -> str:
    """Return the name the job of one workload task instance carries: ``wl-<task_id>-<map_index>``.

    Args:
        task_id: A task of :data:`WORKLOAD_TASKS` (letters, digits, underscores).
        map_index: The map index (0 or more).

    Returns:
        The job name, e.g. ``"wl-durable-2"``.

    Raises:
        ValueError: If the task ID or the map index cannot round-trip through :func:`parse_workload_job_name`.
    """
    name = f"wl-{task_id}-{map_index}"
    if isinstance(map_index, bool) or not isinstance(map_index, int) or _JOB_NAME.fullmatch(name) is None:
        raise ValueError(f"no workload job name for task {task_id!r} and map index {map_index!r}")
    return name


def parse_workload_job_name(name: str) -> tuple[str, int] | None:
    """Read the task and map index back from a job name made by :func:`workload_job_name`.

    Args:
        name: A job name from the external system's records.

    Returns:
        ``(task_id, map_index)``, or ``None`` if ``name`` is not a workload job name.
    """
    match = _JOB_NAME.fullmatch(name)
    if match is None:
        return None
    return match["task"], int(match["index"])


def group_workload_jobs(records: Iterable[tuple[str, object]]) -> dict[tuple[str, int], list[str]]:
    """Group an external system's jobs by workload task instance, for ``DemoProvider.workload_jobs``.

    Args:
        records: ``(job name, job ID)`` pairs from the external system's own records, oldest first.
            Jobs whose name is not a :func:`workload_job_name` (other DAGs' jobs) are skipped.

    Returns:
        ``(task_id, map_index)`` to job IDs (as strings), oldest first.
    """
    jobs: dict[tuple[str, int], list[str]] = {}
    for name, job_id in records:
        key = parse_workload_job_name(name)
        if key is not None:
            jobs.setdefault(key, []).append(str(job_id))
    return jobs


def emulator_vendor_calls(control: Any) -> int:
    """Count the vendor requests an emulator of the kit answered, for ``DemoProvider.vendor_calls``.

    Args:
        control: The emulator's control client (:class:`~airflow_durable.testing.control.ControlClient`),
            or the emulator itself.

    Returns:
        The sum of its ``counters()["calls"]`` over every endpoint, fault-injected answers included.
    """
    return sum(int(count) for count in control.counters()["calls"].values())


def workload_env(providers: Sequence[str], workload: Workload) -> dict[str, str]:
    """Return the environment that makes the workload DAG file build these providers' DAGs.

    Args:
        providers: Provider names (entry-point names of group ``airflow_durable.demo``).
        workload: The workload.

    Returns:
        ``{WORKLOAD_ENV: <JSON>}``, for every Airflow process's environment.
    """
    return {WORKLOAD_ENV: json.dumps({"providers": list(providers), **asdict(workload)})}


def parse_workload_env(value: str | None) -> tuple[list[str], Workload]:
    """Parse :data:`WORKLOAD_ENV`.

    Args:
        value: The variable's value (``None`` when unset).

    Returns:
        The provider names and the workload.

    Raises:
        WorkloadConfigError: If it is unset, not JSON, not an object, has an unknown key, no
            provider list, or an out-of-range value; the message names the variable.
    """
    example = '{"providers": ["databricks"], "maps": 3, "twins": true, "polls_to_finish": 6}'
    if not value:
        raise WorkloadConfigError(f"{WORKLOAD_ENV} is not set; expected JSON like {example}")
    try:
        config = json.loads(value)
    except json.JSONDecodeError as exc:
        raise WorkloadConfigError(f"{WORKLOAD_ENV} is not JSON ({exc}); expected JSON like {example}") from None
    if not isinstance(config, dict):
        raise WorkloadConfigError(f"{WORKLOAD_ENV} must be a JSON object like {example}, not {value[:200]!r}")
    unknown = sorted(set(config) - {"providers", "maps", "twins", "polls_to_finish"})
    if unknown:
        raise WorkloadConfigError(f"{WORKLOAD_ENV} has unknown key(s) {unknown}; expected JSON like {example}")
    providers = config.pop("providers", None)
    if not isinstance(providers, list) or not providers or not all(isinstance(p, str) for p in providers):
        raise WorkloadConfigError(f"{WORKLOAD_ENV} needs a non-empty list of provider names under 'providers'")
    try:
        workload = Workload(**config)
    except WorkloadConfigError as exc:
        raise WorkloadConfigError(f"{WORKLOAD_ENV}: {exc}") from None
    return providers, workload


def build_workload_dags(providers: Sequence[DemoProvider[Any]], workload: Workload) -> dict[str, DAG]:
    """Build one workload DAG per provider by calling its ``workload_tasks`` inside the DAG.

    Each DAG is ``provider.workload_dag_id``, unscheduled, with ``retries`` :data:`WORKLOAD_RETRIES`
    and ``retry_delay`` :data:`WORKLOAD_RETRY_DELAY_SECONDS` for every task.

    Args:
        providers: The providers; each must have a workload.
        workload: The workload.

    Returns:
        DAG ID to DAG.

    Raises:
        WorkloadConfigError: If a provider has no workload (``workload_dag_id`` is ``None``), two
            providers share a DAG ID, or a provider's DAG lacks a task of ``workload.task_ids``.
    """
    from airflow.sdk import DAG

    dags: dict[str, DAG] = {}
    for provider in providers:
        dag_id = provider.workload_dag_id
        if dag_id is None:
            raise WorkloadConfigError(f"demo provider {provider.name!r} has no workload (workload_dag_id is None)")
        if dag_id in dags:
            raise WorkloadConfigError(f"two demo providers declare the workload DAG {dag_id!r}")
        with DAG(
            dag_id=dag_id,
            start_date=datetime(2026, 1, 1),
            schedule=None,
            catchup=False,
            default_args={"retries": WORKLOAD_RETRIES, "retry_delay": timedelta(seconds=WORKLOAD_RETRY_DELAY_SECONDS)},
            tags=["airflow-durable", "soak"],
        ) as dag:
            provider.workload_tasks(workload)
        missing = sorted(set(workload.task_ids) - set(dag.task_ids))
        if missing:
            raise WorkloadConfigError(f"demo provider {provider.name!r}: workload DAG {dag_id!r} lacks {missing}")
        dags[dag_id] = dag
    return dags


def workload_dags_from_env(environ: Mapping[str, str] | None = None) -> dict[str, DAG]:
    """Build the workload DAGs that :data:`WORKLOAD_ENV` asks for, loading each provider by name.

    Args:
        environ: The environment (default :data:`os.environ`).

    Returns:
        DAG ID to DAG.

    Raises:
        WorkloadConfigError: See :func:`parse_workload_env` and :func:`build_workload_dags`.
        airflow_durable.demo.registry.UnknownProviderError: A provider name is not registered.
    """
    from airflow_durable.demo.registry import load_providers

    names, workload = parse_workload_env((os.environ if environ is None else environ).get(WORKLOAD_ENV))
    return build_workload_dags(load_providers(names), workload)


def workload_tasks_by_id(provider: DemoProvider[Any], workload: Workload) -> dict[str, Any]:
    """Build ``provider``'s workload DAG the way the DAG file does (through :data:`WORKLOAD_ENV`), return its tasks.

    For a provider's own tests: the DAG file's path from the environment to the mapped operators, without
    an Airflow stack.

    Args:
        provider: A provider with a workload.
        workload: The workload to build.

    Returns:
        Task ID to the mapped operator, for every ID in :attr:`Workload.task_ids`.

    Raises:
        WorkloadConfigError: The DAG is not :attr:`DemoProvider.workload_dag_id`, or its tasks are not
            :attr:`Workload.task_ids` (and see :func:`workload_dags_from_env`).
    """
    dags = workload_dags_from_env(workload_env([provider.name], workload))
    dag = dags.get(provider.workload_dag_id or "")
    if dag is None:
        raise WorkloadConfigError(f"{provider.name}: no workload DAG {provider.workload_dag_id!r} in {sorted(dags)}")
    if sorted(dag.task_ids) != sorted(workload.task_ids):
        raise WorkloadConfigError(f"{provider.name}: workload tasks {sorted(dag.task_ids)}, not {workload.task_ids}")
    return {task_id: dag.get_task(task_id) for task_id in workload.task_ids}
