"""The figures ``/metrics`` reads from the database at scrape time (``bot/web/metrics.py``).

Plain SQL that SQLite and PostgreSQL read alike: ``GROUP BY`` listing every column that is
not an aggregate, ``COUNT``/``MIN``, ``COALESCE``, no engine's own functions.

Cost on 1,000,000 messages (``bench/metrics_bench.py``): ``queue``, ``senders`` and
``leases`` read indexes (``messages_due``; the senders and leases tables); ``outbox``
counts every message by status and number, a scan of the table on SQLite (no index holds
both columns), so the web side runs it beside the scrape and keeps its result for a while
(``bot/web/metrics.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite


@dataclass(frozen=True, slots=True)
class Queue:
    """The messages the dispatcher would send now (queued, their planned time come, of a
    running campaign or single ones by API) and the oldest planned time among them."""

    due: int
    oldest_planned_at: float | None


@dataclass(frozen=True, slots=True)
class SenderFigures:
    """One number's health, as ``/metrics`` tells it: no phone, no label, no secret."""

    sender_id: int
    owner_id: int
    gateway: str
    status: str
    guard_mode: str  # the live health guard's mode (bot/services/health_guard.py)
    gap_factor: float  # its gaps are multiplied by it (1: normal)


_OUTBOX_SQL = (
    "SELECT status, sender_id, COUNT(*) FROM messages GROUP BY status, sender_id"
)

_QUEUE_SQL = (
    "SELECT COUNT(*), MIN(planned_at) FROM messages"
    " WHERE status = 'queued' AND planned_at <= ?"
    " AND (campaign_id IS NULL"
    "      OR campaign_id IN (SELECT id FROM campaigns WHERE status = 'running'))"
)

_SENDERS_SQL = (
    "SELECT s.id, s.owner_id, s.gateway, s.status, COALESCE(g.mode, 'normal'),"
    " COALESCE(g.gap_factor, 1.0)"
    " FROM senders s LEFT JOIN sender_guard g ON g.sender_id = s.id"
    " WHERE s.status <> 'removed' ORDER BY s.id"
)

_GATEWAYS_SQL = "SELECT id, gateway FROM senders"

_LEASES_SQL = "SELECT name FROM leases WHERE expires_at >= ?"


async def outbox(conn: aiosqlite.Connection) -> list[tuple[str, int | None, int]]:
    """(status, sender id or None, how many messages) for every pair there is."""
    async with conn.execute(_OUTBOX_SQL) as cur:
        return [(row[0], row[1], row[2]) async for row in cur]


async def gateways(conn: aiosqlite.Connection) -> dict[int, str]:
    """Every sender's gateway kind by its id (removed ones too: their messages stay)."""
    async with conn.execute(_GATEWAYS_SQL) as cur:
        return {row[0]: row[1] async for row in cur}


async def queue(conn: aiosqlite.Connection, now: float) -> Queue:
    async with conn.execute(_QUEUE_SQL, (now,)) as cur:
        row = await cur.fetchone()
    if row is None:
        return Queue(0, None)
    return Queue(int(row[0] or 0), None if row[1] is None else float(row[1]))


async def senders(conn: aiosqlite.Connection) -> list[SenderFigures]:
    """Every number not removed, with its guard's mode and gap factor."""
    async with conn.execute(_SENDERS_SQL) as cur:
        return [SenderFigures(row[0], row[1], row[2], row[3], row[4], float(row[5]))
                async for row in cur]


async def leases(conn: aiosqlite.Connection, now: float) -> dict[str, int]:
    """The leases that have not run out (``bot/storage/leases.py``), by kind: "sender" (a
    number a worker sends from), "job" (a scheduled job), "worker" (a worker's heartbeat)."""
    counts: dict[str, int] = {}
    async with conn.execute(_LEASES_SQL, (now,)) as cur:
        async for row in cur:
            kind = str(row[0]).split(":", 1)[0]
            counts[kind] = counts.get(kind, 0) + 1
    return counts
