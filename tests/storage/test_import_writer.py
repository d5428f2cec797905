"""The import writer on a real SQLite file: it checks the owner itself (foreign keys off)."""

from __future__ import annotations

import sqlite3

import pytest

from bot.domain import Language
from bot.storage import owners
from bot.storage.bulk import ImportWriter
from bot.storage.db import Database


async def test_an_import_for_an_owner_who_is_gone_leaves_nothing_behind(
    db: Database, clock,
) -> None:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN, now=clock())
    rows = '[["+994501234567","Əli",{"city":"Bakı"},1,2,0]]'

    with pytest.raises(sqlite3.IntegrityError), ImportWriter(db.path) as writer:
        writer.create_list(owner.id + 1, "clients", clock())
        writer.write_chunk(owner.id + 1, 1, rows, clock())

    with ImportWriter(db.path) as writer:
        list_id = writer.create_list(owner.id, "clients", clock())
        writer.write_chunk(owner.id, list_id, rows, clock())
    async with db.reader.execute(
        "SELECT c.owner_id, c.phone, m.list_id FROM contacts c"
        " JOIN list_members m ON m.contact_id = c.id"
    ) as cur:
        assert [tuple(row) for row in await cur.fetchall()] == [
            (owner.id, "+994501234567", list_id)
        ]


async def test_new_contacts_get_ids_in_file_order_and_known_ones_keep_theirs(
    db: Database, clock,
) -> None:
    """Chunks arrive sorted by phone (faster for the index), yet the list keeps the file's
    order: samples and exports read contacts by id."""
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN, now=clock())
    with ImportWriter(db.path) as writer:
        first = writer.create_list(owner.id, "first", clock())
        writer.write_chunk(owner.id, first, '[["+994701111111","Known",{},1,2,0]]', clock())
    # the file's order: Zeynəb, Əli, Known (again); sorted by phone for the writer
    rows = ('[["+994501234567","Əli",{},2,3,0],["+994551234567","Zeynəb",{},1,2,0],'
            '["+994701111111","Known again",{},3,4,0]]')
    with ImportWriter(db.path) as writer:
        second = writer.create_list(owner.id, "second", clock())
        writer.write_chunk(owner.id, second, rows, clock())
    async with db.reader.execute(
        "SELECT c.name FROM list_members m JOIN contacts c ON c.id = m.contact_id"
        " WHERE m.list_id = ? ORDER BY c.id", (second,)
    ) as cur:
        assert [row[0] for row in await cur.fetchall()] == ["Known again", "Zeynəb", "Əli"]


async def test_the_writer_tells_which_known_contacts_got_a_new_name(db: Database, clock) -> None:
    async with db.transaction() as tx:
        alice = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN, now=clock())
        bob = await owners.add(tx, telegram_id=2, chat_id=2, language=Language.EN, now=clock())
    with ImportWriter(db.path) as writer:
        shop = writer.create_list(alice.id, "shop", clock())
        writer.write_chunk(alice.id, shop, '[["+994501111111","Aysel",{},1,2,0],'
                           '["+994502222222","Leyla",{},2,3,0],'
                           '["+994503333333",null,{},3,4,0],'
                           '["+994504444444","Nigar",{},4,5,0]]', clock())
        assert writer.renamed(alice.id, 5) == (0, [])  # all new
    with ImportWriter(db.path) as writer:  # Bob's same numbers are his own contacts
        mine = writer.create_list(bob.id, "mine", clock())
        writer.write_chunk(bob.id, mine, '[["+994501111111","Someone",{},1,2,0]]', clock())
        assert writer.renamed(bob.id, 5) == (0, [])
    with ImportWriter(db.path) as writer:
        other = writer.create_list(alice.id, "other", clock())
        # in two chunks, as batches come: a name changed twice, one changed and back, a
        # first name for a contact without one, a new contact renamed by a later row
        writer.write_chunk(alice.id, other, '[["+994501111111","A. Mammadova",{},1,2,0],'
                           '["+994502222222","L.",{},2,3,0],'
                           '["+994503333333","Zeynəb",{},3,4,0],'
                           '["+994505555555","New",{},4,5,0]]', clock())
        writer.write_chunk(alice.id, other, '[["+994501111111","No Country Code",{},5,6,1],'
                           '["+994502222222","Leyla",{},6,7,1],'
                           '["+994504444444",null,{},7,8,0],'
                           '["+994505555555","Newer",{},8,9,1]]', clock())
        assert writer.renamed(alice.id, 5) == (
            1, [("+994501111111", "Aysel", "No Country Code")])
        assert writer.renamed(alice.id, 0) == (1, [])
