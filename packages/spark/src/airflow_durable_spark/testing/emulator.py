"""A wire-level emulator of the Spark standalone master's REST submission gateway, for fast tests.

It answers like Spark 4.2.0's ``StandaloneRestServer`` (bodies are byte-for-byte the same shape: Jackson's
pretty printer, sorted top-level keys, ``application/json;charset=utf-8``), captured from a real master:

* ``POST /v1/submissions/create`` -> ``CreateSubmissionResponse`` with a ``driver-YYYYMMDDHHMMSS-NNNN`` ID;
* ``GET /v1/submissions/status/{id}`` -> ``SubmissionStatusResponse`` (``"success" : false`` and no
  ``driverState`` for an ID the master does not know);
* ``POST /v1/submissions/kill/{id}`` -> ``KillSubmissionResponse``;
* ``GET /json/`` -> the master web UI's JSON (workers, ``activedrivers``, ``completeddrivers``).

The pretty printing matters: Airflow's ``SparkSubmitHook`` polls with ``curl`` and parses the
``"driverState" : "RUNNING",`` line by splitting on ``" : "``.

Example::

    with SparkMasterEmulator() as master:
        master.hold()                                  # drivers stay RUNNING until moved
        ... submit to master.master_url ...
        master.set_state(master.drivers[0].driver_id, "FINISHED")
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any

from airflow_durable.testing.server import BackgroundHTTPServer, Response

FAKE_SUBMIT_USER_AGENT = "airflow-durable-fake-spark-submit"
"""User-Agent of every request the fake ``spark-submit`` makes (the emulator tells them apart by it)."""

SERVER_SPARK_VERSION = "4.2.0"
"""``serverSparkVersion`` the emulator reports (the version its responses were captured from)."""

DRIVER_STATES: frozenset[str] = frozenset(
    {"SUBMITTED", "RUNNING", "FINISHED", "RELAUNCHING", "UNKNOWN", "KILLED", "FAILED", "ERROR"}
)
"""Every ``driverState`` Spark's ``DriverState`` enumeration defines."""

TERMINAL_STATES: frozenset[str] = frozenset({"FINISHED", "KILLED", "FAILED", "ERROR"})
"""States the master lists under ``completeddrivers``; a kill request for them fails."""

DRIVER_ID_PATTERN = re.compile(r"^driver-\d{14}-\d{4,}$")
"""Spark's default ``spark.deploy.driverIdPattern`` (``driver-%s-%04d``) as a regex."""

MASTER_STATES: frozenset[str] = frozenset({"ALIVE", "STANDBY", "RECOVERING", "COMPLETING_RECOVERY"})
"""Spark's ``RecoveryState`` values (the master UI's ``status``)."""

CONTROL_PREFIX = "/_emulator"
"""Path prefix of the emulator's own endpoints (not part of Spark's API)."""

JSON_CONTENT_TYPE = "application/json;charset=utf-8"

_ACTIONS_MESSAGE = (
    "Missing an action: please specify one of /create, /kill, /killall, /clear, /status, or /readyz. "
    "Please submit requests through http://[host]:[port]/v1/submissions/..."
)


def jackson_pretty(value: Any, *, sort_top_level: bool = False) -> str:
    """Serialise like Jackson's ``DefaultPrettyPrinter``, which Spark's REST server and master UI use.

    Objects put one ``"key" : value`` per line indented by two spaces; arrays stay on one line as
    ``[ a, b ]``; empty containers print as ``{ }`` and ``[ ]``.

    Args:
        value: JSON-compatible data.
        sort_top_level: Sort the keys of the outermost object (Spark's REST messages do, maps inside
            them keep their order).

    Returns:
        The JSON text, without a trailing newline.
    """
    if sort_top_level and isinstance(value, dict):
        value = dict(sorted(value.items()))
    return _pretty(value, 0)


