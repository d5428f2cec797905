"""The pre-flight check on the campaign summary, end to end in chat: the risk level and
its reasons in words, high risk asks twice, and each owner's risk is judged from that
owner's history only."""

from __future__ import annotations

import itertools
import re
import time
from datetime import datetime

from bot.storage import contacts
from tests.e2e.conftest import Harness
from tests.e2e.test_campaigns import CUSTOMERS, compose, credit, owner_id, seed_list, up_to_pace


async def test_the_summary_shows_the_risk_and_its_reasons(harness: Harness) -> None:
    chat = await harness.active_owner(811)
    await seed_list(harness, 811, "Müştərilər", CUSTOMERS)
    await compose(chat, "Salam", "Salam {{name|dostum}}")
    await credit(harness, 811, 10)
    await up_to_pace(chat, "📋 Müştərilər (3)", "📝 Salam")
    replies = await chat.press("🐢 Safe")
    text = replies[0].text
    assert "🟡 Risk: medium" in text
    assert "100% of the recipients (3) never had a message from you." in text
    assert "100% of the recipients (3) are not yet known to be on WhatsApp." in text
    assert "Only 1 text in a batch of 3: add variants or {a|b} choices." in text
    assert "WAHA advises" not in text  # the Safe pace keeps the 30-60 s guidance now
    # and holds the night in each recipient's zone
    assert "the night (22:00-08:00) held in each recipient's own time zone" in text
    assert "is in its first week (day 1 since it was linked)" in text
    assert "Confirming asks you once more." not in text
    # medium risk: Confirm schedules at once
    replies = await chat.press("✅ Confirm")
    assert "is scheduled: 3 messages" in replies[0].text


async def test_high_risk_asks_twice(harness: Harness) -> None:
    chat = await harness.active_owner(812)
    owner = await owner_id(harness, 812)
    many = [(f"+9945012{n:05d}", f"Customer {n}", '{"city": "Bakı"}') for n in range(70)]
    await seed_list(harness, 812, "Hamı", many)
    await compose(chat, "Salam", "{Salam|Hello|Hi} {{name}}, {new|fresh} {offers|prices}!")
    await credit(harness, 812, 100)
    await up_to_pace(chat, "📋 Hamı (70)", "📝 Salam")
    replies = await chat.press("🐢 Safe")
    text = replies[0].text
    # a new number may send 20 today: 70 is more than three days of it
    assert "🔴 Risk: high" in text
    assert ("70 recipients, but your numbers may send 20 more in the next 24 hours "
            "(1 still warming up): it takes several days.") in text
    assert "Only" not in text  # 12 texts for batches of 50: enough variety
    assert "Confirming asks you once more." in text
    replies = await chat.press("✅ Confirm")
    assert "🔴 This campaign's risk is high" in replies[0].text
    assert "70 recipients, but your numbers may send 20 more" in replies[0].text
    assert "is scheduled" not in replies[0].text
    assert harness.qasid is not None
    async with harness.qasid.db.reader.execute(
            "SELECT COUNT(*) FROM messages WHERE owner_id = ?", (owner,)) as cur:
        row = await cur.fetchone()
    assert row is not None and row[0] == 0  # nothing queued before the second yes
    replies = await chat.press("Yes, send to 70")
    assert "is scheduled: 70 messages" in replies[0].text


async def test_each_owner_is_judged_by_their_own_history(harness: Harness) -> None:
    a = await harness.active_owner(813)
    b = await harness.active_owner(814)
    for chat, telegram_id in ((a, 813), (b, 814)):
        await seed_list(harness, telegram_id, "Müştərilər", CUSTOMERS)
        await compose(chat, "Salam", "Salam {{name|dostum}}")
        await credit(harness, telegram_id, 10)
    await up_to_pace(a, "📋 Müştərilər (3)", "📝 Salam")
    await a.press("🐢 Safe")
    await a.press("✅ Confirm")
    # A's three messages went out and the numbers were checked on WhatsApp
    owner_a = await owner_id(harness, 813)
    assert harness.qasid is not None
    async with harness.qasid.db.transaction() as tx:
        await tx.execute("UPDATE messages SET status = 'sent', sent_at = updated_at"
                         " WHERE owner_id = ?", (owner_a,))
        now = time.time()  # the harness runs on the real clock
        await contacts.remember_whatsapp(tx, [(owner_a, phone, True, now)
                                              for phone, _n, _v in CUSTOMERS])
    await up_to_pace(a, "📋 Müştərilər (3)", "📝 Salam")
    text = (await a.press("🐢 Safe"))[0].text
    assert "never had a message from you" not in text
    assert "not yet known to be on WhatsApp" not in text
    # B's list has the same phones: for B they are new and unchecked
    await up_to_pace(b, "📋 Müştərilər (3)", "📝 Salam")
    text = (await b.press("🐢 Safe"))[0].text
    assert "100% of the recipients (3) never had a message from you." in text
    assert "100% of the recipients (3) are not yet known to be on WhatsApp." in text


