"""Date-based messages, end to end: the owner sets one up in chat (the date column offered
from their contacts, on the day, a time, every year, a template: five taps), sees how many
contacts have a valid date, an invalid one or none, and the next sends; on the day each
customer gets it at that time in their own zone through the outbox and the sandbox number,
once, even when the engine evaluates the day again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.console.botapi import FakeBotApi
from bot.storage import contacts
from tests.e2e.test_campaigns import compose, credit, press_data
from tests.e2e.test_sending import ClockedHarness
from tests.fakes import FakeClock

OWNER = 981
AYSEL, KAMRAN, BAD, NONE = "+994501230001", "+994551230002", "+994701230003", "+994771230004"
START = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)


@pytest.fixture
async def make_harness(make_settings) -> AsyncIterator:
    made: list[ClockedHarness] = []

    async def make(**overrides: Any) -> ClockedHarness:
        settings = make_settings(dispatch_interval=0, sandbox_invalid_share=0, **overrides)
        h = ClockedHarness(FakeBotApi(), settings, FakeClock(START))
        await h.start()
        made.append(h)
        return h

    yield make
    for h in made:
        await h.stop()


class Sent:
    """What the sandbox number sent, as the customers' phones got it."""

    def __init__(self, h: ClockedHarness) -> None:
        self.texts: list[tuple[str, str, datetime]] = []
        sandbox = h.qasid.gateway.get("sandbox")
        send = sandbox.send_text

        async def recording(sender, to, text):  # type: ignore[no-untyped-def]  # the adapter's
            self.texts.append((to, text, h.clock()))
            return await send(sender, to, text)

        sandbox.send_text = recording  # type: ignore[method-assign]  # a recording double

    def to(self, phone: str) -> list[str]:
        return [text for to, text, _ in self.texts if to == phone]


async def test_a_birthday_message_set_up_in_chat_goes_on_the_day_once(make_harness) -> None:
    h = await make_harness()
    chat = await h.active_owner(OWNER)
    owner = await h.qasid.services.accounts.find(OWNER)
    async with h.qasid.db.transaction() as tx:
        await contacts.upsert(tx, owner.id, [
            (AYSEL, "Aysel", {"birthday": "05.12.1990", "city": "Bakı"}),
            (KAMRAN, "Kamran", {"birthday": "1988-12-05"}),
            (BAD, "Nigar", {"birthday": "31.11.1990"}),
            (NONE, "Orxan", {"city": "Şəki"})], h.clock())
    await compose(chat, "Ad günü", "Ad gününüz mübarək, {{name}}!")
    await credit(h, OWNER, 10)
    sent = Sent(h)
    await chat.send("/numbers")  # the sandbox number

    # the wizard, from the automations' screen (its New date message button)
    await chat.send("/automations")
    await chat.press("📅 New date message")
    shown = h.api.last_message(OWNER)
    assert "Which date of your contacts is it for?" in shown.text
    assert "birthday · 2" in shown.buttons and not any("city" in b for b in shown.buttons)
    replies = await chat.press("birthday · 2")
    assert "When, around <b>birthday</b>?" in replies[-1].text
    replies = await chat.press("On the day")
    assert "At what time?" in replies[-1].text
    replies = await chat.send("25:00")  # typed: not a time
    assert "That is not a time of day" in replies[-1].text
    replies = await chat.send("10:30")
    assert "Every year" in replies[-1].text
    replies = await chat.press("🔁 Every year")
    assert "📝 Ad günü" in replies[-1].buttons
    replies = await chat.press("📝 Ad günü")
    made = replies[-1].text
    assert "✅ Date message <b>📅 birthday · On the day</b> is on" in made
    assert "on the day, at 10:30 in the customer's time, every year" in made.lower()
    assert "👥 2 contacts with a date · 1 with one I cannot read" in made
    assert "· 1 without one" in made
    # next sends in the owner's zone (Baku): 5 December 10:30 for both
    assert f"• 05.12.2026 10:30 · {AYSEL}" in made and f"• 05.12.2026 10:30 · {KAMRAN}" in made
    [automation] = await h.qasid.services.automations.list(owner.id)
    assert automation.kind == "date" and automation.on

    # the engine's ticks over the day: planned for 10:30 in Baku (06:30 UTC)
    engine = h.qasid.services.automation_engine
    await engine.tick()
    h.clock.now = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
    await engine.tick()
    await h.run(60)
    assert sent.to(AYSEL) == []  # not before its time
    h.clock.now = datetime(2026, 12, 5, 6, 30, tzinfo=UTC)
    await engine.tick()
    await h.run(120)
    assert sent.to(AYSEL) == ["Ad gününüz mübarək, Aysel!"]
    assert sent.to(KAMRAN) == ["Ad gününüz mübarək, Kamran!"]
    assert sent.to(BAD) == sent.to(NONE) == []
    # the day evaluated again, and more ticks: nothing twice
    h.clock.advance(hours=3)
    await h.qasid.services.automation_dates.evaluate(automation, h.clock(), again=True)
    await engine.tick()
    await h.run(60)
    assert len(sent.to(AYSEL)) == len(sent.to(KAMRAN)) == 1

    # its card (from the list) says what it does and what it made; its dates button the
    # counts and the next sends, next year's now
    await chat.send("/automations")
    replies = await chat.press(f"📅 {automation.name}")
    assert "On the day, at 10:30 in the customer's time, every year" in replies[-1].text
    replies = await chat.press("📅 Dates and next sends")
    assert f"• 05.12.2027 10:30 · {AYSEL}" in replies[-1].text
    assert "👥 2 contacts with a date" in replies[-1].text
    # a stale wizard button is refused
    assert await press_data(h, chat, "adt:p:1")

    # Edit from the card: the same wizard, now 3 days before at 09:00
    await chat.send("/automations")
    await chat.press(f"📅 {automation.name}")
    await chat.press("✏️ Edit")
    await chat.press("birthday · 2")
    await chat.press("3 days before")
    await chat.press("09:00")
    await chat.press("🔁 Every year")
    replies = await chat.press("📝 Ad günü")
    assert "3 days before, at 09:00 in the customer's time" in replies[-1].text
    assert f"• 02.12.2027 09:00 · {AYSEL}" in replies[-1].text
    [edited] = await h.qasid.services.automations.list(owner.id)
    assert edited.id == automation.id and edited.config["days"] == 3
