"""``POST /webhooks/waha`` end to end: the real web app, a real database and dispatcher.

A campaign goes out through a gateway that answers with WAHA-style message ids; its
sender is then the WAHA session ``shop``. Webhook bodies are WAHA's documented shapes,
checked against the published OpenAPI document with the specs README's corrections.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bot.gateways.base import SendResult
from bot.gateways.sandbox import SandboxConfig, SandboxGateway
from bot.gateways.waha import parse_webhook
from bot.services.notify import SenderLost
from bot.services.replies import RepliesService
from bot.services.sender_directory import SenderDirectory
from bot.storage import contacts, senders
from bot.storage.db import Database
from bot.web.app import create_web_app
from bot.web.waha import WahaWebhook
from tests.fakes import FakeClock
from tests.gateways.test_waha_contract import (
    SPEC_FILE,
    boolean_required_into_parent,
    component,
    errors_of,
    nullable_as_null_type,
)
from tests.unit.test_dispatcher import Harness

KEY = "webhook-secret"
SESSION = "shop"
CUSTOMER = "+994500000000"  # the Harness's first contact
CHAT = "994500000000@c.us"
MESSAGE_ID = f"true_{CHAT}_3EB0C0FFEE0001"


class WahaIds(SandboxGateway):
    """Accepts every message and answers with the id WAHA's webhooks will use for it."""

    async def send_text(self, sender, to, text):
        return SendResult(f"true_{to.removeprefix('+')}@c.us_3EB0C0FFEE0001", datetime.now(UTC))


# -- WAHA's bodies ------------------------------------------------------------------------


def envelope(event: str, payload: dict[str, Any], *, session: str = SESSION,
             ms: int = 1_764_061_200_000) -> dict[str, Any]:
    return {
        "id": "evt_01jz8x6q3m4n5p6r7s8t9v0w1x", "timestamp": ms, "session": session,
        "engine": "WEBJS", "event": event, "payload": payload,
        "me": {"id": "994509990000@c.us", "pushName": "Shop"},
        "environment": {"version": "2026.9.2", "engine": "WEBJS", "tier": "CORE",
                        "browser": None, "platform": "linux/x64", "worker": {"id": None}},
    }


def ack(value: int, name: str, *, ms: int = 1_764_061_200_000) -> dict[str, Any]:
    return envelope("message.ack", {
        "id": MESSAGE_ID, "from": "994509990000@c.us", "to": CHAT, "participant": None,
        "fromMe": True, "ack": value, "ackName": name,
    }, ms=ms)


def session_status(status: str, *, history: tuple[str, ...] = ("WORKING",)) -> dict[str, Any]:
    points = [{"status": s, "timestamp": 1_764_061_000_000 + i} for i, s in enumerate(history)]
    return envelope("session.status", {"name": SESSION, "status": status,
                                       "statuses": [*points, {"status": status,
                                                              "timestamp": 1_764_061_200_000}],
                                       "data": None})


def incoming(text: str, *, from_me: bool = False, chat: str = CHAT) -> dict[str, Any]:
    return envelope("message", {
        "id": f"false_{chat}_3A0000000000000001", "timestamp": 1_764_061_200, "from": chat,
        "fromMe": from_me, "source": "app", "to": "994509990000@c.us", "body": text,
        "participant": None, "hasMedia": False, "mediaUrl": None, "ack": 1,
        "ackName": "SERVER",
    })


MEDIA_URL = f"http://localhost:3000/api/files/{SESSION}/false_{CHAT}_3A0000000000000002.jpeg"
VCARD = ("BEGIN:VCARD\nVERSION:3.0\nN:Məmmədova;Leyla;;;\nFN:Leyla Məmmədova\n"
         "TEL;type=CELL;type=VOICE;waid=994502223344:+994 50 222 33 44\nEND:VCARD")


def customer_message(**fields: Any) -> dict[str, Any]:
    """A customer's message of any kind, as WAHA posts it (``incoming`` is a text's)."""
    body = incoming(str(fields.pop("body", "")))
    body["payload"]["id"] = f"false_{CHAT}_3A0000000000000002"
    body["payload"].update(fields)
    return body


