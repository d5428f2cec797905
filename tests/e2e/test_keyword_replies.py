"""Keyword replies, end to end: the owner sets one up in chat (keywords, template, how
often, a list: four steps), a sandbox customer's message with a keyword gets the
template's answer through the number they wrote to, once per contact per N hours; the
owner still sees the message in the inbox; opt-out words win; another owner's customers
and buttons are not touched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app import Qasid
from bot.console.botapi import FakeBotApi
from bot.gateways.sandbox import SandboxGateway
from tests.e2e.test_campaigns import CUSTOMERS, compose, press_data
from tests.e2e.test_sending import ClockedHarness, prepared_owner
from tests.fakes import FakeClock

OWNER, OTHER = 971, 972
ALI, LEYLA = CUSTOMERS[0][0], CUSTOMERS[1][0]
NEW = "+994709998877"
ANSWER = "Qiymətlər: buket 10 AZN, {{name|dostum}}"


@pytest.fixture
async def make_harness(make_settings) -> AsyncIterator:
    made: list[ClockedHarness] = []

    async def make(**overrides: Any) -> ClockedHarness:
        settings = make_settings(dispatch_interval=0, sandbox_invalid_share=0, **overrides)
        h = ClockedHarness(FakeBotApi(), settings, FakeClock(datetime.now(UTC)))
        await h.start()
        made.append(h)
        return h

    yield make
    for h in made:
        await h.stop()


def app(h: ClockedHarness) -> Qasid:
    assert h.qasid is not None
    return h.qasid


def sandbox(h: ClockedHarness) -> SandboxGateway:
    gateway = app(h).gateway.get("sandbox")
    assert isinstance(gateway, SandboxGateway)
    return gateway


class Sent:
    """What the sandbox number sent, recorded as the customer's phone would get it."""

    def __init__(self, h: ClockedHarness) -> None:
        self.texts: list[tuple[str, str]] = []
        gateway = sandbox(h)
        send = gateway.send_text

        async def recording(sender: Any, to: str, text: str) -> Any:
            self.texts.append((to, text))
            return await send(sender, to, text)

        gateway.send_text = recording  # type: ignore[method-assign]  # a recording double

    def to(self, phone: str) -> list[str]:
        return [text for to, text in self.texts if to == phone]


async def owner_with_number(h: ClockedHarness, telegram_id: int):
    chat = await prepared_owner(h, telegram_id)
    await compose(chat, "Qiymətlər", ANSWER)
    await chat.send("/numbers")
    owner = await app(h).services.accounts.find(telegram_id)
    assert owner is not None
    [number] = await app(h).services.campaigns.usable_senders(owner.id)
    return chat, owner, number


async def customer_says(h: ClockedHarness, number_id: int, phone: str, text: str) -> None:
    await sandbox(h).simulate_incoming(number_id, phone, text)
    await app(h).services.inbox.drain()
    await h.run(90)


async def new_keyword_reply(h: ClockedHarness, chat) -> list:
    """The wizard from the automations' screen (its New keyword reply button)."""
    await chat.send("/automations")
    replies = await chat.press("🔑 New keyword reply")
    assert "Type the keywords, separated by commas" in replies[-1].text
    replies = await chat.send("price, stop")  # refused: asked again
    assert "“stop” holds an opt-out word" in replies[-1].text
    replies = await chat.send("price, Qiymət, цена, how much")
    assert "Keywords: <b>price, Qiymət, цена, how much</b>" in replies[-1].text
    assert "📝 Qiymətlər" in replies[-1].buttons
    replies = await chat.press("📝 Qiymətlər")
    assert "How often may one customer get it" in replies[-1].text
    replies = await chat.press("✅ 1 day")
    assert "At most once every 1 day per customer" in replies[-1].text
    return await chat.press("📋 Müştərilər")


