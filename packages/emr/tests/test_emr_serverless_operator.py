"""``DurableEmrServerlessStartJobOperator`` beyond the contract, against the EMR Serverless emulator over HTTP.

Upstream's arguments, templated fields, links and return value; bad input failing before any intent; the
public reports (a new ``clientToken`` at every parse; a waiter timeout whose retry started a second run);
the run found by its token tag after a crash; ``on_kill`` bounded; the trigger; odd replies.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import boto3
import pytest
from airflow.providers.amazon.aws.operators.emr import EmrServerlessStartJobOperator
from airflow.sdk.exceptions import TaskDeferred

from airflow_durable import DurableJobError, JobState, TaskInstanceScope, submission_token
from airflow_durable.testing import FakeTaskInstance, InMemoryTaskStateStore, TaskInstanceRun, first_trigger_event
from airflow_durable_emr.serverless import (
    DurableEmrServerlessStartJobOperator,
    EmrServerlessApplicationError,
    EmrServerlessJobFailedError,
    EmrServerlessWaiterTimeoutError,
    default_job_name,
)
from airflow_durable_emr.serverless_runs import TOKEN_TAG
from airflow_durable_emr.statuses import SERVERLESS_JOB_RUN_STATES
from airflow_durable_emr.testing.contract import emr_boto3_env, emr_connection_env
from airflow_durable_emr.testing.emulator import EmrServerlessEmulator
from airflow_durable_emr.triggers import DurableEmrServerlessJobTrigger

CONN_ID = "emr_serverless_test"
ROLE_ARN = "arn:aws:iam::123456789012:role/emr-serverless-job"
SPARK = {"sparkSubmit": {"entryPoint": "s3://bucket/job.py"}}
KEY = "emr_serverless_job_run_id"
MONITORING = {
    "monitoringConfiguration": {
        "s3MonitoringConfiguration": {"logUri": "s3://logs-bucket/emr/"},
        "cloudWatchLoggingConfiguration": {"enabled": True, "logGroupName": "/aws/emrs", "logStreamNamePrefix": "app"},
    }
}
LINK_KEYS = {
    "emr_serverless_dashboard",
    "emr_serverless_logs",
    "emr_serverless_s3_logs",
    "emr_serverless_cloudwatch_logs",
}


@pytest.fixture
def emulator() -> Iterator[EmrServerlessEmulator]:
    with EmrServerlessEmulator() as emulator, mock.patch.dict(os.environ, {}):
        os.environ.update(emr_connection_env(CONN_ID, emr_serverless=emulator.url))
        yield emulator


@pytest.fixture
def app(emulator: EmrServerlessEmulator) -> str:
    return emulator.create_application(state="STARTED")


@pytest.fixture
def store() -> InMemoryTaskStateStore:
    return InMemoryTaskStateStore()


@pytest.fixture
def make(app: str) -> Callable[..., DurableEmrServerlessStartJobOperator]:
    def build(task_id: str = "serverless", **overrides: Any) -> DurableEmrServerlessStartJobOperator:
        arguments: dict[str, Any] = {
            "application_id": app,
            "execution_role_arn": ROLE_ARN,
            "job_driver": SPARK,
            "aws_conn_id": CONN_ID,
            "waiter_delay": 0,
            "waiter_max_attempts": 100,
            "cancel_timeout_seconds": 5,
            **overrides,
        }
        return DurableEmrServerlessStartJobOperator(task_id=task_id, **arguments)

    return build


def task_run(store: InMemoryTaskStateStore, task_id: str = "serverless", map_index: int = -1) -> TaskInstanceRun:
    return TaskInstanceRun(store, TaskInstanceScope("emr_dag", "manual__1", task_id, map_index))


def client() -> Any:
    return boto3.client("emr-serverless")


@pytest.fixture
def boto_env(emulator: EmrServerlessEmulator) -> Iterator[None]:
    with mock.patch.dict(os.environ, emr_boto3_env(emr_serverless=emulator.url)):
        yield


# ---------------------------------------------------------------------- upstream's interface


def test_positional_parameters_and_defaults_are_upstreams() -> None:
    ours = list(inspect.signature(DurableEmrServerlessStartJobOperator.__init__).parameters.values())
    theirs = list(inspect.signature(EmrServerlessStartJobOperator.__init__).parameters.values())
    positional = [p for p in theirs if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert [p.name for p in ours[: len(positional)]] == [p.name for p in positional]
    operator = DurableEmrServerlessStartJobOperator(
        task_id="t", application_id="app1", execution_role_arn=ROLE_ARN, job_driver=SPARK
    )
    assert (operator.waiter_delay, operator.waiter_max_attempts) == (60, 25)
    assert operator.wait_for_completion is True
    assert operator.cancel_on_kill is True
    assert operator.enable_application_ui_links is False
    assert operator.client_request_token == ""
    assert operator.config == {}
    assert operator.aws_conn_id == "aws_default"
    assert (operator.region_name, operator.verify, operator.botocore_config) == (None, None, None)
    assert operator.poll_interval_seconds == 60.0
    assert operator.max_poll_interval_seconds == 240.0  # the core policy: max(120 s, 4 x waiter_delay)


def test_templated_fields_and_links_are_upstreams() -> None:
    ours = DurableEmrServerlessStartJobOperator
    assert tuple(ours.template_fields) == tuple(EmrServerlessStartJobOperator.template_fields)
    assert ours.template_fields_renderers == EmrServerlessStartJobOperator.template_fields_renderers
    operator = ours(task_id="t", application_id="app1", execution_role_arn=ROLE_ARN, job_driver=SPARK)
    upstream = EmrServerlessStartJobOperator(
        task_id="t", application_id="app1", execution_role_arn=ROLE_ARN, job_driver=SPARK
    )
    assert [type(link) for link in operator.operator_extra_links] == [
        type(link) for link in upstream.operator_extra_links
    ]


def test_every_templated_field_renders() -> None:
    operator = DurableEmrServerlessStartJobOperator(
        task_id="t",
        application_id="{{ params.app }}",
        execution_role_arn="{{ params.role }}",
        job_driver={"sparkSubmit": {"entryPoint": "{{ params.entry }}"}},
        configuration_overrides={"x": "{{ params.app }}"},
        config={"tags": {"team": "{{ params.app }}"}},
        name="{{ params.app }}-run",
        aws_conn_id="{{ params.conn }}",
        region_name="{{ params.region }}",
        verify="{{ params.verify }}",
    )
    params = {"app": "a1", "role": ROLE_ARN, "entry": "s3://b/e.py", "conn": "c", "region": "eu-west-1", "verify": "v"}
    operator.render_template_fields({"params": params})
    assert (operator.application_id, operator.execution_role_arn, operator.name) == ("a1", ROLE_ARN, "a1-run")
    assert operator.job_driver == {"sparkSubmit": {"entryPoint": "s3://b/e.py"}}
    assert operator.configuration_overrides == {"x": "a1"}
    assert operator.config == {"tags": {"team": "a1"}}
    assert (operator.aws_conn_id, operator.region_name, operator.verify) == ("c", "eu-west-1", "v")


def test_importing_the_module_does_not_import_boto3() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import airflow_durable_emr.serverless, airflow_durable_emr.triggers; "
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, "
        "sorted(m for m in sys.modules if 'boto' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------- the request, the token, the result


def test_fresh_run_sends_the_submission_token_and_returns_the_job_run_id(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore, app: str, boto_env: None
) -> None:
    emulator.finish_after(2, "SUCCESS")
    run = task_run(store)
    outcome = run.run_try(make(config={"tags": {"team": "data"}, "executionTimeoutMinutes": 30}))
    assert outcome.succeeded, outcome.error
    [job] = emulator.jobs
    _, job_run_id = job.external_id.split(":")
    assert outcome.result == job_run_id
    token = submission_token(run.scope, 0)
    assert job.token == token
    described = client().get_job_run(applicationId=app, jobRunId=job_run_id)["jobRun"]
    assert described["tags"] == {"team": "data", TOKEN_TAG: token}, "our tag goes beside the user's"
    assert described["name"] == default_job_name(token)
    assert run.stored(KEY)["phase"] == "succeeded"


def test_user_name_and_config_are_kept(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore, app: str, boto_env: None
) -> None:
    emulator.finish_after(1, "SUCCESS")
    outcome = task_run(store).run_try(make(name="nightly", config={"name": "ignored"}))
    assert outcome.succeeded, outcome.error
    [job] = emulator.jobs
    described = client().get_job_run(applicationId=app, jobRunId=job.external_id.split(":")[1])["jobRun"]
    assert described["name"] == "ignored", "config is spread over the arguments, as upstream"


def test_every_parse_derives_the_same_client_token_and_a_user_token_only_seeds_it(
    make: Any, store: InMemoryTaskStateStore
) -> None:
    """The public report: upstream's clientToken is a uuid4() fixed at each DAG parse, so every retry runs anew."""
    scope = TaskInstanceScope("emr_dag", "manual__1", "serverless")
    first, second = make(client_request_token="user.token-1"), make(client_request_token="user.token-1")
    assert first.token_base() == second.token_base() == "user.token-1"
    tokens = [submission_token(scope, g, base=first.token_base()) for g in (0, 0, 1)]
    assert tokens[0] == tokens[1] != tokens[2]
    assert "user.token-1" not in tokens, "a user token is never reused: a retry after a failure gets a new one"
    request = first.start_job_run_request(tokens[0])
    assert request["clientToken"] == tokens[0]
    assert request["tags"] == {TOKEN_TAG: tokens[0]}


