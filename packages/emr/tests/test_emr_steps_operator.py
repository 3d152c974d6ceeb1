"""``DurableEmrAddStepsOperator`` beyond the contract, against the EMR steps emulator (real boto3 over HTTP).

What upstream reported ("no token exists at all, and ``on_kill`` does nothing"), upstream's interface
(parameters, templated fields, XComs, links, return value), bad input failing before any intent, the
token marker (mapped task instances and generations with identical steps), ``ListSteps`` limits, odd
replies, ``on_kill``, deferral and fire-and-forget.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator

from airflow_durable import JobLostError
from airflow_durable.testing.doubles import InMemoryTaskStateStore, TaskInstanceRun
from airflow_durable.tokens import TaskInstanceScope
from airflow_durable_emr import steps_api
from airflow_durable_emr.statuses import MAX_STEPS_PER_LIST_CALL, parse_step_job_id
from airflow_durable_emr.steps import DurableEmrAddStepsOperator, EmrStepsFailedError
from airflow_durable_emr.steps_api import EmrStepsReplyError, EmrStepsRequestError
from airflow_durable_emr.testing.contract import emr_connection_env
from airflow_durable_emr.testing.emulator import EmrStepsEmulator
from airflow_durable_emr.triggers import DurableEmrStepsTrigger

CONN_ID = "emr_steps_test"
KEY = "emr_step_ids"


def step(name: str, *args: str) -> dict[str, Any]:
    return {
        "Name": name,
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": list(args)},
    }


STEPS = [step("aggregate", "spark-submit", "s3://b/a.py"), step("publish", "bash", "-c", "true")]


@pytest.fixture
def emulator() -> Iterator[EmrStepsEmulator]:
    with EmrStepsEmulator() as emr, mock.patch.dict(os.environ, emr_connection_env(CONN_ID, emr=emr.url)):
        yield emr


@pytest.fixture
def cluster_name() -> str:
    return f"nightly-{uuid.uuid4().hex[:8]}"  # moto keeps clusters process-wide: a name of the test's own


@pytest.fixture
def cluster(emulator: EmrStepsEmulator, cluster_name: str) -> str:
    return emulator.create_cluster(name=cluster_name)


@pytest.fixture
def client(emulator: EmrStepsEmulator) -> Any:
    return boto3.client(
        "emr", endpoint_url=emulator.url, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )


@pytest.fixture
def store() -> InMemoryTaskStateStore:
    return InMemoryTaskStateStore()


def task_run(store: InMemoryTaskStateStore, task_id: str = "add_steps", map_index: int = -1) -> TaskInstanceRun:
    return TaskInstanceRun(store, TaskInstanceScope("emr_dag", "manual__1", task_id, map_index))


def operator(cluster_id: str | None = None, **kwargs: Any) -> DurableEmrAddStepsOperator:
    defaults: dict[str, Any] = {
        "task_id": "add_steps",
        "steps": STEPS,
        "aws_conn_id": CONN_ID,
        "wait_for_completion": True,
        "waiter_delay": 0,
        "cancel_timeout_seconds": 3,
    }
    if cluster_id is not None and "job_flow_name" not in kwargs:
        defaults["job_flow_id"] = cluster_id
    return DurableEmrAddStepsOperator(**{**defaults, **kwargs})


def added_steps(emulator: EmrStepsEmulator) -> int:
    return emulator.calls["AddJobFlowSteps"]


# ---------------------------------------------------------------- upstream's interface


def test_parameters_template_fields_and_class_attributes_are_upstreams() -> None:
    assert tuple(DurableEmrAddStepsOperator.template_fields) == tuple(EmrAddStepsOperator.template_fields)
    assert DurableEmrAddStepsOperator.template_ext == EmrAddStepsOperator.template_ext
    assert DurableEmrAddStepsOperator.template_fields_renderers == EmrAddStepsOperator.template_fields_renderers
    assert DurableEmrAddStepsOperator.ui_color == EmrAddStepsOperator.ui_color
    ours = inspect.signature(DurableEmrAddStepsOperator.__init__).parameters
    upstream = inspect.signature(EmrAddStepsOperator.__init__).parameters
    for name in (
        "job_flow_id",
        "job_flow_name",
        "cluster_states",
        "steps",
        "wait_for_completion",
        "waiter_delay",
        "waiter_max_attempts",
        "execution_role_arn",
    ):
        assert ours[name].default == upstream[name].default, name
        assert ours[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert ours["aws_conn_id"].default == "aws_default"
    assert [link.key for link in DurableEmrAddStepsOperator.operator_extra_links] == [
        link.key for link in EmrAddStepsOperator.operator_extra_links
    ]
    assert {type(link) for link in DurableEmrAddStepsOperator.operator_extra_links} == {
        type(link) for link in EmrAddStepsOperator.operator_extra_links
    }


@pytest.mark.parametrize(("job_flow_id", "job_flow_name"), [("j-1", "nightly"), (None, None)])
def test_exactly_one_of_job_flow_id_or_name(job_flow_id: Any, job_flow_name: Any) -> None:
    with pytest.raises(EmrStepsRequestError, match=r"Exactly one of job_flow_id or job_flow_name must be specified\."):
        DurableEmrAddStepsOperator(task_id="t", job_flow_id=job_flow_id, job_flow_name=job_flow_name)


def test_deferrable_implies_waiting_as_upstream() -> None:
    op = DurableEmrAddStepsOperator(task_id="t", job_flow_id="j-1", wait_for_completion=True, deferrable=True)
    assert op.wait_for_completion is False
    assert op.waits_for_job()


def test_the_links_are_the_providers_read_late_and_none_without_it() -> None:
    from airflow_durable_emr.links import ProviderLinks

    assert ProviderLinks("EmrClusterLink", module="no_such_provider.links").link_classes() == ()
    assert len(ProviderLinks("EmrClusterLink", module="no_such_provider.links")) == 0
    links = ProviderLinks("EmrClusterLink", "EmrLogsLink")
    assert [link.key for link in links] == ["emr_cluster", "emr_logs"]


WITHOUT_PROVIDER = """
import json, sys
for name in ("airflow.providers.amazon.aws.hooks.emr", "airflow.providers.amazon.aws.links.emr"):
    sys.modules[name] = None  # as if apache-airflow-providers-amazon were not installed
