"""/stats end to end in chat: the owner's numbers overall and per campaign, and nobody
else's."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Harness
from tests.e2e.test_campaigns import compose, credit, owner_id, press_data, seed_list, up_to_pace

SPRING = [
    ("+994501110001", "Aysu", '{"city": "Bakı"}'),
    ("+994501110002", "Kamran", '{"city": "Gəncə"}'),
    ("+994501110003", "Nərgiz", '{"city": "Şəki"}'),
    ("+994501110004", "Rauf", '{"city": "Quba"}'),
]
# what the gateway made of each message, in the order of the list
OUTCOMES = {
    "+994501110001": ("read", None, None),
    "+994501110002": ("delivered", None, None),
    "+994501110003": ("failed", "recipient_invalid", "not on WhatsApp"),
    "+994501110004": ("uncertain", "uncertain", "timeout"),
}


pytestmark = pytest.mark.no_ticks  # the messages stay where the test puts them


async def confirmed_campaign(harness: Harness, telegram_id: int):
    """An active owner whose campaign "Promo · Spring" is confirmed, and whose four
    messages were read, delivered, failed and left uncertain."""
    chat = await harness.active_owner(telegram_id)
    await seed_list(harness, telegram_id, "Spring", SPRING)
    await compose(chat, "Promo", "Salam {{name|dostum}}!")
    await credit(harness, telegram_id, 10)
    await up_to_pace(chat, "📋 Spring (4)", "📝 Promo")
    await chat.press("🚶 Normal")
    replies = await chat.press("✅ Confirm")
    assert "is scheduled: 4 messages" in replies[0].text
    oid = await owner_id(harness, telegram_id)
    async with harness.qasid.db.transaction() as tx:
        for phone, (status, category, detail) in OUTCOMES.items():
            await tx.execute(
                "UPDATE messages SET status = ?, error_category = ?, error_detail = ?"
                " WHERE owner_id = ? AND phone = ?", (status, category, detail, oid, phone))
        async with tx.execute("SELECT id FROM campaigns WHERE owner_id = ? AND status <> 'draft'",
                              (oid,)) as cur:
            (campaign_id,) = await cur.fetchone()
    return chat, campaign_id


async def test_stats_overall_then_one_campaign_and_back(harness: Harness) -> None:
    chat, cid = await confirmed_campaign(harness, 811)

    replies = await chat.send("/stats")
    text = replies[0].text
    assert "Statistics: all your messages" in text
    assert "Messages: 4\n⏳ queued 0\n📤 sent 2\n" in text
    assert "📬 delivered 2 (100% of sent)" in text
    assert "👀 read 1 (50% of sent)" in text
    assert "❌ failed 1 (33.3% of attempts)" in text
    assert "❔ uncertain 1" in text
    assert "1. Not on WhatsApp or a wrong number: 1 (most often: not on WhatsApp)" in text
    assert f"#{cid} Promo · Spring: 2 of 4 sent, 100% delivered" in text
    assert f"📈 #{cid} Promo · Spring" in replies[0].buttons

    replies = await chat.press(f"📈 #{cid} Promo · Spring")
    assert chat.last_answer is not None and "text" not in chat.last_answer
    assert replies[0].edited  # the same message now shows the campaign
    text = replies[0].text
    assert f"📈 <b>#{cid} Promo · Spring</b>: ⏳ scheduled" in text
    assert "📤 sent 2" in text and "❌ failed 1 (33.3% of attempts)" in text
    assert "Top failure reasons" in text
    assert "⬅️ All statistics" in replies[0].buttons

    replies = await chat.press("⬅️ All statistics")
    assert "Statistics: all your messages" in replies[0].text

    # the campaign's card leads to the same numbers
    await chat.send("/campaigns")
    await chat.press(f"#{cid} Promo · Spring")
    replies = await chat.press("📈 Stats")
    assert f"#{cid} Promo · Spring</b>" in replies[0].text
    assert "👀 read 1 (50% of sent)" in replies[0].text
    replies = await chat.press("📊 Details")
    assert "Credits reserved" in replies[0].text


async def test_stats_speak_the_owners_language(harness: Harness) -> None:
    chat = await harness.active_owner(812, language="ru")
    replies = await chat.send("/stats")
    assert "Сообщений пока нет" in replies[0].text


async def test_another_owner_cannot_see_my_campaign_stats(harness: Harness) -> None:
    alice, cid = await confirmed_campaign(harness, 813)

    bob = await harness.active_owner(814, phone="+994551112233", language="ru")
    replies = await bob.send("/stats")
    assert "Сообщений пока нет" in replies[0].text  # none of Alice's numbers
    assert not any(label.startswith("📈") for label in replies[0].buttons)

    assert "Не найдено" in await press_data(harness, bob, f"st:c:{cid}")
    assert "Promo" not in harness.api.last_message(bob.chat_id).text
    assert "устарела" in await press_data(harness, bob, "st:c:nope")

    # Alice still sees hers
    replies = await alice.send("/stats")
    assert "📤 sent 2" in replies[0].text
    replies = await alice.press(f"📈 #{cid} Promo · Spring")
    assert f"#{cid} Promo · Spring</b>" in replies[0].text


def photos(harness: Harness, chat) -> list:
    return [m for m in harness.api.messages(chat.chat_id) if m.kind == "photo"]


async def test_a_chart_of_all_messages_and_of_one_campaign(harness: Harness) -> None:
    chat, cid = await confirmed_campaign(harness, 815)
    replies = await chat.send("/stats")
    assert replies[0].buttons[0] == "📊 Chart"

    oid = await owner_id(harness, 815)
    async with harness.qasid.db.transaction() as tx:
        await tx.execute(
            "UPDATE messages SET gateway_message_id = 'gw-' || id, sent_at = planned_at,"
            " delivered_at = CASE WHEN status IN ('delivered', 'read') THEN planned_at END"
            " WHERE owner_id = ? AND status IN ('read', 'delivered')", (oid,))
    await chat.press("📊 Chart")
    assert chat.last_answer is not None and "text" not in chat.last_answer
    [photo] = photos(harness, chat)
    assert photo.file.content.startswith(b"\x89PNG")
    assert "Delivery: all your messages" in photo.caption
    assert "📤 sent 2 · 📬 delivered 100% · ❌ failed 1" in photo.caption
    assert "(Asia/Baku)" in photo.caption

    await chat.send("/stats")
    await chat.press(f"📈 #{cid} Promo · Spring")
    await chat.press("📊 Chart")
    photo = photos(harness, chat)[-1]
    assert len(photos(harness, chat)) == 2
    assert f"Delivery: #{cid} Promo · Spring" in photo.caption


async def test_nobody_gets_a_chart_of_another_owners_campaign(harness: Harness) -> None:
    _alice, cid = await confirmed_campaign(harness, 816)
    bob = await harness.active_owner(817, phone="+994551112299")
    await bob.send("/stats")
    assert "Not found" in await press_data(harness, bob, f"st:g:c:{cid}")
    assert "Nothing was sent yet" in await press_data(harness, bob, "st:g:all")
    assert "out of date" in await press_data(harness, bob, "st:g:c:nope")
    assert "out of date" in await press_data(harness, bob, "st:g")
    assert photos(harness, bob) == []
