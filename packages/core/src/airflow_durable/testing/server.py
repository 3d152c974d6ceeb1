"""``BackgroundHTTPServer``: the serve-from-a-daemon-thread life cycle the provider emulators share."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


class BackgroundHTTPServer:
    """Serve a wire-level emulator on ``127.0.0.1`` from a daemon thread; a context manager.

    Subclasses set ``_host`` and ``_requested_port`` (0 picks a free port) before :meth:`start` and
    implement :meth:`_handler_class`.
    """

    thread_name: ClassVar[str] = "http-emulator"
    _host: str = "127.0.0.1"
    _requested_port: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        """Return the request handler class bound to this emulator."""
        raise NotImplementedError

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
