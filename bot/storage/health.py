"""The live health guard's storage (migration 0019): each number's guard row (mode, gap
factor, the gateway's capping / quality / tier) and the log of warnings and changes.

Written by the guard (``bot/services/health_guard.py``) only; read by the dispatcher,
/numbers, the risk check and the post-mortem. Times are epoch seconds (a datetime is
taken too)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from bot.domain import SenderGuard, SenderWarning
from bot.storage import dialect
from bot.storage.db import at_ts, from_ts

_FIELDS = ("capping", "quality", "tier", "mode", "gap_factor")


def _ts(value: float | datetime) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


async def guards(conn: aiosqlite.Connection, sender_ids: Sequence[int]
                 ) -> dict[int, SenderGuard]:
    """Every asked number's guard (the default for one the guard never acted on), in one
    query."""
    out = {sid: SenderGuard(sid) for sid in sender_ids}
    if not out:
        return out
    d = dialect.of(conn)
    async with conn.execute(
        "SELECT sender_id, mode, gap_factor, capping, quality, tier, updated_at"
        f" FROM sender_guard WHERE {d.in_list('sender_id')}",
        (d.list_param(list(out)),),
    ) as cur:
        async for r in cur:
            out[r[0]] = SenderGuard(r[0], r[1], float(r[2]), r[3], r[4], r[5], from_ts(r[6]))
    return out


async def warnings(conn: aiosqlite.Connection, sender_id: int, since: float | datetime
                   ) -> list[SenderWarning]:
    """The number's warnings at or after ``since``, oldest first."""
    async with conn.execute(
        "SELECT sender_id, at, kind, detail FROM sender_warnings"
        " WHERE sender_id = ? AND at >= ? ORDER BY at, id", (sender_id, _ts(since)),
    ) as cur:
        return [SenderWarning(r[0], at_ts(r[1]), r[2], json.loads(r[3] or "{}"))
                async for r in cur]


async def last_warnings(conn: aiosqlite.Connection, sender_ids: Sequence[int], limit: int
                        ) -> dict[int, list[SenderWarning]]:
    """Each number's ``limit`` latest warnings, newest first (for /numbers)."""
    out: dict[int, list[SenderWarning]] = {sid: [] for sid in sender_ids}
    if not out:
        return out
    d = dialect.of(conn)
    async with conn.execute(
        "SELECT sender_id, at, kind, detail FROM sender_warnings w"
        f" WHERE {d.in_list('sender_id')} AND (SELECT COUNT(*) FROM sender_warnings n"
        "  WHERE n.sender_id = w.sender_id AND (n.at > w.at OR (n.at = w.at AND n.id > w.id)))"
        " < ? ORDER BY sender_id, at DESC, id DESC",
        (d.list_param(list(out)), limit),
    ) as cur:
        async for r in cur:
            out[r[0]].append(SenderWarning(r[0], at_ts(r[1]), r[2], json.loads(r[3] or "{}")))
    return out


async def record_warning(tx: aiosqlite.Connection, owner_id: int, sender_id: int,
                         at: float | datetime, kind: str, detail: dict[str, Any]) -> None:
    await tx.execute(
        "INSERT INTO sender_warnings (sender_id, owner_id, at, kind, detail)"
        " VALUES (?, ?, ?, ?, ?)",
        (sender_id, owner_id, _ts(at), kind, json.dumps(detail, sort_keys=True, default=str)))


async def set_guard(tx: aiosqlite.Connection, owner_id: int, sender_id: int,
                    now: float | datetime, **fields: Any) -> None:
    """Insert or update the number's guard row: only the given fields change (capping,
    quality, tier, mode, gap_factor)."""
    unknown = set(fields) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown guard fields: {sorted(unknown)}")
    cols = list(fields)
    names = ", ".join(["sender_id", "owner_id", "updated_at", *cols])
    marks = ", ".join("?" * (3 + len(cols)))
    await tx.execute(
        f"INSERT INTO sender_guard ({names}) VALUES ({marks}) "
        + dialect.of(tx).upsert(["sender_id"], ["updated_at", *cols]),
        (sender_id, owner_id, _ts(now), *(fields[c] for c in cols)))


async def watched(conn: aiosqlite.Connection) -> list[int]:
    """The active numbers that have queued messages (the guard's poll)."""
    async with conn.execute(
        "SELECT s.id FROM senders s WHERE s.status = 'active'"
        " AND EXISTS (SELECT 1 FROM messages m WHERE m.sender_id = s.id"
        " AND m.status = 'queued') ORDER BY s.id",
    ) as cur:
        return [r[0] async for r in cur]
