"""Automations (``bot/services/automations.py``): the rules, what they produced
(``automation_sends``: one row per occurrence, never two), and sequences' enrolments.

Bulk writes take whole batches as one parameter (``list_param`` / ``write_rows``), never a
statement per row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from bot.domain import Automation
from bot.storage import dialect
from bot.storage.db import at_ts

_COLUMNS = ("id, owner_id, kind, name, state, paused_reason, config, created_at,"
            " updated_at")


def _automation(row: aiosqlite.Row) -> Automation:
    return Automation(id=row[0], owner_id=row[1], kind=row[2], name=row[3], state=row[4],
                      paused_reason=row[5], config=json.loads(row[6] or "{}"),
                      created_at=at_ts(row[7]), updated_at=at_ts(row[8]))


def _dump(config: dict[str, Any]) -> str:
    return json.dumps(config, ensure_ascii=False, separators=(",", ":"))


# --- the rules -----------------------------------------------------------------------------

async def create(conn: aiosqlite.Connection, owner_id: int, kind: str, name: str,
                 config: dict[str, Any], now: float) -> Automation:
    """A new automation, on; its sequence's joins are seen from ``now`` on."""
    new_id = await dialect.of(conn).insert_id(
        conn,
        "INSERT INTO automations (owner_id, kind, name, state, config, watermark,"
        " created_at, updated_at) VALUES (?, ?, ?, 'on', ?, ?, ?, ?)",
        (owner_id, kind, name, _dump(config), now, now, now))
    found = await get(conn, owner_id, new_id)
    assert found is not None
    return found


async def get(conn: aiosqlite.Connection, owner_id: int, automation_id: int
              ) -> Automation | None:
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM automations WHERE owner_id = ? AND id = ?",
        (owner_id, automation_id),
    ) as cur:
        row = await cur.fetchone()
    return _automation(row) if row else None


async def for_owner(conn: aiosqlite.Connection, owner_id: int) -> list[Automation]:
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM automations WHERE owner_id = ? ORDER BY id", (owner_id,)
    ) as cur:
        return [_automation(row) async for row in cur]


async def on_of_kind(conn: aiosqlite.Connection, kind: str) -> list[Automation]:
    """Every owner's automations of ``kind`` that are on (for the engine)."""
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM automations WHERE kind = ? AND state = 'on' ORDER BY id",
        (kind,),
    ) as cur:
        return [_automation(row) async for row in cur]


async def set_state(conn: aiosqlite.Connection, owner_id: int, automation_id: int,
                    state: str, reason: str | None, now: float) -> bool:
    """On or paused (with why); False when it was already so."""
    cur = await conn.execute(
        "UPDATE automations SET state = ?, paused_reason = ?, updated_at = ?"
        " WHERE owner_id = ? AND id = ? AND state <> ?",
        (state, reason, now, owner_id, automation_id, state))
    return cur.rowcount > 0


async def update(conn: aiosqlite.Connection, owner_id: int, automation_id: int, name: str,
                 config: dict[str, Any], now: float) -> None:
    await conn.execute(
        "UPDATE automations SET name = ?, config = ?, updated_at = ?"
        " WHERE owner_id = ? AND id = ?",
        (name, _dump(config), now, owner_id, automation_id))


async def delete(conn: aiosqlite.Connection, owner_id: int, automation_id: int) -> bool:
    cur = await conn.execute("DELETE FROM automations WHERE owner_id = ? AND id = ?",
                             (owner_id, automation_id))
    return cur.rowcount > 0


# --- what they produced ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Recipient:
    """A contact to produce a message for, as the database has it now."""

    contact_id: int
    phone: str
    opted_out: bool
    name: str | None
    attributes: str  # JSON


async def recipients(conn: aiosqlite.Connection, owner_id: int,
                     contact_ids: Sequence[int]) -> dict[int, Recipient]:
    """The owner's contacts among ``contact_ids`` (gone ones are absent). By the primary
    key (``+owner_id``: not by the owner's index, which would read all their contacts)."""
    d = dialect.of(conn)
    async with conn.execute(
        "SELECT id, phone, opted_out_at IS NOT NULL, name, attributes FROM contacts"
        f" WHERE +owner_id = ? AND {d.in_list('id')}", (owner_id, d.list_param(contact_ids)),
    ) as cur:
        return {row[0]: Recipient(row[0], row[1], bool(row[2]), row[3], row[4] or "{}")
                for row in await cur.fetchall()}


