"""Leases: one process at a time holds a name (a number's sending, a scheduled job).

A row ``(name, holder, expires_at)`` (migration 0024). A holder takes a name that is free
or whose lease has run out, keeps it by renewing it before it runs out, and gives it back
when it stops; a holder that died loses it when it runs out, to whoever asks next. Every
statement is plain SQL both engines read (the upsert's ``WHERE`` on the conflicting row:
SQLite 3.24+ and PostgreSQL), run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from bot.storage import dialect


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    holder: str
    expires_at: float


async def get(conn: aiosqlite.Connection, name: str) -> Lease | None:
    async with conn.execute(
        "SELECT name, holder, expires_at FROM leases WHERE name = ?", (name,)
    ) as cur:
        row = await cur.fetchone()
    return Lease(row[0], row[1], float(row[2])) if row else None


async def acquire(conn: aiosqlite.Connection, name: str, holder: str, until: float,
                  now: float) -> bool:
    """Take ``name`` until ``until`` if it is free, has run out (before ``now``) or is
    already the holder's (then it is renewed); whether the holder has it now."""
    d = dialect.of(conn)
    cur = await conn.execute(
        "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
        + d.upsert(["name"], ["holder", "expires_at"],
                   where="leases.expires_at < ? OR leases.holder = ?"),
        (name, holder, until, now, holder),
    )
    return cur.rowcount > 0


async def renew(conn: aiosqlite.Connection, holder: str, until: float) -> int:
    """Every lease of the holder that would run out before ``until`` lasts until then
    (a longer one, a job's that spans its interval, is kept); how many were renewed."""
    cur = await conn.execute(
        "UPDATE leases SET expires_at = ? WHERE holder = ? AND expires_at < ?",
        (until, holder, until),
    )
    return cur.rowcount


async def release(conn: aiosqlite.Connection, holder: str,
                  names: Sequence[str] | None = None) -> int:
    """Give back the holder's leases (all of them, or those named)."""
    if names is None:
        cur = await conn.execute("DELETE FROM leases WHERE holder = ?", (holder,))
    else:
        d = dialect.of(conn)
        cur = await conn.execute(
            f"DELETE FROM leases WHERE holder = ? AND {d.in_list('name')}",
            (holder, d.list_param(names)),
        )
    return cur.rowcount


async def held_by(conn: aiosqlite.Connection, holder: str, now: float) -> dict[str, float]:
    """The holder's leases that have not run out: name -> until."""
    async with conn.execute(
        "SELECT name, expires_at FROM leases WHERE holder = ? AND expires_at >= ?",
        (holder, now),
    ) as cur:
        return {row[0]: float(row[1]) async for row in cur}


async def live(conn: aiosqlite.Connection, prefix: str, now: float) -> dict[str, str]:
    """Leases whose name starts with ``prefix`` and that have not run out: name ->
    holder (e.g. ``'worker:'``: the workers alive)."""
    async with conn.execute(
        "SELECT name, holder FROM leases WHERE SUBSTR(name, 1, ?) = ? AND expires_at >= ?",
        (len(prefix), prefix, now),
    ) as cur:
        return {row[0]: row[1] async for row in cur}


async def purge(conn: aiosqlite.Connection, prefix: str, before: float) -> int:
    """Forget the leases named ``prefix...`` that ran out before ``before`` (the
    heartbeats of workers long gone)."""
    cur = await conn.execute(
        "DELETE FROM leases WHERE SUBSTR(name, 1, ?) = ? AND expires_at < ?",
        (len(prefix), prefix, before),
    )
    return cur.rowcount
