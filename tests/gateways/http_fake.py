"""Running a fake gateway server for tests and benchmarks: real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import uvicorn
from starlette.responses import JSONResponse, Response

F = TypeVar("F")


@dataclass(slots=True)
class Fault:
    """What the next ``times`` requests (to ``path``, or any) get instead of an answer."""

    path: str | None
    times: int
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


class Misbehaviour:
    """Faults on cue, shared by the fake gateways (they keep ``self._faults``)."""

    _faults: list[Fault]

    def fail_next(self, status: int, body: Any = None, *, path: str | None = None,
                  headers: dict[str, str] | None = None, times: int = 1) -> None:
        """Answer ``status`` with ``body`` (JSON; ``bytes`` as they are; ``None``: empty)."""
        self._faults.append(Fault(path, times, status=status, body=body,
                                  headers=dict(headers or {})))

    def delay_next(self, seconds: float, *, path: str | None = None, times: int = 1) -> None:
        """Wait, then answer normally: a client with a shorter timeout gave up, and the
        request *did* arrive."""
        self._faults.append(Fault(path, times, delay=seconds))

    def drop_next(self, *, path: str | None = None, times: int = 1) -> None:
        """Close the connection without a byte of answer."""
        self._faults.append(Fault(path, times, drop=True))

    async def misbehave(self, path: str, send: Any) -> tuple[bool, Response | None]:
        """Play the next fault for ``path``, if any: (the connection was closed without an
        answer, the scripted answer to send instead of the normal one)."""
        fault = self._take_fault(path)
        if fault is None:
            return False, None
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            await hang_up(send)
            return True, None
        if fault.status is not None:
            return False, json_response(fault.status, fault.body, fault.headers)
        return False, None

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.path is None or fault.path == path:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """``body`` as JSON; ``None``: no body; ``bytes``: sent as they are (not JSON)."""
    if body is None or isinstance(body, bytes):
        return Response(body, status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


async def hang_up(send: Any) -> None:
    """Close the TCP connection without answering. ASGI has no word for it, so this
    reaches uvicorn's request cycle, whose bound ``send`` carries the transport."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("drop_next needs uvicorn's protocol objects")
    transport.close()
    await asyncio.sleep(0.01)  # let uvicorn see the disconnect before the app returns


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