async def already_sent(conn: aiosqlite.Connection, automation_id: int,
                       items: Sequence[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which (contact, occurrence) pairs the automation has produced already (read through
    the primary key, by contact)."""
    d = dialect.of(conn)
    wanted = set(items)
    async with conn.execute(
        "SELECT contact_id, occurrence FROM automation_sends"
        f" WHERE automation_id = ? AND {d.in_list('contact_id')}",
        (automation_id, d.list_param(sorted({c for c, _ in wanted}))),
    ) as cur:
        return {(row[0], row[1]) for row in await cur.fetchall() if (row[0], row[1]) in wanted}


async def add_sends(conn: aiosqlite.Connection,
                    rows: Sequence[tuple[int, int, str, int | None, float]]) -> None:
    """(automation, contact, occurrence, message id, at) each, in one statement."""
    if rows:
        await dialect.of(conn).write_rows(
            conn, "automation_sends",
            ("automation_id", "contact_id", "occurrence", "message_id", "at"), rows)


async def skip_queued(conn: aiosqlite.Connection, owner_id: int, automation_id: int,
                      now: float) -> int:
    """The automation's queued messages become ``skipped``; how many (their credits are
    the caller's to release)."""
    cur = await conn.execute(
        "UPDATE messages SET status = 'skipped', updated_at = ?"
        " WHERE automation_id = ? AND owner_id = ? AND status = 'queued'",
        (now, automation_id, owner_id))
    return cur.rowcount


@dataclass(frozen=True, slots=True)
class Produced:
    """What an automation produced: today (since ``since``) and in all, and its messages'
    figures by status."""

    today: int
    total: int
    by_status: dict[str, int]


async def produced(conn: aiosqlite.Connection, automation_id: int, since: float) -> Produced:
    d = dialect.of(conn)
    async with conn.execute(
        f"SELECT COUNT(*), COALESCE({d.count_if('at >= ?')}, 0) FROM automation_sends"
        " WHERE automation_id = ?", (since, automation_id),
    ) as cur:
        row = await cur.fetchone()
    total, today = (int(row[0]), int(row[1])) if row else (0, 0)
    async with conn.execute(
        "SELECT status, COUNT(*) FROM messages WHERE automation_id = ? GROUP BY status",
        (automation_id,),
    ) as cur:
        by_status = {row[0]: int(row[1]) async for row in cur}
    return Produced(today, total, by_status)


# --- sequences' enrolments --------------------------------------------------------------------

async def joins(conn: aiosqlite.Connection, list_id: int, since: float, upto: float,
                automation_id: int, restart: bool) -> list[tuple[int, str, float]]:
    """Members who joined ``list_id`` in [since, upto) and are not enrolled for that join
    yet: (contact, phone, joined at). With ``restart`` a member enrolled
    before an earlier join comes again (a rejoin); without, only the never-enrolled."""
    again = " OR e.joined_at < m.added_at" if restart else ""
    async with conn.execute(
        "SELECT m.contact_id, c.phone, m.added_at FROM list_members m"
        " JOIN contacts c ON c.id = m.contact_id"
        " LEFT JOIN automation_enrolments e"
        "  ON e.automation_id = ? AND e.contact_id = m.contact_id"
        " WHERE m.list_id = ? AND m.added_at >= ? AND m.added_at < ?"
        f" AND (e.contact_id IS NULL{again})",
        (automation_id, list_id, since, upto),
    ) as cur:  # all at once: one trip to the database's thread, not one per chunk
        return [(row[0], row[1], row[2]) for row in await cur.fetchall()]


async def enrol(conn: aiosqlite.Connection, automation_id: int,
                rows: Sequence[tuple[int, float, float | None]]) -> None:
    """(contact, joined at, first step due) each, in one statement; an enrolment already
    there restarts (``run`` + 1) only when the join is later (``joins`` chose them)."""
    if not rows:
        return
    d = dialect.of(conn)
    await conn.execute(
        "INSERT INTO automation_enrolments"
        " (automation_id, contact_id, joined_at, next_step, next_at, stopped, run)"
        f" SELECT ?, {d.element('r.value', 0, 'INTEGER')}, {d.element('r.value', 1, 'REAL')},"
        f" 0, {d.element('r.value', 2, 'REAL')}, NULL, 0"
        f" FROM {d.array_items('?')} AS r WHERE true "
        + d.upsert(["automation_id", "contact_id"], [
            "joined_at", ("next_step", "0"), "next_at", ("stopped", "NULL"),
            ("run", "automation_enrolments.run + 1")],
            where="excluded.joined_at > automation_enrolments.joined_at"),
        (automation_id, d.list_param([list(r) for r in rows])))


async def set_watermark(conn: aiosqlite.Connection, automation_id: int, at: float) -> None:
    await conn.execute("UPDATE automations SET watermark = ? WHERE id = ?",
                       (at, automation_id))


async def watermark(conn: aiosqlite.Connection, automation_id: int) -> float | None:
    async with conn.execute("SELECT watermark FROM automations WHERE id = ?",
                            (automation_id,)) as cur:
        row = await cur.fetchone()
    return None if row is None or row[0] is None else float(row[0])


@dataclass(frozen=True, slots=True)
class DueStep:
    """An enrolment whose next step is due, with what deciding on it needs."""

    contact_id: int
    phone: str
    joined_at: float
    next_step: int
    next_at: float
    run: int
    opted_out: bool
    in_list: bool
    replied: bool  # a message from them since they joined


async def due(conn: aiosqlite.Connection, automation: Automation, list_id: int, now: float,
              limit: int) -> list[DueStep]:
    """The automation's enrolments due by ``now``, the earliest first."""
    async with conn.execute(
        "SELECT e.contact_id, c.phone, e.joined_at, e.next_step, e.next_at, e.run,"
        " c.opted_out_at IS NOT NULL,"
        " EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = ?"
        "  AND m.contact_id = e.contact_id),"
        " EXISTS (SELECT 1 FROM inbound_messages i WHERE i.owner_id = ? AND i.phone = c.phone"
        "  AND i.received_at >= e.joined_at)"
        " FROM automation_enrolments e JOIN contacts c ON c.id = e.contact_id"
        " WHERE e.automation_id = ? AND e.next_at IS NOT NULL AND e.next_at <= ?"
        " ORDER BY e.next_at, e.contact_id LIMIT ?",
        (list_id, automation.owner_id, automation.id, now, limit),
    ) as cur:
        return [DueStep(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]),
                        bool(row[7]), bool(row[8])) for row in await cur.fetchall()]


