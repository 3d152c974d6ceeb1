"""The production-shaped stack's pieces that need no running service: configuration, routing policy,
worker layout, Debian package checks, and the CLI's ``--stack celery`` path (with a fake stack)."""

from __future__ import annotations

import os
import runpy
import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest

from airflow_durable import cli
from airflow_durable.demo import celery_stack, debian, runner
from airflow_durable.demo.celery_stack import PINNED_QUEUE, CeleryStack
from airflow_durable.demo.debian import DebianInstallError, ensure_debian_packages
from airflow_durable.demo.processes import ManagedProcesses
from demo_fakes import FakeCeleryStack, FakeProvider, FakeStack

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def _stack(tmp_path: Path, **kwargs: object) -> CeleryStack:
    return CeleryStack(tmp_path / "home", tmp_path, ManagedProcesses(tmp_path / "logs"), **kwargs)  # type: ignore[arg-type]


class TestCeleryStackConfiguration:
    def test_env_selects_celery_postgres_and_redis(self, tmp_path: Path) -> None:
        stack = _stack(tmp_path, concurrency=3)
        env = stack.env
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
            f"postgresql+psycopg2://airflow@127.0.0.1:{stack.postgres.port}/airflow"
        )
        assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://127.0.0.1:{stack.redis.port}/0"
        assert (
            env["AIRFLOW__CELERY__RESULT_BACKEND"] == f"db+postgresql://airflow@127.0.0.1:{stack.postgres.port}/airflow"
        )
        assert env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == "3"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW"] == "10"  # Airflow's default, for 6 slots
        # The base stack's heartbeat tuning is kept: it is what detects the killed worker.
        assert env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"] == str(stack.heartbeat_timeout_seconds)
        assert len({stack.port, stack.postgres.port, stack.redis.port, stack.log_server_port}) == 4

    def test_connections_grow_with_the_task_slots(self, tmp_path: Path) -> None:
        stack = _stack(tmp_path, workers=2, concurrency=48)
        assert stack.env["AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW"] == "96"
        assert stack.postgres.server_settings()["max_connections"] == str(100 + 2 * 96)
        assert _stack(tmp_path, concurrency=4).postgres.server_settings()["max_connections"] == "200"

    def test_postgres_settings_reach_the_server_after_the_built_in_ones(self, tmp_path: Path) -> None:
        plain = _stack(tmp_path).postgres.server_settings()
        assert plain["fsync"] == "off"
        assert "shared_preload_libraries" not in plain
        settings = {"shared_preload_libraries": "pg_stat_statements", "max_connections": "300"}
        tuned = _stack(tmp_path, postgres_settings=settings).postgres.server_settings()
        assert tuned == {**plain, **settings}
        assert list(tuned)[-1] == "shared_preload_libraries"

    def test_every_worker_serves_default_without_pinned_tasks(self, tmp_path: Path) -> None:
        stack = _stack(tmp_path, workers=3)
        assert stack.worker_processes == [f"airflow-celery-worker-{i}" for i in (1, 2, 3)]
        assert [stack.queues_of(worker) for worker in stack.worker_processes] == [["default"]] * 3
        assert set(stack.worker_processes) <= set(stack.service_processes)

    def test_only_the_last_worker_serves_the_pinned_queue(self, tmp_path: Path) -> None:
        stack = _stack(tmp_path, workers=2, pinned_tasks=[("dag", "uninterrupted")])
        assert [stack.queues_of(worker) for worker in stack.worker_processes] == [["default"], [PINNED_QUEUE]]

    def test_pinned_tasks_need_a_second_worker(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="need at least 2"):
            _stack(tmp_path, workers=1, pinned_tasks=[("dag", "uninterrupted")])
        with pytest.raises(ValueError, match="need at least 1"):
            _stack(tmp_path, workers=0)

    def test_task_policy_routes_only_the_pinned_tasks(self, tmp_path: Path) -> None:
        stack = _stack(tmp_path, pinned_tasks=[("dag_a", "uninterrupted"), ("dag_b", "baseline")])
        policy = stack.write_task_policy()
        assert policy == stack.home / "config" / "airflow_local_settings.py"
        task_policy = runpy.run_path(str(policy))["task_policy"]
        tasks = {
            (dag, task): SimpleNamespace(dag_id=dag, task_id=task, queue="default")
            for dag, task in [
                ("dag_a", "uninterrupted"),
                ("dag_b", "baseline"),
                ("dag_a", "baseline"),
                ("x", "durable"),
            ]
        }
        for task in tasks.values():
            task_policy(task)
        assert {key: task.queue for key, task in tasks.items()} == {
            ("dag_a", "uninterrupted"): PINNED_QUEUE,
            ("dag_b", "baseline"): PINNED_QUEUE,
            ("dag_a", "baseline"): "default",
            ("x", "durable"): "default",
        }
        # Without pinned tasks no policy is left behind from an earlier start.
        _stack(tmp_path).write_task_policy()
        assert not policy.exists()

    def test_worker_preload_imports_the_modules_only_in_a_celery_worker(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        stack = _stack(tmp_path, pinned_tasks=[("dag", "uninterrupted")], worker_preload=["colorsys", "colorsys"])
        settings = stack.write_task_policy()
        monkeypatch.delitem(sys.modules, "colorsys", raising=False)
        monkeypatch.setattr(sys, "argv", ["airflow", "scheduler"])
        namespace = runpy.run_path(str(settings))
        assert "colorsys" not in sys.modules
        assert "task_policy" in namespace  # the pinned-task policy is still there
        monkeypatch.setattr(sys, "argv", ["airflow", "celery", "worker", "--queues", "default"])
        preload = runpy.run_path(str(settings))["_preload"]
        assert "colorsys" not in sys.modules  # not yet: on Celery's worker_init signal, before the pool forks
        from celery.signals import worker_init

        try:
            worker_init.send(sender=None)
            assert "colorsys" in sys.modules
        finally:
            worker_init.disconnect(preload)
        # Preload alone, no pinned task: the file holds no policy.
        alone = _stack(tmp_path, worker_preload=["colorsys"]).write_task_policy()
        assert "task_policy" not in runpy.run_path(str(alone))


class TestEnsureDebianPackages:
    def test_nothing_to_do_when_every_probe_exists(self, tmp_path: Path) -> None:
        (tmp_path / "bin-1").mkdir()
        report = ensure_debian_packages({"coreutils": "sh", "x": str(tmp_path / "bin-*")}, progress=pytest.fail)
        assert (report.installed, report.seconds) == ((), 0.0)

    def test_missing_package_without_root_names_the_command(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setattr(debian.os, "geteuid", lambda: 1000)
        with pytest.raises(DebianInstallError, match=r"apt-get install -y --no-install-recommends no-such-pkg"):
            ensure_debian_packages({"no-such-pkg": str(tmp_path / "nothing-here"), "coreutils": "sh"})

    def test_a_failing_apt_get_is_reported_with_its_output(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        fake_apt = tmp_path / "apt-get"
        fake_apt.write_text('#!/bin/sh\necho "E: Unable to locate package $*" >&2\nexit 100\n')
        fake_apt.chmod(0o755)
        monkeypatch.setattr(debian.os, "geteuid", lambda: 0)
        monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
        with pytest.raises(DebianInstallError, match="exited with 100") as raised:
            ensure_debian_packages({"no-such-pkg": str(tmp_path / "nothing-here")}, progress=lambda _: None)
        assert "Unable to locate package" in str(raised.value)


@pytest.fixture
def fake_celery(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(runner, "AirflowStack", FakeStack)
    monkeypatch.setattr(celery_stack, "CeleryStack", FakeCeleryStack)
    FakeStack.instances.clear()
    FakeStack.fail_start = None
    FakeStack.dag_run_state = "running"
    yield
    FakeStack.instances.clear()


@pytest.mark.usefixtures("fake_celery")
class TestStackSelection:
    def test_cli_stack_celery_pins_each_baseline_and_crashes_through_the_stack(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        fake = FakeProvider("spark", tmp_path / "examples")
        monkeypatch.setattr(cli, "load_providers", lambda names: [fake])
        code = cli.main(["demo", "--stack", "celery", "--workdir", str(tmp_path / "w")])
        out = capsys.readouterr().out
        assert code == 0, out
        [stack] = FakeStack.instances
        assert isinstance(stack, FakeCeleryStack)
        assert stack.workers == 2
        assert stack.pinned_tasks == [(fake.dag_id, fake.baseline_task)]
        # One worker runs every crashed task of a provider at once.
        assert stack.concurrency >= len(fake.task_ids) - 1
        crashed = [task for task in fake.task_ids if task != fake.baseline_task]
        assert stack.killed == [(fake.dag_id, task) for task in crashed]
        assert "SIGKILL the whole worker (fake)" in out
        assert "on Celery (fake)" in out  # the table's crash point says which crash it was

    def test_local_is_the_default(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setattr(cli, "load_providers", lambda names: [FakeProvider("spark", tmp_path / "examples")])
        assert cli.main(["demo", "--workdir", str(tmp_path / "w")]) == 0
        [stack] = FakeStack.instances
        assert type(stack) is FakeStack

    def test_unknown_stack_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(SystemExit) as exited:
            cli.main(["demo", "--stack", "kubernetes"])
        assert exited.value.code == 2
        with pytest.raises(ValueError, match="unknown stack 'nope'"):
            runner.start_shared_stack([], tmp_path, ManagedProcesses(tmp_path / "logs"), print, stack="nope")
