"""DurableSparkSubmitOperator beyond the contract suite: status answers and post-submit commands.

Everything runs the operator's real code (the provider's ``SparkSubmitHook``, the REST client) against the
wire-level Spark master emulator and the fake ``spark-submit``.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest

from airflow_durable import JobFailedError, JobLostError, UnknownJobStatusError
from airflow_durable.testing import InMemoryTaskStateStore, TaskInstanceRun, TryOutcome
from airflow_durable.tokens import TaskInstanceScope
from airflow_durable_spark.client import (
    SparkMasterUnavailableError,
    SparkStandaloneRestClient,
    SparkStatusAnswerError,
    is_transient,
    status_answer,
)
from airflow_durable_spark.operators import DurableSparkSubmitOperator
from airflow_durable_spark.testing import SparkMasterEmulator
from airflow_durable_spark.testing.contract import emulated_spark_master, spark_connection_env

CONN_ID = "spark_operator_tests"
KEY = "spark_job_id"
FIXTURE = Path(__file__).parent / "fixtures" / "spark_4_2_0_rest.json"
DRIVER = "driver-20261129135215-0000"


def _captured(name: str) -> Any:
    """A status body captured from a real Spark 4.2.0 master."""
    return json.loads(json.loads(FIXTURE.read_text())["responses"][name]["body"])


@pytest.fixture
def master(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SparkMasterEmulator]:
    bin_dir = tmp_path / "bin"
    with (
        emulated_spark_master(bin_dir, polls_to_finish=None) as emulator,
        mock.patch.dict(os.environ, spark_connection_env(CONN_ID, emulator)),
    ):
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        yield emulator


@pytest.fixture
def run() -> TaskInstanceRun:
    return TaskInstanceRun(InMemoryTaskStateStore(), TaskInstanceScope("dag", "run", "spark_task"))


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """The file the post-submit command appends one line to each time it runs."""
    return tmp_path / "post_submit.log"


def make_operator(marker: Path, **overrides: Any) -> DurableSparkSubmitOperator:
    append = f"open({str(marker)!r}, 'a').write('ran\\n')"
    kwargs: dict[str, Any] = {
        "task_id": "spark_task",
        "conn_id": CONN_ID,
        "application": "/jobs/app.jar",
        "java_class": "com.example.App",
        "conf": {"spark.master.rest.enabled": "true"},
        "poll_interval_seconds": 0.01,
        "max_poll_interval_seconds": 0.05,
        "cancel_timeout_seconds": 5,
        "post_submit_commands": [shlex.join([sys.executable, "-c", append])],
        **overrides,
    }
    return DurableSparkSubmitOperator(**kwargs)


def post_submit_runs(marker: Path) -> int:
    return len(marker.read_text().splitlines()) if marker.exists() else 0


def on_operator_poll(master: SparkMasterEmulator, action: Callable[[str], None]) -> None:
    """Run ``action`` before the master answers each of the operator's status requests."""
    master.on_status = action  # the kit tells only the operator's polls (not spark-submit's)


# ---------------------------------------------------------------------------- status answers


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(_captured("status_running"), "RUNNING", id="captured-running"),
        pytest.param(_captured("status_finished"), "FINISHED", id="captured-finished"),
        pytest.param({**_captured("status_unknown"), "submissionId": DRIVER}, None, id="captured-unknown-driver-reply"),
    ],
)
def test_status_answer_reads_the_masters_answers(body: Any, expected: str | None) -> None:
    assert status_answer(body, DRIVER) == expected


