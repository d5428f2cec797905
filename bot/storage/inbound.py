"""Customers' messages to the owners' numbers (``inbound_messages``, migration 0016), and
the marks they leave: ``messages.replied_at`` (the campaign message answered, its first
answer's time) and ``contacts.replied_at`` (the contact's latest message).

Written by the replies service (``bot/services/replies.py``) in the transaction that also
handles an opt-out word; read by the campaign's report and follow-ups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from bot.domain import InboundMessage
from bot.storage import dialect
from bot.storage.db import at_ts, to_ts

_COLUMNS = ("id, owner_id, sender_id, phone, received_at, kind, text, media_ref,"
            " gateway_message_id, contact_id, message_id, campaign_id")


def _inbound(row: aiosqlite.Row) -> InboundMessage:
    return InboundMessage(
        id=row[0], owner_id=row[1], sender_id=row[2], phone=row[3],
        received_at=at_ts(row[4]), kind=row[5], text=row[6], media_ref=row[7],
        gateway_message_id=row[8], contact_id=row[9], message_id=row[10],
        campaign_id=row[11])


async def answered(conn: aiosqlite.Connection, owner_id: int, sender_id: int,
                   contact_id: int) -> tuple[int, int] | None:
    """(message, campaign) of the last campaign message the number ``sender_id`` sent to
    the contact: what a message from that contact to that number answers; None if none."""
    async with conn.execute(
        "SELECT id, campaign_id FROM messages WHERE contact_id = ? AND owner_id = ?"
        " AND sender_id = ? AND campaign_id IS NOT NULL AND sent_at IS NOT NULL"
        " ORDER BY sent_at DESC, id DESC LIMIT 1", (contact_id, owner_id, sender_id),
    ) as cur:
        row = await cur.fetchone()
    return (int(row[0]), int(row[1])) if row else None


async def known(conn: aiosqlite.Connection, sender_id: int, gateway_message_id: str) -> bool:
    """Whether the number's message with this gateway id is kept already (a webhook the
    gateway delivered again)."""
    async with conn.execute(
        "SELECT 1 FROM inbound_messages WHERE sender_id = ? AND gateway_message_id = ?",
        (sender_id, gateway_message_id),
    ) as cur:
        return await cur.fetchone() is not None


async def add(conn: aiosqlite.Connection, message: InboundMessage) -> int:
    """Keep a customer's message (``message.id`` is ignored); its id. Marks the campaign
    message it answered (its first answer's time) and the contact (its latest)."""
    ts = to_ts(message.received_at)
    new_id = await dialect.of(conn).insert_id(
        conn,
        "INSERT INTO inbound_messages (owner_id, sender_id, phone, received_at, kind, text,"
        " media_ref, gateway_message_id, contact_id, message_id, campaign_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (message.owner_id, message.sender_id, message.phone, ts, message.kind, message.text,
         message.media_ref, message.gateway_message_id, message.contact_id,
         message.message_id, message.campaign_id),
    )
    if message.message_id is not None:
        await conn.execute(
            "UPDATE messages SET replied_at = ? WHERE id = ? AND owner_id = ?"
            " AND (replied_at IS NULL OR replied_at > ?)",
            (ts, message.message_id, message.owner_id, ts))
    if message.contact_id is not None:
        await conn.execute(
            "UPDATE contacts SET replied_at = ? WHERE id = ? AND owner_id = ?"
            " AND (replied_at IS NULL OR replied_at < ?)",
            (ts, message.contact_id, message.owner_id, ts))
    return new_id


async def of_phone(conn: aiosqlite.Connection, owner_id: int, phone: str,
                   limit: int = 20) -> list[InboundMessage]:
    """The owner's latest messages from this phone, newest first."""
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM inbound_messages WHERE owner_id = ? AND phone = ?"
        " ORDER BY received_at DESC, id DESC LIMIT ?", (owner_id, phone, limit),
    ) as cur:
        return [_inbound(row) for row in await cur.fetchall()]


async def first_texts(conn: aiosqlite.Connection, owner_id: int,
                      message_ids: Sequence[int]) -> dict[int, str]:
    """The first answer's text (a caption, or empty for an attachment without one) to each
    of these campaign messages that has one."""
    if not message_ids:
        return {}
    d = dialect.of(conn)
    async with conn.execute(
        "SELECT message_id, text FROM ("
        "  SELECT message_id, text, ROW_NUMBER() OVER (PARTITION BY message_id"
        "                                             ORDER BY received_at, id) AS place"
        f"  FROM inbound_messages WHERE owner_id = ? AND {d.in_list('message_id')}) AS r"
        " WHERE place = 1", (owner_id, d.list_param(message_ids)),
    ) as cur:
        return {int(row[0]): row[1] or "" for row in await cur.fetchall()}


async def replied_at(conn: aiosqlite.Connection, owner_id: int,
                     contact_id: int) -> datetime | None:
    """When the contact last wrote to one of the owner's numbers (None: never)."""
    async with conn.execute(
        "SELECT replied_at FROM contacts WHERE id = ? AND owner_id = ?", (contact_id, owner_id),
    ) as cur:
        row = await cur.fetchone()
    return at_ts(row[0]) if row and row[0] is not None else None
