"""A wire-level emulator of the Spark standalone master's REST submission gateway, on the core emulator kit.

It answers like Spark 4.2.0's ``StandaloneRestServer`` (bodies are byte-for-byte the same shape: Jackson's
pretty printer, sorted top-level keys, ``application/json;charset=utf-8``), captured from a real master:

* ``POST /v1/submissions/create`` -> ``CreateSubmissionResponse`` with a ``driver-YYYYMMDDHHMMSS-NNNN`` ID;
* ``GET /v1/submissions/status/{id}`` -> ``SubmissionStatusResponse`` (``"success" : false`` and no
  ``driverState`` for an ID the master does not know);
* ``POST /v1/submissions/kill/{id}`` -> ``KillSubmissionResponse``;
* ``GET /json/`` -> the master web UI's JSON (workers, ``activedrivers``, ``completeddrivers``).

The pretty printing matters: Airflow's ``SparkSubmitHook`` polls with ``curl`` and parses the
``"driverState" : "RUNNING",`` line by splitting on ``" : "``. Life cycle, faults, counters and the control
plane come from :class:`airflow_durable.testing.emulator.Emulator`.

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
import time
from collections import Counter
from typing import Any, ClassVar

from airflow_durable.status import JobState
from airflow_durable.testing.control import control
from airflow_durable.testing.emulator import Emulator
from airflow_durable.testing.faults import Fault
from airflow_durable.testing.jobs import EmulatedJob, Script
from airflow_durable.testing.routes import Reply, Request, Route, RouteTable

TOKEN_PROPERTY = "spark.airflow.durable.submission"
"""The Spark property that carries the submission token (the operator's ``TOKEN_CONF_KEY``)."""

FAKE_SUBMIT_USER_AGENT = "airflow-durable-fake-spark-submit"
"""User-Agent of every request the fake ``spark-submit`` makes (the emulator tells them apart by it)."""

SERVER_SPARK_VERSION = "4.2.0"
"""``serverSparkVersion`` the emulator reports (the version its responses were captured from)."""

# https://github.com/apache/spark/blob/v4.0.0/core/src/main/scala/org/apache/spark/deploy/master/DriverState.scala
STATES: dict[str, JobState] = {
    "SUBMITTED": JobState.ACTIVE,
    "RUNNING": JobState.ACTIVE,
    "RELAUNCHING": JobState.ACTIVE,
    "UNKNOWN": JobState.ACTIVE,
    "FINISHED": JobState.SUCCEEDED,
    "KILLED": JobState.FAILED,
    "FAILED": JobState.FAILED,
    "ERROR": JobState.FAILED,
}
"""Every ``driverState`` of Spark's ``DriverState`` enumeration and what it means."""
DRIVER_STATES: frozenset[str] = frozenset(STATES)
TERMINAL_STATES: frozenset[str] = frozenset(s for s, meaning in STATES.items() if meaning is not JobState.ACTIVE)
"""States the master lists under ``completeddrivers``; a kill request for them fails."""

DRIVER_ID_PATTERN = re.compile(r"^driver-\d{14}-\d{4,}$")
"""Spark's default ``spark.deploy.driverIdPattern`` (``driver-%s-%04d``) as a regex."""

MASTER_STATES: frozenset[str] = frozenset({"ALIVE", "STANDBY", "RECOVERING", "COMPLETING_RECOVERY"})
"""Spark's ``RecoveryState`` values (the master UI's ``status``)."""

JSON_CONTENT_TYPE = "application/json;charset=utf-8"
_HTML = "text/html;charset=utf-8"
_ACTIONS_MESSAGE = (
    "Missing an action: please specify one of /create, /kill, /killall, /clear, /status, or /readyz. "
    "Please submit requests through http://[host]:[port]/v1/submissions/..."
)
_ASSIGNED_STATES = frozenset({"RUNNING", "FINISHED", "FAILED", "ERROR", "RELAUNCHING"})


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


@dataclasses.dataclass(eq=False)
class EmulatedDriver(EmulatedJob):
    """One submission the emulator received (kept after :meth:`SparkMasterEmulator.forget`).

    Attributes:
        kill_requests: Kill requests received for it.
        worker_assigned: A worker took the driver (status answers carry ``workerId``).
        message: Exception text the status answer reports in ``message`` (Spark sends one for ``ERROR``).
    """

    kill_requests: int = 0
    worker_assigned: bool = False
    message: str | None = None

    @property
    def driver_id(self) -> str:
        """The driver ID."""
        return str(self.external_id)

    @property
    def submitted_at(self) -> dt.datetime:
        """When the master accepted the driver."""
        return dt.datetime.fromtimestamp(self.created_at)

    @property
    def status_polls(self) -> int:
        """Status requests answered for this driver."""
        return self.status_calls

    @property
    def spark_properties(self) -> dict[str, str]:
        """The ``sparkProperties`` of the request."""
        return {str(k): str(v) for k, v in (self.request.get("sparkProperties") or {}).items()}

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

    def to_json(self) -> dict[str, Any]:
        """A JSON summary for the control plane."""
        return {"driver_id": self.driver_id, "state": self.state, "token": self.token, "request": self.request}


@dataclasses.dataclass
class FakeSubmitBehavior:
    """How the fake ``spark-submit`` behaves; it fetches this from the emulator on every run.

    The environment variable ``FAKE_SPARK_SUBMIT_EXIT_DELAY_MS`` overrides :attr:`exit_delay_ms`.

    Attributes:
        exit_delay_ms: Sleep this long after printing all output (including the driver ID) before exiting.
        exit_code: Exit code after a successful submission.
        crash_after_create: Exit 137 right after the create request succeeded, before printing the driver
            ID: the driver exists on the master but the caller never learns its ID (the crash window).
    """

    exit_delay_ms: int = 0
    exit_code: int = 0
    crash_after_create: bool = False


class SparkMasterEmulator(Emulator[EmulatedDriver]):
    """A Spark standalone master REST gateway (plus ``/json/``) served from a background thread.

    Driver life cycle: in *advance* mode (the default) a driver is born ``SUBMITTED``, answers ``RUNNING`` to
    its status polls and ``final_state`` from its ``polls_to_finish``-th poll on (the fake ``spark-submit``
    polls once, like the real one). In *hold* mode drivers are born in the hold state and never move on
    their own. :meth:`set_state` moves (and pins) a driver; :meth:`forget` makes the master forget it.

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
    routes = RouteTable(
        Route("POST", "/v1/submissions/create", "create", "_create"),
        Route("GET", "/v1/submissions/status/{driver_id}", "status", "_status"),
        Route("POST", "/v1/submissions/kill/{driver_id}", "kill", "_kill"),
        Route("GET", "/v1/submissions/status", "status", "_missing_id"),
        Route("POST", "/v1/submissions/kill", "kill", "_missing_id"),
        Route("GET", "/json", "json", "_master_ui"),
    )
    states = STATES
    id_pattern = DRIVER_ID_PATTERN.pattern
    job_class = EmulatedDriver
    cancelled_state = "KILLED"
    json_content_type = JSON_CONTENT_TYPE
    representative_states: ClassVar[dict[JobState, str]] = {
        JobState.ACTIVE: "RUNNING",
        JobState.SUCCEEDED: "FINISHED",
        JobState.FAILED: "FAILED",
    }
    born_state = "SUBMITTED"
    advance_steps = ((1, "RUNNING"),)
    client_status_calls = 1

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
        super().__init__(host=host, port=port, script=Script(hold_state))
        if polls_to_finish is None:
            self.hold(hold_state)
        else:
            self.advance(polls_to_finish, final_state)
        self.book._initial_script = self.book.script
        self.server_spark_version = server_spark_version
        self.fake_submit = FakeSubmitBehavior()
        """Behaviour of the fake ``spark-submit`` (see :mod:`.fake_spark_submit`)."""
        self._master_state = "ALIVE"
        self.worker_id = f"worker-{_stamp(dt.datetime.now())}-127.0.0.1-40000"
        self.worker_host_port = "127.0.0.1:40000"
        self._sequence = 0

    # ------------------------------------------------------------------ addresses and controls

    @property
    def rest_port(self) -> int:
        """Same as :attr:`port` (Spark's ``spark.master.rest.port``)."""
        return self.port

    @property
    def master_url(self) -> str:
        """``spark://127.0.0.1:<port>``: what to pass as ``spark-submit --master``."""
        return f"spark://{self._host}:{self.port}"

    @property
    def ui_url(self) -> str:
        """Base URL of the master-UI-like ``/json/`` endpoint (same server)."""
        return self.url

    @property
    def mode(self) -> str:
        """``"hold"`` or ``"advance"``."""
        return self.book.mode

    @control
    def advance(self, polls_to_finish: int = 2, final_state: str = "FINISHED") -> None:
        """Switch to advance mode: a driver reports ``final_state`` from its ``polls_to_finish``-th poll.

        Raises:
            ValueError: ``polls_to_finish`` below 1, or a state that is not terminal.
        """
        if self.book.check(final_state) not in TERMINAL_STATES:
            raise ValueError(f"final_state must be terminal, got {final_state}")
        self.finish_after(polls_to_finish, final_state)

    @control
    def set_state(self, driver_id: str, state: str, *, message: str | None = None) -> None:
        """Move a driver to one of :data:`DRIVER_STATES` and pin it; ``message`` is the status ``message``.

        Raises:
            KeyError: Unknown driver.
            ValueError: Unknown state.
        """
        self.book.force(driver_id, self.book.check(state), message=message)

    def enter_state(self, job: EmulatedDriver, state: str, **fields: Any) -> None:
        """Keep ``worker_assigned`` and ``message`` in step with the state."""
        job.state = state
        if "message" in fields:
            job.message = fields["message"]
        job.worker_assigned = job.worker_assigned or state in _ASSIGNED_STATES

    @property
    def drivers(self) -> list[EmulatedDriver]:
        """Every submission received, oldest first (forgotten ones included, flagged)."""
        return self.book.jobs

    def driver(self, driver_id: str) -> EmulatedDriver:
        """Return one submission. Raises ``KeyError`` for an ID never received."""
        return self.book.get(driver_id)

    def known_driver_ids(self) -> set[str]:
        """Return the IDs the master currently knows (not forgotten)."""
        return {d.driver_id for d in self.book.jobs if not d.forgotten}

    def state_of(self, driver_id: str) -> str:
        """Return a driver's current state without counting a status poll."""
        return self.book.get(driver_id).state

    def wait_for_drivers(self, count: int, timeout_seconds: float = 10.0) -> list[EmulatedDriver]:
        """Wait until at least ``count`` submissions were received. Raises ``TimeoutError``."""
        return list(self.book.wait_for(count, timeout_seconds))

    @property
    def master_state(self) -> str:
        """The master's recovery state (``ALIVE`` unless changed with :meth:`set_master_state`)."""
        return self._master_state

    @control
    def set_master_state(self, state: str) -> None:
        """Pretend the master is not ``ALIVE`` (e.g. ``RECOVERING`` after a restart), or back to ``ALIVE``.

        While not ``ALIVE``, the master refuses every driver request and the REST gateway answers
        ``"success" : false``; status answers then carry a ``message`` with the Java exception, which tells
        a transient outage from an unknown ID (no ``message``). The texts follow Spark 4.2's
        ``Master.scala`` / ``StandaloneRestServer.scala``.

        Raises:
            ValueError: Not one of :data:`MASTER_STATES`.
        """
        if state not in MASTER_STATES:
            raise ValueError(f"unknown master state {state!r}; expected one of {sorted(MASTER_STATES)}")
        self._master_state = state

    @property
    @control
    def fake_submit_behavior(self) -> FakeSubmitBehavior:
        """What the fake ``spark-submit`` reads at start-up."""
        return self.fake_submit

    @property
    def status_calls(self) -> Counter[str]:
        """Status requests per driver ID, fault-injected ones and unknown IDs included."""
        return self._calls_per_driver("status")

    @property
    def kill_calls(self) -> Counter[str]:
        """Kill requests per driver ID."""
        return self._calls_per_driver("kill")

    @property
    def create_calls(self) -> int:
        """Create requests received, rejected and fault-injected ones included."""
        return self.calls["create"]

    def _calls_per_driver(self, endpoint: str) -> Counter[str]:
        with self.book.lock:
            return Counter(r.params["driver_id"] for r in self.requests if r.endpoint == endpoint and r.params)

    def reset_counters(self) -> None:
        """Zero the call counters and the request log."""
        with self.book.lock:
            self._reset_records()

    # ------------------------------------------------------------------ the wire format

    def encode(self, payload: Any) -> bytes:
        """Jackson's pretty printer with sorted top-level keys, as Spark's REST messages."""
        return jackson_pretty(payload, sort_top_level=True).encode("utf-8")

    def fault_reply(self, fault: Fault, endpoint: str) -> Reply:
        """A proxy-like HTML error page, or the fault's body."""
        body = (
            fault.body
            if fault.body is not None
            else f"<html><body><h1>{fault.status} Service Unavailable</h1></body></html>"
        )
        return Reply(fault.status, body, content_type=_HTML if body.lstrip().startswith("<") else "text/plain")

    def not_found_reply(self, request: Request) -> Reply:
        """Spark's "missing an action" error under ``/v1/submissions/``, else Jetty's 404 page."""
        if request.path.startswith("/v1/submissions/"):
            return Reply(400, self._message("ErrorResponse", _ACTIONS_MESSAGE))
        return Reply(404, "<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>", content_type=_HTML)

    def wrong_method_reply(self, request: Request) -> Reply:
        """Spark's 405 ``ErrorResponse``."""
        return Reply(405, self._message("ErrorResponse", "HTTP method not allowed."))

    def _message(self, action: str, message: str | None = None, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"action": action, "serverSparkVersion": self.server_spark_version, **fields}
        if message is not None:
            body["message"] = message
        return body

    def _not_alive(self, action: str, what: str, driver_id: str | None = None) -> Reply | None:
        if self._master_state == "ALIVE":
            return None
        text = f"Current state is not alive: {self._master_state}. Can only {what} in ALIVE state."
        if action == "SubmissionStatusResponse":
            frame = "org.apache.spark.deploy.master.Master$$anonfun$receiveAndReply$1.applyOrElse(Master.scala)"
            text = f"Exception from the cluster:\njava.lang.Exception: {text}\n\t{frame}"
        ids = {} if driver_id is None else {"submissionId": driver_id}
        return Reply(200, self._message(action, text, success=False, **ids))

    def _create(self, request: Request) -> Reply:
        try:
            body = request.json()
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as exc:
            return Reply(400, self._message("ErrorResponse", f"Malformed request: {type(exc).__name__}: {exc}"))
        protocol = "Malformed request: org.apache.spark.deploy.rest.SubmitRestProtocolException: "
        if body.get("action") != "CreateSubmissionRequest":
            text = f"Unexpected action {body.get('action')!r} (expected CreateSubmissionRequest)."
            return Reply(400, self._message("ErrorResponse", protocol + text))
        required = ("appResource", "mainClass", "sparkProperties", "clientSparkVersion")
        missing = [name for name in required if not body.get(name)]
        props = body.get("sparkProperties") or {}
        if not isinstance(props, dict) or "spark.app.name" not in props:
            missing.append("sparkProperties['spark.app.name']")
        if missing:
            text = f"Validation of message CreateSubmissionRequest failed! (missing {', '.join(missing)})"
            return Reply(400, self._message("ErrorResponse", protocol + text))
        refused = self._not_alive("CreateSubmissionResponse", "accept driver submissions")
        if refused is not None:
            return refused
        job, _ = self.book.submit(props.get(TOKEN_PROPERTY), body)
        message = f"Driver successfully submitted as {job.driver_id}"
        return Reply(200, self._message("CreateSubmissionResponse", message, submissionId=job.driver_id, success=True))

    def new_job_id(self) -> str:
        """``driver-<yyyyMMddHHmmss>-<sequence>``, as ``Master.newDriverId``."""
        self._sequence += 1
        return f"driver-{_stamp(dt.datetime.now())}-{self._sequence - 1:04d}"

    def _status(self, request: Request) -> Reply:
        driver_id = request.params["driver_id"]
        refused = self._not_alive("SubmissionStatusResponse", "request driver status", driver_id)
        if refused is not None:
            return refused
        observed = request.header("User-Agent") != FAKE_SUBMIT_USER_AGENT
        driver = self.status_call(driver_id, observed=observed)
        fields: dict[str, Any] = {"submissionId": driver_id, "success": driver is not None}
        if driver is None:
            return Reply(200, self._message("SubmissionStatusResponse", **fields))
        fields["driverState"] = driver.state
        if driver.worker_assigned:
            fields.update(workerHostPort=self.worker_host_port, workerId=self.worker_id)
        return Reply(200, self._message("SubmissionStatusResponse", driver.message or None, **fields))

    def _kill(self, request: Request) -> Reply:
        driver_id = request.params["driver_id"]
        refused = self._not_alive("KillSubmissionResponse", "kill drivers", driver_id)
        if refused is not None:
            return refused
        with self.book.lock:
            driver = self.book.find(driver_id)
            was_active = driver is not None and driver.state not in TERMINAL_STATES
            if driver is not None:
                driver.kill_requests += 1
                self.book.cancel(driver_id)
        if not was_active:
            text = f"Driver {driver_id} has already finished or does not exist"
            return Reply(200, self._message("KillSubmissionResponse", text, submissionId=driver_id, success=False))
        text = f"Kill request for {driver_id} submitted"
        return Reply(200, self._message("KillSubmissionResponse", text, submissionId=driver_id, success=True))

    def _missing_id(self, request: Request) -> Reply:
        return Reply(400, self._message("ErrorResponse", f"Submission ID is missing in {request.endpoint} request."))

    def _master_ui(self, request: Request) -> Reply:
        return Reply(200, jackson_pretty(self.master_json()))

    def master_json(self) -> dict[str, Any]:
        """Return the document ``GET /json/`` serves (shape of Spark 4.2's master UI JSON)."""
        with self.book.lock:
            known = [d for d in self.book.jobs if not d.forgotten]
        active = [d for d in known if d.state not in TERMINAL_STATES]
        running = [d for d in active if d.state == "RUNNING"]
        cores_used = sum(d.cores for d in running)
        memory_used = sum(d.memory_mb for d in running)
        worker = {
            "id": self.worker_id,
            "host": self._host,
            "port": int(self.worker_host_port.rsplit(":", 1)[1]),
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
        return {
            "url": f"spark://{self._host}:{self.port if self._server else 0}",
            "workers": [worker],
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
            "completeddrivers": [self._driver_info(d) for d in known if d.state in TERMINAL_STATES],
            "status": self._master_state,
        }

    def _driver_info(self, driver: EmulatedDriver) -> dict[str, Any]:
        return {
            "id": driver.driver_id,
            "starttime": str(int(driver.created_at * 1000)),
            "state": driver.state,
            "cores": driver.cores,
            "memory": driver.memory_mb,
            "resources": {},
            "submitdate": java_date_string(driver.submitted_at),
            "worker": self.worker_id if driver.worker_assigned else "None",
            "mainclass": driver.main_class,
        }


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


def _memory_mb(size: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)b?\s*", size.lower())
    if not match:
        return 1024
    number, unit = int(match.group(1)), match.group(2) or "m"
    return int(number * {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}[unit])
