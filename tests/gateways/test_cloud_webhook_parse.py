"""``bot.gateways.cloud.parse_webhook`` on its own: Meta's webhook bodies -> gateway events.

The bodies are built by ``tests/web/test_cloud_webhook.py``, where every one of them is
checked against Meta's published document.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.gateways.base import (
    IncomingKind,
    IncomingMessage,
    Receipt,
    ReceiptStatus,
    SenderHealth,
    SenderState,
    SenderStateChanged,
)
from bot.gateways.cloud import parse_webhook, phone_number_ids
from tests.web.test_cloud_webhook import (
    CUSTOMER,
    DISPLAY_NUMBER,
    MEDIA_ID,
    PHONE_NUMBER_ID,
    T0,
    UNDELIVERABLE,
    WABA_ID,
    WAMID,
    button,
    contacts_card,
    customer,
    interactive,
    location,
    media,
    payload,
    status,
    statuses,
    text,
)

KNOWN = {PHONE_NUMBER_ID: 7}
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def now() -> datetime:
    return NOW


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def parse(body: Any, known: dict[str, int] = KNOWN, **kwargs: Any) -> list[Any]:
    return parse_webhook(body, known, now=now, **kwargs)


def account_change(field: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [{"field": field, "value": value}]}]}


# -- statuses -----------------------------------------------------------------------------


def test_each_status_becomes_a_receipt_at_its_own_time() -> None:
    assert parse(statuses("sent", "delivered", "read")) == [
        Receipt(WAMID, ReceiptStatus.SENT, at(T0), sender_id=7),  # the number's sender
        Receipt(WAMID, ReceiptStatus.DELIVERED, at(T0 + 1), sender_id=7),
        Receipt(WAMID, ReceiptStatus.READ, at(T0 + 2), sender_id=7),
    ]


def test_every_entry_and_change_of_one_post_counts() -> None:
    body = payload(status("delivered"), status("read", at=T0 + 9))
    body["entry"].append(copy.deepcopy(statuses("sent")["entry"][0]))
    assert [e.status for e in parse(body)] == [ReceiptStatus.DELIVERED, ReceiptStatus.READ,
                                               ReceiptStatus.SENT]


def test_a_failed_status_says_the_code_and_title_but_no_phone_number() -> None:
    [receipt] = parse(payload(status("failed", errors=[UNDELIVERABLE])))
    assert receipt.status is ReceiptStatus.FAILED
    assert receipt.error == "code 131026: Message undeliverable"
    leaky = dict(UNDELIVERABLE, title="Cannot reach +994 50 000 00 00 " + "x" * 300)
    [receipt] = parse(payload(status("failed", errors=[leaky])))
    assert receipt.error is not None and len(receipt.error) <= 120
    assert "000 00" not in receipt.error and receipt.error.startswith("code 131026: ")
    [receipt] = parse(payload(status("failed")))
    assert receipt.error == "Meta reported the message failed"
    [receipt] = parse(payload(status("failed", errors=[{"code": "131049", "title": 5}])))
    assert receipt.error == "code 131049"


def test_statuses_of_a_number_no_sender_uses_give_nothing() -> None:
    assert parse(statuses("read"), {}) == []
    assert parse(statuses("read", number_id="123")) == []


def test_a_missing_or_odd_timestamp_falls_back_to_now() -> None:
    body = statuses("read")
    item = body["entry"][0]["changes"][0]["value"]["statuses"][0]
    for value in (None, "soon", "", "١٢٣", True, -5, 10**20, "9" * 5000):
        item["timestamp"] = value
        [receipt] = parse(body)
        assert receipt.at == NOW


def test_other_statuses_give_nothing() -> None:
    body = statuses("read")
    body["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] = "deleted"
    assert parse(body) == []


# -- customers' messages ------------------------------------------------------------------


INCOMING_ID = "wamid.HBgMOTk0NTAwMDAwMDAwFQIAEhgUM0E="


def incoming(text: str, kind: IncomingKind = IncomingKind.TEXT, **fields: Any
             ) -> IncomingMessage:
    return IncomingMessage(7, CUSTOMER, text, at(T0 + 60), kind, message_id=INCOMING_ID,
                           profile_name="Aysel", **fields)


@pytest.mark.parametrize("body", [
    text("STOP"), button("STOP"), interactive("button_reply", "STOP"),
    interactive("list_reply", "STOP"),
])
def test_texts_buttons_and_interactive_replies_are_incoming_text(body: dict[str, Any]) -> None:
    assert parse(body) == [incoming("STOP")]


@pytest.mark.parametrize(("body", "expected"), [
    (media("image", caption="Bu rəng var?"),
     incoming("Bu rəng var?", IncomingKind.IMAGE, media_ref=MEDIA_ID, mimetype="image/jpeg")),
    (media("document", filename="sifaris.pdf"),
     incoming("", IncomingKind.DOCUMENT, media_ref=MEDIA_ID, mimetype="application/pdf",
              filename="sifaris.pdf")),
    (media("audio", voice=True),
     incoming("", IncomingKind.VOICE, media_ref=MEDIA_ID, mimetype="audio/ogg")),
    (media("audio", voice=False, mime_type="audio/mpeg"),
     incoming("", IncomingKind.AUDIO, media_ref=MEDIA_ID, mimetype="audio/mpeg")),
    (media("video", caption="Bax"),
     incoming("Bax", IncomingKind.VIDEO, media_ref=MEDIA_ID, mimetype="video/mp4")),
    (media("sticker", animated=False),
     incoming("", IncomingKind.STICKER, media_ref=MEDIA_ID, mimetype="image/webp")),
    (location(), incoming("Gül Evi\nNizami küç. 10, Bakı", IncomingKind.LOCATION,
                          media_ref="geo:40.4093,49.8671")),
    (contacts_card(), incoming("Leyla Məmmədova: +994 50 222 33 44", IncomingKind.CONTACT)),
    (customer({"type": "unsupported", "errors": [{"code": 131051,
                                                  "title": "Message type unknown"}]}),
     incoming("", IncomingKind.OTHER)),
], ids=["image", "document", "voice", "audio", "video", "sticker", "location", "contacts",
        "unsupported"])
def test_each_kind_of_message_is_read_with_what_the_inbox_needs(
    body: dict[str, Any], expected: IncomingMessage,
) -> None:
    assert parse(body) == [expected]


@pytest.mark.parametrize("message", [
    {"type": "image", "image": {"mime_type": "image/jpeg", "sha256": "x"}},  # no media id
    {"type": "image", "image": {"id": "../../me", "mime_type": "image/jpeg"}},
    {"type": "location", "location": {"latitude": "north", "longitude": 49.8}},
    {"type": "contacts", "contacts": [{"name": {}}]},
    {"type": "reaction", "reaction": {"message_id": WAMID, "emoji": "👍"}},
    {"type": "system", "system": {"body": "changed number"}},
    {"type": "text", "text": {"body": 5}},
    {"type": "text"},
    {"type": "interactive", "interactive": {"type": "nfm_reply", "nfm_reply": {}}},
])
def test_other_messages_give_nothing(message: dict[str, Any]) -> None:
    assert parse(customer(message)) == []


@pytest.mark.parametrize("sender", ["", "abc", "+994500000000", "٩٩٤٥٠٠٠٠٠٠٠٠", "12", 994500000000])
def test_a_message_not_from_a_phone_number_gives_nothing(sender: Any) -> None:
    body = text("STOP")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["from"] = sender
    assert parse(body) == []


# -- number quality and account updates ---------------------------------------------------


DISPLAY = {DISPLAY_NUMBER: 7}


def quality(event: str, limit: str = "TIER_250") -> dict[str, Any]:
    return account_change("phone_number_quality_update", {
        "display_phone_number": DISPLAY_NUMBER, "event": event, "current_limit": limit})


def test_a_flagged_or_downgraded_number_is_restricted_when_its_display_number_is_known() -> None:
    assert parse(quality("FLAGGED"), sender_for_display=DISPLAY) == [SenderStateChanged(
        7, SenderHealth(SenderState.RESTRICTED, "quality rating low (FLAGGED): slow down",
                        quality="RED", tier=250), NOW)]
    [event] = parse(quality("DOWNGRADE"), sender_for_display=DISPLAY)
    assert event.health == SenderHealth(SenderState.RESTRICTED,
                                        "messaging limit lowered to TIER_250", tier=250)
    [event] = parse(quality("FLAGGED", "TIER_2K"), sender_for_display=DISPLAY)
    assert (event.health.quality, event.health.tier) == ("RED", 2000)
    [event] = parse(quality("DOWNGRADE", "<b>x</b>"), sender_for_display=DISPLAY)
    assert event.health.detail == "messaging limit lowered"


def test_quality_updates_are_ignored_without_a_known_display_number() -> None:
    assert parse(quality("FLAGGED")) == []
    assert parse(quality("FLAGGED"), sender_for_display={"994551112233": 7}) == []
    for event in ("UNFLAGGED", "UPGRADE", "ONBOARDING"):
        assert parse(quality(event), sender_for_display=DISPLAY) == []


def test_account_updates_count_only_when_they_name_a_known_number() -> None:
    disabled = account_change("account_update", {
        "phone_number": DISPLAY_NUMBER, "event": "DISABLED_UPDATE"})
    [event] = parse(disabled, sender_for_display=DISPLAY)
    assert event.health.state is SenderState.BANNED
    restricted = account_change("account_update", {
        "phone_number": DISPLAY_NUMBER, "event": "ACCOUNT_RESTRICTION",
        "restriction_info": [{"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING",
                              "expiration": "2026-12-01T00:00:00+0000"}]})
    [event] = parse(restricted, sender_for_display=DISPLAY)
    assert event.health.state is SenderState.RESTRICTED
    waba_wide = account_change("account_update", {
        "event": "DISABLED_UPDATE",
        "ban_info": {"waba_ban_state": ["DISABLE"], "waba_ban_date": "2026-12-01"}})
    assert parse(waba_wide, sender_for_display=DISPLAY) == []
    assert parse(disabled) == []


# -- odd bodies never raise ---------------------------------------------------------------


ODD_VALUES = (None, True, 0, -1, 1.5, "", "x", "9" * 5000, [], [None], {}, {"a": None})


def mutations(node: Any) -> Iterator[None]:
    """Each place in ``node`` in turn replaced by each odd value (in place; restored)."""
    items = (list(node.items()) if isinstance(node, dict) else
             list(enumerate(node)) if isinstance(node, list) else [])
    for key, value in items:
        for odd in ODD_VALUES:
            node[key] = odd
            yield
        node[key] = value
        yield from mutations(value)


@pytest.mark.parametrize("body", [
    statuses("sent", "delivered"), payload(status("failed", errors=[UNDELIVERABLE])),
    text("STOP"), button("STOP"), interactive("list_reply", "STOP"), quality("DOWNGRADE"),
])
def test_no_well_formed_json_object_makes_it_raise(body: dict[str, Any]) -> None:
    count = 0
    for _ in mutations(body):
        parse(body, sender_for_display=DISPLAY)
        phone_number_ids(body)
        count += 1
    assert count > 50
    for odd in ({}, {"object": "whatsapp_business_account"},
                {"object": "whatsapp_business_account", "entry": {"changes": []}},
                {"object": "whatsapp_business_account", "entry": [{"changes": "x"}]}):
        assert parse(odd) == []


def test_phone_number_ids_names_each_number_once() -> None:
    body = payload(status("read"), status("sent"))
    body["entry"].append(copy.deepcopy(statuses("read", number_id="555")["entry"][0]))
    assert phone_number_ids(body) == [PHONE_NUMBER_ID, "555"]
    assert phone_number_ids(quality("FLAGGED")) == []
