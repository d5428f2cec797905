"""Contacts: an owner's customers, one row per E.164 number, with template attributes.

Bulk writes take whole chunks (``executemany`` and set-based statements over a JSON array
of phones), never a statement per row.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from functools import cache

import aiosqlite

from bot.domain import Contact
from bot.storage import dialect
from bot.storage.db import from_ts, to_ts
from bot.storage.dialect import SQLITE, Dialect

_COLUMNS = "id, owner_id, phone, name, attributes, opted_out_at, opt_out_reason"

# A row to import: (phone E.164, name or None, attributes as a dict or JSON object text).
ImportRow = tuple[str, str | None, "dict[str, str] | str"]

# Bulk statements take a chunk's phones (or rows) as one parameter (``list_param``: for
# SQLite a JSON array, which it unpacks itself, several times faster than binding
# parameters row by row with executemany). Each is built once per dialect; the import
# writer (``bot.storage.bulk``, SQLite's own) takes SQLite's, the ``*_SQL`` constants.

@cache
def _upsert_rows(d: Dialect) -> str:
    """The contact upserts' FROM and ON CONFLICT: the newer name and attributes win."""
    return (
        f" FROM {d.array_items('?')} AS r WHERE true "
        + d.upsert(["owner_id", "phone"], [
            ("name", "COALESCE(excluded.name, contacts.name)"),
            ("attributes", "CASE WHEN excluded.attributes = '{}' THEN contacts.attributes"
             "   WHEN contacts.attributes = '{}' THEN excluded.attributes"
             f"   ELSE {d.json_merge('contacts.attributes', 'excluded.attributes')} END"),
            "updated_at"])
    )


def _fields(d: Dialect) -> str:
    """A row's phone, name and attributes."""
    return ", ".join(d.element("r.value", i) for i in range(3))


@cache
def upsert_sql(d: Dialect) -> str:
    """``upsert``'s: an identical row is left alone (re-importing a file rewrites nothing)."""
    return (
        "INSERT INTO contacts (owner_id, phone, name, attributes, created_at, updated_at)"
        f" SELECT ?, {_fields(d)}, ?, ?" + _upsert_rows(d)
        + f" WHERE {d.distinct('excluded.name', 'contacts.name')} AND excluded.name IS NOT NULL"
        " OR excluded.attributes <> contacts.attributes AND excluded.attributes <> '{}'"
    )


# The import writer's variant. Its rows are ``[phone, name, attributes, seq, ...]``
# (``imports.parse.Batch``): a new contact gets the id ``base + seq`` (base: the largest
# id when the import began, under the writer lock), so ids follow the file even though
# the rows come sorted by phone; a known one keeps its id. Every row is touched, so that
# each hands back its id.
@cache
def upsert_returning_ids_sql(d: Dialect) -> str:
    return (
        "INSERT INTO contacts (id, owner_id, phone, name, attributes, created_at, updated_at)"
        f" SELECT ? + ({d.element('r.value', 3, 'INTEGER')}), ?, {_fields(d)}, ?, ?"
        + _upsert_rows(d) + d.returning("id")
    )


# The API's upsert (``services.contacts_api``): the import's statement, each row also
# saying the contact's phone and whether it is opted out once written.
@cache
def upsert_returning_state_sql(d: Dialect) -> str:
    return upsert_returning_ids_sql(d) + ", phone, opted_out_at IS NOT NULL"


# Contact ids (the caller's own, from the upsert) into a list.
@cache
def add_ids_to_list_sql(d: Dialect) -> str:
    return d.insert_ignore("list_members (list_id, contact_id, added_at)",
                           f"SELECT ?, {d.cast('value', 'INTEGER')}, ? FROM {d.array_items('?')}")


@cache
def opted_out_sql(d: Dialect) -> str:
    return ("SELECT COUNT(*) FROM contacts WHERE owner_id = ? AND opted_out_at IS NOT NULL"
            f" AND {d.in_list('phone')}")


UPSERT_RETURNING_IDS_SQL = upsert_returning_ids_sql(SQLITE)
ADD_IDS_TO_LIST_SQL = add_ids_to_list_sql(SQLITE)
OPTED_OUT_SQL = opted_out_sql(SQLITE)