from airflow_durable.testing.doubles import InMemoryTaskStateStore, TaskInstanceRun
from airflow_durable.tokens import TaskInstanceScope
from airflow_durable_emr.steps import DurableEmrAddStepsOperator

op = DurableEmrAddStepsOperator(
    task_id="t", job_flow_id=sys.argv[1], steps=[{"Name": "a", "HadoopJarStep": {"Jar": "x"}}], aws_conn_id=None
)
run = TaskInstanceRun(InMemoryTaskStateStore(), TaskInstanceScope("d", "r", "t", -1))
outcome = run.run_try(op)
assert outcome.succeeded, outcome.error
print(json.dumps({"links": len(op.operator_extra_links), "xcoms": sorted(outcome.xcoms)}))
"""


def test_without_the_amazon_provider_boto3s_chain_is_used_and_there_are_no_links(
    emulator: EmrStepsEmulator, cluster: str
) -> None:
    import json

    from airflow_durable_emr.testing.contract import emr_boto3_env

    env = {**os.environ, **emr_boto3_env(emr=emulator.url)}
    done = subprocess.run([sys.executable, "-c", WITHOUT_PROVIDER, cluster], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"links": 0, "xcoms": ["job_flow_id", "return_value"]}
    assert added_steps(emulator) == 1


def test_openlineage_parent_job_conf_goes_into_spark_steps_only(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore, client: Any
) -> None:
    """Upstream's injection cases (its own test cannot show ours: it passes a MagicMock context)."""
    properties = {"spark.openlineage.parentRunId": "run-1", "spark.openlineage.parentJobName": "emr_dag.add_steps"}
    conf = [
        "--conf",
        "spark.openlineage.parentRunId=run-1",
        "--conf",
        "spark.openlineage.parentJobName=emr_dag.add_steps",
    ]
    steps = [
        step("spark-submit", "spark-submit", "--deploy-mode", "cluster", "s3://b/job.py"),
        step("run-example", "/usr/lib/spark/bin/run-example", "SparkPi", "10"),
        step("existing", "spark-submit", "--conf", "spark.openlineage.parentRunId=old", "s3://b/job.py"),
        step("non-spark", "bash", "-c", "echo done"),
        {"Name": "custom-jar", "HadoopJarStep": {"Jar": "s3://b/job.jar", "Args": ["spark-submit", "x"]}},
        {"Name": "no-arguments", "HadoopJarStep": {"Jar": "command-runner.jar"}},
    ]
    compat = (
        "airflow.providers.common.compat.openlineage.utils.spark.inject_parent_job_information_into_spark_properties"
    )
    with mock.patch(compat, return_value=properties) as helper:
        op = operator(cluster, steps=steps, openlineage_inject_parent_job_info=True, wait_for_completion=False)
        outcome = task_run(store).run_try(op)
    assert outcome.succeeded, outcome.error
    helper.assert_called_once()
    sent = {
        s["Name"].split(" [")[0]: s["Config"].get("Args", []) for s in client.list_steps(ClusterId=cluster)["Steps"]
    }
    assert sent["spark-submit"] == ["spark-submit", *conf, "--deploy-mode", "cluster", "s3://b/job.py"]
    assert sent["run-example"] == ["/usr/lib/spark/bin/run-example", *conf, "SparkPi", "10"]
    for unchanged in steps[2:]:
        assert sent[unchanged["Name"]] == unchanged["HadoopJarStep"].get("Args", [])
    assert op.steps == steps, "the templated field is not modified"


