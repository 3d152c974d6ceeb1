"""Deterministic submission tokens derived from the task-instance scope and a generation counter.

One token form is valid for every vendor field the providers use (limits from the API references below):

=====================================  ===========================  ==================================
field                                  limit                        our token
=====================================  ===========================  ==================================
Databricks ``idempotency_token``       <= 64 chars                  ok
EMR Serverless / on EKS ``clientToken``  1-64 chars                 ok
Dataproc ``request_id``                <= 40, ``[a-zA-Z0-9_-]``     ok (the binding limit: 40)
Dataproc ``reference.job_id``          <= 100, ``[a-zA-Z0-9_-]``    ok
Dataproc ``batch_id``                  4-63, ``[a-z0-9-]``          ok (lowercase, starts with a letter)
Kubernetes label value                 <= 63, alphanumeric ends     ok
YARN application tag, EMR step name    free text                    ok
=====================================  ===========================  ==================================

Sources: Databricks https://docs.databricks.com/api/workspace/jobs/submit; EMR Serverless
https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_StartJobRun.html; EMR on EKS
https://docs.aws.amazon.com/emr-on-eks/latest/APIReference/API_StartJobRun.html; Dataproc
https://cloud.google.com/dataproc/docs/reference/rest/v1/projects.regions.jobs/submit (``request_id``),
https://cloud.google.com/dataproc/docs/reference/rest/v1/JobReference (``job_id``),
https://cloud.google.com/dataproc/docs/reference/rest/v1/projects.locations.batches/create (``batch_id``);
Kubernetes https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set.

So a token is ``ad-`` + 28 lowercase hex digits of a SHA-256 + ``-g`` + the generation: at most 40
characters, lowercase ``[a-z0-9-]``, starting with a letter and ending with a digit.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

TOKEN_MAX_LENGTH = 40
"""The longest token :func:`submission_token` returns (Dataproc ``request_id`` allows 40)."""

MAX_GENERATION = 9_999_999
"""The highest generation that still fits :data:`TOKEN_MAX_LENGTH`."""

TOKEN_PATTERN = re.compile(r"^ad-[0-9a-f]{28}-g[0-9]{1,7}$")
"""Every token :func:`submission_token` returns matches this pattern."""


@dataclass(frozen=True)
class TaskInstanceScope:
    """The identity of one task instance, shared by all of its tries.

    It is the scope of ``task_state_store`` (AIP-103), so it is also the scope of a submission token. The
    try number is deliberately absent: a retry after a crash must derive the *same* token.

    Attributes:
        dag_id: The DAG ID.
        run_id: The DAG run ID.
        task_id: The task ID (with its task group prefix).
        map_index: The map index; ``-1`` for a task that is not mapped.
    """

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    @classmethod
    def from_context(cls, context: Mapping[str, Any], task: Any = None) -> TaskInstanceScope:
        """Read the scope from an Airflow task context.

        A real task run's context always has ``ti``, which gives all four parts. A hand-made context (a unit
        test) may lack it, or hold a stand-in without some attributes; each missing part then comes from
        the rest of the context (``run_id``, ``dag_run``, ``map_index``) or from ``task`` (its ``dag_id`` and
        ``task_id``), and a missing run ID is ``""``. See :meth:`is_complete`.

        Args:
            context: The ``context`` passed to ``execute``.
            task: The operator, for the parts a hand-made context lacks.

        Returns:
            The scope of the running task instance.

        Raises:
            ValueError: Neither the context nor ``task`` gives a DAG ID and a task ID.
        """
        ti = context.get("ti")
        dag_run = context.get("dag_run")
        dag_id = _part(ti, "dag_id") or _part(task, "dag_id")
        task_id = _part(ti, "task_id") or _part(task, "task_id")
        if dag_id is None or task_id is None:
            raise ValueError("The task context has no 'ti' and no operator was given: cannot derive a submission token")
        run_id = _part(ti, "run_id") or context.get("run_id") or _part(dag_run, "run_id") or ""
        map_index = _part(ti, "map_index")
        if map_index is None:
            map_index = context.get("map_index")
        return cls(dag_id=str(dag_id), run_id=str(run_id), task_id=str(task_id), map_index=_map_index(map_index))

    @staticmethod
    def is_complete(context: Mapping[str, Any]) -> bool:
        """Whether the context's ``ti`` gives the whole scope (always so in a real task run)."""
        ti = context.get("ti")
        return all(_part(ti, name) is not None for name in ("dag_id", "run_id", "task_id"))


def _part(source: Any, name: str) -> Any:
    """``source.name``, or ``None`` when ``source`` is ``None`` or lacks it."""
    return None if source is None else getattr(source, name, None)


def _map_index(value: Any) -> int:
    """An int map index; ``None`` and anything that is not an int (a test double's attribute) mean ``-1``."""
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def submission_token(scope: TaskInstanceScope, generation: int, *, base: str | None = None) -> str:
    """Derive the deterministic submission token of one generation of one task instance.

    The same inputs always give the same token, so a retry after a crash re-derives the token of the
    submission it may have lost and the vendor deduplicates it (or finds the job by it). Different task
    instances (another DAG run, task or map index) and different generations always give different tokens.

    Args:
        scope: The task instance.
        generation: Starts at 0 and advances each time a fresh job is needed after a terminal failure or a
            lost job, so a vendor never hands back the old failed job for a reused token.
        base: An optional user-supplied token (for example a Databricks ``idempotency_token`` argument). It
            is mixed into the hash, so the user's value still decides identity across task instances.

    Returns:
        A token such as ``ad-3f0c9a1b2d4e5f60718293a4b5c6-g0``, matching :data:`TOKEN_PATTERN`.

    Raises:
        ValueError: If ``generation`` is negative or above :data:`MAX_GENERATION`.
    """
    if isinstance(generation, bool) or not isinstance(generation, int):
        raise ValueError(f"generation must be an int, got {generation!r}")
    if not 0 <= generation <= MAX_GENERATION:
        raise ValueError(f"generation must be in [0, {MAX_GENERATION}], got {generation}")
    material = json.dumps(
        [scope.dag_id, scope.run_id, scope.task_id, scope.map_index, generation, base],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    digest = hashlib.sha256(material.encode()).hexdigest()[:28]
    return f"ad-{digest}-g{generation}"
