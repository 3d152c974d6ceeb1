"""A declarative route table for wire-level emulators.

An emulator lists its vendor's endpoints once::

    ROUTES = RouteTable(
        Route("POST", "/v1/submissions/create", "create", "_create"),
        Route("GET", "/v1/submissions/status/{job_id}", "status", "_status"),
        prefixes=("",),
    )

``{name}`` matches one path segment and reaches the handler as ``request.params["name"]``. The endpoint
name (``"status"``) is what call counters and faults use. A handler is the name of an emulator method taking
a :class:`Request` and returning a :class:`Reply`, or raising :class:`ApiError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit


class ApiError(Exception):
    """An error the emulator answers in its vendor's error format.

    Args:
        status: HTTP status.
        message: The vendor's message text.
        **details: Vendor fields of the error body (for example Databricks ``error_code``).
    """

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


@dataclass
class Request:
    """One HTTP request, as a handler sees it.

    Attributes:
        method: The HTTP method.
        path: The path without the query string.
        query: Query parameters (the last value of each).
        headers: Request headers.
        body: The raw body.
        endpoint: The matched route's endpoint name (``None``: no route matched).
        params: Path parameters of the matched route.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes
    endpoint: str | None = None
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, method: str, raw_path: str, headers: Mapping[str, str], body: bytes) -> Request:
        """Split a raw request line into path and query."""
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return cls(method, parts.path, query, headers, body)

    def json(self) -> Any:
        """Decode the body as JSON (an empty body is ``{}``).

        Raises:
            ValueError: The body is not valid UTF-8 JSON.
        """
        if not self.body:
            return {}
        return json.loads(self.body.decode("utf-8"))

    def header(self, name: str) -> str | None:
        """Return a header, case-insensitively."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


@dataclass
class Reply:
    """A handler's answer. ``payload`` is JSON data (the emulator encodes it) or ready ``str``/``bytes``."""

    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None


@dataclass(frozen=True)
class Route:
    """One endpoint: method, path template, endpoint name, handler method name."""

    method: str
    template: str
    endpoint: str
    handler: str

    @property
    def pattern(self) -> re.Pattern[str]:
        """The template as a regex (``{name}`` matches one non-empty segment)."""
        return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template)) + "/?$")


@dataclass(frozen=True)
class Match:
    """What :meth:`RouteTable.match` found: the route (``None``: no method matched the path)."""

    route: Route | None
    endpoint: str
    params: dict[str, str]


class RouteTable:
    """The routes of one emulator, tried in order under each path prefix.

    Args:
        *routes: The routes.
        prefixes: Path prefixes every template is served under (aliases such as ``/api/2.1/`` and
            ``/api/2.2/``).
    """

    def __init__(self, *routes: Route, prefixes: tuple[str, ...] = ("",)) -> None:
        self.routes = routes
        self.prefixes = prefixes
        self._compiled = [
            (route, re.compile("^" + re.escape(prefix) + route.pattern.pattern[1:]))
            for prefix in prefixes
            for route in routes
        ]

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Every endpoint name, in table order, once."""
        return tuple(dict.fromkeys(route.endpoint for route in self.routes))

    def match(self, method: str, path: str) -> Match | None:
        """Find the route for a request.

        Returns:
            The match; its ``route`` is ``None`` when the path exists with other methods only; ``None`` when
            no template matches the path.
        """
        wrong_method: Match | None = None
        for route, pattern in self._compiled:
            found = pattern.match(path)
            if found is None:
                continue
            if route.method == method:
                return Match(route, route.endpoint, found.groupdict())
            wrong_method = wrong_method or Match(None, route.endpoint, found.groupdict())
        return wrong_method
