"""Monthly statements (``bot/services/statements.py``): an owner's ledger rows that changed
the balance (``credit``, ``adjust``, ``expire``, ``charge``; see ``ledger.py``) in a span of
time, read in pages, and the balance before it. Holds for campaigns (``reserve``,
``release``) change no balance and are not read here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import aiosqlite

from bot.domain import LedgerKind
from bot.storage.db import to_ts


@dataclass(frozen=True, slots=True)
class StatementRow:
    """A ledger row as a statement lists it."""

    id: int
    kind: LedgerKind
    amount: int  # signed: what it did to the balance
    created_at: datetime
    note: str | None = None
    campaign_id: int | None = None
    campaign_name: str | None = None
    package_name: str | None = None


_BALANCE_KINDS = "('credit', 'adjust', 'expire', 'charge')"


async def total_before(conn: aiosqlite.Connection, owner_id: int, before: datetime) -> int:
    """The owner's balance (``total``) just before ``before``: a statement's opening."""
    async with conn.execute(
        f"SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE owner_id = ?"
        f" AND kind IN {_BALANCE_KINDS} AND created_at < ?", (owner_id, to_ts(before)),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def has_rows(conn: aiosqlite.Connection, owner_id: int, start: datetime,
                   end: datetime) -> bool:
    """Whether any row of the owner's changed the balance in [start, end)."""
    async with conn.execute(
        f"SELECT 1 FROM ledger WHERE owner_id = ? AND kind IN {_BALANCE_KINDS}"
        " AND created_at >= ? AND created_at < ? LIMIT 1",
        (owner_id, to_ts(start), to_ts(end)),
    ) as cur:
        return await cur.fetchone() is not None


async def statement_page(
    conn: aiosqlite.Connection, owner_id: int, start: datetime, end: datetime, *,
    after: tuple[float, int] | None = None, limit: int = 1000,
) -> tuple[list[StatementRow], tuple[float, int] | None]:
    """The owner's rows that changed the balance in [start, end), oldest first (by time,
    then id), ``limit`` at a time from ``after`` (the cursor the previous page returned;
    None when there are no more). The campaign's and package's names come along."""
    since, since_id = after if after is not None else (to_ts(start), 0)
    async with conn.execute(
        "SELECT l.id, l.kind, l.amount, l.created_at, l.note, l.campaign_id, c.name, p.name"
        " FROM ledger l"
        " LEFT JOIN campaigns c ON c.id = l.campaign_id AND c.owner_id = l.owner_id"
        " LEFT JOIN packages p ON p.id = l.package_id"
        f" WHERE l.owner_id = ? AND l.kind IN {_BALANCE_KINDS}"
        " AND l.created_at >= ? AND l.created_at < ?"
        " AND (l.created_at > ? OR (l.created_at = ? AND l.id > ?))"
        " ORDER BY l.created_at, l.id LIMIT ?",
        (owner_id, to_ts(start), to_ts(end), since, since, since_id, limit),
    ) as cur:
        raw = list(await cur.fetchall())
    rows = [StatementRow(id=r[0], kind=LedgerKind(r[1]), amount=int(r[2]),
                         created_at=datetime.fromtimestamp(r[3], UTC), note=r[4],
                         campaign_id=r[5], campaign_name=r[6], package_name=r[7])
            for r in raw]
    cursor = (float(raw[-1][3]), int(raw[-1][0])) if len(raw) == limit else None
    return rows, cursor
