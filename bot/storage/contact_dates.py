"""Contacts' date attributes as an index (migration 0023), for date-based messages
(``bot/services/automations_dates.py``): each (owner, attribute) a date message uses is
read from ``contacts.attributes`` once, then again only for contacts updated since, so that
the day's messages are an index range (``due``) rather than a scan parsing JSON.

Bulk writes take whole chunks as one parameter (``write_rows``, ``list_param``).
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from bot.storage import dialect

# A contact whose value was read: (contact id, month * 100 + day or 0, year or None).
DateRow = tuple[int, int, int | None]


async def read_upto(conn: aiosqlite.Connection, owner_id: int, attribute: str) -> float | None:
    """Contacts updated at or after this time are to be read again (None: never read)."""
    async with conn.execute(
        "SELECT upto FROM contact_dates_read WHERE owner_id = ? AND attribute = ?",
        (owner_id, attribute),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else float(row[0])


async def set_read_upto(conn: aiosqlite.Connection, owner_id: int, attribute: str,
                        upto: float) -> None:
    await conn.execute(
        "INSERT INTO contact_dates_read (owner_id, attribute, upto) VALUES (?, ?, ?) "
        + dialect.of(conn).upsert(["owner_id", "attribute"], ["upto"]),
        (owner_id, attribute, upto))


async def changed(conn: aiosqlite.Connection, owner_id: int, since: float | None
                  ) -> list[int]:
    """The owner's contacts updated at or after ``since`` (all of them for None), by id:
    an index alone (the owner's, or with ``since`` the ``updated_at`` one: ``+owner_id``
    keeps SQLite off the owner's index, which would read all their contacts)."""
    sql = "SELECT id FROM contacts WHERE owner_id = ?"
    params: list[object] = [owner_id]
    if since is not None:
        sql, params = "SELECT id FROM contacts WHERE +owner_id = ? AND updated_at >= ?", [
            owner_id, since]
    async with conn.execute(sql, params) as cur:  # no ORDER BY: SQLite would scan by id
        return sorted(row[0] for row in await cur.fetchall())


async def values_of(conn: aiosqlite.Connection, owner_id: int, attribute: str,
                    contact_ids: Sequence[int]) -> list[tuple[int, object]]:
    """The contacts' values of ``attribute`` (None when they have none). By the primary
    key (``+owner_id``: not by the owner's index, which would read all their contacts)."""
    d = dialect.of(conn)
    async with conn.execute(
        f"SELECT id, {d.json_get('attributes')} FROM contacts"
        f" WHERE +owner_id = ? AND {d.in_list('id')}",
        (d.json_key(attribute), owner_id, d.list_param(contact_ids)),
    ) as cur:
        return [(row[0], row[1]) for row in await cur.fetchall()]


async def replace(conn: aiosqlite.Connection, owner_id: int, attribute: str,
                  contact_ids: Sequence[int], rows: Sequence[DateRow], *,
                  fresh: bool = False) -> None:
    """The contacts' rows for ``attribute`` become ``rows`` (a contact of ``contact_ids``
    not in them has no value). ``fresh``: nothing is kept for them yet (the first read)."""
    d = dialect.of(conn)
    if not fresh and contact_ids:
        await conn.execute(
            f"DELETE FROM contact_dates WHERE attribute = ? AND {d.in_list('contact_id')}",
            (attribute, d.list_param(contact_ids)))
    if rows:
        await d.write_rows(conn, "contact_dates",
                           ("contact_id", "attribute", "owner_id", "md", "year"),
                           [(cid, attribute, owner_id, md, year) for cid, md, year in rows])


async def counts(conn: aiosqlite.Connection, owner_id: int, attribute: str
                 ) -> tuple[int, int, int]:
    """(contacts with a valid date, with an invalid value, all the owner's contacts)."""
    d = dialect.of(conn)
    async with conn.execute(
        f"SELECT COUNT(*), COALESCE({d.count_if('md = 0')}, 0) FROM contact_dates"
        " WHERE owner_id = ? AND attribute = ?", (owner_id, attribute),
    ) as cur:
        row = await cur.fetchone()
    kept, invalid = (int(row[0]), int(row[1])) if row else (0, 0)
    async with conn.execute("SELECT COUNT(*) FROM contacts WHERE owner_id = ?",
                            (owner_id,)) as cur:
        total = await cur.fetchone()
    return kept - invalid, invalid, int(total[0]) if total else 0


async def due(conn: aiosqlite.Connection, owner_id: int, attribute: str, keys: Sequence[int],
              event_year: int, one_off: bool, automation_id: int, occurrence: str | None,
              limit: int = -1) -> list[tuple[int, str]]:
    """Contacts (id, phone), not opted out, whose date falls on a day of ``keys``
    (month * 100 + day) in ``event_year``: yearly ones from their year on, a one-off's
    (``one_off``) in that year only, yearless ones always; with ``occurrence``, not those
    the automation produced it for already."""
    d = dialect.of(conn)
    year = "d.year = ?" if one_off else "d.year <= ?"
    fresh = ("" if occurrence is None else
             " AND NOT EXISTS (SELECT 1 FROM automation_sends s WHERE s.automation_id = ?"
             "  AND s.contact_id = d.contact_id AND s.occurrence = ?)")
    params: list[object] = [owner_id, attribute, d.list_param(keys), event_year]
    if occurrence is not None:
        params += [automation_id, occurrence]
    async with conn.execute(
        "SELECT d.contact_id, c.phone FROM contact_dates d JOIN contacts c ON c.id = d.contact_id"
        f" WHERE d.owner_id = ? AND d.attribute = ? AND {d.in_list('d.md')}"
        f" AND (d.year IS NULL OR {year}) AND c.opted_out_at IS NULL{fresh}"
        " ORDER BY d.contact_id" + (" LIMIT ?" if limit >= 0 else ""),  # (PostgreSQL: no -1)
        (*params, limit) if limit >= 0 else params,
    ) as cur:
        return [(row[0], row[1]) for row in await cur.fetchall()]


async def run_upto(conn: aiosqlite.Connection, automation_id: int) -> str | None:
    """A date message's last send date evaluated (ISO), None before its first."""
    async with conn.execute("SELECT upto FROM automation_date_runs WHERE automation_id = ?",
                            (automation_id,)) as cur:
        row = await cur.fetchone()
    return None if row is None else str(row[0])


async def set_run_upto(conn: aiosqlite.Connection, automation_id: int, upto: str) -> None:
    await conn.execute(
        "INSERT INTO automation_date_runs (automation_id, upto) VALUES (?, ?) "
        + dialect.of(conn).upsert(["automation_id"], ["upto"]), (automation_id, upto))


async def clear_run(conn: aiosqlite.Connection, automation_id: int) -> None:
    """Its send dates are evaluated again (its settings changed)."""
    await conn.execute("DELETE FROM automation_date_runs WHERE automation_id = ?",
                       (automation_id,))


async def attribute_names(conn: aiosqlite.Connection, owner_id: int, sample: int = 2000
                          ) -> list[tuple[str, int]]:
    """The attribute names of the owner's most recently updated contacts (``sample`` of
    them), with how many of those have each, the most common first."""
    d = dialect.of(conn)
    async with conn.execute(
        "SELECT a.key, COUNT(*) FROM (SELECT attributes FROM contacts WHERE owner_id = ?"
        f" ORDER BY updated_at DESC LIMIT ?) c, {d.object_items('c.attributes')} a"
        " GROUP BY a.key ORDER BY COUNT(*) DESC, a.key", (owner_id, sample),
    ) as cur:
        return [(row[0], int(row[1])) for row in await cur.fetchall()]


async def values(conn: aiosqlite.Connection, owner_id: int, attribute: str, sample: int = 200
                 ) -> list[object]:
    """Some of the owner's contacts' values of ``attribute`` (the most recent first)."""
    d = dialect.of(conn)
    async with conn.execute(
        f"SELECT {d.json_get('attributes')} AS v FROM contacts WHERE owner_id = ?"
        " ORDER BY updated_at DESC LIMIT ?", (d.json_key(attribute), owner_id, sample),
    ) as cur:
        return [row[0] for row in await cur.fetchall() if row[0] is not None]
