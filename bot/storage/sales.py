"""Reads of orders for receipts and the admins' views (``bot/services/invoices.py``,
``bot/services/sales.py``): an owner's paid orders, revenue per span of time and method,
the orders waiting for an admin, the owners who bought most, one owner's orders and
campaigns. Orders are written by ``bot/storage/orders.py``; nothing here writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiosqlite

from bot.storage.db import to_ts


def _at(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order with its package's name, as receipts and admins read it. ``amount_minor``
    is in minor units of ``currency`` (qəpik for AZN), or whole Stars for ``XTR``."""

    id: int
    owner_id: int
    reference: str
    method: str  # "stars" | "transfer"
    status: str  # "open" | "submitted" | "paid" | "rejected" | "expired" | "refunded"
    package_id: int
    package_name: str
    credits: int
    validity_days: int
    amount_minor: int
    currency: str
    created_at: datetime
    paid_at: datetime | None = None
    telegram_charge_id: str | None = None
    owner_name: str | None = None
    owner_company: str | None = None


_ORDER = (
    "SELECT o.id, o.owner_id, o.reference, o.method, o.status, o.package_id, p.name,"
    " o.credits, o.validity_days, o.amount_minor, o.currency, o.created_at, o.paid_at,"
    " o.telegram_charge_id, w.name, w.company"
    " FROM orders o JOIN packages p ON p.id = o.package_id JOIN owners w ON w.id = o.owner_id"
)


def _order(r: Sequence) -> OrderView:
    return OrderView(
        id=r[0], owner_id=r[1], reference=r[2], method=r[3], status=r[4], package_id=r[5],
        package_name=r[6], credits=int(r[7]), validity_days=int(r[8]),
        amount_minor=int(r[9]), currency=r[10],
        created_at=datetime.fromtimestamp(r[11], UTC), paid_at=_at(r[12]),
        telegram_charge_id=r[13], owner_name=r[14], owner_company=r[15])


async def paid_orders(conn: aiosqlite.Connection, owner_id: int,
                      limit: int = 10) -> list[OrderView]:
    """The owner's paid orders, the latest paid first."""
    async with conn.execute(
        f"{_ORDER} WHERE o.owner_id = ? AND o.status = 'paid'"
        " ORDER BY o.paid_at DESC, o.id DESC LIMIT ?", (owner_id, limit),
    ) as cur:
        return [_order(r) for r in await cur.fetchall()]


async def paid_order(conn: aiosqlite.Connection, owner_id: int,
                     order_id: int) -> OrderView | None:
    """One of the owner's paid orders (None for another owner's, or one not paid)."""
    async with conn.execute(
        f"{_ORDER} WHERE o.id = ? AND o.owner_id = ? AND o.status = 'paid'",
        (order_id, owner_id),
    ) as cur:
        row = await cur.fetchone()
    return _order(row) if row is not None else None


async def owner_orders(conn: aiosqlite.Connection, owner_id: int,
                       limit: int = 10) -> list[OrderView]:
    """The owner's latest orders, whatever their status."""
    async with conn.execute(
        f"{_ORDER} WHERE o.owner_id = ? ORDER BY o.created_at DESC, o.id DESC LIMIT ?",
        (owner_id, limit),
    ) as cur:
        return [_order(r) for r in await cur.fetchall()]


async def waiting(conn: aiosqlite.Connection, limit: int = 20) -> tuple[list[OrderView], int]:
    """Transfer orders whose receipt was sent and that wait for an admin, the oldest
    first; and how many there are in all."""
    async with conn.execute(
        f"{_ORDER} WHERE o.status = 'submitted' ORDER BY o.created_at, o.id LIMIT ?", (limit,),
    ) as cur:
        rows = [_order(r) for r in await cur.fetchall()]
    async with conn.execute("SELECT COUNT(*) FROM orders WHERE status = 'submitted'") as cur:
        count = await cur.fetchone()
    return rows, int(count[0]) if count else 0


@dataclass(frozen=True, slots=True)
class Revenue:
    """Paid orders of one span (its index in the spans asked for) by method and currency."""

    span: int
    method: str
    currency: str
    orders: int
    amount_minor: int
    credits: int


