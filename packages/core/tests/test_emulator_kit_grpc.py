"""The kit's gRPC front: unary methods dispatched to an emulator's handlers through its log, counters and faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

grpc = pytest.importorskip("grpc")

from airflow_durable.testing import ControlClient  # noqa: E402
from airflow_durable.testing.grpc_front import GrpcCall, GrpcMethod, grpc_code_name  # noqa: E402
from airflow_durable.testing.routes import ApiError  # noqa: E402
from toy_emulator import ToyEmulator  # noqa: E402


def _decode(data: bytes) -> Any:
    return json.loads(data or b"{}")


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()


class GrpcToyEmulator(ToyEmulator):
    """The toy vendor, also over gRPC (JSON bytes as messages): ``/toy.Jobs/Create`` and ``/toy.Jobs/Get``."""

    grpc_methods = (
        GrpcMethod("/toy.Jobs/Create", "create", "_grpc_create", _decode, _encode),
        GrpcMethod("/toy.Jobs/Get", "status", "_grpc_get", _decode, _encode),
    )

    def _grpc_create(self, message: Any, call: GrpcCall) -> Any:
        job, _ = self.book.submit(message.get("token"), message)
        return {"id": job.external_id, "agent": call.metadata.get("x-agent")}

    def _grpc_get(self, message: Any, call: GrpcCall) -> Any:
        job = self.status_call(int(message["id"]))
        if job is None:
            raise ApiError(404, "no such job")
        if job.state == "FAILED":
            raise ApiError(400, "job failed", grpc_status="FAILED_PRECONDITION")
        return {"id": job.external_id, "state": job.state}


@pytest.fixture
def emulator() -> Iterator[GrpcToyEmulator]:
    with GrpcToyEmulator() as running:
        yield running


@pytest.fixture
def channel(emulator: GrpcToyEmulator) -> Iterator[Any]:
    with grpc.insecure_channel(emulator.grpc_address) as opened:
        yield opened


def _call(channel: Any, method: str, message: Any, **kwargs: Any) -> Any:
    return channel.unary_unary(method, request_serializer=_encode, response_deserializer=_decode)(
        message, timeout=5, **kwargs
    )


def test_grpc_and_http_share_one_book_and_one_set_of_counters(emulator: GrpcToyEmulator, channel: Any) -> None:
    created = _call(channel, "/toy.Jobs/Create", {"token": "t1"}, metadata=(("x-agent", "tests"),))
    assert created == {"id": 1, "agent": "tests"}
    assert _call(channel, "/toy.Jobs/Get", {"id": 1}) == {"id": 1, "state": "QUEUED"}
    assert httpx.get(f"{emulator.url}/v1/jobs/1").json() == {"id": 1, "state": "QUEUED"}
    assert emulator.calls == {"create": 1, "status": 2}
    assert emulator.book.get(1).status_calls == 2
    assert [(r.method, r.path, r.endpoint, r.status) for r in emulator.requests] == [
        ("GRPC", "/toy.Jobs/Create", "create", 200),
        ("GRPC", "/toy.Jobs/Get", "status", 200),
        ("GET", "/v1/jobs/1", "status", 200),
    ]
    assert emulator.requests[0].headers["x-agent"] == "tests"


def test_errors_and_faults_become_grpc_status_codes(emulator: GrpcToyEmulator, channel: Any) -> None:
    _call(channel, "/toy.Jobs/Create", {})
    cases = [
        (lambda: emulator.fail_next(1, 503, endpoint="status"), grpc.StatusCode.UNAVAILABLE),
        (lambda: emulator.fail_next(1, 429), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (lambda: emulator.fail_next(1, 0, endpoint="status"), grpc.StatusCode.UNAVAILABLE),
        (lambda: emulator.fail_next(1, 500, grpc_status="DATA_LOSS"), grpc.StatusCode.DATA_LOSS),
        (lambda: emulator.force_state(1, "FAILED"), grpc.StatusCode.FAILED_PRECONDITION),
        (lambda: emulator.forget(1), grpc.StatusCode.NOT_FOUND),
    ]
    for arrange, code in cases:
        arrange()
        with pytest.raises(grpc.RpcError) as caught:
            _call(channel, "/toy.Jobs/Get", {"id": 1})
        assert caught.value.code() == code
    assert emulator.faults.served == {"status": 4}
    assert [r.status for r in emulator.requests[1:]] == [503, 429, 0, 500, 400, 404]


def test_a_timeout_is_deadline_exceeded_after_the_call_was_handled(emulator: GrpcToyEmulator, channel: Any) -> None:
    from airflow_durable.testing.faults import TIMEOUT

    emulator.fail_next(1, TIMEOUT, endpoint="create")
    with pytest.raises(grpc.RpcError) as caught:
        _call(channel, "/toy.Jobs/Create", {"token": "t1"})
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert [job.token for job in emulator.jobs] == ["t1"], "a timed-out create must still create its job"
    assert [r.status for r in emulator.requests] == [504]


def test_a_storm_answers_grpc_calls_with_the_vendor_codes(emulator: GrpcToyEmulator, channel: Any) -> None:
    emulator.faults.timeout_hold_seconds = 0.0
    emulator.fault_storm(0.5, 11)
    codes = set()
    for n in range(120):
        try:
            _call(channel, "/toy.Jobs/Create", {"token": f"t{n}"})
        except grpc.RpcError as error:
            codes.add(error.code())
    assert codes == {
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    }


def test_an_unknown_method_is_unimplemented(channel: Any) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        _call(channel, "/toy.Jobs/Nope", {})
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_the_control_plane_gives_the_grpc_address(emulator: GrpcToyEmulator) -> None:
    with ControlClient(emulator.url) as control:
        assert control.addresses() == {"http": emulator.url, "grpc": emulator.grpc_address}


def test_an_emulator_without_grpc_methods_serves_http_only() -> None:
    with ToyEmulator() as plain:
        assert plain.addresses() == {"http": plain.url}
        with pytest.raises(RuntimeError, match="no gRPC"):
            _ = plain.grpc_address


@pytest.mark.parametrize(
    ("status", "details", "code"),
    [
        (404, {}, "NOT_FOUND"),
        (409, {}, "ALREADY_EXISTS"),
        (400, {"grpc_status": "FAILED_PRECONDITION"}, "FAILED_PRECONDITION"),
        (418, {}, "FAILED_PRECONDITION"),
        (599, {}, "INTERNAL"),
        (302, {}, "UNKNOWN"),
    ],
)
def test_grpc_code_name(status: int, details: dict[str, str], code: str) -> None:
    assert grpc_code_name(status, details) == code
