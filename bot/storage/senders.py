"""Senders: the WhatsApp numbers an owner has linked."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from bot.domain import Sender, SenderStatus
from bot.storage import dialect
from bot.storage.db import at_ts, from_ts, to_ts

_COLUMNS = (
    "id, owner_id, gateway, phone, label, external_id, status, status_detail, daily_cap,"
    " created_at, linked_at, restricted_until"
)


def _sender(row: aiosqlite.Row) -> Sender:
    return Sender(
        id=row["id"],
        owner_id=row["owner_id"],
        gateway=row["gateway"],
        phone=row["phone"],
        label=row["label"],
        external_id=row["external_id"],
        status=SenderStatus(row["status"]),
        status_detail=row["status_detail"],
        daily_cap=row["daily_cap"],
        created_at=at_ts(row["created_at"]),
        linked_at=from_ts(row["linked_at"]),
        restricted_until=from_ts(row["restricted_until"]),
    )


async def add(
    conn: aiosqlite.Connection,
    *,
    owner_id: int,
    gateway: str,
    phone: str,
    status: SenderStatus,
    now: datetime,
    label: str | None = None,
    external_id: str | None = None,
) -> Sender:
    ts = to_ts(now)
    sender_id = await dialect.of(conn).insert_id(
        conn,
        "INSERT INTO senders (owner_id, gateway, phone, label, external_id, status, linked_at,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (owner_id, gateway, phone, label, external_id, status.value,
         ts if status is SenderStatus.ACTIVE else None, ts, ts),
    )
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM senders WHERE id = ?", (sender_id,)
    ) as c:
        row = await c.fetchone()
    assert row is not None
    return _sender(row)


async def list_for_owner(
    conn: aiosqlite.Connection, owner_id: int, *, include_removed: bool = False
) -> list[Sender]:
    sql = f"SELECT {_COLUMNS} FROM senders WHERE owner_id = ?"
    if not include_removed:
        sql += " AND status <> 'removed'"
    async with conn.execute(sql + " ORDER BY id", (owner_id,)) as cur:
        return [_sender(row) async for row in cur]


async def get(conn: aiosqlite.Connection, owner_id: int, sender_id: int) -> Sender | None:
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM senders WHERE owner_id = ? AND id = ?", (owner_id, sender_id)
    ) as cur:
        row = await cur.fetchone()
    return _sender(row) if row else None


async def get_any(conn: aiosqlite.Connection, sender_id: int) -> Sender | None:
    """A sender by id alone: for gateway events, which name no owner."""
    async with conn.execute(f"SELECT {_COLUMNS} FROM senders WHERE id = ?", (sender_id,)) as cur:
        row = await cur.fetchone()
    return _sender(row) if row else None


async def set_status(
    conn: aiosqlite.Connection, sender_id: int, status: SenderStatus, now: datetime, *,
    detail: str | None = None, until: datetime | None = None,
) -> None:
    await conn.execute(
        "UPDATE senders SET status = ?, status_detail = ?, restricted_until = ?, updated_at = ?"
        " WHERE id = ?",
        (status.value, detail, to_ts(until), to_ts(now), sender_id),
    )


async def ids_by_external_id(
    conn: aiosqlite.Connection, gateway: str, external_ids: list[str]
) -> dict[str, int]:
    """Sender ids by the gateway's handle (a WAHA session), for gateway events. Removed
    senders are left out, and so is a handle that more than one sender claims."""
    found: dict[str, list[int]] = {}
    d = dialect.of(conn)
    async with conn.execute(
        "SELECT external_id, id FROM senders WHERE gateway = ? AND status <> 'removed'"
        f" AND {d.in_list('external_id')}",
        (gateway, d.list_param(external_ids)),
    ) as cur:
        async for row in cur:
            found.setdefault(row[0], []).append(row[1])
    return {handle: ids[0] for handle, ids in found.items() if len(ids) == 1}


async def link(
    conn: aiosqlite.Connection, sender_id: int, *, phone: str, external_id: str | None,
    now: datetime, status: SenderStatus,
) -> None:
    """The number behind a sender is known (linked): its phone and the gateway's handle.
    ``linked_at`` (the start of the warm-up) is set when it becomes active."""
    ts = to_ts(now)
    await conn.execute(
        "UPDATE senders SET phone = ?, external_id = ?, status = ?, status_detail = NULL,"
        " linked_at = CASE WHEN ? = 'active' THEN ? ELSE linked_at END, updated_at = ?"
        " WHERE id = ?",
        (phone, external_id, status.value, status.value, ts, ts, sender_id),
    )


async def set_secret(conn: aiosqlite.Connection, sender_id: int, secret: str | None) -> None:
    """The sender's credential (a Cloud API access token), kept in ``config``; None drops
    it. It is read back only by ``secrets`` for the gateway, never with the sender."""
    d = dialect.of(conn)
    if secret is None:
        await conn.execute(
            f"UPDATE senders SET config = {d.json_remove('config', 'token')} WHERE id = ?",
            (sender_id,))
    else:
        await conn.execute(
            f"UPDATE senders SET config = {d.json_set('config', 'token')} WHERE id = ?",
            (secret, sender_id))


async def secrets(conn: aiosqlite.Connection, gateway: str) -> dict[int, str]:
    """The credentials of a gateway's senders in use, by sender id."""
    token = dialect.of(conn).json_get("config", "token")
    async with conn.execute(
        f"SELECT id, {token} FROM senders WHERE gateway = ?"
        f" AND status <> 'removed' AND {token} IS NOT NULL",
        (gateway,),
    ) as cur:
        return {row[0]: row[1] async for row in cur}