def media_message(mimetype: str, *, caption: str = "", url: str = MEDIA_URL,
                  filename: str | None = None) -> dict[str, Any]:
    media: dict[str, Any] = {"url": url, "mimetype": mimetype, "error": None}
    if filename is not None:
        media["filename"] = filename
    return customer_message(body=caption, hasMedia=True, media=media, mediaUrl=url)


def location_message(lat: str = "40.4093", lon: str = "49.8671") -> dict[str, Any]:
    return customer_message(location={"latitude": lat, "longitude": lon, "live": False,
                                      "name": "Gül Evi", "address": "Nizami küç. 10, Bakı"})


def vcard_message(*cards: str) -> dict[str, Any]:
    return customer_message(vCards=list(cards or (VCARD,)))


def sign(raw: bytes, key: str = KEY) -> dict[str, str]:
    return {"X-Webhook-Hmac": hmac.new(key.encode(), raw, hashlib.sha512).hexdigest(),
            "X-Webhook-Hmac-Algorithm": "sha512", "Content-Type": "application/json"}


# -- the app ------------------------------------------------------------------------------


class World:
    def __init__(self, db: Database, clock: FakeClock, harness: Harness,
                 client: httpx.AsyncClient, campaign_id: int, sender_id: int) -> None:
        self.db, self.clock, self.h, self.client = db, clock, harness, client
        self.campaign_id, self.sender_id = campaign_id, sender_id

    async def post(self, body: Any, *, headers: dict[str, str] | None = None,
                   raw: bytes | None = None) -> int:
        data = raw if raw is not None else json.dumps(body).encode()
        response = await self.client.post("/webhooks/waha", content=data,
                                          headers=sign(data) if headers is None else headers)
        return response.status_code

    async def message(self) -> tuple[str, float | None, float | None]:
        async with self.db.reader.execute(
            "SELECT status, delivered_at, read_at FROM messages WHERE gateway_message_id = ?",
            (MESSAGE_ID,),
        ) as cur:
            row = await cur.fetchone()
        return row[0], row[1], row[2]

    async def opted_out(self) -> bool:
        contact = await contacts.get_by_phone(self.db.reader, self.h.owner_id, CUSTOMER)
        return contact is not None and contact.opted_out_at is not None


async def _health() -> dict[str, bool]:
    return {"database": True}


@pytest.fixture
async def world(db: Database, clock: FakeClock) -> AsyncIterator[World]:
    async for w in make_world(db, clock):
        yield w


async def make_world(db: Database, clock: FakeClock) -> AsyncIterator[World]:
    """An owner whose one message (to CUSTOMER, id MESSAGE_ID) was sent from a WAHA
    session, and the web app with the signed WAHA webhook."""
    gateway = WahaIds(SandboxConfig(delivery_delay=3600, read_delay=0, invalid_share=0))
    replies = RepliesService(db, clock=clock)
    h = Harness(db, clock, gateway,
                replies=lambda m: replies.handle(m.sender_id, m.from_phone, m.text))
    campaign_id = await h.campaign(1)
    await h.run(20)
    assert await h.statuses(campaign_id) == {"sent": 1}
    async with db.transaction() as tx:  # the number is a linked WAHA session
        await tx.execute("UPDATE senders SET gateway = 'waha', external_id = ?", (SESSION,))
    [sender] = await senders.list_for_owner(db.reader, h.owner_id)
    app = create_web_app(_health, waha_webhook=WahaWebhook(SenderDirectory(db),
                                                           h.dispatcher.events, KEY, clock=clock))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://qasid") as client:
        yield World(db, clock, h, client, campaign_id, sender.id)
    await h.dispatcher.close()
    await gateway.close()


# -- receipts -----------------------------------------------------------------------------


async def test_signed_receipts_move_a_message_sent_delivered_read(world: World) -> None:
    assert (await world.message())[0] == "sent"
    assert await world.post(ack(2, "DEVICE")) == 200
    status, delivered_at, _ = await world.message()
    assert status == "delivered" and delivered_at is not None
    assert await world.post(ack(3, "READ", ms=1_764_061_260_000)) == 200
    assert (await world.message())[0] == "read"
    assert await world.h.statuses(world.campaign_id) == {"read": 1}