def test_status_answer_from_a_recovering_master_is_transient() -> None:
    body = {
        "action": "SubmissionStatusResponse",
        "message": "Exception from the cluster:\njava.lang.Exception: Current state is not alive: RECOVERING.",
        "serverSparkVersion": "4.2.0",
        "submissionId": DRIVER,
        "success": False,
    }
    with pytest.raises(SparkMasterUnavailableError, match="RECOVERING"):
        status_answer(body, DRIVER)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="proxy-empty-object"),
        pytest.param([], id="list"),
        pytest.param(None, id="null"),
        pytest.param({"success": False}, id="success-false-only"),
        pytest.param({**_captured("status_running"), "submissionId": DRIVER, "success": None}, id="no-success"),
        pytest.param({**_captured("status_running"), "submissionId": DRIVER, "success": "true"}, id="success-str"),
        pytest.param(
            {"action": "SubmissionStatusResponse", "submissionId": DRIVER, "success": True}, id="success-no-state"
        ),
        pytest.param(
            {**_captured("status_running"), "submissionId": DRIVER, "success": False}, id="failure-with-state"
        ),
        pytest.param(
            {**_captured("status_running"), "submissionId": "driver-20261129135215-0001"}, id="another-drivers-status"
        ),
        pytest.param(
            {"action": "ErrorResponse", "message": "Submission ID is missing", "serverSparkVersion": "4.2.0"},
            id="error-response",
        ),
    ],
)
def test_odd_status_answers_are_errors_never_lost(body: Any) -> None:
    with pytest.raises(SparkStatusAnswerError):
        status_answer(body, DRIVER)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("{}", id="proxy-empty-object"),
        pytest.param("<html><body>Welcome to nginx!</body></html>", id="html"),
    ],
)
def test_client_raises_a_clear_non_transient_error_on_an_odd_200(master: SparkMasterEmulator, body: str) -> None:
    master.hold("RUNNING")
    client = SparkStandaloneRestClient([master.url])
    unknown = "driver-20990101000000-9999"
    master.fail_next(1, status=200, endpoint="status", body=body)
    with pytest.raises(SparkStatusAnswerError, match="Not resubmitting") as caught:
        client.driver_state(unknown)
    assert not is_transient(caught.value)
    # The same driver ID, answered by the master itself, is lost.
    with pytest.raises(JobLostError):
        client.driver_state(unknown)


def test_client_asks_the_next_master_after_an_odd_answer(master: SparkMasterEmulator) -> None:
    """An odd answer from one HA master's address does not hide the state the other master reports."""
    master.hold("RUNNING")
    created = httpx.post(
        f"{master.url}/v1/submissions/create",
        json={
            "action": "CreateSubmissionRequest",
            "appResource": "/jobs/app.jar",
            "mainClass": "com.example.App",
            "clientSparkVersion": "4.2.0",
            "sparkProperties": {"spark.app.name": "app"},
        },
    ).json()
    with SparkMasterEmulator(polls_to_finish=None) as proxied:
        proxied.fail_next(1, status=200, endpoint="status", body="{}")
        client = SparkStandaloneRestClient([proxied.url, master.url])
        assert client.driver_state(created["submissionId"]) == "RUNNING"
        assert proxied.status_calls[created["submissionId"]] == 1


def test_proxy_empty_answer_fails_the_task_and_the_retry_never_resubmits(
    master: SparkMasterEmulator, run: TaskInstanceRun, marker: Path
) -> None:
    """A 200 ``{}`` (a proxy in front of the master) while the driver runs: the task fails with a clear
    error, every retry asks again instead of submitting, and once the master answers the retry reconnects."""
    master.hold("RUNNING")
    on_operator_poll(master, lambda driver_id: master.fail_next(1, status=200, endpoint="status", body="{}"))

    first = run.run_try(make_operator(marker))
    assert isinstance(first.error, SparkStatusAnswerError), first.error
    [driver] = master.drivers
    second = run.run_try(make_operator(marker))
    assert isinstance(second.error, SparkStatusAnswerError), second.error

    assert [d.driver_id for d in master.drivers] == [driver.driver_id], "a retry submitted a second driver"
    assert master.state_of(driver.driver_id) == "RUNNING", "the driver was touched"
    stored = run.stored(KEY)
    assert (stored["external_id"], stored["generation"], stored["phase"]) == (driver.driver_id, 0, "submitted")

    on_operator_poll(master, lambda driver_id: master.set_state(driver_id, "FINISHED"))
    third = run.run_try(make_operator(marker))
    assert third.succeeded, third.error
    assert third.result == {"driver_id": driver.driver_id, "driver_state": "FINISHED"}
    assert len(master.drivers) == 1