def _contact(row: aiosqlite.Row) -> Contact:
    return Contact(
        id=row["id"],
        owner_id=row["owner_id"],
        phone=row["phone"],
        name=row["name"],
        attributes=json.loads(row["attributes"] or "{}"),
        opted_out_at=from_ts(row["opted_out_at"]),
        opt_out_reason=row["opt_out_reason"],
    )


async def existing_phones(
    conn: aiosqlite.Connection, owner_id: int, phones: Sequence[str]
) -> set[str]:
    """Which of ``phones`` the owner already has."""
    d = dialect.of(conn)
    async with conn.execute(
        f"SELECT phone FROM contacts WHERE owner_id = ? AND {d.in_list('phone')}",
        (owner_id, d.list_param(phones)),
    ) as cur:
        return {row[0] for row in await cur.fetchall()}


async def upsert(
    conn: aiosqlite.Connection, owner_id: int, rows: Sequence[ImportRow], now: datetime
) -> None:
    """Insert new contacts; for known ones the newer name and attributes win.

    An opt-out is never touched here: opted-out contacts stay opted out.
    """
    ts, d = to_ts(now), dialect.of(conn)
    await conn.execute(upsert_sql(d), (owner_id, ts, ts, d.list_param(rows)))


async def add_to_list(
    conn: aiosqlite.Connection, owner_id: int, list_id: int, phones: Sequence[str],
    now: datetime,
) -> None:
    d = dialect.of(conn)
    await conn.execute(
        d.insert_ignore("list_members (list_id, contact_id, added_at)",
                        "SELECT ?, id, ? FROM contacts WHERE owner_id = ?"
                        f" AND {d.in_list('phone')}"),
        (list_id, to_ts(now), owner_id, d.list_param(phones)))


async def count_opted_out(
    conn: aiosqlite.Connection, owner_id: int, phones: Sequence[str]
) -> int:
    d = dialect.of(conn)
    async with conn.execute(opted_out_sql(d), (owner_id, d.list_param(phones))) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def get_by_phone(conn: aiosqlite.Connection, owner_id: int, phone: str) -> Contact | None:
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM contacts WHERE owner_id = ? AND phone = ?", (owner_id, phone)
    ) as cur:
        row = await cur.fetchone()
    return _contact(row) if row else None


async def opt_out(
    conn: aiosqlite.Connection, owner_id: int, phone: str, reason: str | None, now: datetime
) -> Contact:
    """Opt a number out, keeping a contact row (with no list) if it was not known yet."""
    ts = to_ts(now)
    await conn.execute(
        "INSERT INTO contacts (owner_id, phone, opted_out_at, opt_out_reason, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?) " + dialect.of(conn).upsert(["owner_id", "phone"], [
            ("opted_out_at", "COALESCE(contacts.opted_out_at, excluded.opted_out_at)"),
            ("opt_out_reason", "COALESCE(excluded.opt_out_reason, contacts.opt_out_reason)"),
            "updated_at"]),
        (owner_id, phone, ts, reason, ts, ts),
    )
    contact = await get_by_phone(conn, owner_id, phone)
    assert contact is not None
    return contact


async def opt_in(
    conn: aiosqlite.Connection, owner_id: int, phone: str, now: datetime
) -> Contact | None:
    await conn.execute(
        "UPDATE contacts SET opted_out_at = NULL, opt_out_reason = NULL, updated_at = ?"
        " WHERE owner_id = ? AND phone = ?",
        (to_ts(now), owner_id, phone),
    )
    return await get_by_phone(conn, owner_id, phone)


async def sample(
    conn: aiosqlite.Connection, owner_id: int, list_id: int, limit: int = 10
) -> list[Contact]:
    async with conn.execute(
        f"SELECT {', '.join('c.' + c.strip() for c in _COLUMNS.split(','))}"
        " FROM list_members m JOIN contacts c ON c.id = m.contact_id"
        " WHERE m.list_id = ? AND c.owner_id = ? ORDER BY c.id LIMIT ?",
        (list_id, owner_id, limit),
    ) as cur:
        return [_contact(row) async for row in cur]


