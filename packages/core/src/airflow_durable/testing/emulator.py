"""``Emulator``: the base of every wire-level vendor emulator.

A provider's emulator states only its vendor's wire format:

* :attr:`Emulator.routes`, its endpoints (:class:`~airflow_durable.testing.routes.RouteTable`), and one
  handler method per route;
* :attr:`Emulator.states`, its state vocabulary, each raw status classified, plus the birth, cancel and
  deduplication rules of its jobs (:class:`~airflow_durable.testing.jobs.JobBook`);
* :meth:`Emulator.error_reply`, its error body, and JSON views of a job.

An emulator whose vendor client speaks gRPC also lists :attr:`Emulator.grpc_methods`
(:class:`~airflow_durable.testing.grpc_front.GrpcMethod`); they are served on a port of their own
(:attr:`Emulator.grpc_address`) through the same log, counters and faults.

The base brings the rest: the HTTP server in a daemon thread, the job life cycle (:attr:`Emulator.book`),
faults wrapped around every vendor request (:attr:`Emulator.faults`), call counters, the request log,
listeners, and the control plane (every ``@control`` member, over ``/_emulator/``) that
:class:`~airflow_durable.testing.control.ControlClient` and ``python -m airflow_durable.testing.serve`` use.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar

from airflow_durable.status import JobState
from airflow_durable.testing.control import CONTROL_PREFIX, control, dispatch
from airflow_durable.testing.faults import DROP_CONNECTION, Fault, Faults
from airflow_durable.testing.grpc_front import (
    GRPC_TO_HTTP,
    GrpcCall,
    GrpcFailure,
    GrpcFront,
    GrpcMethod,
    grpc_code_name,
)
from airflow_durable.testing.jobs import Dedupe, EmulatedJob, JobBook, Script
from airflow_durable.testing.routes import ApiError, Reply, Request, RouteTable
from airflow_durable.testing.server import BackgroundHTTPServer, Response

JobT = TypeVar("JobT", bound=EmulatedJob)


@dataclass
class RecordedRequest:
    """One vendor request the emulator received (control requests are not recorded).

    Attributes:
        method: The HTTP method.
        path: The path with its query string.
        endpoint: The endpoint name, ``None`` when no route matched.
        status: The status answered (0: connection dropped).
        headers: The request headers.
        params: Path parameters of the matched route.
    """

    method: str
    path: str
    endpoint: str | None
    status: int
    headers: Mapping[str, str]
    params: Mapping[str, str]

    @property
    def authorization(self) -> str | None:
        """The ``Authorization`` header, as sent."""
        return _header(self.headers, "Authorization")

    @property
    def user_agent(self) -> str | None:
        """The ``User-Agent`` header."""
        return _header(self.headers, "User-Agent")


class Alias:
    """A read-write attribute forwarding to ``self.<path>``: a vendor's own name for something the kit has.

    Example: ``latency_seconds = Alias("faults.latency_seconds", "Seconds every request waits.")``.

    Args:
        path: Dotted attribute path from the emulator (``"book.cancelled"``, ``"on_status"``).
        doc: The attribute's docstring.
    """

    def __init__(self, path: str, doc: str | None = None) -> None:
        self.path = path
        self.__doc__ = doc

    def _owner(self, obj: object) -> tuple[object, str]:
        *parents, name = self.path.split(".")
        for parent in parents:
            obj = getattr(obj, parent)
        return obj, name

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        owner, name = self._owner(obj)
        return getattr(owner, name)

    def __set__(self, obj: object, value: Any) -> None:
        owner, name = self._owner(obj)
        setattr(owner, name, value)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


class Emulator(BackgroundHTTPServer, Generic[JobT]):
    """A vendor API served from a background thread; a context manager. See the module docstring.

    Args:
        host: Address to bind.
        port: Port to bind (0 picks a free one).
        script: How new jobs move on their own (default: hold in the first active state).
    """

    routes: ClassVar[RouteTable]
    """The vendor's endpoints."""
    states: ClassVar[Mapping[str, JobState]]
    """The vendor's raw statuses and what each means; the contract ties it to the operator's status table."""
    id_pattern: ClassVar[str]
    """A regex every job ID the emulator hands out matches; tied to the operator's ID check."""
    job_class: ClassVar[type[EmulatedJob]] = EmulatedJob
    dedupe: ClassVar[Dedupe] = Dedupe.NONE
    cancelled_state: ClassVar[str]
    cancelling_state: ClassVar[str | None] = None
    calls_to_cancel: int = 0
    json_content_type: ClassVar[str] = "application/json"
    representative_states: ClassVar[Mapping[JobState, str]]
    """A raw status to use for each :class:`JobState` (what the contract suite moves jobs to)."""
    born_state: ClassVar[str]
    """The state a job is born in while jobs advance on their own."""
    advance_steps: ClassVar[tuple[tuple[int, str], ...]] = ()
    """``(status call, state)`` steps a job takes before its final state while jobs advance."""
    client_status_calls: ClassVar[int] = 0
    """Status calls the vendor's own submit client makes after creating a job (``spark-submit``: 1)."""
    grpc_methods: ClassVar[tuple[GrpcMethod, ...]] = ()
    """The vendor's unary gRPC methods, served beside HTTP when not empty (needs ``grpcio``)."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, script: Script | None = None, grpc_port: int = 0
    ) -> None:
        self._host = host
        self._requested_port = port
        self._grpc_front: GrpcFront | None = None
        if self.grpc_methods:
            self._grpc_front = GrpcFront(self.grpc_methods, self.respond_grpc, host=host, port=grpc_port)
        self._ids = itertools.count(1)
        self.book: JobBook[JobT] = JobBook(
            self.states,
            new_job=self.new_job,
            new_id=self.new_job_id,
            script=script,
            dedupe=self.dedupe,
            cancelled=self.cancelled_state,
            cancelling=self.cancelling_state,
            calls_to_cancel=self.calls_to_cancel,
            enter=self.enter_state,
        )
        self.book.listeners.append(self._on_book_event)
        grpc_endpoints = tuple(method.endpoint for method in self.grpc_methods)
        self.faults = Faults(dict.fromkeys(self.routes.endpoints + grpc_endpoints))
        self.on_status: Callable[[Any], None] | None = None
        """Called with the job ID in the server thread before a status call is answered (without the lock
        held, so it may move the job). Exceptions go to :attr:`hook_errors`."""
        self.on_create: Callable[[JobT], None] | None = None
        """Called with the job in the server thread after a job was created (not for a deduplicated token),
        before the response is sent. Exceptions go to :attr:`hook_errors`."""
        self.hook_errors: list[BaseException] = []
        self._reset_records()

    def _reset_records(self) -> None:
        self._calls: Counter[str] = Counter()
        self.requests: list[RecordedRequest] = []
        """Every vendor request received, oldest first."""
        self.observed_status_calls = 0
        """Status calls answered that listeners heard of (a vendor's own client may poll unobserved)."""

    # ------------------------------------------------------------------ what a vendor provides

    def new_job_id(self) -> Any:
        """Return the next job ID (default: 1, 2, 3...)."""
        return next(self._ids)

    def new_job(self, external_id: Any, state: str, token: str | None, request: Any, **fields: Any) -> JobT:
        """Build a job record (called under the book's lock): default :attr:`job_class` with ``fields``.

        Vendors override it to build richer records, for example to give a run's tasks their own IDs
        from :meth:`new_job_id`.
        """
        job: JobT = self.job_class(external_id, state, token, request, **fields)  # type: ignore[assignment]
        return job

    def enter_state(self, job: JobT, state: str, **fields: Any) -> None:
        """Set a job's state; vendors override it to keep derived fields in step (lock held)."""
        job.state = state

    def error_reply(self, error: ApiError) -> Reply:
        """Render an error in the vendor's format (default: ``{"message": ...}``)."""
        return Reply(error.status, {"message": error.message, **error.details})

    def fault_reply(self, fault: Fault, endpoint: str) -> Reply:
        """Render an injected fault: its raw body, else :meth:`error_reply`."""
        if fault.body is not None:
            content_type = "text/html" if fault.body.lstrip().startswith("<") else "text/plain"
            return Reply(fault.status, fault.body, content_type=content_type)
        details = dict(fault.details)
        message = details.pop("message", None) or f"Emulated {fault.status} on {endpoint}"
        return self.error_reply(ApiError(fault.status, message, **details))

    def not_found_reply(self, request: Request) -> Reply:
        """The answer to a path no route serves."""
        return self.error_reply(ApiError(404, f"No API found for '{request.method} {request.path}'"))

    def wrong_method_reply(self, request: Request) -> Reply:
        """The answer to a known path with a method it does not serve."""
        return self.not_found_reply(request)

    def encode(self, payload: Any) -> bytes:
        """Serialise a JSON payload (vendors with a particular printer override it)."""
        return json.dumps(payload).encode("utf-8")

    # ------------------------------------------------------------------ request handling

    @property
    def url(self) -> str:
        """``http://<host>:<port>``."""
        return f"http://{self._host}:{self.port}"

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response | None:
        """Answer one request (see :class:`~airflow_durable.testing.server.BackgroundHTTPServer`)."""
        request = Request.parse(method, path, headers, body)
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            status, data = dispatch(self, method, request.path[len(CONTROL_PREFIX) + 1 :], body)
            return status, "application/json", json.dumps(data).encode("utf-8"), {}
        match = self.routes.match(method, request.path)
        record = RecordedRequest(method, path, None, 0, dict(headers), {})
        with self.book.lock:
            self.requests.append(record)
        if match is None:
            reply: Reply | None = self.not_found_reply(request)
        else:
            request.endpoint, request.params = record.endpoint, record.params = match.endpoint, match.params
            with self.book.lock:
                self._calls[match.endpoint] += 1
            if match.route is None:
                reply = self.wrong_method_reply(request)
            else:
                handler: Callable[[Request], Reply] = getattr(self, match.route.handler)
                reply = self.faults.wrap(
                    match.endpoint,
                    lambda: self._handle(handler, request),
                    lambda f: self.fault_reply(f, match.endpoint),
                )
        if reply is None:
            return None
        record.status = reply.status
        if isinstance(reply.payload, str | bytes):
            payload = reply.payload.encode("utf-8") if isinstance(reply.payload, str) else reply.payload
        else:
            payload = self.encode(reply.payload)
        return reply.status, reply.content_type or self.json_content_type, payload, reply.headers

    def respond_grpc(self, method: GrpcMethod, message: Any, call: GrpcCall) -> Any:
        """Answer one gRPC call: log, count, run the fault plan, then the handler.

        Returns:
            The response message, or a :class:`~airflow_durable.testing.grpc_front.GrpcFailure`.
        """
        record = RecordedRequest("GRPC", method.path, method.endpoint, 0, dict(call.metadata), {})
        with self.book.lock:
            self.requests.append(record)
            self._calls[method.endpoint] += 1
        handler: Callable[[Any, GrpcCall], Any] = getattr(self, method.handler)

        def handle() -> Any:
            try:
                return handler(message, call)
            except ApiError as error:
                return GrpcFailure(grpc_code_name(error.status, error.details), error.message)

        def render(fault: Fault) -> GrpcFailure:
            message_text = fault.details.get("message") or fault.body or f"Emulated {fault.status} on {method.endpoint}"
            return GrpcFailure(grpc_code_name(fault.status, fault.details), str(message_text))

        def timed_out() -> GrpcFailure:
            return GrpcFailure("DEADLINE_EXCEEDED", f"Emulated timeout on {method.endpoint}")

        outcome = self.faults.wrap(method.endpoint, handle, render, timed_out=timed_out)
        if outcome is None:
            outcome = GrpcFailure("UNAVAILABLE", f"Emulated dropped connection on {method.endpoint}")
            record.status = DROP_CONNECTION
        else:
            record.status = GRPC_TO_HTTP.get(outcome.code, 500) if isinstance(outcome, GrpcFailure) else 200
        return outcome

    def start(self) -> Self:
        """Serve HTTP (and gRPC, when the emulator has :attr:`grpc_methods`) from background threads.

        Returns:
            ``self``.
        """
        super().start()
        if self._grpc_front is not None:
            try:
                self._grpc_front.start()
            except BaseException:
                super().stop()
                raise
        return self

    def stop(self) -> None:
        """Stop serving HTTP and gRPC. Safe to call more than once."""
        if self._grpc_front is not None:
            self._grpc_front.stop()
        super().stop()

    @property
    def grpc_port(self) -> int:
        """The bound gRPC port.

        Raises:
            RuntimeError: Not started, or the emulator serves no gRPC.
        """
        if self._grpc_front is None:
            raise RuntimeError(f"{type(self).__name__} serves no gRPC")
        return self._grpc_front.port

    @property
    def grpc_address(self) -> str:
        """``<host>:<grpc port>``, the target of a ``grpc.insecure_channel``."""
        return f"{self._host}:{self.grpc_port}"

    @control
    def addresses(self) -> dict[str, str]:
        """Return where the emulator serves: ``{"http": url}`` plus ``"grpc": host:port`` when it serves gRPC."""
        found = {"http": self.url}
        if self._grpc_front is not None:
            found["grpc"] = self.grpc_address
        return found

    def _handle(self, handler: Callable[[Request], Reply], request: Request) -> Reply:
        try:
            return handler(request)
        except ApiError as error:
            return self.error_reply(error)

    def status_call(self, job_id: Any, *, observed: bool = True) -> JobT | None:
        """Answer one status call through the life cycle (see :meth:`JobBook.poll`); ``None``: not found.

        Args:
            job_id: The job asked about.
            observed: Count it for the contract suite and tell the listeners (``False`` for a vendor
                client's own poll that the operator did not make).
        """
        if observed:
            with self.book.lock:
                self.observed_status_calls += 1
        return self.book.poll(job_id, notify=observed)

    def _on_book_event(self, event: str, job_id: Any) -> None:
        try:
            if event == "status" and self.on_status is not None:
                self.on_status(job_id)
            elif event == "create":
                job = self.book.get(job_id)
                self.faults.job_created(job)
                if self.on_create is not None:
                    self.on_create(job)
        except Exception as exc:  # noqa: BLE001 - a test hook may fail in any way
            self.hook_errors.append(exc)

    # ------------------------------------------------------------------ controls every emulator has

    @control
    def hold(self, state: str | None = None) -> None:
        """New jobs are born in ``state`` (default: the representative active state); none moves on its own."""
        self.book.hold(state or self.representative_states[JobState.ACTIVE])

    @control
    def finish_after(self, status_calls: int, final_state: str) -> None:
        """Jobs advance on their own, reaching ``final_state`` on their ``status_calls``-th status call.

        They are born in :attr:`born_state` and go through :attr:`advance_steps`. Held, unpinned jobs count
        from now.

        Raises:
            ValueError: ``status_calls`` below 1 or an unknown state.
        """
        if status_calls < 1:
            raise ValueError("status_calls must be >= 1")
        self.book.advance(self.born_state, [*self.advance_steps, (status_calls, final_state)])

    @control
    def forget(self, job_id: Any, release_token: bool = False) -> None:
        """Make the vendor answer "not found" for a job (expired history, garbage-collected pod).

        Raises:
            KeyError: Unknown job.
        """
        self.book.forget(self.coerce_id(job_id), release_token=release_token)

    @control
    def force_state(self, job_id: Any, state: str) -> None:
        """Move a job to any raw status (also an unlisted one) and pin it there.

        Raises:
            KeyError: Unknown job.
        """
        self.book.force(self.coerce_id(job_id), state)

    @control
    def fail_next(
        self, n: int = 1, status: int = 503, *, endpoint: str | None = None, body: str | None = None, **details: Any
    ) -> None:
        """See :meth:`Faults.fail_next <airflow_durable.testing.faults.Faults.fail_next>`."""
        self.faults.fail_next(n, status, endpoint=endpoint, body=body, **details)

    @control
    def fault_rate(
        self,
        rate: float,
        statuses: Iterable[int] = (429, 503),
        *,
        endpoint: str | None = None,
        seed: int | None = None,
        **details: Any,
    ) -> None:
        """See :meth:`Faults.fault_rate <airflow_durable.testing.faults.Faults.fault_rate>`."""
        self.faults.fault_rate(rate, statuses, endpoint=endpoint, seed=seed, **details)

    @control
    def fault_storm(self, rate: float, seed: int | None = None) -> None:
        """A share ``rate`` of all vendor calls (HTTP and gRPC) answers 429, 500, 502, 503, 504 or times out.

        See :meth:`Faults.fault_storm <airflow_durable.testing.faults.Faults.fault_storm>`; over gRPC the
        statuses become ``RESOURCE_EXHAUSTED``, ``INTERNAL``, ``UNAVAILABLE`` and ``DEADLINE_EXCEEDED``.
        ``rate=0`` ends the storm.
        """
        self.faults.fault_storm(float(rate), seed)

    @control
    def set_latency(self, seconds: float) -> None:
        """Make every vendor request wait ``seconds`` before it is handled."""
        self.faults.latency_seconds = float(seconds)

    @control
    def hold_after_create(self, seconds: float, **match: Any) -> None:
        """See :meth:`Faults.hold_after_create <airflow_durable.testing.faults.Faults.hold_after_create>`."""
        self.faults.hold_after_create(float(seconds), **match)

    @property
    @control
    def jobs(self) -> list[JobT]:
        """Every job created, oldest first (forgotten ones included, flagged). The records are live."""
        return self.book.jobs

    @control
    def job(self, job_id: Any) -> JobT:
        """Return one job.

        Raises:
            KeyError: No such job.
        """
        return self.book.get(self.coerce_id(job_id))

    @property
    @control
    def calls(self) -> Counter[str]:
        """Vendor requests received per endpoint name, fault-injected ones included."""
        return self._calls

    @control
    def request_count(self) -> int:
        """Return how many vendor requests were received, fault-injected and unrouted ones included.

        HTTP and gRPC requests count alike; control-plane requests do not. :meth:`reset` sets it to 0.
        """
        with self.book.lock:
            return len(self.requests)

    @control
    def wait_for_jobs(self, count: int, timeout_seconds: float = 10.0) -> list[JobT]:
        """Wait until at least ``count`` jobs exist.

        Raises:
            TimeoutError: Fewer jobs were created in time.
        """
        return list(self.book.wait_for(count, timeout_seconds))

    @control
    def counters(self) -> dict[str, Any]:
        """Return the call counters: ``calls`` per endpoint, ``faults_served``, ``observed_status_calls``."""
        with self.book.lock:
            return {
                "calls": dict(self.calls),
                "faults_served": dict(self.faults.served),
                "observed_status_calls": self.observed_status_calls,
                "cancelled": list(self.book.cancelled),
                "deduplicated": list(self.book.deduplicated),
            }

    @control
    def reset(self) -> None:
        """Forget every job, token, fault and counter; back to the constructor's script. IDs keep growing."""
        with self.book.lock:
            self.book.reset()
            self.faults.reset()
            self._reset_records()

    def coerce_id(self, job_id: Any) -> Any:
        """Turn a job ID that came over JSON into the emulator's ID type (default: unchanged)."""
        return job_id