async def test_a_keyword_reply_set_up_in_chat_answers_a_customer_once_a_day(
    make_harness,
) -> None:
    h = await make_harness()
    chat, owner, number = await owner_with_number(h, OWNER)
    sent = Sent(h)
    replies = await new_keyword_reply(h, chat)
    assert "✅ Keyword reply <b>🔑 price, Qiymət, цена, how much</b> is on." in replies[-1].text
    assert "at most once every 1 day per customer" in replies[-1].text
    assert "added to the list «Müştərilər»" in replies[-1].text
    [automation] = await app(h).services.automations.list(owner.id)
    assert automation.kind == "keyword" and automation.on
    card = await chat.press("🔑 Open it")
    assert "Answers <b>price, Qiymət, цена, how much</b>, at most once every 1 day" \
        in card[-1].text

    before = len(h.api.messages(OWNER))
    await customer_says(h, number.id, ALI, "Salam! QİYMƏT nədir?")
    assert sent.to(ALI) == ["Qiymətlər: buket 10 AZN, Əli Həsənov"]
    shown = [m.text for m in h.api.messages(OWNER)[before:]]
    assert any("Salam! QİYMƏT nədir?" in t for t in shown)  # the inbox still has it

    await customer_says(h, number.id, ALI, "how much, again?")  # within the day
    assert len(sent.to(ALI)) == 1
    h.clock.advance(hours=24)
    await customer_says(h, number.id, ALI, "цена?")
    assert len(sent.to(ALI)) == 2

    # a phone the owner did not know becomes a contact, answered and on the list
    await customer_says(h, number.id, NEW, "price pls")
    assert sent.to(NEW) == ["Qiymətlər: buket 10 AZN, dostum"]
    card = await chat.send(f"/contact {NEW}")
    assert "Müştərilər" in card[0].text

    # opt-out words always win
    await customer_says(h, number.id, LEYLA, "STOP price")
    await customer_says(h, number.id, LEYLA, "STOP")
    h.clock.advance(hours=25)
    await customer_says(h, number.id, LEYLA, "price")
    assert sent.to(LEYLA) == []
    card = await chat.send(f"/contact {LEYLA}")
    assert "🚫 Opted out" in card[0].text


async def test_another_owner_neither_answers_with_nor_changes_the_keyword_reply(
    make_harness,
) -> None:
    h = await make_harness()
    chat, owner, _number = await owner_with_number(h, OWNER)
    other, other_owner, other_number = await owner_with_number(h, OTHER)
    sent = Sent(h)
    await new_keyword_reply(h, chat)

    await customer_says(h, other_number.id, ALI, "price?")  # to B's number: B has none
    assert sent.to(ALI) == []

    # B's wizard cannot take A's template or list
    [a_template] = [t for t in await app(h).services.templates.list(owner.id)
                    if t.name == "Qiymətlər"]
    await press_data(h, other, "akw:new")
    await other.send("price")
    alert = await press_data(h, other, f"akw:t:{a_template.id}")
    assert "Not found" in alert
    assert await app(h).services.automations.list(other_owner.id) == []
    alert = await press_data(h, other, "akw:l:1")  # not this far: a stale button
    assert alert


async def test_edit_changes_the_keywords_and_the_hours(make_harness) -> None:
    h = await make_harness()
    chat, owner, number = await owner_with_number(h, OWNER)
    sent = Sent(h)
    await new_keyword_reply(h, chat)
    [automation] = await app(h).services.automations.list(owner.id)
    await press_data(h, chat, f"akw:ed:{automation.id}")
    assert "Now: <i>price, Qiymət, цена, how much</i>" in chat.texts()[-1]
    await chat.send("tarif")
    await chat.press("📝 Qiymətlər")
    replies = await chat.send("2")  # hours, typed
    assert "At most once every 2 hours per customer" in replies[-1].text
    await chat.press("No list")
    [changed] = await app(h).services.automations.list(owner.id)
    assert changed.id == automation.id
    assert (changed.config["keywords"], changed.config["cooldown_hours"]) == (["tarif"], 2)
    await customer_says(h, number.id, ALI, "price?")
    await customer_says(h, number.id, ALI, "Tarif?")
    assert sent.to(ALI) == ["Qiymətlər: buket 10 AZN, Əli Həsənov"]
