"""``MotoEmulator``: an AWS API answered by moto in-process, with its job operations driven through the kit.

The real boto3 clients talk HTTP to the kit's server. Every request is handed to moto's own WSGI application
(``moto.moto_server.werkzeug_app.DomainDispatcherApplication``, what ``moto_server`` runs), except the job
operations a subclass routes to its own handlers: those create, poll, list and cancel jobs through the kit's
:class:`~airflow_durable.testing.jobs.JobBook`, whose state is written into moto's backend objects
(:meth:`MotoEmulator.enter_state`), so that moto renders every answer. That closes moto's gaps: jobs that never
move, no ``CancelSteps``, no ``clientToken`` idempotency.

moto's backends are global to the process, one per service. So a running emulator owns its service's backend:
it starts from an empty one and empties it when it stops, so nothing (a virtual cluster in the namespace the
next test wants, an application, a cluster) passes from one emulator to the next; a second emulator of the
same service cannot start while one runs. Emulators of different services run side by side: each answers
only requests signed for its own service (``Authorization`` credential scope), and :meth:`MotoEmulator.reset`
resets only its service's backend. moto is imported when the first emulator is built, never by importing
this module.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Callable
from typing import Any, ClassVar, Self

from airflow_durable.testing.control import control
from airflow_durable.testing.emulator import Emulator
from airflow_durable.testing.jobs import EmulatedJob
from airflow_durable.testing.routes import ApiError, Reply, Request

DEFAULT_REGION = "us-east-1"
"""The region of the resources the setup controls create (requests name their own)."""

ERROR_CODES = {
    400: "ValidationException",
    404: "ResourceNotFoundException",
    409: "ConflictException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
"""The AWS error code an error without one gets, per HTTP status (botocore raises ``ClientError`` with it)."""

_MOTO_LOCK = threading.RLock()
_APP: list[Any] = []
_OWNERS_LOCK = threading.Lock()
_OWNERS: dict[str, MotoEmulator] = {}
"""moto service name -> the running emulator that owns that service's backend (under ``_OWNERS_LOCK``)."""
_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")


def moto_app() -> Any:
    """Return the process's moto WSGI application (built once; imports moto, flask and flask-cors)."""
    with _MOTO_LOCK:
        if not _APP:
            from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

            _APP.append(DomainDispatcherApplication(create_backend_app))
        return _APP[0]


