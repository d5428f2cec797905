"""Delivery statistics: counts of the outbox (``messages``) by status and failure reason.

Every query is filtered by the owner; ``campaign_id=None`` means all the owner's messages
(campaigns and single sends alike). What counts as sent or delivered is the domain's one
rule (``SENT_STATUSES``, ``DELIVERED_STATUSES``): a message accepted and then failed is
failed, not sent; an uncertain one the owner counted as sent is sent.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from bot.domain import DELIVERED_STATUSES, SENT_STATUSES
from bot.storage import dialect


def _in(statuses: Sequence[str]) -> str:
    """``('sent', 'delivered', ...)`` for an SQL ``IN``: the domain's constant status
    names, never user input."""
    return "(" + ", ".join(f"'{s}'" for s in statuses) + ")"


SENT = _in(SENT_STATUSES)
DELIVERED = _in(DELIVERED_STATUSES)


def _scope(owner_id: int, campaign_id: int | None) -> tuple[str, tuple[int, ...]]:
    if campaign_id is None:
        return "owner_id = ?", (owner_id,)
    return "owner_id = ? AND campaign_id = ?", (owner_id, campaign_id)


async def status_counts(
    conn: aiosqlite.Connection, owner_id: int, campaign_id: int | None = None
) -> dict[str, int]:
    """How many messages have each status (statuses with none are absent)."""
    where, params = _scope(owner_id, campaign_id)
    async with conn.execute(
        f"SELECT status, COUNT(*) FROM messages WHERE {where} GROUP BY status", params
    ) as cur:
        return {status: n async for status, n in cur}


async def failure_reasons(
    conn: aiosqlite.Connection, owner_id: int, campaign_id: int | None = None, *,
    known: Sequence[str], other: str, limit: int = 3,
) -> list[tuple[str, int, str | None, int]]:
    """The commonest categories of failed messages, most first: (category, failed, the
    commonest detail given with it, how often). Categories not in ``known`` (or none)
    count together as ``other``; a detail wins over no detail."""
    where, params = _scope(owner_id, campaign_id)
    d = dialect.of(conn)
    async with conn.execute(
        "WITH failed AS ("
        f"  SELECT CASE WHEN {d.in_list('error_category')}"
        "              THEN error_category ELSE ? END AS category,"
        "         NULLIF(TRIM(error_detail), '') AS detail"
        f" FROM messages WHERE {where} AND status = 'failed'),"
        " by_detail AS ("
        "  SELECT category, detail, COUNT(*) AS n FROM failed GROUP BY category, detail),"
        " ranked AS ("
        "  SELECT category, detail, n, SUM(n) OVER (PARTITION BY category) AS total,"
        "         ROW_NUMBER() OVER (PARTITION BY category"
        "                            ORDER BY detail IS NULL, n DESC, detail) AS place"
        "  FROM by_detail)"
        " SELECT category, total, detail, n FROM ranked WHERE place = 1"
        " ORDER BY total DESC, category LIMIT ?",
        (d.list_param(known), other, *params, limit),
    ) as cur:
        return [(row[0], row[1], row[2], row[3]) async for row in cur]


async def replied(conn: aiosqlite.Connection, owner_id: int,
                  campaign_id: int | None = None) -> int:
    """How many of these messages were answered (``replied_at``: a customer's reply kept
    by ``bot/storage/inbound.py``)."""
    where, params = _scope(owner_id, campaign_id)
    async with conn.execute(
        f"SELECT COUNT(*) FROM messages WHERE {where} AND replied_at IS NOT NULL", params,
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def recent_campaigns(
    conn: aiosqlite.Connection, owner_id: int, limit: int = 10
) -> list[tuple[int, str, int, int, int]]:
    """The owner's latest campaigns (not the draft), newest first:
    (id, name, messages, sent, delivered)."""
    d = dialect.of(conn)
    async with conn.execute(
        "SELECT c.id, c.name, COUNT(m.id),"
        f" COALESCE({d.count_if(f'm.status IN {SENT}')}, 0),"
        f" COALESCE({d.count_if(f'm.status IN {DELIVERED}')}, 0)"
        " FROM (SELECT id, name FROM campaigns WHERE owner_id = ? AND status <> 'draft'"
        "       ORDER BY id DESC LIMIT ?) AS c"
        " LEFT JOIN messages m ON m.campaign_id = c.id AND m.owner_id = ?"
        " GROUP BY c.id, c.name ORDER BY c.id DESC", (owner_id, limit, owner_id),
    ) as cur:
        return [(row[0], row[1], row[2], row[3], row[4]) async for row in cur]


_EVENTS = (  # (kind, the time column, which messages count) for ``timeline``
    (0, "sent_at", f"status IN {SENT}"),
    (1, "delivered_at", f"status IN {DELIVERED}"),
    (2, "read_at", "status = 'read'"),
    (3, "updated_at", "status = 'failed'"),
)


async def timeline(
    conn: aiosqlite.Connection, owner_id: int, campaign_id: int | None, *,
    since: float, until: float, step: float,
) -> list[tuple[int, int, int, int, int]]:
    """Events in ``[since, until)`` by time slot (``step`` seconds from ``since``; only slots
    with something in them, in order): (slot, sent, delivered, read, failed). A message
    read counts as delivered too, when its delivery came in the range."""
    where, params = _scope(owner_id, campaign_id)
    d = dialect.of(conn)
    parts, args = [], []
    for kind, column, which in _EVENTS:
        parts.append(
            f"SELECT {d.trunc(f'({column} - ?) / ?')} AS slot, {kind} AS kind"
            f" FROM messages WHERE {where} AND {which}"
            f" AND {column} >= ? AND {column} < ?")
        args += [since, step, *params, since, until]
    async with conn.execute(
        f"SELECT slot, {', '.join(d.count_if(f'kind = {k}') for k in range(4))}"
        f" FROM ({' UNION ALL '.join(parts)}) AS e GROUP BY slot ORDER BY slot", args,
    ) as cur:
        return [(row[0], row[1], row[2], row[3], row[4]) async for row in cur]


async def event_span(conn: aiosqlite.Connection, owner_id: int,
                     campaign_id: int | None = None) -> tuple[float, float] | None:
    """When the first send (or failure) and the latest send, receipt or failure of these
    messages happened; None while there is none."""
    where, params = _scope(owner_id, campaign_id)
    latest = dialect.of(conn).greatest(
        "COALESCE(read_at, 0)", "COALESCE(delivered_at, 0)", "COALESCE(sent_at, 0)",
        "CASE WHEN status = 'failed' THEN updated_at ELSE 0 END")
    async with conn.execute(
        f"SELECT MIN(CASE WHEN status IN {SENT} THEN sent_at ELSE updated_at END),"
        f" MAX({latest})"
        f" FROM messages WHERE {where} AND status IN ('sent', 'delivered', 'read', 'failed')",
        params,
    ) as cur:
        row = await cur.fetchone()
    return (row[0], row[1]) if row and row[0] and row[1] else None


async def by_sender(
    conn: aiosqlite.Connection, owner_id: int, campaign_id: int | None = None
) -> list[tuple[str, int, int, int, int]]:
    """Per number that sent any of these messages, in the order linked: (its label or
    phone, sent, delivered, read, failed)."""
    where, params = _scope(owner_id, campaign_id)
    d = dialect.of(conn)
    counts = ", ".join(d.count_if(f"m.status {which}") for which in (
        f"IN {SENT}", f"IN {DELIVERED}", "= 'read'", "= 'failed'"))
    async with conn.execute(
        f"SELECT COALESCE(NULLIF(s.label, ''), s.phone), {counts}"
        f" FROM (SELECT sender_id, status FROM messages WHERE {where}"
        "       AND status IN ('sent', 'delivered', 'read', 'failed')) AS m"
        " JOIN senders s ON s.id = m.sender_id AND s.owner_id = ?"
        " GROUP BY s.id ORDER BY s.id", (*params, owner_id),
    ) as cur:
        return [(row[0], row[1], row[2], row[3], row[4]) async for row in cur]
