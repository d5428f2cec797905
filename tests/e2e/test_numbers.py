"""/numbers in the sandbox, as the owner sees it: the default number (the one the campaign
wizard sends from, made by whichever of them looks first), its sends against the warm-up
cap, its card, adding a second number, and removing a number with messages still queued on
it (moved to the other number, or its campaign paused).
Another owner can neither open nor remove it with forged buttons."""

from __future__ import annotations

import socket

from tests.e2e import test_sending
from tests.e2e.test_campaigns import press_data
from tests.e2e.test_sending import ClockedHarness, confirm_fast_campaign, prepared_owner

make_harness = test_sending.make_harness  # the fixture: a bot on a fake clock


async def sender_id(h: ClockedHarness, telegram_id: int, label: str) -> int:
    owner = await h.qasid.services.accounts.find(telegram_id)
    return next(s.id for s in await h.qasid.services.senders.list(owner.id) if s.label == label)


async def outbox(h: ClockedHarness, telegram_id: int) -> list[tuple[int, str]]:
    """(sender, status) of the owner's messages."""
    owner = await h.qasid.services.accounts.find(telegram_id)
    async with h.qasid.db.reader.execute(
        "SELECT sender_id, status FROM messages WHERE owner_id = ? ORDER BY id", (owner.id,)
    ) as cur:
        return [(row[0], row[1]) async for row in cur]


async def test_numbers_lists_the_default_number_with_todays_sends_and_its_card(
        make_harness) -> None:
    h = await make_harness()
    chat = await prepared_owner(h, 941)
    replies = await chat.send("/numbers")  # the sandbox's default number, before any campaign
    assert "<b>Sandbox</b> · sandbox · working" in replies[0].text
    assert "➕ Add a sandbox number" in replies[0].buttons

    await confirm_fast_campaign(h, chat)  # the campaign sends from that default number
    await h.run(60)
    replies = await chat.send("/numbers")
    text = replies[0].text
    assert "<b>Sandbox</b> · sandbox · working" in text
    assert "today 3 of 20 · warm-up day 1" in text
    assert "queued" not in text  # all three went out
    assert replies[0].buttons[:2] == ["⚙️ Sandbox", "➕ Add a sandbox number"]

    replies = await chat.press("⚙️ Sandbox")
    assert "<b>Sandbox</b> · sandbox · working" in replies[0].text
    assert "today 3 of 20 · warm-up day 1" in replies[0].text
    assert replies[0].buttons == ["🗑 Remove this number", "📱 All numbers"]
    replies = await chat.press("🗑 Remove this number")
    assert "Nothing is waiting to be sent from it" in replies[0].text
    assert replies[0].buttons == ["🗑 Yes, remove it", "↩️ Keep it"]
    replies = await chat.press("↩️ Keep it")  # changed its mind: still there
    assert "<b>Sandbox</b> · sandbox · working" in replies[0].text

    h.clock.advance(days=1, seconds=1)  # a day later: nothing sent today, day 2 of the ramp
    replies = await chat.send("/numbers")
    assert "today 0 of 20 · warm-up day 2" in replies[0].text  # 20 a day for three days
    h.clock.advance(days=2)  # day 4: the ramp goes on
    replies = await chat.send("/numbers")
    assert "today 0 of 40 · warm-up day 4" in replies[0].text


async def test_removing_a_number_moves_its_queue_to_the_other_number(make_harness) -> None:
    h = await make_harness()
    chat = await prepared_owner(h, 942)
    await confirm_fast_campaign(h, chat)  # 3 messages queued on the default number
    await chat.send("/numbers")
    replies = await chat.press("➕ Add a sandbox number")
    assert "The number <b>Sandbox 2</b> is linked and ready to send." in replies[0].text
    first, second = await sender_id(h, 942, "Sandbox"), await sender_id(h, 942, "Sandbox 2")

    replies = await chat.press("📱 All numbers")
    assert "<b>Sandbox</b> · sandbox · working" in replies[0].text
    assert "3 queued" in replies[0].text
    assert replies[0].buttons[:3] == ["⚙️ Sandbox", "⚙️ Sandbox 2", "➕ Add a sandbox number"]
    await chat.press("⚙️ Sandbox")
    replies = await chat.press("🗑 Remove this number")
    assert "3 messages are still waiting to be sent from it" in replies[0].text
    assert replies[0].buttons == ["🔀 Remove, move them to another number",
                                  "⏸ Remove, pause their campaigns", "↩️ Keep it"]
    replies = await chat.press("🔀 Remove, move them to another number")
    assert "<b>Sandbox</b> is removed; its messages now go from <b>Sandbox 2</b>." in \
        replies[0].text
    assert await outbox(h, 942) == [(second, "queued")] * 3

    await h.run(60)
    statuses = await outbox(h, 942)
    assert {s for s, _ in statuses} == {second}  # nothing went from the removed number
    assert all(status in ("sent", "delivered", "read") for _, status in statuses)
    replies = await chat.send("/campaigns")
    assert "✅ completed, 3 of 3 sent" in replies[0].text
    replies = await chat.send("/numbers")
    assert "⚙️ Sandbox" not in replies[0].buttons and "⚙️ Sandbox 2" in replies[0].buttons
    assert "today 3 of 20" in replies[0].text
    assert first not in {s for s, _ in statuses}


