"""Linking a number through WAHA: sessions, QR code, pairing code, and the webhooks a
linked session sends, against the fake WAHA over real HTTP.

Webhooks go from the fake to a small receiver on 127.0.0.1 (``Receiver``), are checked
for WAHA's signature, parsed with ``parse_webhook`` as the web app does, and validated
against the published WAHA document with the specs README's corrections.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import struct
import threading
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from bot.gateways.base import (
    ErrorCategory,
    GatewayError,
    Receipt,
    ReceiptStatus,
    SenderRef,
    SenderState,
    SenderStateChanged,
)
from bot.gateways.waha import LinkStatus, WahaConfig, WahaGateway, parse_webhook
from tests.fakes import FakeClock
from tests.gateways.fake_waha import PAIRING_CODE, FakeWaha, FakeWahaServer, qr_png
from tests.gateways.http_fake import ThreadedServer
from tests.gateways.test_waha_contract import (
    SPEC_FILE,
    boolean_required_into_parent,
    component,
    errors_of,
    nullable_as_null_type,
)
from tests.web.test_waha_webhook import envelope, event_as_string, null_allowed

KEY = "waha-key-linking-41c7"
HOOK_KEY = "hook-secret-9d2e"
SESSION = "aysel-shop"
PHONE = "+994501234567"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

Category = ErrorCategory


# -- a webhook receiver ------------------------------------------------------------------


class Receiver:
    """Where the fake WAHA posts its webhooks: keeps each one, answers ``status``; while
    ``gate`` is closed, holds every answer (a slow receiver)."""

    def __init__(self) -> None:
        self.url = ""
        self.reset()

    def reset(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.gate = threading.Event()
        self.gate.set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        await asyncio.to_thread(self.gate.wait, 5)
        self.received.append((headers, raw))
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def bodies(self, event: str | None = None) -> list[dict[str, Any]]:
        found = [json.loads(raw) for _, raw in self.received]
        return [body for body in found if event is None or body["event"] == event]


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[Receiver]:
    with ThreadedServer(Receiver()) as receiver:
        yield receiver


@pytest.fixture
def receiver(receiver_server: Receiver) -> Receiver:
    receiver_server.reset()
    return receiver_server


@pytest.fixture(scope="module")
def waha_server() -> Iterator[FakeWaha]:
    with FakeWahaServer(FakeWaha(api_key=KEY)) as fake:
        yield fake


@pytest.fixture
def waha(waha_server: FakeWaha) -> Iterator[FakeWaha]:
    waha_server.reset()
    waha_server.auto_ack = False
    yield waha_server
    waha_server.flush_webhooks()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest.fixture
def gateway(waha: FakeWaha, client: httpx.AsyncClient, clock: FakeClock) -> WahaGateway:
    return WahaGateway(WahaConfig(waha.url, KEY, timeout=2.0), client, clock=clock)


async def failure(call: Any) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        await call
    return caught.value


def signed_by(headers: dict[str, str], raw: bytes, key: str = HOOK_KEY) -> bool:
    expected = hmac.new(key.encode(), raw, hashlib.sha512).hexdigest()
    return (headers.get("x-webhook-hmac-algorithm") == "sha512"
            and hmac.compare_digest(headers.get("x-webhook-hmac", ""), expected))


# -- creating a session and its QR -------------------------------------------------------


async def test_a_new_number_shows_a_qr_that_changes_and_is_linked_once_scanned(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    await gateway.start_session(SESSION)

    create = waha.requests[0]
    assert (create.method, create.path, create.status) == ("POST", "/api/sessions", 201)
    assert create.body == {"name": SESSION, "start": True}  # no webhook: no config
    assert await gateway.link_status(SESSION) == LinkStatus(
        SenderState.LINKING, None, "waiting for a QR scan or a code")

    first = await gateway.qr_code(SESSION)
    again = await gateway.qr_code(SESSION)
    waha.refresh_qr(SESSION)
    refreshed = await gateway.qr_code(SESSION)
    assert first.startswith(PNG_MAGIC) and refreshed.startswith(PNG_MAGIC)
    assert first == again != refreshed
    later = set()
    for _ in range(6):
        waha.refresh_qr(SESSION)
        later.add(await gateway.qr_code(SESSION))
    assert len(later) == 6 and first not in later and refreshed not in later
    qr = next(r for r in waha.requests if r.path == f"/api/{SESSION}/auth/qr")
    assert qr.query == {"format": "image"}
    assert qr.headers["accept"] == "image/png"

    waha.scan(SESSION, PHONE)
    status = await gateway.link_status(SESSION)
    assert status == LinkStatus(SenderState.WORKING, PHONE, "linked")

    # linked: the gateway now reads a later SCAN_QR_CODE as logged out
    waha.set_status(SESSION, "SCAN_QR_CODE")
    health = await gateway.sender_status(SenderRef(1, PHONE, SESSION))
    assert health.state is SenderState.BANNED


def test_the_fakes_qr_is_a_valid_png() -> None:
    """Signature, chunks with their CRCs, and an image of 21x21 grey pixels."""
    png = qr_png(1)
    assert png.startswith(PNG_MAGIC)
    chunks, at = {}, len(PNG_MAGIC)
    while at < len(png):
        (length,) = struct.unpack(">I", png[at:at + 4])
        kind, data = png[at + 4:at + 8], png[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length:at + 12 + length])
        assert zlib.crc32(kind + data) & 0xFFFFFFFF == crc
        chunks[kind] = data
        at += 12 + length
    assert list(chunks) == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (width, height, depth, colour) == (21, 21, 8, 0)
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + width)


async def test_no_qr_once_the_number_is_linked_says_why_and_is_transient(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    await gateway.start_session(SESSION)
    waha.scan(SESSION, PHONE)
    error = await failure(gateway.qr_code(SESSION))
    assert error.category is Category.TRANSIENT
    assert "WORKING" in error.detail
    assert waha.requests[-1].status == 422


async def test_a_qr_as_waha_json_base64_file_is_returned_as_png_bytes(
    gateway: WahaGateway, waha: FakeWaha, client: httpx.AsyncClient
) -> None:
    await gateway.start_session(SESSION)
    png = qr_png(7)
    waha.fail_next(200, {"mimetype": "image/png", "data": base64.b64encode(png).decode()},
                   path=f"/api/{SESSION}/auth/qr")
    assert await gateway.qr_code(SESSION) == png

    # the fake itself answers that shape to a client that asks for JSON
    answer = await client.get(f"{waha.url}/api/{SESSION}/auth/qr", params={"format": "image"},
                              headers={"X-Api-Key": KEY, "Accept": "application/json"})
    assert answer.headers["content-type"].startswith("application/json")
    assert base64.b64decode(answer.json()["data"]).startswith(PNG_MAGIC)


@pytest.mark.parametrize("body", [
    b"<html>QR</html>",
    {"mimetype": "image/png", "data": base64.b64encode(b"GIF89a...").decode()},
    {"mimetype": "image/png", "data": "not base64 at all!"},
    {"value": "2@raw-qr"},
    None,
])
async def test_an_unreadable_qr_is_transient_never_bytes_that_are_not_a_png(
    gateway: WahaGateway, waha: FakeWaha, body: Any
) -> None:
    waha.add_session(SESSION, status="SCAN_QR_CODE", linked=False)
    waha.fail_next(200, body, path=f"/api/{SESSION}/auth/qr")
    error = await failure(gateway.qr_code(SESSION))
    assert error.category is Category.TRANSIENT
    assert "unreadable" in error.detail


async def test_creating_a_session_that_exists_starts_it_instead(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    await gateway.start_session(SESSION)
    await gateway.start_session(SESSION)  # exists and started: nothing to do
    waha.scan(SESSION, PHONE)
    waha.set_status(SESSION, "STOPPED")
    await gateway.start_session(SESSION)  # exists and stopped: started again

    assert [(r.method, r.path, r.status) for r in waha.requests] == [
        ("POST", "/api/sessions", 201),
        ("POST", "/api/sessions", 422),
        ("POST", f"/api/sessions/{SESSION}/start", 422),  # "already started": fine
        ("POST", "/api/sessions", 422),
        ("POST", f"/api/sessions/{SESSION}/start", 201),
    ]
    assert "already exists" in waha.requests[1].response["message"]
    assert (await gateway.link_status(SESSION)).state is SenderState.WORKING


@pytest.mark.parametrize(("status", "message"), [
    (409, "Conflict"),
    (422, "Session 'aysel-shop' is already started."),  # WAHA Plus before 2025
    (400, "Session aysel-shop already exists"),
])
async def test_every_way_waha_says_exists_leads_to_start(
    gateway: WahaGateway, waha: FakeWaha, status: int, message: str
) -> None:
    waha.add_session(SESSION, status="STOPPED", linked=False)
    waha.fail_next(status, {"statusCode": status, "message": message}, path="/api/sessions")
    await gateway.start_session(SESSION)
    assert waha.requests[-1].path == f"/api/sessions/{SESSION}/start"
    assert waha.sessions[SESSION].status == "SCAN_QR_CODE"


@pytest.mark.parametrize(("status", "body", "category"), [
    (422, {"statusCode": 422, "message": "Session name is not valid"}, Category.SENDER_BANNED),
    (400, {"statusCode": 400, "message": ["name must be a string"]}, Category.REJECTED),
    (401, {"message": "Unauthorized"}, Category.REJECTED),
    (503, {"message": "busy"}, Category.TRANSIENT),
])
async def test_a_create_refused_for_another_reason_raises_and_starts_nothing(
    gateway: WahaGateway, waha: FakeWaha, status: int, body: Any, category: ErrorCategory
) -> None:
    waha.fail_next(status, body, path="/api/sessions")
    assert (await failure(gateway.start_session(SESSION))).category is category
    assert [r.path for r in waha.requests] == ["/api/sessions"]


async def test_start_of_an_existing_session_that_fails_raises(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    waha.add_session(SESSION, status="STOPPED", linked=False)
    waha.fail_next(500, {"message": "engine crashed"}, path=f"/api/sessions/{SESSION}/start")
    assert (await failure(gateway.start_session(SESSION))).category is Category.TRANSIENT


@pytest.mark.parametrize(("status", "state"), [
    ("STARTING", SenderState.LINKING), ("SCAN_QR_CODE", SenderState.LINKING),
    ("PASSKEY_REQUIRED", SenderState.LINKING),
    ("PASSKEY_CONFIRMATION_REQUIRED", SenderState.LINKING),
    ("FAILED", SenderState.BANNED), ("STOPPED", SenderState.STOPPED),
])
async def test_link_status_maps_each_waha_status(
    gateway: WahaGateway, waha: FakeWaha, status: str, state: SenderState
) -> None:
    waha.add_session(SESSION, status=status)
    linked = await gateway.link_status(SESSION)
    assert (linked.state, linked.phone) == (state, None)
    assert linked.detail


@pytest.mark.parametrize(("me", "phone"), [
    ({"id": "994501234567@c.us", "pushName": "Aysel"}, PHONE),
    ({"id": "994501234567:12@s.whatsapp.net", "pushName": "Aysel"}, PHONE),
    ({"id": "123@lid", "pushName": "Aysel"}, None),
    (None, None),
])
async def test_the_linked_number_comes_from_me_id_when_readable(
    gateway: WahaGateway, waha: FakeWaha, me: Any, phone: str | None
) -> None:
    body: dict[str, Any] = {"name": SESSION, "status": "WORKING"}
    if me is not None:
        body["me"] = me
    waha.fail_next(200, body, path=f"/api/sessions/{SESSION}")
    assert await gateway.link_status(SESSION) == LinkStatus(SenderState.WORKING, phone,
                                                            "linked")


async def test_link_status_raises_what_it_cannot_read(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    waha.fail_next(200, {"name": SESSION}, path=f"/api/sessions/{SESSION}")
    assert (await failure(gateway.link_status(SESSION))).category is Category.TRANSIENT


async def test_an_unknown_session_is_not_linked_for_every_linking_call(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    for call in (gateway.link_status("gone"), gateway.qr_code("gone"),
                 gateway.request_code("gone", PHONE)):
        error = await failure(call)
        assert error.category is Category.SENDER_BANNED
        assert "not linked" in error.detail
    assert {r.status for r in waha.requests} == {404}


# -- pairing code ------------------------------------------------------------------------


async def test_a_pairing_code_is_asked_for_the_number_in_digits(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    await gateway.start_session(SESSION)
    assert await gateway.request_code(SESSION, f" {PHONE} ") == PAIRING_CODE
    request = waha.requests[-1]
    assert (request.method, request.path) == ("POST", f"/api/{SESSION}/auth/request-code")
    assert request.body == {"phoneNumber": "994501234567"}
    assert waha.sessions[SESSION].pairing_phone == "994501234567"


async def test_a_pairing_code_for_a_non_number_is_refused_before_any_request(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    for phone in ("0501234567", "+994-50-123", "aysel"):
        error = await failure(gateway.request_code(SESSION, phone))
        assert error.category is Category.RECIPIENT_INVALID
    assert waha.requests == []


@pytest.mark.parametrize("body", [None, {"code": ""}, {"status": "ok"}, b"ABCD-1234"])
async def test_an_answer_without_a_readable_code_is_transient(
    gateway: WahaGateway, waha: FakeWaha, body: Any
) -> None:
    waha.fail_next(201, body, path=f"/api/{SESSION}/auth/request-code")
    assert (await failure(gateway.request_code(SESSION, PHONE))).category \
        is Category.TRANSIENT


async def test_no_pairing_code_for_a_linked_number_says_why(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    waha.add_session(SESSION)  # WORKING
    error = await failure(gateway.request_code(SESSION, PHONE))
    assert error.category is Category.TRANSIENT
    assert "WORKING" in error.detail


# -- deleting ----------------------------------------------------------------------------


async def test_delete_logs_out_then_deletes_and_twice_is_fine(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    await gateway.start_session(SESSION)
    waha.scan(SESSION, PHONE)
    await gateway.delete_session(SESSION)
    assert SESSION not in waha.sessions
    await gateway.delete_session(SESSION)  # already gone: logout 404, delete 200

    assert [(r.method, r.path, r.status) for r in waha.requests[1:]] == [
        ("POST", f"/api/sessions/{SESSION}/logout", 201),
        ("DELETE", f"/api/sessions/{SESSION}", 200),
        ("POST", f"/api/sessions/{SESSION}/logout", 404),
        ("DELETE", f"/api/sessions/{SESSION}", 200),
    ]
    assert (await failure(gateway.link_status(SESSION))).category is Category.SENDER_BANNED


async def test_delete_of_a_session_waha_no_longer_knows_is_fine(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    waha.add_session(SESSION, status="STOPPED")
    waha.fail_next(422, {"statusCode": 422, "message": "Session is STOPPED"},
                   path=f"/api/sessions/{SESSION}/logout")
    waha.fail_next(404, {"statusCode": 404, "message": "Session not found"},
                   path=f"/api/sessions/{SESSION}")
    await gateway.delete_session(SESSION)


@pytest.mark.parametrize(("path", "status", "body", "category"), [
    (f"/api/sessions/{SESSION}", 500, {"message": "disk full"}, Category.TRANSIENT),
    (f"/api/sessions/{SESSION}", 404, {"message": f"Cannot DELETE /api/sessions/{SESSION}"},
     Category.REJECTED),
    (f"/api/sessions/{SESSION}/logout", 404,
     {"message": f"Cannot POST /api/sessions/{SESSION}/logout"}, Category.REJECTED),
    (f"/api/sessions/{SESSION}/logout", 401, {"message": "Unauthorized"}, Category.REJECTED),
])
async def test_a_delete_that_fails_raises(
    gateway: WahaGateway, waha: FakeWaha, path: str, status: int, body: Any,
    category: ErrorCategory,
) -> None:
    waha.add_session(SESSION)
    waha.fail_next(status, body, path=path)
    assert (await failure(gateway.delete_session(SESSION))).category is category
    assert SESSION in waha.sessions


async def test_linking_calls_never_log_the_api_key_or_the_webhook_key(
    gateway: WahaGateway, waha: FakeWaha, receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await gateway.start_session(SESSION, webhook_url=receiver.url, webhook_key=HOOK_KEY)
    await gateway.start_session(SESSION, webhook_url=receiver.url, webhook_key=HOOK_KEY)
    waha.fail_next(500, {"message": f"bad key {KEY}"}, path=f"/api/{SESSION}/auth/qr")
    error = await failure(gateway.qr_code(SESSION))
    await gateway.request_code(SESSION, PHONE)
    await gateway.delete_session(SESSION)
    for text in (caplog.text, str(error), error.detail):
        assert KEY not in text and HOOK_KEY not in text
    assert "994501234567" not in caplog.text
    assert f"WAHA GET /api/{SESSION}/auth/qr: HTTP 500 -> transient" in caplog.text


# -- webhooks ----------------------------------------------------------------------------


async def test_a_linked_session_reports_its_status_by_signed_webhook(
    gateway: WahaGateway, waha: FakeWaha, receiver: Receiver
) -> None:
    await gateway.start_session(SESSION, webhook_url=receiver.url, webhook_key=HOOK_KEY)
    assert waha.requests[0].body["config"] == {"webhooks": [{
        "url": receiver.url, "events": ["message", "message.ack", "session.status"],
        "hmac": {"key": HOOK_KEY},
    }]}
    await waha.wait_webhooks_idle()
    waha.scan(SESSION, PHONE)
    await waha.wait_webhooks_idle()

    assert all(signed_by(headers, raw) for headers, raw in receiver.received)
    bodies = receiver.bodies()
    assert [b["payload"]["status"] for b in bodies] == ["STARTING", "SCAN_QR_CODE", "WORKING"]
    assert [p["status"] for p in bodies[-1]["payload"]["statuses"]] == [
        "STOPPED", "STARTING", "SCAN_QR_CODE", "WORKING"]
    assert bodies[-1]["me"]["id"] == "994501234567@c.us"
    assert "me" not in bodies[0]  # no number linked yet

    events = [event for body in bodies for event in parse_webhook(body, {SESSION: 7})]
    assert [(e.sender_id, e.health.state) for e in events
            if isinstance(e, SenderStateChanged)] == [(7, SenderState.WORKING)]

    waha.set_status(SESSION, "FAILED")
    await waha.wait_webhooks_idle()
    [failed] = parse_webhook(receiver.bodies()[-1], {SESSION: 7})
    assert isinstance(failed, SenderStateChanged)
    assert failed.health.state is SenderState.BANNED


async def test_without_a_key_webhooks_are_not_signed(
    gateway: WahaGateway, waha: FakeWaha, receiver: Receiver
) -> None:
    await gateway.start_session(SESSION, webhook_url=receiver.url)
    assert "hmac" not in waha.requests[0].body["config"]["webhooks"][0]
    await waha.wait_webhooks_idle()
    assert receiver.received
    assert all("x-webhook-hmac" not in headers for headers, _ in receiver.received)


async def test_sends_are_acked_server_device_read_in_order_with_the_sent_id(
    gateway: WahaGateway, waha: FakeWaha, receiver: Receiver
) -> None:
    await gateway.start_session(SESSION, webhook_url=receiver.url, webhook_key=HOOK_KEY)
    waha.scan(SESSION, PHONE)
    waha.auto_ack = True
    sender = SenderRef(1, PHONE, SESSION)
    first = await gateway.send_text(sender, "+994507654321", "Salam!")
    second = await gateway.send_text(sender, "+994507654322", "Salam!")
    await waha.wait_webhooks_idle()

    acks = receiver.bodies("message.ack")
    assert all(signed_by(headers, raw) for headers, raw in receiver.received)
    assert [(a["payload"]["id"], a["payload"]["ack"], a["payload"]["ackName"])
            for a in acks] == [
        (first.message_id, 1, "SERVER"), (first.message_id, 2, "DEVICE"),
        (first.message_id, 3, "READ"),
        (second.message_id, 1, "SERVER"), (second.message_id, 2, "DEVICE"),
        (second.message_id, 3, "READ"),
    ]
    assert acks[0]["payload"]["from"] == "994501234567@c.us"
    assert acks[0]["payload"]["to"] == "994507654321@c.us"
    receipts = [e for a in acks for e in parse_webhook(a, {SESSION: 1})]
    assert all(isinstance(r, Receipt) for r in receipts)
    assert [(r.message_id, r.status) for r in receipts[:3]] == [
        (first.message_id, ReceiptStatus.SENT), (first.message_id, ReceiptStatus.DELIVERED),
        (first.message_id, ReceiptStatus.READ)]


async def test_a_slow_receiver_does_not_hold_up_the_send(
    gateway: WahaGateway, waha: FakeWaha, receiver: Receiver
) -> None:
    await gateway.start_session(SESSION, webhook_url=receiver.url)
    waha.scan(SESSION, PHONE)
    await waha.wait_webhooks_idle()
    receiver.gate.clear()  # the receiver answers nothing until the gate opens
    waha.auto_ack = True
    before = len(receiver.received)

    result = await asyncio.wait_for(
        gateway.send_text(SenderRef(1, PHONE, SESSION), "+994507654321", "Salam!"), 1.5)
    assert len(receiver.received) == before  # answered while the acks wait

    receiver.gate.set()
    await waha.wait_webhooks_idle()
    assert [a["payload"]["ack"] for a in receiver.bodies("message.ack")] == [1, 2, 3]
    assert {a["payload"]["id"] for a in receiver.bodies("message.ack")} == {result.message_id}


async def test_a_failed_delivery_is_recorded_not_raised(
    gateway: WahaGateway, waha: FakeWaha, receiver: Receiver
) -> None:
    receiver.status = 500
    await gateway.start_session(SESSION, webhook_url=receiver.url)
    await gateway.start_session("nowhere", webhook_url="http://127.0.0.1:9/hooks")
    await waha.wait_webhooks_idle()
    failures = {(f.url, f.status) for f in waha.webhook_failures}
    assert (receiver.url, 500) in failures
    assert ("http://127.0.0.1:9/hooks", None) in failures
    assert len(waha.webhooks_sent) == 4  # STARTING, SCAN_QR_CODE for each session


# -- the webhook bodies against WAHA's published document --------------------------------


@pytest.fixture(scope="module")
def webhook_spec() -> dict[str, Any]:
    """The published document with the specs README's corrections (as in
    tests/web/test_waha_webhook.py): ``event`` a string, the nulls real payloads carry,
    OpenAPI 3.0 keywords."""
    spec = json.loads(SPEC_FILE.read_bytes())
    assert event_as_string(spec) > 0
    assert null_allowed(spec, "WAMessageAckBody", ("participant",))
    assert null_allowed(spec, "WAHAEnvironment", ("browser",))
    assert boolean_required_into_parent(spec) > 0
    assert nullable_as_null_type(spec) > 0
    return spec


async def test_the_fakes_webhooks_are_what_waha_documents(
    gateway: WahaGateway, waha: FakeWaha, receiver: Receiver, webhook_spec: dict[str, Any]
) -> None:
    await gateway.start_session(SESSION, webhook_url=receiver.url, webhook_key=HOOK_KEY)
    waha.scan(SESSION, PHONE)
    waha.auto_ack = True
    await gateway.send_text(SenderRef(1, PHONE, SESSION), "+994507654321", "Salam!")
    await waha.wait_webhooks_idle()

    schemas = {"session.status": "WAHAWebhookSessionStatus",
               "message.ack": "WAHAWebhookMessageAck"}
    bodies = receiver.bodies()
    assert {b["event"] for b in bodies} == set(schemas)
    problems = {f"{b['event']} #{i}": errors_of(component(webhook_spec, schemas[b["event"]]), b)
                for i, b in enumerate(bodies)}
    assert {where: found for where, found in problems.items() if found} == {}
    shape = set(envelope("message.ack", {}))  # the envelope the web tests post
    assert all(set(b) == shape for b in bodies if "me" in b)
    assert all(set(b) == shape - {"me"} for b in bodies if "me" not in b)

    # and as published, they fail only where the README says the document is wrong
    published = json.loads(SPEC_FILE.read_bytes())
    ack = next(b for b in bodies if b["event"] == "message.ack")
    assert any("event" in e for e in errors_of(component(published, "WAHAWebhookMessageAck"),
                                               ack))
