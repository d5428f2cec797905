"""Running a fake gateway server for tests and benchmarks: real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

import uvicorn

F = TypeVar("F")


class ThreadedServer(Generic[F]):
    """Serves a fake gateway (an ASGI app with a ``url`` attribute) on a free 127.0.0.1
    port from a background thread."""

    name = "fake gateway"

    def __init__(self, fake: F, *, fast: bool = False) -> None:
        """``fast``: httptools on uvloop (when installed), for a benchmark's separate
        process standing in for a real gateway; tests keep h11 on asyncio's loop."""
        self.fake = fake
        self._fast = fast
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> F:
        # proto=IPPROTO_TCP: asyncio only turns Nagle off (TCP_NODELAY) on sockets that say
        # they are TCP; without it every answer waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        host, port = sock.getsockname()
        config = uvicorn.Config(
            self.fake, http="httptools" if self._fast else "h11", ws="none", lifespan="off",
            log_config=None, access_log=False, proxy_headers=False, server_header=False,
            date_header=False, timeout_graceful_shutdown=1,
        )
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: self._run(server.serve(sockets=[sock])),
            name=self.name, daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 5
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{self.name} did not start")
            time.sleep(0.005)
        self.fake.url = f"http://{host}:{port}"
        return self.fake

    def _run(self, main: Coroutine[Any, Any, None]) -> None:
        loop_factory = None
        if self._fast:
            try:
                import uvloop
            except ImportError:
                pass
            else:
                loop_factory = uvloop.new_event_loop
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(main)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> F:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
