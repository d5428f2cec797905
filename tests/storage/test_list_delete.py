"""Deleting a list a campaign used, on a real SQLite file: every foreign key has an index
(without one, each deleted contact read the whole outbox: 100,000 contacts never finished),
and the delete, done a bounded chunk at a time, removes exactly what it should."""

from __future__ import annotations

import pytest

from bot.errors import NotFound
from bot.services import contacts as contacts_service
from bot.services.contacts import ContactsConfig, ContactsService
from bot.storage import campaigns, contacts, lists
from bot.storage.db import Database
from tests.storage.test_campaigns_storage import phone, seed, write


@pytest.mark.engines("sqlite")  # SQLite's plans; PostgreSQL: test_migrations_pg.py
async def test_every_foreign_key_has_an_index_to_find_its_rows(db: Database) -> None:
    async with db.reader.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
        tables = [row[0] for row in await cur.fetchall()]
    unindexed = []
    for table in tables:
        async with db.reader.execute(f"PRAGMA foreign_key_list({table})") as cur:
            keys = [(row["from"], row["table"]) for row in await cur.fetchall()]
        for column, parent in keys:
            async with db.reader.execute(
                f"EXPLAIN QUERY PLAN SELECT 1 FROM {table} WHERE {column} = ?", (1,)
            ) as cur:
                plan = " ".join(row[3] for row in await cur.fetchall())
            if "USING" not in plan:  # "SCAN messages": every deleted parent reads it all
                unindexed.append(f"{table}.{column} -> {parent}: {plan}")
    assert unindexed == []


async def outbox(db: Database, owner_id: int) -> list[tuple]:
    async with db.reader.execute(
        "SELECT id, phone, contact_id, status FROM messages WHERE owner_id = ? ORDER BY id",
        (owner_id,),
    ) as cur:
        return [tuple(row) for row in await cur.fetchall()]


async def test_deleting_a_list_a_campaign_used_keeps_its_messages(db, clock, monkeypatch) -> None:
    monkeypatch.setattr(contacts_service, "DELETE_CHUNK", 7)  # many chunks of a small list
    alice, alices_list, alices_sender, alices_campaign = await seed(db, clock, 1, 40,
                                                                    opted_out=(3,))
    bob, bobs_list, bobs_sender, bobs_campaign = await seed(db, clock, 2, 10)
    async with db.transaction() as tx:  # Bob has Alice's first numbers too
        await contacts.upsert(tx, bob, [(phone(1000 + n), "B", "{}") for n in range(5)],
                              clock())
        await contacts.add_to_list(tx, bob, bobs_list, [phone(1000 + n) for n in range(5)],
                                   clock())
        kept = await lists.create(tx, alice, "VIP", clock())  # two of Alice's stay in it
        await contacts.add_to_list(tx, alice, kept.id, [phone(1010), phone(1020)], clock())
    await write(db, clock, alices_campaign, alices_sender, 39)
    await write(db, clock, bobs_campaign, bobs_sender, 15)
    alices_before, bobs_before = await outbox(db, alice), await outbox(db, bob)
    service = ContactsService(db, ContactsConfig(default_region="AZ"), clock)
    assert (await service.delete_preview(alice, alices_list))[1] == 37

    assert await service.delete_list(alice, alices_list) == 37  # 40 - 1 opted out - 2 VIP

    assert await lists.get(db.reader, alice, alices_list) is None
    after = await outbox(db, alice)
    assert [(m[0], m[1], m[3]) for m in after] == [(m[0], m[1], m[3]) for m in alices_before]
    linked = {m[1] for m in after if m[2] is not None}
    assert linked == {phone(1010), phone(1020)}  # the others' messages have no contact now
    assert (await contacts.get_by_phone(db.reader, alice, phone(1003))).opted_out_at
    assert await contacts.get_by_phone(db.reader, alice, phone(1000)) is None
    assert (await lists.get(db.reader, alice, kept.id)).size == 2
    campaign = await campaigns.get(db.reader, alice, alices_campaign.id)
    assert campaign is not None and campaign.list_id is None

    assert await outbox(db, bob) == bobs_before  # Bob's are untouched, same numbers or not
    assert (await lists.get(db.reader, bob, bobs_list)).size == 15
    assert (await campaigns.get(db.reader, bob, bobs_campaign.id)).list_id == bobs_list


async def test_a_list_is_deleted_only_by_its_owner(db, clock) -> None:
    alice, alices_list, _, _ = await seed(db, clock, 1, 12)
    bob, _, _, _ = await seed(db, clock, 2, 3)
    service = ContactsService(db, ContactsConfig(default_region="AZ"), clock)
    with pytest.raises(NotFound):
        await service.delete_list(bob, alices_list)
    assert (await lists.get(db.reader, alice, alices_list)).size == 12
    assert await service.delete_list(alice, alices_list) == 12
    with pytest.raises(NotFound):  # a second press
        await service.delete_list(alice, alices_list)
