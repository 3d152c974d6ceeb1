r"""A wire-level emulator of the YARN ResourceManager REST API (applications only), on the core emulator kit.

It serves the documented shapes of
https://hadoop.apache.org/docs/stable/hadoop-yarn/hadoop-yarn-site/ResourceManagerRest.html:

* ``POST /ws/v1/cluster/apps/new-application``: a new application ID and the maximum resource capability;
* ``POST /ws/v1/cluster/apps``: submit (202, ``Location`` header). Tags are lowercased as YARN's
  ``ApplicationSubmissionContext`` does (at most 10, each at most 100 ASCII characters). Submitting an ID the
  RM already has creates nothing and answers 202 again, as ``ClientRMService.submitApplication`` does ("This
  is an earlier submitted application");
* ``GET /ws/v1/cluster/apps/{appid}``: ``{"app": {...}}``; an unknown ID answers 404 with the RM's
  ``RemoteException`` body;
* ``GET /ws/v1/cluster/apps``: ``applicationTags`` (comma-separated, lowercased; an application matches if it
  has *any* of them, as ``ClientRMService.getApplications`` filters), ``states``, ``applicationTypes``, ``queue``,
  ``user``, ``limit``; ``{"apps": {"app": [...]}}``, or ``{"apps": null}`` when none match;
* ``GET`` and ``PUT /ws/v1/cluster/apps/{appid}/state``: the state; ``{"state": "KILLED"}`` kills an active
  application (202 with the state it had, then ``KILLED/KILLED``); a finished one answers 200 with its state;
* ``GET /ws/v1/cluster/metrics`` (a client asks for the NodeManager count before submitting).

A job's raw status is ``"<state>/<finalStatus>"`` (``"RUNNING/UNDEFINED"``, ``"FINISHED/SUCCEEDED"``); the JSON
view splits it into ``state`` and ``finalStatus``. Life cycle, faults (``fail_next``, latency,
``hold_after_create`` on ``submit``), counters and the control plane come from
:class:`airflow_durable.testing.emulator.Emulator`. Run it as its own process::

    python -m airflow_durable.testing.serve \
        airflow_durable_spark.testing.yarn:YarnResourceManagerEmulator --port-file /tmp/rm-port
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import threading
import time
from typing import Any

from airflow_durable.status import JobState
from airflow_durable.testing.control import control
from airflow_durable.testing.emulator import Emulator
from airflow_durable.testing.jobs import EmulatedJob
from airflow_durable.testing.routes import ApiError, Reply, Request, Route, RouteTable
from airflow_durable.tokens import TOKEN_PATTERN
from airflow_durable_spark.testing.emulator import FakeSubmitBehavior, FakeSubmitControls

# YarnApplicationState x FinalApplicationStatus, as the RM reports them together. Sources:
# https://hadoop.apache.org/docs/stable/api/org/apache/hadoop/yarn/api/records/YarnApplicationState.html
# https://hadoop.apache.org/docs/stable/api/org/apache/hadoop/yarn/api/records/FinalApplicationStatus.html
STATES: dict[str, JobState] = {
    "NEW/UNDEFINED": JobState.ACTIVE,
    "NEW_SAVING/UNDEFINED": JobState.ACTIVE,
    "SUBMITTED/UNDEFINED": JobState.ACTIVE,
    "ACCEPTED/UNDEFINED": JobState.ACTIVE,
    "RUNNING/UNDEFINED": JobState.ACTIVE,
    "FINISHED/SUCCEEDED": JobState.SUCCEEDED,
    "FINISHED/FAILED": JobState.FAILED,
    "FINISHED/KILLED": JobState.FAILED,
    "FAILED/FAILED": JobState.FAILED,
    "KILLED/KILLED": JobState.FAILED,
}
"""Every ``"<state>/<finalStatus>"`` the emulator produces and what it means."""
YARN_STATES: tuple[str, ...] = ("NEW", "NEW_SAVING", "SUBMITTED", "ACCEPTED", "RUNNING", "FINISHED", "FAILED", "KILLED")
"""``YarnApplicationState`` values (the ``states`` query parameter accepts these)."""
FINAL_YARN_STATES: frozenset[str] = frozenset({"FINISHED", "FAILED", "KILLED"})
APPLICATION_ID_PATTERN = re.compile(r"^application_[0-9]{1,20}_[0-9]{1,10}$")
"""A YARN application ID, ``application_<clusterTimestamp>_<sequence>``."""
MAX_TAGS = 10
"""``YarnConfiguration.APPLICATION_MAX_TAGS``."""
MAX_TAG_LENGTH = 100
"""``YarnConfiguration.APPLICATION_MAX_TAG_LENGTH``."""
FAKE_SUBMIT_USER_AGENT = "airflow-durable-fake-spark-submit-yarn"
"""User-Agent of the stand-in ``spark-submit``; its own application reports are not observed status calls."""

_JAVA_CLASSES = {
    "NotFoundException": "org.apache.hadoop.yarn.webapp.NotFoundException",
    "BadRequestException": "org.apache.hadoop.yarn.webapp.BadRequestException",
    "ForbiddenException": "org.apache.hadoop.yarn.webapp.ForbiddenException",
    "WebApplicationException": "javax.ws.rs.WebApplicationException",
}


def split_status(raw: str) -> tuple[str, str]:
    """Split a raw status ``"<state>/<finalStatus>"`` (a bare ``"<state>"`` has ``UNDEFINED``)."""
    state, _, final = raw.partition("/")
    return state, final or "UNDEFINED"


def tag_list(value: Any) -> list[str]:
    """The tags of a submit request's ``application-tags``: ``{"tag": [...]}``, ``{"tag": "t"}``, a list or a CSV."""
    if isinstance(value, dict):
        value = value.get("tag", [])
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return []
    return [str(tag).strip() for tag in value if str(tag).strip()]


