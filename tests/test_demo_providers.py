"""Each installed provider's demo declaration matches its example DAG and stays small."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from airflow_durable.demo import DemoProvider, available_providers, load_providers

MAX_SCENARIO_LINES = 120


@pytest.fixture(params=available_providers())
def provider(request: pytest.FixtureRequest) -> DemoProvider[Any]:
    [loaded] = load_providers([request.param])
    return loaded


def test_every_provider_package_registers_a_demo() -> None:
    root = Path(__file__).resolve().parents[1]
    packages = {p.name for p in (root / "packages").iterdir() if (p / "pyproject.toml").is_file()} - {"core"}
    assert packages <= set(available_providers())


def test_declaration_matches_the_example_dag(provider: DemoProvider[Any]) -> None:
    source = provider.example_dag_path().read_text()
    assert f'dag_id="{provider.dag_id}"' in source
    for task_id in provider.task_ids:
        assert f'"{task_id}"' in source, f"{provider.name}: task {task_id!r} is not in {provider.example_dag}"
    assert provider.crash_cases
    assert len(set(provider.task_ids)) == len(provider.task_ids)


def test_scenario_module_is_small(provider: DemoProvider[Any]) -> None:
    module = inspect.getmodule(type(provider))
    assert module is not None
    package, _, name = module.__name__.rpartition(".")
    assert package.endswith(".demo"), module.__name__
    assert name == "scenario" or name.startswith("scenario_"), module.__name__
    lines = len(Path(inspect.getsourcefile(module) or "").read_text().splitlines())
    assert lines <= MAX_SCENARIO_LINES, f"{module.__name__} has {lines} lines"
