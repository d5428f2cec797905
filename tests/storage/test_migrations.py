"""Migrations on a real SQLite file, and on PostgreSQL (tests/conftest.py: ``[postgres]``)."""

from __future__ import annotations

import importlib
import sqlite3
from pathlib import Path

import pytest

from bot.storage.db import Database, _statements, migrate, schema_version

DOMAIN_TABLES = {
    "owners", "senders", "contacts", "contact_lists", "list_members", "templates",
    "campaigns", "campaign_senders", "messages", "packages", "ledger", "api_keys",
}


# Each engine's catalogue: the tables, and the whole schema's definition as text.
TABLES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "postgres": "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
}
SCHEMA = {
    "sqlite": "SELECT name, sql FROM sqlite_master ORDER BY name",
    "postgres": "SELECT table_name || '.' || column_name, data_type || ' ' || is_nullable"
                " || ' ' || COALESCE(column_default, '') FROM information_schema.columns"
                " WHERE table_schema = 'public' UNION ALL"
                " SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
                " ORDER BY 1",
}


async def rows(db: Database, sql: str) -> list[tuple[object, ...]]:
    async with db.reader.execute(sql) as cur:
        return [tuple(row) for row in await cur.fetchall()]


async def test_migrations_create_the_whole_domain_from_empty(db: Database, db_engine: str) -> None:
    assert DOMAIN_TABLES <= {r[0] for r in await rows(db, TABLES[db_engine])}
    assert await schema_version(db.reader) >= 1


async def test_applying_migrations_twice_changes_nothing(
        db: Database, db_engine: str, db_target: Path | str) -> None:
    before = await rows(db, SCHEMA[db_engine])
    async with db.transaction():
        pass
    # the writer is idle: run the migrator again on a fresh connection
    second = Database(db_target)
    await second.connect()
    await second.close()
    after = await rows(db, SCHEMA[db_engine])
    versions = await rows(db, "SELECT version FROM schema_migrations")
    assert before == after
    assert len(versions) == len(set(versions))


@pytest.mark.engines("sqlite")
async def test_connection_settings(db: Database) -> None:
    async with db.reader.execute("PRAGMA journal_mode") as cur:
        assert (await cur.fetchone())[0] == "wal"
    async with db.reader.execute("PRAGMA foreign_keys") as cur:
        assert (await cur.fetchone())[0] == 1
    async with db.reader.execute("PRAGMA busy_timeout") as cur:
        assert (await cur.fetchone())[0] >= 1000


async def test_foreign_keys_are_enforced(db: Database, db_engine: str) -> None:
    integrity_error = (sqlite3.IntegrityError if db_engine == "sqlite"
                       else importlib.import_module("psycopg").IntegrityError)
    with pytest.raises(integrity_error):
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO contact_lists (owner_id, name, created_at) VALUES (999, 'x', 0)"
            )


async def test_failed_transaction_leaves_nothing_behind(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO packages (name, credits, validity_days, price_minor, created_at)"
                " VALUES ('p', 10, 30, 100, 0)"
            )
            raise RuntimeError("boom")
    async with db.reader.execute("SELECT COUNT(*) FROM packages") as cur:
        assert (await cur.fetchone())[0] == 0


async def test_a_broken_migration_is_rolled_back(tmp_path: Path, monkeypatch) -> None:
    import aiosqlite

    from bot.storage import db as dbmod

    good = dbmod._migration_files()
    broken = (*good, (9999, "9999_broken", "CREATE TABLE half (x INTEGER);\nNOT SQL;\n"))
    monkeypatch.setattr(dbmod, "_migration_files", lambda: list(broken))
    conn = await aiosqlite.connect(str(tmp_path / "b.sqlite3"), isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError):
            await migrate(conn)
        assert await schema_version(conn) == good[-1][0]
        async with conn.execute("SELECT name FROM sqlite_master WHERE name = 'half'") as cur:
            assert await cur.fetchone() is None
    finally:
        await conn.close()


def test_statement_splitter_keeps_semicolons_inside_strings() -> None:
    script = "-- comment\nCREATE TABLE a (x TEXT DEFAULT ';');\n\nINSERT INTO a VALUES ('1;2');\n"
    assert _statements(script) == [
        "CREATE TABLE a (x TEXT DEFAULT ';');",
        "INSERT INTO a VALUES ('1;2');",
    ]