def test_plain_and_mapped_operators_serialize_with_the_providers_links() -> None:
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG("serialized", schedule=None) as dag:
        DurableEmrAddStepsOperator(task_id="plain", job_flow_id="j-1", steps=STEPS)
        DurableEmrAddStepsOperator.partial(task_id="mapped", job_flow_id="j-1").expand(steps=[STEPS, STEPS[:1]])
    loaded = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    for task_id in ("plain", "mapped"):
        assert sorted(loaded.get_task(task_id).extra_links) == ["EMR Cluster", "EMR Cluster Logs"]


def test_a_failed_steps_detail_names_the_step_and_its_reason() -> None:
    failed = {"Id": "s-1", "Status": {"State": "FAILED", "FailureDetails": {"Reason": "Unknown", "LogFile": "s3://l"}}}
    status = steps_api.StepsStatus("FAILED", {"s-1": failed}, failed_step_id="s-1")
    assert status.failure_detail() == "s-1: FAILED {'Reason': 'Unknown', 'LogFile': 's3://l'}"
    bare = steps_api.StepsStatus("CANCELLED", {"s-2": {"Id": "s-2", "Status": {"State": "CANCELLED"}}}, "s-2")
    assert bare.failure_detail() == "s-2: CANCELLED"


def test_importing_the_module_does_not_import_boto3() -> None:
    code = (
        "import sys; import airflow_durable_emr.steps as s; "
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, "
        "sorted(m for m in sys.modules if 'boto' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- the upstream-reported failures


def test_the_steps_carry_a_token_and_a_retry_after_a_crash_in_the_submit_window_adopts_them(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore, client: Any
) -> None:
    """Upstream: "no token exists at all". The retry finds its steps by the marker and adds none."""
    emulator.finish_after(2, "COMPLETED")
    run = task_run(store)
    store.crash_on_external_id_write = True
    first = run.run_try(operator(cluster))
    assert first.crashed
    assert added_steps(emulator) == 1
    listed = client.list_steps(ClusterId=cluster)["Steps"]
    token = run.stored(KEY)["token"]
    assert sorted(s["Name"] for s in listed) == [f"aggregate [{token} 1/2]", f"publish [{token} 2/2]"]

    store.crash_on_external_id_write = False
    second = run.run_try(operator(cluster))
    assert second.succeeded, second.error
    assert added_steps(emulator) == 1, "the retry added the steps again"
    [job] = emulator.jobs
    assert second.result == parse_step_job_id(job.external_id)[1]
    assert run.stored(KEY)["external_id"] == job.external_id


def test_on_kill_cancels_the_steps_this_try_owns(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore
) -> None:
    """Upstream: "on_kill does nothing". Ours cancels with CancelSteps, on a reconnected try too."""
    emulator.hold("RUNNING")
    run = task_run(store)
    store.crash_on_external_id_write = False
    first_op = operator(cluster, wait_for_completion=False)
    first = run.run_try(first_op)
    assert first.succeeded, first.error
    [job] = emulator.jobs
    reconnecting = operator(cluster)
    store.set(run.scope, KEY, {**run.stored(KEY), "phase": "submitted"})
    holder: dict[str, Any] = {}

    def kill_when_polling() -> None:
        deadline = time.monotonic() + 10
        while job.status_calls < 2 and time.monotonic() < deadline:  # the decision's call, then a poll
            time.sleep(0.01)
        holder["owned"] = reconnecting._owned_external_id
        reconnecting.on_kill()
        holder["cancelled"] = (job.cancel_requested, job.state)
        emulator.force_state(job.external_id, "CANCELLED")

    killer = threading.Thread(target=kill_when_polling)
    killer.start()
    outcome = run.run_try(reconnecting)
    killer.join()
    assert holder["owned"] == job.external_id
    assert emulator.calls["CancelSteps"] == 1
    assert holder["cancelled"] == (True, "CANCEL_PENDING")
    assert isinstance(outcome.error, EmrStepsFailedError)


def test_on_kill_is_bounded_in_time(emulator: EmrStepsEmulator, cluster: str) -> None:
    op = operator(cluster, cancel_timeout_seconds=0.5)
    op._owned_external_id = f"{cluster}:s-ABC"
    emulator.set_latency(5)
    started = time.monotonic()
    op.on_kill()
    assert time.monotonic() - started < 2


# ---------------------------------------------------------------- the token never adopts others' steps


def test_mapped_task_instances_with_identical_steps_adopt_only_their_own(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore
) -> None:
    emulator.hold("RUNNING")
    runs = [task_run(store, map_index=index) for index in (0, 1, 2)]
    for run in runs:
        store.crash_on_external_id_write = True  # disarmed once it fires
        assert run.run_try(operator(cluster)).crashed
    assert added_steps(emulator) == 3
    tokens = [run.stored(KEY)["token"] for run in runs]
    assert len(set(tokens)) == 3
    store.crash_on_external_id_write = False
    emulator.finish_after(1, "COMPLETED")
    for run, token in zip(runs, tokens, strict=True):
        outcome = run.run_try(operator(cluster))
        assert outcome.succeeded, outcome.error
        [own] = [job for job in emulator.jobs if job.token == token]
        assert run.stored(KEY)["external_id"] == own.external_id
        assert outcome.result == own.run_ids
    assert added_steps(emulator) == 3


def test_a_new_generation_never_adopts_the_failed_generations_identical_steps(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore
) -> None:
    run = task_run(store)
    emulator.finish_after(1, "FAILED")
    failed = run.run_try(operator(cluster))
    assert isinstance(failed.error, EmrStepsFailedError)
    assert "EMR Steps failed: s-" in str(failed.error)
    generation_0 = emulator.jobs[0]
    store.crash_on_external_id_write = True
    emulator.hold("RUNNING")
    crashed = run.run_try(operator(cluster))
    assert crashed.crashed
    assert run.stored(KEY)["generation"] == 1
    store.crash_on_external_id_write = False
    emulator.finish_after(1, "COMPLETED")
    third = run.run_try(operator(cluster))
    assert third.succeeded, third.error
    assert added_steps(emulator) == 2
    generation_1 = emulator.jobs[1]
    assert third.result == generation_1.run_ids != generation_0.run_ids


def test_the_lookup_pages_through_newer_steps(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore, client: Any
) -> None:
    emulator.hold("RUNNING")
    run = task_run(store)
    store.crash_on_external_id_write = True
    assert run.run_try(operator(cluster)).crashed
    for _ in range(30):  # 60 newer steps of another DAG, with the same names: more than a page
        client.add_job_flow_steps(JobFlowId=cluster, Steps=STEPS)
    store.crash_on_external_id_write = False
    emulator.finish_after(1, "COMPLETED")
    outcome = run.run_try(operator(cluster))
    assert outcome.succeeded, outcome.error
    assert outcome.result == emulator.jobs[0].run_ids
    assert added_steps(emulator) == 31


def test_the_lookup_is_bounded(emulator: EmrStepsEmulator, cluster: str, client: Any) -> None:
    token = "ad-0123456789abcdef0123456789ab-g0"
    client.add_job_flow_steps(JobFlowId=cluster, Steps=steps_api.mark_steps(STEPS, token))
    for index in range(50):
        client.add_job_flow_steps(JobFlowId=cluster, Steps=[step(f"other {index}")])
    lists = emulator.calls["ListSteps"]
    assert steps_api.find_marked_steps(client, cluster, token, max_pages=1) is None
    assert emulator.calls["ListSteps"] == lists + 1
    found = steps_api.find_marked_steps(client, cluster, token, max_pages=2)
    assert found is not None
    assert len(found) == 2


def test_a_lookup_that_finds_part_of_a_submission_fails_clearly(
    emulator: EmrStepsEmulator, cluster: str, client: Any
) -> None:
    token = "ad-0123456789abcdef0123456789ab-g0"
    client.add_job_flow_steps(JobFlowId=cluster, Steps=steps_api.mark_steps(STEPS, token)[1:])
    with pytest.raises(steps_api.IncompleteSubmissionError, match="which had 2"):
        steps_api.find_marked_steps(client, cluster, token)


def test_marked_names_stay_readable_and_never_match_another_token() -> None:
    token = "ad-0123456789abcdef0123456789ab-g0"
    name = steps_api.marked_name("nightly aggregation", token, 1, 2)
    assert name == f"nightly aggregation [{token} 1/2]"
    assert steps_api.parse_marker(name) == (token, 1, 2)
    assert steps_api.parse_marker("nightly aggregation") is None
    assert steps_api.parse_marker(steps_api.marked_name("x", token[:-1] + "1", 1, 1))[0] != token  # type: ignore[index]


# ---------------------------------------------------------------- bad input: a clear error, nothing written or sent


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": "not a list ["}, "not a Python literal"),
        ({"steps": {"Name": "x"}}, "must be a list of step configurations"),
        ({"steps": ["a step"]}, "step 1 is a str"),
        ({"steps": [{"HadoopJarStep": {}}]}, "step 1 has no string 'Name'"),
        ({"steps": []}, "steps is empty"),
        ({"steps": [step("x" * 230)]}, "shorten it to 205"),
        ({"steps": [step("s")] * 201}, "at most 200"),
        ({"job_flow_name": "nobody-b3f1"}, "No cluster found for name: nobody-b3f1"),
        ({"job_flow_id": "j-UNKNOWN1"}, "No cluster found for id: j-UNKNOWN1"),
        ({"job_flow_id": "cluster-1"}, "is not an EMR cluster ID"),
    ],
)
def test_bad_input_fails_before_any_intent(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore, kwargs: dict[str, Any], message: str
) -> None:
    run = task_run(store)
    outcome = run.run_try(operator(cluster, **kwargs))
    assert isinstance(outcome.error, EmrStepsRequestError), outcome
    assert message in str(outcome.error)
    assert run.stored(KEY) is None
    assert added_steps(emulator) == 0


