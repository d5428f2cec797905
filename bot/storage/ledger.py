"""The credit ledger: every change of an owner's credits is a row.

Amounts are signed. ``credit``, ``adjust``, ``expire`` and ``charge`` change what the owner
owns (the balance is their sum); ``reserve`` (negative) and ``release`` (positive) only
hold credits for a campaign and give them back. So::

    total     = SUM(amount) of credit, adjust, expire, charge
    reserved  = -(SUM of reserve and release) + SUM of charge   (a charge spends a hold)
    available = total - reserved
"""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from bot.domain import Balance, LedgerEntry, LedgerKind
from bot.storage.db import from_ts, to_ts

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
) -> None:
    await conn.execute(
        "INSERT INTO ledger (owner_id, kind, amount, campaign_id, note, actor_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (owner_id, kind.value, amount, campaign_id, note, actor_id, to_ts(now)),
    )


async def held_for(conn: aiosqlite.Connection, owner_id: int, campaign_id: int) -> int:
    """Credits still held for a campaign (reserved, not yet charged or released)."""
    async with conn.execute(
        "SELECT COALESCE(SUM(CASE WHEN kind IN ('reserve', 'release') THEN -amount"
        " WHEN kind = 'charge' THEN amount END), 0)"
        " FROM ledger WHERE owner_id = ? AND campaign_id = ?", (owner_id, campaign_id)
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def recent(conn: aiosqlite.Connection, owner_id: int, limit: int = 10) -> list[LedgerEntry]:
    async with conn.execute(
        "SELECT id, owner_id, kind, amount, created_at, note, campaign_id FROM ledger"
        " WHERE owner_id = ? ORDER BY id DESC LIMIT ?", (owner_id, limit)
    ) as cur:
        return [
            LedgerEntry(id=r[0], owner_id=r[1], kind=LedgerKind(r[2]), amount=r[3],
                        created_at=from_ts(r[4]), note=r[5], campaign_id=r[6])  # type: ignore[arg-type]
            async for r in cur
        ]