async def test_a_signed_receipt_for_another_owners_session_never_moves_this_message(
        world: World) -> None:
    # owner B links a WAHA session of their own; a correctly signed ack arrives for B's
    # session but names owner A's message id: A's message stays as it was, and it counts
    from bot.domain import Language, SenderStatus
    from bot.storage import owners

    async with world.db.transaction() as tx:
        other = await owners.add(tx, telegram_id=77, chat_id=77, language=Language.EN,
                                 now=world.clock())
        await senders.add(tx, owner_id=other.id, gateway="waha", phone="+994559990000",
                          status=SenderStatus.ACTIVE, now=world.clock(), external_id="intruder")
    for value, name in ((-1, "ERROR"), (3, "READ")):
        forged = ack(value, name)
        forged["session"] = "intruder"
        assert await world.post(forged) == 200
    assert (await world.message())[0] == "sent"
    assert world.h.dispatcher.receipts.ignored == 2
    assert await world.post(ack(3, "READ")) == 200  # its own session's ack still works
    assert (await world.message())[0] == "read"


async def test_duplicate_and_late_receipts_change_nothing(world: World) -> None:
    assert await world.post(ack(3, "READ")) == 200
    after_read = await world.message()
    assert after_read[0] == "read"
    for body in (ack(3, "READ"), ack(2, "DEVICE"), ack(1, "SERVER"), ack(-1, "ERROR"),
                 ack(4, "PLAYED")):
        assert await world.post(body) == 200
    assert await world.message() == after_read


@pytest.mark.parametrize("headers", [
    {"Content-Type": "application/json"},  # no signature
    {"X-Webhook-Hmac": "0" * 128},
    "wrong key",
    "the signature of another body",
    {"X-Webhook-Hmac": "", "X-Webhook-Hmac-Algorithm": "sha512"},
])
async def test_a_bad_or_missing_signature_is_refused_and_changes_nothing(
    world: World, headers: Any
) -> None:
    raw = json.dumps(ack(3, "READ")).encode()
    if headers == "wrong key":
        headers = sign(raw, "not-the-key")
    elif isinstance(headers, str):
        headers = sign(raw + b" ")
    assert await world.post(None, raw=raw, headers=headers) == 401
    assert (await world.message())[0] == "sent"
    stop = json.dumps(incoming("STOP")).encode()
    assert await world.post(None, raw=stop, headers={"X-Webhook-Hmac": "x"}) == 401
    assert not await world.opted_out()


async def test_a_signature_for_another_algorithm_is_refused(world: World) -> None:
    raw = json.dumps(ack(3, "READ")).encode()
    headers = sign(raw) | {"X-Webhook-Hmac-Algorithm": "sha256"}
    assert await world.post(None, raw=raw, headers=headers) == 401
    assert (await world.message())[0] == "sent"


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b"\xff\xfe", b'"text"'])
async def test_malformed_bodies_get_400(world: World, raw: bytes) -> None:
    assert await world.post(None, raw=raw) == 400
    assert (await world.message())[0] == "sent"


async def test_an_oversized_body_gets_413_before_anything_else(world: World) -> None:
    body = ack(3, "READ")
    body["payload"]["_data"] = {"padding": "x" * 300_000}
    assert await world.post(body) == 413
    assert await world.post(body, headers={}) == 413  # not even the signature is looked at
    assert (await world.message())[0] == "sent"


async def test_an_unknown_session_or_event_is_accepted_and_ignored(world: World) -> None:
    other = ack(3, "READ")
    other["session"] = "someone-else"
    assert await world.post(other) == 200
    assert await world.post(envelope("presence.update", {"id": CHAT})) == 200
    assert (await world.message())[0] == "sent"


# -- session status -----------------------------------------------------------------------


async def test_a_failed_session_bans_the_sender_and_alerts_the_owner_once(world: World) -> None:
    assert await world.post(session_status("FAILED")) == 200
    assert await world.post(session_status("FAILED")) == 200  # repeated: one alert
    sender = await senders.get_any(world.db.reader, world.sender_id)
    assert sender is not None and sender.status.value == "banned"
    lost = [n for n in world.h.notifier.notices if isinstance(n, SenderLost)]
    assert len(lost) == 1 and lost[0].state == "banned"
    assert lost[0].sender_id == world.sender_id
    # working again later: not unbanned by itself
    assert await world.post(session_status("WORKING", history=("FAILED",))) == 200
    sender = await senders.get_any(world.db.reader, world.sender_id)
    assert sender is not None and sender.status.value == "banned"


