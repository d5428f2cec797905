"""PostgreSQL's migrations (bot/storage/migrations_pg) make the schema SQLite's make.

Every SQLite migration has a PostgreSQL twin of the same number and name; after both sets
are applied the two schemas have the same tables, columns (type, NOT NULL, default),
indexes (name, table, columns, unique, partial), primary keys and unique constraints, and
foreign keys (with their ON DELETE). The PostgreSQL half needs QASID_TEST_PG (skipped
without it, as tests/conftest.py says).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from importlib import resources
from pathlib import Path
from typing import Any

from bot.storage.db import Database

# SQLite's declared type -> PostgreSQL's (PG.md: ids and integers BIGINT, times DOUBLE)
TYPES = {"INTEGER": "bigint", "REAL": "double precision", "TEXT": "text", "BLOB": "bytea"}
ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL",
             "d": "SET DEFAULT"}
IGNORED = {"schema_migrations"}  # each engine's runner keeps its own


def migration_names(folder: str) -> set[str]:
    return {f.name for f in (resources.files("bot.storage") / folder).iterdir()
            if f.name.endswith(".sql")}


def test_every_sqlite_migration_has_a_postgres_twin_of_the_same_name() -> None:
    assert migration_names("migrations_pg") == migration_names("migrations")


def _default(value: Any) -> str | None:
    if value is None:
        return None
    return re.sub(r"::[a-z ]+$", "", str(value))  # PostgreSQL's '{}'::text is SQLite's '{}'


def sqlite_schema(path: Path) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    try:
        tables = sorted(r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            if r[0] not in IGNORED)
        columns, uniques, foreign = {}, {}, set()
        for table in tables:
            info = conn.execute(f"PRAGMA table_info({table})").fetchall()
            columns[table] = {(name, TYPES[kind], bool(notnull or pk), _default(default))
                              for _, name, kind, notnull, default, pk in info}
            pk = tuple(r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))
            keys = {pk} if pk else set()
            for _, index, _unique, origin, _partial in conn.execute(
                    f"PRAGMA index_list({table})"):
                if origin in ("u", "pk"):
                    keys.add(tuple(r[2] for r in conn.execute(f"PRAGMA index_info({index})")))
            uniques[table] = keys
            for row in conn.execute(f"PRAGMA foreign_key_list({table})"):
                foreign.add((table, row[3], row[2], row[4], row[6]))
        indexes = {}
        for name, table, sql in conn.execute(
                "SELECT name, tbl_name, sql FROM sqlite_master"
                " WHERE type = 'index' AND sql IS NOT NULL"):
            cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({name})"))
            indexes[name] = (table, cols, sql.upper().startswith("CREATE UNIQUE"),
                             " WHERE " in sql.upper())
        return {"tables": tables, "columns": columns, "indexes": indexes,
                "uniques": uniques, "foreign keys": foreign}
    finally:
        conn.close()


def postgres_schema(url: str) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    """The schema, and the identity columns (table, column)."""
    import psycopg

    with psycopg.connect(url) as conn:
        tables = sorted(r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
            if r[0] not in IGNORED)
        columns: dict[str, set[Any]] = {t: set() for t in tables}
        identity = set()
        for table, name, kind, nullable, default, is_identity in conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable, column_default,"
                " is_identity FROM information_schema.columns WHERE table_schema = 'public'"):
            if table in columns:
                columns[table].add((name, kind, nullable == "NO", _default(default)))
            if is_identity == "YES":
                identity.add((table, name))
        attnames = ("ARRAY(SELECT a.attname FROM unnest({keys}) WITH ORDINALITY k(n, i)"
                    " JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.n"
                    " ORDER BY k.i)")
        indexes = {
            name: (table, tuple(cols), unique, partial)
            for name, table, cols, unique, partial in conn.execute(
                "SELECT i.relname, t.relname, "
                + attnames.format(keys="x.indkey::int2[]", rel="x.indrelid")
                + ", x.indisunique, x.indpred IS NOT NULL"
                " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
                " JOIN pg_class t ON t.oid = x.indrelid"
                " JOIN pg_namespace s ON s.oid = t.relnamespace AND s.nspname = 'public'"
                " WHERE NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)")
            if table not in IGNORED}
        uniques: dict[str, set[tuple[str, ...]]] = {t: set() for t in tables}
        foreign = set()
        for table, kind, cols, target, target_cols, on_delete in conn.execute(
                "SELECT t.relname, c.contype, "
                + attnames.format(keys="c.conkey", rel="c.conrelid") + ", r.relname, "
                + attnames.format(keys="c.confkey", rel="c.confrelid") + ", c.confdeltype"
                " FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
                " JOIN pg_namespace s ON s.oid = t.relnamespace AND s.nspname = 'public'"
                " LEFT JOIN pg_class r ON r.oid = c.confrelid"
                " WHERE c.contype IN ('p', 'u', 'f')"):
            if table in IGNORED:
                continue
            if kind == "f":
                for col, target_col in zip(cols, target_cols, strict=True):
                    foreign.add((table, col, target, target_col, ON_DELETE[on_delete]))
            else:
                uniques[table].add(tuple(cols))
    schema = {"tables": tables, "columns": columns, "indexes": indexes,
              "uniques": uniques, "foreign keys": foreign}
    return schema, identity


async def test_postgres_migrations_make_the_schema_sqlite_migrations_make(
        pg_url: str, tmp_path: Path) -> None:
    sqlite_db = Database(tmp_path / "schema.sqlite3")
    await sqlite_db.connect()
    await sqlite_db.close()
    expected = sqlite_schema(tmp_path / "schema.sqlite3")
    actual, identity = postgres_schema(pg_url)

    assert actual["tables"] == expected["tables"]
    for table in expected["tables"]:
        assert actual["columns"][table] == expected["columns"][table], table
        assert actual["uniques"][table] == expected["uniques"][table], table
    assert actual["indexes"] == expected["indexes"]
    assert actual["foreign keys"] == expected["foreign keys"]
    # the ids SQLite numbers itself (INTEGER PRIMARY KEY) PostgreSQL numbers by an identity
    assert identity == {(t, "id") for t in expected["tables"]
                        if ("id", "bigint", True, None) in expected["columns"][t]}


def test_every_foreign_key_has_an_index_led_by_its_columns(pg_url: str) -> None:
    """PostgreSQL finds a deleted parent's children by an index too (migration 0006)."""
    import psycopg

    with psycopg.connect(pg_url) as conn:
        unindexed = conn.execute(
            "SELECT c.conrelid::regclass::text, c.conkey::text FROM pg_constraint c"
            " WHERE c.contype = 'f' AND NOT EXISTS (SELECT 1 FROM pg_index x"
            "  WHERE x.indrelid = c.conrelid"
            "  AND (x.indkey::int2[])[0:cardinality(c.conkey) - 1] = c.conkey)").fetchall()
    # automation_sends.contact_id (the second column of its key) has none in either engine
    # (SQLite's plan scans a covering index for it): a migration of its own to add one
    assert set(unindexed) <= {("automation_sends", "{2}")}