def _ends(text: str) -> datetime:
    """The summary's end estimate ("🏁 Ends about: 12/3/26, 10:45 PM, in 1 batch")."""
    line = next(line for line in text.splitlines() if line.startswith("🏁 Ends about: "))
    at = line.removeprefix("🏁 Ends about: ").rsplit(", in ", 1)[0]
    return datetime.strptime(re.sub(r"\s", " ", at), "%m/%d/%y, %I:%M %p")


async def test_safe_plan_lowers_the_risk_and_original_plan_brings_the_pace_back(
        harness: Harness) -> None:
    chat = await harness.active_owner(815)
    owner = await owner_id(harness, 815)
    await seed_list(harness, 815, "Müştərilər", CUSTOMERS)
    await compose(chat, "Salam", "Salam {{name|dostum}}")
    await credit(harness, 815, 10)
    await up_to_pace(chat, "📋 Müştərilər (3)", "📝 Salam")
    await chat.press("⚙️ My own values")
    for answer in ("1-2", "20", "1-2"):
        await chat.send(answer)
    original = (await chat.press("No quiet hours"))[0].text
    assert "🔴 Risk: high" in original and "Gaps of 1-2 s between messages" in original
    # one tap: the pace of the guidance, the risk lower, the end later
    safe = (await chat.press("🛡 Safe plan"))[0].text
    assert "🔴 Risk: high" not in safe and "🟡 Risk: medium" in safe
    assert "Gaps of" not in safe and "🛡 Safe plan: random gaps of 30-60 s" in safe
    assert _ends(safe) > _ends(original)
    # and back: the owner's own pace and its risk
    back = (await chat.press("↩️ Original plan"))[0].text
    assert "🔴 Risk: high" in back and "Gaps of 1-2 s between messages" in back
    assert "🛡 Safe plan:" not in back
    await chat.press("🛡 Safe plan")
    replies = await chat.press("✅ Confirm")  # medium now: no second question
    assert "is scheduled: 3 messages" in replies[0].text
    assert harness.qasid is not None
    async with harness.qasid.db.reader.execute(
            "SELECT planned_at FROM messages WHERE owner_id = ? ORDER BY planned_at",
            (owner,)) as cur:
        planned = [row[0] for row in await cur.fetchall()]
    gaps = [b - a for a, b in itertools.pairwise(planned)]
    assert len(planned) == 3 and all(30 <= gap <= 60 for gap in gaps), gaps


async def test_safe_plan_spreads_over_the_owners_other_number_and_ends_earlier(
        harness: Harness) -> None:
    chat = await harness.active_owner(816)
    await chat.send("/numbers")
    replies = await chat.press("➕ Add a sandbox number")
    assert "The number <b>Sandbox 2</b> is linked and ready to send." in replies[0].text
    many = [(f"+9945013{n:05d}", f"Customer {n}", '{"city": "Bakı"}') for n in range(70)]
    await seed_list(harness, 816, "Hamı", many)
    await compose(chat, "Salam", "{Salam|Hello|Hi} {{name}}, {new|fresh} {offers|prices}!")
    await credit(harness, 816, 100)
    await chat.send("/newcampaign")
    await chat.press("📋 Hamı (70)")
    await chat.press("📝 Salam")
    await chat.press("✅ Sandbox 2")  # the owner sends from the first number only
    await chat.press("Next ➡️")
    await chat.press("▶️ Now")
    original = (await chat.press("🐢 Safe"))[0].text
    # two new numbers may send 20 a day each: 70 on one of them is over three days of it
    assert "📱 From: Sandbox\n" in original and "🔴 Risk: high" in original
    assert "may send 20 more in the next 24 hours" in original
    safe = (await chat.press("🛡 Safe plan"))[0].text
    assert "📱 From: Sandbox, Sandbox 2\n" in safe
    assert "spread over 2 numbers (added: Sandbox 2)" in safe
    assert "may send 40 more in the next 24 hours (2 still warming up)" in safe
    assert "🔴 Risk: high" not in safe
    # two numbers' room: the days the caps take are fewer, whatever the slower pace
    assert _ends(safe) < _ends(original)
    back = (await chat.press("↩️ Original plan"))[0].text
    assert "📱 From: Sandbox\n" in back and "🔴 Risk: high" in back
    assert _ends(back) == _ends(original)
    # the safe plan confirmed: the messages go from both numbers
    await chat.press("🛡 Safe plan")
    replies = await chat.press("✅ Confirm")
    assert "is scheduled: 70 messages" in replies[0].text
    assert harness.qasid is not None
    owner = await owner_id(harness, 816)
    async with harness.qasid.db.reader.execute(
            "SELECT COUNT(DISTINCT sender_id) FROM messages WHERE owner_id = ?",
            (owner,)) as cur:
        row = await cur.fetchone()
    assert row is not None and row[0] == 2
