"""The soak's bookkeeping, without Airflow: jobs per repetition, duplicates, lost results, the report, the CLI."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from airflow_durable import cli
from airflow_durable.demo import soak
from airflow_durable.demo.soak import CaughtTaskInstance, Kill, ProviderTally, SoakReport, report_lines, run_soak
from airflow_durable.demo.workload import Workload
from demo_fakes import FakeProvider

if TYPE_CHECKING:
    from pathlib import Path


class WorkloadProvider(FakeProvider):
    workload_dag_id: ClassVar[str | None] = "durable_workload_fake"


class FakeRunStack:
    """What the tally reads of a finished dag run: task instances and ``return_value`` XComs."""

    def __init__(self, tis: list[dict[str, Any]], xcoms: dict[tuple[str, int], Any]) -> None:
        self.tis, self.xcoms = tis, xcoms

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.tis

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        return self.xcoms[(task_id, map_index)]


def _ti(task_id: str, index: int, state: str = "success", try_number: int = 1) -> dict[str, Any]:
    return {"task_id": task_id, "map_index": index, "state": state, "try_number": try_number}


def test_new_jobs_are_the_ones_created_since_the_snapshot() -> None:
    before = {("durable", 0): ["1"], ("not_durable", 0): ["2"]}
    after = {("durable", 0): ["1", "5"], ("not_durable", 0): ["2"], ("durable", 1): ["6"]}
    assert soak._new_jobs(before, after) == {("durable", 0): ["5"], ("not_durable", 0): [], ("durable", 1): ["6"]}


def test_tally_counts_duplicates_and_lost_results(tmp_path: Path) -> None:
    provider = WorkloadProvider("fake", tmp_path)
    tis = [_ti("durable", 0), _ti("durable", 1, "failed", 4), _ti("durable", 2), _ti("not_durable", 0, try_number=2)]
    tis += [_ti("not_durable", 1), _ti("not_durable", 2), _ti("durable", -1, "removed")]
    stack = FakeRunStack(tis, {("durable", 0): {"run_id": 1}})  # durable[2] pushed no XCom
    jobs = {("durable", 0): ["1", "7"], ("durable", 1): ["2"], ("durable", 2): ["3"], ("not_durable", 0): ["4", "8"]}
    jobs |= {("not_durable", 1): ["5"], ("not_durable", 2): ["6"]}
    tally = ProviderTally("fake")
    soak._tally_repetition(stack, provider, "run-1", Workload(maps=3), jobs, tally, 1)  # type: ignore[arg-type]
    assert (tally.repetitions, tally.durable_tis) == (1, 3)
    assert (tally.durable_duplicates, tally.non_durable_duplicates) == (1, 1)
    assert (tally.lost_results, tally.task_failures) == (2, 1)
    assert not tally.ok
    assert any(f.startswith("DUPLICATE: repetition 1, durable[0]") and "['1', '7']" in f for f in tally.findings)
    assert any(f.startswith("LOST RESULT: repetition 1, durable[1]") and "'failed'" in f for f in tally.findings)
    assert any(f.startswith("LOST RESULT: repetition 1, durable[2]") and "no return_value" in f for f in tally.findings)


def test_a_clean_repetition_is_ok(tmp_path: Path) -> None:
    provider = WorkloadProvider("fake", tmp_path)
    stack = FakeRunStack([_ti("durable", 0), _ti("not_durable", 0)], {("durable", 0): "result"})
    tally = ProviderTally("fake")
    jobs = {("durable", 0): ["1"], ("not_durable", 0): ["2", "3", "4"]}
    soak._tally_repetition(stack, provider, "r", Workload(maps=1), jobs, tally, 3)  # type: ignore[arg-type]
    assert tally.ok
    assert (tally.durable_duplicates, tally.lost_results, tally.non_durable_duplicates) == (0, 0, 2)
    assert tally.findings == []


def test_report_prints_the_seed_the_table_and_the_verdict() -> None:
    report = SoakReport(seed=42, stack="celery", workload=Workload(), fault_rate=0.2, kill=True)
    clean = ProviderTally("databricks", repetitions=20, durable_tis=60, kills_caught=14, durable_caught=9)
    clean.non_durable_duplicates, clean.vendor_calls, clean.wall_seconds = 7, 900, 812.4
    report.tallies = [clean]
    report.kills = [Kill(1, 9.5, 21.0, "airflow-celery-worker-1", (CaughtTaskInstance("databricks", "durable", 0, 1),))]
    lines = report_lines(report)
    assert "seed 42" in lines[0]
    assert "fault storm 20%" in lines[0]
    assert lines[1].split()[:4] == ["provider", "reps", "durable", "TIs"]
    assert lines[3].split() == ["databricks", "20", "60", "14", "(9", "durable)", "0", "0", "7", "0", "900", "812"]
    assert lines[-1].startswith("OK: 0 durable duplicates, 0 lost results; 1 kills")
    assert "seed 42" in lines[-1]
    report.tallies.append(ProviderTally("emr", durable_duplicates=1, findings=["DUPLICATE: repetition 2, ..."]))
    lines = report_lines(report)
    assert not report.ok
    assert "DUPLICATE: repetition 2, ..." in lines
    assert lines[-1].startswith("FAILED")


def test_soak_refuses_providers_without_workload(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="without a workload: \\['plain'\\]"):
        run_soak([FakeProvider("plain", tmp_path)], tmp_path, seed=1)
    with pytest.raises(ValueError, match="repetitions=0"):
        run_soak([WorkloadProvider("fake", tmp_path)], tmp_path, seed=1, repetitions=0)
    with pytest.raises(ValueError, match="kill_window_seconds"):
        run_soak([WorkloadProvider("fake", tmp_path)], tmp_path, seed=1, kill_window_seconds=(5.0, 2.0))


def test_local_kill_picks_a_running_task_instance_by_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    killed: list[tuple[str, str, list[str], int]] = []

    class LocalStack:
        def processes_of_task_instances(self, ti_ids: list[str]) -> dict[str, dict[int, str]]:
            return {ti: ({} if ti == "t-gone" else {100: f"airflow worker -- {ti}"}) for ti in ti_ids}

        def kill_tasks(self, dag_id: str, run_id: str, task_ids: list[str], map_index: int) -> None:
            killed.append((dag_id, run_id, task_ids, map_index))

    running = {
        f"t-{task}-{index}": ("dag", "run", CaughtTaskInstance("fake", task, index, 1))
        for task in ("durable", "not_durable")
        for index in range(3)
    }
    running["t-gone"] = ("dag", "run", CaughtTaskInstance("fake", "durable", 9, 1))
    first = soak._kill_randomly(LocalStack(), running, random.Random(7))  # type: ignore[arg-type]
    again = soak._kill_randomly(LocalStack(), running, random.Random(7))  # type: ignore[arg-type]
    assert first == again
    target, caught = first
    [ti] = caught
    assert target == str(ti)
    assert ti.map_index != 9
    assert killed[0] == ("dag", "run", [ti.task_id], ti.map_index)
    assert soak._kill_randomly(LocalStack(), {"t-gone": running["t-gone"]}, random.Random(7)) == ("nothing", ())  # type: ignore[arg-type]


def test_cli_refuses_a_provider_without_workload(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "load_providers", lambda names: [FakeProvider("plain", tmp_path)])
    assert cli.main(["soak", "plain", "--reps", "1"]) == 2
    assert "no workload for plain" in capsys.readouterr().out


def test_cli_runs_the_soak_and_exits_non_zero_on_a_duplicate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, Any] = {}

    def fake_run_soak(providers: list[Any], workdir: Path, **kwargs: Any) -> SoakReport:
        seen.update(kwargs, providers=[p.name for p in providers])
        report = SoakReport(kwargs["seed"], kwargs["stack"], kwargs["workload"], kwargs["fault_rate"], kwargs["kill"])
        report.tallies = [ProviderTally("fake", durable_duplicates=seen.get("dups", 0))]
        del workdir
        return report

    monkeypatch.setattr(cli, "load_providers", lambda names: [WorkloadProvider("fake", tmp_path)])
    monkeypatch.setattr(soak, "run_soak", fake_run_soak)
    argv = [
        "soak",
        "--reps",
        "3",
        "--seed",
        "99",
        "--maps",
        "2",
        "--stack",
        "local",
        "--fault-rate",
        "0.2",
        "--no-kill",
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "Soak seed: 99" in out
    assert "seed 99" in out
    assert seen["repetitions"] == 3
    assert seen["seed"] == 99
    assert seen["workload"] == Workload(maps=2)
    assert (seen["stack"], seen["fault_rate"], seen["kill"], seen["providers"]) == ("local", 0.2, False, ["fake"])
    seen["dups"] = 1
    assert cli.main(["soak", "--reps", "1"]) == 1
    assert "FAILED: durable duplicates or lost results" in capsys.readouterr().out
    assert cli.main(["soak", "--reps", "1", "--maps", "0"]) == 2
    assert "maps must be an integer of at least 1" in capsys.readouterr().out


def test_cli_draws_and_prints_a_seed_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds: list[int] = []

    def fake_run_soak(providers: list[Any], workdir: Path, **kwargs: Any) -> SoakReport:
        seeds.append(kwargs["seed"])
        report = SoakReport(kwargs["seed"], "celery", Workload(), 0.0, True)
        report.tallies = [ProviderTally("fake", lost_results=1)]
        return report

    monkeypatch.setattr(cli, "load_providers", lambda names: [WorkloadProvider("fake", tmp_path)])
    monkeypatch.setattr(soak, "run_soak", fake_run_soak)
    assert cli.main(["soak", "--reps", "1"]) == 1
    [seed] = seeds
    assert f"Soak seed: {seed} (rerun with --seed {seed})" in capsys.readouterr().out


def test_a_repetition_that_does_not_end_stops_the_soak_and_keeps_what_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    report = SoakReport(seed=5, stack="celery", workload=Workload(), fault_rate=0.0, kill=True)
    tally = ProviderTally("spark")
    report.tallies = [tally]
    lines: list[str] = []
    ran: list[int] = []

    def run_repetition(self: soak._Soak, repetition: int) -> None:
        ran.append(repetition)
        if repetition == 3:
            raise TimeoutError("dag runs of ['durable_workload_spark'] did not end within 900 s")
        tally.repetitions += 1
        tally.durable_tis += 3

    monkeypatch.setattr(soak._Soak, "run_repetition", run_repetition)
    started = soak._Soak(None, [], {}, {"spark": tally}, report, 20, (0.0, 12.0), random.Random(5), lines.append)  # type: ignore[arg-type]
    started.run_repetitions()
    assert ran == [1, 2, 3]
    assert report.stopped_early == "repetition 3/20: dag runs of ['durable_workload_spark'] did not end within 900 s"
    assert lines == [f"stopping the soak early: {report.stopped_early}"]
    assert not report.ok
    printed = report_lines(report)
    assert printed[3].split()[:3] == ["spark", "2", "6"]
    assert f"STOPPED EARLY at {report.stopped_early}; the table covers the repetitions that ended" in printed
    assert printed[-1].startswith("INCOMPLETE: 0 durable duplicates, 0 lost results in the repetitions that ended")
    tally.durable_duplicates = 1
    assert report_lines(report)[-1].startswith("FAILED")