def test_a_cluster_name_matching_two_clusters_fails_before_any_intent(
    emulator: EmrStepsEmulator, cluster: str, cluster_name: str, store: InMemoryTaskStateStore
) -> None:
    emulator.create_cluster(name=cluster_name)
    run = task_run(store)
    outcome = run.run_try(operator(job_flow_name=cluster_name))
    assert isinstance(outcome.error, EmrStepsRequestError)
    assert str(outcome.error) == f"More than one cluster found for name {cluster_name}"
    assert run.stored(KEY) is None
    assert added_steps(emulator) == 0


def test_string_steps_are_read_as_upstream_reads_them(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore, client: Any
) -> None:
    outcome = task_run(store).run_try(operator(cluster, steps=repr(STEPS), wait_for_completion=False))
    assert outcome.succeeded, outcome.error
    listed = client.list_steps(ClusterId=cluster)["Steps"]
    assert sorted(s["Config"]["Args"][0] for s in listed) == ["bash", "spark-submit"]


def test_durable_false_sends_the_names_unchanged(emulator: EmrStepsEmulator, cluster: str, client: Any) -> None:
    result = operator(cluster, durable=False, wait_for_completion=False).execute(None)  # type: ignore[arg-type]
    assert len(result) == 2
    assert sorted(s["Name"] for s in client.list_steps(ClusterId=cluster)["Steps"]) == ["aggregate", "publish"]