async def revenue(conn: aiosqlite.Connection,
                  spans: Sequence[tuple[datetime, datetime]]) -> list[Revenue]:
    """What paid orders brought in each [start, end) of ``spans`` (by when they were paid),
    per method and currency; spans without any are left out. Refunded orders are not
    revenue."""
    if not spans:
        return []
    values = ", ".join("(?, ?, ?)" for _ in spans)
    params: list[object] = []
    for n, (start, end) in enumerate(spans):
        params += [n, to_ts(start), to_ts(end)]
    async with conn.execute(
        f"WITH spans (n, s, e) AS (VALUES {values})"
        " SELECT spans.n, o.method, o.currency, COUNT(*), SUM(o.amount_minor), SUM(o.credits)"
        " FROM spans JOIN orders o ON o.status = 'paid' AND o.paid_at >= spans.s"
        "  AND o.paid_at < spans.e"
        " GROUP BY spans.n, o.method, o.currency ORDER BY spans.n, o.method, o.currency",
        params,
    ) as cur:
        return [Revenue(int(r[0]), r[1], r[2], int(r[3]), int(r[4]), int(r[5]))
                for r in await cur.fetchall()]


@dataclass(frozen=True, slots=True)
class Spender:
    """An owner and what they bought (paid orders): credits, and the amount per currency
    (``XTR``: Stars)."""

    owner_id: int
    name: str | None
    company: str | None
    credits: int
    orders: int
    amounts: dict[str, int]


async def top_spenders(conn: aiosqlite.Connection, limit: int = 10) -> list[Spender]:
    """The owners who bought the most credits (paid orders, all time), the most first."""
    async with conn.execute(
        "WITH top AS (SELECT owner_id, SUM(credits) AS credits, COUNT(*) AS orders"
        "  FROM orders WHERE status = 'paid' GROUP BY owner_id"
        "  ORDER BY credits DESC, owner_id LIMIT ?)"
        " SELECT top.owner_id, w.name, w.company, top.credits, top.orders, o.currency,"
        "  SUM(o.amount_minor)"
        " FROM top JOIN owners w ON w.id = top.owner_id"
        " JOIN orders o ON o.owner_id = top.owner_id AND o.status = 'paid'"
        " GROUP BY top.owner_id, w.name, w.company, top.credits, top.orders, o.currency"
        " ORDER BY top.credits DESC, top.owner_id, o.currency", (limit,),
    ) as cur:
        rows = await cur.fetchall()
    found: dict[int, Spender] = {}
    for r in rows:
        spender = found.setdefault(r[0], Spender(r[0], r[1], r[2], int(r[3]), int(r[4]), {}))
        spender.amounts[r[5]] = int(r[6])
    return list(found.values())


@dataclass(frozen=True, slots=True)
class CampaignLine:
    id: int
    name: str
    status: str
    created_at: datetime
    messages: int  # in the outbox, whatever their state


async def owner_campaigns(conn: aiosqlite.Connection, owner_id: int,
                          limit: int = 5) -> list[CampaignLine]:
    """The owner's latest campaigns (drafts left out) with how many messages each has."""
    async with conn.execute(
        "SELECT c.id, c.name, c.status, c.created_at,"
        " (SELECT COUNT(*) FROM messages m WHERE m.campaign_id = c.id)"
        " FROM campaigns c WHERE c.owner_id = ? AND c.status <> 'draft'"
        " ORDER BY c.created_at DESC, c.id DESC LIMIT ?", (owner_id, limit),
    ) as cur:
        return [CampaignLine(r[0], r[1], r[2], datetime.fromtimestamp(r[3], UTC), int(r[4]))
                for r in await cur.fetchall()]


async def owner_id_by_phone(conn: aiosqlite.Connection, phone: str) -> int | None:
    """The owner who registered with this E.164 number (the latest, if several did)."""
    async with conn.execute(
        "SELECT id FROM owners WHERE phone = ? ORDER BY id DESC LIMIT 1", (phone,),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else None


async def package_names(conn: aiosqlite.Connection, ids: Sequence[int]) -> dict[int, str]:
    """The names of these packages, by id."""
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    async with conn.execute(f"SELECT id, name FROM packages WHERE id IN ({marks})",
                            list(ids)) as cur:
        return {int(r[0]): r[1] for r in await cur.fetchall()}
