"""Each emulator's state vocabulary and job IDs agree with its operator's status table and ID check.

An emulator that answered a status its operator does not list, or classified a status differently, would
make the contract suite prove the wrong thing; so would IDs the operator refuses.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from airflow_durable import DurableJobMixin, JobState
from airflow_durable.testing.emulator import Emulator

PAIRS = [
    (
        "airflow_durable_spark.testing.emulator:SparkMasterEmulator",
        "airflow_durable_spark.operators:DurableSparkSubmitOperator",
    ),
    (
        "airflow_durable_databricks.testing.emulator:DatabricksJobsEmulator",
        "airflow_durable_databricks.operators:DurableDatabricksSubmitRunOperator",
    ),
    (
        "airflow_durable_databricks.testing.emulator:DatabricksJobsEmulator",
        "airflow_durable_databricks.operators:DurableDatabricksRunNowOperator",
    ),
    (
        "airflow_durable_emr.testing.emulator:EmrStepsEmulator",
        "airflow_durable_emr.operators:DurableEmrAddStepsOperator",
    ),
    (
        "airflow_durable_emr.testing.emulator:EmrServerlessEmulator",
        "airflow_durable_emr.operators:DurableEmrServerlessStartJobOperator",
    ),
    (
        "airflow_durable_emr.testing.emulator:EmrContainersEmulator",
        "airflow_durable_emr.operators:DurableEmrContainerOperator",
    ),
]
PAIRS += [
    (
        "airflow_durable_dataproc.testing.emulator:DataprocJobEmulator",
        "airflow_durable_dataproc.operators:DurableDataprocSubmitJobOperator",
    ),
    (
        "airflow_durable_dataproc.testing.emulator:DataprocBatchEmulator",
        "airflow_durable_dataproc.operators:DurableDataprocCreateBatchOperator",
    ),
]
MOTO_BACKED = {"EmrStepsEmulator", "EmrServerlessEmulator", "EmrContainersEmulator"}
"""Emulators whose IDs come from moto at creation (``new_job_id`` runs a pending create): checked by
:func:`test_emr_emulator_ids_pass_the_operators_id_check` with real creates."""


def _load(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


@pytest.fixture(params=PAIRS, ids=lambda pair: pair[1].rpartition(":")[2])
def pair(request: pytest.FixtureRequest) -> tuple[type[Emulator[Any]], type[DurableJobMixin]]:
    emulator, operator = request.param
    return _load(emulator), _load(operator)


def test_every_emulator_state_means_the_same_to_the_operator(
    pair: tuple[type[Emulator[Any]], type[DurableJobMixin]],
) -> None:
    emulator, operator = pair
    table = operator.status_table
    assert table is not None, f"{operator.__name__} has no status table"
    disagreements = {
        state: (meaning, table.classify(state))
        for state, meaning in emulator.states.items()
        if table.classify(state) is not meaning
    }
    assert disagreements == {}
    assert set(emulator.representative_states) == set(JobState)
    for meaning, state in emulator.representative_states.items():
        assert emulator.states[state] is meaning


def test_emulator_ids_pass_the_operators_id_check(pair: tuple[type[Emulator[Any]], type[DurableJobMixin]]) -> None:
    import re

    emulator_class, operator = pair
    if emulator_class.__name__ in MOTO_BACKED:
        pytest.skip("IDs are created by moto: see test_emr_emulator_ids_pass_the_operators_id_check")
    emulator = emulator_class()
    ids = [emulator.new_job_id() for _ in range(3)]
    assert all(re.fullmatch(emulator.id_pattern.strip("^$"), str(i)) for i in ids), ids
    check = operator.validate_external_id
    for job_id in ids:
        assert check(operator.__new__(operator), job_id) == job_id


def test_spark_emulator_reads_the_token_where_the_operator_puts_it() -> None:
    from airflow_durable_spark.operators import TOKEN_CONF_KEY
    from airflow_durable_spark.testing.emulator import TOKEN_PROPERTY

    assert TOKEN_PROPERTY == TOKEN_CONF_KEY


def test_emr_emulator_ids_pass_the_operators_id_check() -> None:
    """One real create per EMR API through boto3; the external ID the emulator books passes the operator's check."""
    import re

    import boto3

    from airflow_durable_emr.operators import (
        DurableEmrAddStepsOperator,
        DurableEmrContainerOperator,
        DurableEmrServerlessStartJobOperator,
    )
    from airflow_durable_emr.testing import EmrContainersEmulator, EmrServerlessEmulator, EmrStepsEmulator

    def client(service: str, url: str) -> Any:
        return boto3.client(
            service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
        )

    role = "arn:aws:iam::123456789012:role/emr"
    with EmrStepsEmulator() as emulator:
        cluster = emulator.create_cluster(name="vocabulary")
        step = {"Name": "s", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": []}}
        client("emr", emulator.url).add_job_flow_steps(JobFlowId=cluster, Steps=[step, step])
        [job] = emulator.jobs
        assert re.fullmatch(emulator.id_pattern.strip("^$"), job.external_id)
        operator: Any = DurableEmrAddStepsOperator
        assert operator.validate_external_id(operator.__new__(operator), job.external_id) == job.external_id
        emulator.reset()
    with EmrServerlessEmulator() as emulator:
        app = emulator.create_application(state="STARTED")
        client("emr-serverless", emulator.url).start_job_run(
            applicationId=app,
            executionRoleArn=role,
            jobDriver={"sparkSubmit": {"entryPoint": "s3://b/j.py"}},
            clientToken="t",
        )
        [job] = emulator.jobs
        assert re.fullmatch(emulator.id_pattern.strip("^$"), job.external_id)
        operator = DurableEmrServerlessStartJobOperator
        assert operator.validate_external_id(operator.__new__(operator), job.external_id) == job.external_id
        emulator.reset()
    with EmrContainersEmulator() as emulator:
        virtual_cluster = emulator.create_virtual_cluster()
        client("emr-containers", emulator.url).start_job_run(
            virtualClusterId=virtual_cluster,
            name="n",
            executionRoleArn=role,
            releaseLabel="emr-7.0.0-latest",
            jobDriver={"sparkSubmitJobDriver": {"entryPoint": "s3://b/j.py"}},
            clientToken="t",
        )
        [job] = emulator.jobs
        assert re.fullmatch(emulator.id_pattern.strip("^$"), job.external_id)
        operator = DurableEmrContainerOperator
        assert operator.validate_external_id(operator.__new__(operator), job.external_id) == job.external_id
        emulator.reset()