async def attribute_names(conn: aiosqlite.Connection, owner_id: int, list_id: int) -> list[str]:
    """Every attribute key used by the list's contacts, in first-seen order."""
    async with conn.execute(
        "SELECT a.key, MIN(c.id) FROM list_members m JOIN contacts c ON c.id = m.contact_id,"
        f" {dialect.of(conn).object_items('c.attributes')} a WHERE m.list_id = ? AND c.owner_id = ?"
        " GROUP BY a.key ORDER BY MIN(c.id), a.key",
        (list_id, owner_id),
    ) as cur:
        return [row[0] for row in await cur.fetchall()]


async def stream_list(
    conn: aiosqlite.Connection, owner_id: int, list_id: int, chunk: int = 5000
) -> AsyncIterator[list[Contact]]:
    """The list's contacts in chunks, by id (keyset pagination: constant memory)."""
    last = 0
    while True:
        async with conn.execute(
            "SELECT c.id, c.owner_id, c.phone, c.name, c.attributes, c.opted_out_at,"
            " c.opt_out_reason FROM list_members m JOIN contacts c ON c.id = m.contact_id"
            " WHERE m.list_id = ? AND c.owner_id = ? AND c.id > ? ORDER BY c.id LIMIT ?",
            (list_id, owner_id, last, chunk),
        ) as cur:
            rows = [_contact(row) async for row in cur]
        if not rows:
            return
        yield rows
        last = rows[-1].id


async def by_ids(
    conn: aiosqlite.Connection, owner_id: int, contact_ids: Sequence[int]
) -> dict[int, Contact]:
    """The owner's contacts with these ids (others are simply absent)."""
    d = dialect.of(conn)
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM contacts WHERE owner_id = ? AND {d.in_list('id')}",
        (owner_id, d.list_param(contact_ids)),
    ) as cur:
        return {row["id"]: _contact(row) async for row in cur}


async def whatsapp_known(
    conn: aiosqlite.Connection, owner_id: int, phones: Sequence[str], since: float
) -> dict[str, bool]:
    """Phones whose WhatsApp check (``whatsapp_checks``) is newer than ``since``."""
    d = dialect.of(conn)
    async with conn.execute(
        "SELECT phone, on_whatsapp FROM whatsapp_checks WHERE owner_id = ? AND checked_at >= ?"
        f" AND {d.in_list('phone')}",
        (owner_id, since, d.list_param(phones)),
    ) as cur:
        return {row[0]: bool(row[1]) async for row in cur}


async def remember_whatsapp(
    conn: aiosqlite.Connection, rows: Sequence[tuple[int, str, bool, float]]
) -> None:
    """(owner, phone, on WhatsApp, when) of checks just made."""
    d = dialect.of(conn)
    await d.execute_many(
        conn,
        "INSERT INTO whatsapp_checks (owner_id, phone, on_whatsapp, checked_at)"
        " VALUES (?, ?, ?, ?) " + d.upsert(["owner_id", "phone"], ["on_whatsapp", "checked_at"]),
        [(o, p, int(w), t) for o, p, w, t in rows],
    )


# --- the API's contacts (``services.contacts_api``) --------------------------------------

async def max_id(conn: aiosqlite.Connection) -> int:
    """The largest contact id of any owner (new ids are above it: see ``upsert_returning``)."""
    async with conn.execute("SELECT COALESCE(MAX(id), 0) FROM contacts") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def upsert_returning(
    conn: aiosqlite.Connection, owner_id: int, rows: str, base: int, now: datetime
) -> list[tuple[int, str, bool]]:
    """The import's upsert of ``rows`` (a JSON array of ``[phone, name, attributes, seq]``,
    sorted by phone: see ``upsert_returning_ids_sql``; ``base`` is ``max_id`` read in the
    same transaction). Returns (id, phone, opted out) of every row; ids above ``base`` are
    the contacts it created."""
    ts = to_ts(now)
    async with conn.execute(upsert_returning_state_sql(dialect.of(conn)),
                            (base, owner_id, ts, ts, rows)) as cur:
        return [(int(row[0]), row[1], bool(row[2])) for row in await cur.fetchall()]


