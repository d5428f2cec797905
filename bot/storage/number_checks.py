"""What the ahead-of-send number checks read and write (``bot/services/number_checks.py``).

``unchecked`` walks the queued messages planned before a horizon on the ``messages_due``
(status, planned_at) index and looks each phone up in ``whatsapp_checks`` by its primary
key (owner_id, phone); ``fail_not_on_whatsapp`` finds an owner's queued messages on the
(owner_id, status) index. The checks themselves are kept by ``contacts.remember_whatsapp``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from bot.storage import dialect


@dataclass(frozen=True, slots=True)
class Unchecked:
    """A phone a queued message will go to soon, with no check newer than asked for."""

    sender_id: int
    owner_id: int
    phone: str
    planned_at: float  # the earliest of its messages on that number


# Queued messages of running or scheduled campaigns (and single messages) planned before
# the horizon whose phone has no recent check, the soonest ``scan`` of them (read in the
# order of the ``messages_due`` index, so the walk stops there); of those, one row per
# (number, phone), at most ``per_sender`` phones for each number, so that one big campaign
# hides no other number's phones.
_UNCHECKED_SQL = (
    "SELECT sender_id, owner_id, phone, first FROM ("
    " SELECT sender_id, owner_id, phone, MIN(planned_at) AS first,"
    " ROW_NUMBER() OVER (PARTITION BY sender_id ORDER BY MIN(planned_at), phone) AS k"
    " FROM ("
    "  SELECT m.sender_id, m.owner_id, m.phone, m.planned_at"
    "  FROM messages m LEFT JOIN campaigns c ON c.id = m.campaign_id"
    "  WHERE m.status = 'queued' AND m.planned_at <= ? AND m.sender_id IS NOT NULL"
    "  AND (m.campaign_id IS NULL OR c.status IN ('running', 'scheduled'))"
    "  AND NOT EXISTS (SELECT 1 FROM whatsapp_checks w WHERE w.owner_id = m.owner_id"
    "  AND w.phone = m.phone AND w.checked_at >= ?)"
    "  ORDER BY m.planned_at LIMIT ?"
    " ) AS soon GROUP BY sender_id, owner_id, phone"
    ") AS u WHERE k <= ? ORDER BY sender_id, k"
)


async def unchecked(conn: aiosqlite.Connection, until: float, since: float,
                    per_sender: int, scan: int = 5000) -> list[Unchecked]:
    """Phones of queued messages planned at or before ``until`` whose owner has no check
    of them at or after ``since``: at most ``per_sender`` for each number, soonest first,
    among the soonest ``scan`` such messages."""
    async with conn.execute(_UNCHECKED_SQL, (until, since, scan, per_sender)) as cur:
        return [Unchecked(int(r[0]), int(r[1]), str(r[2]), float(r[3])) async for r in cur]


async def fail_not_on_whatsapp(
    conn: aiosqlite.Connection, owner_id: int, phone: str, sender_ids: Sequence[int],
    until: float, now: float, category: str, detail: str,
) -> list[tuple[int, int | None]]:
    """The owner's queued messages to ``phone`` from one of ``sender_ids`` planned at or
    before ``until`` fail with ``category`` (never sent); (message id, campaign) of each."""
    d = dialect.of(conn)
    async with conn.execute(
        "UPDATE messages SET status = 'failed', error_category = ?, error_detail = ?,"
        " lease_until = NULL, updated_at = ?"
        " WHERE owner_id = ? AND status = 'queued' AND phone = ? AND planned_at <= ?"
        f" AND {d.in_list('sender_id')}" + d.returning("id, campaign_id"),
        (category, detail, now, owner_id, phone, until, d.list_param(sender_ids)),
    ) as cur:
        rows = await cur.fetchall()
    return [(int(r[0]), None if r[1] is None else int(r[1])) for r in rows]


async def campaign_checks(conn: aiosqlite.Connection, campaign_id: int,
                          since: float) -> tuple[int, int, int]:
    """A campaign's queued messages, how many of them go to a phone checked at or after
    ``since`` (known on WhatsApp), and its messages failed as not on WhatsApp; on the
    (campaign_id, status) index."""
    async with conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM whatsapp_checks w"
        " WHERE w.owner_id = m.owner_id AND w.phone = m.phone AND w.checked_at >= ?)"
        " THEN 1 ELSE 0 END), 0) FROM messages m"
        " WHERE m.campaign_id = ? AND m.status = 'queued'",
        (since, campaign_id),
    ) as cur:
        row = await cur.fetchone()
    async with conn.execute(
        "SELECT COUNT(*) FROM messages WHERE campaign_id = ? AND status = 'failed'"
        " AND error_category = 'not_on_whatsapp'", (campaign_id,),
    ) as cur:
        failed = await cur.fetchone()
    queued, checked = (int(row[0]), int(row[1])) if row else (0, 0)
    return queued, checked, int(failed[0]) if failed else 0