# ---------------------------------------------------------------------------- post-submit commands


def test_post_submit_commands_run_once_after_success(
    master: SparkMasterEmulator, run: TaskInstanceRun, marker: Path
) -> None:
    on_operator_poll(master, lambda driver_id: master.set_state(driver_id, "FINISHED"))
    outcome = run.run_try(make_operator(marker))
    assert outcome.succeeded, outcome.error
    assert post_submit_runs(marker) == 1


def test_post_submit_commands_run_on_the_already_succeeded_path(
    master: SparkMasterEmulator, run: TaskInstanceRun, marker: Path
) -> None:
    on_operator_poll(master, lambda driver_id: master.set_state(driver_id, "FINISHED"))
    assert run.run_try(make_operator(marker)).succeeded
    again = run.run_try(make_operator(marker))
    assert again.succeeded, again.error
    assert post_submit_runs(marker) == 2, "once per try"


def _fails(master: SparkMasterEmulator, driver_id: str) -> None:
    master.set_state(driver_id, "FAILED")


def _vanishes(master: SparkMasterEmulator, driver_id: str) -> None:
    master.forget(driver_id)


def _unlisted(master: SparkMasterEmulator, driver_id: str) -> None:
    master.force_state(driver_id, "PAUSED")  # a state Spark's DriverState does not define (set_state refuses it)


def _unreachable(master: SparkMasterEmulator, driver_id: str) -> None:
    # The hook runs as a poll is answered, so the faults hit the polls after it: two in a row exhaust
    # max_transient_errors=1.
    master.fail_next(2, status=503, endpoint="status")


def _proxy_answers(master: SparkMasterEmulator, driver_id: str) -> None:
    master.fail_next(1, status=200, endpoint="status", body="{}")


@pytest.mark.parametrize(
    ("on_poll", "error"),
    [
        pytest.param(_fails, JobFailedError, id="driver-failed"),
        pytest.param(_vanishes, JobLostError, id="driver-lost-while-polled"),
        pytest.param(_unlisted, UnknownJobStatusError, id="unlisted-status"),
        pytest.param(_unreachable, SparkMasterUnavailableError, id="master-unreachable"),
        pytest.param(_proxy_answers, SparkStatusAnswerError, id="odd-status-answer"),
    ],
)
def test_post_submit_commands_run_once_however_polling_ends(
    master: SparkMasterEmulator,
    run: TaskInstanceRun,
    marker: Path,
    on_poll: Callable[[SparkMasterEmulator, str], None],
    error: type[Exception],
) -> None:
    master.hold("RUNNING")
    on_operator_poll(master, lambda driver_id: on_poll(master, driver_id))
    outcome = run.run_try(make_operator(marker, max_transient_errors=1))
    assert isinstance(outcome.error, error), outcome.error
    assert post_submit_runs(marker) == 1


@pytest.mark.parametrize(
    ("on_poll", "error", "overrides"),
    [
        pytest.param(_vanishes, JobLostError, {"on_lost_job": "fail"}, id="lost-driver-fail-policy"),
        pytest.param(_unlisted, UnknownJobStatusError, {}, id="unlisted-status"),
        pytest.param(_unreachable, SparkMasterUnavailableError, {"max_transient_errors": 0}, id="master-unreachable"),
    ],
)
def test_post_submit_commands_run_when_the_resume_decision_ends_the_try(
    master: SparkMasterEmulator,
    run: TaskInstanceRun,
    marker: Path,
    on_poll: Callable[[SparkMasterEmulator, str], None],
    error: type[Exception],
    overrides: dict[str, Any],
) -> None:
    master.hold("RUNNING")
    on_operator_poll(master, lambda driver_id: master.fail_next(1, status=503, endpoint="status"))
    first = run.run_try(make_operator(marker, max_transient_errors=0))
    assert isinstance(first.error, SparkMasterUnavailableError), first.error
    marker.unlink()

    on_operator_poll(master, lambda driver_id: on_poll(master, driver_id))
    retry = run.run_try(make_operator(marker, **overrides))
    assert isinstance(retry.error, error), retry.error
    assert post_submit_runs(marker) == 1
    assert len(master.drivers) == 1