# ---------------------------------------------------------------- XComs, links and the result on every path


def link_xcoms(cluster_id: str) -> dict[str, Any]:
    return {
        "job_flow_id": cluster_id,
        "emr_cluster": {"region_name": "us-east-1", "aws_domain": "aws.amazon.com", "job_flow_id": cluster_id},
        "emr_logs": {
            "region_name": "us-east-1",
            "aws_domain": "aws.amazon.com",
            "job_flow_id": cluster_id,
            "log_uri": None,
        },
    }


def test_xcoms_links_and_result_are_the_same_on_every_path(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore
) -> None:
    emulator.finish_after(3, "COMPLETED")
    fresh_run = task_run(store, task_id="fresh")
    fresh = fresh_run.run_try(operator(cluster, task_id="fresh"))
    assert fresh.succeeded, fresh.error
    expected = {**link_xcoms(cluster), "return_value": fresh.result}
    assert fresh.xcoms == expected

    # already succeeded (the kept result is replayed), and after the job was forgotten
    emulator.forget(emulator.jobs[0].external_id)
    replay = fresh_run.run_try(operator(cluster, task_id="fresh"))
    assert replay.succeeded, replay.error
    assert replay.xcoms == expected

    # reconnect: a crash mid-poll, then the retry
    reconnect_run = task_run(store, task_id="reconnect")
    emulator.hold("RUNNING")
    op = operator(cluster, task_id="reconnect", max_transient_errors=0)
    store.crash_on_external_id_write = False
    fire = reconnect_run.run_try(operator(cluster, task_id="reconnect", wait_for_completion=False))
    store.set(reconnect_run.scope, KEY, {**reconnect_run.stored(KEY), "phase": "submitted", "result": None})
    emulator.finish_after(2, "COMPLETED")
    reconnected = reconnect_run.run_try(op)
    assert reconnected.succeeded, reconnected.error
    assert reconnected.result == fire.result
    assert reconnected.xcoms == {**link_xcoms(cluster), "return_value": reconnected.result}


