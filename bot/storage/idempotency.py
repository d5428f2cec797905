"""Stored answers of ``Idempotency-Key`` requests (migration 0009): one row per owner and
key; ``bot/services/idempotency.py`` says when they are written, read and swept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.storage import dialect
from bot.storage.db import at_ts, to_ts


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    fingerprint: bytes
    status: int
    body: bytes
    created_at: datetime


async def get(conn: aiosqlite.Connection, owner_id: int, key: str) -> StoredAnswer | None:
    # one trip to the connection's thread (execute + fetchone + close would be three):
    # this is read before every POST that carries a key
    rows = list(await conn.execute_fetchall(
        "SELECT fingerprint, status, body, created_at FROM idempotency_keys"
        " WHERE owner_id = ? AND key = ?", (owner_id, key)))
    if not rows:
        return None
    row = rows[0]
    return StoredAnswer(bytes(row[0]), int(row[1]), bytes(row[2]), at_ts(row[3]))


async def put(tx: aiosqlite.Connection, owner_id: int, key: str, fingerprint: bytes,
              status: int, body: bytes, now: datetime) -> None:
    """Store the answer; a row of the same key is replaced (the service calls this only
    when that row has expired)."""
    await tx.execute(
        "INSERT INTO idempotency_keys"
        " (owner_id, key, fingerprint, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?) "
        + dialect.of(tx).upsert(["owner_id", "key"],
                                ["fingerprint", "status", "body", "created_at"]),
        (owner_id, key, fingerprint, status, body, to_ts(now)),
    )


async def sweep(tx: aiosqlite.Connection, before: datetime, limit: int) -> int:
    """Delete at most ``limit`` rows stored before ``before``; how many went."""
    cur = await tx.execute(
        "DELETE FROM idempotency_keys WHERE (owner_id, key) IN ("
        " SELECT owner_id, key FROM idempotency_keys WHERE created_at < ?"
        " ORDER BY created_at LIMIT ?)", (to_ts(before), limit),
    )
    return cur.rowcount