async def linked_external_ids(conn: aiosqlite.Connection, gateway: str) -> list[str]:
    """The handles (WAHA sessions) of senders that were linked once and are not removed."""
    async with conn.execute(
        "SELECT external_id FROM senders WHERE gateway = ? AND status <> 'removed'"
        " AND linked_at IS NOT NULL AND external_id IS NOT NULL", (gateway,),
    ) as cur:
        return [row[0] async for row in cur]


async def set_replaces(conn: aiosqlite.Connection, sender_id: int, lost_id: int) -> None:
    """A number being linked to replace a lost one (it takes over once linked)."""
    await conn.execute(
        f"UPDATE senders SET config = {dialect.of(conn).json_set('config', 'replaces')}"
        " WHERE id = ?", (lost_id, sender_id))


async def replaces(conn: aiosqlite.Connection, sender_id: int) -> int | None:
    async with conn.execute(
        f"SELECT {dialect.of(conn).json_get('config', 'replaces')} FROM senders WHERE id = ?",
        (sender_id,)
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row and row[0] is not None else None


async def ids_by_phone_digits(conn: aiosqlite.Connection, gateway: str) -> dict[str, int]:
    """A gateway's senders in use by their phone's digits (``+994 50...`` -> ``99450...``),
    for events that name a number by its phone. A phone two senders share is left out."""
    found: dict[str, list[int]] = {}
    async with conn.execute(
        "SELECT phone, id FROM senders WHERE gateway = ? AND status NOT IN ('removed', 'linking')",
        (gateway,),
    ) as cur:
        async for row in cur:
            digits = "".join(ch for ch in row[0] if ch.isdigit())
            if digits:
                found.setdefault(digits, []).append(row[1])
    return {digits: ids[0] for digits, ids in found.items() if len(ids) == 1}


async def linking(conn: aiosqlite.Connection, gateway: str) -> list[Sender]:
    """A gateway's senders still waiting to be linked, all owners."""
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM senders WHERE gateway = ? AND status = 'linking' ORDER BY id",
        (gateway,),
    ) as cur:
        return [_sender(row) async for row in cur]
