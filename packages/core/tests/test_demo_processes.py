"""Tests of the demo plumbing: ManagedProcesses, load_providers and the ``airflow-durable demo`` table."""

from __future__ import annotations

import os
import re
import sys
import textwrap
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psutil
import pytest

from airflow_durable import cli
from airflow_durable.demo import registry as registry_module
from airflow_durable.demo import runner
from airflow_durable.demo.outcome import DemoResult
from airflow_durable.demo.processes import OWNER_ENV_VAR, ManagedProcesses
from airflow_durable.demo.provider import DemoProvider
from airflow_durable.demo.registry import (
    ProviderLoadError,
    UnknownProviderError,
    load_providers,
)
from demo_fakes import FakeProvider, FakeStack
from demo_fakes import alive as _alive

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


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

    def test_wait_for_port_file(self, tmp_path: Path) -> None:
        port_file = tmp_path / "server.port"
        with ManagedProcesses(tmp_path / "logs") as processes:
            processes.start(
                "server",
                ["sh", "-c", f"sleep 0.3; echo 4242 > {port_file}.tmp; mv {port_file}.tmp {port_file}; sleep 300"],
            )
            assert processes.wait_for_port_file("server", port_file, timeout_seconds=10) == 4242
            processes.start("quitter", ["sh", "-c", "echo bind failed; exit 3"])
            with pytest.raises(RuntimeError, match=r"quitter exited with 3 before writing(?s:.*)bind failed"):
                processes.wait_for_port_file("quitter", tmp_path / "never.port", timeout_seconds=10)
            processes.start("silent", ["sleep", "300"])
            with pytest.raises(TimeoutError, match="silent did not write"):
                processes.wait_for_port_file("silent", tmp_path / "never.port", timeout_seconds=0.3)


def _import_missing() -> Any:
    import not_installed_module  # type: ignore[import-not-found]

    return not_installed_module


@dataclass
class _FakeEntryPoint:
    name: str
    factory: Callable[[], Any]
    value: str = "fake.module:factory"
    group: str = registry_module.ENTRY_POINT_GROUP

    def load(self) -> Callable[[], Any]:
        return self.factory


class TestLoadProviders:
    @pytest.fixture
    def registry(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, _FakeEntryPoint]:
        points = {
            "spark": _FakeEntryPoint("spark", lambda: FakeProvider("spark", tmp_path)),
            "emr": _FakeEntryPoint("emr", lambda: FakeProvider("emr", tmp_path)),
            "broken": _FakeEntryPoint("broken", lambda: object()),
            "missing": _FakeEntryPoint("missing", _import_missing, value="not_installed.demo:scenario"),
        }
        monkeypatch.setattr(registry_module, "_entry_points_by_name", lambda: dict(points))
        return points

    def test_unknown_name_lists_the_available_ones(self, registry: dict[str, _FakeEntryPoint]) -> None:
        with pytest.raises(UnknownProviderError) as excinfo:
            load_providers(["spark", "databricks", "nope"])
        message = str(excinfo.value)
        assert "databricks, nope" in message
        assert "broken, emr, missing, spark" in message
        assert "airflow_durable.demo" in message

    def test_loads_in_order_and_defaults_to_all(self, registry: dict[str, _FakeEntryPoint]) -> None:
        del registry["broken"], registry["missing"]
        loaded = load_providers(["spark", "emr", "spark"])
        assert [p.name for p in loaded] == ["spark", "emr"]
        assert all(isinstance(p, DemoProvider) for p in loaded)
        assert [p.name for p in load_providers([])] == ["emr", "spark"]

    def test_factory_must_return_a_provider(self, registry: dict[str, _FakeEntryPoint]) -> None:
        with pytest.raises(ProviderLoadError, match=r"'broken'.*returned object"):
            load_providers(["broken"])

    def test_import_error_names_the_entry_point(self, registry: dict[str, _FakeEntryPoint]) -> None:
        with pytest.raises(ProviderLoadError, match=r"'missing' \(not_installed\.demo:scenario\).*ModuleNotFound"):
            load_providers(["missing"])

    def test_empty_registry_message(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(registry_module, "_entry_points_by_name", dict)
        with pytest.raises(UnknownProviderError, match="none \\(install a provider package"):
            load_providers(["spark"])

    def test_real_entry_point_group_is_read(self) -> None:
        # The workspace installs airflow-durable-spark and -databricks, which register their demos.
        assert {"databricks", "spark"} <= set(registry_module.available_providers())
        assert {p.name for p in load_providers(["databricks", "spark"])} == {"databricks", "spark"}


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


@pytest.fixture
def fake_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeStack]]:
    """Every stack the runner starts is a :class:`FakeStack`."""
    monkeypatch.setattr(runner, "AirflowStack", FakeStack)
    FakeStack.instances.clear()
    FakeStack.fail_start = None
    FakeStack.dag_run_state = "running"
    yield FakeStack
    FakeStack.instances.clear()
    FakeStack.fail_start = None


