"""Sending, as the owner sees it in chat: one progress message, pause and resume, the final
summary, a ban alert, a low-balance alert. The dispatcher is driven tick by tick on a fake
clock (``DISPATCH_INTERVAL=0``: no timer of its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram.request import HTTPXRequest

from bot.app import Qasid
from bot.console.botapi import FakeBotApi, FakeUser
from tests.e2e.conftest import ADMIN_ID, Harness
from tests.e2e.test_campaigns import CUSTOMERS, compose, credit, seed_list, up_to_pace
from tests.fakes import FakeClock


class ClockedHarness(Harness):
    def __init__(self, api: FakeBotApi, settings, clock: FakeClock) -> None:
        super().__init__(api, settings)
        self.clock = clock

    async def start(self) -> Qasid:
        self.api.add_user(FakeUser(id=ADMIN_ID, first_name="Admin"))
        request = HTTPXRequest(httpx_kwargs={"transport": self.api.transport()})
        self.qasid = Qasid(self.settings, request=request, token=self.api.token,
                           rate_limit=False, clock=self.clock)
        await self.qasid.start()
        return self.qasid

    async def run(self, seconds: float, step: float = 1.0) -> None:
        for _ in range(int(seconds / step)):
            await self.qasid.services.dispatcher.tick()
            self.clock.advance(seconds=step)


@pytest.fixture
async def make_harness(make_settings) -> AsyncIterator:
    made: list[ClockedHarness] = []

    async def make(**overrides) -> ClockedHarness:
        from datetime import UTC, datetime

        settings = make_settings(dispatch_interval=0, sandbox_invalid_share=0, **overrides)
        h = ClockedHarness(FakeBotApi(), settings, FakeClock(datetime.now(UTC)))
        await h.start()
        made.append(h)
        return h

    yield make
    for h in made:
        await h.stop()


async def confirm_fast_campaign(h: Harness, chat) -> None:
    await up_to_pace(chat, "📋 Müştərilər (3)", "📝 Promo")
    await chat.press("🐇 Fast")
    replies = await chat.press("✅ Confirm")
    assert "is scheduled" in replies[0].text


async def prepared_owner(h: ClockedHarness, user_id: int, credits: int = 100):
    chat = await h.active_owner(user_id)
    await seed_list(h, user_id, "Müştərilər", CUSTOMERS)
    await compose(chat, "Promo", "{Salam|Hello} {{name|dostum}}")
    await credit(h, user_id, credits)
    return chat


async def test_a_campaign_sends_with_one_live_message_and_a_final_summary(make_harness) -> None:
    h = await make_harness()
    chat = await prepared_owner(h, 901)
    await confirm_fast_campaign(h, chat)
    before = len(h.api.messages(901))
    await h.run(7)
    progress = [m for m in h.api.messages(901)[before:] if m.text.startswith("📤")]
    assert len(progress) == 1  # one message, then edited
    assert "▶️ sending" in progress[0].text and "⏸ Pause" in progress[0].buttons

    replies = await chat.press("⏸ Pause")
    assert "⏸ paused" in replies[0].text
    await h.run(60)
    view = (await h.qasid.services.campaigns.list(
        (await h.qasid.services.accounts.find(901)).id))[0]
    assert view.progress.unsent > 0  # nothing went out while paused
    await chat.press("▶️ Resume")
    await h.run(120)

    messages = h.api.messages(901)
    progress = [m for m in messages[before:] if m.text.startswith("📤")]
    assert len(progress) == 1 and progress[0].edited
    assert "✅ Finished: 3 of 3 sent, 0 failed." in progress[0].text
    assert any("is finished: 3 of 3 sent, 0 failed" in m.text for m in messages[before:])
    replies = await chat.send("/balance")
    assert "Balance: <b>97</b>" in replies[0].text and "Reserved for campaigns: 0" in \
        replies[0].text


async def test_a_banned_number_pauses_the_campaign_and_alerts_the_owner(make_harness) -> None:
    h = await make_harness()
    chat = await prepared_owner(h, 902)
    await confirm_fast_campaign(h, chat)
    await h.run(7)  # the first message goes out
    owner = await h.qasid.services.accounts.find(902)
    [number] = await h.qasid.services.senders.list(owner.id)
    await h.qasid.gateway.get("sandbox").ban(number.id)  # WhatsApp bans it: the gateway tells us
    await h.run(60)
    texts = [m.text for m in h.api.messages(902)]
    assert any("was banned. 1 campaign using it is paused" in t for t in texts)
    assert any("is paused: its WhatsApp number was banned" in t for t in texts)
    replies = await chat.send("/campaigns")
    assert "⏸ paused, 1 of 3 sent" in replies[0].text
    replies = await chat.press("#1 Promo · Müştərilər")
    assert "is paused: its WhatsApp number was banned" in replies[0].text  # the card says why

    # the way forward from the alert: another number, the campaign moved onto it
    alert = next(m for m in h.api.messages(902) if "Your WhatsApp number" in m.text)
    assert alert.buttons[:3] == ["🔀 Move its campaigns to another number",
                                 "🗑 Remove this number", "➕ Link a new number"]
    await chat.press("🔀 Move its campaigns to another number")
    assert "no other working number" in chat.last_answer["text"]
    replies = await chat.press("➕ Link a new number")
    assert "The number <b>Sandbox 2</b> is linked" in replies[-1].text
    replies = await chat.press("🔀 Move its campaigns to another number")
    assert "now send from <b>Sandbox 2</b>; 1 paused campaign goes on" in replies[-1].text
    await h.run(120)
    replies = await chat.send("/campaigns")
    assert "✅ completed, 3 of 3 sent" in replies[0].text
    replies = await chat.press("🗑 Remove this number")
    assert "is removed" in replies[-1].text


async def test_low_credits_are_reported_once_and_the_alert_can_be_turned_off(
        make_harness) -> None:
    h = await make_harness(low_balance_credits=99)
    chat = await prepared_owner(h, 903, credits=100)
    await confirm_fast_campaign(h, chat)
    await h.run(120)
    texts = [m.text for m in h.api.messages(903)]
    assert sum("credits are running low: 97 available" in t for t in texts) == 1

    replies = await chat.send("/settings")
    assert "✅ Credits running low" in replies[0].buttons
    replies = await chat.press("✅ Credits running low")
    assert "⬜ Credits running low" in replies[0].buttons
    assert "✅ Campaign finished" in replies[0].buttons  # the others untouched


async def test_customers_replies_stop_them_or_ask_the_owner(make_harness) -> None:
    h = await make_harness()
    chat = await prepared_owner(h, 904)
    await chat.send("/numbers")  # the sandbox's number is there once looked at
    owner = await h.qasid.services.accounts.find(904)
    [number] = await h.qasid.services.campaigns.usable_senders(owner.id)
    contacts = h.qasid.services.contacts

    await h.qasid.gateway.get("sandbox").simulate_incoming(number.id, "+994501234567", "STOP")
    await h.run(1)
    assert (await contacts.sample(owner.id, (await contacts.lists(owner.id))[0].id))[
        0].opted_out_at is not None  # a bare STOP: opted out at once, nobody asked

    before = len(h.api.messages(904))
    await h.qasid.gateway.get("sandbox").simulate_incoming(number.id, "+994551234567",
                                            "Salam, please stop sending me these <offers>")
    await h.run(1)
    [question] = h.api.messages(904)[before:]
    assert "+994551234567" in question.text and "&lt;offers&gt;" in question.text
    replies = await chat.press("🚫 Opt out")
    assert "+994551234567 is opted out" in replies[-1].text
    people = await contacts.sample(owner.id, (await contacts.lists(owner.id))[0].id)
    assert [c.phone for c in people if c.opted_out_at] == ["+994501234567", "+994551234567"]
