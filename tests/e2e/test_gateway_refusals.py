"""When the WhatsApp gateway refuses what the owner asked for, the owner reads why in
their language and nothing is charged or kept: the service turned the gateway's error
into a domain error, the handler rendered its reason."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.console.botapi import FakeBotApi
from tests.e2e.conftest import Harness
from tests.e2e.test_campaigns import compose, credit, many, press_data, seed_list, up_to_pace

OWNER, OTHER = 861, 862


@pytest.fixture
async def nobody_on_whatsapp(make_settings) -> AsyncIterator[Harness]:
    """A sandbox in which no phone is on WhatsApp: every send is ``recipient_invalid``."""
    h = Harness(FakeBotApi(), make_settings(sandbox_invalid_share=1.0))
    await h.start()
    yield h
    await h.stop()


async def sent_tests(h: Harness) -> int:
    async with h.qasid.db.reader.execute(
            "SELECT COUNT(*) FROM messages WHERE campaign_id IS NULL") as cur:
        return (await cur.fetchone())[0]


async def test_a_test_message_the_gateway_refuses_says_why_and_costs_nothing(
        nobody_on_whatsapp: Harness) -> None:
    h = nobody_on_whatsapp
    chat = await h.active_owner(OWNER, phone="+994501112233")
    await seed_list(h, OWNER, "New", many(4))
    await compose(chat, "Hi", "Hi {{name}}")
    await credit(h, OWNER, 50)
    await up_to_pace(chat, "📋 New (4)", "📝 Hi")
    await chat.press("🐇 Fast")

    replies = await chat.press("📲 Send a test to me")
    assert ("The test could not be sent: Not on WhatsApp or a wrong number."
            " Nothing was charged.") in replies[-1].text
    assert await sent_tests(h) == 0
    replies = await chat.send("/balance")
    assert "Available: <b>50</b>" in replies[0].text

    # another owner pressing the same button sends nothing from the first owner's number
    other = await h.active_owner(OTHER, phone="+994551112233")
    await press_data(h, other, "wiz:test")
    assert not any("Test sent" in (m.text or "") for m in h.api.messages(OTHER))
    assert await sent_tests(h) == 0
    replies = await chat.send("/balance")
    assert "Available: <b>50</b>" in replies[0].text
