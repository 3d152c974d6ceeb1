"""What a provider's demo scenario is, what it returns, and how scenarios are found.

A provider package registers a zero-argument callable that returns a :class:`DemoScenario` under
the entry-point group ``airflow_durable.demo``, for example in its ``pyproject.toml``::

    [project.entry-points."airflow_durable.demo"]
    spark = "airflow_durable_spark.demo:scenario"

``airflow-durable demo spark`` then loads it with :func:`load_scenarios` and calls its ``run``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.metadata import EntryPoint
    from pathlib import Path

    from airflow_durable.demo.processes import ManagedProcesses

__all__ = [
    "ENTRY_POINT_GROUP",
    "DemoResult",
    "DemoScenario",
    "ScenarioLoadError",
    "UnknownScenarioError",
    "available_scenarios",
    "install_example_dag",
    "load_scenarios",
]

#: The entry-point group under which provider packages register their demo scenario factories.
ENTRY_POINT_GROUP = "airflow_durable.demo"


@dataclass
class DemoResult:
    """One row of the demo table: one operator, crashed at one point, on real Airflow.

    Attributes:
        provider: The provider name, e.g. ``"spark"``.
        operator: The operator class name, e.g. ``"DurableSparkSubmitOperator"``.
        crash_point: Where the task was killed, e.g. ``"mid-poll (SIGKILL)"``.
        jobs_durable: External jobs submitted by the durable operator across all tries.
        jobs_not_durable: External jobs submitted by the non-durable baseline across all tries.
        result: A short human-readable outcome, e.g. ``"success, XCom identical"``.
        seconds: Wall time of this scenario in seconds.
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


@runtime_checkable
class DemoScenario(Protocol):
    """A provider's end-to-end demo on real Airflow 3.3 and a real (or emulated) external system.

    Attributes:
        provider: The provider name shown in the table, e.g. ``"spark"``.
    """

    provider: str

    def run(
        self,
        workdir: Path,
        processes: ManagedProcesses,
        progress: Callable[[str], None],
    ) -> list[DemoResult]:
        """Run the scenario and return one row per operator and crash point.

        Args:
            workdir: An empty directory the scenario owns (AIRFLOW_HOME, DAGs, logs, ...).
            processes: Start every subprocess through this, so that it is stopped by PID.
            progress: Call with short human-readable messages while services start.

        Returns:
            The rows for the demo table.
        """
        ...


class UnknownScenarioError(LookupError):
    """Raised by :func:`load_scenarios` for a name no installed package registered."""


class ScenarioLoadError(RuntimeError):
    """Raised by :func:`load_scenarios` when a registered scenario cannot be imported or built."""


def _entry_points_by_name() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        # The same distribution can be visible twice on sys.path; the first one wins, as for imports.
        found.setdefault(entry_point.name, entry_point)
    return found


def available_scenarios() -> list[str]:
    """Return the names of every registered demo scenario, sorted.

    Returns:
        Entry-point names in the ``airflow_durable.demo`` group.
    """
    return sorted(_entry_points_by_name())


def load_scenarios(names: Sequence[str]) -> list[DemoScenario]:
    """Load demo scenarios by provider name.

    Args:
        names: Provider names (entry-point names). Empty means every registered scenario, sorted by
            name. Duplicates are loaded once.

    Returns:
        One scenario per name, in the given order.

    Raises:
        UnknownScenarioError: If a name is not registered; the message lists the available names.
        ScenarioLoadError: If a registered factory cannot be imported, fails, or does not return a
            :class:`DemoScenario`.
    """
    registered = _entry_points_by_name()
    wanted = list(dict.fromkeys(names)) if names else sorted(registered)
    unknown = [name for name in wanted if name not in registered]
    if unknown:
        available = ", ".join(sorted(registered)) or "none (install a provider package, e.g. airflow-durable-spark)"
        raise UnknownScenarioError(
            f"unknown demo scenario(s): {', '.join(unknown)}. "
            f"Available (entry-point group {ENTRY_POINT_GROUP!r}): {available}"
        )
    scenarios: list[DemoScenario] = []
    for name in wanted:
        entry_point = registered[name]
        try:
            scenario = entry_point.load()()
        except Exception as exc:
            raise ScenarioLoadError(
                f"demo scenario {name!r} ({entry_point.value}) could not be loaded: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(scenario, DemoScenario):
            raise ScenarioLoadError(
                f"demo scenario {name!r} ({entry_point.value}) returned {type(scenario).__name__}, "
                "which has no 'provider' attribute and 'run' method"
            )
        scenarios.append(scenario)
    return scenarios


def install_example_dag(package_file: str, dag_file: str, dags_folder: Path) -> Path:
    """Copy a provider package's example DAG into a DAGs folder.

    Provider wheels ship their ``examples/`` inside the package; a source checkout has it next to ``src/``.

    Args:
        package_file: ``__file__`` of a module at the top of the provider package.
        dag_file: The example's file name, e.g. ``"durable_spark_submit.py"``.
        dags_folder: Where to copy it (created when missing).

    Returns:
        The copied file.

    Raises:
        FileNotFoundError: Neither location has the example.
    """
    import shutil
    from pathlib import Path

    here = Path(package_file).resolve().parent
    for folder in (here / "examples", here.parents[1] / "examples"):
        if (folder / dag_file).is_file():
            dags_folder.mkdir(parents=True, exist_ok=True)
            return Path(shutil.copy(folder / dag_file, dags_folder / dag_file))
    raise FileNotFoundError(f"{dag_file} is neither in {here / 'examples'} nor in {here.parents[1] / 'examples'}")