async def add_ids_to_list(
    conn: aiosqlite.Connection, list_id: int, contact_ids: Sequence[int], now: datetime
) -> int:
    """Add the contacts (ids the caller got for this owner) to the owner's list; returns
    how many were not in it yet."""
    d = dialect.of(conn)
    cur = await conn.execute(add_ids_to_list_sql(d),
                             (list_id, to_ts(now), d.list_param(sorted(contact_ids))))
    return cur.rowcount


async def opt_out_many(
    conn: aiosqlite.Connection, owner_id: int, phones: Sequence[str], reason: str | None,
    now: datetime,
) -> None:
    """Opt the owner's known ``phones`` out as ``opt_out`` does (an earlier opt-out keeps its
    time; a reason given replaces the one stored)."""
    ts, d = to_ts(now), dialect.of(conn)
    await conn.execute(
        "UPDATE contacts SET opted_out_at = COALESCE(opted_out_at, ?),"
        " opt_out_reason = COALESCE(?, opt_out_reason), updated_at = ?"
        f" WHERE owner_id = ? AND {d.in_list('phone')}",
        (ts, reason, ts, owner_id, d.list_param(phones)),
    )


async def page(
    conn: aiosqlite.Connection, owner_id: int, after: int, limit: int,
    list_id: int | None = None,
) -> list[Contact]:
    """The owner's contacts (of ``list_id`` only, when given) with ids above ``after``, by
    id, at most ``limit``."""
    if list_id is None:
        sql = (f"SELECT {_COLUMNS} FROM contacts WHERE owner_id = ? AND id > ?"
               " ORDER BY id LIMIT ?")
        params: tuple[int, ...] = (owner_id, after, limit)
    else:
        sql = ("SELECT c.id, c.owner_id, c.phone, c.name, c.attributes, c.opted_out_at,"
               " c.opt_out_reason FROM list_members m JOIN contacts c ON c.id = m.contact_id"
               " WHERE m.list_id = ? AND c.owner_id = ? AND m.contact_id > ?"
               " ORDER BY m.contact_id LIMIT ?")
        params = (list_id, owner_id, after, limit)
    async with conn.execute(sql, params) as cur:
        return [_contact(row) async for row in cur]


async def memberships(
    conn: aiosqlite.Connection, owner_id: int, contact_ids: Sequence[int]
) -> dict[int, list[int]]:
    """The owner's lists each of these contacts is in (contacts in none are absent)."""
    found: dict[int, list[int]] = {}
    d = dialect.of(conn)
    async with conn.execute(
        "SELECT m.contact_id, m.list_id FROM list_members m"
        " JOIN contact_lists l ON l.id = m.list_id"
        f" WHERE l.owner_id = ? AND {d.in_list('m.contact_id')}"
        " ORDER BY m.contact_id, m.list_id",
        (owner_id, d.list_param(contact_ids)),
    ) as cur:
        async for row in cur:
            found.setdefault(int(row[0]), []).append(int(row[1]))
    return found


async def delete(conn: aiosqlite.Connection, owner_id: int, phone: str) -> Contact | None:
    """Delete the owner's contact as deleting its list would: a contact that is not opted out
    goes (campaigns keep their messages, ``contact_id`` becomes NULL); an opted-out number
    is kept so that it stays opted out, without its name, variables and lists. Returns the
    contact as it was, None when the owner has no such contact."""
    contact = await get_by_phone(conn, owner_id, phone)
    if contact is None:
        return None
    if contact.opted_out_at is None:
        await conn.execute("DELETE FROM contacts WHERE owner_id = ? AND id = ?",
                           (owner_id, contact.id))
    else:
        await conn.execute("DELETE FROM list_members WHERE contact_id = ?", (contact.id,))
        await conn.execute("UPDATE contacts SET name = NULL, attributes = '{}'"
                           " WHERE owner_id = ? AND id = ?", (owner_id, contact.id))
    return contact
