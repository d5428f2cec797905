"""Ban post-mortems (migration 0020): what a lost number did in its last hours, one
aggregate query each, and the reports kept for /numbers.

The queries walk the number's own messages on the ``messages (sender_id, sent_at)`` index
(its inbound messages on ``inbound_messages (sender_id, ...)``): cheap for a number that
sent 10,000 in 48 hours. Times are epoch seconds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from bot.storage import dialect
from bot.storage.db import at_ts


@dataclass(frozen=True, slots=True)
class StoredPostMortem:
    id: int
    owner_id: int
    sender_id: int
    state: str  # banned | restricted
    at: datetime
    report: dict[str, Any]  # PostMortem.to_json


async def sends(conn: aiosqlite.Connection, sender_id: int, since: float
                ) -> list[tuple[float, str, bool]]:
    """The number's messages sent at ``since`` or later, oldest first: (sent at, the
    recipient's phone, a new chat: the number never sent to that phone before ``since``).

    A contact's earlier messages are found on ``messages (contact_id)`` (a few rows each,
    whatever the number's history); only messages of no contact (the API's single ones to
    a bare phone) compare with the number's earlier phones, one subquery built once, and
    only if there is such a message. (The unary ``+`` keeps the planner off the number's
    own index there: it would walk the number's whole history once per message.)"""
    async with conn.execute(
        "SELECT m.sent_at, m.phone, CASE WHEN m.contact_id IS NOT NULL THEN"
        "  CASE WHEN EXISTS (SELECT 1 FROM messages p WHERE p.contact_id = m.contact_id"
        "   AND +p.sender_id = ? AND +p.sent_at < ?) THEN 0 ELSE 1 END"
        " WHEN m.phone IN (SELECT p.phone FROM messages p WHERE p.sender_id = ?"
        "  AND p.sent_at < ?) THEN 0 ELSE 1 END"
        " FROM messages m WHERE m.sender_id = ? AND m.sent_at >= ? ORDER BY m.sent_at, m.id",
        (sender_id, since, sender_id, since, sender_id, since),
    ) as cur:
        return [(float(at), str(phone), bool(new)) async for at, phone, new in cur]


async def failures(conn: aiosqlite.Connection, sender_id: int, since: float
                   ) -> dict[str, int]:
    """The number's messages failed at ``since`` or later, by reason (``other``: none
    given): those never sent and those sent since then (two ranges of the number's
    ``(sender_id, sent_at)`` index, not its whole history)."""
    async with conn.execute(
        "SELECT COALESCE(error_category, 'other'), COUNT(*) FROM messages"
        " WHERE sender_id = ? AND (sent_at IS NULL OR sent_at >= ?) AND status = 'failed'"
        " AND updated_at >= ? GROUP BY COALESCE(error_category, 'other')",
        (sender_id, since, since),
    ) as cur:
        return {str(c): int(n) async for c, n in cur}


async def replies(conn: aiosqlite.Connection, sender_id: int, since: float
                  ) -> tuple[int, int]:
    """Customers' messages to the number at ``since`` or later: (messages, people)."""
    async with conn.execute(
        "SELECT COUNT(*), COUNT(DISTINCT phone) FROM inbound_messages"
        " WHERE sender_id = ? AND received_at >= ?", (sender_id, since),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def opt_outs(conn: aiosqlite.Connection, owner_id: int, sender_id: int,
                   since: float) -> int:
    """The owner's contacts who opted out at ``since`` or later and had a message from
    the number since then."""
    async with conn.execute(
        "SELECT COUNT(*) FROM contacts c WHERE c.owner_id = ? AND c.opted_out_at >= ?"
        " AND c.phone IN (SELECT m.phone FROM messages m WHERE m.sender_id = ?"
        "  AND m.sent_at >= ?)",
        (owner_id, since, sender_id, since),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def save(tx: aiosqlite.Connection, owner_id: int, sender_id: int, state: str,
               at: float, report: dict[str, Any]) -> int:
    return await dialect.of(tx).insert_id(
        tx,
        "INSERT INTO post_mortems (owner_id, sender_id, state, at, report)"
        " VALUES (?, ?, ?, ?, ?)",
        (owner_id, sender_id, state, at, json.dumps(report, sort_keys=True)),
    )


def _row(r: Any) -> StoredPostMortem:
    return StoredPostMortem(int(r[0]), int(r[1]), int(r[2]), str(r[3]), at_ts(r[4]),
                            json.loads(r[5] or "{}"))


_COLUMNS = "SELECT id, owner_id, sender_id, state, at, report FROM post_mortems"


async def list_for(conn: aiosqlite.Connection, owner_id: int, sender_id: int,
                   limit: int = 10) -> list[StoredPostMortem]:
    """The owner's post-mortems of the number, newest first (another owner's: none)."""
    async with conn.execute(
        f"{_COLUMNS} WHERE sender_id = ? AND owner_id = ? ORDER BY at DESC, id DESC LIMIT ?",
        (sender_id, owner_id, limit),
    ) as cur:
        return [_row(r) async for r in cur]


async def get(conn: aiosqlite.Connection, owner_id: int,
              post_mortem_id: int) -> StoredPostMortem | None:
    """One of the owner's post-mortems (another owner's: ``None``)."""
    async with conn.execute(f"{_COLUMNS} WHERE id = ? AND owner_id = ?",
                            (post_mortem_id, owner_id)) as cur:
        row = await cur.fetchone()
    return _row(row) if row is not None else None


async def senders_with(conn: aiosqlite.Connection, owner_id: int) -> set[int]:
    """The owner's numbers that have a post-mortem."""
    async with conn.execute("SELECT DISTINCT sender_id FROM post_mortems WHERE owner_id = ?",
                            (owner_id,)) as cur:
        return {int(s) async for (s,) in cur}