async def advance(conn: aiosqlite.Connection, automation_id: int,
                  rows: Sequence[tuple[int, int, float | None, str | None]]) -> None:
    """(contact, next step, when it is due or None, stopped or None) each."""
    if rows:  # one statement per row through the primary key (an UPDATE ... FROM a JSON
        # array would read the array once for every enrolment of the automation)
        await dialect.of(conn).execute_many(
            conn,
            "UPDATE automation_enrolments SET next_step = ?, next_at = ?, stopped = ?"
            " WHERE automation_id = ? AND contact_id = ?",
            [(step, at, stopped, automation_id, contact_id)
             for contact_id, step, at, stopped in rows])


async def next_planned(conn: aiosqlite.Connection, automation_id: int, limit: int
                       ) -> list[tuple[str, int, float]]:
    """The next planned steps: (phone, step, when), the earliest first."""
    async with conn.execute(
        "SELECT c.phone, e.next_step, e.next_at FROM automation_enrolments e"
        " JOIN contacts c ON c.id = e.contact_id"
        " WHERE e.automation_id = ? AND e.next_at IS NOT NULL"
        " ORDER BY e.next_at, e.contact_id LIMIT ?", (automation_id, limit),
    ) as cur:
        return [(row[0], row[1], row[2]) async for row in cur]


async def enrolment_counts(conn: aiosqlite.Connection, automation_id: int) -> dict[str, int]:
    """Enrolments by state: ``active`` (a step planned) and each ``stopped`` reason."""
    async with conn.execute(
        "SELECT COALESCE(stopped, 'active'), COUNT(*) FROM automation_enrolments"
        " WHERE automation_id = ? GROUP BY COALESCE(stopped, 'active')", (automation_id,),
    ) as cur:
        return {row[0]: int(row[1]) async for row in cur}
