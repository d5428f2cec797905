"""Keyword replies' reads (``bot/services/keyword_replies.py``) on the automations'
tables (migration 0021): which of an owner's keyword automations are on, and when one
last answered a contact."""

from __future__ import annotations

import aiosqlite

Signature = tuple[tuple[int, float, str], ...]


async def signature(conn: aiosqlite.Connection, owner_id: int) -> Signature:
    """(id, updated_at, config as stored) of the owner's keyword automations that are on:
    any change to them (made, edited, paused, resumed, deleted) changes it, also two
    within one clock tick. On ``automations_owner``."""
    async with conn.execute(
        "SELECT id, updated_at, config FROM automations"
        " WHERE owner_id = ? AND state = 'on' AND kind = 'keyword' ORDER BY id", (owner_id,),
    ) as cur:
        return tuple([(int(row[0]), float(row[1]), str(row[2])) async for row in cur])


async def last_answer_at(conn: aiosqlite.Connection, automation_id: int, contact_id: int
                         ) -> float | None:
    """When the automation last produced a message for the contact (epoch seconds), on
    the primary key of ``automation_sends``."""
    async with conn.execute(
        "SELECT MAX(at) FROM automation_sends WHERE automation_id = ? AND contact_id = ?",
        (automation_id, contact_id),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None or row[0] is None else float(row[0])


async def answer_from(conn: aiosqlite.Connection, automation_id: int, contact_id: int,
                      occurrence: str, sender_id: int) -> None:
    """The produced answer (still queued) goes from ``sender_id``: the number the
    customer wrote to."""
    await conn.execute(
        "UPDATE messages SET sender_id = ? WHERE status = 'queued' AND id ="
        " (SELECT message_id FROM automation_sends WHERE automation_id = ?"
        "  AND contact_id = ? AND occurrence = ?)",
        (sender_id, automation_id, contact_id, occurrence))
