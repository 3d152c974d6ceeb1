"""The scale benchmark's metric helpers (``benchmarks/scale.py``) that need no stack: sizing, job counts,
statement classification, snapshot differences, memory peaks and wall time."""

from __future__ import annotations

import importlib.util
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "scale.py"


@pytest.fixture(scope="module")
def scale() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scale_benchmark", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scale_benchmark"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_two_cores_get_two_workers_and_six_slots_per_core(scale: Any) -> None:
    sizing = scale.size_for(2)
    assert (sizing.workers, sizing.concurrency, sizing.slots) == (2, 6, 12)
    settings = sizing.airflow_settings(max_map_length=334)
    assert settings["AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG"] == "12"
    assert settings["AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG"] == "1"
    assert settings["AIRFLOW__CORE__MAX_MAP_LENGTH"] == "1024"  # never below Airflow's default
    assert sizing.airflow_settings(max_map_length=2000)["AIRFLOW__CORE__MAX_MAP_LENGTH"] == "2000"
    assert "2 Celery workers x worker_concurrency 6 = 12 slots" in sizing.describe()
    assert "parallelism 12" in sizing.describe()


def test_sizing_overrides_and_limits(scale: Any) -> None:
    assert scale.size_for(1).workers == 1
    assert scale.size_for(1).slots == 6
    assert scale.size_for(8).slots == 48
    assert scale.size_for(2, workers=3, concurrency=5).slots == 15
    with pytest.raises(ValueError, match="cores"):
        scale.size_for(0)
    with pytest.raises(ValueError, match="workers"):
        scale.size_for(2, workers=0)


def test_task_instances_split_evenly_rounding_up(scale: Any) -> None:
    assert scale.maps_per_provider(1000, 3) == 334
    assert scale.maps_per_provider(1000, 4) == 250
    assert scale.maps_per_provider(40, 1) == 40
    with pytest.raises(ValueError, match="at least one task instance"):
        scale.maps_per_provider(0, 3)


def test_duplicates_count_jobs_beyond_the_first_and_missing_task_instances(scale: Any) -> None:
    expected = [("a.durable", i) for i in range(4)]
    jobs = {("a.durable", 0): ["1"], ("a.durable", 1): ["2", "3", "4"], ("a.durable", 3): ["5"]}
    count = scale.count_jobs(jobs, expected)
    assert (count.task_instances, count.jobs, count.duplicates, count.missing) == (4, 5, 2, 1)
    assert scale.count_jobs({("a.durable", 0): ["1", "1"]}, [("a.durable", 0)]).duplicates == 0  # same ID twice
    stray = scale.count_jobs({("a.durable", 7): ["9"]}, [])
    assert (stray.duplicates, stray.jobs) == (1, 1)  # a job of no expected task instance is never "fine"


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("SELECT task_state_store.id, task_state_store.value FROM task_state_store WHERE dag_id = $1", "select"),
        (
            "INSERT INTO task_state_store (dag_run_id, key) VALUES ($1, $2) ON CONFLICT (x) DO UPDATE SET value = $3",
            "insert",
        ),
        ("  update task_state_store SET value = $1", "update"),
        ("/* airflow */ DELETE FROM task_state_store WHERE expires_at < $1", "delete"),
        ("WITH doomed AS (SELECT id FROM task_state_store) DELETE FROM task_state_store USING doomed", "delete"),
        ("(SELECT 1 FROM task_state_store)", "select"),
        ("TRUNCATE task_state_store", "other"),
        ("", "other"),
    ],
)
def test_statement_kind(scale: Any, query: str, kind: str) -> None:
    assert scale.statement_kind(query) == kind


def test_operations_are_the_call_differences_per_statement(scale: Any) -> None:
    select = "SELECT value FROM task_state_store WHERE key = $1"
    upsert = "INSERT INTO task_state_store VALUES ($1) ON CONFLICT DO UPDATE SET value = $2"
    delete = "DELETE FROM task_state_store WHERE expires_at < $1"
    before = scale.StatementSnapshot({1: (select, 5, 2), 3: (delete, 1, 0)}, {"n_tup_ins": 2, "idx_scan": 10})
    after = scale.StatementSnapshot(
        {1: (select, 15, 4), 2: (upsert, 20, 20), 3: (delete, 1, 0)},
        {"n_tup_ins": 12, "n_tup_upd": 10, "idx_scan": 40},
    )
    ops = scale.StateStoreOps.between(before, after)
    assert ops.by_kind == {"select": 10, "insert": 20}  # the idle DELETE did not run in between
    assert ops.total == 30
    assert ops.rows_by_kind == {"select": 2, "insert": 20}
    assert ops.table == {"n_tup_ins": 10, "n_tup_upd": 10, "n_tup_del": 0, "idx_scan": 30, "seq_scan": 0}
    assert ops.statements == {select: 10, upsert: 20}


