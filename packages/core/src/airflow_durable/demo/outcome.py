"""The demo table's rows: what was observed after a crash, judged against the uninterrupted baseline."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_durable.demo.provider import CrashCase, DemoProvider

__all__ = ["DemoResult", "Observation", "crash_rows", "error_row"]


@dataclass
class DemoResult:
    """One row of the demo table: one operator, crashed at one point, on real Airflow.

    Attributes:
        provider: The provider name, e.g. ``"databricks"``.
        operator: The operator class name, e.g. ``"DurableDatabricksSubmitRunOperator"``.
        crash_point: Where the task was killed, e.g. ``"mid-poll (SIGKILL)"``.
        jobs_durable: External jobs submitted by the durable operator across all tries.
        jobs_not_durable: External jobs submitted by the non-durable twin across all tries.
        result: A short human-readable outcome, e.g. ``"dag run success; XCom = uninterrupted run's"``.
        seconds: Wall time of the provider's scenario in seconds.
        details: Anything else worth keeping. ``details["ok"]`` (a ``bool``), when present, says
            whether the outcome is the expected one; see :attr:`ok`.
    """

    provider: str
    operator: str
    crash_point: str
    jobs_durable: int
    jobs_not_durable: int
    result: str
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether this row is the expected outcome.

        ``details["ok"]`` decides when present. Otherwise the row is expected when the durable
        operator submitted exactly one job.
        """
        explicit = self.details.get("ok")
        if explicit is not None:
            return bool(explicit)
        return self.jobs_durable == 1


@dataclass
class Observation:
    """What one run of a provider's example DAG left behind, read after the dag run ended.

    Attributes:
        dag_run_state: The final dag-run state, ``"success"`` or ``"failed"``.
        jobs: Task ID to the external job IDs it submitted across all tries.
        xcoms: Task ID to its ``return_value`` XCom (``None`` when it pushed none).
        try_numbers: Task ID to its last try number.
        decision_seconds: Durable task ID to the seconds from the kill to its retry's decision.
    """

    dag_run_state: str
    jobs: dict[str, list[str]]
    xcoms: dict[str, Any]
    try_numbers: dict[str, int | None]
    decision_seconds: dict[str, float] = field(default_factory=dict)


def _judge(provider: DemoProvider[Any], case: CrashCase, seen: Observation) -> tuple[bool, bool]:
    """Return (the XCom equals the baseline's, the whole row is the expected outcome)."""
    baseline = seen.xcoms.get(provider.baseline_task)
    same_xcom = baseline is not None and provider.comparable(seen.xcoms.get(case.durable_task)) == (
        provider.comparable(baseline)
    )
    ok = (
        seen.dag_run_state == "success"
        and len(seen.jobs.get(case.durable_task, [])) == 1
        and len(seen.jobs.get(case.twin_task, [])) == 2
        and len(seen.jobs.get(provider.baseline_task, [])) == 1
        and seen.try_numbers.get(case.durable_task) == 2
        and same_xcom
    )
    return same_xcom, ok


def crash_rows(provider: DemoProvider[Any], seen: Observation, seconds: float) -> list[DemoResult]:
    """Build one table row per crash case of a provider.

    A row is the expected outcome when the dag run succeeded, the durable task ran a second try and
    submitted one job in total, its twin submitted two, the baseline one, and the durable task's
    XCom equals the baseline's once :meth:`~airflow_durable.demo.provider.DemoProvider.comparable`
    has masked the job IDs.

    Args:
        provider: The provider's declaration.
        seen: What the run left behind.
        seconds: Wall time of the provider's scenario in seconds.

    Returns:
        The rows, in :attr:`~airflow_durable.demo.provider.DemoProvider.crash_cases` order.
    """
    rows: list[DemoResult] = []
    for case in provider.crash_cases:
        same_xcom, ok = _judge(provider, case, seen)
        xcom_note = f"XCom = {provider.baseline_task} run's" if same_xcom else "XCom differs"
        rows.append(
            DemoResult(
                provider=provider.name,
                operator=provider.operator,
                crash_point=case.label,
                jobs_durable=len(seen.jobs.get(case.durable_task, [])),
                jobs_not_durable=len(seen.jobs.get(case.twin_task, [])),
                result=f"dag run {seen.dag_run_state}; {xcom_note}",
                seconds=round(seconds, 1),
                details={
                    "ok": ok,
                    "jobs": seen.jobs,
                    "try_numbers": seen.try_numbers,
                    "xcoms": seen.xcoms,
                    "dag_run_state": seen.dag_run_state,
                    "kill_to_retry_decision_seconds": seen.decision_seconds.get(case.durable_task),
                },
            )
        )
    return rows


def error_row(provider: str, exc: BaseException, seconds: float) -> DemoResult:
    """Build the row of a provider whose scenario raised.

    Args:
        provider: The provider name.
        exc: What it raised.
        seconds: Wall time until it raised, in seconds.

    Returns:
        A row that is never the expected outcome; ``details["traceback"]`` has the traceback.
    """
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    return DemoResult(
        provider=provider,
        operator="-",
        crash_point="-",
        jobs_durable=0,
        jobs_not_durable=0,
        result=f"error: {type(exc).__name__}: {first_line}"[:200],
        seconds=round(seconds, 1),
        details={"ok": False, "traceback": "".join(traceback.format_exception(exc))},
    )
