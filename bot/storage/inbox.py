"""The inbox (migration 0018): each owner's inbox settings (chat or forum topics, the
linked group, the one-time code that links it), one conversation per customer's phone
(its forum topic, muted or not), which customers' messages are still to route, and the
owner's answers, kept as outbound messages of the conversation (``messages`` rows of no
campaign, like a test message: sent, charged, counted against the number's daily cap).

Written and read by the inbox service (``bot/services/inbox.py``); the customers'
messages themselves are ``bot/storage/inbound.py``'s."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from bot.domain import Conversation, InboundMessage, InboxMode, InboxSettings
from bot.storage import dialect
from bot.storage.db import at_ts, from_ts, to_ts

_INBOUND = ("id, owner_id, sender_id, phone, received_at, kind, text, media_ref,"
            " gateway_message_id, contact_id, message_id, campaign_id")
_CONVERSATION = "id, owner_id, phone, created_at, group_chat_id, thread_id, muted_at"


def _inbound(row: aiosqlite.Row) -> InboundMessage:
    return InboundMessage(
        id=row[0], owner_id=row[1], sender_id=row[2], phone=row[3],
        received_at=at_ts(row[4]), kind=row[5], text=row[6], media_ref=row[7],
        gateway_message_id=row[8], contact_id=row[9], message_id=row[10],
        campaign_id=row[11])


def _conversation(row: aiosqlite.Row) -> Conversation:
    return Conversation(id=row[0], owner_id=row[1], phone=row[2], created_at=at_ts(row[3]),
                        group_chat_id=row[4], thread_id=row[5], muted_at=from_ts(row[6]))


# --- settings ------------------------------------------------------------------------------


async def settings(conn: aiosqlite.Connection, owner_id: int) -> InboxSettings:
    """The owner's inbox settings (chat mode when they never changed them)."""
    async with conn.execute(
        "SELECT mode, group_chat_id, group_title, linked_at FROM inbox_settings"
        " WHERE owner_id = ?", (owner_id,),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return InboxSettings(owner_id)
    return InboxSettings(owner_id, InboxMode(row[0]), row[1], row[2], from_ts(row[3]))


async def _ensure(conn: aiosqlite.Connection, owner_id: int, now: datetime) -> None:
    await conn.execute(
        dialect.of(conn).insert_ignore("inbox_settings (owner_id, updated_at)", "VALUES (?, ?)"),
        (owner_id, to_ts(now)))


async def set_link_code(conn: aiosqlite.Connection, owner_id: int, code: str,
                        until: datetime, now: datetime) -> None:
    """The owner's one-time code to link a group, valid until ``until`` (replacing any)."""
    await _ensure(conn, owner_id, now)
    await conn.execute(
        "UPDATE inbox_settings SET link_code = ?, link_code_until = ?, updated_at = ?"
        " WHERE owner_id = ?", (code, to_ts(until), to_ts(now), owner_id))


async def owner_of_code(conn: aiosqlite.Connection, code: str,
                        now: datetime) -> int | None:
    """The owner whose link code this is, while it is valid."""
    async with conn.execute(
        "SELECT owner_id FROM inbox_settings WHERE link_code = ? AND link_code_until > ?",
        (code, to_ts(now)),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else None


async def owner_of_group(conn: aiosqlite.Connection, group_chat_id: int) -> int | None:
    async with conn.execute(
        "SELECT owner_id FROM inbox_settings WHERE group_chat_id = ?", (group_chat_id,),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else None


async def link_group(conn: aiosqlite.Connection, owner_id: int, group_chat_id: int,
                     title: str | None, now: datetime) -> None:
    """The group is the owner's inbox now (topics mode); the code is used up. Topics of
    another group the owner had linked are forgotten (their customers get new ones)."""
    await _ensure(conn, owner_id, now)
    await conn.execute(
        "UPDATE conversations SET group_chat_id = NULL, thread_id = NULL"
        " WHERE owner_id = ? AND group_chat_id <> ?", (owner_id, group_chat_id))
    await conn.execute(
        "UPDATE inbox_settings SET mode = 'topics', group_chat_id = ?, group_title = ?,"
        " linked_at = ?, link_code = NULL, link_code_until = NULL, updated_at = ?"
        " WHERE owner_id = ?", (group_chat_id, title, to_ts(now), to_ts(now), owner_id))


async def set_mode(conn: aiosqlite.Connection, owner_id: int, mode: InboxMode,
                   now: datetime) -> None:
    await _ensure(conn, owner_id, now)
    await conn.execute("UPDATE inbox_settings SET mode = ?, updated_at = ? WHERE owner_id = ?",
                       (mode.value, to_ts(now), owner_id))


async def unlink(conn: aiosqlite.Connection, owner_id: int, now: datetime) -> None:
    """Back to chat mode; the group and its topics are forgotten."""
    await conn.execute(
        "UPDATE inbox_settings SET mode = 'chat', group_chat_id = NULL, group_title = NULL,"
        " linked_at = NULL, updated_at = ? WHERE owner_id = ?", (to_ts(now), owner_id))
    await conn.execute("UPDATE conversations SET group_chat_id = NULL, thread_id = NULL"
                       " WHERE owner_id = ?", (owner_id,))


# --- conversations ---------------------------------------------------------------------------


async def conversation(conn: aiosqlite.Connection, owner_id: int,
                       phone: str) -> Conversation | None:
    async with conn.execute(
        f"SELECT {_CONVERSATION} FROM conversations WHERE owner_id = ? AND phone = ?",
        (owner_id, phone),
    ) as cur:
        row = await cur.fetchone()
    return _conversation(row) if row else None


async def conversation_by_id(conn: aiosqlite.Connection, owner_id: int,
                             conversation_id: int) -> Conversation | None:
    async with conn.execute(
        f"SELECT {_CONVERSATION} FROM conversations WHERE id = ? AND owner_id = ?",
        (conversation_id, owner_id),
    ) as cur:
        row = await cur.fetchone()
    return _conversation(row) if row else None


async def by_topic(conn: aiosqlite.Connection, group_chat_id: int,
                   thread_id: int) -> Conversation | None:
    """The conversation whose forum topic this is."""
    async with conn.execute(
        f"SELECT {_CONVERSATION} FROM conversations WHERE group_chat_id = ? AND thread_id = ?",
        (group_chat_id, thread_id),
    ) as cur:
        row = await cur.fetchone()
    return _conversation(row) if row else None


async def ensure_conversation(conn: aiosqlite.Connection, owner_id: int, phone: str,
                              now: datetime) -> Conversation:
    await conn.execute(
        dialect.of(conn).insert_ignore("conversations (owner_id, phone, created_at)",
                                       "VALUES (?, ?, ?)"),
        (owner_id, phone, to_ts(now)))
    found = await conversation(conn, owner_id, phone)
    assert found is not None
    return found


async def conversations_of(conn: aiosqlite.Connection, owner_id: int,
                           phones: Sequence[str]) -> dict[str, Conversation]:
    """The owner's conversations with these phones (by phone; the others absent)."""
    d = dialect.of(conn)
    async with conn.execute(
        f"SELECT {_CONVERSATION} FROM conversations WHERE owner_id = ?"
        f" AND {d.in_list('phone')}", (owner_id, d.list_param(phones)),
    ) as cur:
        return {row[2]: _conversation(row) for row in await cur.fetchall()}


async def ensure_conversations(conn: aiosqlite.Connection, owner_id: int,
                               phones: Sequence[str], now: datetime) -> dict[str, Conversation]:
    """A conversation for each phone (the ones there already kept); all of them by phone."""
    d = dialect.of(conn)
    await d.execute_many(
        conn, d.insert_ignore("conversations (owner_id, phone, created_at)", "VALUES (?, ?, ?)"),
        [(owner_id, phone, to_ts(now)) for phone in phones])
    return await conversations_of(conn, owner_id, phones)


async def contact_names(conn: aiosqlite.Connection, owner_id: int,
                        phones: Sequence[str]) -> dict[str, str]:
    """The names of the owner's contacts with these phones (those that have one)."""
    d = dialect.of(conn)
    async with conn.execute(
        f"SELECT phone, name FROM contacts WHERE owner_id = ? AND {d.in_list('phone')}"
        " AND name IS NOT NULL", (owner_id, d.list_param(phones)),
    ) as cur:
        return {row[0]: row[1] for row in await cur.fetchall()}


async def set_topics(conn: aiosqlite.Connection,
                     topics: Sequence[tuple[int, int | None, int | None]]) -> None:
    """(conversation, group, thread) for each: ``set_topic`` of many, in one trip."""
    if topics:
        await dialect.of(conn).execute_many(
            conn, "UPDATE conversations SET group_chat_id = ?, thread_id = ? WHERE id = ?",
            [(group, thread, conversation) for conversation, group, thread in topics])


async def set_topic(conn: aiosqlite.Connection, conversation_id: int,
                    group_chat_id: int | None, thread_id: int | None) -> None:
    """The conversation's forum topic (None, None: it has none now)."""
    await conn.execute(
        "UPDATE conversations SET group_chat_id = ?, thread_id = ? WHERE id = ?",
        (group_chat_id, thread_id, conversation_id))


async def set_muted(conn: aiosqlite.Connection, owner_id: int, conversation_id: int,
                    at: datetime | None) -> None:
    await conn.execute("UPDATE conversations SET muted_at = ? WHERE id = ? AND owner_id = ?",
                       (to_ts(at), conversation_id, owner_id))


async def forget_conversation(conn: aiosqlite.Connection, owner_id: int, phone: str) -> None:
    await conn.execute("DELETE FROM conversations WHERE owner_id = ? AND phone = ?",
                       (owner_id, phone))


# --- routing customers' messages -----------------------------------------------------------


async def unrouted(conn: aiosqlite.Connection, owner_id: int, limit: int,
                   after: int = 0) -> list[InboundMessage]:
    """The owner's customers' messages still to route (with an id above ``after``),
    oldest first."""
    async with conn.execute(
        f"SELECT {_INBOUND} FROM inbound_messages WHERE owner_id = ? AND routed_at IS NULL"
        " AND id > ? ORDER BY id LIMIT ?", (owner_id, after, limit),
    ) as cur:
        return [_inbound(row) for row in await cur.fetchall()]


async def owners_unrouted(conn: aiosqlite.Connection) -> list[int]:
    """The owners with customers' messages still to route (after a restart)."""
    async with conn.execute(
        "SELECT DISTINCT owner_id FROM inbound_messages WHERE routed_at IS NULL",
    ) as cur:
        return [int(row[0]) for row in await cur.fetchall()]


async def mark_routed(conn: aiosqlite.Connection, ids: Sequence[int], now: datetime) -> None:
    if not ids:
        return
    d = dialect.of(conn)
    await conn.execute(
        f"UPDATE inbound_messages SET routed_at = ? WHERE {d.in_list('id')}"
        " AND routed_at IS NULL", (to_ts(now), d.list_param(ids)))


async def inbound_message(conn: aiosqlite.Connection, owner_id: int,
                          inbound_id: int) -> InboundMessage | None:
    async with conn.execute(
        f"SELECT {_INBOUND} FROM inbound_messages WHERE id = ? AND owner_id = ?",
        (inbound_id, owner_id),
    ) as cur:
        row = await cur.fetchone()
    return _inbound(row) if row else None


async def last_inbound(conn: aiosqlite.Connection, owner_id: int,
                       phone: str) -> InboundMessage | None:
    """The customer's latest message to any of the owner's numbers."""
    async with conn.execute(
        f"SELECT {_INBOUND} FROM inbound_messages WHERE owner_id = ? AND phone = ?"
        " ORDER BY received_at DESC, id DESC LIMIT 1", (owner_id, phone),
    ) as cur:
        row = await cur.fetchone()
    return _inbound(row) if row else None


# --- the owner's answers -------------------------------------------------------------------


async def record_answer(conn: aiosqlite.Connection, owner_id: int, sender_id: int,
                        phone: str, contact_id: int | None, gateway_id: str,
                        content: str, now: datetime) -> int:
    """The owner's answer the gateway accepted: a sent message of no campaign (``content``:
    what it said, as JSON); its id."""
    ts = to_ts(now)
    return await dialect.of(conn).insert_id(
        conn,
        "INSERT INTO messages (owner_id, sender_id, phone, contact_id, planned_at, status,"
        " attempts, gateway_message_id, sent_at, updated_at, queued_at, content)"
        " VALUES (?, ?, ?, ?, ?, 'sent', 1, ?, ?, ?, ?, ?)",
        (owner_id, sender_id, phone, contact_id, ts, gateway_id or None, ts, ts, ts, content))
