"""Imports: files an owner sent, from the choice of a list to the report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.storage import dialect
from bot.storage.db import at_ts, to_ts


@dataclass(slots=True)
class ImportRecord:
    id: int
    owner_id: int
    file_id: str
    file_name: str
    file_size: int | None
    status: str
    list_id: int | None
    created_at: datetime


async def create(
    conn: aiosqlite.Connection, owner_id: int, file_id: str, file_name: str,
    file_size: int | None, now: datetime,
) -> ImportRecord:
    import_id = await dialect.of(conn).insert_id(
        conn,
        "INSERT INTO imports (owner_id, file_id, file_name, file_size, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (owner_id, file_id, file_name, file_size, to_ts(now)),
    )
    record = await get(conn, owner_id, import_id)
    assert record is not None
    return record


async def get(conn: aiosqlite.Connection, owner_id: int, import_id: int) -> ImportRecord | None:
    async with conn.execute(
        "SELECT id, owner_id, file_id, file_name, file_size, status, list_id, created_at"
        " FROM imports WHERE owner_id = ? AND id = ?",
        (owner_id, import_id),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    return ImportRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6],
                        at_ts(row[7]))


async def set_status(
    conn: aiosqlite.Connection, import_id: int, status: str, *, list_id: int | None = None,
) -> None:
    await conn.execute(
        "UPDATE imports SET status = ?, list_id = COALESCE(?, list_id) WHERE id = ?",
        (status, list_id, import_id),
    )


async def finish(
    conn: aiosqlite.Connection, import_id: int, *, status: str, now: datetime,
    rows_read: int = 0, imported: int = 0, updated: int = 0, duplicates: int = 0,
    invalid: int = 0, error: str | None = None,
) -> None:
    await conn.execute(
        "UPDATE imports SET status = ?, rows_read = ?, imported = ?, updated = ?,"
        " duplicates = ?, invalid = ?, error = ?, finished_at = ? WHERE id = ?",
        (status, rows_read, imported, updated, duplicates, invalid, error, to_ts(now),
         import_id),
    )


async def interrupted(conn: aiosqlite.Connection) -> list[ImportRecord]:
    """Imports that were running when the process stopped."""
    async with conn.execute(
        "SELECT id, owner_id, file_id, file_name, file_size, status, list_id, created_at"
        " FROM imports WHERE status = 'running'"
    ) as cur:
        rows = await cur.fetchall()
    return [ImportRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], at_ts(r[7]))
            for r in rows]
