"""The web app's own contract around the webhook handlers: body limits, a handler that
raises, and everything else still going to Starlette."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx
import pytest

from bot.web.app import WebLimits, create_web_app
from tests.fakes import wait_until


class Recorder:
    max_body = 1000

    def __init__(self, status: int = 200, fail: bool = False) -> None:
        self.status, self.fail = status, fail
        self.calls: list[tuple[bytes, dict[str, str]]] = []

    async def __call__(self, raw: bytes, headers: Mapping[str, str]) -> int:
        self.calls.append((raw, dict(headers)))
        if self.fail:
            raise RuntimeError("boom")
        return self.status


async def healthy() -> dict[str, bool]:
    return {"database": True}


def client(handler: Recorder) -> httpx.AsyncClient:
    app = create_web_app(healthy, waha_webhook=handler)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://q")


async def test_the_handler_gets_the_body_and_lowercase_headers_and_answers() -> None:
    handler = Recorder(status=202)
    async with client(handler) as http:
        response = await http.post("/webhooks/waha", content=b'{"a": 1}',
                                   headers={"X-Webhook-Hmac": "abc"})
    assert (response.status_code, response.content) == (202, b"")
    [(raw, headers)] = handler.calls
    assert raw == b'{"a": 1}' and headers["x-webhook-hmac"] == "abc"


@pytest.mark.parametrize("size", [1001, 50_000])
async def test_a_body_over_the_limit_is_413_and_never_reaches_the_handler(size: int) -> None:
    handler = Recorder()
    async with client(handler) as http:
        response = await http.post("/webhooks/waha", content=b"x" * size)
    assert response.status_code == 413 and handler.calls == []


async def test_a_handler_that_raises_is_answered_500_and_logged(caplog) -> None:
    async with client(Recorder(fail=True)) as http:
        response = await http.post("/webhooks/waha", content=b"{}")
    assert response.status_code == 500
    assert "webhook /webhooks/waha failed" in caplog.text


async def test_other_routes_and_methods_go_to_starlette() -> None:
    handler = Recorder()
    async with client(handler) as http:
        assert (await http.get("/healthz")).json()["status"] == "ok"
        assert (await http.get("/webhooks/waha")).status_code == 404  # POST only
        assert (await http.post("/webhooks/cloud", content=b"{}")).status_code == 404
    assert handler.calls == []


class SlowBody:
    """An ASGI request whose body arrives in chunks, each when the test says so."""

    def __init__(self, client: str, chunks: list[bytes]) -> None:
        self.scope = {"type": "http", "method": "POST", "path": "/webhooks/waha",
                      "headers": [], "client": (client, 5000)}
        self.chunks = chunks
        self.go = asyncio.Event()
        self.status: int | None = None

    async def receive(self) -> dict:
        if len(self.chunks) > 1:
            chunk = self.chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": True}
        await self.go.wait()
        return {"type": "http.request", "body": self.chunks.pop(0), "more_body": False}

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]


async def test_bodies_in_flight_are_bounded_and_health_stays_green() -> None:
    # a budget of 3,000 bytes for every body being read: 5 slow clients sending 900 bytes
    # and waiting; the fourth and fifth are refused at once (503), the first three go on
    handler = Recorder()
    app = create_web_app(healthy, waha_webhook=handler,
                         limits=WebLimits(inflight_bytes=3000, per_client=10))
    slow = [SlowBody(f"10.0.0.{i}", [b"x" * 900, b"{}"]) for i in range(5)]
    tasks = [asyncio.create_task(app(b.scope, b.receive, b.send)) for b in slow]
    await wait_until(lambda: app.inflight == 2700 and all(b.status for b in slow[3:]),
                     what="three bodies read in part, two refused")
    assert [b.status for b in slow] == [None, None, None, 503, 503]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://q") as http:
        assert (await http.get("/healthz")).status_code == 200
    for b in slow:
        b.go.set()
    await asyncio.gather(*tasks)
    assert [b.status for b in slow] == [200, 200, 200, 503, 503]
    assert app.inflight == 0


async def test_one_client_cannot_hold_more_than_its_share_of_requests() -> None:
    handler = Recorder()
    app = create_web_app(healthy, waha_webhook=handler,
                         limits=WebLimits(inflight_bytes=10**6, per_client=2))
    slow = [SlowBody("10.0.0.1", [b"{", b"}"]) for _ in range(3)]
    other = SlowBody("10.0.0.2", [b"{", b"}"])
    tasks = [asyncio.create_task(app(b.scope, b.receive, b.send)) for b in [*slow, other]]
    await wait_until(lambda: slow[2].status is not None
                     and all(len(b.chunks) == 1 for b in (slow[0], slow[1], other)),
                     what="the third request refused, the other three reading")
    assert [b.status for b in slow] == [None, None, 503] and other.status is None
    for b in [*slow, other]:
        b.go.set()
    await asyncio.gather(*tasks)
    assert [b.status for b in slow] == [200, 200, 503] and other.status == 200
    assert len(handler.calls) == 3


async def test_a_body_that_never_finishes_is_answered_408() -> None:
    handler = Recorder()
    app = create_web_app(healthy, waha_webhook=handler,
                         limits=WebLimits(body_seconds=0.05))
    slow = SlowBody("10.0.0.1", [b"{", b"}"])
    await app(slow.scope, slow.receive, slow.send)
    assert slow.status == 408 and handler.calls == [] and app.inflight == 0
