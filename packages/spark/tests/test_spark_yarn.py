"""DurableSparkSubmitOperator in YARN cluster mode, beyond the contract suite.

The operator's real code (the provider's ``SparkSubmitHook``, our ResourceManager client) runs against the
ResourceManager emulator and the stand-in ``spark-submit`` for ``--master yarn``; odd answers no emulator
gives are served by patching ``requests``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests
from requests.auth import HTTPBasicAuth

from airflow_durable import JobLostError, UnknownJobStatusError
from airflow_durable.testing import InMemoryTaskStateStore, TaskInstanceRun
from airflow_durable.tokens import TaskInstanceScope
from airflow_durable_spark.operators import TOKEN_CONF_KEY, DurableSparkSubmitOperator
from airflow_durable_spark.statuses import YARN_APPLICATION_STATES
from airflow_durable_spark.testing.contract import emulated_yarn, yarn_connection_env
from airflow_durable_spark.testing.yarn import YarnResourceManagerEmulator
from airflow_durable_spark.yarn_applications import (
    YarnAnswerError,
    YarnClusterMode,
    YarnResourceManagerUnavailableError,
    application_status,
    find_application_by_tag,
)
from spark_tries import start_try, watch_persists

CONN_ID = "spark_yarn_tests"
KEY = "spark_job_id"
APP = "application_1764421262000_0001"
ARGS: dict[str, Any] = {"conn_id": CONN_ID, "application": "/jobs/app.jar", "java_class": "com.example.App"}


@pytest.fixture
def rm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[YarnResourceManagerEmulator]:
    bin_dir = tmp_path / "bin"
    with (
        emulated_yarn(bin_dir, polls_to_finish=2) as emulator,
        mock.patch.dict(os.environ, yarn_connection_env(CONN_ID, emulator.url)),
    ):
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        yield emulator


@pytest.fixture
def run() -> TaskInstanceRun:
    return TaskInstanceRun(InMemoryTaskStateStore(), TaskInstanceScope("dag", "run", "spark_task"))


def _operator(**kwargs: Any) -> DurableSparkSubmitOperator:
    return DurableSparkSubmitOperator(task_id="spark_task", poll_interval_seconds=0.01, **{**ARGS, **kwargs})


def _answer(status: int, body: Any = None, text: str | None = None) -> mock.MagicMock:
    response = mock.MagicMock(status_code=status, text=text if text is not None else repr(body))
    if body is None:
        response.json.side_effect = ValueError("not JSON")
    else:
        response.json.return_value = body
    return response


# ---------------------------------------------------------------------------- submission


def test_token_is_appended_to_user_tags_and_the_application_id_returned(
    rm: YarnResourceManagerEmulator, run: TaskInstanceRun
) -> None:
    outcome = run.run_try(_operator(conf={"spark.yarn.tags": "etl, Team-A"}))
    assert outcome.succeeded, outcome.error
    (app,) = rm.applications
    token = run.stored(KEY)["token"]
    assert app.tags == ["etl", "team-a", token]
    assert outcome.result == {"application_id": app.app_id, "final_status": "SUCCEEDED"}
    assert run.stored(KEY)["external_id"] == app.app_id


def test_durable_yarn_needs_no_rm_flag_and_releases_spark_submit(rm: YarnResourceManagerEmulator) -> None:
    operator = _operator()
    operator.render_template_fields({})
    hook = operator.hook
    assert hook._yarn_track_via_rm_api is True
    operator.submission_token = "ad-0123456789abcdef0123456789ab-g0"
    with mock.patch.object(hook, "submit", return_value=None):
        hook._yarn_application_id = APP
        assert operator.submit_job({}) == APP
    assert hook._conf["spark.yarn.submit.waitAppCompletion"] == "false"
    assert hook._conf[TOKEN_CONF_KEY] == operator.submission_token
    assert hook._conf["spark.yarn.tags"] == operator.submission_token


def test_a_retry_replaces_an_earlier_generations_token_in_the_tags() -> None:
    hook = mock.MagicMock(_conf={"spark.yarn.tags": "etl,ad-0123456789abcdef0123456789ab-g0"})
    YarnClusterMode(hook).prepare("ad-0123456789abcdef0123456789ab-g1")
    assert hook._conf["spark.yarn.tags"] == "etl,ad-0123456789abcdef0123456789ab-g1"


def test_application_id_is_persisted_while_spark_submit_still_runs(
    rm: YarnResourceManagerEmulator, run: TaskInstanceRun
) -> None:
    rm.set_fake_submit_behavior(exit_delay_ms=1500)
    operator = _operator()
    seen = watch_persists(run, operator, KEY)
    assert run.run_try(operator).succeeded
    assert seen[0] == (rm.applications[0].app_id, True), "persisted only after spark-submit exited"


def test_waitappcompletion_true_is_upstreams_error_before_submitting(
    rm: YarnResourceManagerEmulator, run: TaskInstanceRun
) -> None:
    outcome = run.run_try(_operator(conf={"spark.yarn.submit.waitAppCompletion": "true"}))
    assert isinstance(outcome.error, ValueError)
    assert "cannot be set for cluster mode" in str(outcome.error)
    assert rm.applications == []
    assert run.stored(KEY) is None


def test_missing_rm_address_is_upstreams_error(run: TaskInstanceRun) -> None:
    env = yarn_connection_env(CONN_ID, "")
    with mock.patch.dict(os.environ, env):
        outcome = run.run_try(_operator())
    assert isinstance(outcome.error, ValueError)
    assert "yarn_resourcemanager_webapp_address" in str(outcome.error)


def test_client_deploy_mode_with_durable_true_is_refused(tmp_path: Path, run: TaskInstanceRun) -> None:
    with mock.patch.dict(os.environ, yarn_connection_env(CONN_ID, "http://127.0.0.1:9", deploy_mode="client")):
        outcome = run.run_try(_operator())
        assert isinstance(outcome.error, ValueError)
        assert "'yarn'" in str(outcome.error)
        assert "'client'" in str(outcome.error)
        assert "durable=False" in str(outcome.error)
        with mock.patch("airflow.providers.apache.spark.hooks.spark_submit.SparkSubmitHook.submit") as submit:
            assert run.run_try(_operator(durable=False)).error is None
        submit.assert_called_once_with("/jobs/app.jar")


# ---------------------------------------------------------------------------- status


def test_lost_application_while_polling_is_never_success(rm: YarnResourceManagerEmulator, run: TaskInstanceRun) -> None:
    rm.hold("RUNNING/UNDEFINED")
    done, result = start_try(run, _operator())
    rm.forget(rm.applications[0].app_id)
    assert done.wait(15)
    assert isinstance(result["outcome"].error, JobLostError)


def test_a_proxys_404_is_not_a_lost_application() -> None:
    with (
        mock.patch("requests.get", return_value=_answer(404, text="<html>Not Found</html>")),
        pytest.raises(YarnAnswerError, match="HTTP 404"),
    ):
        application_status("http://rm:8088", APP, auth=None, timeout_seconds=1)


def test_rm_not_found_exception_is_a_lost_application() -> None:
    body = {"RemoteException": {"exception": "NotFoundException", "message": f"app with id: {APP} not found"}}
    with mock.patch("requests.get", return_value=_answer(404, body)), pytest.raises(JobLostError):
        application_status("http://rm:8088", APP, auth=None, timeout_seconds=1)


@pytest.mark.parametrize(
    ("answer", "transient"),
    [
        (_answer(503, text="Service Unavailable"), True),
        (_answer(500, text="oops"), True),
        (_answer(429, text="Too Many Requests"), True),
        (_answer(200, text="This is standby RM. The redirect url is: http://rm2:8088/"), True),
        (_answer(200, {}), False),
        (_answer(200, text="<html>login</html>"), False),
        (_answer(200, {"app": {"id": "application_1_0002", "state": "RUNNING", "finalStatus": "UNDEFINED"}}), False),
        (_answer(200, {"app": {"id": APP, "state": "RUNNING"}}), False),
        (_answer(403, text="Forbidden"), False),
    ],
)
def test_odd_answers_are_transient_or_clear_errors_never_lost(answer: mock.MagicMock, transient: bool) -> None:
    mode = YarnClusterMode(mock.MagicMock())
    errors = (YarnResourceManagerUnavailableError, YarnAnswerError)
    with mock.patch("requests.get", return_value=answer), pytest.raises(errors) as caught:
        application_status("http://rm:8088", APP, auth=None, timeout_seconds=1)
    assert not isinstance(caught.value, JobLostError)
    assert mode.is_transient(caught.value) is transient
    expected = YarnResourceManagerUnavailableError if transient else YarnAnswerError
    assert isinstance(caught.value, expected)


def test_connection_errors_and_timeouts_are_transient() -> None:
    mode = YarnClusterMode(mock.MagicMock())
    assert mode.is_transient(requests.ConnectionError("refused"))
    assert mode.is_transient(requests.Timeout("slow"))
    assert not mode.is_transient(RuntimeError("other"))


def test_rm_failover_503_is_retried_in_place(rm: YarnResourceManagerEmulator, run: TaskInstanceRun) -> None:
    rm.hold("RUNNING/UNDEFINED")
    done, result = start_try(run, _operator())
    rm.fail_next(3, 503, endpoint="status")
    (app,) = rm.applications
    rm.force_state(app.app_id, "FINISHED/SUCCEEDED")
    assert done.wait(15)
    assert result["outcome"].succeeded, result["outcome"].error
    assert len(rm.applications) == 1


def test_statuses_are_state_and_final_status() -> None:
    assert YARN_APPLICATION_STATES.classify("RUNNING/SUCCEEDED").value == "active"  # the RM still saving
    assert YARN_APPLICATION_STATES.classify("FINISHED/UNDEFINED").value == "failed"
    assert YARN_APPLICATION_STATES.classify("KILLED/UNDEFINED").value == "failed"
    for bare in ("RUNNING", "SUCCEEDED", "FINISHED/ENDED"):
        with pytest.raises(UnknownJobStatusError, match=bare):
            YARN_APPLICATION_STATES.classify(bare)


# ---------------------------------------------------------------------------- lookup


def _app(app_id: str, state: str, final: str, tags: str, started: int) -> dict[str, Any]:
    return {"id": app_id, "state": state, "finalStatus": final, "applicationTags": tags, "startedTime": started}


TOKEN = "ad-0123456789abcdef0123456789ab-g0"


@pytest.mark.parametrize(
    ("apps", "expected"),
    [
        (None, None),
        ([_app("application_1_0001", "FINISHED", "SUCCEEDED", f"etl,{TOKEN}x", 5)], None),  # not the token
        (
            [
                _app("application_1_0001", "FAILED", "FAILED", TOKEN, 9),
                _app("application_1_0002", "RUNNING", "UNDEFINED", f"etl,{TOKEN}", 1),
            ],
            "application_1_0002",
        ),
        (
            [
                _app("application_1_0001", "FINISHED", "SUCCEEDED", TOKEN, 1),
                _app("application_1_0003", "KILLED", "KILLED", TOKEN.upper(), 7),
                _app("application_1_0002", "FAILED", "FAILED", TOKEN, 3),
            ],
            "application_1_0003",
        ),
    ],
)
def test_lookup_keeps_tagged_applications_and_prefers_an_active_one(apps: Any, expected: str | None) -> None:
    body = {"apps": None if apps is None else {"app": apps}}
    with mock.patch("requests.get", return_value=_answer(200, body)) as get:
        assert find_application_by_tag("http://rm:8088", TOKEN, auth=None, timeout_seconds=1) == expected
    assert get.call_args.kwargs["params"] == {"applicationTags": TOKEN}


def test_lookup_refuses_an_answer_that_is_no_application_list() -> None:
    with mock.patch("requests.get", return_value=_answer(200, {"app": []})), pytest.raises(YarnAnswerError):
        find_application_by_tag("http://rm:8088", TOKEN, auth=None, timeout_seconds=1)


def test_crash_in_submit_window_adopts_the_tagged_application(
    rm: YarnResourceManagerEmulator, run: TaskInstanceRun
) -> None:
    run.store.crash_on_external_id_write = True
    assert run.run_try(_operator()).crashed
    retry = run.run_try(_operator())
    assert retry.succeeded, retry.error
    assert len(rm.applications) == 1
    assert retry.result == {"application_id": rm.applications[0].app_id, "final_status": "SUCCEEDED"}


# ---------------------------------------------------------------------------- auth and kill


def test_rm_auth_goes_with_status_lookup_and_kill() -> None:
    auth = HTTPBasicAuth("user", "secret")
    operator = _operator(yarn_rm_auth=auth, cancel_timeout_seconds=2.5, status_timeout_seconds=7)
    hook = mock.MagicMock(_conf={}, _resolved_yarn_rm_auth=auth)
    hook._get_yarn_rm_base_url.return_value = "http://rm:8088"
    operator._mode = YarnClusterMode(hook, status_timeout_seconds=7)
    operator._hook = hook
    status = _answer(200, {"app": {"id": APP, "state": "RUNNING", "finalStatus": "UNDEFINED"}})
    with (
        mock.patch("requests.get", side_effect=[status, _answer(200, {"apps": None})]) as get,
        mock.patch("requests.put", return_value=_answer(202, {"state": "RUNNING"})) as put,
    ):
        assert operator.get_job_status(APP, {}) == "RUNNING/UNDEFINED"
        assert operator.find_job_by_token(TOKEN, {}) is None
        operator.cancel_job(APP)
    assert [c.kwargs["auth"] for c in get.call_args_list] == [auth, auth]
    assert put.call_args.kwargs["auth"] is auth
    assert put.call_args.args[0] == f"http://rm:8088/ws/v1/cluster/apps/{APP}/state"
    assert put.call_args.kwargs["json"] == {"state": "KILLED"}
    assert put.call_args.kwargs["timeout"] <= 2.5, "the kill request outlives cancel_timeout_seconds"


def test_on_kill_kills_the_application_bounded_in_time(rm: YarnResourceManagerEmulator, run: TaskInstanceRun) -> None:
    rm.hold("RUNNING/UNDEFINED")
    operator = _operator(cancel_timeout_seconds=1)
    start_try(run, operator)
    (app,) = rm.applications
    rm.set_latency(5)
    started = time.monotonic()
    operator.on_kill()
    assert time.monotonic() - started < 3
    rm.set_latency(0)
    operator.on_kill()
    assert rm.application(app.app_id).state == "KILLED/KILLED"


def test_emulator_statuses_and_ids_mean_the_same_to_the_operator() -> None:
    from airflow_durable_spark.statuses import check_application_id
    from airflow_durable_spark.testing.yarn import STATES

    assert {state: YARN_APPLICATION_STATES.classify(state) for state in STATES} == STATES
    emulator = YarnResourceManagerEmulator()
    for _ in range(3):
        app_id = emulator.new_job_id()
        assert check_application_id(app_id) == app_id
