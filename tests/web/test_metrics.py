"""``/metrics`` as an operator's Prometheus sees it: the whole Qasid app on a real SQLite
file, messages sent through the sandbox, WAHA webhooks posted to the public port, and the
metrics listener (``bot/web/metrics.py``) scraped over HTTP on a port of its own, the text
parsed by prometheus-client's own parser."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.config import Settings
from bot.console.botapi import FakeBotApi, FakeUser
from bot.console.http import serving
from bot.gateways.base import ErrorCategory, GatewayError
from bot.services.dispatcher import Dispatcher, DispatcherConfig
from bot.services.metrics import DatabaseFigures
from bot.storage import metrics as figures
from bot.storage.db import Database
from bot.web import metrics as web_metrics
from bot.web.metrics import MetricsServer, PrometheusMetrics, metrics_server
from tests.e2e.api_world import A_PHONES, ApiWorld, api_world
from tests.e2e.conftest import ADMIN_ID, Harness
from tests.fakes import FakeClock, RecordingGateway
from tests.unit.test_dispatcher import Harness as DispatchHarness

KEY = "waha-signing-key"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse(text: str) -> tuple[Samples, dict[str, str]]:
    """Every sample by (name, labels), and every family's TYPE."""
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples, types


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def waha_body(session: str = "nobody-uses-this-session") -> bytes:
    return json.dumps({
        "id": "evt_01", "timestamp": 1_764_061_200_000, "session": session,
        "engine": "WEBJS", "event": "session.status",
        "payload": {"name": session, "status": "WORKING", "statuses": []},
    }).encode()


def signed(body: bytes, key: str = KEY) -> dict[str, str]:
    return {"X-Webhook-Hmac": hmac.new(key.encode(), body, hashlib.sha512).hexdigest(),
            "X-Webhook-Hmac-Algorithm": "sha512", "Content-Type": "application/json"}


@pytest.fixture
def settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_path": tmp_path / "metrics.sqlite3", "admin_ids": frozenset({ADMIN_ID}),
            "telegram_bot_token": None, "sandbox_delivery_delay": 0.01,
            "sandbox_read_delay": 0.01, "sandbox_invalid_share": 0.0,
            "waha_webhook_key": KEY,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
async def world(settings: Callable[..., Settings]) -> AsyncIterator[tuple[ApiWorld, str]]:
    """The app with the API world seeded (``tests/e2e/api_world.py``) on its public port,
    and the metrics listener on another free port of 127.0.0.1: (world, metrics URL)."""
    harness = Harness(FakeBotApi(), settings())
    await harness.start()
    try:
        async with api_world(harness) as w:
            server = MetricsServer(w.qasid.metrics, "127.0.0.1", free_port())
            assert await server.start()
            try:
                yield w, server.url
            finally:
                await server.stop()
    finally:
        await harness.stop()


