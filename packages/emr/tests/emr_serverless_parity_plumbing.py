"""Fixture plumbing for upstream's ``EmrServerlessStartJobOperator`` tests, run against ours by the parity suite.

Upstream's tests fake EMR Serverless with the amazon provider's ``EmrServerlessHook``: its ``conn`` (which
is our boto3 client too, so those calls reach us unchanged) and its ``get_waiter``, which stands for the
course of the application and of the job run (``conn.get_job_run`` is mostly left unconfigured). Our operator
reads states itself (``GetApplication``, ``GetJobRun``) to apply the protocol's status table. This plugin
makes the test's waiter the vendor's answer:

* each job-run state our operator reads is the verdict of one ``serverless_job_completed`` waiter call (on our
  client): it returns: ``SUCCESS``; a ``WaiterError``: its ``last_response``'s run; "max attempts reached":
  still ``RUNNING``; anything else is raised as it is;
* our wait for a started application is upstream's ``wait`` on the ``serverless_app_started`` waiter;
* pauses are instant: one fake clock, moved on by every ``sleep``, is the ``time`` that the mixin's poll loop
  and our operator's wait budget see. What is called, how often, and what is raised are unchanged.

What it cannot prove: the waiter answers only a state, so the run our code sees has no other field;
``test_emr_serverless_operator.py`` tests the whole replies against the emulator.
"""

from __future__ import annotations

import time
from typing import Any

import pytest


class FakeClock:
    """``time`` whose ``sleep`` returns at once and moves ``monotonic`` on by the seconds asked for."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def monotonic(self) -> float:
        return self.now

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def waiter_backed_get_job_run(client: Any, application_id: str, job_run_id: str) -> dict[str, Any]:
    """The run as the test's ``serverless_job_completed`` waiter tells it (see the module's docstring)."""
    from airflow.providers.amazon.aws.hooks.emr import EmrServerlessHook
    from airflow.providers.common.compat.sdk import AirflowException
    from botocore.exceptions import WaiterError

    waiter = EmrServerlessHook().get_waiter("serverless_job_completed", client=client)
    try:
        waiter.wait(applicationId=application_id, jobRunId=job_run_id, WaiterConfig={"MaxAttempts": 1})
    except WaiterError as err:
        run = (err.last_response or {}).get("jobRun")
        if isinstance(run, dict) and run.get("state"):
            return dict(run)
        raise
    except AirflowException as err:
        if "max attempts reached" in str(err):
            return {"state": "RUNNING"}
        raise
    return {"state": "SUCCESS"}


def waiter_backed_application_wait(self: Any) -> None:
    """Upstream's wait for a started application, on the test's ``serverless_app_started`` waiter."""
    from airflow.providers.amazon.aws.hooks.emr import EmrServerlessHook
    from airflow.providers.amazon.aws.utils.waiter_with_logging import wait

    hook = EmrServerlessHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify)
    wait(
        waiter=hook.get_waiter("serverless_app_started", client=self.client),
        waiter_max_attempts=self.waiter_max_attempts,
        waiter_delay=self.waiter_delay,
        args={"applicationId": self.application_id},
        failure_message="Serverless Application failed to start",
        status_message="Serverless Application status is",
        status_args=["application.state", "application.stateDetails"],
    )


def pytest_configure(config: pytest.Config) -> None:
    """Make the test's waiter the source of the states our operator reads."""
    from airflow_durable_emr import serverless, serverless_runs

    serverless_runs.get_job_run = waiter_backed_get_job_run
    serverless.DurableEmrServerlessStartJobOperator.wait_until_application_started = (  # type: ignore[method-assign]
        waiter_backed_application_wait
    )


@pytest.fixture(autouse=True)
def _instant_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """One fake clock for the mixin's poll loop and the operator's wait budget."""
    clock = FakeClock()
    monkeypatch.setattr("airflow_durable.mixin.time", clock)
    monkeypatch.setattr("airflow_durable_emr.serverless.time", clock)