def test_post_submit_commands_run_once_on_kill(master: SparkMasterEmulator, run: TaskInstanceRun, marker: Path) -> None:
    """``on_kill`` kills the driver and runs the commands; the try that then ends does not run them again."""
    master.hold("RUNNING")
    polled = threading.Event()
    on_operator_poll(master, lambda driver_id: polled.set())
    operator = make_operator(marker)
    outcome: list[TryOutcome] = []
    worker = threading.Thread(target=lambda: outcome.append(run.run_try(operator)), daemon=True)
    worker.start()
    assert polled.wait(30), "the operator never polled its driver"

    operator.on_kill()
    [driver] = master.drivers
    assert driver.kill_requests == 1
    assert post_submit_runs(marker) == 1

    worker.join(30)
    assert not worker.is_alive()
    assert isinstance(outcome[0].error, JobFailedError), outcome[0].error  # the driver ended KILLED
    assert post_submit_runs(marker) == 1, "the post-submit commands ran twice"


def test_no_post_submit_commands_without_a_driver(
    master: SparkMasterEmulator, run: TaskInstanceRun, marker: Path
) -> None:
    """As upstream: ``spark-submit`` failing before it printed a driver ID runs none."""
    master.fail_next(1, status=500, endpoint="create")
    outcome = run.run_try(make_operator(marker))
    assert outcome.error is not None
    assert master.drivers == []
    assert post_submit_runs(marker) == 0


# ---------------------------------------------------------------------------- REST through requests


def test_status_goes_through_requests_get_with_upstreams_connection_defaults() -> None:
    """A hook without ``rest_scheme``/``rest_port`` (one a test builds) gets upstream's http and 6066."""
    operator = DurableSparkSubmitOperator(task_id="t", application="app.jar")
    operator._hook = _mode_hook(standalone=True)
    operator._hook._connection = {"master": "spark://m1:7077,m2:7077"}
    answer = mock.MagicMock()
    answer.json.return_value = {"success": True, "driverState": "RUNNING"}
    with mock.patch("requests.get", side_effect=[ConnectionError("m1 down"), answer]) as get:
        assert operator.get_job_status(DRIVER, {}) == "RUNNING"
    assert [c.args[0] for c in get.call_args_list] == [
        f"http://m1:6066/v1/submissions/status/{DRIVER}",
        f"http://m2:6066/v1/submissions/status/{DRIVER}",
    ]
    assert all(c.kwargs == {"timeout": operator.status_timeout_seconds} for c in get.call_args_list)


def test_no_master_reachable_is_a_transient_connection_error() -> None:
    client = SparkStandaloneRestClient(["http://m1:6066"])
    with (
        mock.patch("requests.get", side_effect=ConnectionError("refused")),
        pytest.raises(ConnectionError, match="refused") as caught,
    ):
        client.driver_state(DRIVER)
    assert isinstance(caught.value, SparkMasterUnavailableError)
    assert is_transient(caught.value)


def test_unknown_driver_reply_must_name_the_driver_to_mean_lost() -> None:
    """Upstream's bodies without ``action``/``submissionId`` are read, but never as "lost"."""
    assert status_answer({"success": True, "driverState": "RUNNING"}, DRIVER) == "RUNNING"
    with pytest.raises(SparkMasterUnavailableError, match="driver not found"):
        status_answer({"success": False, "message": "driver not found"}, DRIVER)
    with pytest.raises(SparkStatusAnswerError, match="unknown error"):
        status_answer({"driverState": "RUNNING"}, DRIVER)
    with pytest.raises(SparkStatusAnswerError):
        status_answer({"action": "SubmissionStatusResponse", "success": False}, DRIVER)


