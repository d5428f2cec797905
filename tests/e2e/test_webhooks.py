"""Outgoing webhooks in the chat (/webhooks, and Webhooks under /api): an owner adds an
endpoint, sees its secret once, chooses its events; what happens reaches a receiver on
127.0.0.1 signed, and the card shows the deliveries; a test event; delete. Another owner
never sees or touches it. A URL to the bot's own network is refused."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from bot.console.botapi import FakeBotApi
from tests.e2e.conftest import Harness
from tests.e2e.test_campaigns import owner_id, press_data
from tests.fakes import wait_until
from tests.fakes.webhook_receiver import Receiver

A_ID, B_ID = 871, 872
SECRET = re.compile(r"whsec_[A-Za-z0-9_-]{32,}")


@pytest.fixture
async def hooked(make_settings) -> AsyncIterator[Harness]:
    """The bot as a test server runs it: webhooks may go to http on 127.0.0.1."""
    h = Harness(FakeBotApi(), make_settings(webhooks_allow_http=True,
                                            webhooks_allow_private=True))
    await h.start()
    yield h
    await h.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    import time

    found = await Receiver(now=time.time).start()
    yield found
    await found.stop()


async def add_endpoint(chat, url: str) -> tuple[str, list]:
    await chat.send("/webhooks")
    [asked] = await chat.press("➕ Add endpoint")
    assert "Send the address Qasid should call" in asked.text
    replies = await chat.send(url)
    found = SECRET.search(replies[0].text)
    assert found is not None, replies[0].text
    return found.group(0), replies


async def test_an_owner_adds_an_endpoint_and_receives_signed_events(
        hooked: Harness, receiver: Receiver) -> None:
    a = await hooked.active_owner(A_ID)
    [listed] = await a.send("/api")
    assert "🪝 Webhooks" in listed.buttons
    [empty] = await a.press("🪝 Webhooks")
    assert "You have no endpoints yet" in empty.text
    secret, replies = await add_endpoint(a, receiver.url("/shop"))
    receiver.secrets["/shop"] = secret
    shown, events = replies
    assert "shown only this once" in shown.text and shown.buttons == []
    assert "✅ contact.opted_out" in events.buttons and "✅ All events" in events.buttons
    [trimmed] = await a.press("✅ message.sent")  # every event but message.sent now
    assert "⬜ message.sent" in trimmed.buttons and "⬜ All events" in trimmed.buttons
    [card] = await a.press("✔️ Done")
    assert "Nothing sent yet" in card.text and "working" in card.text

    await a.send("/optout +994501234567 moved away")
    await wait_until(lambda: receiver.accepted, what="the opt-out delivered")
    [received] = receiver.accepted
    assert received.event["type"] == "contact.opted_out"
    assert received.event["data"]["phone"] == "+994501234567"
    assert received.event["data"]["reason"] == "moved away"
    assert receiver.bad_signatures == []

    # the receiver has it; the attempt's outcome is written just after its answer: the
    # owner who looks at once may see it a moment later
    for _ in range(200):
        [card] = await a.send("/webhooks")
        if "✅ 200 · contact.opted_out" in card.text:
            break
        await asyncio.sleep(0.01)
    assert "✅ 200 · contact.opted_out" in card.text
    await a.press(card.buttons[0])  # the endpoint's card
    [tested] = await a.press("🧪 Send test event")
    assert "Test event delivered: answer 200" in tested.text
    assert [r.event["type"] for r in receiver.accepted] == ["contact.opted_out", "webhook.test"]
    assert secret not in tested.text  # the secret was shown once, never again


async def test_another_owner_neither_sees_nor_touches_the_endpoint(
        hooked: Harness, receiver: Receiver) -> None:
    a = await hooked.active_owner(A_ID, phone="+994501110871")
    b = await hooked.active_owner(B_ID, phone="+994501110872")
    secret, _ = await add_endpoint(a, receiver.url("/a"))
    receiver.secrets["/a"] = secret
    [endpoint] = await hooked.qasid.services.webhooks.endpoints(await owner_id(hooked, A_ID))
    eid = endpoint.endpoint.id
    [theirs] = await b.send("/webhooks")
    assert "You have no endpoints yet" in theirs.text and receiver.url("/a") not in theirs.text
    for data in (f"wh:open:{eid}", f"wh:test:{eid}", f"wh:rmok:{eid}", f"wh:off:{eid}",
                 f"wh:tg:{eid}:0", f"wh:ev:{eid}"):
        alert = await press_data(hooked, b, data)
        assert receiver.url("/a") not in alert
    assert receiver.accepted == []  # no test event went out for b
    [still] = await hooked.qasid.services.webhooks.endpoints(await owner_id(hooked, A_ID))
    assert still.endpoint.state.value == "active"
    await b.send("/optout +994507770000")  # b's own change is never a's event
    await a.send("/optout +994507770001")
    await wait_until(lambda: receiver.accepted, what="a's opt-out delivered")
    assert [r.event["data"]["phone"] for r in receiver.accepted] == ["+994507770001"]


async def test_a_url_to_the_bots_own_network_is_refused_and_the_question_stays(
        harness: Harness) -> None:
    a = await harness.active_owner(A_ID)
    await a.send("/webhooks")
    await a.press("➕ Add endpoint")
    [refused] = await a.send("https://127.0.0.1:8443/hook")
    assert "this server itself" in refused.text and "Send another address" in refused.text
    [refused] = await a.send("http://example.com/hook")
    assert "must start with <code>https://</code>" in refused.text
    [refused] = await a.send("https://10.1.2.3/hook")
    assert "private network" in refused.text
    assert await harness.qasid.services.webhooks.endpoints(await owner_id(harness, A_ID)) == []


async def test_deleting_asks_first_and_then_nothing_more_is_sent(
        hooked: Harness, receiver: Receiver) -> None:
    a = await hooked.active_owner(A_ID)
    secret, _ = await add_endpoint(a, receiver.url("/gone"))
    receiver.secrets["/gone"] = secret
    await a.press("✔️ Done")
    [asked] = await a.press("🗑 Delete")
    assert "Delete the endpoint" in asked.text
    [listed] = await a.press("🗑 Yes, delete")
    assert "is deleted" in listed.text and "You have no endpoints yet" in listed.text
    await a.send("/optout +994501234000")
    assert await hooked.qasid.services.webhooks.tick() == 0
    assert receiver.accepted == []


async def test_the_owner_is_told_in_their_language_when_events_were_dropped(
        harness: Harness) -> None:
    from bot.services.notify import WebhookFailing

    await harness.active_owner(B_ID, language="ru")
    owner = await owner_id(harness, B_ID)
    await harness.qasid.notifier.notify(WebhookFailing(owner, 7, "https://shop.example.com/h",
                                                       21))
    told = harness.api.last_message(B_ID)
    assert "не принимает события уже 24 часа: 21 событие отброшено" in told.text
    assert "https://shop.example.com/h" in told.text