def test_a_cluster_given_by_name_gets_the_resolved_id_in_every_xcom_and_link(
    emulator: EmrStepsEmulator, cluster: str, cluster_name: str, store: InMemoryTaskStateStore
) -> None:
    outcome = task_run(store).run_try(
        operator(job_flow_name=cluster_name, cluster_states=["WAITING"], wait_for_completion=False)
    )
    assert outcome.succeeded, outcome.error
    assert outcome.xcoms == {**link_xcoms(cluster), "return_value": outcome.result}


def test_fire_and_forget_is_exactly_once(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore
) -> None:
    emulator.hold("RUNNING")
    run = task_run(store)
    first = run.run_try(operator(cluster, wait_for_completion=False))
    assert first.succeeded, first.error
    assert emulator.calls["ListSteps"] == 0, "a fire-and-forget try does not poll"
    emulator.force_state(emulator.jobs[0].external_id, "FAILED")
    calls = sum(emulator.calls.values())
    second = run.run_try(operator(cluster, wait_for_completion=False))
    assert second.succeeded, second.error
    assert second.result == first.result
    assert second.xcoms == first.xcoms
    assert added_steps(emulator) == 1
    assert sum(emulator.calls.values()) == calls, "the retry asked EMR"


def test_upstream_default_is_fire_and_forget(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore
) -> None:
    emulator.hold("RUNNING")
    op = DurableEmrAddStepsOperator(task_id="add_steps", job_flow_id=cluster, steps=STEPS, aws_conn_id=CONN_ID)
    outcome = task_run(store).run_try(op)
    assert outcome.succeeded, outcome.error
    assert outcome.result == emulator.jobs[0].run_ids


