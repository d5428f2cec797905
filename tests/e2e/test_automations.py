"""Automations in chat, through the fake Bot API: a sequence set up in a few taps from the
main menu, its card with what it produced and its next sends, pausing it, renaming it,
and deleting it (asked first); another owner cannot open it."""

from __future__ import annotations

from bot.domain import LedgerKind, SenderStatus
from bot.storage import contacts, ledger, lists, senders, templates
from tests.e2e.conftest import Harness


async def seed(harness: Harness, telegram_id: int) -> tuple[int, int]:
    owner = await harness.qasid.services.accounts.find(telegram_id)
    now = harness.qasid.services.automations.clock()
    async with harness.qasid.db.transaction() as tx:
        created = await lists.create(tx, owner.id, "Clients", now)
        await templates.add(tx, owner.id, "Welcome", ["Salam {{name|dost}}!"], None, None, now)
        await templates.add(tx, owner.id, "Follow-up", ["How is it going?"], None, None, now)
        await senders.add(tx, owner_id=owner.id, gateway="sandbox", phone="+994500000077",
                          status=SenderStatus.ACTIVE, now=now)
        await ledger.add(tx, owner.id, LedgerKind.CREDIT, 10, now)
    return owner.id, created.id


async def test_a_sequence_made_in_chat_shows_its_card(harness: Harness) -> None:
    chat = await harness.active_owner(801)
    owner_id, list_id = await seed(harness, 801)
    await chat.send("/menu")
    [screen] = await chat.press("🤖 Automations")
    assert "no automations yet" in screen.text
    [screen] = await chat.press("➕ New sequence")
    assert "Which list?" in screen.text
    await chat.press("📋 Clients")
    await chat.press("➕ Add a step")
    await chat.press("Welcome")
    [screen] = await chat.press("at once")
    assert "1. Welcome — at once" in screen.text
    await chat.press("➕ Add a step")
    await chat.press("Follow-up")
    [screen] = await chat.press("2 days after the previous step, at 10:00 their time")
    assert "2. Follow-up — 2 days after the previous step, at 10:00 their time" in screen.text
    [screen] = await chat.press("✅ Create")
    assert "The sequence is on" in screen.text
    assert "joins the list <b>Clients</b>" in screen.text
    assert "Produced today: 0, in all: 0" in screen.text

    # a contact joins the list by hand: the engine's round produces the first step
    services = harness.qasid.services
    async with harness.qasid.db.transaction() as tx:
        await contacts.upsert(tx, owner_id, [("+994501230001", "Leyla", {})],
                              services.automations.clock())
        await contacts.add_to_list(tx, owner_id, list_id, ["+994501230001"],
                                   services.automations.clock())
    await services.automation_engine.tick()  # (the job may have run it already)
    [automation] = await services.automations.list(owner_id)
    await chat.send("/automations")
    [screen] = await chat.press(f"🔁 {automation.name}")
    assert "Produced today: 1, in all: 1" in screen.text
    assert "+994501230001 — step 2" in screen.text  # the next planned send

    [screen] = await chat.press("⏸ Pause")
    assert "paused" in screen.text
    [screen] = await chat.press("▶️ Resume")
    assert "On again" in screen.text

    await chat.press("✏️ Edit")
    [question] = await chat.press("✏️ Rename")
    assert "new name" in question.text
    [screen] = await chat.send("Welcome series")
    assert "Welcome series" in screen.text
    await chat.press("⏱ Step 2: when")
    [screen] = await chat.press("1 day after the previous step")
    assert "2. Follow-up — 1 day after the previous step" in screen.text
    await chat.press("✅ Done")

    [confirm] = await chat.press("🗑 Delete")
    assert "Delete <b>Welcome series</b>?" in confirm.text
    [screen] = await chat.press("🗑 Yes, delete")
    assert "is deleted" in screen.text
    assert await services.automations.list(owner_id) == []


async def test_another_owner_cannot_open_a_sequence(harness: Harness) -> None:
    await harness.active_owner(802, phone="+994501110802")
    intruder = await harness.active_owner(803, phone="+994501110803")
    owner_id, list_id = await seed(harness, 802)
    services = harness.qasid.services
    [template] = [t for t in await services.templates.list(owner_id) if t.name == "Welcome"]
    made = await services.automations.create(owner_id, "sequence", "Secret series", {
        "list_id": list_id, "steps": [{"template_id": template.id, "delay": 0}]})
    for action in ("open", "off", "rm", "rmok", "ed"):
        update = harness.api.callback_update(intruder.user, harness.api.last_message(803),
                                             f"aut:{action}:{made.id}")
        replies = await intruder.step(update)
        assert all("Secret series" not in r.text for r in replies)
    assert (await services.automations.get(owner_id, made.id)).on
