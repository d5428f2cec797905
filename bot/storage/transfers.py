"""Orders paid by bank transfer (``orders`` with method 'transfer', migration 0013) and the
messages admins were sent about them (``order_notices``, 0015). The rules are
``bot/services/transfers.py``'s; each change of status is conditional on the status it
leaves, so of two admins deciding the same order only the first changes it."""

from __future__ import annotations

from datetime import datetime, timedelta

import aiosqlite

from bot.domain import Order, OrderMethod, OrderStatus
from bot.storage import dialect, orders
from bot.storage.db import to_ts

_TRANSFER = f"method = '{OrderMethod.TRANSFER.value}'"


async def get(conn: aiosqlite.Connection, order_id: int,
              owner_id: int | None = None) -> Order | None:
    """A transfer order, with its package's name; only the owner's when ``owner_id`` is
    given (admins read any)."""
    found = await orders.get(conn, order_id, owner_id)
    return found if found is not None and found.method is OrderMethod.TRANSFER else None


async def open_of(conn: aiosqlite.Connection, owner_id: int) -> Order | None:
    """The owner's transfer order still waiting for its payment (the newest, if more)."""
    async with conn.execute(
        f"SELECT id FROM orders WHERE owner_id = ? AND {_TRANSFER} AND status = 'open'"
        " ORDER BY id DESC LIMIT 1", (owner_id,)
    ) as cur:
        row = await cur.fetchone()
    return await get(conn, row[0], owner_id) if row else None


async def set_expiry(conn: aiosqlite.Connection, order_id: int, at: datetime) -> None:
    """When an open order expires, unless it says already."""
    await conn.execute("UPDATE orders SET expires_at = ? WHERE id = ? AND expires_at IS NULL",
                       (to_ts(at), order_id))


async def submit(conn: aiosqlite.Connection, owner_id: int, order_id: int, file_id: str,
                 kind: str) -> bool:
    """The receipt of an open order: it waits for an admin now. False when the order is
    not the owner's open transfer order."""
    cur = await conn.execute(
        "UPDATE orders SET status = 'submitted', receipt_file_id = ?, receipt_kind = ?"
        " WHERE id = ? AND owner_id = ? AND method = 'transfer' AND status = 'open'",
        (file_id, kind, order_id, owner_id))
    return cur.rowcount == 1


async def cancel(conn: aiosqlite.Connection, owner_id: int, order_id: int,
                 now: datetime) -> bool:
    """The owner cancels an open order (before paying). False when it is not open."""
    cur = await conn.execute(
        "UPDATE orders SET status = 'cancelled', decided_at = ?"
        " WHERE id = ? AND owner_id = ? AND method = 'transfer' AND status = 'open'",
        (to_ts(now), order_id, owner_id))
    return cur.rowcount == 1


async def decide(conn: aiosqlite.Connection, order_id: int, status: OrderStatus,
                 admin_id: int, now: datetime, reason: str | None = None) -> bool:
    """An admin confirms (``PAID``) or rejects a submitted order: True for the first to
    decide, False when it is no longer waiting (decided already, or never submitted)."""
    if status not in (OrderStatus.PAID, OrderStatus.REJECTED):
        raise ValueError(f"an admin confirms or rejects, not {status}")
    paid_at = to_ts(now) if status is OrderStatus.PAID else None
    cur = await conn.execute(
        "UPDATE orders SET status = ?, decided_by = ?, decided_at = ?, reason = ?,"
        " paid_at = ? WHERE id = ? AND method = 'transfer' AND status = 'submitted'",
        (status.value, admin_id, to_ts(now), reason, paid_at, order_id))
    return cur.rowcount == 1


async def expire_due(conn: aiosqlite.Connection, now: datetime,
                     default_days: int) -> list[Order]:
    """Open transfer orders past their expiry (one without ``expires_at``:
    ``default_days`` after it was made) become expired; the orders, as they are now."""
    cutoff = to_ts(now - timedelta(days=default_days))
    async with conn.execute(
        f"SELECT id FROM orders WHERE {_TRANSFER} AND status = 'open'"
        " AND (expires_at <= ? OR (expires_at IS NULL AND created_at <= ?))",
        (to_ts(now), cutoff),
    ) as cur:
        ids = [row[0] for row in await cur.fetchall()]
    expired = []
    for order_id in ids:
        cur = await conn.execute(
            "UPDATE orders SET status = 'expired', decided_at = ?"
            " WHERE id = ? AND status = 'open'", (to_ts(now), order_id))
        if cur.rowcount == 1 and (order := await get(conn, order_id)) is not None:
            expired.append(order)
    return expired


# --- the admins' messages about an order ---------------------------------------------------

async def add_notice(conn: aiosqlite.Connection, order_id: int, admin_id: int,
                     message_id: int) -> None:
    await conn.execute(
        "INSERT INTO order_notices (order_id, admin_id, message_id) VALUES (?, ?, ?) "
        + dialect.of(conn).upsert(["order_id", "admin_id"], ["message_id"]),
        (order_id, admin_id, message_id))


async def notices(conn: aiosqlite.Connection, order_id: int) -> list[tuple[int, int]]:
    """(admin id, message id) of each admin's message about the order."""
    async with conn.execute(
        "SELECT admin_id, message_id FROM order_notices WHERE order_id = ? ORDER BY admin_id",
        (order_id,),
    ) as cur:
        return [(row[0], row[1]) for row in await cur.fetchall()]
