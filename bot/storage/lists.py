"""Contact lists and their memberships."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import cache

import aiosqlite

from bot.domain import ContactList
from bot.storage import dialect
from bot.storage.db import at_ts, to_ts
from bot.storage.dialect import SQLITE, Dialect


@cache
def _select(d: Dialect) -> str:
    return (
        "SELECT l.id, l.owner_id, l.name, l.created_at, l.variables,"
        " COUNT(m.contact_id) AS size,"
        f" COALESCE({d.count_if('c.opted_out_at IS NOT NULL')}, 0) AS opted_out"
        " FROM contact_lists l"
        " LEFT JOIN list_members m ON m.list_id = l.id"
        " LEFT JOIN contacts c ON c.id = m.contact_id"
    )


NAME_TAKEN_SQL = "SELECT 1 FROM contact_lists WHERE owner_id = ? AND name = ?"
INSERT_SQL = "INSERT INTO contact_lists (owner_id, name, created_at) VALUES (?, ?, ?)"


@cache
def add_variables_sql(d: Dialect) -> str:
    """Adds variable names (bound with ``list_param``) to a list's, keeping the order they
    first came in."""
    return (
        f"UPDATE contact_lists SET variables = (SELECT {d.json_agg('name')} FROM ("
        " SELECT value AS name, MIN(o) AS first FROM ("
        f"  SELECT value, key AS o FROM {d.array_items('contact_lists.variables')}"
        f"  UNION ALL SELECT value, 100000 + key FROM {d.array_items('?')}) AS named"
        " GROUP BY value ORDER BY first) AS firsts)"  # (PostgreSQL wants the aliases)
        " WHERE owner_id = ? AND id = ?"
    )


ADD_VARIABLES_SQL = add_variables_sql(SQLITE)  # SQLite's: the import writer's (and tests')


async def owner_variables(conn: aiosqlite.Connection, owner_id: int) -> set[str]:
    """Every variable any of the owner's lists has."""
    async with conn.execute(
        "SELECT DISTINCT v.value FROM contact_lists l,"
        f" {dialect.of(conn).array_items('l.variables')} v WHERE l.owner_id = ?", (owner_id,)
    ) as cur:
        return {row[0] async for row in cur}


def _list(row: aiosqlite.Row) -> ContactList:
    return ContactList(
        id=row["id"],
        owner_id=row["owner_id"],
        name=row["name"],
        created_at=at_ts(row["created_at"]),
        size=row["size"],
        opted_out=row["opted_out"],
        variables=json.loads(row["variables"]),
    )


async def name_taken(conn: aiosqlite.Connection, owner_id: int, name: str) -> bool:
    async with conn.execute(NAME_TAKEN_SQL, (owner_id, name)) as cur:
        return await cur.fetchone() is not None


async def create(
    conn: aiosqlite.Connection, owner_id: int, name: str, now: datetime
) -> ContactList:
    list_id = await dialect.of(conn).insert_id(conn, INSERT_SQL, (owner_id, name, to_ts(now)))
    created = await get(conn, owner_id, list_id)
    assert created is not None
    return created


async def get(conn: aiosqlite.Connection, owner_id: int, list_id: int) -> ContactList | None:
    async with conn.execute(
        _select(dialect.of(conn)) + " WHERE l.owner_id = ? AND l.id = ? GROUP BY l.id",
        (owner_id, list_id)
    ) as cur:
        row = await cur.fetchone()
    return _list(row) if row else None


async def for_owner(conn: aiosqlite.Connection, owner_id: int) -> list[ContactList]:
    async with conn.execute(
        _select(dialect.of(conn)) + " WHERE l.owner_id = ? GROUP BY l.id"
        " ORDER BY l.created_at, l.id", (owner_id,)
    ) as cur:
        return [_list(row) async for row in cur]


async def rename(conn: aiosqlite.Connection, owner_id: int, list_id: int, name: str) -> None:
    await conn.execute(
        "UPDATE contact_lists SET name = ? WHERE owner_id = ? AND id = ?", (name, owner_id, list_id)
    )


