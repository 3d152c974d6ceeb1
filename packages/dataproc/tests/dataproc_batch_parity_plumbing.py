"""Fixture plumbing for upstream's ``DataprocCreateBatchOperator`` tests, run against ours by the parity suite.

Upstream's tests fake Dataproc by patching ``DataprocHook`` where upstream's operator module imports it, and
configure its ``create_batch``, ``get_batch`` and ``wait_for_batch``. Our operator talks to the
``BatchControllerClient`` itself. This plugin makes our client's calls go to the hook's method of the same
purpose, looked up at call time, so the test's mock is the vendor:

* ``CreateBatch`` goes to ``DataprocHook.create_batch`` (region, project, batch, batch ID, request ID and the
  call options as our operator sends them);
* each ``GetBatch`` our operator makes is ``DataprocHook.get_batch`` for ``asynchronous=True`` (upstream's
  one read) and ``DataprocHook.wait_for_batch`` otherwise (the test's answer stands for the batch's end);
* the ``ListBatches`` read that proves the region is served answers an empty page (the hook has no such
  call), and upstream's tests name the made-up region ``test-location``: the form check accepts any
  ``[a-z0-9-]`` name here (the probe still runs); ``CancelOperation`` goes to the operation this try created.

What it cannot prove: the hook answers whole batches, not the course of one; ``test_dataproc_batch_operator.py``
and the contract suite test that against the emulator over both transports.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest


class HookBackedBatchClient:
    """A ``BatchControllerClient`` stand-in that forwards to the google provider's (mocked) ``DataprocHook``."""

    def __init__(self, operator: Any) -> None:
        self.operator = operator
        self._built: Any = None

    def _hook(self) -> Any:
        """One hook per operator, as upstream's ``cached_property``."""
        from airflow.providers.google.cloud.operators import dataproc as upstream

        if self._built is None:
            self._built = upstream.DataprocHook(
                gcp_conn_id=self.operator.gcp_conn_id, impersonation_chain=self.operator.impersonation_chain
            )
        return self._built

    def _options(self) -> dict[str, Any]:
        from google.api_core.gapic_v1.method import DEFAULT

        from airflow_durable_dataproc.base import is_default

        op = self.operator
        retry = DEFAULT if is_default(op.retry) else op.retry
        return {"retry": retry, "timeout": op.timeout, "metadata": op.metadata}

    def list_batches(self, request: Any, **options: Any) -> Any:
        return SimpleNamespace(batches=[])

    def create_batch(self, request: dict[str, Any], **options: Any) -> Any:
        op = self.operator
        return self._hook().create_batch(
            region=op.region,
            project_id=op.project_id,
            batch=request["batch"],
            batch_id=request["batch_id"] or None,
            request_id=request["request_id"] or None,
            **self._options(),
        )

    def get_batch(self, name: str, **options: Any) -> Any:
        op = self.operator
        arguments = {"batch_id": name.rsplit("/", 1)[1], "region": op.region, "project_id": op.project_id}
        hook = self._hook()
        read = hook.get_batch if op.asynchronous else hook.wait_for_batch
        return read(**arguments, **self._options())

    def cancel_operation(self, request: Any, **options: Any) -> None:
        if self.operator.operation is not None:
            self.operator.operation.cancel()


def pytest_configure(config: pytest.Config) -> None:
    """Route our operator's client to upstream's (mocked) hook; accept upstream's made-up region name."""
    from airflow_durable_dataproc import base, batches

    base.REGION_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,62}$")

    def client(self: Any) -> HookBackedBatchClient:
        if self._client is None:
            self._client = HookBackedBatchClient(self)
        return self._client  # type: ignore[no-any-return]

    batches.DurableDataprocCreateBatchOperator.client = property(client)  # type: ignore[assignment,method-assign]
