"""A gRPC front for the emulator kit: unary methods dispatched to an emulator's handlers, with its faults.

Some vendor clients speak gRPC by default (``google-cloud-dataproc``). Their packages ship message classes but
no servicers, so an emulator declares its methods once, each with the vendor library's own (de)serialisers::

    grpc_methods = (
        GrpcMethod("/google.cloud.dataproc.v1.JobController/GetJob", "status", "_grpc_get_job",
                   GetJobRequest.deserialize, Job.serialize),
    )

and :class:`GrpcFront` serves them from a ``grpc.server`` (a generic handler: no generated code) on a port of
its own, beside the emulator's HTTP server. Every call goes through the same machinery as an HTTP request:
the request log, the call counters, the fault plan (:meth:`Faults.wrap <airflow_durable.testing.faults.Faults.wrap>`)
and :class:`~airflow_durable.testing.routes.ApiError`. HTTP statuses become gRPC status codes
(:func:`grpc_code_name`; an error may name its code with ``grpc_status="FAILED_PRECONDITION"``), and a dropped
connection becomes ``UNAVAILABLE``.

This module needs ``grpcio``, which the kit does not depend on: only emulators with gRPC methods import it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

HTTP_TO_GRPC: Mapping[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    416: "OUT_OF_RANGE",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
"""The canonical HTTP status -> gRPC code mapping (``google.rpc.Code``'s documented HTTP equivalents)."""

GRPC_TO_HTTP: Mapping[str, int] = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}
"""gRPC code -> the HTTP status Google's REST gateway answers (what the request log records)."""


def grpc_code_name(status: int, details: Mapping[str, Any] | None = None) -> str:
    """Return the gRPC code name for an error: ``details["grpc_status"]`` if given, else by HTTP status.

    Unmapped 4xx are ``FAILED_PRECONDITION``, unmapped 5xx ``INTERNAL``, anything else ``UNKNOWN``.
    """
    named = (details or {}).get("grpc_status")
    if named:
        return str(named)
    if status in HTTP_TO_GRPC:
        return HTTP_TO_GRPC[status]
    if 400 <= status < 500:
        return "FAILED_PRECONDITION"
    return "INTERNAL" if 500 <= status < 600 else "UNKNOWN"


@dataclass(frozen=True)
class GrpcMethod:
    """One unary gRPC method an emulator serves.

    Attributes:
        path: The full method name, ``/package.Service/Method``.
        endpoint: The endpoint name (call counters, faults); may be shared with an HTTP route.
        handler: The emulator method: ``handler(request_message, call)`` returns the response message or
            raises :class:`~airflow_durable.testing.routes.ApiError`.
        request_deserializer: Bytes -> request message (the vendor library's, e.g. ``Request.deserialize``).
        response_serializer: Response message -> bytes.
    """

    path: str
    endpoint: str
    handler: str
    request_deserializer: Callable[[bytes], Any]
    response_serializer: Callable[[Any], bytes]


@dataclass
class GrpcCall:
    """What a gRPC handler knows about its call besides the request message.

    Attributes:
        method: The full method name.
        endpoint: The endpoint name.
        metadata: The invocation metadata (lower-case keys, the last value of each).
    """

    method: str
    endpoint: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GrpcFailure:
    """An error a gRPC call ends with (``code`` a ``grpc.StatusCode`` name)."""

    code: str
    message: str


Dispatch = Callable[[GrpcMethod, Any, GrpcCall], Any]
"""``dispatch(method, request, call)`` returns the response message or a :class:`GrpcFailure`."""


class GrpcFront:
    """A ``grpc.server`` answering an emulator's :class:`GrpcMethod` s through one ``dispatch`` callable.

    Args:
        methods: The methods served; any other method is ``UNIMPLEMENTED``.
        dispatch: Answers one call.
        host: Address to bind.
        port: Port to bind (0 picks a free one).
        max_workers: Threads serving calls.
    """

    def __init__(
        self, methods: tuple[GrpcMethod, ...], dispatch: Dispatch, *, host: str, port: int = 0, max_workers: int = 8
    ) -> None:
        self.methods = {method.path: method for method in methods}
        self._dispatch = dispatch
        self._host = host
        self._requested_port = port
        self._max_workers = max_workers
        self._server: Any = None
        self._port: int | None = None

    def start(self) -> None:
        """Bind and serve.

        Raises:
            RuntimeError: Already started, or the port could not be bound.
        """
        import grpc

        if self._server is not None:
            raise RuntimeError("the gRPC front is already started")
        front = self

        class _Handler(grpc.GenericRpcHandler):  # type: ignore[misc]
            def service(self, handler_call_details: Any) -> Any:
                method = front.methods.get(handler_call_details.method)
                if method is None:
                    return None
                return grpc.unary_unary_rpc_method_handler(
                    front._behaviour(method),
                    request_deserializer=method.request_deserializer,
                    response_serializer=method.response_serializer,
                )

        server = grpc.server(ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="grpc-emulator"))
        server.add_generic_rpc_handlers((_Handler(),))
        port = server.add_insecure_port(f"{self._host}:{self._requested_port}")
        if not port:
            raise RuntimeError(f"cannot bind the gRPC front to {self._host}:{self._requested_port}")
        server.start()
        self._server, self._port = server, int(port)

    def _behaviour(self, method: GrpcMethod) -> Callable[[Any, Any], Any]:
        import grpc

        def behaviour(request: Any, context: Any) -> Any:
            metadata = {str(k).lower(): str(v) for k, v in (context.invocation_metadata() or ())}
            outcome = self._dispatch(method, request, GrpcCall(method.path, method.endpoint, metadata))
            if isinstance(outcome, GrpcFailure):
                code = getattr(grpc.StatusCode, outcome.code, grpc.StatusCode.UNKNOWN)
                context.abort(code, outcome.message)
            return outcome

        return behaviour

    def stop(self) -> None:
        """Stop serving (in-flight calls get 0.2 s to finish). Safe to call more than once."""
        server, self._server = self._server, None
        if server is not None:
            server.stop(grace=0.2).wait(5)
        self._port = None

    @property
    def port(self) -> int:
        """The bound port.

        Raises:
            RuntimeError: Not started.
        """
        if self._port is None:
            raise RuntimeError("the gRPC front is not started")
        return self._port
