"""Automations' storage on a real SQLite file (``bot/storage/automations.py``, migration
0021): an automation is its owner's, an occurrence is produced once, a join is enrolled
once (a rejoin only when asked), pausing skips what it queued."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import Language, SenderStatus
from bot.storage import automations, contacts, lists, owners, senders
from bot.storage import messages as messages_repo
from bot.storage.db import Database


async def _owner(db: Database, clock, telegram_id: int) -> tuple[int, int, int]:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
        sender = await senders.add(tx, owner_id=owner.id, gateway="sandbox",
                                   phone=f"+99450000{telegram_id:04d}",
                                   status=SenderStatus.ACTIVE, now=clock())
        the_list = await lists.create(tx, owner.id, "Clients", clock())
    return owner.id, sender.id, the_list.id


async def test_an_automation_is_its_owners(db: Database, clock) -> None:
    a, _, _ = await _owner(db, clock, 1)
    b, _, _ = await _owner(db, clock, 2)
    async with db.transaction() as tx:
        made = await automations.create(tx, a, "sequence", "Welcome", {"list_id": 1},
                                        clock().timestamp())
    assert made.on and made.config == {"list_id": 1}
    assert await automations.get(db.reader, b, made.id) is None
    assert [x.id for x in await automations.for_owner(db.reader, a)] == [made.id]
    async with db.transaction() as tx:
        assert await automations.set_state(tx, a, made.id, "paused", "owner", 1.0)
        assert not await automations.set_state(tx, a, made.id, "paused", "owner", 1.0)
        assert not await automations.delete(tx, b, made.id)
    assert (await automations.get(db.reader, a, made.id)).paused_reason == "owner"


async def test_joins_are_enrolled_once_and_rejoins_only_when_asked(db: Database, clock) -> None:
    a, _, list_id = await _owner(db, clock, 1)
    async with db.transaction() as tx:
        seq = await automations.create(tx, a, "sequence", "Welcome", {}, 0.0)
        await contacts.upsert(tx, a, [("+994501111111", "Aysel", {})], clock())
        await contacts.add_to_list(tx, a, list_id, ["+994501111111"], clock())
    upto = (clock() + timedelta(seconds=1)).timestamp()
    joined = await automations.joins(db.reader, list_id, 0.0, upto, seq.id, restart=False)
    assert [p for _, p, _ in joined] == ["+994501111111"]
    async with db.transaction() as tx:
        await automations.enrol(tx, seq.id, [(joined[0][0], joined[0][2], 100.0)])
    assert await automations.joins(db.reader, list_id, 0.0, upto, seq.id, restart=True) == []
    # leaves and comes back later: a rejoin
    clock.advance(hours=1)
    async with db.transaction() as tx:
        await lists.remove_members(tx, a, list_id, ["+994501111111"])
        await contacts.add_to_list(tx, a, list_id, ["+994501111111"], clock())
    upto = (clock() + timedelta(seconds=1)).timestamp()
    assert await automations.joins(db.reader, list_id, 0.0, upto, seq.id, restart=False) == []
    again = await automations.joins(db.reader, list_id, 0.0, upto, seq.id, restart=True)
    async with db.transaction() as tx:
        await automations.enrol(tx, seq.id, [(again[0][0], again[0][2], 200.0)])
    assert await automations.next_planned(db.reader, seq.id, 5) == [("+994501111111", 0, 200.0)]
    async with db.reader.execute("SELECT run FROM automation_enrolments") as cur:
        assert (await cur.fetchone())[0] == 1


async def test_sends_are_once_and_pausing_skips_the_queued(db: Database, clock) -> None:
    a, sender_id, _ = await _owner(db, clock, 1)
    async with db.transaction() as tx:
        seq = await automations.create(tx, a, "sequence", "Welcome", {}, 0.0)
        await contacts.upsert(tx, a, [("+994501111111", "Aysel", {})], clock())
        contact = await contacts.get_by_phone(tx, a, "+994501111111")
        first = await messages_repo.next_id(tx)
        await messages_repo.add_many(tx, [messages_repo.NewMessage(
            first, a, sender_id, contact.id, contact.phone, 0, 5.0, "{}", None, seq.id)], 5.0)
        await automations.add_sends(tx, [(seq.id, contact.id, "step:0", first, 5.0)])
    assert await automations.already_sent(
        db.reader, seq.id, [(contact.id, "step:0"), (contact.id, "step:1")]) == {
            (contact.id, "step:0")}
    produced = await automations.produced(db.reader, seq.id, since=0.0)
    assert (produced.today, produced.total, produced.by_status) == (1, 1, {"queued": 1})
    async with db.transaction() as tx:
        assert await automations.skip_queued(tx, a, seq.id, 6.0) == 1
    assert (await automations.produced(db.reader, seq.id, 0.0)).by_status == {"skipped": 1}
