"""Contacts and lists on a real SQLite file: bulk upserts, opt-outs, deletes."""

from __future__ import annotations

import json

from bot.domain import Language
from bot.storage import contacts, lists, owners
from bot.storage.db import Database


async def owner_id(db: Database, clock, telegram_id: int = 1) -> int:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
    return owner.id


async def test_upsert_inserts_then_newer_values_win(db: Database, clock) -> None:
    oid = await owner_id(db, clock)
    async with db.transaction() as tx:
        await contacts.upsert(tx, oid, [("+994501234567", "Əli", '{"city": "Bakı"}'),
                                        ("+994551234567", None, "{}")], clock())
    clock.advance(minutes=1)
    async with db.transaction() as tx:
        known = await contacts.existing_phones(tx, oid, ["+994501234567", "+994709999999"])
        await contacts.upsert(tx, oid, [("+994501234567", "Əli M.", '{"tag": "vip"}'),
                                        ("+994551234567", None, "{}")], clock())
    assert known == {"+994501234567"}
    ali = await contacts.get_by_phone(db.reader, oid, "+994501234567")
    assert ali.name == "Əli M."
    assert ali.attributes == {"city": "Bakı", "tag": "vip"}  # attributes merge, newer wins
    other = await contacts.get_by_phone(db.reader, oid, "+994551234567")
    assert other.name is None


async def test_an_import_never_clears_an_opt_out(db: Database, clock) -> None:
    oid = await owner_id(db, clock)
    async with db.transaction() as tx:
        await contacts.opt_out(tx, oid, "+994501234567", "asked by phone", clock())
        await contacts.upsert(tx, oid, [("+994501234567", "Əli", "{}")], clock())
        assert await contacts.count_opted_out(tx, oid, ["+994501234567"]) == 1
    contact = await contacts.get_by_phone(db.reader, oid, "+994501234567")
    assert contact.opted_out_at is not None and contact.opt_out_reason == "asked by phone"
    assert contact.name == "Əli"


async def test_lists_count_members_and_opt_outs(db: Database, clock) -> None:
    oid = await owner_id(db, clock)
    phones = [f"+99450{n:07d}" for n in range(5)]
    async with db.transaction() as tx:
        shop = await lists.create(tx, oid, "Shop", clock())
        await contacts.upsert(tx, oid, [(p, None, "{}") for p in phones], clock())
        await contacts.add_to_list(tx, oid, shop.id, phones, clock())
        await contacts.add_to_list(tx, oid, shop.id, phones[:2], clock())  # idempotent
        await contacts.opt_out(tx, oid, phones[0], None, clock())
    [found] = await lists.for_owner(db.reader, oid)
    assert (found.name, found.size, found.opted_out) == ("Shop", 5, 1)


async def test_deleting_a_list_keeps_contacts_other_lists_hold(db: Database, clock) -> None:
    oid = await owner_id(db, clock)
    a, b, c = "+994501111111", "+994502222222", "+994503333333"
    async with db.transaction() as tx:
        first = await lists.create(tx, oid, "First", clock())
        second = await lists.create(tx, oid, "Second", clock())
        await contacts.upsert(tx, oid, [(p, None, "{}") for p in (a, b, c)], clock())
        await contacts.add_to_list(tx, oid, first.id, [a, b, c], clock())
        await contacts.add_to_list(tx, oid, second.id, [b], clock())
        await contacts.opt_out(tx, oid, c, "stop", clock())
    assert await lists.count_only_here(db.reader, oid, first.id) == 1  # a only
    async with db.transaction() as tx:
        removed = await lists.delete(tx, oid, first.id)
    assert removed == 1
    assert await contacts.get_by_phone(db.reader, oid, a) is None
    assert await contacts.get_by_phone(db.reader, oid, b) is not None  # still in Second
    assert (await contacts.get_by_phone(db.reader, oid, c)).opted_out_at is not None


async def test_owners_never_see_each_others_contacts(db: Database, clock) -> None:
    alice, bob = await owner_id(db, clock, 1), await owner_id(db, clock, 2)
    async with db.transaction() as tx:
        alices = await lists.create(tx, alice, "Mine", clock())
        await contacts.upsert(tx, alice, [("+994501234567", "A", "{}")], clock())
        await contacts.add_to_list(tx, alice, alices.id, ["+994501234567"], clock())
        # Bob naming Alice's list id adds nothing: his contacts do not exist for her list
        await contacts.upsert(tx, bob, [("+994501234567", "B", "{}")], clock())
    assert await lists.get(db.reader, bob, alices.id) is None
    assert await lists.for_owner(db.reader, bob) == []
    assert await contacts.sample(db.reader, bob, alices.id) == []
    assert (await contacts.get_by_phone(db.reader, alice, "+994501234567")).name == "A"
    async with db.transaction() as tx:
        assert await lists.delete(tx, bob, alices.id) == 0
    assert await lists.get(db.reader, alice, alices.id) is not None


async def test_streaming_a_list_in_chunks(db: Database, clock) -> None:
    oid = await owner_id(db, clock)
    phones = [f"+99450{n:07d}" for n in range(2500)]
    async with db.transaction() as tx:
        big = await lists.create(tx, oid, "Big", clock())
        rows = [(p, f"N{i}", json.dumps({"n": str(i)})) for i, p in enumerate(phones)]
        await contacts.upsert(tx, oid, rows, clock())
        await contacts.add_to_list(tx, oid, big.id, phones, clock())
    seen = []
    async for chunk in contacts.stream_list(db.reader, oid, big.id, chunk=1000):
        assert len(chunk) <= 1000
        seen += [c.phone for c in chunk]
    assert seen == phones
    assert await contacts.attribute_names(db.reader, oid, big.id) == ["n"]
