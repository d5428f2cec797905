"""Messages as the HTTP API sees them: single messages written to the outbox, a message's
state, a campaign's messages page by page, and what the outbox knows of the recipients.

A single message is a row of ``messages`` without a campaign; ``content`` holds what it
says (JSON, ``bot/services/messages.py``), ``client_ref`` the integrator's reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from bot.domain import Message, MessageStatus
from bot.storage import dialect
from bot.storage.db import from_ts

_COLUMNS = (
    "id, owner_id, phone, status, planned_at, updated_at, campaign_id, sender_id, contact_id,"
    " client_ref, attempts, queued_at, sent_at, delivered_at, read_at, error_category,"
    " error_detail"
)


def _message(row: aiosqlite.Row) -> Message:
    return Message(
        id=row[0], owner_id=row[1], phone=row[2], status=MessageStatus(row[3]),
        planned_at=from_ts(row[4]), updated_at=from_ts(row[5]),  # type: ignore[arg-type]  # NOT NULL columns
        campaign_id=row[6], sender_id=row[7], contact_id=row[8], client_ref=row[9],
        attempts=row[10], queued_at=from_ts(row[11]), sent_at=from_ts(row[12]),
        delivered_at=from_ts(row[13]), read_at=from_ts(row[14]), error_category=row[15],
        error_detail=row[16],
    )


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A single message to queue: its id is chosen by the caller (``next_id``, under the
    writer lock), so that a batch written in one statement knows every row's id."""

    id: int
    owner_id: int
    sender_id: int
    contact_id: int | None
    phone: str
    variant: int
    planned_at: float
    content: str  # JSON
    client_ref: str | None
    automation_id: int | None = None  # the automation that produced it


_NEW_COLUMNS = ("id", "owner_id", "sender_id", "contact_id", "phone", "variant", "planned_at",
                "content", "client_ref", "automation_id", "status", "queued_at", "updated_at")


async def next_id(conn: aiosqlite.Connection) -> int:
    """The id the next message row gets (call it inside the transaction that writes)."""
    async with conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM messages") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 1


async def add_many(conn: aiosqlite.Connection, rows: Sequence[NewMessage], now: float) -> int:
    """Queue single messages, all in one statement (the rows go in as one JSON array)."""
    d = dialect.of(conn)
    await d.write_rows(
        conn, "messages", _NEW_COLUMNS,
        [(m.id, m.owner_id, m.sender_id, m.contact_id, m.phone, m.variant, m.planned_at,
          m.content, m.client_ref, m.automation_id, MessageStatus.QUEUED.value, now, now)
         for m in rows])
    if rows:
        await d.ids_taken(conn, "messages")  # a campaign's rows get the ids after these
    return len(rows)


async def get(conn: aiosqlite.Connection, owner_id: int, message_id: int) -> Message | None:
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM messages WHERE id = ? AND owner_id = ?", (message_id, owner_id)
    ) as cur:
        row = await cur.fetchone()
    return _message(row) if row else None


async def content(conn: aiosqlite.Connection, message_ids: Sequence[int]) -> dict[int, str]:
    """What single messages say (their ``content``), by id."""
    d = dialect.of(conn)
    async with conn.execute(
        f"SELECT id, content FROM messages WHERE {d.in_list('id')}"
        " AND content IS NOT NULL", (d.list_param(message_ids),),
    ) as cur:
        return {row[0]: row[1] async for row in cur}


async def of_campaign(conn: aiosqlite.Connection, owner_id: int, campaign_id: int,
                      after: int, limit: int) -> list[Message]:
    """A campaign's messages (every run) by id, the first ``limit`` above ``after``.

    A run's rows are written in one statement, so their ids are consecutive: the rows are
    read along the primary key from the campaign's first id on (``+campaign_id``: not
    through the (campaign, status) index, which would read and sort the whole campaign
    for every page)."""
    first = "(SELECT COALESCE(MIN(id), 0) - 1 FROM messages WHERE campaign_id = ?)"
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM messages WHERE owner_id = ? AND +campaign_id = ?"
        f" AND id > {dialect.of(conn).greatest('?', first)} ORDER BY id LIMIT ?",
        (owner_id, campaign_id, after, campaign_id, limit),
    ) as cur:
        return [_message(row) async for row in cur]


@dataclass(frozen=True, slots=True)
class Known:
    """What the owner's contacts say of a phone a message goes to."""

    contact_id: int
    opted_out: bool
    name: str | None
    attributes: str  # JSON object


async def known_phones(conn: aiosqlite.Connection,
                       pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], Known]:
    """(owner, phone) -> the contact, for those of ``pairs`` that are contacts."""
    d = dialect.of(conn)
    async with conn.execute(
        "SELECT c.owner_id, c.phone, c.id, c.opted_out_at IS NOT NULL, c.name, c.attributes"
        f" FROM {d.array_items('?')} AS p JOIN contacts c"
        f" ON c.owner_id = {d.element('p.value', 0, 'INTEGER')}"
        f" AND c.phone = {d.element('p.value', 1)}",
        (d.list_param([list(p) for p in pairs]),),
    ) as cur:
        return {(row[0], row[1]): Known(row[2], bool(row[3]), row[4], row[5])
                async for row in cur}


async def set_client_refs(conn: aiosqlite.Connection, owner_id: int, campaign_id: int,
                          run: int, refs: Sequence[tuple[str, str]]) -> int:
    """A campaign's (phone, client reference) pairs onto its run's messages (each found
    through the contact's (owner, phone) and the outbox's (campaign, run, contact) index)."""
    d = dialect.of(conn)
    cur = await conn.execute(
        "UPDATE messages SET client_ref = r.ref FROM ("
        f" SELECT c.id AS contact_id, {d.element('p.value', 1)} AS ref"
        f" FROM {d.array_items('?')} AS p"
        f" JOIN contacts c ON c.owner_id = ? AND c.phone = {d.element('p.value', 0)}) AS r"
        " WHERE messages.campaign_id = ? AND messages.run = ?"
        " AND messages.contact_id = r.contact_id",
        (d.list_param([list(r) for r in refs]), owner_id, campaign_id, run),
    )
    return cur.rowcount
