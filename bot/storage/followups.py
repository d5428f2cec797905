"""What a campaign's follow-ups read and write (``bot/services/followups.py``): each
recipient's latest message in it, and the failed messages sent again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import aiosqlite

from bot.storage import dialect


class Recipient(NamedTuple):
    """A contact of the campaign (still the owner's and not opted out), by its latest
    message in it: that message's outcome, and whether any of its messages was answered."""

    contact_id: int
    status: str
    error_category: str | None
    error_detail: str | None
    replied: bool


class Failed(NamedTuple):
    """A failed message of the campaign's current run, to a contact still messageable."""

    id: int
    sender_id: int | None
    error_category: str | None
    error_detail: str | None


async def recipients(conn: aiosqlite.Connection, owner_id: int,
                     campaign_id: int) -> list[Recipient]:
    """Every recipient of the campaign who may still be messaged, in contact order."""
    d = dialect.of(conn)
    async with conn.execute(
        "SELECT m.contact_id, m.status, m.error_category, m.error_detail, r.replied"
        " FROM (SELECT contact_id, MAX(id) AS id,"
        f"       {d.count_if('replied_at IS NOT NULL')} AS replied"
        "       FROM messages WHERE owner_id = ? AND campaign_id = ?"
        "       AND contact_id IS NOT NULL GROUP BY contact_id) AS r"
        " JOIN messages m ON m.id = r.id"
        " JOIN contacts c ON c.id = r.contact_id AND c.owner_id = ?"
        " WHERE c.opted_out_at IS NULL ORDER BY m.contact_id",
        (owner_id, campaign_id, owner_id),
    ) as cur:
        return [Recipient(row[0], row[1], row[2], row[3], bool(row[4]))
                for row in await cur.fetchall()]


async def failed(conn: aiosqlite.Connection, owner_id: int, campaign_id: int,
                 run: int) -> list[Failed]:
    """The run's failed messages whose contact is still the owner's and not opted out."""
    async with conn.execute(
        "SELECT m.id, m.sender_id, m.error_category, m.error_detail FROM messages m"
        " JOIN contacts c ON c.id = m.contact_id AND c.owner_id = m.owner_id"
        " WHERE m.owner_id = ? AND m.campaign_id = ? AND m.run = ? AND m.status = 'failed'"
        " AND c.opted_out_at IS NULL ORDER BY m.id", (owner_id, campaign_id, run),
    ) as cur:
        return [Failed(row[0], row[1], row[2], row[3]) for row in await cur.fetchall()]


async def requeue(conn: aiosqlite.Connection, owner_id: int,
                  messages: Sequence[tuple[int, int]], now: float) -> int:
    """Failed messages queued again, due now, each from the number given:
    (message, sender). Their attempts, error and gateway id start over. How many."""
    return await dialect.of(conn).execute_many(
        conn,
        "UPDATE messages SET status = 'queued', sender_id = ?, planned_at = ?, attempts = 0,"
        " lease_until = NULL, gateway_message_id = NULL, error_category = NULL,"
        " error_detail = NULL, sent_at = NULL, delivered_at = NULL, read_at = NULL,"
        " updated_at = ? WHERE id = ? AND owner_id = ? AND status = 'failed'",
        [(sender_id, now, now, message_id, owner_id) for message_id, sender_id in messages],
    )
