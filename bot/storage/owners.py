"""Owners: the businesses using Qasid, and their registration state."""

from __future__ import annotations

import json
from datetime import datetime

import aiosqlite

from bot.domain import Language, Owner, OwnerStatus
from bot.storage import dialect
from bot.storage.db import at_ts, from_ts, to_ts

_COLUMNS = (
    "id, telegram_id, chat_id, language, status, status_reason, name, company, phone,"
    " timezone, region, terms_accepted_at, approved_at, created_at"
)


def _owner(row: aiosqlite.Row) -> Owner:
    return Owner(
        id=row["id"],
        telegram_id=row["telegram_id"],
        chat_id=row["chat_id"],
        language=Language(row["language"]),
        status=OwnerStatus(row["status"]),
        status_reason=row["status_reason"],
        name=row["name"],
        company=row["company"],
        phone=row["phone"],
        timezone=row["timezone"],
        region=row["region"],
        terms_accepted_at=from_ts(row["terms_accepted_at"]),
        approved_at=from_ts(row["approved_at"]),
        created_at=at_ts(row["created_at"]),
    )


async def get(conn: aiosqlite.Connection, owner_id: int) -> Owner | None:
    async with conn.execute(f"SELECT {_COLUMNS} FROM owners WHERE id = ?", (owner_id,)) as cur:
        row = await cur.fetchone()
    return _owner(row) if row else None


async def get_by_telegram(conn: aiosqlite.Connection, telegram_id: int) -> Owner | None:
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM owners WHERE telegram_id = ?", (telegram_id,)
    ) as cur:
        row = await cur.fetchone()
    return _owner(row) if row else None


async def add(
    conn: aiosqlite.Connection,
    *,
    telegram_id: int,
    chat_id: int,
    language: Language,
    now: datetime,
) -> Owner:
    ts = to_ts(now)
    owner_id = await dialect.of(conn).insert_id(
        conn,
        "INSERT INTO owners (telegram_id, chat_id, language, status, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (telegram_id, chat_id, language.value, OwnerStatus.REGISTERING.value, ts, ts),
    )
    owner = await get(conn, owner_id)
    assert owner is not None
    return owner


async def save(conn: aiosqlite.Connection, owner: Owner, now: datetime) -> None:
    await conn.execute(
        "UPDATE owners SET chat_id = ?, language = ?, status = ?, status_reason = ?, name = ?,"
        " company = ?, phone = ?, timezone = ?, region = ?, terms_accepted_at = ?,"
        " approved_at = ?, updated_at = ? WHERE id = ?",
        (
            owner.chat_id,
            owner.language.value,
            owner.status.value,
            owner.status_reason,
            owner.name,
            owner.company,
            owner.phone,
            owner.timezone,
            owner.region,
            to_ts(owner.terms_accepted_at),
            to_ts(owner.approved_at),
            to_ts(now),
            owner.id,
        ),
    )


async def list_by_status(
    conn: aiosqlite.Connection, status: OwnerStatus, limit: int = 50
) -> list[Owner]:
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM owners WHERE status = ? ORDER BY created_at LIMIT ?",
        (status.value, limit),
    ) as cur:
        return [_owner(row) async for row in cur]


async def preferences(conn: aiosqlite.Connection, owner_id: int) -> tuple[dict, bool]:
    """(alerts chosen, failover) from /settings."""
    async with conn.execute(
        "SELECT alerts, failover FROM owners WHERE id = ?", (owner_id,)
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return {}, False
    return json.loads(row[0] or "{}"), bool(row[1])


async def set_preferences(conn: aiosqlite.Connection, owner_id: int, alerts: dict,
                          failover: bool, now: datetime) -> None:
    await conn.execute(
        "UPDATE owners SET alerts = ?, failover = ?, updated_at = ? WHERE id = ?",
        (json.dumps(alerts), int(failover), to_ts(now), owner_id),
    )