def test_not_durable_sends_the_user_token_as_upstream(make: Any) -> None:
    request = make(client_request_token="user-token", durable=False).start_job_run_request(None)
    assert request["clientToken"] == "user-token"
    assert "tags" not in request
    assert request["name"].startswith("emr_serverless_job_airflow_")
    assert make().start_job_run_request(None)["clientToken"] != make().start_job_run_request(None)["clientToken"]


# ---------------------------------------------------------------------- links and XComs on every path


def _mask(xcoms: dict[str, Any], job_run_id: str) -> dict[str, Any]:
    text = repr({k: v for k, v in xcoms.items() if k in LINK_KEYS})
    return {"links": text.replace(job_run_id, "<run>")}


def test_links_are_upstreams_on_every_path(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore, app: str
) -> None:
    """Upstream's XComs (same keys and values) on the fresh, reconnect, already-succeeded and replay paths."""
    upstream_ti = FakeTaskInstance(dag_id="emr_dag", run_id="up", task_id="up")
    emulator.finish_after(2, "SUCCESS")
    upstream = EmrServerlessStartJobOperator(
        task_id="up",
        application_id=app,
        execution_role_arn=ROLE_ARN,
        job_driver=SPARK,
        configuration_overrides=MONITORING,
        enable_application_ui_links=True,
        aws_conn_id=CONN_ID,
        waiter_delay=0,
        waiter_max_attempts=10,
    )
    upstream_run_id = upstream.execute({"ti": upstream_ti, "task_instance": upstream_ti})  # type: ignore[arg-type]
    expected = _mask(upstream_ti.xcoms, upstream_run_id)
    assert set(upstream_ti.xcoms) == LINK_KEYS

    def ours(**kwargs: Any) -> DurableEmrServerlessStartJobOperator:
        return make(configuration_overrides=MONITORING, enable_application_ui_links=True, **kwargs)

    emulator.hold()
    run = task_run(store)
    crash = mock.patch.object(time, "sleep", side_effect=_crash_after_first_poll())
    with crash:
        first = run.run_try(ours())
    assert first.crashed
    [_, job] = emulator.jobs
    job_run_id = job.external_id.split(":")[1]
    assert _mask(first.xcoms, job_run_id) == expected, "fresh path: links before the first poll"
    emulator.force_state(job.external_id, "SUCCESS")
    reconnected = run.run_try(ours())
    assert reconnected.succeeded, reconnected.error
    assert _mask(reconnected.xcoms, job_run_id) == expected
    replayed = run.run_try(ours())
    assert replayed.succeeded, replayed.error
    assert replayed.result == job_run_id
    assert _mask(replayed.xcoms, job_run_id) == expected


