"""One control plane for every emulator: ``@control`` marks what a test may call over HTTP.

An emulator running as its own process (so that killing a task does not kill "the cloud") is driven through
``/_emulator/<name>``: ``POST`` with a JSON object of keyword arguments calls the method (or reads the
property) marked with :func:`control` and answers its result as JSON. ``GET /_emulator/`` lists the control
names with their parameter names; :class:`ControlClient` uses it to offer every control as a method::

    client = ControlClient("http://127.0.0.1:8123")
    client.wait_until_up()
    client.set_state(run_id, "TERMINATED", "SUCCESS")   # positional arguments are bound by name
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import httpx

CONTROL_PREFIX = "/_emulator"
"""Path prefix of the control plane (not part of any vendor's API)."""

_F = TypeVar("_F", bound=Callable[..., Any])


def control(function: _F) -> _F:
    """Mark an emulator method (or a property's getter) as callable over the control plane."""
    function.__control__ = True  # type: ignore[attr-defined]
    return function


def control_names(cls: type) -> dict[str, list[str]]:
    """Return every control of ``cls``: name -> parameter names (empty for a property)."""
    found: dict[str, list[str]] = {}
    for name in dir(cls):
        member = inspect.getattr_static(cls, name, None)
        if isinstance(member, property) and getattr(member.fget, "__control__", False):
            found[name] = []
        elif callable(member) and getattr(member, "__control__", False):
            found[name] = [p for p in inspect.signature(member).parameters if p != "self"]
    return found


def to_json(value: Any) -> Any:
    """Convert a control's result to JSON data (``to_json()`` methods, dataclasses, enums, containers)."""
    if hasattr(value, "to_json") and callable(value.to_json):
        return value.to_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    return value


def dispatch(target: Any, method: str, name: str, body: bytes) -> tuple[int, Any]:
    """Serve one control request against ``target``.

    Returns:
        ``(status, JSON data)``: 200 with the result, 400 for bad arguments, 404 for an unknown name.
    """
    controls = control_names(type(target))
    if name in ("", "health"):
        return 200, {"ok": True, "controls": controls} if name == "" else {"ok": True}
    if name not in controls or method not in ("GET", "POST"):
        return 404, {"error": f"unknown control {method} {CONTROL_PREFIX}/{name}"}
    try:
        kwargs = json.loads(body or b"{}")
        if not isinstance(kwargs, dict):
            raise TypeError("the control body must be a JSON object")
        member = getattr(target, name)
        return 200, to_json(member(**kwargs) if callable(member) else member)
    except (KeyError, ValueError, TypeError, LookupError) as exc:
        return 400, {"error": f"{type(exc).__name__}: {exc}"}


class ControlError(RuntimeError):
    """The emulator's control plane refused a request."""


class ControlClient:
    """Calls the controls of an emulator running in another process (uses ``httpx``).

    Every control is available as a method: ``client.fail_next(2, 503, endpoint="runs/get")``.

    Args:
        url: The emulator's base URL (``http://127.0.0.1:PORT``).
        timeout_seconds: Per-request timeout.
    """

    def __init__(self, url: str, *, timeout_seconds: float = 10.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url + CONTROL_PREFIX, timeout=timeout_seconds)
        self._controls: dict[str, list[str]] | None = None

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check(self, response: httpx.Response) -> Any:
        if response.status_code != 200:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise ControlError(f"{response.request.method} {response.request.url}: {message}")
        return response.json()

    def wait_until_up(self, timeout_seconds: float = 10.0) -> None:
        """Wait until the control plane answers.

        Raises:
            TimeoutError: It did not answer in time.
        """
        import httpx

        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                self._check(self._client.get("/health"))
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"emulator at {self.url} did not answer within {timeout_seconds}s") from None
                time.sleep(0.05)

    def call(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call the control ``name``; positional arguments are bound to its parameter names.

        ``name`` is positional-only, so a control may itself take a keyword called ``name``.

        Raises:
            ControlError: Unknown control, bad arguments, or the emulator refused.
        """
        if self._controls is None:
            self._controls = self._check(self._client.get("/"))["controls"]
        if name not in self._controls:
            raise ControlError(f"the emulator at {self.url} has no control {name!r}")
        params = self._controls[name]
        if len(args) > len(params):
            raise ControlError(f"{name}() takes {len(params)} arguments, got {len(args)}")
        kwargs.update(zip(params, args, strict=False))
        return self._check(self._client.post(f"/{name}", content=json.dumps(to_json(kwargs))))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)
