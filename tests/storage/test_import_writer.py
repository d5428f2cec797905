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