# --- the migrations that carry data over, on a database of the version before -----------

def run(url: str, *statements: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        result: list[tuple[Any, ...]] = []
        for sql in statements:
            cur = conn.execute(sql)
            result = cur.fetchall() if cur.description else []
        return result


OWNERS = ("INSERT INTO owners (id, telegram_id, chat_id, created_at, updated_at)"
          " VALUES (1, 1, 1, 0, 0), (2, 2, 2, 0, 0)")


def test_version_3_gives_each_list_the_variables_its_contacts_brought(pg_empty_url: str) -> None:
    from tests.conftest import apply_pg_migrations

    apply_pg_migrations(pg_empty_url, range(1, 3))
    run(pg_empty_url, OWNERS,
        "INSERT INTO contacts (id, owner_id, phone, attributes, created_at, updated_at) VALUES"
        " (1, 1, '+1', '{\"city\": \"Baku\", \"name\": \"A\"}', 0, 0),"
        " (2, 1, '+2', '{\"city\": \"X\", \"Şəhər\": 3}', 0, 0), (3, 1, '+3', '{}', 0, 0)",
        "INSERT INTO contact_lists (id, owner_id, name, created_at)"
        " VALUES (1, 1, 'a', 0), (2, 1, 'empty', 0)",
        "INSERT INTO list_members VALUES (1, 1, 0), (1, 2, 0), (1, 3, 0)")
    apply_pg_migrations(pg_empty_url)
    rows = dict(run(pg_empty_url, "SELECT id, variables FROM contact_lists"))
    assert sorted(json.loads(rows[1])) == ["city", "name", "Şəhər"]
    assert json.loads(rows[2]) == []


def test_version_13_keeps_the_packages_version_1_made(pg_empty_url: str) -> None:
    from tests.conftest import apply_pg_migrations

    apply_pg_migrations(pg_empty_url, range(1, 13))
    run(pg_empty_url, "INSERT INTO packages (id, name, credits, validity_days, price_minor,"
                      " currency, active, created_at)"
                      " VALUES (7, 'Start', 100, 30, 500, 'AZN', 0, 5)")
    apply_pg_migrations(pg_empty_url)
    assert run(pg_empty_url, "SELECT id, name, credits, validity_days, price_minor, currency,"
                             " price_stars, active, created_at, updated_at FROM packages") == [
        (7, "Start", 100, 30, 500, "AZN", 0, 0, 5.0, None)]
    run(pg_empty_url, "INSERT INTO packages (name, credits, price_minor, created_at)"
                      " VALUES ('Forever', 10, 0, 0)")  # validity 0 (never expires) now allowed
    assert run(pg_empty_url, "SELECT validity_days FROM packages WHERE name = 'Forever'") == [(0,)]


def test_version_14_gives_an_owner_an_opening_lot_of_their_balance(pg_empty_url: str) -> None:
    from tests.conftest import apply_pg_migrations

    apply_pg_migrations(pg_empty_url, range(1, 14))
    run(pg_empty_url, OWNERS,
        "INSERT INTO ledger (owner_id, kind, amount, created_at) VALUES"
        " (1, 'credit', 500, 0), (1, 'reserve', -120, 0), (1, 'charge', -20, 0),"
        " (1, 'adjust', -30, 0), (2, 'credit', 10, 0), (2, 'adjust', -10, 0)")
    apply_pg_migrations(pg_empty_url)
    [(owner, credits, remaining, held, expires_at, created_at)] = run(
        pg_empty_url, "SELECT owner_id, credits, remaining, held, expires_at, created_at"
                      " FROM credit_lots")
    assert (owner, credits, remaining, held, expires_at) == (1, 450, 350, 100, None)
    assert abs(created_at - time.time()) < 600  # epoch seconds, as every time column


def test_version_18_counts_the_messages_kept_before_as_routed(pg_empty_url: str) -> None:
    from tests.conftest import apply_pg_migrations

    apply_pg_migrations(pg_empty_url, range(1, 18))
    run(pg_empty_url, OWNERS,
        "INSERT INTO senders (id, owner_id, gateway, phone, created_at, updated_at)"
        " VALUES (1, 1, 'sandbox', '+9941', 0, 0)",
        "INSERT INTO inbound_messages (owner_id, sender_id, phone, received_at)"
        " VALUES (1, 1, '+9942', 1700000000.5)")
    apply_pg_migrations(pg_empty_url)
    assert run(pg_empty_url, "SELECT routed_at FROM inbound_messages") == [(1700000000.5,)]
