"""The fault-storm scenario's figures: what each operator's tries did while a share of vendor calls failed.

The contract suite's ``test_fault_storm_ends_with_one_job_within_the_retry_budget`` starts a storm
(:meth:`Faults.fault_storm <airflow_durable.testing.faults.Faults.fault_storm>`) of :data:`STORM_RATE` before
the first vendor call and ends it after the last try. Each run appends a :class:`StormTally` to
:data:`TALLIES`; ``pytest --storm-report`` prints them (:func:`report_lines`), and ``--storm-seeds`` picks the
generator seeds the scenario runs with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STORM_RATE = 0.2
"""Share of vendor calls that fail during the scenario."""

RETRY_BUDGET = 3
"""Retries the task has (``retries=3``): at most this many tries may fail."""

DEFAULT_SEEDS: tuple[int, ...] = (1,)
"""Seeds the scenario runs with when ``--storm-seeds`` is not given."""

TASK_INSTANCES = 3
"""Map indexes of the task that run, one after the other, through one storm."""

STATUS_CALLS_TO_FINISH = 8
"""Status calls after which each job succeeds by itself."""


@dataclass
class StormTally:
    """What one operator did in one storm.

    Attributes:
        operator: The contract subclass's name.
        seed: The storm generator's seed.
        task_instances: Task instances run through the storm (:data:`TASK_INSTANCES`).
        tries: Tries run, all task instances together (each has at most ``1 + RETRY_BUDGET``).
        failed_tries: Tries that failed (each task instance's budget allows :data:`RETRY_BUDGET`).
        task_failures: Task instances with no successful try within the budget (the goal is 0).
        vendor_calls: Vendor requests the system received during the storm, fault-injected ones included.
        faults: Requests answered with an injected fault.
        jobs: Jobs the system created for the task instances.
        duplicates: Jobs beyond the first of each task instance (the goal is 0).
        failures: Why each failed try failed (``map index N: ...``), for the report.
    """

    operator: str
    seed: int
    task_instances: int = 0
    tries: int = 0
    failed_tries: int = 0
    task_failures: int = 0
    vendor_calls: int = 0
    faults: int = 0
    jobs: int = 0
    duplicates: int = 0
    failures: list[str] = field(default_factory=list)


TALLIES: list[StormTally] = []
"""Every storm of this process, in run order, for the ``--storm-report`` table."""


def parse_seeds(text: str | None) -> tuple[int, ...]:
    """Parse ``--storm-seeds`` (``"1,2,3"``); empty or ``None`` gives :data:`DEFAULT_SEEDS`.

    Raises:
        ValueError: A seed is not an integer.
    """
    if not text:
        return DEFAULT_SEEDS
    return tuple(int(part) for part in text.split(",") if part.strip())


def report_lines(tallies: list[StormTally]) -> list[str]:
    """Return the report: one line per operator and seed, then the totals.

    Args:
        tallies: The storms run.

    Returns:
        A header, one line per tally (sorted by operator, then seed) and a total line.
    """
    width = max([len("operator"), *(len(t.operator) for t in tallies)])
    header = (
        f"{'operator':<{width}}  seed  task instances  tries  failed tries  vendor calls  faults injected"
        "  task failures  jobs  duplicates"
    )
    lines = [header, "-" * len(header)]
    for tally in sorted(tallies, key=lambda t: (t.operator, t.seed)):
        lines.append(_line(tally.operator, str(tally.seed), tally, width))
    total = StormTally("all operators", 0)
    for tally in tallies:
        for name in ("task_instances", "tries", "failed_tries", "task_failures", "vendor_calls", "faults"):
            setattr(total, name, getattr(total, name) + getattr(tally, name))
        total.jobs += tally.jobs
        total.duplicates += tally.duplicates
    lines += ["-" * len(header), _line(total.operator, "", total, width)]
    return lines


def _line(name: str, seed: str, tally: StormTally, width: int) -> str:
    return (
        f"{name:<{width}}  {seed:>4}  {tally.task_instances:>14}  {tally.tries:>5}  {tally.failed_tries:>12}"
        f"  {tally.vendor_calls:>12}  {tally.faults:>15}  {tally.task_failures:>13}  {tally.jobs:>4}"
        f"  {tally.duplicates:>10}"
    )