def _crash_after_first_poll() -> Callable[[float], None]:
    from airflow_durable.testing import SimulatedCrash

    def sleep(seconds: float) -> None:
        raise SimulatedCrash("crash between two polls")

    return sleep


def test_no_links_without_monitoring_or_ui_links(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    emulator.finish_after(1, "SUCCESS")
    outcome = task_run(store).run_try(make(configuration_overrides={"monitoringConfiguration": {}}))
    assert outcome.succeeded, outcome.error
    assert set(outcome.xcoms) == {"return_value"}


def test_links_without_the_provider_push_the_same_xcoms(make: Any) -> None:
    from airflow_durable_emr import serverless

    operator = make(configuration_overrides=MONITORING, enable_application_ui_links=True)
    ti = FakeTaskInstance(dag_id="d", run_id="r", task_id="t")
    with mock.patch.object(serverless.PROVIDER_LINKS, "link_classes", return_value=()):
        operator.persist_links({"ti": ti}, "app1", "run1")  # type: ignore[arg-type]
    assert set(ti.xcoms) == LINK_KEYS
    assert ti.xcoms["emr_serverless_cloudwatch_logs"] == {
        "region_name": "us-east-1",
        "aws_domain": "aws.amazon.com",
        "awslogs_group": "/aws/emrs",
        "stream_prefix": "app/applications/app1/jobs/run1",
    }
    assert ti.xcoms["emr_serverless_s3_logs"]["log_uri"] == "s3://logs-bucket/emr/"


# ---------------------------------------------------------------------- bad input: an error before any intent


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"client_request_token": "x" * 65}, "not a valid clientToken"),
        ({"client_request_token": "has space"}, "not a valid clientToken"),
        ({"config": {"clientToken": "mine"}}, "which the operator sets itself"),
        ({"config": {"tags": {TOKEN_TAG: "x"}}}, "sets itself"),
        ({"config": {"tags": ["not", "a", "dict"]}}, "must be a dict"),
        ({"application_id": "app:one"}, "is not an EMR Serverless application ID"),
        ({"application_id": "has space"}, "is not an EMR Serverless application ID"),
        ({"application_id": "Not_An_Id"}, "does not exist"),
        ({"application_id": "nosuchapp00"}, "does not exist"),
    ],
)
def test_bad_input_fails_before_any_intent(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore, overrides: dict[str, Any], message: str
) -> None:
    run = task_run(store)
    outcome = run.run_try(make(**overrides))
    assert isinstance(outcome.error, ValueError), outcome
    assert message in str(outcome.error)
    assert run.stored(KEY) is None, "nothing may be written before the request is known to be valid"
    assert emulator.calls["StartJobRun"] == 0


