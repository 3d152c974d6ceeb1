"""``DurableEmrContainerOperator`` beyond the contract, against the EMR on EKS emulator (real boto3 over HTTP)."""

from __future__ import annotations

import inspect
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.amazon.aws.operators.emr import EmrContainerOperator
from airflow.sdk.exceptions import AirflowException, TaskDeferred

from airflow_durable import DurableJobError, JobFailedError, JobLostError
from airflow_durable.testing import InMemoryTaskStateStore, TaskInstanceRun, first_trigger_event
from airflow_durable.tokens import TOKEN_PATTERN, TaskInstanceScope
from airflow_durable_emr import containers as containers_module
from airflow_durable_emr.containers import (
    DurableEmrContainerOperator,
    EmrContainerJobFailedError,
    EmrContainerPollLimitError,
)
from airflow_durable_emr.testing import EmrContainersEmulator
from airflow_durable_emr.triggers import DurableEmrContainerTrigger
from emr_containers_support import CONN_ID, containers, operator_kwargs

__all__ = ["containers"]  # the fixture the tests use

KEY = DurableEmrContainerOperator.external_id_key


def run_of(store: InMemoryTaskStateStore, task_id: str = "emr_eks", map_index: int = -1) -> TaskInstanceRun:
    return TaskInstanceRun(store, TaskInstanceScope("emr_dag", "manual__1", task_id, map_index))


@pytest.fixture
def vc(containers: EmrContainersEmulator) -> str:
    return containers.create_virtual_cluster()


@pytest.fixture
def store() -> InMemoryTaskStateStore:
    return InMemoryTaskStateStore()


@pytest.fixture(autouse=True)
def short_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polling waits at most 5 ms (the operator's backoff still runs)."""
    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda seconds: real_sleep(min(seconds, 0.005)))


def make(vc: str, task_id: str = "emr_eks", **overrides: Any) -> DurableEmrContainerOperator:
    return DurableEmrContainerOperator(task_id=task_id, **operator_kwargs(vc, **overrides))


def only_job(containers: EmrContainersEmulator) -> Any:
    jobs = containers.jobs
    assert len(jobs) == 1, f"expected one job run, the emulator has {jobs}"
    return jobs[0]


# ---------------------------------------------------------------------- upstream's interface