@pytest.mark.usefixtures("fake_stack")
class TestDemoCli:
    def _run(
        self, monkeypatch: pytest.MonkeyPatch, providers: list[FakeProvider], argv: list[str]
    ) -> tuple[int, list[str]]:
        requested: list[str] = []

        def fake_load(names: list[str]) -> list[FakeProvider]:
            requested.extend(names)
            return providers

        monkeypatch.setattr(cli, "load_providers", fake_load)
        return cli.main(argv), requested

    def test_table_and_exit_code_zero(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        fake = FakeProvider("spark", tmp_path / "examples")
        code, requested = self._run(monkeypatch, [fake], ["demo", "spark", "--workdir", str(tmp_path / "w")])
        out = capsys.readouterr().out
        assert code == 0, out
        assert requested == ["spark"]
        for column in ("provider", "operator", "crash point", "jobs submitted", "result", "seconds"):
            assert column in out
        assert "DurableFakeOperator" in out
        assert "1 vs 2" in out
        assert re.search(r"XCom = uninterrupted run's +│ +\d+\.\d +│", out), out
        assert "UNEXPECTED" not in out
        assert "spark: starting the fake cloud" in out
        assert "Total wall time:" in out
        # The process the provider started was stopped by PID, and so was the stack.
        assert fake.seen_pids
        assert not _alive(fake.seen_pids[0])
        [stack] = FakeStack.instances
        assert stack.api_server_pid is not None
        assert not _alive(stack.api_server_pid)
        # --workdir is kept, with the provider's service logs in its own directory.
        assert (tmp_path / "w" / "spark" / "logs" / "spark-cloud.log").exists()
        assert (tmp_path / "w" / "logs" / "airflow-api-server.log").exists()

    def test_unexpected_row_and_crashing_provider_fail(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        providers = [
            FakeProvider(
                "spark", tmp_path, jobs={"durable": ["a", "b"], "not_durable": ["c", "d"], "uninterrupted": ["e"]}
            ),
            FakeProvider("emr", tmp_path, error=RuntimeError("moto did not start")),
            FakeProvider("dataproc", tmp_path),
        ]
        providers[2].operator = "DurableDataprocSubmitJobOperator"
        code, requested = self._run(monkeypatch, providers, ["demo", "--workdir", str(tmp_path)])
        out = capsys.readouterr().out
        assert code == 1
        assert requested == []
        assert "UNEXPECTED: dag run success; XCom = uninterrupted run's" in out
        assert "2 vs 2" in out
        assert "error: RuntimeError: moto did not start" in out
        assert "demo emr failed:" in out  # with its traceback
        # The failure of one provider does not stop the next one from running.
        assert "DurableDataprocSubmitJobOperator" in out
        assert "2 of 3 rows are NOT the expected outcome" in out
        assert all(not _alive(pid) for provider in providers for pid in provider.seen_pids)

    def test_temporary_workdir_is_removed_unless_kept(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        monkeypatch.setattr(cli.tempfile, "tempdir", str(tmp_path / "tmp"))
        (tmp_path / "tmp").mkdir()
        fake = FakeProvider("spark", tmp_path / "examples")
        assert self._run(monkeypatch, [fake], ["demo"])[0] == 0
        assert list((tmp_path / "tmp").iterdir()) == []
        assert self._run(monkeypatch, [fake], ["demo", "--keep"])[0] == 0
        kept = list((tmp_path / "tmp").iterdir())
        assert len(kept) == 1
        assert str(kept[0]) in capsys.readouterr().out

    def test_unknown_provider_is_a_usage_error(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        monkeypatch.setattr(
            registry_module,
            "_entry_points_by_name",
            lambda: {"spark": _FakeEntryPoint("spark", lambda: FakeProvider("spark", tmp_path))},
        )
        assert cli.main(["demo", "nope"]) == 2
        out = capsys.readouterr().out
        assert "unknown demo provider(s): nope" in out
        assert "spark" in out

    def test_broken_provider_is_a_usage_error(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setattr(
            registry_module,
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

    def test_a_failed_stack_fails_every_provider(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        FakeStack.fail_start = TimeoutError("Airflow did not become healthy")
        providers = [FakeProvider("databricks", tmp_path), FakeProvider("spark", tmp_path)]
        code, _ = self._run(monkeypatch, providers, ["demo", "--workdir", str(tmp_path / "w")])
        out = capsys.readouterr().out
        assert code == 1
        assert out.count("error: TimeoutError: Airflow did not become healthy") == 2
        # No provider's external system was started.
        assert all(not provider.seen_pids for provider in providers)


def test_one_stack_serves_every_provider(
    fake_stack: type[FakeStack], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """One migrate + api-server + scheduler for all; each provider's cloud is stopped before the next starts."""
    first = FakeProvider("databricks", tmp_path / "examples", env={"SHARED": "same"})
    second = FakeProvider("spark", tmp_path / "examples", env={"SHARED": "same"}, others=[first])
    monkeypatch.setattr(cli, "load_providers", lambda names: [first, second])
    code = cli.main(["demo", "--workdir", str(tmp_path / "w")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "All 2 rows are the expected outcome." in out
    [stack] = fake_stack.instances
    assert stack.starts == 1
    # Every example DAG is in the DAGs folder before the stack starts, and every task env is set.
    assert stack.dags == ["databricks_dag.py", "spark_dag.py"]
    assert stack.extra_env == {
        "SHARED": "same",
        "DATABRICKS_WORKDIR": str(tmp_path / "w" / "databricks"),
        "SPARK_WORKDIR": str(tmp_path / "w" / "spark"),
    }
    # Each provider's connection is written into the stack once its system runs.
    assert set(stack.connections) == {"databricks_conn", "spark_conn"}
    # Both crash-case tasks were killed in each DAG, and each durable retry's decision was awaited.
    assert stack.killed == [
        (f"{name}_dag", task) for name in ("databricks", "spark") for task in ("durable", "not_durable")
    ]
    assert stack.patterns == [("durable", 2, r"decision.{0,4}reconnect")] * 2
    assert first.seen_pids
    assert second.seen_pids
    assert second.alive_at_start == []
    assert not _alive(first.seen_pids[0])
    assert not _alive(second.seen_pids[0])
