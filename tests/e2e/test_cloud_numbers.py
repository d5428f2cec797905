"""A Cloud API number, as the owner lives it: added in /numbers by phone-number id and
token (the message holding the token deleted at once; a wrong token refused, nothing
kept), the wizard refusing it for a template without an approved twin, the twin named
in /templates, and the campaign going out as that template through the fake Cloud API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.console.botapi import FakeBotApi
from bot.storage import health
from tests.e2e.test_campaigns import CUSTOMERS, compose, credit, seed_list, up_to_pace
from tests.e2e.test_sending import ClockedHarness
from tests.fakes import FakeClock
from tests.gateways.fake_cloud import FakeCloud, serve_fake_cloud

OWNER = 941
NUMBER_ID = "106540352242922"
TOKEN = "EAAGm0PX4ZCpsBAKzZBZCj1ZCtesttokenvalue123"


@pytest.fixture
async def world(make_settings) -> AsyncIterator[tuple[ClockedHarness, FakeCloud]]:
    from datetime import UTC, datetime

    with serve_fake_cloud() as cloud:
        cloud.add_number(NUMBER_ID, TOKEN, display="+994 50 555 12 34")
        settings = make_settings(gateway="cloud", cloud_graph_url=cloud.url,
                                 cloud_app_secret="app-secret", cloud_verify_token="verify",
                                 dispatch_interval=0)
        h = ClockedHarness(FakeBotApi(), settings, FakeClock(datetime.now(UTC)))
        await h.start()
        try:
            yield h, cloud
        finally:
            await h.stop()


def deleted_user_messages(api: FakeBotApi) -> list[int]:
    return [c.params["message_id"] for c in api.calls if c.method == "deleteMessage"
            and c.error is None]


async def test_add_a_cloud_number_and_send_an_approved_template(world) -> None:
    h, cloud = world
    chat = await h.active_owner(OWNER)
    replies = await chat.send("/numbers")
    assert replies[0].buttons[:1] == ["➕ Add a Cloud API number"]

    replies = await chat.press("➕ Add a Cloud API number")
    assert "phone-number id" in replies[0].text and "delete your message" in replies[0].text
    replies = await chat.send(f"{NUMBER_ID} EAAGwrongtokenwrongtoken00000")
    assert len(deleted_user_messages(h.api)) == 1  # the token is gone from the chat
    assert "Meta refused this id or token" in replies[0].text
    assert TOKEN not in " ".join(m.text or "" for m in h.api.messages(OWNER))
    owner = await h.qasid.services.accounts.find(OWNER)
    assert await h.qasid.services.senders.list(owner.id) == []  # nothing kept

    replies = await chat.send(f"{NUMBER_ID} {TOKEN}")
    assert len(deleted_user_messages(h.api)) == 2
    assert "<b>+994505551234</b> is linked" in replies[0].text
    replies = await chat.send("/numbers")
    assert "+994505551234" in replies[0].text and "Cloud API" in replies[0].text

    await seed_list(h, OWNER, "Müştərilər", CUSTOMERS)
    await compose(chat, "Promo", "Salam {{name|dostum}}, {{city}} mağazamızda endirim!")
    await credit(h, OWNER, 100)
    await chat.send("/newcampaign")
    await chat.press("📋 Müştərilər (3)")
    await chat.press("📝 Promo")
    replies = await chat.press("Next ➡️")
    assert "Cloud API number" in replies[0].text and "approved" in replies[0].text
    await chat.press("✖️ Cancel")

    await chat.send("/templates")
    await chat.press("📝 Promo")
    replies = await chat.press("☁️ Approved Cloud API template")
    assert "spring_sale" in replies[0].text and "city" in replies[0].text
    replies = await chat.send("spring_sale az name nosuchvar")
    assert "There is no variable “nosuchvar”" in replies[0].text
    replies = await chat.send("spring_sale az name city")
    assert "<b>spring_sale</b>" in replies[0].text

    await up_to_pace(chat, "📋 Müştərilər (3)", "📝 Promo")
    await chat.press("🐇 Fast")
    replies = await chat.press("✅ Confirm")
    assert "is scheduled" in replies[0].text
    await h.run(60)

    sent = [r for r in cloud.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert len(sent) == 3
    for request in sent:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.body["type"] == "template"
        template = request.body["template"]
        assert template["name"] == "spring_sale" and template["language"] == {"code": "az"}
    params = sorted(tuple(p["text"] for p in r.body["template"]["components"][0]["parameters"])
                    for r in sent)
    assert params == sorted([("Əli Həsənov", "Bakı"), ("Leyla", "Gəncə"), ("-", "Şəki")])


async def test_the_summary_says_metas_yellow_rating_and_a_tier_below_the_recipients(
        world) -> None:
    h, _cloud = world
    chat = await h.active_owner(OWNER)
    await chat.send("/numbers")
    await chat.press("➕ Add a Cloud API number")
    await chat.send(f"{NUMBER_ID} {TOKEN}")
    owner = await h.qasid.services.accounts.find(OWNER)
    number = (await h.qasid.services.senders.list(owner.id))[0]
    async with h.qasid.db.transaction() as tx:  # as the health guard last stored Meta's
        await health.set_guard(tx, owner.id, number.id, h.clock(), quality="YELLOW",
                               tier=250)
    people = [(f"+9945014{n:05d}", f"Customer {n}", '{"city": "Bakı"}') for n in range(300)]
    await seed_list(h, OWNER, "Hamı", people)
    await compose(chat, "Promo", "Salam {{name|dostum}}!")
    await chat.send("/templates")
    await chat.press("📝 Promo")
    await chat.press("☁️ Approved Cloud API template")
    await chat.send("spring_sale az name city")
    await credit(h, OWNER, 400)
    await up_to_pace(chat, "📋 Hamı (300)", "📝 Promo")
    text = (await chat.press("🐢 Safe"))[0].text
    assert "🔴 Risk: high" in text
    assert ("• Meta lets +994505551234 reach 250 customers a day; this campaign has 300 "
            "recipients.") in text
    assert "• +994505551234's quality rating at Meta is YELLOW." in text
