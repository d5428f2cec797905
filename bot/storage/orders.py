"""Orders of packages (migration 0013): made for either way of paying, and the moves of
an order paid with Telegram Stars (a bank transfer's are ``bot/storage/transfers.py``).
The rules are ``bot/services/orders.py``'s. Every change of status is conditional on the
status it leaves, so that a payment repeated or raced changes an order once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiosqlite

from bot.domain import Order, OrderMethod, OrderStatus, OwnerStatus, Package
from bot.storage import dialect
from bot.storage.db import from_ts, to_ts

_COLUMNS = (
    "o.id, o.owner_id, o.package_id, o.method, o.status, o.reference, o.credits,"
    " o.validity_days, o.amount_minor, o.currency, o.created_at, p.name, o.expires_at,"
    " o.receipt_file_id, o.receipt_kind, o.decided_by, o.reason, o.paid_at, o.decided_at,"
    " o.telegram_charge_id, o.provider_charge_id"
)
_FROM = "orders o JOIN packages p ON p.id = o.package_id"
_PACKAGE = ("p.id, p.name, p.credits, p.validity_days, p.price_minor, p.currency,"
            " p.price_stars, p.active, p.created_at, p.updated_at")


def _order(row: aiosqlite.Row) -> Order:
    return Order(
        id=row[0], owner_id=row[1], package_id=row[2], method=OrderMethod(row[3]),
        status=OrderStatus(row[4]), reference=row[5], credits=row[6], validity_days=row[7],
        amount_minor=row[8], currency=row[9],
        created_at=datetime.fromtimestamp(row[10], UTC),  # NOT NULL
        package_name=row[11], expires_at=from_ts(row[12]), receipt_file_id=row[13],
        receipt_kind=row[14], decided_by=row[15], reason=row[16], paid_at=from_ts(row[17]),
        decided_at=from_ts(row[18]), telegram_charge_id=row[19], provider_charge_id=row[20],
    )


@dataclass(frozen=True, slots=True)
class Checkout:
    """What answering a pre-checkout query needs, read in one query: the order, its
    package as it is now, and its owner's status."""

    order: Order
    package: Package
    owner_status: OwnerStatus


async def add(conn: aiosqlite.Connection, owner_id: int, package_id: int,
              method: OrderMethod, *, credits: int, validity_days: int, amount_minor: int,
              currency: str, now: datetime, reference: Callable[[int], str],
              expires_at: datetime | None = None, package_name: str = "") -> Order:
    """A new open order of the package, with what was ordered (its credits and validity,
    the price); ``reference`` makes the order's unique reference from its id."""
    order_id = await dialect.of(conn).insert_id(
        conn,
        "INSERT INTO orders (owner_id, package_id, method, status, reference, credits,"
        " validity_days, amount_minor, currency, created_at, expires_at)"
        " VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?)",
        (owner_id, package_id, method.value, f"new-{uuid.uuid4().hex}", credits,
         validity_days, amount_minor, currency, to_ts(now), to_ts(expires_at)),
    )
    made = reference(order_id)
    await conn.execute("UPDATE orders SET reference = ? WHERE id = ?", (made, order_id))
    return Order(id=order_id, owner_id=owner_id, package_id=package_id, method=method,
                 status=OrderStatus.OPEN, reference=made, credits=credits,
                 validity_days=validity_days, amount_minor=amount_minor, currency=currency,
                 created_at=now, package_name=package_name, expires_at=expires_at)


async def get(conn: aiosqlite.Connection, order_id: int,
              owner_id: int | None = None) -> Order | None:
    """An order with its package's name; only the owner's when ``owner_id`` is given."""
    where, params = "o.id = ?", [order_id]
    if owner_id is not None:
        where += " AND o.owner_id = ?"
        params.append(owner_id)
    async with conn.execute(f"SELECT {_COLUMNS} FROM {_FROM} WHERE {where}", params) as cur:
        row = await cur.fetchone()
    return _order(row) if row else None


async def by_reference(conn: aiosqlite.Connection, reference: str) -> Order | None:
    async with conn.execute(f"SELECT {_COLUMNS} FROM {_FROM} WHERE o.reference = ?",
                            (reference,)) as cur:
        row = await cur.fetchone()
    return _order(row) if row else None


async def by_charge(conn: aiosqlite.Connection, telegram_charge_id: str) -> Order | None:
    """The order a Telegram payment paid, if one was recorded."""
    async with conn.execute(f"SELECT {_COLUMNS} FROM {_FROM} WHERE o.telegram_charge_id = ?",
                            (telegram_charge_id,)) as cur:
        row = await cur.fetchone()
    return _order(row) if row else None


async def open_stars(conn: aiosqlite.Connection, owner_id: int,
                     package_id: int) -> Order | None:
    """The owner's newest Stars order of the package still waiting for its payment."""
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE o.owner_id = ? AND o.package_id = ?"
        " AND o.method = 'stars' AND o.status = 'open' ORDER BY o.id DESC LIMIT 1",
        (owner_id, package_id),
    ) as cur:
        row = await cur.fetchone()
    return _order(row) if row else None


_CHECKOUT = (f"SELECT {_COLUMNS}, {_PACKAGE}, w.status FROM {_FROM}"
             " JOIN owners w ON w.id = o.owner_id WHERE o.reference = ?")


async def checkout(conn: aiosqlite.Connection, reference: str) -> Checkout | None:
    """The order of this reference, its package and its owner's status (one trip to the
    database's thread: it answers a pre-checkout query, which Telegram waits 10 s for)."""
    rows = list(await conn.execute_fetchall(_CHECKOUT, (reference,)))
    if not rows:
        return None
    row, n = rows[0], len(_COLUMNS.split(","))
    p = row[n:n + 10]
    package = Package(id=p[0], name=p[1], credits=p[2], validity_days=p[3], price_minor=p[4],
                      currency=p[5], price_stars=p[6], active=bool(p[7]),
                      created_at=datetime.fromtimestamp(p[8], UTC), updated_at=from_ts(p[9]))
    return Checkout(_order(row), package, OwnerStatus(row[n + 10]))


async def mark_paid(conn: aiosqlite.Connection, order_id: int, telegram_charge_id: str,
                    provider_charge_id: str, now: datetime) -> bool:
    """An open Stars order is paid by this charge: True once, False when it is not open."""
    cur = await conn.execute(
        "UPDATE orders SET status = 'paid', telegram_charge_id = ?, provider_charge_id = ?,"
        " paid_at = ? WHERE id = ? AND method = 'stars' AND status = 'open'",
        (telegram_charge_id, provider_charge_id, to_ts(now), order_id),
    )
    return cur.rowcount == 1


async def mark_refunded(conn: aiosqlite.Connection, order_id: int, admin_id: int,
                        now: datetime, reason: str | None = None) -> bool:
    """A paid Stars order was given back by an admin: True once."""
    cur = await conn.execute(
        "UPDATE orders SET status = 'refunded', decided_by = ?, decided_at = ?, reason = ?"
        " WHERE id = ? AND method = 'stars' AND status = 'paid'",
        (admin_id, to_ts(now), reason, order_id),
    )
    return cur.rowcount == 1
