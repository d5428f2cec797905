"""The outbox as the dispatcher sees it: due messages, claims, outcomes, receipts.

A claim is written (``status = 'sending'`` with a lease) and committed *before* the gateway
is called, so a crash leaves evidence: a ``sending`` row after a restart may have reached
the gateway and becomes ``uncertain``, never ``queued`` again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from bot.domain import MessageStatus
from bot.storage import dialect

# Forward-only receipts: a message only moves to a later status.
RANK = {MessageStatus.SENDING: 0, MessageStatus.UNCERTAIN: 1, MessageStatus.SENT: 2,
        MessageStatus.DELIVERED: 3, MessageStatus.READ: 4}


@dataclass(frozen=True, slots=True)
class Due:
    """A queued message whose time has come, with what sending it needs."""

    id: int
    campaign_id: int | None  # None: a single message sent by API
    owner_id: int
    sender_id: int
    contact_id: int | None
    phone: str
    batch: int
    variant: int
    planned_at: float
    attempts: int
    content: str | None = None  # a single message's (no campaign): what it says, JSON
    client_ref: str | None = None  # the integrator's reference (messages by API)
    automation_kind: str | None = None  # the kind of automation that made it, if one


# A campaign's messages while it runs, and single messages (sent by API, no campaign).
_DUE_SQL = (
    "SELECT m.id, m.campaign_id, m.owner_id, m.sender_id, m.contact_id, m.phone, m.batch,"
    " m.variant, m.planned_at, m.attempts, m.content, m.client_ref, a.kind"
    " FROM messages m LEFT JOIN campaigns c ON c.id = m.campaign_id"
    " LEFT JOIN automations a ON a.id = m.automation_id"
    " WHERE m.status = 'queued' AND m.planned_at <= ?"
    " AND (c.status = 'running' OR m.campaign_id IS NULL)"
    " ORDER BY m.planned_at, m.id LIMIT ?"
)


async def due(conn: aiosqlite.Connection, until: float, limit: int,
              senders: Sequence[int] | None = None) -> list[Due]:
    """Due messages, oldest first; only of ``senders`` when given (a worker's numbers)."""
    if senders is None:
        async with conn.execute(_DUE_SQL, (until, limit)) as cur:
            return [Due(*row) async for row in cur]
    if not senders:
        return []
    d = dialect.of(conn)
    sql = _DUE_SQL.replace(" ORDER BY", f" AND {d.in_list('m.sender_id')} ORDER BY")
    async with conn.execute(sql, (until, d.list_param(senders), limit)) as cur:
        return [Due(*row) async for row in cur]


async def busy_senders(conn: aiosqlite.Connection, until: float) -> list[int]:
    """Active numbers with a queued message planned by ``until`` (any campaign's: a
    paused one's too, which only makes a worker hold a number with nothing to send):
    what the workers share. An index seek per number (``messages_sender_queued``)."""
    async with conn.execute(
        "SELECT s.id FROM senders s WHERE s.status = 'active' AND EXISTS (SELECT 1"
        " FROM messages m WHERE m.sender_id = s.id AND m.status = 'queued'"
        " AND m.planned_at <= ?) ORDER BY s.id", (until,),
    ) as cur:
        return [row[0] async for row in cur]


async def claim(conn: aiosqlite.Connection, ids: Sequence[int], lease_until: float,
                now: float) -> int:
    """Queued -> sending, with a lease; returns how many were still queued."""
    d = dialect.of(conn)
    # PostgreSQL: the rows locked as they are claimed, skipping the ones another
    # transaction holds (FOR UPDATE SKIP LOCKED), so no message is claimed twice; SQLite
    # writes one transaction at a time and needs no lock (the same statement as before)
    lock = d.skip_locked()
    where = f"status = 'queued' AND {d.in_list('id')}"
    if lock:
        where = f"id IN (SELECT id FROM messages WHERE {where} {lock})"
    cur = await conn.execute(
        "UPDATE messages SET status = 'sending', lease_until = ?, attempts = attempts + 1,"
        f" updated_at = ? WHERE {where}",
        (lease_until, now, d.list_param(ids)),
    )
    return cur.rowcount


async def mark_sent_many(conn: aiosqlite.Connection, rows: Sequence[tuple[str, int]],
                         now: float) -> int:
    """Claimed messages accepted by the gateway: (gateway id, message id) each. Returns
    how many were still claimed (the credits to charge)."""
    return await dialect.of(conn).execute_many(
        conn,
        "UPDATE messages SET status = 'sent', gateway_message_id = ?, sent_at = ?,"
        " lease_until = NULL, error_category = NULL, error_detail = NULL, updated_at = ?"
        " WHERE id = ? AND status = 'sending'",
        [(gateway_id, now, now, message_id) for gateway_id, message_id in rows],
    )


async def mark_many(
    conn: aiosqlite.Connection,
    rows: Sequence[tuple[str, str | None, str | None, float | None, int]], now: float,
) -> int:
    """Claimed messages' other outcomes: (status, category, detail, new planned time or
    None, message id) each. Returns how many were still claimed."""
    return await dialect.of(conn).execute_many(
        conn,
        "UPDATE messages SET status = ?, lease_until = NULL, error_category = ?,"
        " error_detail = ?, planned_at = COALESCE(?, planned_at), updated_at = ?"
        " WHERE id = ? AND status = 'sending'",
        [(status, category, detail, planned_at, now, message_id)
         for status, category, detail, planned_at, message_id in rows],
    )


async def uncount_attempts(conn: aiosqlite.Connection, message_ids: Sequence[int]) -> None:
    """Claims given back unsent (their sender was lost) do not count as attempts."""
    d = dialect.of(conn)
    await conn.execute(
        f"UPDATE messages SET attempts = {d.greatest('0', 'attempts - 1')}"
        f" WHERE {d.in_list('id')}", (d.list_param(message_ids),))


async def expire_claims(conn: aiosqlite.Connection, now: float) -> list[tuple[int, int]]:
    """Every ``sending`` claim becomes ``uncertain`` (at start-up: the process that made
    them is gone, and the gateway may have the message). Returns (campaign, count)."""
    async with conn.execute(
        "SELECT campaign_id, COUNT(*) FROM messages WHERE status = 'sending'"
        " GROUP BY campaign_id"
    ) as cur:
        counts = [(row[0], row[1]) async for row in cur]
    await conn.execute(
        "UPDATE messages SET status = 'uncertain', lease_until = NULL,"
        " error_category = 'uncertain', error_detail = 'interrupted', updated_at = ?"
        " WHERE status = 'sending'", (now,),
    )
    return counts


async def expire_claims_of(conn: aiosqlite.Connection, sender_id: int,
                           now: float) -> list[tuple[int, int]]:
    """``expire_claims`` for one number: its ``sending`` claims become ``uncertain`` (a
    worker took the number over from a holder that is gone). Returns (campaign, count)."""
    async with conn.execute(
        "SELECT campaign_id, COUNT(*) FROM messages WHERE status = 'sending'"
        " AND sender_id = ? GROUP BY campaign_id", (sender_id,),
    ) as cur:
        counts = [(row[0], row[1]) async for row in cur]
    if counts:
        await conn.execute(
            "UPDATE messages SET status = 'uncertain', lease_until = NULL,"
            " error_category = 'uncertain', error_detail = 'interrupted', updated_at = ?"
            " WHERE status = 'sending' AND sender_id = ?", (now, sender_id),
        )
    return counts


async def last_sent_of(conn: aiosqlite.Connection, sender_id: int) -> float | None:
    """When the number last sent (its pace, for a worker taking it over)."""
    async with conn.execute(
        "SELECT MAX(sent_at) FROM messages WHERE sender_id = ?", (sender_id,),
    ) as cur:
        row = await cur.fetchone()
    return float(row[0]) if row and row[0] is not None else None


async def by_gateway_ids(
    conn: aiosqlite.Connection, gateway_ids: Sequence[str]
) -> dict[str, tuple[int, int, int, str, int | None]]:
    """gateway id -> (message id, campaign id, owner id, status, sender id), for
    receipts."""
    d = dialect.of(conn)
    async with conn.execute(
        "SELECT gateway_message_id, id, campaign_id, owner_id, status, sender_id FROM messages"
        f" WHERE {d.in_list('gateway_message_id')}",
        (d.list_param(gateway_ids),),
    ) as cur:
        return {row[0]: (row[1], row[2], row[3], row[4], row[5]) async for row in cur}


async def advance_many(conn: aiosqlite.Connection,
                       rows: Sequence[tuple[int, str, float, str | None]]) -> None:
    """Receipts already checked to move forward: (message id, new status, at, error)."""
    await dialect.of(conn).execute_many(
        conn,
        "UPDATE messages SET status = ?1,"
        " sent_at = CASE WHEN ?1 = 'failed' THEN sent_at ELSE COALESCE(sent_at, ?2) END,"
        " delivered_at = CASE WHEN ?1 IN ('delivered', 'read')"
        "  THEN COALESCE(delivered_at, ?2) ELSE delivered_at END,"
        " read_at = CASE WHEN ?1 = 'read' THEN COALESCE(read_at, ?2) ELSE read_at END,"
        " error_category = CASE WHEN ?1 = 'failed' THEN 'rejected' ELSE error_category END,"
        " error_detail = CASE WHEN ?1 = 'failed' THEN ?3 ELSE error_detail END,"
        " updated_at = ?2 WHERE id = ?4",
        [(status, at, error or "failed", message_id) for message_id, status, at, error in rows],
    )


async def last_sent(conn: aiosqlite.Connection) -> dict[int, float]:
    """The last time each sender sent (for the pacing gap across a restart)."""
    async with conn.execute(
        "SELECT sender_id, MAX(sent_at) FROM messages WHERE sent_at IS NOT NULL"
        " GROUP BY sender_id"
    ) as cur:
        return {row[0]: row[1] async for row in cur}


async def sent_since(conn: aiosqlite.Connection, sender_id: int, since: float) -> int:
    """Messages a sender sent (or may have sent) since a time, and the ones it is sending
    right now (claimed ahead of their time, not sent yet): its count against the cap."""
    async with conn.execute(
        "SELECT (SELECT COUNT(*) FROM messages WHERE sender_id = ? AND sent_at >= ?)"
        " + (SELECT COUNT(*) FROM messages WHERE status = 'sending' AND sender_id = ?"
        " AND sent_at IS NULL)",
        (sender_id, since, sender_id),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def record_test(conn: aiosqlite.Connection, owner_id: int, sender_id: int, phone: str,
                      gateway_id: str, now: float) -> None:
    """A test message the owner sent to themselves: sent, outside any campaign."""
    await conn.execute(
        "INSERT INTO messages (owner_id, sender_id, phone, planned_at, status, attempts,"
        " gateway_message_id, sent_at, updated_at) VALUES (?, ?, ?, ?, 'sent', 1, ?, ?, ?)",
        (owner_id, sender_id, phone, now, gateway_id or None, now, now),
    )


async def counting_times(conn: aiosqlite.Connection, sender_id: int,
                         since: float) -> tuple[float, ...]:
    """The times (ascending, UTC epoch seconds) of a sender's messages that count against
    its daily cap from ``since`` on: sent (or maybe sent) since then, being sent, queued."""
    async with conn.execute(
        "SELECT COALESCE(sent_at, planned_at) AS t FROM messages WHERE sender_id = ?"
        " AND (sent_at >= ? OR status IN ('queued', 'sending')) ORDER BY t",
        (sender_id, since),
    ) as cur:
        return tuple(row[0] for row in await cur.fetchall())


async def open_count(conn: aiosqlite.Connection, campaign_id: int) -> int:
    """Messages of a campaign still to be sent or being sent."""
    async with conn.execute(
        "SELECT COUNT(*) FROM messages WHERE campaign_id = ? AND status IN ('queued', 'sending')",
        (campaign_id,),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def recent_outcomes(conn: aiosqlite.Connection, campaign_id: int, limit: int) -> list[str]:
    """Statuses of the campaign's last ``limit`` attempts (newest first); a number found
    not on WhatsApp before sending is no attempt."""
    async with conn.execute(
        "SELECT status FROM messages WHERE campaign_id = ?"
        " AND status IN ('sent', 'delivered', 'read', 'failed')"
        " AND COALESCE(error_category, '') <> 'not_on_whatsapp'"
        " ORDER BY updated_at DESC LIMIT ?",
        (campaign_id, limit),
    ) as cur:
        return [row[0] async for row in cur]


async def cap_frees_at(conn: aiosqlite.Connection, sender_id: int, now: float) -> float:
    """When a sender at its daily cap may send again: 24 hours after the oldest send of
    the current window."""
    async with conn.execute(
        "SELECT MIN(sent_at) FROM messages WHERE sender_id = ? AND sent_at >= ?",
        (sender_id, now - 86400),
    ) as cur:
        row = await cur.fetchone()
    return (row[0] + 86400) if row and row[0] is not None else now


async def postpone(conn: aiosqlite.Connection, until: float, now: float, *,
                   campaign_id: int | None = None,
                   sender_id: int | None = None) -> list[tuple[int, int]]:
    """Move the queued messages of a campaign (or of a sender) planned before ``until`` to
    start at ``until``, keeping their spacing; later ones keep their time (the sender's
    pace still holds at send time). Returns the (owner, campaign) pairs moved."""
    where, value = ("campaign_id", campaign_id) if campaign_id is not None else (
        "sender_id", sender_id)
    async with conn.execute(
        f"SELECT MIN(planned_at) FROM messages WHERE {where} = ? AND status = 'queued'",
        (value,),
    ) as cur:
        row = await cur.fetchone()
    if row is None or row[0] is None or row[0] >= until:
        return []
    delta = until - row[0]
    async with conn.execute(
        f"SELECT DISTINCT owner_id, campaign_id FROM messages WHERE {where} = ?"
        " AND status = 'queued' AND planned_at < ?", (value, until),
    ) as cur:
        moved = [(r[0], r[1]) async for r in cur]
    await conn.execute(
        f"UPDATE messages SET planned_at = planned_at + ?, updated_at = ?"
        f" WHERE {where} = ? AND status = 'queued' AND planned_at < ?",
        (delta, now, value, until),
    )
    return moved


async def hold_until(conn: aiosqlite.Connection, rows: Sequence[tuple[float, int]],
                     now: float) -> int:
    """Queued messages moved, each to its own later time: ``(planned_at, message id)`` rows
    (the night held in the recipient's zone), in one executemany; how many moved."""
    if not rows:
        return 0
    return await dialect.of(conn).execute_many(
        conn,
        "UPDATE messages SET planned_at = ?, updated_at = ? WHERE id = ? AND status = 'queued'",
        [(at, now, message_id) for at, message_id in rows],
    )


async def move_sender(conn: aiosqlite.Connection, old: int, new: int, now: float) -> int:
    """Failover: a lost sender's queued messages go to another sender."""
    cur = await conn.execute(
        "UPDATE messages SET sender_id = ?, updated_at = ? WHERE sender_id = ?"
        " AND status = 'queued'", (new, now, old),
    )
    return cur.rowcount


async def queued_for_sender(conn: aiosqlite.Connection, sender_id: int) -> int:
    """Messages waiting to go out from a sender."""
    async with conn.execute(
        "SELECT COUNT(*) FROM messages WHERE sender_id = ? AND status = 'queued'", (sender_id,),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def skip_queued_to(conn: aiosqlite.Connection, owner_id: int, phones: Sequence[str],
                         now: float) -> dict[int | None, int]:
    """An opt-out: the owner's queued messages to ``phones`` (to a contact of theirs with
    that number, or a single message to it) become ``skipped``; how many, per campaign
    (``None``: single messages). Found through the (owner, status) index: only the owner's
    queued messages are read."""
    d = dialect.of(conn)
    async with conn.execute(
        "UPDATE messages SET status = 'skipped', updated_at = ?"
        " WHERE owner_id = ? AND status = 'queued' AND (contact_id IN"
        f" (SELECT id FROM contacts WHERE owner_id = ? AND {d.in_list('phone')})"
        f" OR (contact_id IS NULL AND {d.in_list('phone')}))" + d.returning("campaign_id"),
        (now, owner_id, owner_id, d.list_param(phones), d.list_param(phones)),
    ) as cur:
        rows = await cur.fetchall()
    skipped: dict[int | None, int] = {}
    for row in rows:
        skipped[row[0]] = skipped.get(row[0], 0) + 1
    return skipped


async def chats_of(conn: aiosqlite.Connection, sender_id: int,
                   phones: Sequence[str]) -> set[str]:
    """Of ``phones``, the ones this number already has a chat with: it sent them a message
    (or may have) or they wrote to it. One query for a tick's candidates (the health
    guard's ``no_new_chats``)."""
    if not phones:
        return set()
    d = dialect.of(conn)
    wanted = d.list_param(sorted(set(phones)))
    async with conn.execute(
        "SELECT phone FROM messages WHERE sender_id = ? AND sent_at IS NOT NULL"
        f" AND {d.in_list('phone')}"
        " UNION SELECT phone FROM inbound_messages WHERE sender_id = ?"
        f" AND {d.in_list('phone')}",
        (sender_id, wanted, sender_id, wanted),
    ) as cur:
        return {row[0] async for row in cur}
