"""Credit lots: which credits an owner's balance is made of, and when they expire.

A lot per credit row (a package bought, an admin's /credit, a positive correction; the
opening lot of migration 0014 holds what each owner had before lots): ``credits`` it
brought, ``remaining`` (available) and ``held`` (reserved for campaigns), ``expires_at``
(None: never). Only ``bot/storage/ledger.py`` moves them, with the ledger row that says
why, so that for every owner the balance is ``SUM(remaining + held)`` and the reserved
credits ``SUM(held)``.

Spending walks the lots oldest-expiring first (``OLDEST``: the nearest expiry first, those
that never expire last); giving held credits back walks them the other way (``LATEST``),
so that what a campaign spends comes from the lots nearest their end whatever the order
its sends and failures are recorded in. Each walk is one statement (window sums over the
owner's live lots).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.storage import dialect
from bot.storage.db import from_ts, to_ts

OLDEST = "expires_at IS NULL, expires_at, id"
LATEST = "expires_at IS NOT NULL, expires_at DESC, id DESC"
_LIVE = "(remaining > 0 OR held > 0)"  # a lot that still has credits

_COLUMNS = ("id, owner_id, credits, remaining, held, expires_at, package_id, order_id,"
            " created_at")


@dataclass(frozen=True, slots=True)
class Lot:
    id: int
    owner_id: int
    credits: int  # what it brought
    remaining: int  # available
    held: int  # reserved for campaigns
    expires_at: datetime | None  # None: never
    package_id: int | None
    order_id: int | None
    created_at: datetime


def _lot(row: aiosqlite.Row) -> Lot:
    return Lot(id=row[0], owner_id=row[1], credits=row[2], remaining=row[3], held=row[4],
               expires_at=from_ts(row[5]), package_id=row[6], order_id=row[7],
               created_at=from_ts(row[8]))  # type: ignore[arg-type]  # NOT NULL column


async def open_lot(conn: aiosqlite.Connection, owner_id: int, credits: int, now: datetime, *,
                   expires_at: datetime | None = None, package_id: int | None = None,
                   order_id: int | None = None, ledger_id: int | None = None) -> int:
    return await dialect.of(conn).insert_id(
        conn,
        "INSERT INTO credit_lots (owner_id, credits, remaining, held, expires_at, package_id,"
        " order_id, ledger_id, created_at) VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?)",
        (owner_id, credits, credits, to_ts(expires_at), package_id, order_id, ledger_id,
         to_ts(now)))


def _walk(first: str, then: str | None, into: str | None, order: str) -> str:
    """One statement taking ``n`` credits out of the owner's lots in ``order``: out of
    column ``first`` (then, once every lot's ``first`` is empty, out of ``then``), added to
    ``into`` when it is a move. Parameters: owner id, then ``n`` three (six) times. A lot
    gives what it has, so a walk never makes a column negative; there is no error when
    the lots hold less than ``n`` (the services check what is available first)."""

    def take(column: str, before: str) -> str:
        return (f"CASE WHEN {before} >= ? THEN 0 WHEN ? - {before} < {column}"
                f" THEN ? - {before} ELSE {column} END")

    sums = f"SUM({first}) OVER w - {first} AS a_before"
    takes = f"{take('l.a', 'l.a_before')} AS a"
    sets = [f"{first} = {first} - t.a"]
    if then is not None:
        sums += f", SUM({first}) OVER () + SUM({then}) OVER w - {then} AS b_before"
        takes += f", {take('l.b', 'l.b_before')} AS b"
        sets.append(f"{then} = {then} - t.b")
    if into is not None:
        sets.append(f"{into} = {into} + t.a")
    return (
        f"WITH l AS (SELECT id, {first} AS a, {then or 0} AS b, {sums} FROM credit_lots"
        f"  WHERE owner_id = ? AND {_LIVE}"
        f"  WINDOW w AS (ORDER BY {order} ROWS UNBOUNDED PRECEDING)),"
        f" t AS (SELECT l.id, {takes} FROM l)"
        f" UPDATE credit_lots SET {', '.join(sets)} FROM t"
        f" WHERE credit_lots.id = t.id AND (t.a > 0{' OR t.b > 0' if then else ''})")


_HOLD = _walk("remaining", None, "held", OLDEST)
_SPEND = _walk("held", "remaining", None, OLDEST)
_REMOVE = _walk("remaining", "held", None, OLDEST)
_UNHOLD = _walk("held", None, "remaining", LATEST)


async def hold(conn: aiosqlite.Connection, owner_id: int, n: int) -> None:
    """Reserve ``n``: available -> held, oldest-expiring first."""
    await conn.execute(_HOLD, (owner_id, n, n, n))


async def spend(conn: aiosqlite.Connection, owner_id: int, n: int) -> None:
    """Charge ``n``: out of the held credits, oldest-expiring first (out of the available
    ones should the holds not cover it)."""
    await conn.execute(_SPEND, (owner_id, n, n, n, n, n, n))


async def remove(conn: aiosqlite.Connection, owner_id: int, n: int) -> None:
    """A negative correction of ``n``: out of the available credits, oldest-expiring first
    (out of the held ones should they not cover it)."""
    await conn.execute(_REMOVE, (owner_id, n, n, n, n, n, n))


async def unhold(conn: aiosqlite.Connection, owner_id: int, n: int,
                 now: datetime) -> list[tuple[int, int, int | None]]:
    """Release ``n``: held -> available, latest-expiring first. Answers the lots it gave
    credits back to that have expired by ``now``: (lot id, remaining, package id)."""
    rows = await conn.execute_fetchall(
        _UNHOLD + dialect.of(conn).returning(  # (t has an id too)
            "credit_lots.id, credit_lots.remaining, credit_lots.expires_at,"
            " credit_lots.package_id"),
        (owner_id, n, n, n))
    at = now.timestamp()
    return [(r[0], r[1], r[3]) for r in rows if r[2] is not None and r[2] <= at and r[1] > 0]


async def take(conn: aiosqlite.Connection, lot_id: int, n: int) -> None:
    """``n`` of one lot's available credits leave it (lapsed, or taken back)."""
    await conn.execute(
        "UPDATE credit_lots SET remaining = CASE WHEN remaining < ? THEN 0"
        " ELSE remaining - ? END WHERE id = ?", (n, n, lot_id))


async def end(conn: aiosqlite.Connection, lot_id: int, now: datetime) -> None:
    """The lot expires now (unless it does sooner): what campaigns hold of it lapses
    when it is given back."""
    await conn.execute(
        "UPDATE credit_lots SET expires_at = ? WHERE id = ?"
        " AND (expires_at IS NULL OR expires_at > ?)", (to_ts(now), lot_id, to_ts(now)))


async def live(conn: aiosqlite.Connection, owner_id: int) -> list[Lot]:
    """The owner's lots that still have credits, in spending order."""
    rows = await conn.execute_fetchall(
        f"SELECT {_COLUMNS} FROM credit_lots WHERE owner_id = ? AND {_LIVE}"
        f" ORDER BY {OLDEST}", (owner_id,))
    return [_lot(r) for r in rows]


async def every(conn: aiosqlite.Connection, owner_id: int) -> list[Lot]:
    """All the owner's lots, spent and lapsed ones too, in spending order."""
    rows = await conn.execute_fetchall(
        f"SELECT {_COLUMNS} FROM credit_lots WHERE owner_id = ? ORDER BY {OLDEST}",
        (owner_id,))
    return [_lot(r) for r in rows]


async def expiring(conn: aiosqlite.Connection, owner_id: int, now: datetime,
                   limit: int = 3) -> list[Lot]:
    """The owner's lots with available credits that expire after ``now``, nearest first."""
    rows = await conn.execute_fetchall(
        f"SELECT {_COLUMNS} FROM credit_lots WHERE owner_id = ? AND {_LIVE}"
        " AND remaining > 0 AND expires_at > ? ORDER BY expires_at, id LIMIT ?",
        (owner_id, to_ts(now), limit))
    return [_lot(r) for r in rows]


async def of_order(conn: aiosqlite.Connection, owner_id: int, order_id: int) -> list[Lot]:
    rows = await conn.execute_fetchall(
        f"SELECT {_COLUMNS} FROM credit_lots WHERE order_id = ? AND owner_id = ? ORDER BY id",
        (order_id, owner_id))
    return [_lot(r) for r in rows]


async def due(conn: aiosqlite.Connection, now: datetime, limit: int = 500) -> list[Lot]:
    """Lots past their expiry with credits still available (what campaigns hold stays)."""
    rows = await conn.execute_fetchall(
        f"SELECT {_COLUMNS} FROM credit_lots WHERE remaining > 0 AND expires_at <= ?"
        " ORDER BY expires_at, id LIMIT ?", (to_ts(now), limit))
    return [_lot(r) for r in rows]


async def to_warn(conn: aiosqlite.Connection, now: datetime, until: datetime) -> list[Lot]:
    """Active owners' lots with available credits expiring after ``now`` and by ``until``,
    whose owner was not told yet."""
    rows = await conn.execute_fetchall(
        f"SELECT {', '.join('l.' + c.strip() for c in _COLUMNS.split(','))}"
        " FROM credit_lots l JOIN owners o ON o.id = l.owner_id"
        " WHERE l.remaining > 0 AND l.expires_at > ? AND l.expires_at <= ?"
        " AND l.warned_at IS NULL AND o.status = 'active' ORDER BY l.expires_at, l.id",
        (to_ts(now), to_ts(until)))
    return [_lot(r) for r in rows]


async def mark_warned(conn: aiosqlite.Connection, lot_ids: Sequence[int],
                      now: datetime) -> None:
    d = dialect.of(conn)
    await conn.execute(f"UPDATE credit_lots SET warned_at = ? WHERE {d.in_list('id')}",
                       (to_ts(now), d.list_param(lot_ids)))


async def totals(conn: aiosqlite.Connection, owner_id: int) -> tuple[int, int]:
    """(remaining, held) of all the owner's lots."""
    rows = await conn.execute_fetchall(
        f"SELECT COALESCE(SUM(remaining), 0), COALESCE(SUM(held), 0) FROM credit_lots"
        f" WHERE owner_id = ? AND {_LIVE}", (owner_id,))
    [(remaining, held)] = rows
    return int(remaining), int(held)