@dataclasses.dataclass(eq=False)
class YarnApplication(EmulatedJob):
    """One application the RM accepted (kept after :meth:`YarnResourceManagerEmulator.forget`).

    Attributes:
        user: The submitting user (``user.name`` of the submit request, else ``dr.who``).
        app_id: The application ID.
        name: ``application-name``.
        queue: ``queue`` (default ``default``).
        application_type: ``application-type`` (default ``YARN``).
        tags: ``application-tags``, lowercased, in submission order, without repeats.
        started_time: Epoch milliseconds of the submission.
        finished_time: Epoch milliseconds of the end (0 while active).
        diagnostics: The RM's diagnostics text.
        kill_requests: ``PUT .../state`` requests received.
    """

    user: str = "dr.who"
    app_id: str = dataclasses.field(init=False)
    name: str = dataclasses.field(init=False)
    queue: str = dataclasses.field(init=False)
    application_type: str = dataclasses.field(init=False)
    tags: list[str] = dataclasses.field(init=False)
    started_time: int = dataclasses.field(init=False)
    finished_time: int = 0
    diagnostics: str = ""
    kill_requests: int = 0

    def __post_init__(self) -> None:
        request = self.request if isinstance(self.request, dict) else {}
        self.app_id = str(self.external_id)
        self.name = str(request.get("application-name") or "N/A")
        self.queue = str(request.get("queue") or "default")
        self.application_type = str(request.get("application-type") or "YARN")
        self.tags = list(dict.fromkeys(tag.lower() for tag in tag_list(request.get("application-tags"))))
        self.started_time = int(self.created_at * 1000)

    @property
    def yarn_state(self) -> str:
        """``YarnApplicationState`` (the part before ``/``)."""
        return split_status(self.state)[0]

    @property
    def final_status(self) -> str:
        """``FinalApplicationStatus`` (the part after ``/``)."""
        return split_status(self.state)[1]