def test_parameters_match_upstream() -> None:
    """Every upstream argument exists, keyword-only, with upstream's default (conf-read flags default to None)."""
    ours = inspect.signature(DurableEmrContainerOperator.__init__).parameters
    upstream = inspect.signature(EmrContainerOperator.__init__).parameters
    conf_defaults = {"deferrable", "openlineage_inject_parent_job_info", "openlineage_inject_transport_info"}
    for name, parameter in upstream.items():
        if name in ("self", "kwargs"):
            continue
        assert name in ours, f"missing upstream argument {name}"
        assert ours[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        if name not in conf_defaults:
            assert ours[name].default == parameter.default, name
    for name, default in (("aws_conn_id", "aws_default"), ("region_name", None), ("verify", None)):
        assert ours[name].default == default
    assert ours["botocore_config"].default is None


def test_templated_fields_and_class_attributes_match_upstream() -> None:
    assert tuple(DurableEmrContainerOperator.template_fields) == tuple(EmrContainerOperator.template_fields)
    assert tuple(DurableEmrContainerOperator.template_ext) == tuple(EmrContainerOperator.template_ext)
    assert DurableEmrContainerOperator.ui_color == EmrContainerOperator.ui_color
    assert DurableEmrContainerOperator.operator_extra_links == EmrContainerOperator.operator_extra_links == ()
    assert "client_request_token" not in DurableEmrContainerOperator.template_fields


def test_every_templated_field_renders() -> None:
    from airflow.sdk import DAG

    with DAG("render", schedule=None):
        operator = DurableEmrContainerOperator(
            task_id="t",
            name="{{ params.n }}",
            virtual_cluster_id="{{ params.vc }}",
            execution_role_arn="{{ params.role }}",
            release_label="{{ params.release }}",
            job_driver={"sparkSubmitJobDriver": {"entryPoint": "{{ params.entry }}"}},
            configuration_overrides={"applicationConfiguration": [{"classification": "{{ params.c }}"}]},
            aws_conn_id="{{ params.conn }}",
            region_name="{{ params.region }}",
            verify="{{ params.verify }}",
        )
    params = {
        "n": "job-1",
        "vc": "abc123",
        "role": "arn:role",
        "release": "emr-7.1.0-latest",
        "entry": "s3://x.py",
        "c": "spark-defaults",
        "conn": "aws_x",
        "region": "eu-west-1",
        "verify": "ca.pem",
    }
    operator.render_template_fields({"params": params})
    assert (operator.name, operator.virtual_cluster_id, operator.execution_role_arn, operator.release_label) == (
        "job-1",
        "abc123",
        "arn:role",
        "emr-7.1.0-latest",
    )
    assert operator.job_driver == {"sparkSubmitJobDriver": {"entryPoint": "s3://x.py"}}
    assert operator.configuration_overrides == {"applicationConfiguration": [{"classification": "spark-defaults"}]}
    assert (operator.aws_conn_id, operator.region_name, operator.verify) == ("aws_x", "eu-west-1", "ca.pem")


def test_importing_the_module_does_not_import_boto3() -> None:
    code = "import sys, airflow_durable_emr.containers, airflow_durable_emr.triggers; print('boto3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


# ---------------------------------------------------------------------- the request


def test_request_on_the_wire_is_upstreams_with_the_derived_token(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    containers.finish_after(2, "COMPLETED")
    overrides = {"monitoringConfiguration": {"persistentAppUI": "ENABLED"}}
    outcome = run_of(store).run_try(
        make(vc, configuration_overrides=overrides, tags={"team": "data"}, job_retry_max_attempts=3)
    )
    assert outcome.succeeded, outcome.error
    job = only_job(containers)
    request = job.request
    assert request["name"] == "nightly-etl"
    assert request["executionRoleArn"].endswith(":role/emr-on-eks")
    assert request["releaseLabel"] == "emr-7.1.0-latest"
    assert request["jobDriver"]["sparkSubmitJobDriver"]["entryPoint"] == "s3://bucket/app.py"
    assert request["configurationOverrides"] == overrides
    assert request["tags"] == {"team": "data"}
    assert request["retryPolicyConfiguration"] == {"maxAttempts": 3}, "job_retry_max_attempts was not sent"
    assert TOKEN_PATTERN.match(request["clientToken"])
    assert run_of(store).stored(KEY)["token"] == request["clientToken"]


def test_no_retry_policy_without_job_retry_max_attempts(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    containers.finish_after(1, "COMPLETED")
    assert run_of(store).run_try(make(vc)).succeeded
    assert "retryPolicyConfiguration" not in only_job(containers).request


def test_openlineage_injection_reaches_the_request(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upstream's injection helpers fill ``spark-defaults``; the rest of ``configuration_overrides`` stays."""
    from airflow.providers.common.compat.openlineage.utils import spark

    seen: list[Any] = []

    def inject(overrides: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(overrides)
        conf = {"classification": "spark-defaults", "properties": {"spark.openlineage.parentJobNamespace": "ns"}}
        return {**overrides, "applicationConfiguration": [conf]}

    monkeypatch.setattr(spark, "inject_parent_job_information_into_emr_serverless_properties", inject)
    containers.finish_after(1, "COMPLETED")
    monitoring = {"monitoringConfiguration": {"persistentAppUI": "ENABLED"}}
    outcome = run_of(store).run_try(
        make(vc, configuration_overrides=monitoring, openlineage_inject_parent_job_info=True)
    )
    assert outcome.succeeded, outcome.error
    assert seen == [monitoring]
    sent = only_job(containers).request["configurationOverrides"]
    assert sent["monitoringConfiguration"] == monitoring["monitoringConfiguration"]
    assert sent["applicationConfiguration"][0]["properties"] == {"spark.openlineage.parentJobNamespace": "ns"}


# ---------------------------------------------------------------------- tokens (the public report)


def test_client_request_token_is_a_base_never_sent_as_is(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    containers.finish_after(1, "COMPLETED")
    assert run_of(store, "a").run_try(make(vc, "a", client_request_token="fixed")).succeeded
    assert run_of(store, "b").run_try(make(vc, "b", client_request_token="fixed")).succeeded
    assert run_of(store, "c").run_try(make(vc, "c", client_request_token="other")).succeeded
    tokens = [job.request["clientToken"] for job in containers.jobs]
    assert len(containers.jobs) == 3, "two task instances with one client_request_token shared a run"
    assert "fixed" not in tokens
    assert len(set(tokens)) == 3
    plain = run_of(store, "c").stored(KEY)["token"]
    assert plain == tokens[2]


def test_retry_after_a_failed_run_never_gets_the_failed_run_back(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    """The public report: with a fixed ``client_request_token``, upstream's retry got its failed run back."""
    run = run_of(store)
    containers.finish_after(1, "FAILED")
    first = run.run_try(make(vc, client_request_token="nightly-etl-2026-11-29"))
    assert isinstance(first.error, EmrContainerJobFailedError), first
    containers.finish_after(1, "COMPLETED")
    second = run.run_try(make(vc, client_request_token="nightly-etl-2026-11-29"))
    assert second.succeeded, second.error
    failed, fresh = containers.jobs
    assert failed.request["clientToken"] != fresh.request["clientToken"]
    assert second.result == fresh.external_id.split(":")[1]
    assert run.stored(KEY)["generation"] == 1


def test_not_durable_sends_upstreams_token(containers: EmrContainersEmulator, vc: str) -> None:
    containers.finish_after(1, "COMPLETED")
    assert make(vc, client_request_token="mine", durable=False).execute(None) is not None  # type: ignore[arg-type]
    assert make(vc, durable=False).execute(None) is not None  # type: ignore[arg-type]
    given, generated = (job.request["clientToken"] for job in containers.jobs)
    assert given == "mine"
    assert generated != "mine"
    assert not TOKEN_PATTERN.match(generated)


# ---------------------------------------------------------------------- the submit window


def crash_in_submit_window(
    store: InMemoryTaskStateStore, containers: EmrContainersEmulator, vc: str, **overrides: Any
) -> TaskInstanceRun:
    run = run_of(store)
    containers.hold()
    store.crash_on_external_id_write = True
    first = run.run_try(make(vc, **overrides))
    assert first.crashed, first
    return run


def test_lookup_pages_through_list_job_runs_and_matches_name_and_token_exactly(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    """55 runs of the same name (other task instances) come first; ours is on the second page."""
    client = make(vc).job_runs.client
    for i in range(55):
        client.start_job_run(
            name="nightly-etl",
            virtualClusterId=vc,
            executionRoleArn="arn:aws:iam::123456789012:role/x",
            releaseLabel="emr-7.1.0-latest",
            jobDriver={},
            clientToken=f"another-task-{i}",
        )
    run = crash_in_submit_window(store, containers, vc)
    mine = containers.jobs[-1]
    containers.force_state(mine.external_id, "COMPLETED")
    second = run.run_try(make(vc))
    assert second.succeeded, second.error
    assert second.result == mine.external_id.split(":")[1]
    assert len(containers.jobs) == 56, "the retry started another run"
    assert containers.calls["ListJobRuns"] == 2
    assert containers.calls["StartJobRun"] == 56, "the retry resubmitted instead of adopting"


def test_resubmission_with_the_same_token_adopts_when_the_lookup_misses(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lookup that finds nothing within its bound resubmits the same token: EMR on EKS hands the run back."""
    run = crash_in_submit_window(store, containers, vc)
    job = only_job(containers)
    containers.force_state(job.external_id, "COMPLETED")
    second = run.run_try(make(vc, name="renamed-since"))  # the name filter cannot find it
    assert second.succeeded, second.error
    assert only_job(containers) is job
    assert containers.calls["StartJobRun"] == 2
    assert job.external_id in containers.counters()["deduplicated"]
    assert run.stored(KEY)["external_id"] == job.external_id


def test_lookup_never_adopts_another_task_instances_run(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    """Same name, same request, another map index: its run carries another token and is not adopted."""
    containers.hold()
    other = run_of(store, map_index=0).run_try(make(vc, wait_for_completion=False))
    assert other.succeeded, other.error
    run = run_of(store, map_index=1)
    store.crash_on_external_id_write = True
    assert run.run_try(make(vc)).crashed
    assert len(containers.jobs) == 2
    mine = containers.jobs[1]
    containers.force_state(mine.external_id, "COMPLETED")
    retry = run.run_try(make(vc))
    assert retry.succeeded, retry.error
    assert retry.result == mine.external_id.split(":")[1]
    assert len(containers.jobs) == 2


# ---------------------------------------------------------------------- bad input: clear errors, nothing written


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"client_request_token": "x" * 65}, "client_request_token", id="token-too-long"),
        pytest.param({"client_request_token": "   "}, "client_request_token", id="token-blank"),
        pytest.param({"name": "has spaces"}, "name", id="name-characters"),
        pytest.param({"name": "n" * 65}, "name", id="name-too-long"),
        pytest.param({"virtual_cluster_id": "../vc?x=1"}, "virtual_cluster_id", id="virtual-cluster-id"),
        pytest.param({"job_driver": "spark-submit app.py"}, "job_driver", id="job-driver-not-a-mapping"),
        pytest.param({"configuration_overrides": ["x"]}, "configuration_overrides", id="overrides-not-a-mapping"),
        pytest.param({"tags": [("a", "b")]}, "tags", id="tags-not-a-mapping"),
        pytest.param({"job_retry_max_attempts": 0}, "job_retry_max_attempts", id="retry-attempts-zero"),
    ],
)
def test_bad_input_fails_before_any_intent(
    overrides: dict[str, Any], message: str, containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    run = run_of(store)
    outcome = run.run_try(DurableEmrContainerOperator(task_id="emr_eks", **{**operator_kwargs(vc), **overrides}))
    assert isinstance(outcome.error, ValueError), outcome
    assert message in str(outcome.error)
    assert store.writes == [], "an intent was written for a request that cannot succeed"
    assert containers.calls["StartJobRun"] == 0


def test_a_64_character_client_request_token_is_accepted(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    containers.finish_after(1, "COMPLETED")
    assert run_of(store).run_try(make(vc, client_request_token="t" * 64)).succeeded


# ---------------------------------------------------------------------- polling and failures


def test_a_failed_run_raises_upstreams_error(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    def failure_reason(job: Any) -> None:
        containers.backend().job_runs[job.run_ids[0]].failure_reason = "USER_ERROR"

    containers.on_create = failure_reason
    containers.finish_after(2, "FAILED")
    outcome = run_of(store).run_try(make(vc))
    run_id = only_job(containers).run_ids[0]
    error = outcome.error
    assert isinstance(error, EmrContainerJobFailedError), outcome
    assert isinstance(error, AirflowException)
    assert isinstance(error, JobFailedError)
    assert str(error) == (
        f"EMR Containers job failed. Final state is FAILED. query_execution_id is {run_id}. "
        "Error: USER_ERROR - Job run is FAILED (emulated)."
    )


def test_cancel_pending_is_active_until_the_run_ends(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    """Upstream ends its polling at CANCEL_PENDING; ours waits for the final state."""
    containers.hold("CANCEL_PENDING")
    statuses: list[str] = []

    def end_after_three(job_id: Any) -> None:
        job = containers.job(job_id)
        statuses.append(job.state)
        if len(statuses) == 3:
            containers.force_state(job_id, "COMPLETED")

    containers.book.listeners.append(lambda event, job_id: end_after_three(job_id) if event == "status" else None)
    outcome = run_of(store).run_try(make(vc))
    assert outcome.succeeded, outcome.error
    assert statuses[:2] == ["CANCEL_PENDING", "CANCEL_PENDING"]


def test_max_polling_attempts_fails_with_upstreams_text_and_the_retry_reconnects(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    containers.hold("SUBMITTED")
    run = run_of(store)
    first = run.run_try(make(vc, max_polling_attempts=3))
    job = only_job(containers)
    run_id = job.external_id.split(":")[1]
    assert isinstance(first.error, EmrContainerPollLimitError)
    assert isinstance(first.error, AirflowException)
    assert str(first.error) == (
        f"Final state of EMR Containers job is SUBMITTED. Max tries of poll status exceeded, "
        f"query_execution_id is {run_id}."
    )
    assert containers.calls["DescribeJobRun"] == 3
    assert containers.calls["CancelJobRun"] == 0, "the run must keep going"
    containers.force_state(job.external_id, "COMPLETED")
    second = run.run_try(make(vc, max_polling_attempts=3))
    assert second.succeeded
    assert second.result == run_id
    assert len(containers.jobs) == 1


def test_transient_errors_are_retried_and_others_fail_clearly(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    """Upstream takes any ClientError for "no status" and polls on; ours retries only what is transient."""
    containers.finish_after(3, "COMPLETED")
    containers.fail_next(2, 503, endpoint="DescribeJobRun")
    assert run_of(store, "transient").run_try(make(vc, "transient")).succeeded

    containers.hold()
    containers.fail_next(1, 403, endpoint="DescribeJobRun", code="AccessDeniedException")
    run = run_of(store, "denied")
    outcome = run.run_try(make(vc, "denied"))
    assert outcome.error is not None, outcome
    assert "AccessDenied" in repr(outcome.error)
    assert len(containers.jobs) == 2, "an error while polling must never resubmit"
    assert run.stored(KEY)["phase"] == "submitted"


def submitted_then_reconnecting(store: InMemoryTaskStateStore, vc: str) -> TaskInstanceRun:
    """A try that started a run without waiting, recorded so that the next waiting try reconnects to it."""
    run = run_of(store)
    assert run.run_try(make(vc, wait_for_completion=False)).succeeded
    store.set(run.scope, KEY, {**run.stored(KEY), "result": None})  # a waiting try crashed mid-poll
    return run


def test_a_describe_reply_without_a_job_run_is_never_taken_for_lost(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    """An odd 200 reply (no ``jobRun``) fails the try clearly; it never leads to a resubmission."""
    containers.hold()
    run = submitted_then_reconnecting(store, vc)
    job = only_job(containers)
    containers.fail_next(1, 200, endpoint="DescribeJobRun", body="{}")
    outcome = run.run_try(make(vc))
    assert isinstance(outcome.error, DurableJobError), outcome
    assert not isinstance(outcome.error, JobLostError)
    assert "without a job run state" in str(outcome.error)
    assert only_job(containers) is job, "an odd reply led to a resubmission"
    assert run.stored(KEY)["external_id"] == job.external_id
    containers.force_state(job.external_id, "COMPLETED")
    assert run.run_try(make(vc)).result == job.run_ids[0]


def test_a_lost_run_follows_on_lost_job(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    containers.hold()
    run = submitted_then_reconnecting(store, vc)
    job = only_job(containers)
    containers.forget(job.external_id)
    failed = run.run_try(make(vc, on_lost_job="fail"))
    assert isinstance(failed.error, JobLostError)
    assert job.external_id in str(failed.error)
    assert len(containers.jobs) == 1
    containers.finish_after(1, "COMPLETED")
    fresh = run.run_try(make(vc))
    assert fresh.succeeded, fresh.error
    assert len(containers.jobs) == 2
    assert run.stored(KEY)["generation"] == 1


# ---------------------------------------------------------------------- on_kill


def test_on_kill_is_bounded_in_time_and_honours_cancel_on_kill(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    containers.hold()
    run = run_of(store)
    assert run.run_try(make(vc, wait_for_completion=False)).succeeded
    job = only_job(containers)

    keep = make(vc, cancel_on_kill=False)
    keep.job_id = job.external_id.split(":")[1]
    keep.on_kill()
    assert containers.calls["CancelJobRun"] == 0, "cancel_on_kill=False cancelled the run"

    slow = make(vc, cancel_timeout_seconds=0.5)
    slow.job_id = job.external_id.split(":")[1]
    containers.set_latency(5)
    started = time.monotonic()
    slow.on_kill()
    assert time.monotonic() - started < 3, "on_kill waited for a slow cancel"
    containers.set_latency(0)

    quick = make(vc)
    quick.job_id = job.external_id.split(":")[1]
    quick.on_kill()
    assert job.external_id in containers.counters()["cancelled"]
    quick.on_kill()  # a second cancel (EMR on EKS: ValidationException) is logged, never raised


def test_job_id_is_the_owned_run(containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore) -> None:
    containers.finish_after(1, "COMPLETED")
    operator = make(vc)
    assert operator.job_id is None
    outcome = run_of(store).run_try(operator)
    assert operator.job_id == outcome.result == only_job(containers).external_id.split(":")[1]
    with pytest.raises(ValueError, match="not_an_id"):
        operator.job_id = "not_an_id"


# ---------------------------------------------------------------------- deferrable


def test_deferrable_defers_on_our_trigger_after_the_persist_with_upstreams_timeout(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    containers.hold()
    run = run_of(store)
    outcome = run.run_try(
        make(vc, deferrable=True, wait_for_completion=False, poll_interval=10, max_polling_attempts=6),
        run_triggers=False,
    )
    deferred: TaskDeferred = outcome.deferred
    assert deferred is not None, "deferrable=True defers even with wait_for_completion=False (as upstream)"
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout == timedelta(seconds=60)
    trigger = deferred.trigger
    assert isinstance(trigger, DurableEmrContainerTrigger)
    job = only_job(containers)
    assert outcome.stored_at_deferral["external_id"] == job.external_id == trigger.external_id
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_durable_emr.triggers.DurableEmrContainerTrigger"
    assert kwargs["aws_conn_id"] == CONN_ID
    assert "password" not in repr(kwargs)
    rebuilt = DurableEmrContainerTrigger(**kwargs)
    containers.force_state(job.external_id, "COMPLETED")
    assert first_trigger_event(rebuilt).payload == {"external_id": job.external_id, "status": "COMPLETED"}


def test_trigger_waits_through_cancel_pending_and_reports_lost_runs(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    containers.hold("CANCEL_PENDING")
    assert run_of(store).run_try(make(vc, wait_for_completion=False)).succeeded
    job = only_job(containers)
    trigger = DurableEmrContainerTrigger(job.external_id, aws_conn_id=CONN_ID, poll_interval_seconds=0.01)
    polls: list[Any] = []

    def cancel_after_two(job_id: Any) -> None:
        polls.append(job_id)
        if len(polls) == 2:
            containers.force_state(job_id, "CANCELLED")

    containers.book.listeners.append(lambda event, job_id: cancel_after_two(job_id) if event == "status" else None)
    assert first_trigger_event(trigger, 10).payload == {"external_id": job.external_id, "status": "CANCELLED"}
    assert len(polls) == 2, "the trigger stopped at CANCEL_PENDING"
    containers.forget(job.external_id)
    lost = first_trigger_event(DurableEmrContainerTrigger(job.external_id, aws_conn_id=CONN_ID), 10).payload
    assert lost["external_id"] == job.external_id
    assert "unknown" in lost["error"]


def test_trigger_on_kill_cancels_the_run_when_cancel_on_kill(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    import asyncio

    containers.hold()
    assert run_of(store).run_try(make(vc, wait_for_completion=False)).succeeded
    job = only_job(containers)
    asyncio.run(DurableEmrContainerTrigger(job.external_id, aws_conn_id=CONN_ID, cancel_on_kill=False).on_kill())
    assert containers.calls["CancelJobRun"] == 0
    asyncio.run(DurableEmrContainerTrigger(job.external_id, aws_conn_id=CONN_ID).on_kill())
    assert job.external_id in containers.counters()["cancelled"]


def test_a_failed_deferred_run_raises_upstreams_error(
    containers: EmrContainersEmulator, vc: str, store: InMemoryTaskStateStore
) -> None:
    containers.finish_after(2, "FAILED")
    outcome = run_of(store).run_try(make(vc, deferrable=True))
    assert outcome.deferred is not None
    assert isinstance(outcome.error, EmrContainerJobFailedError), outcome
    assert str(outcome.error).startswith("EMR Containers job failed. Final state is FAILED. query_execution_id is ")


def test_execute_complete_accepts_upstreams_trigger_events(containers: EmrContainersEmulator, vc: str) -> None:
    """A task deferred by upstream's operator before the upgrade resumes in ours."""
    operator = make(vc)
    assert operator.execute_complete(None, {"status": "success", "job_id": "abc123"}) == "abc123"  # type: ignore[arg-type]
    with pytest.raises(AirflowException, match="Error while running job"):
        operator.execute_complete(None, {"status": "error", "message": "Job failed", "job_id": "abc123"})  # type: ignore[arg-type]
    assert containers.calls["DescribeJobRun"] == 0


# ---------------------------------------------------------------------- constants


def test_lookup_bound_constants() -> None:
    assert containers_module.LIST_PAGE_SIZE * containers_module.MAX_LOOKUP_PAGES >= 1000
