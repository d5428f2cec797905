"""Packages of credits admins sell (migration 0013). The rules are
``bot/services/packages.py``'s."""

from __future__ import annotations

from datetime import UTC, datetime

import aiosqlite

from bot.domain import Package
from bot.storage import dialect
from bot.storage.db import from_ts, to_ts

_COLUMNS = ("id, name, credits, validity_days, price_minor, currency, price_stars, active,"
            " created_at, updated_at")
# the columns an admin edits, one at a time (``update``)
EDITABLE = frozenset({"name", "credits", "validity_days", "price_minor", "price_stars"})


def _package(row: aiosqlite.Row) -> Package:
    return Package(
        id=row[0], name=row[1], credits=row[2], validity_days=row[3], price_minor=row[4],
        currency=row[5], price_stars=row[6], active=bool(row[7]),
        created_at=datetime.fromtimestamp(row[8], UTC),  # NOT NULL
        updated_at=from_ts(row[9]),
    )


async def add(conn: aiosqlite.Connection, *, name: str, credits: int, validity_days: int,
              price_minor: int, currency: str, price_stars: int, now: datetime) -> Package:
    package_id = await dialect.of(conn).insert_id(
        conn,
        "INSERT INTO packages (name, credits, validity_days, price_minor, currency,"
        " price_stars, active, created_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
        (name, credits, validity_days, price_minor, currency, price_stars, to_ts(now)),
    )
    return Package(id=package_id, name=name, credits=credits, validity_days=validity_days,
                   price_minor=price_minor, currency=currency, price_stars=price_stars,
                   active=True, created_at=now)


async def get(conn: aiosqlite.Connection, package_id: int) -> Package | None:
    async with conn.execute(f"SELECT {_COLUMNS} FROM packages WHERE id = ?",
                            (package_id,)) as cur:
        row = await cur.fetchone()
    return _package(row) if row else None


async def every(conn: aiosqlite.Connection) -> list[Package]:
    """Every package, hidden ones too: those on sale first, each by its credits."""
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM packages ORDER BY active DESC, credits, id"
    ) as cur:
        return [_package(row) for row in await cur.fetchall()]


async def on_sale(conn: aiosqlite.Connection) -> list[Package]:
    """The packages owners may buy, smallest first."""
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM packages WHERE active = 1 ORDER BY credits, id"
    ) as cur:
        return [_package(row) for row in await cur.fetchall()]


async def update(conn: aiosqlite.Connection, package_id: int, column: str, value: object,
                 now: datetime) -> bool:
    """Change one of ``EDITABLE``; False when there is no such package."""
    if column not in EDITABLE:
        raise ValueError(f"{column!r} is not a package's editable column")
    cur = await conn.execute(
        f"UPDATE packages SET {column} = ?, updated_at = ? WHERE id = ?",
        (value, to_ts(now), package_id),
    )
    return cur.rowcount == 1


async def set_active(conn: aiosqlite.Connection, package_id: int, active: bool,
                     now: datetime) -> bool:
    """Put on sale or hide; False when there is no such package."""
    cur = await conn.execute(
        "UPDATE packages SET active = ?, updated_at = ? WHERE id = ?",
        (int(active), to_ts(now), package_id),
    )
    return cur.rowcount == 1