async def test_a_logged_out_session_is_lost_but_a_new_one_waiting_for_a_scan_is_not(
    world: World,
) -> None:
    assert await world.post(session_status("SCAN_QR_CODE", history=("STARTING",))) == 200
    sender = await senders.get_any(world.db.reader, world.sender_id)
    assert sender is not None and sender.status.value == "active"
    assert await world.post(session_status("SCAN_QR_CODE", history=("WORKING",))) == 200
    sender = await senders.get_any(world.db.reader, world.sender_id)
    assert sender is not None and sender.status.value == "banned"
    assert [n.state for n in world.h.notifier.notices if isinstance(n, SenderLost)] == ["banned"]


# -- replies ------------------------------------------------------------------------------


async def test_a_stop_reply_opts_the_contact_out_and_start_back_in(world: World) -> None:
    assert await world.post(incoming("  Stop! ")) == 200
    contact = await contacts.get_by_phone(world.db.reader, world.h.owner_id, CUSTOMER)
    assert contact is not None and contact.opted_out_at is not None
    assert contact.opt_out_reason == "replied STOP"
    assert await world.post(incoming("start")) == 200
    assert not await world.opted_out()
    assert await world.post(incoming("СТОП")) == 200
    assert await world.opted_out()


async def test_a_stop_from_an_unknown_number_is_still_recorded(world: World) -> None:
    assert await world.post(incoming("dayan", chat="994551112233@c.us")) == 200
    contact = await contacts.get_by_phone(world.db.reader, world.h.owner_id, "+994551112233")
    assert contact is not None and contact.opted_out_at is not None


async def test_a_longer_reply_our_own_messages_and_groups_are_ignored(world: World) -> None:
    assert await world.post(incoming("Please stop sending me these")) == 200
    assert await world.post(incoming("STOP", from_me=True)) == 200
    assert await world.post(incoming("STOP", chat="120363000000000000@g.us")) == 200
    assert not await world.opted_out()


# -- parse_webhook on its own -------------------------------------------------------------


def test_parse_webhook_maps_each_ack_and_ignores_pending() -> None:
    known = {SESSION: 7}
    statuses = {value: [e.status.value for e in parse_webhook(ack(value, "X"), known)]
                for value in (-1, 0, 1, 2, 3, 4)}
    assert statuses == {-1: ["failed"], 0: [], 1: ["sent"], 2: ["delivered"], 3: ["read"],
                        4: ["read"]}
    [receipt] = parse_webhook(ack(2, "DEVICE"), known)
    assert receipt.message_id == MESSAGE_ID
    assert receipt.at.timestamp() == 1_764_061_200
    assert parse_webhook(ack(2, "DEVICE"), {"other": 1}) == []


@pytest.mark.parametrize(("body", "kind", "text", "ref", "mimetype"), [
    (incoming("Salam, sabah açıqsınız?"), "text", "Salam, sabah açıqsınız?", None, None),
    (media_message("image/jpeg", caption="Bu rəng var?"), "image", "Bu rəng var?", MEDIA_URL,
     "image/jpeg"),
    (media_message("application/pdf", filename="sifaris.pdf"), "document", "", MEDIA_URL,
     "application/pdf"),
    (media_message("audio/ogg; codecs=opus"), "voice", "", MEDIA_URL, "audio/ogg; codecs=opus"),
    (media_message("audio/mpeg"), "audio", "", MEDIA_URL, "audio/mpeg"),
    (media_message("video/mp4"), "video", "", MEDIA_URL, "video/mp4"),
    (media_message("image/webp"), "sticker", "", MEDIA_URL, "image/webp"),
    (location_message(), "location", "Gül Evi\nNizami küç. 10, Bakı", "geo:40.4093,49.8671",
     None),
    (vcard_message(), "contact", "Leyla Məmmədova: +994 50 222 33 44", None, None),
    (customer_message(body=""), "other", "", None, None),
], ids=["text", "image", "document", "voice", "audio", "video", "sticker", "location",
        "vcard", "other"])
