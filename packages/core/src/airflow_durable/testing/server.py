"""``BackgroundHTTPServer``: the serve-from-a-daemon-thread life cycle the provider emulators share."""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self

Response = tuple[int, str, bytes, dict[str, str]]
"""``(status, content type, body, extra headers)``."""


class BackgroundHTTPServer:
    """Serve a wire-level emulator on ``127.0.0.1`` from a daemon thread; a context manager.

    Subclasses set ``_host`` and ``_requested_port`` (0 picks a free port) before :meth:`start` and
    implement :meth:`respond`.
    """

    thread_name: ClassVar[str] = "http-emulator"
    server_version: ClassVar[str] = "emulator"
    _host: str = "127.0.0.1"
    _requested_port: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response | None:
        """Answer one request; ``None`` drops the connection (a network fault).

        Args:
            method: The HTTP method.
            path: The path with its query string.
            headers: The request headers.
            body: The request body.

        Returns:
            The response, or ``None``.
        """
        raise NotImplementedError

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            server_version = emulator.server_version
            sys_version = ""

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                result = emulator.respond(self.command, self.path, dict(self.headers.items()), body)
                if result is None:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(2)
                    return
                status, content_type, payload, extra = result
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def start(self) -> Self:
        """Bind the port and serve from a daemon thread.

        Returns:
            ``self``.

        Raises:
            RuntimeError: Already started.
        """
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        server = ThreadingHTTPServer((self._host, self._requested_port), self._handler_class())
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call more than once."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port.

        Raises:
            RuntimeError: Not started.
        """
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} not started")
        return int(self._server.server_address[1])
