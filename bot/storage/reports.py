"""A campaign's report (``bot/services/reports.py``): its messages one row each, read in
pages by id, with what the report shows of the contact, the number and the first reply."""

from __future__ import annotations

from typing import NamedTuple

import aiosqlite


class ReportRow(NamedTuple):
    """One message of the campaign, as the report reads it (times: epoch seconds)."""

    id: int
    phone: str
    status: str
    variant: int
    sent_at: float | None
    delivered_at: float | None
    read_at: float | None
    error_category: str | None
    error_detail: str | None
    replied_at: float | None
    contact_id: int | None
    name: str | None
    attributes: str | None  # the contact's JSON object (None: the contact is gone)
    number: str | None  # the number it went from: its label, else its phone
    first_reply: str | None  # "<kind>:<text>" of the first answer, when it has one


async def count(conn: aiosqlite.Connection, owner_id: int, campaign_id: int) -> int:
    async with conn.execute(
        "SELECT COUNT(*) FROM messages WHERE owner_id = ? AND campaign_id = ?",
        (owner_id, campaign_id),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def page(conn: aiosqlite.Connection, owner_id: int, campaign_id: int, *,
               after: int = 0, limit: int = 1000) -> list[ReportRow]:
    """The campaign's messages with an id above ``after``, ``limit`` of them, by id."""
    async with conn.execute(
        "SELECT m.id, m.phone, m.status, m.variant, m.sent_at, m.delivered_at, m.read_at,"
        " m.error_category, m.error_detail, m.replied_at, m.contact_id, c.name, c.attributes,"
        " COALESCE(NULLIF(s.label, ''), s.phone),"
        " CASE WHEN m.replied_at IS NOT NULL THEN ("
        "   SELECT i.kind || ':' || COALESCE(i.text, '') FROM inbound_messages i"
        "   WHERE i.message_id = m.id ORDER BY i.received_at, i.id LIMIT 1) END"
        " FROM messages m"
        " LEFT JOIN contacts c ON c.id = m.contact_id AND c.owner_id = m.owner_id"
        " LEFT JOIN senders s ON s.id = m.sender_id AND s.owner_id = m.owner_id"
        " WHERE m.owner_id = ? AND m.campaign_id = ? AND m.id > ?"
        " ORDER BY m.id LIMIT ?", (owner_id, campaign_id, after, limit),
    ) as cur:
        return [ReportRow(*row) for row in await cur.fetchall()]