async def count_only_here(conn: aiosqlite.Connection, owner_id: int, list_id: int) -> int:
    """Contacts that no other list holds: deleting the list deletes them."""
    async with conn.execute(
        "SELECT COUNT(*) FROM list_members m JOIN contacts c ON c.id = m.contact_id"
        " WHERE m.list_id = ? AND c.owner_id = ? AND c.opted_out_at IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM list_members o"
        "                 WHERE o.contact_id = m.contact_id AND o.list_id <> m.list_id)",
        (list_id, owner_id),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def exists(conn: aiosqlite.Connection, owner_id: int, list_id: int) -> bool:
    async with conn.execute(
        "SELECT 1 FROM contact_lists WHERE owner_id = ? AND id = ?", (owner_id, list_id)
    ) as cur:
        return await cur.fetchone() is not None


async def delete_members(conn: aiosqlite.Connection, owner_id: int, list_id: int,
                         after: int, limit: int) -> tuple[int, int | None]:
    """One bounded step of deleting a list: of its next ``limit`` members (by contact id,
    above ``after``), delete the contacts only this list holds (opted-out numbers are
    kept). Returns how many went and the contact id to go on after; None when fewer than
    ``limit`` members are left (``delete`` then does the rest and the list)."""
    async with conn.execute(
        "SELECT contact_id FROM list_members WHERE list_id = ? AND contact_id > ?"
        " ORDER BY contact_id LIMIT 1 OFFSET ?", (list_id, after, limit - 1)
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return 0, None
    upto = int(row[0])
    cur = await conn.execute(
        "DELETE FROM contacts WHERE owner_id = ? AND opted_out_at IS NULL AND id IN ("
        " SELECT m.contact_id FROM list_members m"
        " WHERE m.list_id = ? AND m.contact_id > ? AND m.contact_id <= ?"
        " AND NOT EXISTS (SELECT 1 FROM list_members o"
        "                 WHERE o.contact_id = m.contact_id AND o.list_id <> m.list_id))",
        (owner_id, list_id, after, upto),
    )
    return cur.rowcount, upto


async def delete(conn: aiosqlite.Connection, owner_id: int, list_id: int) -> int:
    """Delete the list and the contacts only it held; opted-out numbers are kept (so they
    stay opted out if they come back in a file). Returns how many contacts went."""
    cur = await conn.execute(
        "DELETE FROM contacts WHERE owner_id = ? AND opted_out_at IS NULL AND id IN ("
        " SELECT m.contact_id FROM list_members m WHERE m.list_id = ?"
        " AND NOT EXISTS (SELECT 1 FROM list_members o"
        "                 WHERE o.contact_id = m.contact_id AND o.list_id <> m.list_id))",
        (owner_id, list_id),
    )
    removed = cur.rowcount
    await conn.execute("DELETE FROM contact_lists WHERE owner_id = ? AND id = ?",
                       (owner_id, list_id))
    return removed


# --- the API's lists (``services.contacts_api``) -----------------------------------------

async def owned(conn: aiosqlite.Connection, owner_id: int, list_ids: Sequence[int]) -> set[int]:
    """Which of ``list_ids`` are the owner's lists."""
    d = dialect.of(conn)
    async with conn.execute(
        f"SELECT id FROM contact_lists WHERE owner_id = ? AND {d.in_list('id')}",
        (owner_id, d.list_param(list_ids)),
    ) as cur:
        return {int(row[0]) async for row in cur}


async def page(
    conn: aiosqlite.Connection, owner_id: int, after: int, limit: int
) -> list[ContactList]:
    """The owner's lists with ids above ``after``, by id, with their sizes."""
    async with conn.execute(
        _select(dialect.of(conn))
        + " WHERE l.owner_id = ? AND l.id > ? GROUP BY l.id ORDER BY l.id LIMIT ?",
        (owner_id, after, limit),
    ) as cur:
        return [_list(row) async for row in cur]


async def add_variables(
    conn: aiosqlite.Connection, owner_id: int, list_id: int, names: Sequence[str]
) -> None:
    """Variable names its contacts now have, added to the list's (as an import does)."""
    d = dialect.of(conn)
    await conn.execute(add_variables_sql(d), (d.list_param(names), owner_id, list_id))


async def remove_members(
    conn: aiosqlite.Connection, owner_id: int, list_id: int, phones: Sequence[str]
) -> int:
    """Take the owner's contacts with these phones out of the list (they stay contacts);
    returns how many were in it."""
    d = dialect.of(conn)
    cur = await conn.execute(
        "DELETE FROM list_members WHERE list_id = ? AND contact_id IN ("
        f" SELECT id FROM contacts WHERE owner_id = ? AND {d.in_list('phone')})",
        (list_id, owner_id, d.list_param(phones)),
    )
    return cur.rowcount


async def drop_keeping_contacts(conn: aiosqlite.Connection, owner_id: int,
                                list_id: int) -> None:
    """Delete the list only: its contacts stay the owner's (for a list made for a campaign
    that was then refused)."""
    await conn.execute("DELETE FROM contact_lists WHERE owner_id = ? AND id = ?",
                       (owner_id, list_id))
