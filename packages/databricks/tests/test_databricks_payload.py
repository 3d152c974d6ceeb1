"""The request the durable Databricks operators send and the arguments they take, against upstream's.

Payloads are compared with what ``airflow.providers.databricks`` 7.23 builds for the same arguments; every
vendor call goes to the Jobs API emulator through the operators' real ``databricks-sdk`` client.
"""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from airflow.providers.databricks.operators import databricks as upstream
from airflow.providers.databricks.utils import databricks as upstream_utils
from airflow.sdk.exceptions import AirflowException
from tenacity import stop_after_attempt, stop_after_delay, stop_any, wait_fixed, wait_incrementing

from airflow_durable.testing import InMemoryTaskStateStore, TaskInstanceRun, TryOutcome
from airflow_durable.tokens import TaskInstanceScope
from airflow_durable_databricks import payload
from airflow_durable_databricks.operators import DurableDatabricksRunNowOperator, DurableDatabricksSubmitRunOperator
from airflow_durable_databricks.payload import DatabricksPayloadError
from airflow_durable_databricks.retries import retry_timeout_seconds
from airflow_durable_databricks.testing import DatabricksJobsEmulator
from airflow_durable_databricks.testing.contract import databricks_connection_env

CONN_ID = "databricks_payload"
BARE_CONN_ID = "databricks_payload_bare"  # no retry_timeout_seconds extra: the operator's budget applies
NEW_CLUSTER = {"spark_version": "15.4.x", "node_type_id": "i3.xlarge", "num_workers": 2, "enable_elastic_disk": True}
NOTEBOOK = {"notebook_path": "/Users/me/nb"}
OL_HELPERS = "airflow.providers.databricks.utils.openlineage"
BAD_TYPE = r"Type <class 'datetime.datetime'> used for parameter json\[when\] is not a number or a string"


