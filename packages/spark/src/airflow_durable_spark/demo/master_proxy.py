r"""``SparkMasterProxy``: a real Spark master's REST submission gateway behind the emulator kit.

A real master counts none of the REST requests it answers and cannot fail on demand. The proxy serves the
gateway's endpoints (``create``, ``status``, ``kill``) through the kit, so that every request is logged,
counted per endpoint (``counters()``) and subject to the kit's faults, and forwards each one to the master
unchanged; the master's answer goes back as it is. It keeps no jobs: the master's own records are the truth.

One field is rewritten: ``spark-submit`` puts its ``--master`` URL (the proxy's) into the submission's
``spark.master``, and the master turns only its own REST port there into its RPC port, so the proxy puts the
master's REST port in place of its own in the ``create`` request. Run it as its own process::

    python -m airflow_durable.testing.serve airflow_durable_spark.demo.master_proxy:SparkMasterProxy \\
        --port-file F --option 'upstream="http://127.0.0.1:6066"'
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from airflow_durable.status import JobState
from airflow_durable.testing.emulator import Emulator
from airflow_durable.testing.jobs import EmulatedJob
from airflow_durable.testing.routes import ApiError, Reply, Request, Route, RouteTable
from airflow_durable_spark.testing.emulator import DRIVER_ID_PATTERN, STATES

_FORWARDED_HEADERS = ("content-type", "accept", "user-agent")


class SparkMasterProxy(Emulator[EmulatedJob]):
    """Forwards the REST gateway's requests to a real master, counting and faulting them (module docstring).

    Args:
        upstream: The master's REST URL, ``http://<host>:<rest port>``.
        timeout_seconds: How long a forwarded request may take; beyond it, or when the master does not
            answer, the client gets a 502.
        **kwargs: See :class:`~airflow_durable.testing.emulator.Emulator` (``host``, ``port``).
    """

    routes = RouteTable(
        Route("POST", "/v1/submissions/create", "create", "forward"),
        Route("GET", "/v1/submissions/status/{driver_id}", "status", "forward"),
        Route("POST", "/v1/submissions/kill/{driver_id}", "kill", "forward"),
    )
    states = STATES
    id_pattern = DRIVER_ID_PATTERN.pattern
    representative_states = {JobState.ACTIVE: "RUNNING", JobState.SUCCEEDED: "FINISHED", JobState.FAILED: "FAILED"}
    born_state = "SUBMITTED"
    cancelled_state = "KILLED"

    def __init__(self, *, upstream: str, timeout_seconds: float = 30.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.port is None:
            raise ValueError(f"upstream must be http(s)://<host>:<rest port>, not {upstream!r}")
        self.upstream = f"{parts.scheme}://{parts.netloc}"
        self.upstream_port = parts.port
        self.timeout_seconds = float(timeout_seconds)

    def forward(self, request: Request) -> Reply:
        """Send the request to the master and return its answer (502 when it does not answer)."""
        body = self._master_rewritten(request.body) if request.endpoint == "create" else request.body
        url = self.upstream + request.path + (f"?{urlencode(request.query)}" if request.query else "")
        headers = {k: v for k, v in request.headers.items() if k.lower() in _FORWARDED_HEADERS}
        try:
            answer = httpx.request(request.method, url, content=body, headers=headers, timeout=self.timeout_seconds)
        except httpx.HTTPError as exc:
            raise ApiError(502, f"the Spark master at {self.upstream} did not answer: {exc!r}") from None
        return Reply(answer.status_code, answer.content, {}, answer.headers.get("content-type"))

    def not_found_reply(self, request: Request) -> Reply:
        """Any other path is the master's to answer."""
        return self.forward(request)

    def wrong_method_reply(self, request: Request) -> Reply:
        """Any other method is the master's to answer."""
        return self.forward(request)

    def _master_rewritten(self, body: bytes) -> bytes:
        try:
            submission = json.loads(body or b"{}")
            properties = submission["sparkProperties"]
            master = str(properties["spark.master"])
        except (ValueError, TypeError, KeyError):
            return body  # not a submission the proxy understands: the master answers it
        properties["spark.master"] = re.sub(rf":{self.port}(?=,|/|$)", f":{self.upstream_port}", master)
        return json.dumps(submission).encode("utf-8")
