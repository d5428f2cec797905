"""An integrator's webhook receiver on 127.0.0.1, over real HTTP: it checks every request's
signature the way README's "Webhooks" tells integrators to, keeps the events it accepted
in the order they came, and can be told to fail for a while."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(slots=True)
class Received:
    path: str
    event: dict[str, Any]
    headers: dict[str, str]


@dataclass(slots=True)
class Receiver:
    """``secrets``: path -> the endpoint's signing secret (set once it is created).
    ``failing``: while it returns a status (say 500), requests get that status and are not
    accepted; None accepts (200). ``now``: the receiver's clock, in seconds, for the
    timestamp's tolerance."""

    now: Callable[[], float]
    secrets: dict[str, str] = field(default_factory=dict)
    failing: Callable[[Received], int | None] = lambda _request: None
    tolerance: float = 300.0
    accepted: list[Received] = field(default_factory=list)
    refused: list[Received] = field(default_factory=list)  # answered with the failing status
    bad_signatures: list[str] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    port: int = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def events(self, path: str | None = None) -> list[dict[str, Any]]:
        return [r.event for r in self.accepted if path is None or r.path == path]

    def ids(self, path: str | None = None) -> list[str]:
        return [e["id"] for e in self.events(path)]

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # started again: same port
        sock.bind(("127.0.0.1", self.port))  # 0: a free port
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def verified(self, secret: str, headers: dict[str, str], body: bytes) -> bool:
        """README's check: ``t`` within the tolerance, ``v1`` the HMAC-SHA256 of
        ``f"{t}.{body}"``, compared in constant time."""
        items = dict(part.split("=", 1) for part in headers.get("qasid-signature", "").split(",")
                     if "=" in part)
        if "t" not in items or "v1" not in items or not items["t"].isdigit():
            return False
        if abs(self.now() - int(items["t"])) > self.tolerance:
            return False
        if headers.get("qasid-timestamp") != items["t"]:
            return False
        expected = hmac.new(secret.encode(), items["t"].encode() + b"." + body,
                            hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, items["v1"])

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        secret = self.secrets.get(request.path)
        if secret is None or not self.verified(secret, headers, body):
            self.bad_signatures.append(request.path)
            return web.Response(status=400, text="bad signature")
        event = json.loads(body)
        if headers.get("qasid-event-id") != event["id"]:
            self.bad_signatures.append(request.path)
            return web.Response(status=400, text="event id header differs")
        received = Received(request.path, event, headers)
        status = self.failing(received)
        if status is not None:
            self.refused.append(received)
            return web.Response(status=status, text="failing on purpose")
        self.accepted.append(received)
        return web.Response(status=200, text="ok")