def test_parse_webhook_reads_each_kind_of_customer_message(
    body: dict[str, Any], kind: str, text: str, ref: str | None, mimetype: str | None,
) -> None:
    [message] = parse_webhook(body, {SESSION: 7})
    assert (message.sender_id, message.from_phone) == (7, CUSTOMER)
    assert (message.kind, message.text, message.media_ref, message.mimetype) == (
        kind, text, ref, mimetype)
    assert message.message_id == body["payload"]["id"]


def test_parse_webhook_survives_odd_fields() -> None:
    known = {SESSION: 7}
    for body in (ack(True, "X"), ack(9, "X"), envelope("message.ack", {"ack": 2}),
                 envelope("message", {"from": 5, "body": "STOP", "fromMe": False}),
                 envelope("message", {"from": "abc@c.us", "body": "STOP", "fromMe": False}),
                 envelope("session.status", {"status": ["FAILED"]}),
                 {"session": SESSION, "event": "message.ack", "payload": None}, {}):
        assert parse_webhook(body, known) == []


# -- the bodies against WAHA's published schemas ------------------------------------------


def event_as_string(spec: dict[str, Any]) -> int:
    """README: every ``WAHAWebhook*`` declares ``event`` as an object with a string enum."""
    changed = 0
    for name, schema in spec["components"]["schemas"].items():
        event = schema.get("properties", {}).get("event") if name.startswith("WAHAWebhook") \
            else None
        if isinstance(event, dict) and event.get("type") == "object":
            event["type"] = "string"
            changed += 1
    return changed


def null_allowed(spec: dict[str, Any], schema: str, path: tuple[str, ...]) -> bool:
    """README: real payloads carry nulls where the document allows none."""
    node = spec["components"]["schemas"][schema]
    for name in path:
        node = node["properties"][name]
    if "anyOf" in node:
        return False
    copied = dict(node)
    node.clear()
    node["anyOf"] = [copied, {"type": "null"}]
    return True


@pytest.fixture(scope="module")
def webhook_spec() -> dict[str, Any]:
    spec = json.loads(SPEC_FILE.read_bytes())
    assert event_as_string(spec) > 0
    assert null_allowed(spec, "WAMessageAckBody", ("participant",))
    assert null_allowed(spec, "WAHAEnvironment", ("browser",))
    assert null_allowed(spec, "WAMessage", ("participant",))  # not a group: no participant
    assert null_allowed(spec, "WAMessage", ("mediaUrl",))  # a text message: no media
    assert null_allowed(spec, "WAMedia", ("error",))  # downloaded fine: no error
    assert boolean_required_into_parent(spec) > 0
    assert nullable_as_null_type(spec) > 0
    return spec


def test_each_correction_still_finds_what_it_corrects() -> None:
    published = json.loads(SPEC_FILE.read_bytes())
    check = component(published, "WAHAWebhookMessageAck")
    assert any("event" in e for e in errors_of(check, ack(3, "READ")))
    spec = copy.deepcopy(published)
    event_as_string(spec)
    remaining = errors_of(component(spec, "WAHAWebhookMessageAck"), ack(3, "READ"))
    assert any("participant" in e for e in remaining)
    assert any("browser" in e for e in remaining)


@pytest.mark.parametrize(("schema", "body"), [
    ("WAHAWebhookMessageAck", ack(-1, "ERROR")),
    ("WAHAWebhookMessageAck", ack(2, "DEVICE")),
    ("WAHAWebhookMessageAck", ack(4, "PLAYED")),
    ("WAHAWebhookSessionStatus", session_status("FAILED")),
    ("WAHAWebhookSessionStatus", session_status("SCAN_QR_CODE", history=("STARTING",))),
    ("WAHAWebhookMessage", incoming("STOP")),
    ("WAHAWebhookMessage", incoming("Please stop sending me these")),
    ("WAHAWebhookMessage", media_message("image/jpeg", caption="Bu rəng var?")),
    ("WAHAWebhookMessage", media_message("application/pdf", filename="sifaris.pdf")),
    ("WAHAWebhookMessage", media_message("audio/ogg; codecs=opus")),
    ("WAHAWebhookMessage", media_message("video/mp4")),
    ("WAHAWebhookMessage", location_message()),
    ("WAHAWebhookMessage", vcard_message()),
])
def test_our_test_bodies_are_what_waha_documents(
    webhook_spec: dict[str, Any], schema: str, body: dict[str, Any]
) -> None:
    assert errors_of(component(webhook_spec, schema), body) == []
