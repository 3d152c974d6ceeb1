"""Tests of the demo plumbing: ManagedProcesses, load_scenarios and the ``airflow-durable demo`` table."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psutil
import pytest

from airflow_durable import cli
from airflow_durable.demo import scenario as scenario_module
from airflow_durable.demo.processes import OWNER_ENV_VAR, ManagedProcesses
from airflow_durable.demo.scenario import (
    DemoResult,
    DemoScenario,
    ScenarioLoadError,
    UnknownScenarioError,
    load_scenarios,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_for_pids(path: Path, count: int, timeout_seconds: float = 10.0) -> dict[str, int]:
    """Read ``<role> <pid>`` lines written by the spawner script."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if path.exists():
            pids = {role: int(pid) for role, pid in (line.split() for line in path.read_text().splitlines())}
            if len(pids) >= count:
                return pids
        time.sleep(0.05)
    raise AssertionError(f"{path} did not list {count} PIDs in time")


# A parent that starts: a child in its own group, a grandchild that escapes into its own session
# and is orphaned (re-parented to init), and a child that ignores SIGTERM. Each writes its PID.
SPAWNER = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    pid_file = sys.argv[1]
    def record(role, pid):
        with open(pid_file, "a") as handle:
            handle.write(f"{role} {pid}\\n")
    record("spawner", os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    record("child", child.pid)
    # Double fork + setsid: the grandchild leaves our process group and our process tree.
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            record("orphan", os.getpid())
            time.sleep(300)
        os._exit(0)
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
         "time.sleep(300)"]
    )
    record("stubborn", stubborn.pid)
    print("spawner ready", flush=True)
    time.sleep(300)
    """
)


class TestManagedProcesses:
    def test_stops_sleepers_and_writes_logs(self, tmp_path: Path) -> None:
        with ManagedProcesses(tmp_path / "logs") as processes:
            first = processes.start("first", ["sleep", "300"])
            second = processes.start("echoer", ["sh", "-c", "echo hello-out; echo hello-err >&2; sleep 300"])
            assert processes.pids == [first.pid, second.pid]
            assert _alive(first.pid)
            assert _alive(second.pid)
            # Each runs in its own session and process group.
            assert os.getpgid(first.pid) == first.pid
            assert os.getsid(second.pid) == second.pid
            deadline = time.monotonic() + 5
            while "hello-err" not in processes.log_path("echoer").read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
        assert not _alive(first.pid)
        assert not _alive(second.pid)
        assert first.returncode is not None
        assert second.returncode is not None
        log = (tmp_path / "logs" / "echoer.log").read_text()
        assert processes.log_path("echoer") == tmp_path / "logs" / "echoer.log"
        assert "hello-out" in log
        assert "hello-err" in log

    def test_stops_descendants_even_when_the_body_raises(self, tmp_path: Path) -> None:
        pid_file = tmp_path / "pids.txt"
        script = tmp_path / "spawner.py"
        script.write_text(SPAWNER)
        started = time.monotonic()
        processes = ManagedProcesses(tmp_path / "logs", stop_timeout_seconds=2)
        pids: dict[str, int] = {}

        def failing_body() -> None:
            with processes:
                spawner = processes.start("spawner", [sys.executable, str(script), str(pid_file)])
                pids.update(_wait_for_pids(pid_file, 4))
                assert pids["spawner"] == spawner.pid
                assert all(_alive(pid) for pid in pids.values())
                orphan = psutil.Process(pids["orphan"])
                tree = psutil.Process(spawner.pid)
                deadline = time.monotonic() + 5
                # Until the middle process has exited and the orphan was re-parented out of the tree.
                while orphan in tree.children(recursive=True) and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert orphan not in tree.children(recursive=True)
                assert os.getsid(orphan.pid) != spawner.pid
                assert orphan.environ()[OWNER_ENV_VAR].endswith("/spawner")
                assert set(pids.values()) <= set(processes.owned_pids())
                raise RuntimeError("test body failed")

        with pytest.raises(RuntimeError, match="test body failed"):
            failing_body()
        for pid in pids.values():
            assert not _alive(pid), f"pid {pid} survived"
        assert processes.owned_pids() == []
        # The SIGTERM-ignoring child needed the SIGKILL after the grace period, but no more than that.
        assert time.monotonic() - started < 20

    def test_stop_by_name_leaves_the_others(self, tmp_path: Path) -> None:
        with ManagedProcesses(tmp_path / "logs") as processes:
            keep = processes.start("keep", ["sleep", "300"])
            gone = processes.start("gone", ["sleep", "300"])
            processes.stop("gone")
            assert not _alive(gone.pid)
            assert _alive(keep.pid)
            assert processes.popen("keep") is keep
        assert not _alive(keep.pid)

    def test_name_reuse_only_after_exit(self, tmp_path: Path) -> None:
        with ManagedProcesses(tmp_path / "logs") as processes:
            processes.start("job", ["sh", "-c", "echo run-one; sleep 300"])
            with pytest.raises(ValueError, match="already running"):
                processes.start("job", ["sleep", "1"])
            processes.stop("job")
            again = processes.start("job", ["sh", "-c", "echo run-two"])
            assert again.wait(timeout=10) == 0
            with pytest.raises(ValueError, match="invalid process name"):
                processes.start("../escape", ["true"])
        log = processes.log_path("job").read_text()
        assert "run-one" in log
        assert "run-two" in log

    def test_env_and_cwd_reach_the_process(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DEMO_INHERITED", "yes")
        monkeypatch.setenv("DEMO_DROPPED", "should-not-show")
        with ManagedProcesses(tmp_path / "logs") as processes:
            proc = processes.start(
                "env",
                [
                    "sh",
                    "-c",
                    'echo "value=$DEMO_VALUE inherited=$DEMO_INHERITED dropped=$DEMO_DROPPED cwd=$(pwd)"',
                ],
                env={"DEMO_VALUE": "42"},
                cwd=tmp_path,
                unset_env={"DEMO_DROPPED"},
            )
            assert proc.wait(timeout=10) == 0
        assert f"value=42 inherited=yes dropped= cwd={tmp_path}" in processes.log_path("env").read_text()

    def test_stop_all_twice_is_harmless(self, tmp_path: Path) -> None:
        processes = ManagedProcesses(tmp_path / "logs")
        proc = processes.start("sleeper", ["sleep", "300"])
        processes.stop_all()
        processes.stop_all()
        assert not _alive(proc.pid)


def _import_missing() -> Any:
    import not_installed_module  # type: ignore[import-not-found]

    return not_installed_module


@dataclass
class _FakeEntryPoint:
    name: str
    factory: Callable[[], Any]
    value: str = "fake.module:factory"
    group: str = scenario_module.ENTRY_POINT_GROUP

    def load(self) -> Callable[[], Any]:
        return self.factory


@dataclass
class FakeScenario:
    provider: str
    rows: list[DemoResult] = field(default_factory=list)
    error: Exception | None = None
    seen_pids: list[int] = field(default_factory=list)

    def run(self, workdir: Path, processes: ManagedProcesses, progress: Callable[[str], None]) -> list[DemoResult]:
        assert workdir.is_dir()
        progress(f"{self.provider}: starting the fake cloud")
        self.seen_pids.append(processes.start(f"{self.provider}-cloud", ["sleep", "300"]).pid)
        if self.error is not None:
            raise self.error
        return self.rows


class TestLoadScenarios:
    @pytest.fixture
    def registry(self, monkeypatch: pytest.MonkeyPatch) -> dict[str, _FakeEntryPoint]:
        points = {
            "spark": _FakeEntryPoint("spark", lambda: FakeScenario("spark")),
            "emr": _FakeEntryPoint("emr", lambda: FakeScenario("emr")),
            "broken": _FakeEntryPoint("broken", lambda: object()),
            "missing": _FakeEntryPoint("missing", _import_missing, value="not_installed.demo:scenario"),
        }
        monkeypatch.setattr(scenario_module, "_entry_points_by_name", lambda: dict(points))
        return points

    def test_unknown_name_lists_the_available_ones(self, registry: dict[str, _FakeEntryPoint]) -> None:
        with pytest.raises(UnknownScenarioError) as excinfo:
            load_scenarios(["spark", "databricks", "nope"])
        message = str(excinfo.value)
        assert "databricks, nope" in message
        assert "broken, emr, missing, spark" in message
        assert "airflow_durable.demo" in message

    def test_loads_in_order_and_defaults_to_all(self, registry: dict[str, _FakeEntryPoint]) -> None:
        del registry["broken"], registry["missing"]
        loaded = load_scenarios(["spark", "emr", "spark"])
        assert [s.provider for s in loaded] == ["spark", "emr"]
        assert all(isinstance(s, DemoScenario) for s in loaded)
        assert [s.provider for s in load_scenarios([])] == ["emr", "spark"]

    def test_factory_must_return_a_scenario(self, registry: dict[str, _FakeEntryPoint]) -> None:
        with pytest.raises(ScenarioLoadError, match=r"'broken'.*returned object"):
            load_scenarios(["broken"])

    def test_import_error_names_the_entry_point(self, registry: dict[str, _FakeEntryPoint]) -> None:
        with pytest.raises(ScenarioLoadError, match=r"'missing' \(not_installed\.demo:scenario\).*ModuleNotFound"):
            load_scenarios(["missing"])

    def test_empty_registry_message(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(scenario_module, "_entry_points_by_name", dict)
        with pytest.raises(UnknownScenarioError, match="none \\(install a provider package"):
            load_scenarios(["spark"])

    def test_real_entry_point_group_is_read(self) -> None:
        # The workspace installs airflow-durable-spark, which registers "spark".
        assert "spark" in scenario_module.available_scenarios()


def _row(provider: str, operator: str, durable: int, not_durable: int, **details: Any) -> DemoResult:
    return DemoResult(
        provider=provider,
        operator=operator,
        crash_point="mid-poll (SIGKILL)",
        jobs_durable=durable,
        jobs_not_durable=not_durable,
        result="success, XCom identical",
        seconds=12.345,
        details=details,
    )


class TestDemoCli:
    def _run(
        self, monkeypatch: pytest.MonkeyPatch, scenarios: list[FakeScenario], argv: list[str]
    ) -> tuple[int, list[str]]:
        requested: list[str] = []

        def fake_load(names: list[str]) -> list[FakeScenario]:
            requested.extend(names)
            return scenarios

        monkeypatch.setattr(cli, "load_scenarios", fake_load)
        return cli.main(argv), requested

    def test_table_and_exit_code_zero(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        fake = FakeScenario(
            "spark",
            rows=[
                _row("spark", "DurableSparkSubmitOperator", 1, 2, ok=True),
                _row("spark", "SparkSubmitOperator (upstream)", 1, 2, ok=True),
            ],
        )
        code, requested = self._run(monkeypatch, [fake], ["demo", "spark", "--workdir", str(tmp_path / "w")])
        out = capsys.readouterr().out
        assert code == 0
        assert requested == ["spark"]
        for column in ("provider", "operator", "crash point", "jobs submitted", "result", "seconds"):
            assert column in out
        assert "DurableSparkSubmitOperator" in out
        assert "1 vs 2" in out
        assert "12.3" in out
        assert "UNEXPECTED" not in out
        assert "spark: starting the fake cloud" in out
        assert "Total wall time:" in out
        # The process the scenario started was stopped by the CLI's ManagedProcesses.
        assert fake.seen_pids
        assert not _alive(fake.seen_pids[0])
        # --workdir is kept, with the service logs in it.
        assert (tmp_path / "w" / "spark" / "logs" / "spark-cloud.log").exists()

    def test_unexpected_row_and_crashing_scenario_fail(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        scenarios = [
            FakeScenario("spark", rows=[_row("spark", "DurableSparkSubmitOperator", 2, 2, ok=False)]),
            FakeScenario("emr", error=RuntimeError("moto did not start")),
            FakeScenario("dataproc", rows=[_row("dataproc", "DurableDataprocSubmitJobOperator", 1, 2)]),
        ]
        code, requested = self._run(monkeypatch, scenarios, ["demo", "--workdir", str(tmp_path)])
        out = capsys.readouterr().out
        assert code == 1
        assert requested == []
        assert "UNEXPECTED: success, XCom identical" in out
        assert "2 vs 2" in out
        assert "error: RuntimeError: moto did not start" in out
        # The failure of one provider does not stop the next one from running.
        assert "DurableDataprocSubmitJobOperator" in out
        assert "2 of 3 rows are NOT the expected outcome" in out
        assert all(not _alive(pid) for scenario in scenarios for pid in scenario.seen_pids)

    def test_temporary_workdir_is_removed_unless_kept(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        monkeypatch.setattr(cli.tempfile, "tempdir", str(tmp_path))
        fake = FakeScenario("spark", rows=[_row("spark", "DurableSparkSubmitOperator", 1, 2)])
        assert self._run(monkeypatch, [fake], ["demo"])[0] == 0
        assert list(tmp_path.iterdir()) == []
        assert self._run(monkeypatch, [fake], ["demo", "--keep"])[0] == 0
        kept = list(tmp_path.iterdir())
        assert len(kept) == 1
        assert str(kept[0]) in capsys.readouterr().out

    def test_unknown_provider_is_a_usage_error(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setattr(
            scenario_module,
            "_entry_points_by_name",
            lambda: {"spark": _FakeEntryPoint("spark", lambda: FakeScenario("spark"))},
        )
        assert cli.main(["demo", "nope"]) == 2
        out = capsys.readouterr().out
        assert "unknown demo scenario(s): nope" in out
        assert "spark" in out

    def test_broken_provider_is_a_usage_error(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setattr(
            scenario_module,
            "_entry_points_by_name",
            lambda: {"spark": _FakeEntryPoint("spark", _import_missing, value="not_installed.demo:scenario")},
        )
        assert cli.main(["demo", "spark"]) == 2
        assert "could not be loaded: ModuleNotFoundError" in capsys.readouterr().out

    def test_no_command_prints_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert cli.main([]) == 2
        assert "demo" in capsys.readouterr().out

    def test_plain_table_without_rich(self, capsys: pytest.CaptureFixture[str]) -> None:
        reporter = cli._PlainReporter()
        reporter.table([_row("spark", "DurableSparkSubmitOperator", 1, 3), _row("emr", "X", 3, 3, ok=False)])
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split("  ")[0] == "provider"
        assert set(lines[1]) <= {"-", " "}
        assert "1 vs 3" in lines[2]
        assert "UNEXPECTED" in lines[3]
        assert cli.table_rows([_row("emr", "X", 1, 2)])[0] == (
            "emr",
            "X",
            "mid-poll (SIGKILL)",
            "1 vs 2",
            "success, XCom identical",
            "12.3",
        )


@dataclass
class SharedServiceScenario:
    """Starts a service under a name every provider's demo uses (the Airflow stack does)."""

    provider: str
    pids: list[int] = field(default_factory=list)

    def run(self, workdir: Path, processes: ManagedProcesses, progress: Callable[[str], None]) -> list[DemoResult]:
        self.pids.append(processes.start("airflow-api-server", ["sleep", "300"]).pid)
        return [_row(self.provider, "Op", 1, 2, ok=True)]


def test_each_provider_gets_its_own_services(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Two providers both start 'airflow-api-server': the first one's is stopped before the second runs."""
    first, second = SharedServiceScenario("databricks"), SharedServiceScenario("spark")
    monkeypatch.setattr(cli, "load_scenarios", lambda names: [first, second])
    code = cli.main(["demo", "--workdir", str(tmp_path / "w")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "All 2 rows are the expected outcome." in out
    assert not _alive(first.pids[0])
    assert not _alive(second.pids[0])
