"""One real Airflow 3.3 stack for every provider's end-to-end crash test, as ``airflow-durable demo`` runs it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from airflow_durable.demo.celery_stack import CeleryStack
from airflow_durable.demo.processes import ManagedProcesses
from airflow_durable.demo.registry import load_providers
from airflow_durable.demo.runner import start_shared_stack
from airflow_durable_databricks.demo.scenario import DatabricksDemo
from airflow_durable_dataproc.demo.scenario import DataprocBatchesDemo, DataprocJobsDemo
from airflow_durable_emr.demo.scenario import EmrContainersDemo, EmrServerlessDemo, EmrStepsDemo
from airflow_durable_spark.demo.scenario import SparkDemo
from airflow_durable_spark.demo.scenario_kubernetes import SparkKubernetesDemo
from airflow_durable_spark.demo.scenario_yarn import SparkYarnDemo

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from airflow_durable.demo.airflow_stack import AirflowStack
    from airflow_durable.demo.provider import DemoProvider


@dataclass
class DemoStack:
    """The shared stack, the demo directory it was started for, and the providers it serves."""

    stack: AirflowStack
    workdir: Path
    providers: dict[str, DemoProvider[Any]]


@pytest.fixture(scope="session")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    providers: dict[str, DemoProvider[Any]] = {"databricks": DatabricksDemo(), "spark": SparkDemo(driver_seconds=30)}
    providers.update((demo.name, demo) for demo in (EmrStepsDemo(), EmrServerlessDemo(), EmrContainersDemo()))
    providers.update((demo.name, demo) for demo in (DataprocJobsDemo(), DataprocBatchesDemo()))
    providers.update((demo.name, demo) for demo in (SparkYarnDemo(), SparkKubernetesDemo()))
    workdir = tmp_path_factory.mktemp("demo")
    with ManagedProcesses(workdir / "logs") as processes:
        stack = start_shared_stack(list(providers.values()), workdir, processes, print)
        with stack:
            yield DemoStack(stack, workdir, providers)
        assert processes.owned_pids() == [], "processes left after the stack stopped"


@pytest.fixture(scope="module")
def celery_demo_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    """The production-shaped stack (Postgres, CeleryExecutor, Redis, two Celery workers).

    ``request.param`` names the demo providers (entry points, as ``airflow-durable demo`` loads them).
    """
    names: Sequence[str] = request.param
    providers = {provider.name: provider for provider in load_providers(names)}
    workdir = tmp_path_factory.mktemp("celery-demo")
    with ManagedProcesses(workdir / "logs") as processes:
        started = time.monotonic()
        stack = start_shared_stack(list(providers.values()), workdir, processes, print, stack="celery")
        assert isinstance(stack, CeleryStack)
        report = stack.install_report
        installed = ", ".join(report.installed) if report and report.installed else "nothing missing"
        print(
            f"celery stack: Debian install {report.seconds if report else 0.0:.1f} s ({installed}); "
            f"Postgres ready in {stack.postgres.start_seconds or 0.0:.1f} s; "
            f"whole stack up in {time.monotonic() - started:.1f} s"
        )
        with stack:
            yield DemoStack(stack, workdir, providers)
        assert processes.owned_pids() == [], "processes left after the stack stopped"