def _pretty(value: Any, level: int) -> str:
    if isinstance(value, dict):
        if not value:
            return "{ }"
        inner = "  " * (level + 1)
        items = [f"{inner}{json.dumps(str(k), ensure_ascii=False)} : {_pretty(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[ ]"
        return "[ " + ", ".join(_pretty(v, level) for v in value) + " ]"
    return json.dumps(value, ensure_ascii=False)


def java_date_string(moment: dt.datetime) -> str:
    """Format like ``java.util.Date.toString()`` (``Sun Nov 29 13:52:15 UTC 2026``), as ``submitdate``.

    Args:
        moment: An aware or naive (taken as local) datetime.

    Returns:
        The formatted date.
    """
    local = moment.astimezone()
    return local.strftime("%a %b %d %H:%M:%S ") + (local.tzname() or "UTC") + local.strftime(" %Y")


@dataclasses.dataclass
class EmulatedDriver:
    """One submission the emulator received (kept after :meth:`SparkMasterEmulator.forget`)."""

    driver_id: str
    request: dict[str, Any]
    """The decoded ``CreateSubmissionRequest`` body."""
    state: str
    submitted_at: dt.datetime
    status_polls: int = 0
    """Status requests answered for this driver."""
    kill_requests: int = 0
    pinned: bool = False
    """Set by :meth:`SparkMasterEmulator.set_state`: the driver no longer moves on its own."""
    forgotten: bool = False
    """The master no longer knows it (status answers ``success: false``)."""
    worker_assigned: bool = False
    message: str | None = None
    """Exception text reported in the status ``message`` (Spark sends one for a driver that errored)."""

    @property
    def main_class(self) -> str:
        """The ``mainClass`` of the request."""
        return str(self.request.get("mainClass", ""))

    @property
    def app_args(self) -> list[str]:
        """The ``appArgs`` of the request."""
        return [str(a) for a in self.request.get("appArgs") or []]

    @property
    def app_resource(self) -> str:
        """The ``appResource`` (jar) of the request."""
        return str(self.request.get("appResource", ""))

    @property
    def spark_properties(self) -> dict[str, str]:
        """The ``sparkProperties`` of the request."""
        return {str(k): str(v) for k, v in (self.request.get("sparkProperties") or {}).items()}

    @property
    def app_name(self) -> str:
        """``spark.app.name`` from the request."""
        return self.spark_properties.get("spark.app.name", "")

    @property
    def memory_mb(self) -> int:
        """``spark.driver.memory`` in MiB (1024 when unset), as the master UI reports it."""
        return _memory_mb(self.spark_properties.get("spark.driver.memory", "1g"))

    @property
    def cores(self) -> int:
        """``spark.driver.cores`` (1 when unset)."""
        return int(self.spark_properties.get("spark.driver.cores", "1"))


@dataclasses.dataclass
class FakeSubmitBehavior:
    """How the fake ``spark-submit`` behaves; it fetches this from the emulator on every run.

    The environment variable ``FAKE_SPARK_SUBMIT_EXIT_DELAY_MS`` overrides :attr:`exit_delay_ms`.
    """

    exit_delay_ms: int = 0
    """Sleep this long after printing all output (including the driver ID) before exiting."""
    exit_code: int = 0
    """Exit code after a successful submission."""
    crash_after_create: bool = False
    """Exit 137 right after the create request succeeded, before printing the driver ID: the driver
    exists on the master but the caller never learns its ID (the crash window)."""


class _Fault:
    def __init__(self, count: int, status: int, endpoint: str | None, body: str | None) -> None:
        self.remaining = count
        self.status = status
        self.endpoint = endpoint
        self.body = body


class SparkMasterEmulator(BackgroundHTTPServer):
    """A Spark standalone master REST gateway (plus ``/json/``) served from a background thread.

    Driver lifecycle: in *advance* mode (the default) a driver is born ``SUBMITTED``, answers
    ``RUNNING`` to its status polls and answers ``final_state`` from its ``polls_to_finish``-th poll
    on (the fake ``spark-submit`` polls once, like the real one). In *hold* mode drivers are born in
    the hold state (``RUNNING`` by default) and never move on their own. :meth:`set_state` moves (and
    pins) a driver; :meth:`forget` makes the master forget it.

    Args:
        polls_to_finish: Advance mode: the status poll from which a driver reports ``final_state``.
            ``None`` starts in hold mode.
        final_state: Advance mode: the terminal state drivers end in.
        hold_state: Hold mode: the state new drivers are born in.
        host: Address to bind.
        port: Port to bind (0 picks a free one).
        server_spark_version: ``serverSparkVersion`` in every response.
    """

    thread_name = "spark-master-emulator"
    server_version = "Jetty"

    def __init__(
        self,
        *,
        polls_to_finish: int | None = 2,
        final_state: str = "FINISHED",
        hold_state: str = "RUNNING",
        host: str = "127.0.0.1",
        port: int = 0,
        server_spark_version: str = SERVER_SPARK_VERSION,
    ) -> None:
        self._lock = threading.RLock()
        self._host = host
        self._requested_port = port
        self.server_spark_version = server_spark_version
        self._polls_to_finish: int | None = None
        self._final_state = "FINISHED"
        self._hold_state = "RUNNING"
        if polls_to_finish is None:
            self.hold(hold_state)
        else:
            self._hold_state = _check_state(hold_state)
            self.advance(polls_to_finish, final_state)
        self._drivers: dict[str, EmulatedDriver] = {}
        self._order: list[str] = []
        self._next_driver_number = 0
        self._faults: list[_Fault] = []
        self.status_calls: Counter[str] = Counter()
        """Status requests per driver ID (also unknown and forgotten IDs)."""
        self.kill_calls: Counter[str] = Counter()
        """Kill requests per driver ID."""
        self.create_calls = 0
        """Create requests received, including rejected and fault-injected ones."""
        self.requests: list[tuple[str, str]] = []
        """``(method, path)`` of every request, in arrival order."""
        self.status_log: list[tuple[str, str]] = []
        """``(driver ID, User-Agent)`` of every status request, oldest first: tells the operator's own
        polls from the single poll ``spark-submit`` makes after creating a driver."""
        self.on_client_status: Callable[[str], None] | None = None
        """Like :attr:`on_status`, but only for status requests that do not come from the fake
        ``spark-submit`` (so: the operator's own polls)."""
        self.on_status: Callable[[str], None] | None = None
        """Called with the driver ID in the server thread before a status request is answered
        (without the emulator's lock held, so it may call :meth:`set_state` and friends). If it
        raises, the exception is stored in :attr:`hook_errors` and the request is answered anyway."""
        self.on_create: Callable[[EmulatedDriver], None] | None = None
        """Called in the server thread after a driver is created, before the response is sent."""
        self.hook_errors: list[BaseException] = []
        self.fake_submit = FakeSubmitBehavior()
        """Behaviour of the fake ``spark-submit`` (see :mod:`.fake_spark_submit`)."""
        self._master_state = "ALIVE"
        self.worker_id = f"worker-{_stamp(dt.datetime.now())}-127.0.0.1-40000"
        self.worker_host_port = "127.0.0.1:40000"
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle and addresses

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response | None:
        """Answer one request (see :class:`~airflow_durable.testing.server.BackgroundHTTPServer`)."""
        result = self._route(method, path, body, headers.get("User-Agent", ""))
        if result is None:
            return None
        status, content_type, text = result
        return status, content_type, text.encode("utf-8"), {}

    @property
    def rest_port(self) -> int:
        """Same as :attr:`port` (Spark's ``spark.master.rest.port``)."""
        return self.port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: base URL of the REST API and of ``/json/``."""
        return f"http://{self._host}:{self.port}"

    @property
    def master_url(self) -> str:
        """``spark://127.0.0.1:<port>``: what to pass as ``spark-submit --master``."""
        return f"spark://{self._host}:{self.port}"

    @property
    def ui_url(self) -> str:
        """Base URL of the master-UI-like ``/json/`` endpoint (same server)."""
        return self.url

    # ------------------------------------------------------------------ modes

    @property
    def mode(self) -> str:
        """``"hold"`` or ``"advance"``."""
        return "hold" if self._polls_to_finish is None else "advance"

    def hold(self, state: str = "RUNNING") -> None:
        """Switch to hold mode: new drivers are born in ``state``; no driver moves on its own.

        Args:
            state: Birth state of new drivers (``RUNNING`` or ``SUBMITTED`` are the realistic ones).
        """
        with self._lock:
            self._hold_state = _check_state(state)
            self._polls_to_finish = None

    def advance(self, polls_to_finish: int = 2, final_state: str = "FINISHED") -> None:
        """Switch to advance mode: a driver reports ``final_state`` from its ``polls_to_finish``-th poll.

        Unpinned, non-terminal drivers resume counting (their earlier polls count).

        Args:
            polls_to_finish: At least 1.
            final_state: A terminal state (``FINISHED``, ``FAILED``, ``KILLED`` or ``ERROR``).
        """
        if polls_to_finish < 1:
            raise ValueError("polls_to_finish must be >= 1")
        if _check_state(final_state) not in TERMINAL_STATES:
            raise ValueError(f"final_state must be terminal, got {final_state}")
        with self._lock:
            self._polls_to_finish = polls_to_finish
            self._final_state = final_state

    # ------------------------------------------------------------------ control API

    @property
    def drivers(self) -> list[EmulatedDriver]:
        """Every submission received, oldest first (forgotten ones included, flagged)."""
        with self._lock:
            return [self._drivers[d] for d in self._order]

    def driver(self, driver_id: str) -> EmulatedDriver:
        """Return one submission.

        Args:
            driver_id: Driver ID.

        Returns:
            The driver record.

        Raises:
            KeyError: No such submission was ever received.
        """
        with self._lock:
            return self._drivers[driver_id]

    def known_driver_ids(self) -> set[str]:
        """Return the IDs the master currently knows (not forgotten).

        Returns:
            A set of driver IDs.
        """
        with self._lock:
            return {d for d, rec in self._drivers.items() if not rec.forgotten}

    def state_of(self, driver_id: str) -> str:
        """Return a driver's current state without counting a status poll.

        Args:
            driver_id: Driver ID.

        Returns:
            The state.
        """
        with self._lock:
            return self._drivers[driver_id].state

    def set_state(self, driver_id: str, state: str, *, message: str | None = None) -> None:
        """Move a driver to ``state`` and pin it there (it no longer advances on its own).

        Args:
            driver_id: Driver ID.
            state: One of :data:`DRIVER_STATES`.
            message: Exception text the status response reports in ``message`` (e.g. for ``ERROR``).

        Raises:
            KeyError: Unknown driver.
        """
        with self._lock:
            record = self._drivers[driver_id]
            record.state = _check_state(state)
            record.pinned = True
            record.message = message
            if state in ("RUNNING", "FINISHED", "FAILED", "ERROR", "RELAUNCHING"):
                record.worker_assigned = True

    def forget(self, driver_id: str) -> None:
        """Make the master forget a driver (as after a master restart without recovery).

        Status then answers ``"success" : false`` without ``driverState``, kill fails, and ``/json/``
        no longer lists it. The record stays in :attr:`drivers` with ``forgotten=True``.

        Args:
            driver_id: Driver ID.

        Raises:
            KeyError: Unknown driver.
        """
        with self._lock:
            self._drivers[driver_id].forgotten = True

    @property
    def master_state(self) -> str:
        """The master's recovery state (``ALIVE`` unless changed with :meth:`set_master_state`)."""
        return self._master_state

    def set_master_state(self, state: str) -> None:
        """Pretend the master is not ``ALIVE`` (e.g. ``RECOVERING`` after a restart), or back to ``ALIVE``.

        While not ``ALIVE``, Spark's master refuses every driver request and the REST gateway answers
        ``"success" : false``; status responses then carry a ``message`` with the Java exception
        (``Exception from the cluster:`` ...), which tells a transient outage from an unknown ID (no
        ``message``). These texts follow Spark 4.2's ``Master.scala`` / ``StandaloneRestServer.scala``;
        they were not captured from a live recovering master.

        Args:
            state: One of :data:`MASTER_STATES`.
        """
        if state not in MASTER_STATES:
            raise ValueError(f"unknown master state {state!r}; expected one of {sorted(MASTER_STATES)}")
        with self._lock:
            self._master_state = state

    def fail_next(self, n: int = 1, status: int = 503, *, endpoint: str | None = None, body: str | None = None) -> None:
        """Answer the next ``n`` matching REST requests with an error instead of handling them.

        Faults are queued: a later call applies after earlier ones are used up. A failed create does
        not create a driver; a failed status poll is not counted in :attr:`EmulatedDriver.status_polls`
        (but is in :attr:`status_calls`).

        Args:
            n: How many requests fail.
            status: HTTP status to send; ``0`` closes the connection without any response.
            endpoint: ``"create"``, ``"status"``, ``"kill"``, ``"json"`` or ``None`` for any of them.
            body: Response body (defaults to a short HTML error page, as a proxy would send).
        """
        if endpoint not in (None, "create", "status", "kill", "json"):
            raise ValueError(f"unknown endpoint {endpoint!r}")
        with self._lock:
            self._faults.append(_Fault(n, status, endpoint, body))

    def reset_counters(self) -> None:
        """Zero :attr:`status_calls`, :attr:`kill_calls`, :attr:`create_calls` and :attr:`requests`."""
        with self._lock:
            self.status_calls.clear()
            self.kill_calls.clear()
            self.create_calls = 0
            self.requests.clear()

    def wait_for_drivers(self, count: int, timeout_seconds: float = 10.0) -> list[EmulatedDriver]:
        """Wait until at least ``count`` submissions were received.

        Args:
            count: Number of submissions.
            timeout_seconds: How long to wait.

        Returns:
            :attr:`drivers`.

        Raises:
            TimeoutError: Fewer submissions arrived in time.
        """
        deadline = time.monotonic() + timeout_seconds
        while True:
            drivers = self.drivers
            if len(drivers) >= count:
                return drivers
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} submissions, got {len(drivers)}")
            time.sleep(0.01)

    # ------------------------------------------------------------------ request handling

    def _take_fault(self, endpoint: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.endpoint in (None, endpoint) and fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _create(self, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            request = json.loads(body.decode("utf-8"))
            if not isinstance(request, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as exc:
            return 400, self._error(f"Malformed request: {type(exc).__name__}: {exc}")
        action = request.get("action")
        if action != "CreateSubmissionRequest":
            return 400, self._error(
                f"Malformed request: org.apache.spark.deploy.rest.SubmitRestProtocolException: "
                f"Unexpected action {action!r} (expected CreateSubmissionRequest)."
            )
        missing = [
            field
            for field in ("appResource", "mainClass", "sparkProperties", "clientSparkVersion")
            if not request.get(field)
        ]
        props = request.get("sparkProperties") or {}
        if not isinstance(props, dict) or "spark.app.name" not in props:
            missing.append("sparkProperties['spark.app.name']")
        if missing:
            return 400, self._error(
                "Malformed request: org.apache.spark.deploy.rest.SubmitRestProtocolException: "
                f"Validation of message CreateSubmissionRequest failed! (missing {', '.join(missing)})"
            )
        with self._lock:
            if self._master_state != "ALIVE":
                return 200, {
                    "action": "CreateSubmissionResponse",
                    "message": f"Current state is not alive: {self._master_state}. "
                    "Can only accept driver submissions in ALIVE state.",
                    "serverSparkVersion": self.server_spark_version,
                    "success": False,
                }
            now = dt.datetime.now()
            driver_id = f"driver-{_stamp(now)}-{self._next_driver_number:04d}"
            self._next_driver_number += 1
            born = self._hold_state if self._polls_to_finish is None else "SUBMITTED"
            record = EmulatedDriver(
                driver_id=driver_id,
                request=request,
                state=born,
                submitted_at=now,
                worker_assigned=born not in ("SUBMITTED",),
            )
            self._drivers[driver_id] = record
            self._order.append(driver_id)
        if self.on_create is not None:
            try:
                self.on_create(record)
            except Exception as exc:  # noqa: BLE001 - a test hook may fail in any way
                self.hook_errors.append(exc)
        return 200, {
            "action": "CreateSubmissionResponse",
            "message": f"Driver successfully submitted as {driver_id}",
            "serverSparkVersion": self.server_spark_version,
            "submissionId": driver_id,
            "success": True,
        }

    def _status(self, driver_id: str) -> tuple[int, dict[str, Any]]:
        if self.on_status is not None:
            try:
                self.on_status(driver_id)
            except Exception as exc:  # noqa: BLE001 - a test hook may fail in any way
                self.hook_errors.append(exc)
        with self._lock:
            if self._master_state != "ALIVE":
                return 200, {
                    "action": "SubmissionStatusResponse",
                    "message": "Exception from the cluster:\njava.lang.Exception: "
                    f"Current state is not alive: {self._master_state}. "
                    "Can only request driver status in ALIVE state.\n"
                    "\torg.apache.spark.deploy.master.Master$$anonfun$receiveAndReply$1.applyOrElse(Master.scala)",
                    "serverSparkVersion": self.server_spark_version,
                    "submissionId": driver_id,
                    "success": False,
                }
            record = self._drivers.get(driver_id)
            if record is None or record.forgotten:
                return 200, {
                    "action": "SubmissionStatusResponse",
                    "serverSparkVersion": self.server_spark_version,
                    "submissionId": driver_id,
                    "success": False,
                }
            record.status_polls += 1
            if not record.pinned and record.state not in TERMINAL_STATES and self._polls_to_finish is not None:
                record.state = self._final_state if record.status_polls >= self._polls_to_finish else "RUNNING"
                record.worker_assigned = True
            response: dict[str, Any] = {
                "action": "SubmissionStatusResponse",
                "driverState": record.state,
                "serverSparkVersion": self.server_spark_version,
                "submissionId": driver_id,
                "success": True,
            }
            if record.worker_assigned:
                response["workerHostPort"] = self.worker_host_port
                response["workerId"] = self.worker_id
            if record.message:
                response["message"] = record.message
            return 200, response

    def _kill(self, driver_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self._master_state != "ALIVE":
                return 200, {
                    "action": "KillSubmissionResponse",
                    "message": f"Current state is not alive: {self._master_state}. "
                    "Can only kill drivers in ALIVE state.",
                    "serverSparkVersion": self.server_spark_version,
                    "submissionId": driver_id,
                    "success": False,
                }
            record = self._drivers.get(driver_id)
            if record is None or record.forgotten or record.state in TERMINAL_STATES:
                if record is not None and not record.forgotten:
                    record.kill_requests += 1
                return 200, {
                    "action": "KillSubmissionResponse",
                    "message": f"Driver {driver_id} has already finished or does not exist",
                    "serverSparkVersion": self.server_spark_version,
                    "submissionId": driver_id,
                    "success": False,
                }
            record.kill_requests += 1
            record.state = "KILLED"
            record.pinned = True
            return 200, {
                "action": "KillSubmissionResponse",
                "message": f"Kill request for {driver_id} submitted",
                "serverSparkVersion": self.server_spark_version,
                "submissionId": driver_id,
                "success": True,
            }

    def master_json(self) -> dict[str, Any]:
        """Return the document ``GET /json/`` serves (shape of Spark 4.2's master UI JSON).

        Returns:
            ``url``, ``workers``, ``aliveworkers``, ..., ``activedrivers``, ``completeddrivers``,
            ``status``.
        """
        with self._lock:
            known = [self._drivers[d] for d in self._order if not self._drivers[d].forgotten]
            active = [d for d in known if d.state not in TERMINAL_STATES]
            completed = [d for d in known if d.state in TERMINAL_STATES]
            running = [d for d in active if d.state == "RUNNING"]
            cores_used = sum(d.cores for d in running)
            memory_used = sum(d.memory_mb for d in running)
        worker_port = int(self.worker_host_port.rsplit(":", 1)[1])
        return {
            "url": f"spark://{self._host}:{self.port if self._server else 0}",
            "workers": [
                {
                    "id": self.worker_id,
                    "host": self._host,
                    "port": worker_port,
                    "webuiaddress": f"http://{self._host}:8082",
                    "cores": 2,
                    "coresused": cores_used,
                    "coresfree": max(0, 2 - cores_used),
                    "memory": 2048,
                    "memoryused": memory_used,
                    "memoryfree": max(0, 2048 - memory_used),
                    "resources": {},
                    "resourcesused": {},
                    "resourcesfree": {},
                    "state": "ALIVE",
                    "lastheartbeat": int(time.time() * 1000),
                }
            ],
            "aliveworkers": 1,
            "cores": 2,
            "coresused": cores_used,
            "memory": 2048,
            "memoryused": memory_used,
            "resources": [{}],
            "resourcesused": [{}],
            "activeapps": [],
            "completedapps": [],
            "activedrivers": [self._driver_info(d) for d in active],
            "completeddrivers": [self._driver_info(d) for d in completed],
            "status": self._master_state,
        }

    def _driver_info(self, record: EmulatedDriver) -> dict[str, Any]:
        return {
            "id": record.driver_id,
            "starttime": str(int(record.submitted_at.timestamp() * 1000)),
            "state": record.state,
            "cores": record.cores,
            "memory": record.memory_mb,
            "resources": {},
            "submitdate": java_date_string(record.submitted_at),
            "worker": self.worker_id if record.worker_assigned else "None",
            "mainclass": record.main_class,
        }

    def _error(self, message: str) -> dict[str, Any]:
        return {
            "action": "ErrorResponse",
            "message": message,
            "serverSparkVersion": self.server_spark_version,
        }

    def _client_config(self) -> dict[str, Any]:
        return dataclasses.asdict(self.fake_submit)

    def _route(self, method: str, path: str, body: bytes, user_agent: str = "") -> tuple[int, str, str] | None:
        """Return ``(status, content type, body)``; ``None`` means: drop the connection."""
        path = path.split("?", 1)[0]
        if path.startswith(CONTROL_PREFIX):
            if path == f"{CONTROL_PREFIX}/fake-submit" and method == "GET":
                return 200, JSON_CONTENT_TYPE, json.dumps(self._client_config())
            return 404, "text/plain", "unknown emulator endpoint"
        with self._lock:
            self.requests.append((method, path))
        if path in ("/json", "/json/"):
            endpoint = "json"
        elif path.startswith("/v1/submissions/"):
            endpoint = path[len("/v1/submissions/") :].split("/", 1)[0]
        else:
            return (
                404,
                "text/html;charset=utf-8",
                "<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>",
            )
        if endpoint == "create":
            with self._lock:
                self.create_calls += 1
        elif endpoint in ("status", "kill"):
            driver_id = path.rstrip("/").rsplit("/", 1)[-1]
            if driver_id != endpoint:
                with self._lock:
                    (self.status_calls if endpoint == "status" else self.kill_calls)[driver_id] += 1
                    if endpoint == "status":
                        self.status_log.append((driver_id, user_agent))
                if endpoint == "status" and self.on_client_status is not None and user_agent != FAKE_SUBMIT_USER_AGENT:
                    try:
                        self.on_client_status(driver_id)
                    except Exception as exc:  # noqa: BLE001 - a test hook may fail in any way
                        self.hook_errors.append(exc)
        fault = self._take_fault(endpoint)
        if fault is not None:
            if fault.status == 0:
                return None
            default = f"<html><body><h1>{fault.status} Service Unavailable</h1></body></html>"
            return fault.status, "text/html;charset=utf-8", fault.body if fault.body is not None else default
        status, payload = self._dispatch(method, endpoint, path, body)
        if endpoint == "json":
            return status, JSON_CONTENT_TYPE, jackson_pretty(payload)
        return status, JSON_CONTENT_TYPE, jackson_pretty(payload, sort_top_level=True)

    def _dispatch(self, method: str, endpoint: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        if endpoint == "json":
            return 200, self.master_json()
        if endpoint == "create":
            if method != "POST":
                return 405, self._error("HTTP method not allowed.")
            return self._create(body)
        if endpoint in ("status", "kill"):
            parts = path.rstrip("/").split("/")
            # ["", "v1", "submissions", endpoint, id]
            if len(parts) < 5 or not parts[4]:
                return 400, self._error(f"Submission ID is missing in {endpoint} request.")
            if endpoint == "status":
                if method != "GET":
                    return 405, self._error("HTTP method not allowed.")
                return self._status(parts[4])
            if method != "POST":
                return 405, self._error("HTTP method not allowed.")
            return self._kill(parts[4])
        return 400, self._error(_ACTIONS_MESSAGE)


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


def _check_state(state: str) -> str:
    if state not in DRIVER_STATES:
        raise ValueError(f"unknown driver state {state!r}; expected one of {sorted(DRIVER_STATES)}")
    return state


def _memory_mb(size: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)b?\s*", size.lower())
    if not match:
        return 1024
    number, unit = int(match.group(1)), match.group(2) or "m"
    factor = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}[unit]
    return int(number * factor)
