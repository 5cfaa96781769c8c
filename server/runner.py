"""Run the app with uvicorn in a background thread on a loopback port: used by the tests and
the load check, which need a real server without a subprocess per app."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


class ServerThread:
    """A uvicorn server on 127.0.0.1 (a free port picked by the OS) in a daemon thread."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", log_level: str = "warning") -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(app, log_level=log_level, server_header=False,
                                proxy_headers=False, timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name=f"uvicorn-{self.port}",
                                        daemon=True)
        self.error: BaseException | None = None

    def _serve(self) -> None:
        try:
            self.server.run(sockets=[self._sock])
        except BaseException as exc:  # surfaced by start()
            self.error = exc

    def start(self, timeout: float = 300.0) -> ServerThread:
        """Start and wait until the lifespan start-up has finished (model and index loaded)."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if self.error is not None or not self._thread.is_alive():
                raise RuntimeError(f"server failed to start: {self.error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"server did not start within {timeout:.0f}s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=15)
        with contextlib.suppress(OSError):
            self._sock.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


@contextlib.contextmanager
def serving(app: Any, **kw: Any) -> Iterator[ServerThread]:
    """``with serving(app) as srv:`` — the server runs for the block."""
    srv = ServerThread(app, **kw).start()
    try:
        yield srv
    finally:
        srv.stop()