@pytest.fixture
def emulator(isolated_databricks_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[DatabricksJobsEmulator]:
    with DatabricksJobsEmulator(polls_to_finish=1) as emu:
        env = {**databricks_connection_env(CONN_ID, emu.url, retry_timeout_seconds=20)}
        env.update(databricks_connection_env(BARE_CONN_ID, emu.url))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield emu


def run_try(store: InMemoryTaskStateStore, operator: Any) -> TryOutcome:
    return TaskInstanceRun(store, TaskInstanceScope("dag", "run", operator.task_id, -1)).run_try(operator)


def submit(**kwargs: Any) -> DurableDatabricksSubmitRunOperator:
    kwargs.setdefault("databricks_conn_id", CONN_ID)
    return DurableDatabricksSubmitRunOperator(task_id="t", polling_period_seconds=0, **kwargs)


def run_now(**kwargs: Any) -> DurableDatabricksRunNowOperator:
    kwargs.setdefault("databricks_conn_id", CONN_ID)
    return DurableDatabricksRunNowOperator(task_id="t", polling_period_seconds=0, **kwargs)


def sent(emulator: DatabricksJobsEmulator) -> dict[str, Any]:
    """The one run's body as the emulator received it, without the derived token."""
    [run] = emulator.runs
    body = dict(run.request)
    body.pop("idempotency_token", None)
    return body


def nothing_happened(emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore) -> bool:
    return not emulator.runs and store.writes == []


# ---------------------------------------------------------------------- 1. the body is upstream's


SUBMIT_CASES: list[dict[str, Any]] = [
    {"new_cluster": NEW_CLUSTER, "notebook_task": NOTEBOOK, "timeout_seconds": 3600},
    {"json": {"new_cluster": NEW_CLUSTER, "notebook_task": NOTEBOOK, "run_name": "x"}, "new_cluster": {"n": 9}},
    {"json": '{"tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "/a"}}], "timeout_seconds": 5}'},
    {"tasks": [{"task_key": "a", "spark_jar_task": {"main_class_name": "M"}, "max_retries": 3}], "params": {}},
    {"notebook_task": NOTEBOOK, "new_cluster": NEW_CLUSTER, "params": {"env": "prod", "n": 3, "skip": None}},
    {"tasks": [{"task_key": "w", "python_wheel_task": {"package_name": "p"}}], "params": {"env": "prod"}},
    {"notebook_task": {**NOTEBOOK, "base_parameters": {"x": "1"}}, "params": {"env": "prod"}},
    {"dbt_task": {"commands": ["dbt run"]}, "git_source": {"git_url": "u", "git_provider": "github"}},
]


@pytest.mark.parametrize("kwargs", SUBMIT_CASES)
def test_submit_sends_upstreams_normalised_body(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, kwargs: dict[str, Any]
) -> None:
    ours, theirs = submit(**copy.deepcopy(kwargs)), upstream.DatabricksSubmitRunOperator(task_id="t", **kwargs)
    assert ours._get_merged_json() == theirs._get_merged_json()
    expected = theirs._prepare_submit_json({})  # no vendor call without a pipeline_name
    outcome = run_try(store, ours)
    assert outcome.succeeded, outcome.error
    assert sent(emulator) == expected
    assert ours._get_merged_json() == theirs._get_merged_json(), "building the body modified the template fields"


RUN_NOW_CASES: list[dict[str, Any]] = [
    {"job_parameters": {"a": "1", "n": 2}},
    {"json": {"notebook_params": {"x": 1}, "jar_params": ["a", 2]}, "python_params": ["p"], "performance_target": "S"},
    {"json": '{"job_parameters": {"from": "json"}}', "params": {"env": "prod"}},
    {"params": {"env": "prod", "n": 5, "skip": None}},
    {"params": {"env": "prod"}, "notebook_params": {"x": "1"}},
    {"params": {"env": "prod"}, "forward_dag_params": False},
]


@pytest.mark.parametrize("kwargs", RUN_NOW_CASES)
def test_run_now_sends_upstreams_body(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, kwargs: dict[str, Any]
) -> None:
    job_id = emulator.create_job("nightly", [{"task_key": "t", "notebook_task": NOTEBOOK}])
    ours = run_now(job_id=job_id, **copy.deepcopy(kwargs))
    theirs = upstream.DatabricksRunNowOperator(task_id="t", job_id=job_id, **kwargs)
    assert ours._get_merged_json() == theirs._get_merged_json()
    expected = theirs._build_run_now_payload({})
    outcome = run_try(store, ours)
    assert outcome.succeeded, outcome.error
    body = sent(emulator)
    assert body.pop("job_id") == job_id, "the job_id goes as the integer the API documents"
    assert body == {k: v for k, v in expected.items() if k != "job_id"}


def test_normalisation_matches_upstreams() -> None:
    value = {"a": 1, "b": 2.5, "c": True, "d": [1, "x", (False, 3)], "e": {"f": {"g": 0}}, "h": "s"}
    assert payload.normalise_json_content(value) == upstream_utils.normalise_json_content(value)


# ---------------------------------------------------------------------- 2. bad bodies fail before anything


def bad_operators() -> list[tuple[str, Any, str]]:
    return [
        ("datetime", lambda: submit(json={"when": datetime.datetime(2026, 1, 1)}, notebook_task=NOTEBOOK), BAD_TYPE),
        ("datetime-run-now", lambda: run_now(job_name="nightly", json={"when": datetime.datetime.now()}), BAD_TYPE),
        ("dbt-no-git", lambda: submit(dbt_task={"commands": ["dbt run"]}), "git_source is required for dbt_task"),
        ("dbt-json", lambda: submit(json='{"dbt_task": {"commands": ["x"]}}'), "git_source is required for dbt_task"),
        (
            "pipeline-id-and-name",
            lambda: submit(pipeline_task={"pipeline_id": "p", "pipeline_name": "n"}),
            "'pipeline_name' is not allowed in conjunction with 'pipeline_id'",
        ),
        (
            "id-and-name",
            lambda: run_now(job_id=1, job_name="n"),
            "Argument 'job_name' is not allowed with argument 'job_id'",
        ),
        ("not-a-mapping", lambda: submit(json="[1, 2]"), "Databricks json payload must resolve to a mapping"),
        ("not-json", lambda: submit(json="{nope"), "Databricks json payload string must be valid JSON"),
    ]


@pytest.mark.parametrize(("make", "message"), [c[1:] for c in bad_operators()], ids=[c[0] for c in bad_operators()])
def test_a_bad_body_fails_with_upstreams_error_before_any_call_or_record(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, make: Any, message: str
) -> None:
    emulator.create_job("nightly", [{"task_key": "t", "notebook_task": NOTEBOOK}])
    outcome = run_try(store, make())
    assert isinstance(outcome.error, AirflowException), outcome
    assert isinstance(outcome.error, DatabricksPayloadError)
    assert re.search(message, str(outcome.error)), outcome.error
    assert emulator.requests == [], "a bad body reached the API"
    assert store.writes == [], "an intent was written for a body that was refused"


def test_an_unknown_job_name_fails_before_the_intent(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    outcome = run_try(store, run_now(job_name="nope"))
    assert isinstance(outcome.error, DatabricksPayloadError), outcome
    assert str(outcome.error) == "Job ID for job name nope can not be found"
    assert [r.endpoint for r in emulator.requests if r.endpoint] == ["list"]
    assert nothing_happened(emulator, store)


def test_a_job_name_shared_by_two_jobs_is_upstreams_error(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    for _ in range(2):
        emulator.create_job("twin", [{"task_key": "t", "notebook_task": NOTEBOOK}])
    outcome = run_try(store, run_now(job_name="twin"))
    assert isinstance(outcome.error, AirflowException), outcome
    assert "There are more than one job with name twin" in str(outcome.error)
    assert nothing_happened(emulator, store)


# ---------------------------------------------------------------------- 3. pipeline names


def test_pipeline_name_is_resolved_to_its_id(emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore) -> None:
    emulator.create_pipeline("other pipeline")
    pipeline_id = emulator.create_pipeline("My pipeline")
    op = submit(pipeline_task={"pipeline_name": "My pipeline", "full_refresh": True})
    outcome = run_try(store, op)
    assert outcome.succeeded, outcome.error
    assert sent(emulator)["pipeline_task"] == {"pipeline_id": pipeline_id, "full_refresh": True}
    assert op.pipeline_task == {"pipeline_name": "My pipeline", "full_refresh": True}, "template field modified"
    [lookup] = [r for r in emulator.requests if r.endpoint == "pipelines"]
    assert lookup.path.startswith("/api/2.0/pipelines")


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([], "Pipeline ID for pipeline name p can not be found"),
        (["p", "p"], "There are more than one pipelines with name p"),
    ],
)
def test_an_unknown_or_ambiguous_pipeline_name_fails_before_the_intent(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore, names: list[str], message: str
) -> None:
    for name in names:
        emulator.create_pipeline(name)
    outcome = run_try(store, submit(pipeline_task={"pipeline_name": "p"}))
    assert isinstance(outcome.error, AirflowException), outcome
    assert message in str(outcome.error)
    assert nothing_happened(emulator, store)


# ---------------------------------------------------------------------- 4. OpenLineage


def test_openlineage_flags_are_accepted_and_off_by_default_change_nothing(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    with (
        mock.patch(f"{OL_HELPERS}.inject_openlineage_properties_into_databricks_job") as spark,
        mock.patch(f"{OL_HELPERS}.inject_openlineage_context_into_databricks_job_parameters") as context,
    ):
        off = submit(
            new_cluster=NEW_CLUSTER,
            notebook_task=NOTEBOOK,
            openlineage_inject_parent_job_info=False,
            openlineage_inject_transport_info=False,
        )
        assert run_try(store, off).succeeded
        assert run_now(job_id=1, openlineage_inject_parent_job_info=False).openlineage_inject_parent_job_info is False
    spark.assert_not_called()
    context.assert_not_called()
    assert "spark_conf" not in sent(emulator)["new_cluster"]


def test_openlineage_injection_uses_the_providers_helpers(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    def add_conf(job: dict[str, Any], context: Any, inject_parent_job_info: bool, inject_transport_info: bool) -> Any:
        assert context["ti"] is not None
        assert (inject_parent_job_info, inject_transport_info) == (True, True)
        return {**job, "new_cluster": {**job["new_cluster"], "spark_conf": {"spark.openlineage.parentJobName": "t"}}}

    with (
        mock.patch(f"{OL_HELPERS}.inject_openlineage_properties_into_databricks_job", side_effect=add_conf),
        mock.patch(
            f"{OL_HELPERS}.inject_openlineage_context_into_databricks_job_parameters",
            side_effect=lambda job_parameters, context: {**job_parameters, "OPENLINEAGE_CONTEXT": "{}"},
        ),
    ):
        op = submit(
            new_cluster=NEW_CLUSTER,
            notebook_task=NOTEBOOK,
            openlineage_inject_parent_job_info=True,
            openlineage_inject_transport_info=True,
        )
        assert run_try(store, op).succeeded
    body = sent(emulator)
    assert body["new_cluster"]["spark_conf"] == {"spark.openlineage.parentJobName": "t"}
    assert body["notebook_task"]["base_parameters"] == {"OPENLINEAGE_CONTEXT": "{}"}


def test_a_failing_openlineage_helper_leaves_the_body_unchanged(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    job_id = emulator.create_job("nightly", [{"task_key": "t", "notebook_task": NOTEBOOK}])
    with mock.patch(
        f"{OL_HELPERS}.inject_openlineage_context_into_databricks_job_parameters", side_effect=RuntimeError("boom")
    ):
        outcome = run_try(store, run_now(job_id=job_id, openlineage_inject_parent_job_info=True))
    assert outcome.succeeded, outcome.error
    assert "job_parameters" not in sent(emulator)


def test_without_the_databricks_provider_the_openlineage_providers_spark_helpers_fill_spark_conf(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_durable_databricks import openlineage

    spark = SimpleNamespace(
        inject_parent_job_information_into_spark_properties=lambda properties, context: {**properties, "parent": "1"},
        inject_transport_information_into_spark_properties=lambda properties, context: {**properties, "transport": "1"},
    )
    monkeypatch.setattr(openlineage, "_helpers", lambda module: spark if module == openlineage.SPARK_HELPERS else None)
    job = {
        "new_cluster": {"spark_conf": {"keep": "me"}},
        "tasks": [{"task_key": "a", "new_cluster": {}, "notebook_task": NOTEBOOK}, {"task_key": "b"}],
        "job_clusters": [{"job_cluster_key": "c", "new_cluster": {}}],
    }
    injected = openlineage.inject_into_submit(job, {"ti": None}, parent=True, transport=False)  # type: ignore[typeddict-item]
    assert injected["new_cluster"]["spark_conf"] == {"keep": "me", "parent": "1"}
    assert injected["tasks"][0]["new_cluster"]["spark_conf"] == {"parent": "1"}
    assert injected["job_clusters"][0]["new_cluster"]["spark_conf"] == {"parent": "1"}
    assert "base_parameters" not in injected["tasks"][0]["notebook_task"], "only the Databricks provider builds it"
    assert job["new_cluster"]["spark_conf"] == {"keep": "me"}, "the input was modified"


def test_openlineage_defaults_come_from_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__SPARK_INJECT_PARENT_JOB_INFO", "True")
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__SPARK_INJECT_TRANSPORT_INFO", "True")
    op = submit(notebook_task=NOTEBOOK)
    assert (op.openlineage_inject_parent_job_info, op.openlineage_inject_transport_info) == (True, True)
    assert run_now(job_id=1).openlineage_inject_parent_job_info is True


# ---------------------------------------------------------------------- 5. deferrable default, retry arguments


def test_deferrable_defaults_to_operators_default_deferrable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert submit(notebook_task=NOTEBOOK).deferrable is False
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert submit(notebook_task=NOTEBOOK).deferrable is True
    assert run_now(job_id=1).deferrable is True
    assert run_now(job_id=1, deferrable=False).deferrable is False
    monkeypatch.delenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE")
    assert submit(notebook_task=NOTEBOOK, default_args={"deferrable": True}).deferrable is True


@pytest.mark.parametrize(
    ("limit", "delay", "retry_args", "expected"),
    [
        (3, 1, None, 5),  # waits 1 s, 2 s; the SDK's own sleeps are about 2 s and 3 s
        (1, 1, None, 1),
        (5, 10, None, 4 * 10),  # upstream waits clamp(2^(n-1), 10, 32) = 10 s each time, longer than the SDK
        (3, 1, {"stop": stop_after_delay(42)}, 42),
        (4, 1, {"stop": stop_after_attempt(3), "wait": wait_fixed(7)}, 14),
        (4, 1, {"stop": stop_after_attempt(3), "wait": wait_incrementing(start=1, increment=1, max=3)}, 5),
        (4, 1, {"stop": stop_any(stop_after_attempt(2), stop_after_delay(9))}, None),
    ],
)
def test_retry_arguments_become_the_sdks_retry_budget(
    limit: int, delay: float, retry_args: Any, expected: int | None
) -> None:
    assert retry_timeout_seconds(limit, delay, retry_args) == expected


def test_the_retry_budget_reaches_the_sdk_config_below_the_connection(emulator: DatabricksJobsEmulator) -> None:
    bare = submit(notebook_task=NOTEBOOK, databricks_conn_id=BARE_CONN_ID, databricks_retry_limit=4)
    assert bare.runs.client.config.retry_timeout_seconds == retry_timeout_seconds(4, 1, None)
    assert submit(notebook_task=NOTEBOOK).runs.client.config.retry_timeout_seconds == 20, "the connection wins"
    overridden = submit(notebook_task=NOTEBOOK, sdk_config_overrides={"retry_timeout_seconds": 7})
    assert overridden.runs.client.config.retry_timeout_seconds == 7, "sdk_config_overrides win"
    trigger = bare.job_trigger(1, {})  # type: ignore[arg-type]
    assert trigger.serialize()[1]["sdk_config_defaults"] == {"retry_timeout_seconds": retry_timeout_seconds(4, 1, None)}


def test_retry_limit_bounds_how_long_the_sdk_retries_a_throttled_submit(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    emulator.fail_next(2, 503, endpoint="runs/submit", retry_after_seconds=1)
    one = run_try(store, submit(notebook_task=NOTEBOOK, databricks_conn_id=BARE_CONN_ID, databricks_retry_limit=1))
    assert one.error is not None
    assert not emulator.runs, "one attempt's budget outlived two throttled answers"
    # One throttled answer: the default budget (5 s) outlives it with room to spare on a loaded machine.
    emulator.fail_next(1, 503, endpoint="runs/submit", retry_after_seconds=1)
    three = run_try(InMemoryTaskStateStore(), submit(notebook_task=NOTEBOOK, databricks_conn_id=BARE_CONN_ID))
    assert three.succeeded, three.error
    assert len(emulator.runs) == 1


def test_retry_limit_below_one_is_upstreams_error() -> None:
    with pytest.raises(ValueError, match="Retry limit must be greater than or equal to 1"):
        submit(notebook_task=NOTEBOOK, databricks_retry_limit=0)


def test_deferrable_with_unserializable_retry_args_fails_before_submitting(
    emulator: DatabricksJobsEmulator, store: InMemoryTaskStateStore
) -> None:
    op = submit(notebook_task=NOTEBOOK, deferrable=True, databricks_retry_args={"stop": stop_after_attempt(3)})
    outcome = run_try(store, op)
    assert isinstance(outcome.error, ValueError), outcome
    assert "does not support non-serializable retry_args/databricks_retry_args when deferrable=True" in str(
        outcome.error
    )
    assert nothing_happened(emulator, store)