class YarnResourceManagerEmulator(FakeSubmitControls, Emulator[YarnApplication]):
    """A YARN ResourceManager's REST API served from a background thread; see the module docstring.

    In *advance* mode (the default) an application is born ``ACCEPTED/UNDEFINED``, is ``RUNNING/UNDEFINED``
    from its first status call and ``final_state`` from its ``polls_to_finish``-th. In *hold* mode
    applications are born in ``hold_state`` and never move on their own. Endpoint names (for faults and
    counters): ``new_application``, ``submit``, ``list``, ``status``, ``state``, ``kill``, ``metrics``.

    Args:
        polls_to_finish: Advance mode: the status call from which an application reports ``final_state``;
            ``None`` starts in hold mode.
        final_state: Advance mode: the terminal raw status applications end in.
        hold_state: Hold mode: the raw status new applications are born in.
        cluster_timestamp: The RM's start time in epoch milliseconds (the middle of every application ID);
            default: now.
        max_memory_mb: ``maximum-resource-capability.memory`` (``yarn.scheduler.maximum-allocation-mb``).
        max_vcores: ``maximum-resource-capability.vCores``.
        node_managers: Active NodeManagers ``/ws/v1/cluster/metrics`` reports.
        host: Address to bind.
        port: Port to bind (0 picks a free one).
    """

    thread_name = "yarn-rm-emulator"
    server_version = "Jetty(9.4.53.v20231009)"
    routes = RouteTable(
        Route("POST", "/ws/v1/cluster/apps/new-application", "new_application", "_new_application"),
        Route("POST", "/ws/v1/cluster/apps", "submit", "_submit"),
        Route("GET", "/ws/v1/cluster/apps", "list", "_list"),
        Route("GET", "/ws/v1/cluster/apps/{app_id}", "status", "_status"),
        Route("GET", "/ws/v1/cluster/apps/{app_id}/state", "state", "_get_state"),
        Route("PUT", "/ws/v1/cluster/apps/{app_id}/state", "kill", "_put_state"),
        Route("GET", "/ws/v1/cluster/metrics", "metrics", "_metrics"),
    )
    states = STATES
    id_pattern = APPLICATION_ID_PATTERN.pattern
    job_class = YarnApplication
    cancelled_state = "KILLED/KILLED"
    json_content_type = "application/json"
    representative_states = {
        JobState.ACTIVE: "RUNNING/UNDEFINED",
        JobState.SUCCEEDED: "FINISHED/SUCCEEDED",
        JobState.FAILED: "FAILED/FAILED",
    }
    born_state = "ACCEPTED/UNDEFINED"
    advance_steps = ((1, "RUNNING/UNDEFINED"),)
    client_status_calls = 1

    def __init__(
        self,
        *,
        polls_to_finish: int | None = 2,
        final_state: str = "FINISHED/SUCCEEDED",
        hold_state: str = "RUNNING/UNDEFINED",
        cluster_timestamp: int | None = None,
        max_memory_mb: int = 8192,
        max_vcores: int = 32,
        node_managers: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        if polls_to_finish is None:
            self.hold(hold_state)
        else:
            self.finish_after(polls_to_finish, final_state)
        self.book.initial_script = self.book.script
        self.cluster_timestamp = int(time.time() * 1000) if cluster_timestamp is None else int(cluster_timestamp)
        """The RM's start time (epoch ms), fixed for its life."""
        self.max_memory_mb = max_memory_mb
        self.max_vcores = max_vcores
        self.node_managers = node_managers
        self.fake_submit = FakeSubmitBehavior()
        self.reserved_ids: list[str] = []
        """Application IDs handed out by ``new-application``, oldest first."""
        self.repeated_submissions: list[str] = []
        """Application IDs submitted again (the RM creates nothing then), in order."""
        self._sequence = itertools.count(1)
        self._submitting = threading.local()

    # ------------------------------------------------------------------ controls and inspection

    @control
    def set_state(self, app_id: str, state: str, diagnostics: str | None = None) -> None:
        """Move an application to a raw status of :data:`STATES` and pin it; ``diagnostics`` sets its text.

        Raises:
            KeyError: Unknown application.
            UnknownStateError: Unknown state.
        """
        self.book.force(app_id, self.book.check(state), diagnostics=diagnostics)

    @property
    def applications(self) -> list[YarnApplication]:
        """Every application submitted, oldest first (forgotten ones included, flagged)."""
        return self.book.jobs

    def application(self, app_id: str) -> YarnApplication:
        """Return one application. Raises ``KeyError`` for an ID never submitted."""
        return self.book.get(app_id)

    # ------------------------------------------------------------------ the life cycle

    def new_job_id(self) -> str:
        """The ID the current submit request carries, else a fresh ``application_<ts>_<seq>``."""
        pending: str | None = getattr(self._submitting, "app_id", None)
        return pending if pending is not None else self._reserve()

    def _reserve(self) -> str:
        app_id = f"application_{self.cluster_timestamp}_{next(self._sequence):04d}"
        self.reserved_ids.append(app_id)
        return app_id

    def enter_state(self, job: YarnApplication, state: str, **fields: Any) -> None:
        """Keep ``finished_time`` and ``diagnostics`` in step with the state."""
        job.state = state
        if fields.get("diagnostics") is not None:
            job.diagnostics = str(fields["diagnostics"])
        if split_status(state)[0] in FINAL_YARN_STATES:
            job.finished_time = job.finished_time or int(time.time() * 1000)
            if not job.diagnostics:
                job.diagnostics = _default_diagnostics(job, state)

    # ------------------------------------------------------------------ errors

    def error_reply(self, error: ApiError) -> Reply:
        """The RM's ``{"RemoteException": {exception, message, javaClassName}}`` body."""
        exception = str(error.details.get("exception") or _exception_for(error.status))
        body = {
            "exception": exception,
            "message": error.message,
            "javaClassName": _JAVA_CLASSES.get(exception, "javax.ws.rs.WebApplicationException"),
        }
        return Reply(error.status, {"RemoteException": body})

    def not_found_reply(self, request: Request) -> Reply:
        """The RM's 404 for a path it does not serve."""
        return self.error_reply(ApiError(404, "java.lang.Exception: Not Found", exception="NotFoundException"))

    def wrong_method_reply(self, request: Request) -> Reply:
        """Jersey's 405 for a known path with another method."""
        return self.error_reply(ApiError(405, "HTTP 405 Method Not Allowed", exception="WebApplicationException"))

    # ------------------------------------------------------------------ the wire format

    def app_json(self, app: YarnApplication) -> dict[str, Any]:
        """The ``app`` object of the Cluster Application API (the fields a client reads, with their types)."""
        state, final = app.yarn_state, app.final_status
        terminal = state in FINAL_YARN_STATES
        launched = state == "RUNNING" or terminal
        now = int(time.time() * 1000)
        container = f"container_{app.app_id.removeprefix('application_')}_01_000001"
        body: dict[str, Any] = {
            "id": app.app_id,
            "user": app.user,
            "name": app.name,
            "queue": app.queue,
            "state": state,
            "finalStatus": final,
            "progress": 100.0 if terminal else (10.0 if state == "RUNNING" else 0.0),
            "trackingUI": "History" if terminal else ("ApplicationMaster" if launched else "UNASSIGNED"),
            "trackingUrl": f"{self.url}/proxy/{app.app_id}/",
            "diagnostics": app.diagnostics,
            "clusterId": self.cluster_timestamp,
            "applicationType": app.application_type,
            "applicationTags": ",".join(app.tags),
            "priority": 0,
            "startedTime": app.started_time,
            "launchTime": app.started_time if launched else 0,
            "finishedTime": app.finished_time,
            "elapsedTime": (app.finished_time or now) - app.started_time,
            "allocatedMB": 1408 if state == "RUNNING" else -1,
            "allocatedVCores": 1 if state == "RUNNING" else -1,
            "runningContainers": 1 if state == "RUNNING" else -1,
            "logAggregationStatus": "DISABLED",
            "unmanagedApplication": False,
            "amNodeLabelExpression": "",
        }
        if launched:
            body["amContainerLogs"] = f"http://127.0.0.1:8042/node/containerlogs/{container}/{app.user}"
            body["amHostHttpAddress"] = "127.0.0.1:8042"
            body["amRPCAddress"] = "127.0.0.1:0"
        return body

    def _app_id(self, request: Request) -> str:
        app_id = request.params["app_id"]
        if not app_id.startswith("application_"):
            message = (
                f"Invalid ApplicationId prefix: {app_id}. The valid ApplicationId should start with prefix application"
            )
            raise ApiError(400, message, exception="BadRequestException")
        if not APPLICATION_ID_PATTERN.match(app_id):
            raise ApiError(400, f"Invalid ApplicationId: {app_id}", exception="BadRequestException")
        return app_id

    @staticmethod
    def _not_found(app_id: str) -> ApiError:
        return ApiError(404, f"java.lang.Exception: app with id: {app_id} not found", exception="NotFoundException")

    def _new_application(self, request: Request) -> Reply:
        with self.book.lock:
            app_id = self._reserve()
        capability = {"memory": self.max_memory_mb, "vCores": self.max_vcores}
        return Reply(200, {"application-id": app_id, "maximum-resource-capability": capability})

    def _submit(self, request: Request) -> Reply:
        try:
            body = request.json()
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"Unable to parse the request body: {exc}", exception="BadRequestException") from exc
        app_id = str(body.get("application-id") or "")
        if not APPLICATION_ID_PATTERN.match(app_id):
            raise ApiError(400, f"Error parsing application-id {app_id!r}", exception="BadRequestException")
        tags = tag_list(body.get("application-tags"))
        if len(tags) > MAX_TAGS:
            message = f"Too many applicationTags, a maximum of only {MAX_TAGS} are allowed!"
            raise ApiError(400, message, exception="BadRequestException")
        for tag in tags:
            if not tag.isascii():
                raise ApiError(400, f"A tag can only have ASCII characters! Invalid tag - {tag}")
            if len(tag) > MAX_TAG_LENGTH:
                message = f"Tag {tag} is too long, maximum allowed length of a tag is {MAX_TAG_LENGTH}"
                raise ApiError(400, message, exception="BadRequestException")
        location = {"Location": f"{self.url}/ws/v1/cluster/apps/{app_id}"}
        with self.book.lock:
            if app_id in {job.external_id for job in self.book.jobs}:
                self.repeated_submissions.append(app_id)
                return Reply(202, b"", headers=location, content_type="application/json")
        token = next((tag.lower() for tag in tags if TOKEN_PATTERN.match(tag.lower())), None)
        self._submitting.app_id = app_id
        try:
            self.book.submit(token, body, user=request.query.get("user.name") or "dr.who")
        finally:
            self._submitting.app_id = None
        return Reply(202, b"", headers=location, content_type="application/json")

    def _status(self, request: Request) -> Reply:
        app_id = self._app_id(request)
        observed = request.header("User-Agent") != FAKE_SUBMIT_USER_AGENT
        app = self.status_call(app_id, observed=observed)
        if app is None:
            raise self._not_found(app_id)
        return Reply(200, {"app": self.app_json(app)})

    def _list(self, request: Request) -> Reply:
        query = request.query
        tags = {t.strip().lower() for t in query.get("applicationTags", "").split(",") if t.strip()}
        wanted_states = {s.strip().upper() for s in query.get("states", query.get("state", "")).split(",") if s.strip()}
        for state in wanted_states:
            if state not in YARN_STATES:
                message = f"Invalid application-state {state} specified. It should be one of {', '.join(YARN_STATES)}"
                raise ApiError(400, message, exception="BadRequestException")
        types = {t.strip().lower() for t in query.get("applicationTypes", "").split(",") if t.strip()}
        limit = int(query["limit"]) if query.get("limit", "").isdigit() else None
        found = [
            app
            for app in self.book.jobs
            if not app.forgotten
            and (not tags or tags.intersection(app.tags))
            and (not wanted_states or app.yarn_state in wanted_states)
            and (not types or app.application_type.lower() in types)
            and (not query.get("queue") or app.queue == query["queue"])
            and (not query.get("user") or app.user == query["user"])
        ][:limit]
        return Reply(200, {"apps": {"app": [self.app_json(app) for app in found]} if found else None})

    def _get_state(self, request: Request) -> Reply:
        app_id = self._app_id(request)
        app = self.book.find(app_id)
        if app is None:
            raise self._not_found(app_id)
        return Reply(200, {"state": app.yarn_state})

    def _put_state(self, request: Request) -> Reply:
        app_id = self._app_id(request)
        try:
            target = str((request.json() or {}).get("state", ""))
        except (ValueError, UnicodeDecodeError, AttributeError) as exc:
            raise ApiError(400, f"Unable to parse the request body: {exc}", exception="BadRequestException") from exc
        if target.upper() != "KILLED":
            raise ApiError(400, "Only 'KILLED' is allowed as a target state.", exception="BadRequestException")
        with self.book.lock:
            app = self.book.find(app_id)
            if app is None:
                raise self._not_found(app_id)
            app.kill_requests += 1
            before = app.yarn_state
        if before in FINAL_YARN_STATES:
            return Reply(200, {"state": before})
        self.book.cancel(app_id)
        location = {"Location": f"{self.url}/ws/v1/cluster/apps/{app_id}/state"}
        return Reply(202, {"state": before}, headers=location)

    def _metrics(self, request: Request) -> Reply:
        with self.book.lock:
            apps = [app for app in self.book.jobs if not app.forgotten]
        counts = {state: sum(app.yarn_state == state for app in apps) for state in YARN_STATES}
        metrics = {
            "appsSubmitted": len(apps),
            "appsCompleted": counts["FINISHED"],
            "appsPending": counts["ACCEPTED"],
            "appsRunning": counts["RUNNING"],
            "appsFailed": counts["FAILED"],
            "appsKilled": counts["KILLED"],
            "totalMB": self.max_memory_mb * self.node_managers,
            "totalVirtualCores": self.max_vcores * self.node_managers,
            "activeNodes": self.node_managers,
            "totalNodes": self.node_managers,
        }
        return Reply(200, {"clusterMetrics": metrics})

    def coerce_id(self, job_id: Any) -> Any:
        """Application IDs are strings."""
        return str(job_id)


def _exception_for(status: int) -> str:
    return {400: "BadRequestException", 403: "ForbiddenException", 404: "NotFoundException"}.get(
        status, "WebApplicationException"
    )


def _default_diagnostics(app: YarnApplication, state: str) -> str:
    """What the RM (or Spark's ApplicationMaster, for ``FINISHED/FAILED``) reports when a test gave no text."""
    if state == "KILLED/KILLED":
        return f"Application {app.app_id} was killed by user {app.user}"
    if state == "FINISHED/FAILED":
        return "User application exited with status 1"
    if state == "FAILED/FAILED":
        attempt = f"appattempt_{app.app_id.removeprefix('application_')}_000002"
        return f"Application {app.app_id} failed 2 times due to AM Container for {attempt} exited with  exitCode: 1"
    return ""
