"""A full disk and a locked database, on a real SQLite file: the transaction wrapper
raises ``StorageUnavailable``, nothing of the transaction is written, and the next one
works once the fault is gone (the writer connection is never left in a transaction)."""

from __future__ import annotations

import sqlite3

import pytest

from bot.domain import Language
from bot.errors import StorageUnavailable
from bot.storage import contacts, owners
from bot.storage import db as db_module
from bot.storage.bulk import ImportWriter
from bot.storage.db import Database
from tests.faults import disk_freed, disk_full, import_writers_disk_full, locked_by_another

# SQLite's own faults (its error codes, its file, its import writer); PostgreSQL's are
# bot/storage/pg.py's to map.
pytestmark = pytest.mark.engines("sqlite")

ROWS = [(f"+99450{n:07d}", f"Name {n} " + "x" * 80, "{}") for n in range(3000)]


async def owner_id(db: Database, clock) -> int:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN, now=clock())
    return owner.id


async def count(db: Database) -> int:
    async with db.reader.execute("SELECT COUNT(*) FROM contacts") as cur:
        return (await cur.fetchone())[0]


async def test_a_full_disk_is_storage_unavailable_and_writes_nothing(db: Database, clock) -> None:
    owner = await owner_id(db, clock)
    await disk_full(db)
    with pytest.raises(StorageUnavailable) as raised:
        async with db.transaction() as tx:
            await contacts.upsert(tx, owner, ROWS, clock())
    assert raised.value.reason == "disk_full"
    assert "database or disk is full" in str(raised.value)
    assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
    assert await count(db) == 0

    await disk_freed(db)  # space again: the same writer saves
    async with db.transaction() as tx:
        await contacts.upsert(tx, owner, ROWS, clock())
    assert await count(db) == len(ROWS)


async def test_a_commit_that_fails_leaves_the_writer_usable(db: Database, clock) -> None:
    """A failure at COMMIT (here: a deferred foreign key) is rolled back as well: before,
    the writer stayed inside the failed transaction and every later BEGIN failed."""
    owner = await owner_id(db, clock)
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as tx:
            await tx.execute("PRAGMA defer_foreign_keys = ON")
            await tx.execute("INSERT INTO contact_lists (owner_id, name, created_at)"
                             " VALUES (?, 'ghost', 0)", (owner + 99,))
    async with db.transaction() as tx:
        await contacts.upsert(tx, owner, ROWS[:5], clock())
    assert await count(db) == 5


async def test_a_database_locked_by_another_process_is_storage_unavailable(
    tmp_path, clock, monkeypatch
) -> None:
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 100)
    db = Database(tmp_path / "locked.sqlite3")
    await db.connect()
    try:
        owner = await owner_id(db, clock)
        with locked_by_another(db.path):
            with pytest.raises(StorageUnavailable) as raised:
                async with db.transaction() as tx:
                    await contacts.upsert(tx, owner, ROWS[:5], clock())
            assert raised.value.reason == "locked"
            assert await count(db) == 0  # reading goes on meanwhile (WAL)
        async with db.transaction() as tx:  # released: saves again
            await contacts.upsert(tx, owner, ROWS[:5], clock())
        assert await count(db) == 5
    finally:
        await db.close()


async def test_the_import_writer_on_a_full_disk_rolls_back(
    db: Database, clock, monkeypatch
) -> None:
    """The bulk writer's own connection, under the writer lock (``Database.exclusive``)."""
    owner = await owner_id(db, clock)
    import_writers_disk_full(monkeypatch)
    rows = "[" + ",".join(f'["{p}","{n}",{{}},{i},{i + 1},0]'
                          for i, (p, n, _) in enumerate(ROWS)) + "]"
    with pytest.raises(StorageUnavailable) as raised:
        async with db.exclusive():
            with ImportWriter(db.path) as writer:
                list_id = writer.create_list(owner, "clients", clock())
                writer.write_chunk(owner, list_id, rows, clock())
    assert raised.value.reason == "disk_full"
    assert await count(db) == 0
    async with db.reader.execute("SELECT COUNT(*) FROM contact_lists") as cur:
        assert (await cur.fetchone())[0] == 0


async def test_other_errors_keep_their_own_exception(db: Database, clock) -> None:
    owner = await owner_id(db, clock)
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO owners (id, telegram_id, chat_id, language,"
                             " created_at) VALUES (?, 1, 1, 'en', 0)", (owner,))