# ---------------------------------------------------------------- states, ListSteps limits, odd replies


def test_status_reads_at_most_ten_step_ids_per_call_and_waits_for_every_step(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore, client: Any
) -> None:
    many = [step(f"s{index}") for index in range(23)]
    emulator.finish_after(2, "COMPLETED")
    outcome = task_run(store).run_try(operator(cluster, steps=many))
    assert outcome.succeeded, outcome.error
    assert len(outcome.result) == 23
    status = steps_api.steps_status(client, cluster, outcome.result)
    assert status.state == "COMPLETED"
    assert MAX_STEPS_PER_LIST_CALL == 10  # the emulator refuses more, as EMR does


def test_active_while_any_step_is_then_failed(client: Any, emulator: EmrStepsEmulator, cluster: str) -> None:
    emulator.hold("RUNNING")
    step_ids = client.add_job_flow_steps(JobFlowId=cluster, Steps=[*STEPS, step("third")])["StepIds"]
    cluster_obj = emulator.backend().clusters[cluster]
    by_id = {s.id: s for s in cluster_obj.steps}
    by_id[step_ids[0]].state = "FAILED"
    by_id[step_ids[1]].state = "RUNNING"
    by_id[step_ids[2]].state = "COMPLETED"
    assert steps_api.steps_status(client, cluster, step_ids).state == "RUNNING"
    by_id[step_ids[1]].state = "CANCELLED"
    status = steps_api.steps_status(client, cluster, step_ids)
    assert (status.state, status.failed_step_id) == ("FAILED", step_ids[0])
    by_id[step_ids[0]].state = "COMPLETED"
    by_id[step_ids[1]].state = "COMPLETED"
    assert steps_api.steps_status(client, cluster, step_ids).state == "COMPLETED"


def test_a_describe_step_with_no_step_is_never_lost(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore
) -> None:
    """moto answers DescribeStep of a step it does not list with HTTP 200 and no Step: not "lost"."""
    emulator.hold("RUNNING")
    run = task_run(store)
    first = run.run_try(operator(cluster, wait_for_completion=False))
    store.set(run.scope, KEY, {**run.stored(KEY), "result": None})
    emulator.moto_describe_step(True)
    emulator.forget(emulator.jobs[0].external_id)
    retry = run.run_try(operator(cluster))
    assert isinstance(retry.error, EmrStepsReplyError), retry
    assert "not treating it as lost" in str(retry.error)
    assert added_steps(emulator) == 1
    assert run.stored(KEY)["external_id"] == f"{cluster}:{','.join(first.result)}"


