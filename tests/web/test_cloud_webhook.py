"""``GET`` / ``POST /webhooks/cloud`` end to end: the real web app, database and dispatcher.

A campaign goes out through a gateway that answers with Cloud API ``wamid.`` ids; its
sender is then the Cloud API phone number ``PHONE_NUMBER_ID``. Every body posted here is
checked against Meta's published document (``WebhookPayload``) with the specs README's
status bodies as published and two named corrections for incoming messages (below).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator

from bot.gateways.base import SendResult
from bot.gateways.sandbox import SandboxConfig, SandboxGateway
from bot.services.replies import RepliesService
from bot.services.sender_directory import SenderDirectory
from bot.storage import contacts, senders
from bot.storage.db import Database
from bot.web.app import create_web_app
from bot.web.cloud import CloudWebhook
from tests.fakes import FakeClock
from tests.gateways.test_cloud_contract import SPEC_FILE, component, errors_of
from tests.unit.test_dispatcher import Harness

APP_SECRET = "meta-app-secret"
VERIFY_TOKEN = "qasid-verify-token"
WABA_ID = "419561257915477"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "994509990000"
CUSTOMER = "+994500000000"  # the Harness's first contact
WAMID = "wamid.HBgMOTk0NTAwMDAwMDAwFQIAERgSQzBGRkVFMDAwMQA="
T0 = 1_764_061_200  # Unix seconds

# -- Meta's bodies ------------------------------------------------------------------------


def payload(*values: dict[str, Any], number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
    """One webhook POST: one entry, one ``messages`` change per value."""
    changes = [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": number_id},
        **value,
    }} for value in values]
    return {"object": "whatsapp_business_account", "entry": [{"id": WABA_ID,
                                                              "changes": changes}]}


def status(name: str, *, at: int = T0, wamid: str = WAMID,
           errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": wamid, "status": name, "timestamp": str(at),
                            "recipient_id": CUSTOMER.removeprefix("+")}
    if name in ("sent", "delivered"):
        item["conversation"] = {"id": "4e1f1dbb5d2d6dd2d6e9e6b2c1b2a3c4",
                                "expiration_timestamp": str(T0 + 86_400),
                                "origin": {"type": "marketing"}}
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "marketing"}
    if errors is not None:
        item["errors"] = errors
    return {"statuses": [item]}


def statuses(*names: str, number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
    return payload(*(status(n, at=T0 + i) for i, n in enumerate(names)), number_id=number_id)


UNDELIVERABLE = {"code": 131026, "title": "Message undeliverable",
                 "message": "Message undeliverable",
                 "error_data": {"details": "Message could not be delivered to +994500000000"},
                 "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/"
                         "error-codes/"}


def customer(message: dict[str, Any], *, phone: str = CUSTOMER,
             number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
    wa_id = phone.removeprefix("+")
    return payload({
        "contacts": [{"profile": {"name": "Aysel"}, "wa_id": wa_id}],
        "messages": [{"from": wa_id, "id": "wamid.HBgMOTk0NTAwMDAwMDAwFQIAEhgUM0E=",
                      "timestamp": str(T0 + 60), **message}],
    }, number_id=number_id)


def text(body: str, **kwargs: Any) -> dict[str, Any]:
    return customer({"type": "text", "text": {"body": body}}, **kwargs)


def button(label: str) -> dict[str, Any]:
    return customer({"type": "button", "context": {"from": DISPLAY_NUMBER, "id": WAMID},
                     "button": {"payload": "opt-out", "text": label}})


def interactive(kind: str, title: str) -> dict[str, Any]:
    reply = {"id": "stop-row", "title": title}
    if kind == "list_reply":
        reply["description"] = "No more messages"
    return customer({"type": "interactive", "context": {"from": DISPLAY_NUMBER, "id": WAMID},
                     "interactive": {"type": kind, kind: reply}})


MEDIA_ID = "1003383421387256"


def media(kind: str, *, caption: str | None = None, media_id: str = MEDIA_ID,
          **fields: Any) -> dict[str, Any]:
    """An image, document, audio, video or sticker from the customer (Meta's shapes)."""
    defaults = {"image": "image/jpeg", "document": "application/pdf", "audio": "audio/ogg",
                "video": "video/mp4", "sticker": "image/webp"}
    item: dict[str, Any] = {"mime_type": defaults[kind], "sha256": "SfInY0gGKTsJlUWbwxC1k+F"
                            "AD0FZHvzwfpvO0zX0GUI=", "id": media_id, **fields}
    if caption is not None:
        item["caption"] = caption
    return customer({"type": kind, kind: item})


def location(lat: float = 40.4093, lon: float = 49.8671, name: str = "Gül Evi",
             address: str = "Nizami küç. 10, Bakı") -> dict[str, Any]:
    return customer({"type": "location", "location": {
        "latitude": lat, "longitude": lon, "name": name, "address": address}})


def contacts_card(name: str = "Leyla Məmmədova", phone: str = "+994 50 222 33 44"
                  ) -> dict[str, Any]:
    return customer({"type": "contacts", "contacts": [{
        "name": {"formatted_name": name, "first_name": name.split()[0]},
        "phones": [{"phone": phone, "wa_id": phone.replace(" ", "").removeprefix("+"),
                    "type": "HOME"}]}]})


def sign(raw: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


# -- the bodies against Meta's published document ----------------------------------------

# Incoming messages, as published, cannot validate: ``IncomingMessage`` points at the
# *outgoing* request schemas (``TextMessage``...) instead of their webhook twins, and those
# twins (and ``ButtonMessage``, ``InteractiveMessageReply``...) extend the request's
# ``BaseMessageProperties`` (messaging_product, recipient_type, to) where the webhook's
# ``BaseMessageProperties_1`` (from, id, timestamp) is meant.
WEBHOOK_TWINS = {
    "TextMessage": "TextMessage_2", "ReactionMessage": "ReactionMessage_1",
    "AudioMessage": "AudioMessage_1", "DocumentMessage": "DocumentMessage_1",
    "ImageMessage": "ImageMessage_1", "StickerMessage": "StickerMessage_1",
    "VideoMessage": "VideoMessage_1", "LocationMessage": "LocationMessage_1",
}
REF = "#/components/schemas/"


def incoming_as_webhook_twins(schemas: dict[str, Any]) -> int:
    changed = 0
    for branch in schemas["IncomingMessage"]["oneOf"]:
        name = branch["$ref"].removeprefix(REF)
        if name in WEBHOOK_TWINS:
            branch["$ref"] = REF + WEBHOOK_TWINS[name]
            changed += 1
    return changed


def incoming_on_webhook_base(schemas: dict[str, Any]) -> int:
    changed = 0
    names = [b["$ref"].removeprefix(REF) for b in schemas["IncomingMessage"]["oneOf"]]
    for name in [*names, "SystemMessage"]:
        for part in schemas[name].get("allOf", []):
            if part.get("$ref") == REF + "BaseMessageProperties":
                part["$ref"] = REF + "BaseMessageProperties_1"
                changed += 1
    return changed


@pytest.fixture(scope="session")
def meta_published() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SPEC_FILE.read_text(encoding="utf-8"), Loader=loader)


@pytest.fixture(scope="session")
def webhook_check(meta_published: dict[str, Any]) -> Draft202012Validator:
    spec = copy.deepcopy(meta_published)
    schemas = spec["components"]["schemas"]
    assert incoming_as_webhook_twins(schemas) == len(WEBHOOK_TWINS)
    assert incoming_on_webhook_base(schemas) > 0
    return component(spec, "WebhookPayload")


def test_status_bodies_validate_as_published_and_each_correction_finds_its_defect(
    meta_published: dict[str, Any],
) -> None:
    check = component(meta_published, "WebhookPayload")
    failure = payload(status("failed", errors=[UNDELIVERABLE]))
    for body in (statuses("sent", "delivered", "read"), failure):
        assert errors_of(check, body) == []
    assert errors_of(check, text("STOP")) != []  # as published: no incoming message passes
    spec = copy.deepcopy(meta_published)
    incoming_as_webhook_twins(spec["components"]["schemas"])
    assert errors_of(component(spec, "WebhookPayload"), text("STOP")) != []  # base still wrong
    incoming_on_webhook_base(spec["components"]["schemas"])
    assert errors_of(component(spec, "WebhookPayload"), text("STOP")) == []


@pytest.mark.parametrize("body", [
    text("Salam, sabah açıqsınız?"), media("image", caption="Bu rəng var?"),
    media("document", filename="sifaris.pdf", caption="Sifarişim"),
    media("audio", voice=True), media("audio", voice=False, mime_type="audio/mpeg"),
    media("video", caption="Bax"), media("sticker", animated=False), location(),
    contacts_card(),
], ids=["text", "image", "document", "voice", "audio", "video", "sticker", "location",
        "contacts"])
def test_every_kind_of_customer_message_is_what_meta_documents(
    webhook_check: Draft202012Validator, body: dict[str, Any],
) -> None:
    assert errors_of(webhook_check, body) == []


def test_the_corrected_document_still_refuses_a_broken_body(
    webhook_check: Draft202012Validator,
) -> None:
    broken = text("STOP")
    del broken["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
    assert errors_of(webhook_check, broken) != []
    assert errors_of(webhook_check, {"object": "whatsapp_business_account"}) != []


# -- the app ------------------------------------------------------------------------------


class WamidIds(SandboxGateway):
    """Accepts every message and answers with a Cloud API message id."""

    async def send_text(self, sender, to, text):
        return SendResult(WAMID, datetime.now(UTC))


class World:
    def __init__(self, db: Database, harness: Harness, client: httpx.AsyncClient,
                 campaign_id: int, sender_id: int, check: Draft202012Validator) -> None:
        self.db, self.h, self.client = db, harness, client
        self.campaign_id, self.sender_id, self.check = campaign_id, sender_id, check

    async def post(self, body: Any, *, headers: dict[str, str] | None = None,
                   raw: bytes | None = None) -> int:
        if raw is None:
            assert errors_of(self.check, body) == [], "not a body Meta documents"
            raw = json.dumps(body).encode()
        response = await self.client.post("/webhooks/cloud", content=raw,
                                          headers=sign(raw) if headers is None else headers)
        return response.status_code

    async def message(self) -> tuple[str, float | None, float | None, str | None]:
        async with self.db.reader.execute(
            "SELECT status, delivered_at, read_at, error_detail FROM messages"
            " WHERE gateway_message_id = ?", (WAMID,),
        ) as cur:
            row = await cur.fetchone()
        return row[0], row[1], row[2], row[3]

    async def ledger(self) -> list[tuple[str, int]]:
        async with self.db.reader.execute(
            "SELECT kind, amount FROM ledger WHERE owner_id = ? ORDER BY id",
            (self.h.owner_id,),
        ) as cur:
            return [(row[0], row[1]) async for row in cur]

    async def opted_out(self, phone: str = CUSTOMER) -> bool:
        contact = await contacts.get_by_phone(self.db.reader, self.h.owner_id, phone)
        return contact is not None and contact.opted_out_at is not None


async def _health() -> dict[str, bool]:
    return {"database": True}


async def _world(db: Database, clock: FakeClock, check: Draft202012Validator,
                 app_secret: str | None, verify_token: str | None) -> AsyncIterator[World]:
    gateway = WamidIds(SandboxConfig(delivery_delay=3600, read_delay=0, invalid_share=0))
    replies = RepliesService(db, clock=clock)
    h = Harness(db, clock, gateway,
                replies=lambda m: replies.handle(m.sender_id, m.from_phone, m.text))
    campaign_id = await h.campaign(1)
    await h.run(20)
    assert await h.statuses(campaign_id) == {"sent": 1}
    async with db.transaction() as tx:  # the number is a Cloud API phone number
        await tx.execute("UPDATE senders SET gateway = 'cloud', external_id = ?",
                         (PHONE_NUMBER_ID,))
    [sender] = await senders.list_for_owner(db.reader, h.owner_id)
    webhook = CloudWebhook(SenderDirectory(db), h.dispatcher.events, app_secret, verify_token,
                           clock=clock)
    app = create_web_app(_health, cloud_webhook=webhook)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://qasid") as client:
        yield World(db, h, client, campaign_id, sender.id, check)
    await h.dispatcher.close()
    await gateway.close()


@pytest.fixture
async def world(db: Database, clock: FakeClock,
                webhook_check: Draft202012Validator) -> AsyncIterator[World]:
    async for w in _world(db, clock, webhook_check, APP_SECRET, VERIFY_TOKEN):
        yield w


@pytest.fixture
async def unconfigured(db: Database, clock: FakeClock,
                       webhook_check: Draft202012Validator) -> AsyncIterator[World]:
    async for w in _world(db, clock, webhook_check, None, None):
        yield w


# -- the GET handshake --------------------------------------------------------------------


async def test_a_status_for_another_owners_number_never_moves_this_message(
        world: World) -> None:
    # owner B adds a Cloud API number; a status signed by the (shared) Meta app, for B's
    # phone-number id, names owner A's message (even one A sent through WAHA): unchanged
    from bot.domain import Language, SenderStatus
    from bot.storage import owners

    async with world.db.transaction() as tx:
        other = await owners.add(tx, telegram_id=77, chat_id=77, language=Language.EN,
                                 now=world.h.clock())
        await senders.add(tx, owner_id=other.id, gateway="cloud", phone="+994559990000",
                          status=SenderStatus.ACTIVE, now=world.h.clock(),
                          external_id="222333444555666")
    for name in ("failed", "read"):
        assert await world.post(statuses(name, number_id="222333444555666")) == 200
        assert (await world.message())[0] == "sent"
    async with world.db.transaction() as tx:  # A's message as a WAHA one: still bound
        await tx.execute("UPDATE senders SET gateway = 'waha', external_id = 'a-session'"
                         " WHERE id = ?", (world.sender_id,))
    assert await world.post(statuses("read", number_id="222333444555666")) == 200
    assert (await world.message())[0] == "sent"
    assert world.h.dispatcher.receipts.ignored == 3


async def test_the_handshake_with_the_right_token_answers_the_challenge(world: World) -> None:
    response = await world.client.get("/webhooks/cloud", params={
        "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("params", [
    {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
    {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
    {"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
    {"hub.mode": "subscribe", "hub.challenge": "1"},
    {},
])
async def test_a_handshake_with_a_wrong_token_or_mode_is_refused(
    world: World, params: dict[str, str]
) -> None:
    response = await world.client.get("/webhooks/cloud", params=params)
    assert response.status_code == 403
    assert response.text == ""


async def test_without_a_verify_token_every_handshake_is_refused(unconfigured: World) -> None:
    for token in ("", "None", VERIFY_TOKEN):
        response = await unconfigured.client.get("/webhooks/cloud", params={
            "hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "42"})
        assert response.status_code == 403
        assert "42" not in response.text


# -- receipts -----------------------------------------------------------------------------


async def test_signed_statuses_move_a_message_sent_delivered_read(world: World) -> None:
    assert (await world.message())[0] == "sent"
    assert await world.post(statuses("delivered")) == 200
    state, delivered_at, read_at, _ = await world.message()
    assert state == "delivered" and delivered_at == T0 and read_at is None
    assert await world.h.statuses(world.campaign_id) == {"delivered": 1}
    assert await world.post(payload(status("read", at=T0 + 30))) == 200
    state, _, read_at, _ = await world.message()
    assert state == "read" and read_at == T0 + 30
    assert await world.h.statuses(world.campaign_id) == {"read": 1}


async def test_several_statuses_in_one_post_are_all_applied(world: World) -> None:
    assert await world.post(statuses("sent", "delivered", "read")) == 200
    assert (await world.message())[0] == "read"


async def test_a_replayed_body_changes_nothing_twice(world: World) -> None:
    async with world.db.transaction() as tx:  # the send's answer was lost: credit reserved
        await tx.execute("UPDATE messages SET status = 'uncertain' WHERE gateway_message_id = ?",
                         (WAMID,))
    body = statuses("delivered")
    before = await world.ledger()
    assert await world.post(body) == 200
    settled, after_first = await world.message(), await world.ledger()
    assert settled[0] == "delivered"
    assert len(after_first) == len(before) + 1 and after_first[-1] == ("charge", -1)
    for _ in range(3):
        assert await world.post(body) == 200
    assert await world.message() == settled
    assert await world.ledger() == after_first


async def test_a_delivered_arriving_after_read_changes_nothing(world: World) -> None:
    assert await world.post(payload(status("read", at=T0 + 30))) == 200
    after_read = await world.message()
    assert after_read[0] == "read" and after_read[1] == T0 + 30  # read implies delivered
    assert await world.post(payload(status("delivered", at=T0 + 10))) == 200
    assert await world.post(payload(status("sent", at=T0))) == 200
    assert await world.message() == after_read


async def test_a_failed_status_fails_the_message_with_the_reason(world: World) -> None:
    assert await world.post(payload(status("failed", errors=[UNDELIVERABLE]))) == 200
    state, _, _, detail = await world.message()
    assert state == "failed"
    assert detail == "code 131026: Message undeliverable"
    assert await world.h.statuses(world.campaign_id) == {"failed": 1}


async def test_an_unknown_wamid_is_accepted_and_ignored(world: World) -> None:
    body = payload(status("read", wamid="wamid.HBgMOTk0NTAwMDAwMDk5FQIAERgSOTk5OTk5AA=="))
    assert await world.post(body) == 200
    assert (await world.message())[0] == "sent"


async def test_statuses_for_a_number_no_sender_uses_are_ignored(world: World) -> None:
    assert await world.post(statuses("read", number_id="999999999999999")) == 200
    assert (await world.message())[0] == "sent"
    assert await world.post(text("STOP", number_id="999999999999999")) == 200
    assert not await world.opted_out()


# -- what is refused ----------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {"Content-Type": "application/json"},  # no signature
    {"X-Hub-Signature-256": "sha256=" + "0" * 64},
    {"X-Hub-Signature-256": ""},
    {"X-Hub-Signature-256": "sha1=0000"},
    "wrong secret",
    "the signature of another body",
    "without the sha256= prefix",
])
async def test_a_bad_or_missing_signature_is_refused_and_changes_nothing(
    world: World, headers: Any
) -> None:
    raw = json.dumps(statuses("read")).encode()
    if headers == "wrong secret":
        headers = sign(raw, "not-the-secret")
    elif headers == "the signature of another body":
        headers = sign(raw + b" ")
    elif headers == "without the sha256= prefix":
        headers = {"X-Hub-Signature-256": sign(raw)["X-Hub-Signature-256"].removeprefix(
            "sha256=")}
    assert await world.post(None, raw=raw, headers=headers) == 401
    assert (await world.message())[0] == "sent"
    stop = json.dumps(text("STOP")).encode()
    assert await world.post(None, raw=stop, headers={"X-Hub-Signature-256": "sha256=x"}) == 401
    assert not await world.opted_out()


async def test_an_uppercase_hex_signature_is_accepted(world: World) -> None:
    raw = json.dumps(statuses("read")).encode()
    headers = {"x-hub-signature-256": sign(raw)["X-Hub-Signature-256"].upper()
               .replace("SHA256=", "sha256=")}
    assert await world.post(None, raw=raw, headers=headers) == 200
    assert (await world.message())[0] == "read"


async def test_without_an_app_secret_every_post_is_refused_and_warned_once(
    unconfigured: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.web.cloud")
    for body in (statuses("read"), text("STOP")):
        raw = json.dumps(body).encode()
        for headers in (sign(raw), sign(raw, ""), {}):
            assert await unconfigured.post(None, raw=raw, headers=headers) == 401
    assert (await unconfigured.message())[0] == "sent"
    assert not await unconfigured.opted_out()
    warnings = [r for r in caplog.records if "app secret" in r.getMessage()]
    assert len(warnings) == 1


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b"\xff\xfe", b'"text"', b"null"])
async def test_malformed_bodies_get_400(world: World, raw: bytes) -> None:
    assert await world.post(None, raw=raw, headers=sign(raw)) == 400
    assert (await world.message())[0] == "sent"


async def test_a_ten_megabyte_body_gets_413_before_anything_else(world: World) -> None:
    body = statuses("read")
    body["entry"][0]["changes"][0]["value"]["padding"] = "x" * (10 * 1024 * 1024)
    raw = json.dumps(body).encode()
    assert await world.post(None, raw=raw, headers=sign(raw)) == 413
    assert await world.post(None, raw=raw, headers={}) == 413  # the signature is not looked at
    assert (await world.message())[0] == "sent"


async def test_a_batch_near_the_limit_is_still_read(world: World) -> None:
    many = [status("delivered", wamid=f"wamid.other{i:05d}") for i in range(2000)]
    body = payload(*many, status("read", at=T0 + 5))
    raw = json.dumps(body).encode()
    assert 256 * 1024 < len(raw) < 1024 * 1024
    assert await world.post(body) == 200
    assert (await world.message())[0] == "read"


async def test_an_object_that_is_not_a_webhook_is_accepted_and_ignored(world: World) -> None:
    raw = json.dumps({"object": "page", "entry": [{"id": "1", "changes": []}]}).encode()
    assert await world.post(None, raw=raw, headers=sign(raw)) == 200
    raw = json.dumps({"entry": "nonsense"}).encode()
    assert await world.post(None, raw=raw, headers=sign(raw)) == 200
    assert (await world.message())[0] == "sent"


# -- replies ------------------------------------------------------------------------------


async def test_a_stop_text_opts_the_contact_out_and_start_back_in(world: World) -> None:
    assert await world.post(text("  Stop! ")) == 200
    contact = await contacts.get_by_phone(world.db.reader, world.h.owner_id, CUSTOMER)
    assert contact is not None and contact.opted_out_at is not None
    assert contact.opt_out_reason == "replied STOP"
    assert await world.post(text("start")) == 200
    assert not await world.opted_out()


@pytest.mark.parametrize("body", [
    button("STOP"), interactive("button_reply", "Stop"), interactive("list_reply", "STOP"),
])
async def test_a_stop_button_or_list_reply_opts_the_contact_out(
    world: World, body: dict[str, Any]
) -> None:
    assert await world.post(body) == 200
    assert await world.opted_out()


async def test_a_longer_reply_and_a_stop_from_an_unknown_number(world: World) -> None:
    assert await world.post(text("Please stop sending me these")) == 200
    assert not await world.opted_out()
    assert await world.post(text("dayan", phone="+994551112233")) == 200
    assert await world.opted_out("+994551112233")


async def test_a_failure_while_applying_answers_500_so_meta_sends_it_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(receipts):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(world.h.dispatcher.receipts, "apply", broken)
    assert await world.post(statuses("read")) == 500
    assert (await world.message())[0] == "sent"
    monkeypatch.undo()
    assert await world.post(statuses("read")) == 200  # Meta's retry
    assert (await world.message())[0] == "read"


# -- account news that name the number by its phone -----------------------------------------


async def test_a_flagged_quality_restricts_the_number_found_by_its_phone(world: World) -> None:
    from bot.services.notify import SenderLost

    async with world.db.transaction() as tx:
        await tx.execute("UPDATE senders SET phone = '+994505551234' WHERE id = ?",
                         (world.sender_id,))
    body = {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
            "changes": [{"field": "phone_number_quality_update", "value": {
                "display_phone_number": "994505551234", "event": "FLAGGED",
                "current_limit": "TIER_1K"}}]}]}
    raw = json.dumps(body).encode()  # not in the spec's Change.field enum: sent as Meta does
    assert await world.post(body, raw=raw) == 200
    [sender] = await senders.list_for_owner(world.db.reader, world.h.owner_id)
    assert sender.status.value == "restricted"
    lost = [n for n in world.h.notifier.notices if isinstance(n, SenderLost)]
    assert [n.state for n in lost] == ["restricted"]
    # the same news for a phone nobody uses changes nothing
    other = json.loads(raw)
    other["entry"][0]["changes"][0]["value"]["display_phone_number"] = "994551112233"
    assert await world.post(other, raw=json.dumps(other).encode()) == 200
