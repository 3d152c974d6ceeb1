"""The soak's workload layer: job names, the workload DAG file's configuration, one DAG per provider."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from airflow_durable.demo import workload as workload_module
from airflow_durable.demo.provider import DemoProvider
from airflow_durable.demo.workload import (
    WORKLOAD_ENV,
    WORKLOAD_RETRIES,
    WORKLOAD_TASKS,
    Workload,
    WorkloadConfigError,
    build_workload_dags,
    emulator_vendor_calls,
    group_workload_jobs,
    parse_workload_env,
    parse_workload_job_name,
    workload_dags_from_env,
    workload_env,
    workload_job_name,
    workload_tasks_by_id,
)

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from airflow_durable.demo.provider import DemoSystem


def _operator_class() -> type[Any]:
    """An operator whose mapped argument is the job name it would submit (Airflow imported lazily)."""
    from airflow.sdk import BaseOperator

    class NamedJobOperator(BaseOperator):
        def __init__(self, *, job_name: str, durable: bool, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.job_name, self.durable = job_name, durable

        def execute(self, context: Any) -> str:
            return self.job_name

    return NamedJobOperator


class _NoWorkload(DemoProvider[Any]):
    name = "plain"

    def start(self, workdir: Path, processes: Any, progress: Any) -> AbstractContextManager[DemoSystem[Any]]:
        raise NotImplementedError

    def jobs_by_task(self, system: Any) -> dict[str, list[str]]:
        return {}

    def ready_to_kill(self, system: Any, record: Any) -> bool:
        return True


class _FakeWorkload(_NoWorkload):
    name = "fake"
    workload_dag_id: ClassVar[str | None] = "durable_workload_fake"

    def workload_tasks(self, workload: Workload) -> None:
        operator = _operator_class()
        for task_id in workload.task_ids:
            names = [workload_job_name(task_id, index) for index in range(workload.maps)]
            operator.partial(task_id=task_id, durable=task_id == "durable").expand(job_name=names)


def test_job_name_round_trips() -> None:
    for task_id in WORKLOAD_TASKS:
        for index in (0, 1, 9, 10, 123):
            name = workload_job_name(task_id, index)
            assert name == f"wl-{task_id}-{index}"
            assert parse_workload_job_name(name) == (task_id, index)


@pytest.mark.parametrize(
    "name", ["durable-demo-durable", "wl-durable", "wl-durable-", "wl-durable-01", "wl-durable--1", "xwl-durable-1"]
)
def test_foreign_job_names_parse_to_none(name: str) -> None:
    assert parse_workload_job_name(name) is None


@pytest.mark.parametrize(("task_id", "index"), [("has-dash", 0), ("durable", -1), ("", 0), ("durable", True)])
def test_job_name_refuses_what_cannot_round_trip(task_id: str, index: int) -> None:
    with pytest.raises(ValueError, match="no workload job name"):
        workload_job_name(task_id, index)


def test_jobs_are_grouped_by_task_instance_oldest_first() -> None:
    records = [("wl-durable-1", 11), ("durable-demo-x", 12), ("wl-not_durable-0", 13), ("wl-durable-1", 14)]
    assert group_workload_jobs(records) == {("durable", 1): ["11", "14"], ("not_durable", 0): ["13"]}


def test_emulator_vendor_calls_sum_every_endpoint() -> None:
    class Control:
        def counters(self) -> dict[str, Any]:
            return {"calls": {"runs/submit": 3, "runs/get": 40}, "faults_served": {"runs/get": 5}}

    assert emulator_vendor_calls(Control()) == 43


def test_env_round_trips() -> None:
    workload = Workload(maps=5, twins=False, polls_to_finish=2)
    env = workload_env(["databricks", "emr"], workload)
    assert json.loads(env[WORKLOAD_ENV]) == {
        "providers": ["databricks", "emr"],
        "maps": 5,
        "twins": False,
        "polls_to_finish": 2,
    }
    assert parse_workload_env(env[WORKLOAD_ENV]) == (["databricks", "emr"], workload)
    assert parse_workload_env('{"providers": ["x"]}') == (["x"], Workload())


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "is not set"),
        ("", "is not set"),
        ("{nope", "is not JSON"),
        ("[1]", "must be a JSON object"),
        ('{"providers": ["x"], "mapz": 3}', r"unknown key\(s\) \['mapz'\]"),
        ('{"maps": 3}', "non-empty list of provider names"),
        ('{"providers": []}', "non-empty list of provider names"),
        ('{"providers": [1]}', "non-empty list of provider names"),
        ('{"providers": ["x"], "maps": 0}', "maps must be an integer of at least 1"),
        ('{"providers": ["x"], "maps": "3"}', "maps must be an integer"),
        ('{"providers": ["x"], "polls_to_finish": true}', "polls_to_finish must be an integer"),
        ('{"providers": ["x"], "twins": "yes"}', "twins must be true or false"),
    ],
)
def test_bad_env_gives_a_clear_error(value: str | None, message: str) -> None:
    with pytest.raises(WorkloadConfigError, match=message) as caught:
        parse_workload_env(value)
    assert WORKLOAD_ENV in str(caught.value)


def test_dag_file_without_env_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKLOAD_ENV, raising=False)
    with pytest.raises(WorkloadConfigError, match=WORKLOAD_ENV):
        runpy.run_path(str(Path(workload_module.__file__).with_name("workload_dag.py")))


def test_a_dag_is_built_per_provider() -> None:
    dags = build_workload_dags([_FakeWorkload()], Workload(maps=4))
    assert list(dags) == ["durable_workload_fake"]
    dag = dags["durable_workload_fake"]
    assert sorted(dag.task_ids) == sorted(WORKLOAD_TASKS)
    for task_id in WORKLOAD_TASKS:
        task = dag.get_task(task_id)
        assert task.partial_kwargs["durable"] is (task_id == "durable")
        assert task.expand_input.value["job_name"] == [workload_job_name(task_id, i) for i in range(4)]
        assert task.partial_kwargs["retries"] == WORKLOAD_RETRIES
        assert task.partial_kwargs["retry_delay"].total_seconds() == 2


def test_without_twins_only_the_durable_task() -> None:
    dag = build_workload_dags([_FakeWorkload()], Workload(twins=False))["durable_workload_fake"]
    assert dag.task_ids == ["durable"]


def test_provider_without_workload_is_refused() -> None:
    with pytest.raises(WorkloadConfigError, match="'plain' has no workload"):
        build_workload_dags([_NoWorkload()], Workload())
    provider = _NoWorkload()
    for call in (
        lambda: provider.workload_tasks(Workload()),
        lambda: provider.prepare_workload(None, Workload()),
        lambda: provider.workload_jobs(None),
        lambda: provider.vendor_calls(None),
    ):
        with pytest.raises(NotImplementedError, match="'plain' has no workload"):
            call()


def test_a_dag_missing_a_task_is_refused() -> None:
    class Lazy(_FakeWorkload):
        def workload_tasks(self, workload: Workload) -> None:
            super().workload_tasks(Workload(maps=workload.maps, twins=False))

    with pytest.raises(WorkloadConfigError, match=r"lacks \['not_durable'\]"):
        build_workload_dags([Lazy()], Workload())


def test_dags_from_env_load_providers_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[list[str]] = []

    def fake_load(names: list[str]) -> list[DemoProvider[Any]]:
        loaded.append(list(names))
        return [_FakeWorkload()]

    monkeypatch.setattr("airflow_durable.demo.registry.load_providers", fake_load)
    dags = workload_dags_from_env(workload_env(["fake"], Workload(maps=2)))
    assert loaded == [["fake"]]
    assert dags["durable_workload_fake"].get_task("durable").expand_input.value["job_name"] == [
        "wl-durable-0",
        "wl-durable-1",
    ]


def test_default_fault_storm_calls_the_kit_control() -> None:
    class System:
        def __init__(self) -> None:
            self.calls: list[tuple[float, int]] = []

        def fault_storm(self, rate: float, seed: int) -> None:
            self.calls.append((rate, seed))

    system = System()
    _NoWorkload().start_fault_storm(system, 0.2, 7)
    assert system.calls == [(0.2, 7)]


def test_module_exports() -> None:
    assert set(workload_module.__all__) <= set(dir(workload_module))


def test_dag_file_builds_the_dags_the_env_asks_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("airflow_durable.demo.registry.load_providers", lambda names: [_FakeWorkload()])
    monkeypatch.setenv(WORKLOAD_ENV, workload_env(["fake"], Workload(maps=2))[WORKLOAD_ENV])
    found = runpy.run_path(str(Path(workload_module.__file__).with_name("workload_dag.py")))
    assert sorted(found["durable_workload_fake"].task_ids) == sorted(WORKLOAD_TASKS)


def test_workload_tasks_by_id_returns_the_mapped_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("airflow_durable.demo.registry.load_providers", lambda names: [_FakeWorkload()])
    tasks = workload_tasks_by_id(_FakeWorkload(), Workload(maps=2, twins=False))
    assert list(tasks) == ["durable"]
    assert tasks["durable"].expand_input.value["job_name"] == ["wl-durable-0", "wl-durable-1"]


def test_workload_tasks_by_id_refuses_a_provider_whose_dag_id_is_not_built(monkeypatch: pytest.MonkeyPatch) -> None:
    class Renamed(_FakeWorkload):
        workload_dag_id = "durable_workload_elsewhere"

    monkeypatch.setattr("airflow_durable.demo.registry.load_providers", lambda names: [_FakeWorkload()])
    with pytest.raises(WorkloadConfigError, match="no workload DAG 'durable_workload_elsewhere'"):
        workload_tasks_by_id(Renamed(), Workload(maps=1))