async def scrape(url: str) -> tuple[httpx.Response, Samples, dict[str, str]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200, response.text
    samples, types = parse(response.text)
    return response, samples, types


async def test_a_scrape_tells_messages_sends_and_webhooks(
        world: tuple[ApiWorld, str]) -> None:
    w, url = world
    async with w.client(w.key_a) as http:
        ids = []
        for phone in A_PHONES[:2]:  # two: a number's messages by API go 3 s apart
            sent = await http.post("/messages", json={"phone": phone, "text": "Salam"})
            assert sent.status_code == 202, sent.text
            ids.append(sent.json()["id"])

        async def out() -> bool:
            states = [(await http.get(f"/messages/{i}")).json()["status"] for i in ids]
            return all(s in ("sent", "delivered", "read") for s in states)

        for _ in range(200):  # the dispatcher's ticks send them through the sandbox
            if await out():
                break
            await asyncio.sleep(0.05)
        assert await out()
    async with httpx.AsyncClient(base_url=w.url) as public:
        body = waha_body()
        assert (await public.post("/webhooks/waha", content=body,
                                  headers=signed(body))).status_code == 200
        assert (await public.post("/webhooks/waha", content=body,
                                  headers=signed(body, "a wrong key"))).status_code == 401
        assert (await public.post("/webhooks/waha", content=b"[not json",
                                  headers=signed(b"[not json"))).status_code == 400

    response, samples, types = await scrape(url)
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert "# HELP qasid_messages " in text and "# TYPE qasid_messages gauge" in text

    # the outbox: the seeded campaign's messages have no number ("none"), the two sent by
    # API went out on owner A's sandbox number
    assert value(samples, "qasid_messages", state="read", gateway="none") == 2
    assert value(samples, "qasid_messages", state="failed", gateway="none") == 1
    assert value(samples, "qasid_messages", state="queued", gateway="none") == 1
    out_on_sandbox = sum(value(samples, "qasid_messages", state=s, gateway="sandbox")
                         for s in ("sent", "delivered", "read"))
    assert out_on_sandbox == 2
    assert value(samples, "qasid_messages", state="uncertain", gateway="sandbox") == 0

    # the dispatcher's two sends: counted, and their latency observed
    assert types["qasid_sends"] == "counter" and types["qasid_send_seconds"] == "histogram"
    assert value(samples, "qasid_sends_total", gateway="sandbox", result="sent") == 2
    assert value(samples, "qasid_send_seconds_count", gateway="sandbox") == 2
    assert value(samples, "qasid_send_seconds_bucket", gateway="sandbox", le="+Inf") == 2
    assert 0 < value(samples, "qasid_send_seconds_sum", gateway="sandbox") < 30

    # the webhooks: one applied, one with a wrong signature, one not JSON
    assert value(samples, "qasid_webhook_requests_total", kind="waha", result="ok") == 1
    assert value(samples, "qasid_webhook_requests_total", kind="waha",
                 result="bad_signature") == 1
    assert value(samples, "qasid_webhook_requests_total", kind="waha",
                 result="bad_request") == 1
    assert value(samples, "qasid_webhook_errors_total", kind="waha") == 2

    # the outgoing webhooks: owner A's endpoints' hosts resolve to nothing here, so the
    # worker's tries of the sent messages' events fail, each counted
    for _ in range(200):
        _, samples, _ = await scrape(url)
        if value(samples, "qasid_outgoing_webhook_deliveries_total", result="failed") >= 1:
            break
        await asyncio.sleep(0.05)
    assert value(samples, "qasid_outgoing_webhook_deliveries_total", result="failed") >= 1
    assert value(samples, "qasid_outgoing_webhook_deliveries_total", result="delivered") == 0

    # owner A's number: its health, and nothing personal anywhere in the text
    numbers = [labels for (name, labels) in samples if name == "qasid_sender_info"]
    assert len(numbers) == 1
    number = dict(numbers[0])
    assert (number["gateway"], number["status"], number["guard_mode"]) == (
        "sandbox", "active", "normal")
    assert number["owner_id"] == str(w.a)
    assert value(samples, "qasid_sender_gap_factor", sender_id=number["sender_id"]) == 1.0
    for phone in A_PHONES:
        assert phone not in text and phone.lstrip("+") not in text
    assert w.key_a not in text
    assert value(samples, "qasid_database_up") == 1
    assert value(samples, "qasid_workers") == 0  # the single process: no worker leases
    assert value(samples, "qasid_leases", kind="sender") == 0
    assert value(samples, "qasid_info", version=dict(
        next(labels for (name, labels) in samples if name == "qasid_info"))["version"],
        engine="sqlite") == 1
    assert ("process_resident_memory_bytes", frozenset()) in samples


async def test_the_queue_and_its_lag(world: tuple[ApiWorld, str]) -> None:
    """A message planned 300 s ago on a running campaign waits: depth and lag say so."""
    w, url = world
    db = w.qasid.db
    now = w.qasid.services.dispatcher._clock().timestamp()
    async with db.transaction() as tx:  # owner A's running campaign 1, its number unset
        await tx.execute("UPDATE messages SET planned_at = ? WHERE status = 'queued'",
                         (now - 300,))
    expected = await figures.queue(db.reader, now)
    _, samples, _ = await scrape(url)
    assert value(samples, "qasid_queue_depth") == expected.due >= 1
    assert value(samples, "qasid_queue_lag_seconds") >= 300


async def test_metrics_are_not_on_the_public_port(world: tuple[ApiWorld, str]) -> None:
    w, url = world
    async with httpx.AsyncClient() as client:
        assert (await client.get(w.url + "/metrics")).status_code == 404
        assert (await client.get(url.replace("/metrics", "/healthz"))).status_code == 404
        assert (await client.post(url)).status_code == 405


async def test_metrics_port_zero_is_no_listener(settings: Callable[..., Settings]) -> None:
    off = settings(metrics_port=0)
    assert (off.metrics_host, off.metrics_port) == ("127.0.0.1", 0)
    on = settings()
    assert (on.metrics_host, on.metrics_port) == ("127.0.0.1", 9464)  # the defaults
    harness = Harness(FakeBotApi(), off)
    try:
        qasid = await harness.start()
        assert metrics_server(qasid.metrics, off.metrics_host, off.metrics_port) is None
    finally:
        await harness.stop()


async def test_a_taken_port_is_a_warning_not_a_stop(
        settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    harness = Harness(FakeBotApi(), settings())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            qasid = await harness.start()
            with caplog.at_level(logging.WARNING, logger="bot.web.metrics"):
                assert not await MetricsServer(qasid.metrics, "127.0.0.1", port).start()
        finally:
            await harness.stop()
    assert any("cannot listen" in r.getMessage() for r in caplog.records)


async def test_python_m_bot_serves_metrics_on_its_own_port(tmp_path: Path) -> None:
    """``python -m bot`` as an operator runs it: METRICS_PORT answers /metrics, the public
    HTTP_PORT does not."""
    api = FakeBotApi()
    api.add_user(FakeUser(id=4242, first_name="Nigar"))
    http_port, metrics_port = free_port(), free_port()
    async with serving(api) as bot_api:
        env = {
            "PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
            "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": f"{bot_api}/bot",
            "TELEGRAM_FILE_URL": f"{bot_api}/file/bot",
            "DATABASE_PATH": str(tmp_path / "q.sqlite3"), "HTTP_PORT": str(http_port),
            "METRICS_PORT": str(metrics_port), "PTB_TIMEDELTA": "1",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
            assert line.startswith(b"ready: "), line
            _, samples, _ = await scrape(f"http://127.0.0.1:{metrics_port}/metrics")
            assert value(samples, "qasid_database_up") == 1
            assert value(samples, "qasid_queue_depth") == 0
            async with httpx.AsyncClient() as client:
                public = await client.get(f"http://127.0.0.1:{http_port}/metrics")
            assert public.status_code == 404
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr


async def test_a_slow_outbox_count_answers_with_the_last_one(
        world: tuple[ApiWorld, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A big outbox's count runs beside the scrape: the scrape answers with the count it
    had (and how old it is), the new one shows at the next scrape once done."""
    w, url = world
    _, before, _ = await scrape(url)
    assert value(before, "qasid_messages", state="read", gateway="none") == 2
    gate = asyncio.Event()
    count = DatabaseFigures.outbox

    async def slow(self: DatabaseFigures) -> list[tuple[str, int | None, int]]:
        await gate.wait()
        return await count(self)

    monkeypatch.setattr(DatabaseFigures, "outbox", slow)
    monkeypatch.setattr(web_metrics, "OUTBOX_WAIT", 0)
    async with w.qasid.db.transaction() as tx:
        await tx.execute("UPDATE messages SET status = 'read' WHERE status = 'delivered'")
    _, during, _ = await scrape(url)
    assert value(during, "qasid_messages", state="read", gateway="none") == 2  # the last
    assert value(during, "qasid_messages_age_seconds") >= 0
    gate.set()
    counting = w.qasid.metrics._counting
    assert counting is not None
    await counting
    _, after, _ = await scrape(url)
    assert value(after, "qasid_messages", state="read", gateway="none") == 3


async def test_failed_sends_are_counted_by_their_category(db: Database,
                                                         clock: FakeClock) -> None:
    """The dispatcher's outcomes: a number not on WhatsApp, a rate limit, a timeout."""
    script = {1: GatewayError(ErrorCategory.RECIPIENT_INVALID, "not on WhatsApp"),
              2: GatewayError(ErrorCategory.RATE_LIMITED, "slow down", retry_after=60),
              3: GatewayError(ErrorCategory.UNCERTAIN, "read timeout")}
    gateway = RecordingGateway(clock, fail=script)
    metrics = PrometheusMetrics(DatabaseFigures(db), clock)
    try:
        h = DispatchHarness(db, clock, gateway)
        h.dispatcher = Dispatcher(db, gateway, h.templates, h.notifier,
                                  DispatcherConfig(progress_every=0), clock,
                                  campaigns_service=h.campaigns, metrics=metrics)
        gateway.set_event_handler(h.dispatcher.events.on_event)
        await h.campaign(4)
        await h.run(200)
    finally:
        await gateway.close()
    samples, _ = parse(generate_latest(metrics.registry).decode())
    kind = gateway.kind
    assert value(samples, "qasid_sends_total", gateway=kind, result="sent") == 2
    for result in ("recipient_invalid", "rate_limited", "uncertain"):
        assert value(samples, "qasid_sends_total", gateway=kind, result=result) == 1
    assert value(samples, "qasid_send_seconds_count", gateway=kind) == 5
