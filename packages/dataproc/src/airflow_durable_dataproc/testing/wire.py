"""Dataproc's wire format, shared by the job and batch emulators: errors, filters, pages, timestamps, enums.

Messages are the ``google-cloud-dataproc`` library's own proto-plus classes, so gRPC and REST answer the same
records: gRPC serialises them (``Message.serialize``), REST prints them as JSON (``Message.to_json``), the way
Google's REST gateway does (enum names, camelCase fields).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from airflow_durable.testing import ApiError, Reply

T = TypeVar("T")

_GRPC_NAMES = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED"}


def not_found(what: str) -> ApiError:
    """Dataproc's NOT_FOUND (HTTP 404)."""
    return ApiError(404, f"Not found: {what}", grpc_status="NOT_FOUND")


def already_exists(what: str) -> ApiError:
    """Dataproc's ALREADY_EXISTS (HTTP 409; ``Conflict`` over REST, ``AlreadyExists`` over gRPC)."""
    return ApiError(409, f"Already exists: {what}", grpc_status="ALREADY_EXISTS")


def invalid_argument(message: str) -> ApiError:
    """Dataproc's INVALID_ARGUMENT (HTTP 400)."""
    return ApiError(400, message, grpc_status="INVALID_ARGUMENT")


def failed_precondition(message: str) -> ApiError:
    """Dataproc's FAILED_PRECONDITION (HTTP 400; ``BadRequest`` over REST, ``FailedPrecondition`` over gRPC)."""
    return ApiError(400, message, grpc_status="FAILED_PRECONDITION")


def error_body(error: ApiError) -> Reply:
    """Render an error the way Google APIs do over REST: ``{"error": {"code", "message", "status"}}``."""
    status = error.details.get("grpc_status") or _GRPC_NAMES.get(error.status)
    if status is None:
        status = "UNAVAILABLE" if error.status == 503 else "INTERNAL" if error.status >= 500 else "FAILED_PRECONDITION"
    return Reply(error.status, {"error": {"code": error.status, "message": error.message, "status": status}})


def to_json(message: Any) -> Any:
    """Print a proto-plus message as REST JSON data (enum names, camelCase)."""
    return json.loads(type(message).to_json(message, use_integers_for_enums=False, indent=None))


def from_json(message_class: type[T], body: bytes | str) -> T:
    """Parse a REST JSON body into a proto-plus message (unknown fields ignored, as the gateway does).

    Raises:
        ApiError: INVALID_ARGUMENT for a body that does not parse.
    """
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    try:
        parsed: T = message_class.from_json(text or "{}", ignore_unknown_fields=True)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - json_format raises several types
        raise invalid_argument(f"Invalid JSON payload received. {exc}") from None
    return parsed


def timestamp(seconds: float | None = None) -> Any:
    """Return a ``google.protobuf.Timestamp`` for epoch ``seconds`` (default: now)."""
    from google.protobuf import timestamp_pb2

    value = timestamp_pb2.Timestamp()
    value.FromNanoseconds(int((time.time() if seconds is None else seconds) * 1e9))
    return value


def enum_value(enum_class: Any, state: str) -> Any:
    """Return the enum member named ``state``; a state outside the enum (a test forced it) is ``0``.

    A forced integer text (``"42"``) travels as that number, the way a newer server's value would.
    """
    members = enum_class.__members__
    if state in members:
        return members[state]
    if state.lstrip("-").isdigit():
        return int(state)
    return 0


def page(items: Sequence[T], page_size: int, page_token: str, default_size: int = 100) -> tuple[list[T], str]:
    """Cut one page: ``page_token`` is the offset as text (``""``: the start).

    Raises:
        ApiError: INVALID_ARGUMENT for a page token the emulator did not hand out.
    """
    try:
        start = int(page_token) if page_token else 0
    except ValueError:
        raise invalid_argument(f"Invalid page token {page_token!r}") from None
    size = page_size if page_size > 0 else default_size
    chunk = list(items[start : start + size])
    return chunk, str(start + size) if start + size < len(items) else ""


_CLAUSE = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(=|!=)\s*"?([^"]*?)"?\s*$')


def parse_filter(text: str) -> list[tuple[str, str, str]]:
    """Parse a list filter: clauses ``field = value`` / ``field != value`` joined by ``AND``.

    It covers what ``ListJobs`` and ``ListBatches`` document for equality (``status.state = ACTIVE``,
    ``labels.env = staging``, ``batch_id = "b-1"``, ``state = RUNNING``); comparisons and ``OR`` are refused.

    Raises:
        ApiError: INVALID_ARGUMENT for anything else.
    """
    if not text.strip():
        return []
    clauses = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE):
        found = _CLAUSE.match(part)
        if found is None:
            raise invalid_argument(f"Unsupported filter clause {part!r} (the emulator supports = and != with AND)")
        clauses.append((found.group(1), found.group(2), found.group(3)))
    return clauses


def matches(clauses: list[tuple[str, str, str]], field: Callable[[str], str | None]) -> bool:
    """Whether a record passes every clause; ``field(name)`` reads a field (``None``: absent)."""
    for name, op, value in clauses:
        actual = field(name)
        if (actual == value) != (op == "="):
            return False
    return True