def test_peak_memory_keeps_each_trees_largest_sample_per_field(scale: Any) -> None:
    tree = scale.TreeMemory
    peak = scale.PeakMemory()
    peak.add({"scheduler": tree(100, 80, 2), "worker-1": tree(300, 200, 5)})
    peak.add({"scheduler": tree(50, 90, 3), "worker-1": tree(400, 150, 4), "worker-2": tree(10, 5, 1)})
    assert peak.peaks == {"scheduler": tree(100, 90, 3), "worker-1": tree(400, 200, 5), "worker-2": tree(10, 5, 1)}
    assert peak.samples == 2


def test_tree_memory_sums_a_live_tree_and_is_zero_for_a_gone_process(scale: Any) -> None:
    sample = scale.tree_memory(os.getpid())
    assert sample.rss > 10 * 1024 * 1024
    assert 0 < sample.pss <= sample.rss
    assert sample.processes >= 1
    assert scale.tree_memory(2**22 + 12345) == scale.TreeMemory()  # above any Linux pid_max


def test_wall_time_runs_from_the_trigger_to_the_last_end(scale: Any) -> None:
    triggered = datetime(2026, 12, 6, 13, 0, 0, tzinfo=UTC)
    ends = ["2026-12-06T13:01:00Z", "2026-12-06T13:02:30.500000+00:00", "2026-12-06T13:00:10Z"]
    assert scale.wall_seconds(triggered, ends) == 150.5
    with pytest.raises(ValueError, match="no dag run"):
        scale.wall_seconds(triggered, [])


def test_preload_names_the_common_modules_then_each_providers_sdk_operators_and_demo(scale: Any) -> None:
    class Databricks:
        name = "databricks"

    Databricks.__module__ = "airflow_durable_databricks.demo.scenario"

    class Batches:
        name = "dataproc-batches"

    Batches.__module__ = "airflow_durable_dataproc.demo.scenario"
    modules = scale.preload_modules([Databricks(), Batches(), Databricks()])
    assert modules == [
        *scale.COMMON_PRELOAD,
        "databricks.sdk",
        "airflow_durable_databricks.operators",
        "airflow_durable_databricks.demo.scenario",
        "google.cloud.dataproc_v1",
        "airflow_durable_dataproc.operators",
        "airflow_durable_dataproc.demo.scenario",
    ]


def test_report_prints_every_figure_per_task_instance(scale: Any) -> None:
    select = "SELECT value FROM task_state_store WHERE key = $1"
    upsert = "INSERT INTO task_state_store VALUES ($1) ON CONFLICT DO UPDATE SET value = $2"
    ops = scale.StateStoreOps.between(
        scale.StatementSnapshot({}), scale.StatementSnapshot({1: (select, 4, 0), 2: (upsert, 16, 16)})
    )
    memory = scale.PeakMemory()
    memory.add({"scheduler": scale.TreeMemory(200 * 2**20, 150 * 2**20, 1)})
    result = scale.Result(
        sizing=scale.size_for(2),
        providers=["databricks", "emr-serverless"],
        maps=2,
        polls_to_finish=2,
        jobs=scale.count_jobs({("databricks.durable", 0): ["1", "2"]}, [("databricks.durable", 0), ("x.durable", 1)]),
        ops=ops,
        vendor_calls={"databricks": 6, "emr-serverless": 8},
        memory=memory,
        wall_seconds=30.0,
        dag_run_states={"a": "success"},
        ti_states={"success": 4},
        retried=1,
        start_seconds=40.0,
        load_before=(1.0, 1.0, 1.0),
        load_after=(2.0, 2.0, 2.0),
        preloaded=["databricks.sdk"],
    )
    report = result.report()
    assert "duplicates: 1 (must be 0); jobs 2, missing 1" in report
    assert "task_state_store operations: 20 = 10.00 per task instance" in report
    assert "insert 16 (8.00/TI), select 4 (2.00/TI)" in report
    assert "vendor calls: 14 = 7.00 per task instance (databricks 6 = 3.00/TI, emr-serverless 8 = 4.00/TI)" in report
    assert "scheduler: PSS 150 MiB, RSS 200 MiB (up to 1 processes)" in report
    assert "wall time: 30.0 s" in report
    assert "4.0 task instances per minute" in report  # two expected task instances in 30 s
    assert "with more than one try: 1" in report
    assert "2 Celery workers x worker_concurrency 6 = 12 slots" in report
