"""The credit ledger: every change of an owner's credits is a row.

Amounts are signed. ``credit``, ``adjust``, ``expire`` and ``charge`` change what the owner
owns (the balance is their sum); ``reserve`` (negative) and ``release`` (positive) only
hold credits for a campaign and give them back. So::

    total     = SUM(amount) of credit, adjust, expire, charge
    reserved  = -(SUM of reserve and release) + SUM of charge   (a charge spends a hold)
    available = total - reserved

Each row also moves the owner's credit lots (``bot/storage/lots.py``), in the same
transaction, so that ``total = SUM(remaining + held)`` and ``reserved = SUM(held)``:

    credit, adjust > 0   a new lot (``expires_at``, ``package_id``, ``order_id``: a package's)
    reserve              available -> held, oldest-expiring first
    charge               held credits spent, oldest-expiring first
    release              held -> available, latest-expiring first; what it gives back to a
                         lot that has expired lapses at once (an ``expire`` row)
    adjust < 0, expire   available credits leave: of the lot ``lot_id`` names, else
                         oldest-expiring first
"""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from bot.domain import Balance, LedgerEntry, LedgerKind, LedgerLine
from bot.storage import dialect, lots
from bot.storage.db import at_ts, to_ts

_BALANCE_SQL = (
    "SELECT"
    " COALESCE(SUM(CASE WHEN kind IN ('credit', 'adjust', 'expire', 'charge')"
    "  THEN amount END), 0),"
    " COALESCE(SUM(CASE WHEN kind IN ('reserve', 'release') THEN -amount"
    "  WHEN kind = 'charge' THEN amount END), 0)"
    " FROM ledger WHERE owner_id = ?"
)


async def balance(conn: aiosqlite.Connection, owner_id: int) -> Balance:
    async with conn.execute(_BALANCE_SQL, (owner_id,)) as cur:
        row = await cur.fetchone()
    assert row is not None
    return Balance(total=int(row[0]), reserved=int(row[1]))


async def add(
    conn: aiosqlite.Connection, owner_id: int, kind: LedgerKind, amount: int, now: datetime,
    *, note: str | None = None, campaign_id: int | None = None, actor_id: int | None = None,
    expires_at: datetime | None = None, package_id: int | None = None,
    order_id: int | None = None, lot_id: int | None = None,
) -> int:
    """Write the row and move the lots it concerns (the module docstring says how); the
    row's id. Two statements (a release into an expired lot: two more per such lot)."""
    row_id = await dialect.of(conn).insert_id(
        conn,
        "INSERT INTO ledger (owner_id, kind, amount, campaign_id, package_id, expires_at, note,"
        " actor_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (owner_id, kind.value, amount, campaign_id, package_id, to_ts(expires_at), note,
         actor_id, to_ts(now)),
    )
    if amount == 0:
        return row_id
    if kind == LedgerKind.RESERVE:
        await lots.hold(conn, owner_id, -amount)
    elif kind == LedgerKind.CHARGE:
        await lots.spend(conn, owner_id, -amount)
    elif kind == LedgerKind.RELEASE:
        for lapsed, remaining, package in await lots.unhold(conn, owner_id, amount, now):
            await add(conn, owner_id, LedgerKind.EXPIRE, -remaining, now, lot_id=lapsed,
                      package_id=package, campaign_id=campaign_id)
    elif amount > 0:  # credit, or a correction upwards
        await lots.open_lot(conn, owner_id, amount, now, expires_at=expires_at,
                            package_id=package_id, order_id=order_id, ledger_id=row_id)
    elif lot_id is not None:  # expire, or a correction of one lot
        await lots.take(conn, lot_id, -amount)
    else:
        await lots.remove(conn, owner_id, -amount)
    return row_id


async def held_for(conn: aiosqlite.Connection, owner_id: int, campaign_id: int) -> int:
    """Credits still held for a campaign (reserved, not yet charged or released)."""
    async with conn.execute(
        "SELECT COALESCE(SUM(CASE WHEN kind IN ('reserve', 'release') THEN -amount"
        " WHEN kind = 'charge' THEN amount END), 0)"
        " FROM ledger WHERE owner_id = ? AND campaign_id = ?", (owner_id, campaign_id)
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


_CAMPAIGN_KINDS = "('reserve', 'release', 'charge')"


async def history(conn: aiosqlite.Connection, owner_id: int,
                  limit: int = 5) -> tuple[list[LedgerLine], int]:
    """The owner's latest ledger lines, newest first: each top-up, correction or expiry on
    its own, and each campaign's reserve, charge and release rows as one line (placed by
    its latest row); and what the older lines add up to. The lines' amounts and that sum
    make the balance's ``total`` (read in one statement, so they always do)."""
    async with conn.execute(
        "WITH lines AS ("
        # (each group's kind and campaign are one: MAX says so to PostgreSQL's GROUP BY)
        f" SELECT MAX(CASE WHEN kind IN {_CAMPAIGN_KINDS} THEN NULL ELSE kind END) AS kind,"
        "  MAX(campaign_id) AS campaign_id,"
        "  SUM(CASE WHEN kind IN ('reserve', 'release') THEN 0 ELSE amount END) AS change,"
        "  SUM(CASE WHEN kind = 'reserve' THEN -amount ELSE 0 END) AS reserved,"
        "  SUM(CASE WHEN kind = 'charge' THEN -amount ELSE 0 END) AS spent,"
        "  SUM(CASE WHEN kind = 'release' THEN amount ELSE 0 END) AS returned,"
        "  MAX(created_at) AS at, MAX(note) AS note, MAX(id) AS last,"
        "  SUM(SUM(CASE WHEN kind IN ('reserve', 'release') THEN 0 ELSE amount END))"
        "   OVER () AS total"
        " FROM ledger WHERE owner_id = ?"
        f" GROUP BY CASE WHEN kind IN {_CAMPAIGN_KINDS}"
        "  THEN 'c' || COALESCE(CAST(campaign_id AS TEXT), '') ELSE 'r' || CAST(id AS TEXT) END"
        " ORDER BY last DESC LIMIT ?)"
        " SELECT l.kind, l.change, l.at, l.note, l.campaign_id, c.name, l.reserved, l.spent,"
        "  l.returned, l.total FROM lines l"
        " LEFT JOIN campaigns c ON c.id = l.campaign_id AND c.owner_id = ?"
        " ORDER BY l.last DESC", (owner_id, limit, owner_id),
    ) as cur:
        rows = list(await cur.fetchall())
    lines = [
        LedgerLine(kind=LedgerKind(r[0]) if r[0] else None, amount=int(r[1]),
                   created_at=at_ts(r[2]),
                   note=r[3] if r[0] else None, campaign_id=r[4], campaign_name=r[5],
                   reserved=int(r[6]), spent=int(r[7]), returned=int(r[8]))
        for r in rows]
    total = int(rows[0][9]) if rows else 0
    return lines, total - sum(line.amount for line in lines)


async def recent(conn: aiosqlite.Connection, owner_id: int, limit: int = 10) -> list[LedgerEntry]:
    async with conn.execute(
        "SELECT id, owner_id, kind, amount, created_at, note, campaign_id FROM ledger"
        " WHERE owner_id = ? ORDER BY id DESC LIMIT ?", (owner_id, limit)
    ) as cur:
        return [
            LedgerEntry(id=r[0], owner_id=r[1], kind=LedgerKind(r[2]), amount=r[3],
                        created_at=at_ts(r[4]), note=r[5], campaign_id=r[6])
            async for r in cur
        ]
