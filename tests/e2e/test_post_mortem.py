"""The ban post-mortem as the owner sees it: a number banned mid campaign, the alert and
right after it the account of its last 48 hours (what it sent, its pace, what the safe plan
would have done otherwise); /numbers shows it again on the number's card, to its owner only."""

from __future__ import annotations

from bot.console.botapi import SentMessage
from tests.e2e.test_sending import (  # noqa: F401  (make_harness: the clocked harness)
    confirm_fast_campaign,
    make_harness,
    prepared_owner,
)


async def sent(h) -> int:
    async with h.qasid.db.reader.execute(
            "SELECT COUNT(*) FROM messages WHERE sent_at IS NOT NULL") as cur:
        row = await cur.fetchone()
    return int(row[0])


async def test_a_banned_number_leaves_a_post_mortem_its_owner_finds_again(
        make_harness) -> None:  # noqa: F811
    h = await make_harness()
    chat = await prepared_owner(h, 905)
    await confirm_fast_campaign(h, chat)
    for _ in range(60):  # the fast pace (3-8 s gaps): two of the three out, then the ban
        if await sent(h) == 2:
            break
        await h.run(1)
    owner = await h.qasid.services.accounts.find(905)
    [number] = await h.qasid.services.senders.list(owner.id)
    before = len(h.api.messages(905))
    await h.qasid.gateway.get("sandbox").ban(number.id)
    await h.run(30)

    texts = [m.text for m in h.api.messages(905)[before:]]
    alert = next(i for i, t in enumerate(texts) if "was banned. 1 campaign" in t)
    report = next(t for t in texts[alert:] if t.startswith("🩺"))
    assert "Post-mortem: Sandbox</b> was banned" in report
    assert "Its last 48 hours:" in report
    assert "• Sent: 2 messages to 2 people, 2 of them new chats." in report
    assert "• Pace: a median gap of" in report  # two sends: one gap
    assert "• No message failed." in report
    assert "What the safe plan would have done differently" in report
    # the fast pace's gaps are shorter than WAHA's 30 s
    assert "1 message went less than 30 s after the one before" in report
    assert "day 1 of its warm-up" in report  # a number linked today

    # /numbers keeps it: the number's card has the button, the button the report
    await chat.send("/numbers")
    card = await chat.press("⚙️ Sandbox")
    assert "🩺 Post-mortem" in card[-1].buttons
    shown = await chat.press("🩺 Post-mortem")
    assert shown[-1].text == report

    # another owner pressing the same button learns nothing of it
    other = await h.active_owner(906)
    message = h.api.last_message(other.chat_id) or SentMessage(other.chat_id, 1, text="-")
    seen = len(h.api.messages(906))
    await other.step(h.api.callback_update(other.user, message, f"num:pm:{number.id}"))
    assert not any("Post-mortem" in m.text or "Sent:" in m.text
                   for m in h.api.messages(906)[seen:])
    assert "Post-mortem" not in (other.last_answer or {}).get("text", "")
