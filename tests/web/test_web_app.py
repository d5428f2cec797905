"""The web app's own contract around the webhook handlers: body limits, a handler that
raises, and everything else still going to Starlette."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import pytest

from bot.web.app import create_web_app


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
async def test_a_body_over_the_limit_is_400_and_never_reaches_the_handler(size: int) -> None:
    handler = Recorder()
    async with client(handler) as http:
        response = await http.post("/webhooks/waha", content=b"x" * size)
    assert response.status_code == 400 and handler.calls == []


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
