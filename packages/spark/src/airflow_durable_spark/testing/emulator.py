"""A wire-level emulator of the Spark standalone master's REST submission gateway, on the core emulator kit.

It answers ``/v1/submissions/{create,status,kill}`` and the master UI's ``/json/`` like Spark 4.2.0, byte for
byte as captured from a real master: Jackson's pretty printer, sorted top-level keys, and for an ID the master
does not know ``"success" : false`` without ``driverState``. The pretty printing matters: Airflow's
``SparkSubmitHook`` polls with ``curl`` and splits the ``"driverState" : "RUNNING",`` line on ``" : "``.
Life cycle, faults, counters and the control plane come from :class:`airflow_durable.testing.emulator.Emulator`.

Example::

    with SparkMasterEmulator() as master:
        master.hold()                                  # drivers stay RUNNING until moved
        ... submit to master.master_url ...
        master.set_state(master.drivers[0].driver_id, "FINISHED")
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import re
import time
from collections import Counter
from typing import Any

from airflow_durable.status import JobState
from airflow_durable.testing.control import control
from airflow_durable.testing.emulator import Emulator
from airflow_durable.testing.faults import Fault
from airflow_durable.testing.jobs import EmulatedJob
from airflow_durable.testing.routes import ApiError, Reply, Request, Route, RouteTable

TOKEN_PROPERTY = "spark.airflow.durable.submission"
"""The Spark property that carries the submission token (the operator's ``TOKEN_CONF_KEY``)."""
FAKE_SUBMIT_USER_AGENT = "airflow-durable-fake-spark-submit"
"""User-Agent of every request the fake ``spark-submit`` makes (its own status poll is not observed)."""
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

_HTML = "text/html;charset=utf-8"
_ASSIGNED_STATES = frozenset({"RUNNING", "FINISHED", "FAILED", "ERROR", "RELAUNCHING"})
_PROTOCOL_ERROR = "Malformed request: org.apache.spark.deploy.rest.SubmitRestProtocolException: "


def jackson_pretty(value: Any, *, sort_top_level: bool = False) -> str:
    """Serialise like Jackson's ``DefaultPrettyPrinter``, which Spark's REST server and master UI use.

    Objects put one ``"key" : value`` per line, indented by two spaces; arrays stay on one line: ``[ a, b ]``.

    Args:
        value: JSON-compatible data.
        sort_top_level: Sort the keys of the outermost object (Spark's REST messages do; maps inside
            them keep their order).

    Returns:
        The JSON text, without a trailing newline.
    """
    if sort_top_level and isinstance(value, dict):
        value = dict(sorted(value.items()))
    return _pretty(value, 0)


def _pretty(value: Any, level: int) -> str:
    if isinstance(value, dict) and value:
        inner = "  " * (level + 1)
        items = [f"{inner}{json.dumps(str(k), ensure_ascii=False)} : {_pretty(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    if isinstance(value, list | tuple) and value:
        return "[ " + ", ".join(_pretty(v, level) for v in value) + " ]"
    if isinstance(value, dict | list | tuple):
        return "{ }" if isinstance(value, dict) else "[ ]"
    return json.dumps(value, ensure_ascii=False)


@dataclasses.dataclass(eq=False)
class EmulatedDriver(EmulatedJob):
    """One driver the master accepted (kept after :meth:`SparkMasterEmulator.forget`).

    The request's fields are read once, when the driver is created.

    Attributes:
        kill_requests: Kill requests received for it.
        worker_assigned: A worker took the driver (status answers carry ``workerId``).
        message: Exception text the status answer reports in ``message`` (Spark sends one for ``ERROR``).
        driver_id: The driver ID.
        spark_properties: The request's ``sparkProperties``.
        main_class: The request's ``mainClass``.
        app_args: The request's ``appArgs``.
        app_name: ``spark.app.name``.
    """

    kill_requests: int = 0
    worker_assigned: bool = False
    message: str | None = None
    driver_id: str = dataclasses.field(init=False)
    spark_properties: dict[str, str] = dataclasses.field(init=False)
    main_class: str = dataclasses.field(init=False)
    app_args: list[str] = dataclasses.field(init=False)
    app_name: str = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        request = self.request if isinstance(self.request, dict) else {}
        self.driver_id = str(self.external_id)
        self.spark_properties = {str(k): str(v) for k, v in (request.get("sparkProperties") or {}).items()}
        self.main_class = str(request.get("mainClass", ""))
        self.app_args = [str(a) for a in request.get("appArgs") or []]
        self.app_name = self.spark_properties.get("spark.app.name", "")

    @property
    def status_polls(self) -> int:
        """Status requests answered for this driver (its ``status_calls``)."""
        return self.status_calls


@dataclasses.dataclass
class FakeSubmitBehavior:
    """How the fake ``spark-submit`` behaves; it fetches this from the emulator on every run.

    The environment variable ``FAKE_SPARK_SUBMIT_EXIT_DELAY_MS`` overrides :attr:`exit_delay_ms`.

    Attributes:
        exit_delay_ms: Sleep this long after printing all output (including the driver ID) before exiting.
        exit_code: Exit code after a successful submission.
        crash_after_create: Exit 137 right after the create request succeeded, before printing the driver
            ID: the driver exists on the master but the caller never learns its ID (the crash window).
        pause_after_create_ms: Sleep this long right after the create request succeeded, before printing
            the ID: the job exists while the caller does not know its ID yet, so a test can kill the caller
            inside the submit window.
    """

    exit_delay_ms: int = 0
    exit_code: int = 0
    crash_after_create: bool = False
    pause_after_create_ms: int = 0


class FakeSubmitControls:
    """The control-plane knobs of a fake ``spark-submit``, for an emulator that serves them.

    The emulator sets :attr:`fake_submit` in its constructor; the fake reads it from
    ``/_emulator/fake_submit_behavior`` at start-up.
    """

    fake_submit: FakeSubmitBehavior
    """Behaviour of the fake ``spark-submit`` (see :mod:`.fake_spark_submit`)."""

    @property
    @control
    def fake_submit_behavior(self) -> FakeSubmitBehavior:
        """What the fake ``spark-submit`` reads at start-up."""
        return self.fake_submit

    @control
    def set_fake_submit_behavior(self, **fields: Any) -> FakeSubmitBehavior:
        """Replace some fields of :attr:`fake_submit` (over the control plane too).

        Raises:
            TypeError: A field :class:`FakeSubmitBehavior` does not have.
        """
        self.fake_submit = dataclasses.replace(self.fake_submit, **fields)
        return self.fake_submit


class SparkMasterEmulator(FakeSubmitControls, Emulator[EmulatedDriver]):
    """A Spark standalone master REST gateway (plus ``/json/``) served from a background thread.

    In *advance* mode (the default) a driver is born ``SUBMITTED``, answers ``RUNNING`` to its status polls
    and ``final_state`` from its ``polls_to_finish``-th poll on (the fake ``spark-submit`` polls once, like
    the real one). In *hold* mode drivers are born in the hold state and never move on their own.

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
    json_content_type = "application/json;charset=utf-8"
    representative_states = {JobState.ACTIVE: "RUNNING", JobState.SUCCEEDED: "FINISHED", JobState.FAILED: "FAILED"}
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
        super().__init__(host=host, port=port)
        if polls_to_finish is None:
            self.hold(hold_state)
        else:
            self.advance(polls_to_finish, final_state)
        self.book.initial_script = self.book.script
        self.server_spark_version = server_spark_version
        self.fake_submit = FakeSubmitBehavior()
        self.master_state = "ALIVE"
        """The master's recovery state; change it with :meth:`set_master_state`."""
        self.worker_id = f"worker-{_stamp()}-127.0.0.1-40000"
        self.worker_host_port = "127.0.0.1:40000"
        self._sequence = itertools.count()

    @property
    def master_url(self) -> str:
        """``spark://127.0.0.1:<port>``: what to pass as ``spark-submit --master``."""
        return f"spark://{self._host}:{self.port}"

    @property
    def mode(self) -> str:
        """``"hold"`` or ``"advance"``."""
        return self.book.mode

    # ------------------------------------------------------------------ controls and inspection

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

    @control
    def set_master_state(self, state: str) -> None:
        """Pretend the master is not ``ALIVE`` (e.g. ``RECOVERING`` after a restart), or back to ``ALIVE``.

        While not ``ALIVE`` the gateway answers every driver request with ``"success" : false`` and a
        ``message`` (for status: the Java exception), which tells an outage from an unknown ID.

        Raises:
            ValueError: Not one of :data:`MASTER_STATES`.
        """
        if state not in MASTER_STATES:
            raise ValueError(f"unknown master state {state!r}; expected one of {sorted(MASTER_STATES)}")
        self.master_state = state

    def enter_state(self, job: EmulatedDriver, state: str, **fields: Any) -> None:
        """Keep ``worker_assigned`` and ``message`` in step with the state."""
        job.state = state
        job.message = fields.get("message", job.message)
        job.worker_assigned = job.worker_assigned or state in _ASSIGNED_STATES

    @property
    def drivers(self) -> list[EmulatedDriver]:
        """Every driver received, oldest first (forgotten ones included, flagged)."""
        return self.book.jobs

    def driver(self, driver_id: str) -> EmulatedDriver:
        """Return one driver. Raises ``KeyError`` for an ID never received."""
        return self.book.get(driver_id)

    def known_driver_ids(self) -> set[str]:
        """Return the IDs the master currently knows (not forgotten)."""
        return {d.driver_id for d in self.book.jobs if not d.forgotten}

    def state_of(self, driver_id: str) -> str:
        """Return a driver's current state without counting a status poll."""
        return self.book.get(driver_id).state

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

    # ------------------------------------------------------------------ the wire format

    def new_job_id(self) -> str:
        """``driver-<yyyyMMddHHmmss>-<sequence>``, as ``Master.newDriverId``."""
        return f"driver-{_stamp()}-{next(self._sequence):04d}"

    def encode(self, payload: Any) -> bytes:
        """Jackson's pretty printer with sorted top-level keys, as Spark's REST messages."""
        return jackson_pretty(payload, sort_top_level=True).encode("utf-8")

    def fault_reply(self, fault: Fault, endpoint: str) -> Reply:
        """A proxy-like HTML error page, or the fault's body."""
        body = fault.body
        if body is None:
            body = f"<html><body><h1>{fault.status} Service Unavailable</h1></body></html>"
        return Reply(fault.status, body, content_type=_HTML if body.lstrip().startswith("<") else "text/plain")

    def not_found_reply(self, request: Request) -> Reply:
        """Spark's "missing an action" error under ``/v1/submissions/``, else Jetty's 404 page."""
        if request.path.startswith("/v1/submissions/"):
            return self._reply(
                400,
                "ErrorResponse",
                "Missing an action: please specify one of /create, /kill, /killall, /clear, /status, or /readyz. "
                "Please submit requests through http://[host]:[port]/v1/submissions/...",
            )
        return Reply(404, "<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>", content_type=_HTML)

    def wrong_method_reply(self, request: Request) -> Reply:
        """Spark's 405 ``ErrorResponse``."""
        return self._reply(405, "ErrorResponse", "HTTP method not allowed.")

    def error_reply(self, error: ApiError) -> Reply:
        """An ``ErrorResponse``, or the response ``error.details["action"]`` names (with the other details)."""
        details = {"action": "ErrorResponse", **error.details}
        return self._reply(error.status, details.pop("action"), error.message, **details)

    def _reply(self, status: int, action: str, message: str | None = None, **fields: Any) -> Reply:
        body: dict[str, Any] = {"action": action, "serverSparkVersion": self.server_spark_version, **fields}
        if message is not None:
            body["message"] = message
        return Reply(status, body)

    def _check_alive(self, action: str, what: str, driver_id: str | None = None) -> None:
        """Refuse like a master that is not ``ALIVE`` (texts of Spark 4.2's ``Master.scala``)."""
        if self.master_state == "ALIVE":
            return
        text = f"Current state is not alive: {self.master_state}. Can only {what} in ALIVE state."
        if action == "SubmissionStatusResponse":
            frame = "org.apache.spark.deploy.master.Master$$anonfun$receiveAndReply$1.applyOrElse(Master.scala)"
            text = f"Exception from the cluster:\njava.lang.Exception: {text}\n\t{frame}"
        ids = {} if driver_id is None else {"submissionId": driver_id}
        raise ApiError(200, text, action=action, success=False, **ids)

    def _create(self, request: Request) -> Reply:
        try:
            body = request.json()
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"Malformed request: {type(exc).__name__}: {exc}") from exc
        if body.get("action") != "CreateSubmissionRequest":
            text = f"Unexpected action {body.get('action')!r} (expected CreateSubmissionRequest)."
            raise ApiError(400, _PROTOCOL_ERROR + text)
        required = ("appResource", "mainClass", "sparkProperties", "clientSparkVersion")
        missing = [name for name in required if not body.get(name)]
        props = body.get("sparkProperties") or {}
        if not isinstance(props, dict) or "spark.app.name" not in props:
            missing.append("sparkProperties['spark.app.name']")
        if missing:
            text = f"Validation of message CreateSubmissionRequest failed! (missing {', '.join(missing)})"
            raise ApiError(400, _PROTOCOL_ERROR + text)
        self._check_alive("CreateSubmissionResponse", "accept driver submissions")
        job, _ = self.book.submit(props.get(TOKEN_PROPERTY), body)
        text = f"Driver successfully submitted as {job.driver_id}"
        return self._reply(200, "CreateSubmissionResponse", text, submissionId=job.driver_id, success=True)

    def _status(self, request: Request) -> Reply:
        driver_id = request.params["driver_id"]
        self._check_alive("SubmissionStatusResponse", "request driver status", driver_id)
        driver = self.status_call(driver_id, observed=request.header("User-Agent") != FAKE_SUBMIT_USER_AGENT)
        if driver is None:
            return self._reply(200, "SubmissionStatusResponse", submissionId=driver_id, success=False)
        worker = {"workerHostPort": self.worker_host_port, "workerId": self.worker_id} if driver.worker_assigned else {}
        fields = {"submissionId": driver_id, "success": True, "driverState": driver.state, **worker}
        return self._reply(200, "SubmissionStatusResponse", driver.message or None, **fields)

    def _kill(self, request: Request) -> Reply:
        driver_id = request.params["driver_id"]
        self._check_alive("KillSubmissionResponse", "kill drivers", driver_id)
        with self.book.lock:
            driver = self.book.find(driver_id)
            active = driver is not None and not self.book.is_terminal(driver)
            if driver is not None:
                driver.kill_requests += 1
                self.book.cancel(driver_id)
        done = f"Driver {driver_id} has already finished or does not exist"
        text = f"Kill request for {driver_id} submitted" if active else done
        return self._reply(200, "KillSubmissionResponse", text, submissionId=driver_id, success=active)

    def _missing_id(self, request: Request) -> Reply:
        return self._reply(400, "ErrorResponse", f"Submission ID is missing in {request.endpoint} request.")

    def _master_ui(self, request: Request) -> Reply:
        return Reply(200, jackson_pretty(self.master_json()))

    def master_json(self) -> dict[str, Any]:
        """Return the document ``GET /json/`` serves (shape of Spark 4.2's master UI JSON)."""
        drivers = [self._driver_info(d) for d in self.book.jobs if not d.forgotten]
        running = [d for d in drivers if d["state"] == "RUNNING"]
        cores, memory = sum(d["cores"] for d in running), sum(d["memory"] for d in running)
        worker = {
            "id": self.worker_id,
            "host": self._host,
            "port": int(self.worker_host_port.rsplit(":", 1)[1]),
            "webuiaddress": f"http://{self._host}:8082",
            "cores": 2,
            "coresused": cores,
            "coresfree": max(0, 2 - cores),
            "memory": 2048,
            "memoryused": memory,
            "memoryfree": max(0, 2048 - memory),
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
            "coresused": cores,
            "memory": 2048,
            "memoryused": memory,
            "resources": [{}],
            "resourcesused": [{}],
            "activeapps": [],
            "completedapps": [],
            "activedrivers": [d for d in drivers if d["state"] not in TERMINAL_STATES],
            "completeddrivers": [d for d in drivers if d["state"] in TERMINAL_STATES],
            "status": self.master_state,
        }

    def _driver_info(self, driver: EmulatedDriver) -> dict[str, Any]:
        submitted = dt.datetime.fromtimestamp(driver.created_at).astimezone()  # as java.util.Date.toString()
        zone = submitted.tzname() or "UTC"
        cores = driver.spark_properties.get("spark.driver.cores", "1")
        return {
            "id": driver.driver_id,
            "starttime": str(int(driver.created_at * 1000)),
            "state": driver.state,
            "cores": int(cores) if cores.isdigit() else 1,
            "memory": _memory_mb(driver.spark_properties.get("spark.driver.memory", "1g")),
            "resources": {},
            "submitdate": submitted.strftime(f"%a %b %d %H:%M:%S {zone} %Y"),
            "worker": self.worker_id if driver.worker_assigned else "None",
            "mainclass": driver.main_class,
        }


def _stamp() -> str:
    return dt.datetime.now().strftime("%Y%m%d%H%M%S")


def _memory_mb(size: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)b?\s*", size.lower())
    return int(match[1]) * 1024 ** "kmgt".index(match[2] or "m") // 1024 if match else 1024
