"""Follow-ups in one tap from a campaign's stats, in the chat: *New campaign to...* an
audience (saved as a list, the wizard at the template step), *Retry failed*, *Run again*
and a campaign's own name; another owner can do none of it to the first's campaign."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Harness
from tests.e2e.test_campaigns import compose, credit, owner_id, press_data, seed_list, up_to_pace

SPRING = [
    ("+994501120001", "Aysu", '{"city": "Bakı"}'),
    ("+994501120002", "Kamran", '{"city": "Gəncə"}'),
    ("+994501120003", "Nərgiz", '{"city": "Şəki"}'),
    ("+994501120004", "Rauf", '{"city": "Quba"}'),
]
OUTCOMES = {  # what became of each message
    "+994501120001": ("read", None, None),
    "+994501120002": ("delivered", None, None),
    "+994501120003": ("failed", "rate_limited", "slow down"),
    "+994501120004": ("failed", "recipient_invalid", "not on WhatsApp"),
}


pytestmark = pytest.mark.no_ticks  # the messages stay where the test puts them


async def went_out(harness: Harness, telegram_id: int):
    chat = await harness.active_owner(telegram_id)
    await seed_list(harness, telegram_id, "Spring", SPRING)
    await compose(chat, "Promo", "Salam {{name|dostum}}!")
    await credit(harness, telegram_id, 10)
    await up_to_pace(chat, "📋 Spring (4)", "📝 Promo")
    await chat.press("🚶 Normal")
    assert "is scheduled: 4 messages" in (await chat.press("✅ Confirm"))[0].text
    oid = await owner_id(harness, telegram_id)
    async with harness.qasid.db.transaction() as tx:
        for phone, (status, category, detail) in OUTCOMES.items():
            await tx.execute(
                "UPDATE messages SET status = ?, error_category = ?, error_detail = ?,"
                " sent_at = CASE WHEN ? IN ('read', 'delivered') THEN planned_at END"
                " WHERE owner_id = ? AND phone = ?",
                (status, category, detail, status, oid, phone))
        async with tx.execute("SELECT id FROM campaigns WHERE owner_id = ?", (oid,)) as cur:
            (cid,) = await cur.fetchone()
    await chat.send("/stats")
    await chat.press(f"📈 #{cid} Promo · Spring")
    return chat, cid, oid


async def outbox(harness: Harness, oid: int) -> list[tuple]:
    async with harness.qasid.db.reader.execute(
            "SELECT campaign_id, phone, status FROM messages WHERE owner_id = ?"
            " ORDER BY campaign_id, phone", (oid,)) as cur:
        return [tuple(row) for row in await cur.fetchall()]


async def test_a_new_campaign_to_those_who_failed_starts_at_the_template(
        harness: Harness) -> None:
    chat, cid, oid = await went_out(harness, 871)
    replies = await chat.press("🎯 New campaign to…")
    assert replies[0].edited and "a new campaign to whom?" in replies[0].text
    assert replies[0].buttons == ["👁 Did not read it · 1", "❌ Failed, may pass now · 1",
                                  "🤐 Did not reply · 2", "⬅️ Back"]

    replies = await chat.press("❌ Failed, may pass now · 1")
    texts = [r.text for r in replies]
    assert "📋 Saved as the list <b>Promo · Spring - failed</b>: 1 contact." in texts
    assert "step 2 of 6" in texts[-1] and "Choose a template" in texts[-1]
    await chat.press("📝 Promo")
    await chat.press("Next ➡️")
    await chat.press("▶️ Now")
    await chat.press("🚶 Normal")
    replies = await chat.press("✅ Confirm")
    assert "is scheduled: 1 message" in replies[0].text
    assert [row for row in await outbox(harness, oid) if row[0] != cid] == [
        (cid + 1, "+994501120003", "queued")]  # the one whose failure may pass, only
    lists = await harness.qasid.services.contacts.lists(oid)
    assert [(x.name, x.size) for x in lists] == [("Spring", 4),
                                                 ("Promo · Spring - failed", 1)]


async def test_retry_failed_sends_again_what_may_pass_and_says_how_many(
        harness: Harness) -> None:
    chat, cid, oid = await went_out(harness, 872)
    available = (await harness.qasid.services.billing.balance(oid)).available
    replies = await chat.press("🔁 Retry failed")
    assert chat.last_answer is not None
    assert chat.last_answer["text"] == "🔁 1 failed message is queued again (1 credit reserved)."
    assert "❌ failed 1" in replies[0].text and "⏳ queued 1" in replies[0].text
    assert await outbox(harness, oid) == [
        (cid, "+994501120001", "read"), (cid, "+994501120002", "delivered"),
        (cid, "+994501120003", "queued"), (cid, "+994501120004", "failed")]  # never invalid
    assert (await harness.qasid.services.billing.balance(oid)).available == available - 1

    await chat.press("🔁 Retry failed")
    assert "never sent again" in chat.last_answer["text"]


async def test_run_again_copies_the_campaign_and_asks_only_when_and_a_name(
        harness: Harness) -> None:
    chat, cid, _oid = await went_out(harness, 873)
    replies = await chat.press("♻️ Run again")
    texts = [r.text for r in replies]
    assert any("A new run of <b>#1 Promo · Spring</b>" in t for t in texts)
    assert "step 4 of 6" in texts[-1]
    replies = await chat.press("▶️ Now")
    summary = replies[0].text
    assert "step 6 of 6" in summary  # the pace is the original's: straight to the summary
    assert "🏷 Name: <b>Promo · Spring</b>" in summary and "Spring" in summary

    replies = await chat.press("🏷 Rename")
    assert "What should this campaign be called?" in replies[0].text
    replies = await chat.send("Spring, once more")
    assert "🏷 Name: <b>Spring, once more</b>" in replies[-1].text
    replies = await chat.press("✅ Confirm")
    assert "is scheduled: 4 messages" in replies[0].text
    await chat.send("/campaigns")
    assert f"#{cid + 1} Spring, once more" in " ".join(chat.buttons())


async def test_another_owner_can_follow_up_nothing_of_mine(harness: Harness) -> None:
    _alice, cid, alice_id = await went_out(harness, 874)
    before = await outbox(harness, alice_id)
    bob = await harness.active_owner(875, phone="+994551112233", language="ru")
    bob_id = await owner_id(harness, 875)
    for data in (f"st:fu:{cid}", f"st:retry:{cid}", f"wiz:fu:{cid}:failed",
                 f"wiz:fu:{cid}:replied", f"wiz:again:{cid}"):
        assert "Не найдено" in await press_data(harness, bob, data), data
    assert "устарела" in await press_data(harness, bob, f"wiz:fu:{cid}:everyone")
    assert await harness.qasid.services.contacts.lists(bob_id) == []
    assert await harness.qasid.services.campaigns.draft(bob_id) is None
    assert await outbox(harness, alice_id) == before
    assert all("Spring" not in m.text and "Aysu" not in m.text
               for m in harness.api.messages(bob.chat_id))