@pytest.mark.parametrize("state", ["STOPPED", "CREATING"])
def test_an_application_that_is_not_started_is_started_first(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore, state: str
) -> None:
    application = emulator.create_application(state=state)
    emulator.finish_after(1, "SUCCESS")
    outcome = task_run(store).run_try(make(application_id=application))
    assert outcome.succeeded, outcome.error
    assert emulator.calls["StartApplication"] == 1
    assert len(emulator.jobs) == 1


@pytest.mark.parametrize("refuse", [False, True], ids=["terminated", "start-refused"])
def test_an_application_that_cannot_be_started_fails_before_any_intent(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore, refuse: bool
) -> None:
    application = emulator.create_application(state="STOPPED" if refuse else "TERMINATED")
    if refuse:
        emulator.refuse_start(application, "Application quota exceeded")
    run = task_run(store)
    outcome = run.run_try(make(application_id=application))
    assert isinstance(outcome.error, EmrServerlessApplicationError), outcome
    assert str(outcome.error).startswith("Serverless Application failed to start: ")
    assert ("quota exceeded" if refuse else "TERMINATED") in str(outcome.error)
    assert run.stored(KEY) is None
    assert emulator.calls["StartJobRun"] == 0


def test_an_application_that_never_starts_fails_after_the_waiter_budget(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    application = emulator.create_application(state="STOPPED")

    def stuck_starting(request: Any) -> Any:
        emulator.set_application_state(application, "STARTING")
        return _ok()

    with mock.patch.object(emulator, "_start_application", side_effect=stuck_starting):
        outcome = task_run(store).run_try(make(application_id=application, waiter_max_attempts=3))
    assert isinstance(outcome.error, EmrServerlessApplicationError), outcome
    assert "still STARTING after 3 attempts" in str(outcome.error)
    assert emulator.calls["StartJobRun"] == 0


def _ok() -> Any:
    from airflow_durable.testing.routes import Reply

    return Reply(200, {})


# ---------------------------------------------------------------------- the crash window: lookup by tag


def test_retry_after_a_crash_in_the_submit_window_finds_its_run_among_lookalikes(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore, app: str, boto_env: None
) -> None:
    """The run is found by its token tag, among more than a page of runs with the same name (not by clientToken)."""
    emulator.hold()
    sdk = client()
    for index in range(55):
        sdk.start_job_run(
            applicationId=app,
            clientToken=f"other-{index}",
            executionRoleArn=ROLE_ARN,
            jobDriver=SPARK,
            name="nightly",
            tags={TOKEN_TAG: f"ad-{index:028x}-g0"},
        )
    store.crash_on_external_id_write = True
    run = task_run(store)
    first = run.run_try(make(name="nightly"))
    assert first.crashed
    mine = emulator.jobs[-1]
    store.crash_on_external_id_write = False
    emulator.force_state(mine.external_id, "SUCCESS")
    second = run.run_try(make(name="nightly"))
    assert second.succeeded, second.error
    assert second.result == mine.external_id.split(":")[1]
    assert len(emulator.jobs) == 56, "the retry adopted its run instead of starting another"
    assert emulator.calls["ListJobRuns"] >= 2, "the search went past the first page"


def test_the_lookup_never_adopts_another_generations_run(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    emulator.finish_after(1, "FAILED")
    run = task_run(store)
    failed = run.run_try(make())
    assert isinstance(failed.error, EmrServerlessJobFailedError), failed
    assert str(failed.error).startswith("Serverless Job failed: ")
    emulator.finish_after(1, "SUCCESS")
    store.crash_on_external_id_write = True
    crashed = run.run_try(make())
    assert crashed.crashed
    store.crash_on_external_id_write = False
    retried = run.run_try(make())
    assert retried.succeeded, retried.error
    assert [job.token for job in emulator.jobs] == [submission_token(run.scope, 0), submission_token(run.scope, 1)]
    assert retried.result == emulator.jobs[1].external_id.split(":")[1]


# ---------------------------------------------------------------------- states


def test_queued_is_active_and_cancelling_is_active_until_it_ends() -> None:
    assert SERVERLESS_JOB_RUN_STATES.classify("QUEUED") is JobState.ACTIVE
    assert SERVERLESS_JOB_RUN_STATES.classify("CANCELLING") is JobState.ACTIVE
    assert SERVERLESS_JOB_RUN_STATES.classify("CANCELLED") is JobState.FAILED


def test_a_retry_reconnects_to_a_queued_or_cancelling_run(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    emulator.hold("QUEUED")
    run = task_run(store)
    with mock.patch.object(time, "sleep", side_effect=_crash_after_first_poll()):
        assert run.run_try(make()).crashed
    [job] = emulator.jobs
    emulator.force_state(job.external_id, "CANCELLING")
    polls: list[str] = []

    def end_cancel(seconds: float) -> None:
        polls.append("sleep")
        emulator.force_state(job.external_id, "CANCELLED")

    with mock.patch.object(time, "sleep", side_effect=end_cancel):
        outcome = run.run_try(make())
    assert isinstance(outcome.error, EmrServerlessJobFailedError), outcome
    assert outcome.error.status == "CANCELLED"
    assert polls, "CANCELLING was polled, not taken for the end"
    assert len(emulator.jobs) == 1


# ---------------------------------------------------------------------- the waiter timeout (public report)


def test_a_waiter_timeout_keeps_the_run_and_the_retry_reconnects(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    """The public report: upstream's waiter timed out and the retry started a second run."""
    emulator.hold()
    run = task_run(store)
    first = run.run_try(make(waiter_max_attempts=3, retries=1))
    assert isinstance(first.error, EmrServerlessWaiterTimeoutError), first
    assert "Waiter error: max attempts reached" in str(first.error)
    assert first.error.cancelled is False
    [job] = emulator.jobs
    assert emulator.job(job.external_id).state == "RUNNING", "with a retry left, the run keeps going"
    emulator.force_state(job.external_id, "SUCCESS")
    second = run.run_try(make(waiter_max_attempts=3, retries=1))
    assert second.succeeded, second.error
    assert len(emulator.jobs) == 1


def test_the_waiter_budget_is_seconds_not_polls(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    """Polls back off past ``waiter_delay``: the budget (``waiter_delay`` x ``waiter_max_attempts`` seconds,
    upstream's 25 min by default) runs out after fewer polls than ``waiter_max_attempts``, not later."""
    import airflow_durable.mixin as mixin
    import airflow_durable_emr.serverless as serverless

    clock = {"now": 0.0}

    def sleep(seconds: float) -> None:
        clock["now"] += seconds

    fake = mock.Mock(wraps=time, sleep=sleep, monotonic=lambda: clock["now"])
    emulator.hold()
    with mock.patch.object(mixin, "time", fake), mock.patch.object(serverless, "time", fake):
        outcome = task_run(store).run_try(make(waiter_delay=60, waiter_max_attempts=25, retries=1))
    assert isinstance(outcome.error, EmrServerlessWaiterTimeoutError), outcome
    [job] = emulator.jobs
    polls = emulator.job(job.external_id).status_calls
    assert 25 * 60 <= clock["now"] < 25 * 60 + 240, "it gave up once the budget's seconds had passed"
    assert polls < 25, f"{polls} polls: the budget is not counted in polls"


def test_a_waiter_timeout_on_the_last_try_cancels_the_run(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    emulator.hold()
    outcome = task_run(store).run_try(make(waiter_max_attempts=2, retries=0))
    assert isinstance(outcome.error, EmrServerlessWaiterTimeoutError), outcome
    assert outcome.error.cancelled is True
    assert emulator.calls["CancelJobRun"] == 1


# ---------------------------------------------------------------------- on_kill


def _running(emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore, **kwargs: Any) -> Any:
    emulator.hold()
    operator = make(**kwargs)
    with mock.patch.object(time, "sleep", side_effect=_crash_after_first_poll()):
        assert task_run(store).run_try(operator).crashed
    return operator


def test_on_kill_cancels_and_is_bounded_in_time(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    operator = _running(emulator, make, store, cancel_timeout_seconds=0.5)
    emulator.set_latency(5)
    started = time.monotonic()
    operator.on_kill()
    assert time.monotonic() - started < 2.5
    emulator.set_latency(0)


def test_on_kill_cancels_the_owned_run(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    operator = _running(emulator, make, store, cancel_timeout_seconds=5)
    operator.on_kill()
    [job] = emulator.jobs
    assert emulator.calls["CancelJobRun"] == 1
    assert emulator.job(job.external_id).state == "CANCELLED"


def test_on_kill_leaves_the_run_alone_without_cancel_on_kill(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    operator = _running(emulator, make, store, cancel_on_kill=False)
    operator.on_kill()
    assert emulator.calls["CancelJobRun"] == 0


def test_on_kill_waits_for_the_end_only_after_an_acknowledged_cancel(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    """As upstream's ``on_kill``: poll the run to its end only when ``CancelJobRun`` answered HTTP 200."""
    operator = _running(emulator, make, store, cancel_timeout_seconds=5)
    polls = emulator.calls["GetJobRun"]
    operator.on_kill()
    assert emulator.calls["GetJobRun"] > polls
    unacknowledged = mock.MagicMock()
    unacknowledged.cancel_job_run.return_value = {"ResponseMetadata": {"HTTPStatusCode": 202}}
    operator._client = unacknowledged
    application_id, job_run_id = operator.application_id, operator.job_id
    operator.cancel_job(f"{application_id}:{job_run_id}")
    unacknowledged.cancel_job_run.assert_called_once_with(applicationId=application_id, jobRunId=job_run_id)
    unacknowledged.get_job_run.assert_not_called()


# ---------------------------------------------------------------------- odd replies


def test_a_job_run_id_that_is_not_a_string_is_a_value_error(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    """A reply whose ``jobRunId`` is no string fails before it is stored (never a ``TypeError``)."""
    with mock.patch.object(DurableEmrServerlessStartJobOperator, "client", new_callable=mock.PropertyMock) as client:
        client.return_value.get_application.return_value = {"application": {"state": "STARTED"}}
        client.return_value.start_job_run.return_value = {
            "jobRunId": 42,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }
        outcome = task_run(store).run_try(make())
    assert isinstance(outcome.error, ValueError), outcome
    assert "42 is not an EMR job run ID" in str(outcome.error)


def test_a_reply_without_a_state_is_an_error_never_a_lost_run(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    _running(emulator, make, store)
    emulator.fail_next(1, 200, endpoint="GetJobRun", body="{}")
    run = task_run(store)
    outcome = run.run_try(make())
    assert isinstance(outcome.error, DurableJobError), outcome
    assert "without a state" in str(outcome.error)
    assert "not taken as lost" in str(outcome.error)
    assert len(emulator.jobs) == 1
    assert run.stored(KEY)["phase"] == "submitted"


# ---------------------------------------------------------------------- deferrable


def test_deferrable_defers_after_the_persist_with_upstreams_timeout(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    emulator.hold()
    run = task_run(store)
    outcome = run.run_try(make(deferrable=True, waiter_delay=2, waiter_max_attempts=5), run_triggers=False)
    deferred = outcome.deferred
    assert isinstance(deferred, TaskDeferred)
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout == timedelta(seconds=10)
    [job] = emulator.jobs
    assert outcome.stored_at_deferral["external_id"] == job.external_id
    classpath, kwargs = deferred.trigger.serialize()
    assert classpath == "airflow_durable_emr.triggers.DurableEmrServerlessJobTrigger"
    assert kwargs["aws_conn_id"] == CONN_ID
    assert "password" not in repr(kwargs)


def test_the_trigger_polls_the_emulator_to_the_end(
    emulator: EmrServerlessEmulator, make: Any, app: str, boto_env: None
) -> None:
    emulator.finish_after(3, "SUCCESS")
    reply = client().start_job_run(applicationId=app, clientToken="t", executionRoleArn=ROLE_ARN, jobDriver=SPARK)
    trigger = DurableEmrServerlessJobTrigger(
        external_id=f"{app}:{reply['jobRunId']}", aws_conn_id=CONN_ID, poll_interval_seconds=0.01
    )
    event = first_trigger_event(trigger)
    assert event.payload == {"external_id": f"{app}:{reply['jobRunId']}", "status": "SUCCESS"}
    emulator.forget(f"{app}:{reply['jobRunId']}")
    lost = first_trigger_event(
        DurableEmrServerlessJobTrigger(external_id=f"{app}:{reply['jobRunId']}", aws_conn_id=CONN_ID)
    )
    assert "unknown to the external system" in lost.payload["error"]


def test_a_failed_run_in_deferrable_mode_raises_upstreams_text(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    emulator.finish_after(1, "FAILED")
    outcome = task_run(store).run_try(make(deferrable=True, poll_interval_seconds=0.01))
    assert isinstance(outcome.error, EmrServerlessJobFailedError), outcome
    assert str(outcome.error).startswith("Serverless Job failed: ")


def test_deferrable_waits_for_the_application_in_the_triggerer_before_any_intent(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    """As upstream: defer while the application starts, then ``execute`` again; nothing is written meanwhile."""
    application = emulator.create_application(state="STOPPED")
    run = task_run(store)
    operator = make(application_id=application, deferrable=True, wait_for_completion=False, poll_interval_seconds=0.01)
    paused = run.run_try(operator, run_triggers=False)
    assert isinstance(paused.deferred, TaskDeferred)
    assert paused.deferred.method_name == "execute"
    assert type(paused.deferred.trigger).__name__ == "DurableEmrServerlessApplicationTrigger"
    assert paused.stored_at_deferral is None
    assert emulator.calls["StartJobRun"] == 0
    application_again = emulator.create_application(state="STOPPED")
    resumed = task_run(store, "again").run_try(
        make(
            task_id="again",
            application_id=application_again,
            deferrable=True,
            wait_for_completion=False,
            poll_interval_seconds=0.01,
        )
    )
    assert resumed.succeeded, resumed.error
    [job] = emulator.jobs
    assert job.external_id == f"{application_again}:{resumed.result}"


def test_deferrable_application_that_ends_terminated_fails_before_any_intent(
    emulator: EmrServerlessEmulator, make: Any, store: InMemoryTaskStateStore
) -> None:
    application = emulator.create_application(state="STOPPED")
    run = task_run(store)
    outcome = run.run_try(
        make(application_id=application, deferrable=True, poll_interval_seconds=0.01),
        before_trigger=lambda: emulator.set_application_state(application, "TERMINATED"),
    )
    assert isinstance(outcome.error, EmrServerlessApplicationError), outcome
    assert "TERMINATED" in str(outcome.error)
    assert run.stored(KEY) is None
    assert emulator.calls["StartJobRun"] == 0


def test_serialized_dag_keeps_upstreams_links_also_for_mapped_tasks() -> None:
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG("emr_links", schedule=None) as dag:
        DurableEmrServerlessStartJobOperator(
            task_id="one", application_id="app1", execution_role_arn=ROLE_ARN, job_driver=SPARK
        )
        DurableEmrServerlessStartJobOperator.partial(
            task_id="mapped", execution_role_arn=ROLE_ARN, job_driver=SPARK
        ).expand(application_id=["app1", "app2"])
    upstream = EmrServerlessStartJobOperator(
        task_id="up", application_id="app1", execution_role_arn=ROLE_ARN, job_driver=SPARK
    )
    expected = sorted(link.name for link in upstream.operator_extra_links)
    restored = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    for task in restored.tasks:
        assert sorted(link.name for link in task.operator_extra_links) == expected, task.task_id