def test_steps_emr_says_are_not_valid_are_lost(emulator: EmrStepsEmulator, cluster: str, client: Any) -> None:
    with pytest.raises(JobLostError):
        steps_api.steps_status(client, cluster, ["s-NOSUCHSTEP1"])
    with pytest.raises(JobLostError):
        steps_api.steps_status(client, "j-NOSUCHCLUSTER", ["s-NOSUCHSTEP1"])


def test_a_lost_cluster_resubmits_by_policy(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore
) -> None:
    emulator.hold("RUNNING")
    run = task_run(store)
    run.run_try(operator(cluster, wait_for_completion=False))
    store.set(run.scope, KEY, {**run.stored(KEY), "result": None})
    emulator.forget(emulator.jobs[0].external_id)
    emulator.finish_after(1, "COMPLETED")
    retry = run.run_try(operator(cluster))
    assert retry.succeeded, retry.error
    assert added_steps(emulator) == 2
    failing = run.run_try(operator(cluster, on_lost_job="fail"))
    assert failing.succeeded  # already succeeded: replayed, no call


# ---------------------------------------------------------------- deferrable


def test_deferrable_persists_then_defers_and_the_trigger_finishes(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore
) -> None:
    emulator.finish_after(3, "COMPLETED")
    run = task_run(store)
    outcome = run.run_try(operator(cluster, deferrable=True, poll_interval_seconds=0.01))
    assert outcome.deferred is not None
    assert isinstance(outcome.deferred.trigger, DurableEmrStepsTrigger)
    assert outcome.deferred.method_name == "execute_complete"
    assert outcome.stored_at_deferral["phase"] == "submitted"
    assert outcome.succeeded, outcome.error
    [job] = emulator.jobs
    assert outcome.result == job.run_ids
    assert outcome.xcoms == {**link_xcoms(cluster), "return_value": job.run_ids}
    classpath, kwargs = outcome.deferred.trigger.serialize()
    assert classpath == "airflow_durable_emr.triggers.DurableEmrStepsTrigger"
    assert kwargs["aws_conn_id"] == CONN_ID
    assert kwargs["external_id"] == job.external_id


def test_deferrable_failure_raises_upstreams_text(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore
) -> None:
    emulator.finish_after(1, "FAILED")
    outcome = task_run(store).run_try(operator(cluster, deferrable=True, poll_interval_seconds=0.01))
    assert isinstance(outcome.error, EmrStepsFailedError)
    assert str(outcome.error).startswith("Error while running steps: ")


def test_a_retry_after_a_trigger_failure_reconnects(
    emulator: EmrStepsEmulator, cluster: str, store: InMemoryTaskStateStore
) -> None:
    emulator.hold("RUNNING")
    run = task_run(store)
    first = run.run_try(
        operator(cluster, deferrable=True, poll_interval_seconds=0.01, max_transient_errors=0),
        before_trigger=lambda: emulator.fail_next(1, status=400, endpoint="ListSteps"),
    )
    assert first.error is not None, first
    assert "triggerer failed" in str(first.error)
    emulator.finish_after(1, "COMPLETED")
    second = run.run_try(operator(cluster, deferrable=True, poll_interval_seconds=0.01))
    assert second.succeeded, second.error
    assert added_steps(emulator) == 1


def test_the_trigger_reads_at_most_ten_steps_per_call(emulator: EmrStepsEmulator, cluster: str, client: Any) -> None:
    from airflow_durable.testing.doubles import first_trigger_event

    step_ids = client.add_job_flow_steps(JobFlowId=cluster, Steps=[step(f"s{i}") for i in range(25)])["StepIds"]
    emulator.force_state(emulator.jobs[0].external_id, "COMPLETED")
    trigger = DurableEmrStepsTrigger(f"{cluster}:{','.join(step_ids)}", aws_conn_id=CONN_ID, poll_interval_seconds=0.01)
    before = emulator.calls["ListSteps"]
    event = first_trigger_event(trigger)
    assert event.payload == {"external_id": f"{cluster}:{','.join(step_ids)}", "status": "COMPLETED"}
    assert emulator.calls["ListSteps"] - before == 3