class _Refused(Exception):
    """moto refused a create: its reply goes back to the client as is."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


@dataclasses.dataclass(eq=False)
class MotoJob(EmulatedJob):
    """One emulated job: an ``AddJobFlowSteps`` call's steps, or one job run.

    Attributes:
        parent: The cluster, application or virtual cluster ID.
        run_ids: The step IDs, or the one job run ID.
        region: The region the job was created in.
        name: The job run's name (steps: the first step's name).
        reply: moto's answer to the create (what a deduplicated token answers again).
    """

    parent: str = ""
    run_ids: list[str] = dataclasses.field(default_factory=list)
    region: str = DEFAULT_REGION
    name: str | None = None
    reply: Any = None


class MotoEmulator(Emulator[MotoJob]):
    """The base of the three EMR emulators: moto behind the kit's server, life cycle and faults.

    Subclasses route their job operations to handlers and implement :meth:`moto_objects` (the backend objects
    a job's state lives in) and :meth:`enter_state`.

    Args:
        host: Address to bind.
        port: Port to bind (0 picks a free one).
        region_name: The region of the resources setup controls create.
        calls_to_cancel: Status calls a cancelled active job answers its cancelling state to, minus one.
    """

    job_class = MotoJob
    moto_service: ClassVar[str]
    """moto's backend name (``"emr"``, ``"emr-serverless"``, ``"emr-containers"``)."""
    signing_name: ClassVar[str]
    """The SigV4 service name in requests' credential scope."""
    calls_to_cancel = 2
    advance_steps = ((2, "RUNNING"),)
    """Shared by the three EMR job APIs: a job that advances is ``RUNNING`` from its second status call."""
    cancelled_state = "CANCELLED"
    """Shared by the three EMR job APIs: the state a cancel ends in."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, region_name: str = DEFAULT_REGION, calls_to_cancel: int = 2
    ) -> None:
        super().__init__(host=host, port=port)
        self.region_name = region_name
        self.book.calls_to_cancel = calls_to_cancel
        self._local = threading.local()
        moto_app()

    # ------------------------------------------------------------------ moto

    def start(self) -> Self:
        """Serve, owning this service's moto backend, which starts empty (as do the jobs, faults and counters).

        Returns:
            ``self``.

        Raises:
            RuntimeError: Already started, or another emulator of this service runs in this process (they
                would share one moto backend).
        """
        with _OWNERS_LOCK:
            owner = _OWNERS.get(self.moto_service)
            if owner is self:
                raise RuntimeError(f"{type(self).__name__} already started")
            if owner is not None:
                raise RuntimeError(
                    f"{type(owner).__name__} at {owner.url} already serves {self.moto_service} in this process: "
                    "moto's backends are global, so stop it first (or run this one as its own process)"
                )
            _OWNERS[self.moto_service] = self
        try:
            self.reset()  # before serving: no request is in flight
            super().start()
        except BaseException:
            self._release()
            raise
        return self

    def stop(self) -> None:
        """Stop serving and empty this service's moto backend, for the next emulator. Safe to call more than once."""
        super().stop()
        with _OWNERS_LOCK:
            owned = _OWNERS.get(self.moto_service) is self
        if owned:
            self.reset()  # still the owner: no other emulator of this service starts meanwhile
            self._release()

    def _release(self) -> None:
        with _OWNERS_LOCK:
            if _OWNERS.get(self.moto_service) is self:
                del _OWNERS[self.moto_service]

    @property
    def account_id(self) -> str:
        """The moto account of requests signed with unregistered keys (the emulator's dummy keys)."""
        from moto.core.models import DEFAULT_ACCOUNT_ID

        return str(DEFAULT_ACCOUNT_ID)

    def backend(self, region: str | None = None) -> Any:
        """Return moto's backend of this service for ``region`` (default: :attr:`region_name`)."""
        from moto.backends import get_backend

        return get_backend(self.moto_service)[self.account_id][region or self.region_name]  # type: ignore[call-overload]

    def moto(
        self,
        method: str,
        path: str,
        body: Any = b"",
        *,
        headers: dict[str, str] | None = None,
        region: str = "",
        target: str | None = None,
    ) -> Reply:
        """Hand one request to moto and return its answer.

        Args:
            method: The HTTP method.
            path: The path with its query string.
            body: Raw bytes, or JSON data to encode.
            headers: The request headers (default: a signature scope for this service; moto checks none).
            region: The region of the default signature scope.
            target: The ``X-Amz-Target`` of a JSON-protocol operation (with the default headers).

        Returns:
            moto's status, body (bytes) and headers; an exception in moto is a 500 ``InternalServerException``.
        """
        from werkzeug.test import EnvironBuilder, run_wsgi_app

        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        if headers is None:
            scope = f"testing/20250101/{region or self.region_name}/{self.signing_name}/aws4_request"
            headers = {"Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"}
            if target is not None:
                headers.update({"X-Amz-Target": target, "Content-Type": self.json_content_type})
        kept = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "transfer-encoding")}
        path_only, _, query = path.partition("?")
        environ = EnvironBuilder(
            path=path_only, method=method, headers=list(kept.items()), data=data, query_string=query
        )
        try:
            with _MOTO_LOCK:
                chunks, status, answered = run_wsgi_app(moto_app(), environ.get_environ(), buffered=True)
                payload = b"".join(chunks)
        except Exception as exc:  # noqa: BLE001 - moto crashes on some inputs; AWS would answer an error
            return self.error_reply(ApiError(500, f"moto failed: {type(exc).__name__}: {exc}"))
        keep = {k: v for k, v in answered.items() if k.lower().startswith("x-amz")}
        return Reply(int(status.split()[0]), payload, keep, answered.get("Content-Type", self.json_content_type))

    def forward(self, request: Request) -> Reply:
        """Hand the client's request to moto unchanged (a route's handler, or any unrouted path)."""
        path = getattr(self._local, "raw_path", request.path)
        return self.moto(request.method, path, request.body, headers=dict(request.headers))

    def moto_json(self, reply: Reply) -> Any:
        """Decode a successful moto answer.

        Raises:
            _Refused: moto answered an error (the handler's caller sends it back as is).
        """
        if reply.status != 200:
            raise _Refused(reply)
        return json.loads(reply.payload or b"{}")

    def request_region(self, request: Request) -> str:
        """The region of the request's signature (default: :attr:`region_name`)."""
        found = _SCOPE.search(request.header("Authorization") or "")
        return found["region"] if found else self.region_name

    # ------------------------------------------------------------------ the kit's hooks

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        """Answer one request: another service's is refused; a JSON-protocol target routes as ``/<Target>``."""
        if not path.startswith("/_emulator"):
            found = _SCOPE.search(next((v for k, v in headers.items() if k.lower() == "authorization"), ""))
            if found and found["service"] != self.signing_name:
                error = ApiError(400, f"{type(self).__name__} serves {self.signing_name} only", code="UnknownService")
                reply = self.error_reply(error)
                return reply.status, self.json_content_type, self.encode(reply.payload), reply.headers
        target = next((v for k, v in headers.items() if k.lower() == "x-amz-target"), None)
        self._local.raw_path = path
        return super().respond(method, f"/{target}" if target else path, headers, body)

    def _handle(self, handler: Callable[[Request], Reply], request: Request) -> Reply:
        try:
            return super()._handle(handler, request)
        except _Refused as refused:
            return refused.reply

    def not_found_reply(self, request: Request) -> Reply:
        """Anything the emulator does not route is moto's."""
        return self.forward(request)

    def wrong_method_reply(self, request: Request) -> Reply:
        """Anything the emulator does not route is moto's."""
        return self.forward(request)

    def error_reply(self, error: ApiError) -> Reply:
        """AWS's JSON error: ``{"__type": code, "message": ...}`` and ``x-amzn-ErrorType``."""
        details = dict(error.details)
        code = str(details.pop("code", None) or ERROR_CODES.get(error.status, "InternalServerException"))
        return Reply(error.status, {"__type": code, "message": error.message, **details}, {"x-amzn-ErrorType": code})

    # ------------------------------------------------------------------ jobs

    def create(self, request: Request, token: str | None, scope: str, created: Callable[[], Reply]) -> MotoJob:
        """Create a job through the book: ``created()`` hands the request to moto once a new job is needed.

        A deduplicated token calls nothing and returns the existing job. The new job's ID comes from moto's
        answer (:meth:`external_id_from`).

        Raises:
            _Refused: moto refused the create.
            ApiError: The token names a job the service no longer knows.
        """
        self._local.create = created
        self._local.region = self.request_region(request)
        self._local.body = request.json()
        try:
            job, _ = self.book.submit(token, self._local.body, scope=scope)
        except LookupError as exc:
            raise ApiError(404, str(exc), code="ResourceNotFoundException") from None
        return job

    def new_job_id(self) -> Any:
        """Run the pending create in moto (under the book's lock) and return the new job's external ID."""
        self._local.reply = self.moto_json(self._local.create())
        return self.external_id_from(self._local.reply, self._local.body)

    def new_job(self, external_id: Any, state: str, token: str | None, request: Any, **fields: Any) -> MotoJob:
        """Build the job record from moto's answer to the create."""
        parent, run_ids = self.split_id(external_id)
        fields.update(parent=parent, run_ids=run_ids, region=self._local.region, reply=self._local.reply)
        return MotoJob(external_id, state, token, request, name=self.job_name(request), **fields)

    def external_id_from(self, reply: Any, body: Any) -> str:
        """The external ID of a job from moto's answer to its create request ``body``."""
        raise NotImplementedError

    def split_id(self, external_id: str) -> tuple[str, list[str]]:
        """``(parent, run IDs)`` of an external ID."""
        raise NotImplementedError

    def job_name(self, request: Any) -> str | None:
        """The job's name from the create request."""
        return request.get("name") if isinstance(request, dict) else None

    def moto_objects(self, job: MotoJob) -> list[Any]:
        """The moto backend objects of a job (steps, or the job run), in order; empty once moto lost them."""
        raise NotImplementedError

    def job_of(self, run_id: str) -> MotoJob | None:
        """The job (forgotten ones too) that owns a step or job run ID, or ``None``."""
        with self.book.lock:
            return next((job for job in self.book.jobs if run_id in job.run_ids), None)

    @control
    def delay_create(self, job_name: str, seconds: float) -> None:
        """Hold the response to the next create of a job named ``job_name``, ``seconds`` after the job exists.

        The kit's ``hold_after_create(seconds, name=job_name)``, callable over HTTP (``ControlClient.call``
        takes ``name`` for the control's own name).
        """
        self.hold_after_create(seconds, name=job_name)

    @control
    def forget(self, job_id: Any, release_token: bool = False) -> None:
        """Make the service answer for a job as for one it no longer knows: moto drops its objects too.

        Raises:
            KeyError: Unknown job.
        """
        super().forget(job_id, release_token)
        self.drop_from_moto(self.book.get(job_id))

    def drop_from_moto(self, job: MotoJob) -> None:
        """Remove a job's objects from moto's backend."""
        raise NotImplementedError

    @control
    def reset(self) -> None:
        """Forget every job, fault and counter, and reset moto's backend of this service (only)."""
        from moto.backends import get_backend

        with self.book.lock:
            super().reset()
            with _MOTO_LOCK:  # BackendDict.reset() would reset every service: reset ours, account by account
                for per_account in list(get_backend(self.moto_service).values()):  # type: ignore[call-overload]
                    per_account.reset()