@pytest.mark.parametrize("driver_id", ["driver-001", "driver-new", DRIVER])
def test_driver_ids_accepted(driver_id: str) -> None:
    operator = DurableSparkSubmitOperator(task_id="t", application="app.jar")
    assert operator.validate_external_id(driver_id) == driver_id


@pytest.mark.parametrize(
    "driver_id", ["driver-", "driver-001\n", "driver-../admin", "driver-1?x=1", "app-001", "driver-" + "1" * 121, 7]
)
def test_driver_ids_refused(driver_id: Any) -> None:
    operator = DurableSparkSubmitOperator(task_id="t", application="app.jar")
    with pytest.raises(ValueError, match="not a Spark standalone driver ID"):
        operator.validate_external_id(driver_id)


# ---------------------------------------------------------------------------- modes


def _mode_hook(*, standalone: bool = False, yarn: bool = False, k8s: bool = False) -> mock.MagicMock:
    hook = mock.MagicMock(
        _should_track_driver_status=standalone,
        _is_yarn_cluster_mode=yarn,
        _yarn_track_via_rm_api=yarn,
        _is_kubernetes=k8s,
        _connection={"master": "local[2]", "deploy_mode": "client", "namespace": "ns"},
        _conf={},
    )
    hook._should_track_driver_via_k8s_api.return_value = k8s
    return hook


def test_client_mode_runs_spark_submit_without_durability(run: TaskInstanceRun) -> None:
    """``durable=False``: no cluster driver to reconnect to: ``hook.submit`` once, as upstream, and nothing stored."""
    operator = DurableSparkSubmitOperator(task_id="spark_task", application="app.py", durable=False)
    hook = _mode_hook()
    upstream_get_hook = "airflow.providers.apache.spark.operators.spark_submit.SparkSubmitOperator._get_hook"
    with mock.patch(upstream_get_hook, return_value=hook):
        outcome = run.run_try(operator)
    assert outcome.error is None
    hook.submit.assert_called_once_with("app.py")
    assert run.stored(KEY) is None


def test_client_mode_with_durable_true_is_refused_before_submitting(run: TaskInstanceRun) -> None:
    """``durable=True`` never runs silently non-durable: a clear error naming master and deploy mode."""
    operator = DurableSparkSubmitOperator(task_id="spark_task", application="app.py")
    hook = _mode_hook()
    upstream_get_hook = "airflow.providers.apache.spark.operators.spark_submit.SparkSubmitOperator._get_hook"
    with mock.patch(upstream_get_hook, return_value=hook):
        outcome = run.run_try(operator)
    assert isinstance(outcome.error, ValueError)
    message = str(outcome.error)
    assert "'local[2]'" in message
    assert "'client'" in message
    assert "durable=False" in message
    hook.submit.assert_not_called()
    assert run.stored(KEY) is None


def test_every_upstream_templated_field_renders_without_a_database() -> None:
    # Upstream's templating tests need Airflow's test database, so the parity suite does not run them
    # (see test_spark_parity.py): the same checks, on a context of our own.
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    assert DurableSparkSubmitOperator.template_fields == SparkSubmitOperator.template_fields
    fields = {name: f"{{{{ '{name}' }}}}" for name in SparkSubmitOperator.template_fields}
    fields["application_args"] = ["--day", "{{ ds }}", "--task", "{{ task_id_to_render }}"]
    op = DurableSparkSubmitOperator(task_id="render", **fields)
    op.render_template_fields({"ds": "2026-12-06", "task_id_to_render": "render"})
    rendered = {name: getattr(op, name) for name in SparkSubmitOperator.template_fields}
    assert rendered == {
        **{name: name for name in SparkSubmitOperator.template_fields},
        "application_args": ["--day", "2026-12-06", "--task", "render"],
    }
