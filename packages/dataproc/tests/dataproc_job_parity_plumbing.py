"""Fixture plumbing for upstream's ``DataprocSubmitJobOperator`` tests, run against ours by the parity suite.

Upstream's tests fake Dataproc with the google provider's ``DataprocHook``, patched in upstream's operators
module. Our operator talks to a ``JobControllerClient`` itself. This plugin makes the test's hook the vendor:
our client calls go to the hook method of the same purpose (one hook per try, built with the operator's
``gcp_conn_id`` and ``impersonation_chain``, as upstream's ``execute`` builds it):

* ``SubmitJob`` -> ``hook.submit_job(project_id, region, job, request_id, retry, timeout, metadata)``;
* ``CancelJob`` -> ``hook.cancel_job(project_id, region, job_id)``;
* ``GetJob`` -> ``hook.get_job``; a state the test did not set there is the verdict of one
  ``hook.wait_for_job`` call (with the operator's ``wait_timeout``): it returns: ``DONE``; it raises: raised;
* our one-item ``ListJobs`` (the region check) gets an empty page without touching the hook (it has no such
  method); pauses are instant.

What it cannot prove: the hook answers only a state; ``test_dataproc_job_operator.py`` tests whole replies
against the emulator.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest


class HookBackedJobClient:
    """A ``JobControllerClient`` stand-in that calls the (test's) ``DataprocHook`` of upstream's module."""

    def __init__(self, operator: Any) -> None:
        from airflow.providers.google.cloud.operators import dataproc

        self.operator = operator
        self.hook = dataproc.DataprocHook(
            gcp_conn_id=operator.gcp_conn_id, impersonation_chain=operator.impersonation_chain
        )

    def submit_job(self, request: dict[str, Any], **options: Any) -> Any:
        return self.hook.submit_job(
            project_id=request["project_id"],
            region=request["region"],
            job=request["job"],
            request_id=request["request_id"],
            retry=options.get("retry", self.operator.retry),
            timeout=options.get("timeout"),
            metadata=options.get("metadata", ()),
        )

    def get_job(self, request: dict[str, Any], **options: Any) -> Any:
        from google.cloud.dataproc_v1 import JobStatus

        where = {"job_id": request["job_id"], "project_id": request["project_id"], "region": request["region"]}
        state = self.hook.get_job(**where).status.state
        if isinstance(state, JobStatus.State):
            return SimpleNamespace(status=SimpleNamespace(state=state))
        self.hook.wait_for_job(**where, timeout=self.operator.wait_timeout)
        return SimpleNamespace(status=SimpleNamespace(state=JobStatus.State.DONE))

    def cancel_job(self, request: dict[str, Any], **options: Any) -> Any:
        return self.hook.cancel_job(
            project_id=request["project_id"], region=request["region"], job_id=request["job_id"]
        )

    def list_jobs(self, request: dict[str, Any], **options: Any) -> Any:
        return SimpleNamespace(jobs=[])


@pytest.fixture(autouse=True)
def _the_hook_is_the_vendor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Route our operator's client to the test's hook; make pauses instant."""
    from airflow_durable_dataproc.jobs import DurableDataprocSubmitJobOperator

    def client(self: Any) -> Any:
        if self._client is None:
            self._client = HookBackedJobClient(self)
        return self._client

    monkeypatch.setattr(DurableDataprocSubmitJobOperator, "client", property(client))
    monkeypatch.setattr("airflow_durable.mixin.time.sleep", lambda seconds: None)
