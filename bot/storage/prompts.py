"""Chat prompts: what the owner's (or an admin's) next typed message answers (survives a
restart). The rules are ``bot/services/prompts.py``'s."""

from __future__ import annotations

import json
from datetime import datetime

import aiosqlite

from bot.storage import dialect
from bot.storage.db import to_ts


async def set(
    conn: aiosqlite.Connection, owner_id: int, action: str, payload: dict, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO chat_prompts (owner_id, action, payload, created_at) VALUES (?, ?, ?, ?) "
        + dialect.of(conn).upsert(["owner_id"], ["action", "payload", "created_at"]),
        (owner_id, action, json.dumps(payload), to_ts(now)),
    )


async def get(conn: aiosqlite.Connection, owner_id: int) -> tuple[str, dict] | None:
    async with conn.execute(
        "SELECT action, payload FROM chat_prompts WHERE owner_id = ?", (owner_id,)
    ) as cur:
        row = await cur.fetchone()
    return (row[0], json.loads(row[1])) if row else None


async def clear(conn: aiosqlite.Connection, owner_id: int, action: str | None = None) -> None:
    """The owner's prompt goes (only if it is `action`, when given)."""
    if action is None:
        await conn.execute("DELETE FROM chat_prompts WHERE owner_id = ?", (owner_id,))
    else:
        await conn.execute("DELETE FROM chat_prompts WHERE owner_id = ? AND action = ?",
                           (owner_id, action))


# --- admins' prompts (admins are Telegram ids, not owners) ---------------------------------

async def set_admin(
    conn: aiosqlite.Connection, admin_id: int, action: str, payload: dict, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO admin_prompts (admin_id, action, payload, created_at) VALUES (?, ?, ?, ?) "
        + dialect.of(conn).upsert(["admin_id"], ["action", "payload", "created_at"]),
        (admin_id, action, json.dumps(payload), to_ts(now)),
    )


async def get_admin(conn: aiosqlite.Connection, admin_id: int) -> tuple[str, dict] | None:
    async with conn.execute(
        "SELECT action, payload FROM admin_prompts WHERE admin_id = ?", (admin_id,)
    ) as cur:
        row = await cur.fetchone()
    return (row[0], json.loads(row[1])) if row else None


async def clear_admin(conn: aiosqlite.Connection, admin_id: int) -> None:
    await conn.execute("DELETE FROM admin_prompts WHERE admin_id = ?", (admin_id,))


async def clear_admins_about(conn: aiosqlite.Connection, owner_id: int) -> None:
    """Every admin's question about this owner (it has been decided)."""
    about = dialect.of(conn).json_get("payload", "owner_id", "INTEGER")
    await conn.execute(f"DELETE FROM admin_prompts WHERE {about} = ?", (owner_id,))


async def clear_admins_asked(conn: aiosqlite.Connection, action: str, key: str,
                             value: int) -> None:
    """Every admin's question of ``action`` about ``key`` = ``value`` (it has been decided)."""
    await conn.execute(
        f"DELETE FROM admin_prompts WHERE action = ?"
        f" AND {dialect.of(conn).json_get('payload', key, 'INTEGER')} = ?", (action, value),
    )
