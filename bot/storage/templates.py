"""Message templates."""

from __future__ import annotations

import json
from datetime import datetime

import aiosqlite

from bot.domain import CloudTemplate, Template
from bot.storage import dialect
from bot.storage.db import to_ts

_COLUMNS = "id, owner_id, name, variants, media_kind, media_file_id, cloud"


def _template(row: aiosqlite.Row) -> Template:
    return Template(
        id=row["id"],
        owner_id=row["owner_id"],
        name=row["name"],
        variants=json.loads(row["variants"]),
        media_kind=row["media_kind"],
        media_file_id=row["media_file_id"],
        cloud=_cloud(row["cloud"]),
    )


def _cloud(raw: str | None) -> CloudTemplate | None:
    if not raw:
        return None
    data = json.loads(raw)
    return CloudTemplate(data["name"], data["language"], tuple(data.get("params", ())))


async def set_cloud(conn: aiosqlite.Connection, owner_id: int, template_id: int,
                    cloud: CloudTemplate | None, now: datetime) -> None:
    value = None if cloud is None else json.dumps(
        {"name": cloud.name, "language": cloud.language, "params": list(cloud.params)})
    await conn.execute(
        "UPDATE templates SET cloud = ?, updated_at = ? WHERE owner_id = ? AND id = ?",
        (value, to_ts(now), owner_id, template_id))


async def add(
    conn: aiosqlite.Connection, owner_id: int, name: str, variants: list[str],
    media_kind: str | None, media_file_id: str | None, now: datetime,
) -> Template:
    ts = to_ts(now)
    template_id = await dialect.of(conn).insert_id(
        conn,
        "INSERT INTO templates (owner_id, name, variants, media_kind, media_file_id,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (owner_id, name, json.dumps(variants), media_kind, media_file_id, ts, ts),
    )
    created = await get(conn, owner_id, template_id)
    assert created is not None
    return created


async def update(
    conn: aiosqlite.Connection, owner_id: int, template_id: int, name: str,
    variants: list[str], media_kind: str | None, media_file_id: str | None, now: datetime,
) -> None:
    await conn.execute(
        "UPDATE templates SET name = ?, variants = ?, media_kind = ?, media_file_id = ?,"
        " updated_at = ? WHERE owner_id = ? AND id = ?",
        (name, json.dumps(variants), media_kind, media_file_id, to_ts(now), owner_id,
         template_id),
    )


async def get(conn: aiosqlite.Connection, owner_id: int, template_id: int) -> Template | None:
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM templates WHERE owner_id = ? AND id = ?", (owner_id, template_id)
    ) as cur:
        row = await cur.fetchone()
    return _template(row) if row else None


async def for_owner(conn: aiosqlite.Connection, owner_id: int) -> list[Template]:
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM templates WHERE owner_id = ? ORDER BY id", (owner_id,)
    ) as cur:
        return [_template(row) async for row in cur]


async def name_taken(
    conn: aiosqlite.Connection, owner_id: int, name: str, *, other_than: int | None = None
) -> bool:
    async with conn.execute(
        "SELECT 1 FROM templates WHERE owner_id = ? AND name = ?"
        f" AND {dialect.of(conn).distinct('id', '?')}",
        (owner_id, name, other_than),
    ) as cur:
        return await cur.fetchone() is not None


async def in_use(conn: aiosqlite.Connection, owner_id: int, template_id: int) -> int:
    """Campaigns not yet finished that use the template."""
    async with conn.execute(
        "SELECT COUNT(*) FROM campaigns WHERE owner_id = ? AND template_id = ?"
        " AND status IN ('scheduled', 'running', 'paused')", (owner_id, template_id)
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def delete(conn: aiosqlite.Connection, owner_id: int, template_id: int) -> bool:
    cur = await conn.execute(
        "DELETE FROM templates WHERE owner_id = ? AND id = ?", (owner_id, template_id)
    )
    return cur.rowcount > 0


# --- the composer's draft -------------------------------------------------------------

async def get_draft(conn: aiosqlite.Connection, owner_id: int) -> dict | None:
    async with conn.execute(
        "SELECT draft FROM template_drafts WHERE owner_id = ?", (owner_id,)
    ) as cur:
        row = await cur.fetchone()
    return json.loads(row[0]) if row else None


async def drafts(conn: aiosqlite.Connection) -> list[tuple[int, dict]]:
    async with conn.execute("SELECT owner_id, draft FROM template_drafts") as cur:
        return [(row[0], json.loads(row[1])) async for row in cur]


async def save_draft(conn: aiosqlite.Connection, owner_id: int, draft: dict,
                     now: datetime) -> None:
    await conn.execute(
        "INSERT INTO template_drafts (owner_id, draft, updated_at) VALUES (?, ?, ?) "
        + dialect.of(conn).upsert(["owner_id"], ["draft", "updated_at"]),
        (owner_id, json.dumps(draft), to_ts(now)),
    )


async def drop_draft(conn: aiosqlite.Connection, owner_id: int) -> None:
    await conn.execute("DELETE FROM template_drafts WHERE owner_id = ?", (owner_id,))
