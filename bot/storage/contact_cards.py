"""What a contact's card shows and changes (``bot/services/contact_card.py``): the owner's
contacts found by name, the messages sent to one, a name or attribute edited, and a
contact deleted and forgotten (the texts of its messages removed in both directions)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.domain import Contact, MessageStatus
from bot.storage import contacts as contacts_repo
from bot.storage.db import at_ts, from_ts, to_ts

_CONTACT = "id, owner_id, phone, name, attributes, opted_out_at, opt_out_reason"


@dataclass(frozen=True, slots=True)
class Outbound:
    """A message sent (or being sent) to the contact: a campaign's (its name) or one of
    the owner's answers (``text``, what it said)."""

    id: int
    at: datetime
    status: MessageStatus
    campaign_id: int | None = None
    campaign_name: str | None = None
    text: str | None = None


async def by_name(conn: aiosqlite.Connection, owner_id: int, words: str,
                  limit: int) -> list[Contact]:
    """The owner's contacts whose name holds ``words`` (as typed, or capitalised: SQLite
    folds the case of ASCII letters only), by name."""
    pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    capital = pattern[:1] + pattern[1:2].upper() + pattern[2:]
    async with conn.execute(
        f"SELECT {_CONTACT} FROM contacts WHERE owner_id = ? AND name IS NOT NULL"
        " AND (name LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\') ORDER BY name, id LIMIT ?",
        (owner_id, pattern, capital, limit),
    ) as cur:
        return [_contact(row) for row in await cur.fetchall()]


def _contact(row: aiosqlite.Row) -> Contact:
    return Contact(id=row[0], owner_id=row[1], phone=row[2], name=row[3],
                   attributes=json.loads(row[4] or "{}"), opted_out_at=from_ts(row[5]),
                   opt_out_reason=row[6])


async def outbound(conn: aiosqlite.Connection, owner_id: int, contact_id: int,
                   limit: int) -> list[Outbound]:
    """The latest messages to the contact, newest first."""
    async with conn.execute(
        "SELECT m.id, COALESCE(m.sent_at, m.planned_at), m.status, m.campaign_id, c.name,"
        " m.content FROM messages m LEFT JOIN campaigns c ON c.id = m.campaign_id"
        " WHERE m.contact_id = ? AND m.owner_id = ?"
        " ORDER BY COALESCE(m.sent_at, m.planned_at) DESC, m.id DESC LIMIT ?",
        (contact_id, owner_id, limit),
    ) as cur:
        rows = await cur.fetchall()
    return [Outbound(int(r[0]), at_ts(r[1]), MessageStatus(r[2]), r[3], r[4], _said(r[5]))
            for r in rows]


def _said(content: str | None) -> str | None:
    if not content:
        return None
    try:
        data = json.loads(content)
    except ValueError:
        return None
    text = data.get("text") if isinstance(data, dict) else None
    return text if isinstance(text, str) else None


async def update(conn: aiosqlite.Connection, owner_id: int, contact_id: int,
                 name: str | None, attributes: Mapping[str, str], now: datetime) -> None:
    await conn.execute(
        "UPDATE contacts SET name = ?, attributes = ?, updated_at = ? WHERE id = ?"
        " AND owner_id = ?",
        (name, json.dumps(dict(attributes), ensure_ascii=False), to_ts(now), contact_id,
         owner_id))


async def forget(conn: aiosqlite.Connection, owner_id: int, contact: Contact) -> None:
    """Delete the contact as deleting it by API does (``contacts.delete``: an opted-out
    number stays, nameless, so that it stays opted out) and forget what was said: the
    texts and attachments of the customer's messages, the texts of the owner's answers
    and single messages to them, and the conversation (its topic, its mute). The rows
    stay, without words, for the campaigns' figures and the credits they cost."""
    await conn.execute(
        "UPDATE inbound_messages SET text = NULL, media_ref = NULL WHERE owner_id = ?"
        " AND phone = ?", (owner_id, contact.phone))
    await conn.execute(
        "UPDATE messages SET content = NULL WHERE owner_id = ? AND content IS NOT NULL"
        " AND (contact_id = ? OR phone = ?)", (owner_id, contact.id, contact.phone))
    await conn.execute("DELETE FROM conversations WHERE owner_id = ? AND phone = ?",
                       (owner_id, contact.phone))
    await contacts_repo.delete(conn, owner_id, contact.phone)
