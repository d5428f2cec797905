"""What the pre-flight check (``bot/services/risk.py``) needs to know, one aggregate query
each: cheap for a list of 100,000 (they walk the list's members once, on the indexes of
``messages (contact_id)`` and ``whatsapp_checks (owner_id, phone)``)."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from bot.storage import dialect

ZONE_PREFIX = 6  # "+" and 5 digits: enough for a country and, where zones split it, a region

# Refusals that restrict the number rather than fail one message (bot/gateways/base.py).
_BLOCKING = ("sender_banned", "sender_restricted", "rejected")


async def cold_recipients(conn: aiosqlite.Connection, owner_id: int, list_id: int,
                          checked_since: float) -> tuple[int, int]:
    """Of a list's members not opted out: (never sent a message by the owner, not known to
    be on WhatsApp by a check at ``checked_since`` or later)."""
    d = dialect.of(conn)
    never = ("NOT EXISTS (SELECT 1 FROM messages s WHERE s.contact_id = c.id"
             " AND s.sent_at IS NOT NULL)")
    unknown = ("NOT EXISTS (SELECT 1 FROM whatsapp_checks w WHERE w.owner_id = c.owner_id"
               " AND w.phone = c.phone AND w.on_whatsapp = 1 AND w.checked_at >= ?)")
    async with conn.execute(
        f"SELECT COALESCE({d.count_if(never)}, 0), COALESCE({d.count_if(unknown)}, 0)"
        " FROM list_members m JOIN contacts c ON c.id = m.contact_id"
        " WHERE m.list_id = ? AND c.owner_id = ? AND c.opted_out_at IS NULL",
        (checked_since, list_id, owner_id),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def phone_prefixes(conn: aiosqlite.Connection, owner_id: int,
                         list_id: int) -> list[tuple[str, int]]:
    """A list's members not opted out, by the start of their phone (``ZONE_PREFIX``): one
    phone of each group (its time zones are its group's) and how many it stands for."""
    async with conn.execute(
        "SELECT MIN(c.phone), COUNT(*) FROM list_members m JOIN contacts c"
        " ON c.id = m.contact_id WHERE m.list_id = ? AND c.owner_id = ?"
        f" AND c.opted_out_at IS NULL GROUP BY SUBSTR(c.phone, 1, {ZONE_PREFIX})",
        (list_id, owner_id),
    ) as cur:
        return [(str(phone), int(n)) async for phone, n in cur]


async def sender_history(conn: aiosqlite.Connection, sender_ids: Sequence[int],
                         since: float) -> dict[int, tuple[int, int, int]]:
    """Per sender, its messages tried since ``since`` (sent, or failed while sending):
    (tried, failed, failed in a way that restricts the number)."""
    d = dialect.of(conn)
    failed = d.count_if("status = 'failed'")
    blocked = d.count_if("error_category IN ({})".format(", ".join(f"'{c}'" for c in _BLOCKING)))
    async with conn.execute(
        f"SELECT sender_id, COUNT(*), COALESCE({failed}, 0), COALESCE({blocked}, 0)"
        " FROM messages WHERE updated_at >= ? AND status NOT IN ('queued', 'skipped')"
        " AND (sent_at IS NOT NULL OR status = 'failed')"
        " AND COALESCE(error_category, '') <> 'not_on_whatsapp'"
        f" AND {d.in_list('sender_id')} GROUP BY sender_id",
        (since, d.list_param(sender_ids)),
    ) as cur:
        return {int(s): (int(n), int(f), int(b)) async for s, n, f, b in cur}
