"""Figures that agree: every campaign screen, /stats and /balance count the same way, and
the progress message follows the receipts that come in after a campaign finished. The
dispatcher is driven tick by tick on a fake clock; receipts are handed to it as the
gateway would (the sandbox's own are held back an hour, so the test decides when)."""

from __future__ import annotations

from bot.gateways.base import Receipt, ReceiptStatus
from tests.e2e import test_sending
from tests.e2e.test_sending import ClockedHarness, confirm_fast_campaign, prepared_owner

make_harness = test_sending.make_harness  # the fixture: a bot on a fake clock

NO_RECEIPTS = {"sandbox_delivery_delay": 3600}  # the sandbox's receipts come an hour later


async def gateway_ids(h: ClockedHarness, user_id: int) -> list[str]:
    owner = await h.qasid.services.accounts.find(user_id)
    async with h.qasid.db.reader.execute(
        "SELECT gateway_message_id FROM messages WHERE owner_id = ? AND"
        " gateway_message_id IS NOT NULL ORDER BY id", (owner.id,)) as cur:
        return [row[0] async for row in cur]


async def receive(h: ClockedHarness, *receipts: tuple[str, str]) -> None:
    """The gateway reports (gateway id, status) for messages it accepted."""
    for gateway_id, status in receipts:
        async with h.qasid.db.reader.execute(
                "SELECT sender_id FROM messages WHERE gateway_message_id = ?",
                (gateway_id,)) as cur:
            [(sender_id,)] = await cur.fetchall()
        await h.qasid.services.dispatcher.events.on_event(
            Receipt(gateway_id, ReceiptStatus(status), h.clock(), sender_id=sender_id))
    await h.qasid.services.dispatcher.events.flush_receipts()


def progress_message(h: ClockedHarness, user_id: int):
    [message] = [m for m in h.api.messages(user_id) if m.text.startswith("📤")]
    return message


async def test_every_campaign_screen_counts_delivered_and_read_as_sent(make_harness) -> None:
    h = await make_harness(**NO_RECEIPTS)
    chat = await prepared_owner(h, 911)
    await confirm_fast_campaign(h, chat)
    await h.run(120)
    first, second, _third = await gateway_ids(h, 911)
    await receive(h, (first, "delivered"), (second, "delivered"), (second, "read"))

    final = progress_message(h, 911)
    assert "Sent 3 of 3" in final.text and "✅ Finished: 3 of 3 sent" in final.text
    assert any("is finished: 3 of 3 sent" in m.text for m in h.api.messages(911))
    replies = await chat.send("/campaigns")
    assert "✅ completed, 3 of 3 sent" in replies[0].text
    details = await chat.press("#1 Promo · Müştərilər")
    assert "queued 0 · sent 3 · delivered 2 · read 1" in details[0].text
    stats = await chat.press("📈 Stats")
    assert "📤 sent 3\n📬 delivered 2" in stats[0].text and "👀 read 1" in stats[0].text


async def test_another_owner_sees_none_of_these_figures(make_harness) -> None:
    h = await make_harness(**NO_RECEIPTS)
    chat = await prepared_owner(h, 912)
    await confirm_fast_campaign(h, chat)
    await h.run(120)
    other = await h.active_owner(913)
    replies = await other.send("/campaigns")
    assert "Promo" not in replies[0].text
    replies = await other.send("/stats")
    assert "Promo" not in replies[0].text and "sent 3" not in replies[0].text
    replies = await other.send("/balance")
    assert "Balance: <b>0</b>" in replies[0].text and "Promo" not in replies[0].text


async def test_receipts_after_the_end_update_the_final_message_throttled(make_harness) -> None:
    h = await make_harness(**NO_RECEIPTS)
    chat = await prepared_owner(h, 914)
    await confirm_fast_campaign(h, chat)
    await h.run(120)
    final = progress_message(h, 914)
    assert "✅ Finished: 3 of 3 sent" in final.text and "delivered 0" in final.text
    first, second, third = await gateway_ids(h, 914)

    await receive(h, (first, "delivered"))
    await h.run(1)
    assert "delivered 1 · read 0" in progress_message(h, 914).text
    await receive(h, (second, "delivered"), (second, "read"))
    await h.run(1)  # within PROGRESS_EVERY of the last edit: not edited again yet
    assert "delivered 1 · read 0" in progress_message(h, 914).text
    await receive(h, (third, "delivered"))
    await h.run(6)  # then the settled figures, once
    final = progress_message(h, 914)
    assert "delivered 3 · read 1" in final.text and "✅ Finished: 3 of 3 sent" in final.text
    edits = final.edited
    await h.run(30)  # nothing new: no more edits
    assert progress_message(h, 914).edited == edits
    stats = await chat.send("/stats")
    assert "📬 delivered 3" in stats[0].text


async def test_the_balance_history_adds_up_and_numbers_read_one_way(make_harness) -> None:
    """99,999 credits, a campaign of 3 cancelled after its first message: the history says
    +99,999 and the campaign's -1 (reserved 3, spent 1, returned 2), which make the
    balance of 99,998; the admin's confirmation and the owner's notice write it alike."""
    h = await make_harness(**NO_RECEIPTS)
    chat = await prepared_owner(h, 916, credits=99_999)
    owner = await h.qasid.services.accounts.find(916)
    confirmation = [m.text for m in h.api.messages(900) if "Credits for" in m.text][-1]
    assert f"Credits for #{owner.id} Aysel: +99,999. Available now: 99,999." in confirmation
    assert any("99,999 credits were added" in m.text for m in h.api.messages(916))
    await confirm_fast_campaign(h, chat)
    await h.run(7)  # the first message goes out
    await chat.press("⏹ Cancel")
    await chat.press("⏹ Yes, cancel it")

    [screen] = await chat.send("/balance")
    assert "Balance: <b>99,998</b>" in screen.text and "Reserved for campaigns: 0" in screen.text
    history = screen.text.split("Latest changes")[1].splitlines()[1:3]
    assert history[0].endswith(
        "campaign #1 Promo · Müştərilər: -1 (reserved 3, spent 1, returned 2)")
    assert history[1].endswith("top-up +99,999 bank transfer")