async def test_removing_the_only_number_pauses_its_campaign(make_harness) -> None:
    h = await make_harness()
    chat = await prepared_owner(h, 943)
    await confirm_fast_campaign(h, chat)
    number = await sender_id(h, 943, "Sandbox")
    await chat.send("/numbers")
    await chat.press("⚙️ Sandbox")
    replies = await chat.press("🗑 Remove this number")
    assert "3 messages are still waiting" in replies[0].text
    # no other number to move them to: only pausing is offered
    assert replies[0].buttons == ["⏸ Remove, pause their campaigns", "↩️ Keep it"]
    replies = await chat.press("⏸ Remove, pause their campaigns")
    assert "<b>Sandbox</b> is removed; 1 campaign that still had messages on it is" \
        " paused" in replies[0].text

    await h.run(60)
    assert await outbox(h, 943) == [(number, "queued")] * 3  # kept, and nothing sent
    replies = await chat.send("/campaigns")
    assert "⏸ paused, 0 of 3 sent" in replies[0].text
    replies = await chat.send("/numbers")
    assert "No number yet" in replies[0].text


async def test_another_owner_cannot_open_or_remove_a_number(make_harness) -> None:
    h = await make_harness()
    owner = await prepared_owner(h, 944)
    await confirm_fast_campaign(h, owner)
    number = await sender_id(h, 944, "Sandbox")
    intruder = await h.active_owner(945, phone="+994501110045")
    await intruder.send("/numbers")
    before = len(h.api.messages(945))
    for action in ("open", "rm", "rmp", "rmm", "qr", "code"):
        alert = await press_data(h, intruder, f"num:{action}:{number}")
        assert alert.startswith("Not found"), action
    shown = h.api.messages(945)[before:]
    assert all("Sandbox" not in (m.text or "") and "queued" not in (m.text or "")
               for m in shown)
    intruder_id = (await h.qasid.services.accounts.find(945)).id
    assert await h.qasid.services.prompts.pending(intruder_id) is None
    theirs = await h.qasid.services.senders.list(intruder_id)
    assert [s.label for s in theirs] == ["Sandbox"] and theirs[0].id != number  # their own

    # the owner's number and its queue are untouched
    assert await outbox(h, 944) == [(number, "queued")] * 3
    replies = await owner.send("/numbers")
    assert "<b>Sandbox</b> · sandbox · working" in replies[0].text
    assert "3 queued" in replies[0].text
    replies = await owner.send("/campaigns")
    assert "⏸ paused" not in replies[0].text


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


DOUBLE_ANSWER = (
    "bot/handlers/numbers.py number_button/_add: the callback query is answered before"
    " _start_waha runs; when it raises, the except branches answer the same query again,"
    " Telegram refuses (BadRequest: query id is invalid) and the error or gateway_down"
    " text never reaches the owner")



async def test_a_waha_that_is_down_is_said_and_leaves_no_number(make_harness) -> None:
    h = await make_harness(waha_base_url=f"http://127.0.0.1:{closed_port()}",
                           waha_webhook_key="k", public_url="http://127.0.0.1:1")
    chat = await h.active_owner(946)
    replies = await chat.send("/numbers")
    assert "➕ Link a WhatsApp number (QR code)" in replies[0].buttons
    replies = await chat.press("➕ Link a WhatsApp number (QR code)")
    assert any("The WhatsApp gateway did not answer" in r.text for r in replies)
    owner = await h.qasid.services.accounts.find(946)
    assert [s.gateway for s in await h.qasid.services.senders.list(owner.id)] == [
        "sandbox"]  # the default sandbox number only: no WAHA number left behind



async def test_relinking_another_owners_number_is_refused(make_harness) -> None:
    h = await make_harness(waha_base_url=f"http://127.0.0.1:{closed_port()}",
                           waha_webhook_key="k", public_url="http://127.0.0.1:1")
    owner = await prepared_owner(h, 947)
    await owner.send("/numbers")
    await owner.press("➕ Add a sandbox number")
    default, number = await sender_id(h, 947, "Sandbox"), await sender_id(h, 947, "Sandbox 2")
    intruder = await h.active_owner(948, phone="+994501110048")
    await intruder.send("/numbers")
    alert = await press_data(h, intruder, f"num:relink:{number}")
    intruder_id = (await h.qasid.services.accounts.find(948)).id
    assert [s.label for s in await h.qasid.services.senders.list(intruder_id)] == ["Sandbox"]
    assert [s.id for s in await h.qasid.services.senders.list(
        (await h.qasid.services.accounts.find(947)).id)] == [default, number]
    assert alert.startswith("Not found")


async def test_numbers_shows_the_sandbox_number_the_wizard_sends_from(make_harness) -> None:
    """/numbers and the campaign wizard agree: the owner's one sandbox number, made by
    whichever looks first; once the owner removes it, neither brings it back."""
    h = await make_harness()
    chat = await prepared_owner(h, 949)
    replies = await chat.send("/numbers")
    assert "No number yet" not in replies[0].text
    assert "<b>Sandbox</b> · sandbox · working" in replies[0].text
    assert "today 0 of 20 · warm-up day 1" in replies[0].text
    assert replies[0].buttons[:2] == ["⚙️ Sandbox", "➕ Add a sandbox number"]

    await chat.send("/newcampaign")
    await chat.press("📋 Müştərilər (3)")
    replies = await chat.press("📝 Promo")
    assert "✅ Sandbox" in replies[0].buttons  # the very number /numbers showed
    await chat.press("✖️ Cancel")
    owner = await h.qasid.services.accounts.find(949)
    assert [s.label for s in await h.qasid.services.senders.list(owner.id)] == ["Sandbox"]

    await chat.send("/numbers")
    await chat.press("⚙️ Sandbox")
    await chat.press("🗑 Remove this number")
    await chat.press("🗑 Yes, remove it")
    replies = await chat.send("/numbers")
    assert "No number yet" in replies[0].text
    await chat.send("/newcampaign")
    await chat.press("📋 Müştərilər (3)")
    replies = await chat.press("📝 Promo")
    assert "You have no WhatsApp number that can send" in replies[0].text
