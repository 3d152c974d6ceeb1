"""What the EMR on EKS tests share: the emulator behind an Airflow AWS connection, and the operator's arguments."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

from airflow_durable.testing import EmulatorSystem
from airflow_durable_emr.testing import EmrContainersEmulator, emr_connection_env

CONN_ID = "emr_containers_test"
REGION = "us-east-1"
JOB_DRIVER = {"sparkSubmitJobDriver": {"entryPoint": "s3://bucket/app.py", "sparkSubmitParameters": "--conf x=1"}}
RELEASE_LABEL = "emr-7.1.0-latest"
ROLE_ARN = "arn:aws:iam::123456789012:role/emr-on-eks"


def aws_isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Keep the machine's AWS configuration (variables, ~/.aws) out of the test."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))


@pytest.fixture
def containers(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[EmrContainersEmulator]:
    """A started EMR on EKS emulator, with connection ``CONN_ID`` pointing at it."""
    aws_isolated(monkeypatch, tmp_path)
    with (
        EmrContainersEmulator() as emulator,
        mock.patch.dict(os.environ, emr_connection_env(CONN_ID, region_name=REGION, emr_containers=emulator.url)),
    ):
        emulator.reset()  # moto's backends are per process: start without an earlier test's virtual clusters
        yield emulator


@pytest.fixture
def containers_system(containers: EmrContainersEmulator) -> EmulatorSystem:
    """The emulator as the contract suite sees it."""
    return EmulatorSystem(containers)


def operator_kwargs(virtual_cluster_id: str, **overrides: Any) -> dict[str, Any]:
    """Our operator's (and upstream's) arguments against the emulator; ``overrides`` win."""
    kwargs: dict[str, Any] = {
        "name": "nightly-etl",
        "virtual_cluster_id": virtual_cluster_id,
        "execution_role_arn": ROLE_ARN,
        "release_label": RELEASE_LABEL,
        "job_driver": JOB_DRIVER,
        "aws_conn_id": CONN_ID,
        "poll_interval": 0,
        "botocore_config": {"retries": {"total_max_attempts": 1}},
    }
    kwargs.update(overrides)
    return kwargs
