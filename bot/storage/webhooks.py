"""Outgoing webhooks: endpoints, the event outbox and the attempts the owner sees.

The rules are ``bot/services/webhooks.py``'s. Here: an endpoint has done every event of
its owner up to its ``cursor`` (migration 0010); the next one to deliver is the owner's
first event above it, so one index range (``webhook_events_owner``) hands an endpoint its
events in order, and the worker's poll reads the due endpoints by ``webhook_endpoints_due``.
Events are written with ``executemany`` (a receipts batch writes its events at once).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import aiosqlite

from bot.storage import dialect
from bot.storage.db import from_ts, to_ts


class EventType(StrEnum):
    """What an endpoint can subscribe to."""

    MESSAGE_SENT = "message.sent"
    MESSAGE_DELIVERED = "message.delivered"
    MESSAGE_READ = "message.read"
    MESSAGE_FAILED = "message.failed"
    MESSAGE_UNCERTAIN = "message.uncertain"
    CAMPAIGN_STARTED = "campaign.started"
    CAMPAIGN_FINISHED = "campaign.finished"
    CAMPAIGN_PAUSED = "campaign.paused"
    CONTACT_OPTED_OUT = "contact.opted_out"
    REPLY_RECEIVED = "reply.received"
    NUMBER_BANNED = "number.banned"


ALL_EVENTS = "*"  # subscribed to every event type, those of later versions too


class EndpointState(StrEnum):
    ACTIVE = "active"
    FAILING = "failing"  # events were dropped after 24 h of failed attempts
    DISABLED = "disabled"  # paused by the owner: no events kept for it


class Outcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    DROPPED = "dropped"


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: int
    owner_id: int
    url: str
    secret: str
    events: frozenset[str]  # event types, or {"*"}
    state: EndpointState
    created_at: datetime
    failing_since: datetime | None = None
    cursor: int = 0
    failures: int = 0  # failed attempts in a row
    next_attempt_at: float = 0.0
    last_error: str | None = None

    def wants(self, event_type: str) -> bool:
        return ALL_EVENTS in self.events or event_type in self.events


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    owner_id: int
    type: str
    data: str  # the JSON object, as stored
    created_at: float


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt (or one drop) as the owner sees it."""

    id: int
    endpoint_id: int
    event_id: int | None
    event_type: str
    outcome: Outcome
    attempted_at: datetime
    status_code: int | None = None
    error: str | None = None
    duration_ms: int | None = None


# (event id or None, event type, outcome, status code, error, duration ms, attempted at)
DeliveryRow = tuple[int | None, str, str, int | None, str | None, int | None, float]
# (owner id, event type, data as JSON text, created at)
EventRow = tuple[int, str, str, float]

_ENDPOINT = ("id, owner_id, url, secret, events, state, created_at, failing_since, cursor,"
             " failures, next_attempt_at, last_error")


def dump_events(events: Iterable[str]) -> str:
    chosen = set(events)
    if ALL_EVENTS in chosen:
        return json.dumps([ALL_EVENTS])
    return json.dumps([t.value for t in EventType if t.value in chosen])


def _endpoint(row: aiosqlite.Row | tuple) -> Endpoint:
    try:
        events = frozenset(str(e) for e in json.loads(row[4]))
    except (ValueError, TypeError):
        events = frozenset()
    return Endpoint(
        id=row[0], owner_id=row[1], url=row[2], secret=row[3], events=events,
        state=EndpointState(row[5]), created_at=datetime.fromtimestamp(row[6], UTC),
        failing_since=from_ts(row[7]), cursor=row[8], failures=row[9],
        next_attempt_at=row[10], last_error=row[11],
    )


def _delivery(row: aiosqlite.Row | tuple) -> Delivery:
    return Delivery(id=row[0], endpoint_id=row[1], event_id=row[2], event_type=row[3],
                    outcome=Outcome(row[4]), status_code=row[5], error=row[6],
                    duration_ms=row[7], attempted_at=datetime.fromtimestamp(row[8], UTC))


# --- endpoints ---------------------------------------------------------------------------

async def last_event_id(conn: aiosqlite.Connection) -> int:
    async with conn.execute("SELECT COALESCE(MAX(id), 0) FROM webhook_events") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def add_endpoint(conn: aiosqlite.Connection, owner_id: int, url: str, secret: str,
                       events: Iterable[str], now: datetime) -> Endpoint:
    """A new endpoint: it receives the events written from now on (its cursor is the
    last event so far)."""
    cursor = await last_event_id(conn)
    ts = to_ts(now)
    stored = dump_events(events)
    endpoint_id = await dialect.of(conn).insert_id(
        conn,
        "INSERT INTO webhook_endpoints (owner_id, url, secret, events, cursor, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (owner_id, url, secret, stored, cursor, ts, ts),
    )
    return Endpoint(id=endpoint_id, owner_id=owner_id, url=url, secret=secret,
                    events=frozenset(json.loads(stored)), state=EndpointState.ACTIVE,
                    created_at=now, cursor=cursor)


async def of_owner(conn: aiosqlite.Connection, owner_id: int) -> list[Endpoint]:
    async with conn.execute(
        f"SELECT {_ENDPOINT} FROM webhook_endpoints WHERE owner_id = ? ORDER BY id",
        (owner_id,),
    ) as cur:
        return [_endpoint(row) for row in await cur.fetchall()]


async def count_of_owner(conn: aiosqlite.Connection, owner_id: int) -> int:
    async with conn.execute("SELECT COUNT(*) FROM webhook_endpoints WHERE owner_id = ?",
                            (owner_id,)) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def get(conn: aiosqlite.Connection, owner_id: int, endpoint_id: int) -> Endpoint | None:
    async with conn.execute(
        f"SELECT {_ENDPOINT} FROM webhook_endpoints WHERE owner_id = ? AND id = ?",
        (owner_id, endpoint_id),
    ) as cur:
        row = await cur.fetchone()
    return _endpoint(row) if row else None


async def delete(conn: aiosqlite.Connection, owner_id: int, endpoint_id: int) -> bool:
    cur = await conn.execute("DELETE FROM webhook_endpoints WHERE owner_id = ? AND id = ?",
                             (owner_id, endpoint_id))
    return cur.rowcount > 0


async def set_events(conn: aiosqlite.Connection, owner_id: int, endpoint_id: int,
                     events: Iterable[str], now: datetime) -> bool:
    cur = await conn.execute(
        "UPDATE webhook_endpoints SET events = ?, updated_at = ? WHERE owner_id = ? AND id = ?",
        (dump_events(events), to_ts(now), owner_id, endpoint_id),
    )
    return cur.rowcount > 0


async def set_enabled(conn: aiosqlite.Connection, owner_id: int, endpoint_id: int,
                      enabled: bool, now: datetime) -> bool:
    """Disable (no events kept for it), or enable again: it starts from the events written
    from now on, with no backoff and no failure left."""
    if enabled:
        cursor = await last_event_id(conn)
        cur = await conn.execute(
            "UPDATE webhook_endpoints SET state = 'active', failing_since = NULL,"
            f" cursor = {dialect.of(conn).greatest('cursor', '?')}, failures = 0,"
            " next_attempt_at = 0, last_error = NULL,"
            " updated_at = ? WHERE owner_id = ? AND id = ? AND state = 'disabled'",
            (cursor, to_ts(now), owner_id, endpoint_id),
        )
    else:
        cur = await conn.execute(
            "UPDATE webhook_endpoints SET state = 'disabled', updated_at = ?"
            " WHERE owner_id = ? AND id = ?",
            (to_ts(now), owner_id, endpoint_id),
        )
    return cur.rowcount > 0


async def subscriptions(conn: aiosqlite.Connection) -> dict[int, frozenset[str]]:
    """Owner id -> the event types some endpoint of theirs that is not disabled wants."""
    found: dict[int, set[str]] = {}
    async with conn.execute(
        "SELECT owner_id, events FROM webhook_endpoints WHERE state <> 'disabled'"
    ) as cur:
        async for owner_id, events in cur:
            try:
                found.setdefault(owner_id, set()).update(str(e) for e in json.loads(events))
            except (ValueError, TypeError):
                continue
    return {owner_id: frozenset(types) for owner_id, types in found.items()}


# --- the outbox --------------------------------------------------------------------------

async def add_events(conn: aiosqlite.Connection, rows: Sequence[EventRow]) -> None:
    """Events, in the caller's transaction, in order (their ids follow the rows)."""
    await dialect.of(conn).execute_many(
        conn,
        "INSERT INTO webhook_events (owner_id, type, data, created_at) VALUES (?, ?, ?, ?)",
        rows,
    )


async def due(conn: aiosqlite.Connection, now: float, limit: int) -> list[Endpoint]:
    """Endpoints that may try now and have an event of their owner past their cursor."""
    async with conn.execute(
        f"SELECT {_ENDPOINT} FROM webhook_endpoints w"
        " WHERE w.state <> 'disabled' AND w.next_attempt_at <= ?"
        " AND EXISTS (SELECT 1 FROM webhook_events e"
        "             WHERE e.owner_id = w.owner_id AND e.id > w.cursor)"
        " ORDER BY w.next_attempt_at LIMIT ?",
        (now, limit),
    ) as cur:
        return [_endpoint(row) for row in await cur.fetchall()]


async def events_after(conn: aiosqlite.Connection, owner_id: int, after: int,
                       limit: int) -> list[Event]:
    """The owner's events above ``after``, in order, at most ``limit``."""
    async with conn.execute(
        "SELECT id, owner_id, type, data, created_at FROM webhook_events"
        " WHERE owner_id = ? AND id > ? ORDER BY id LIMIT ?",
        (owner_id, after, limit),
    ) as cur:
        return [Event(*row) async for row in cur]


@dataclass(frozen=True, slots=True)
class Progress:
    """What an endpoint's worker did since it last wrote: up to where it is done, its
    failures in a row and when it may try again, and the attempts to show."""

    cursor: int
    failures: int
    next_attempt_at: float
    last_error: str | None
    failing: bool | None  # True: flag it failing; False: active again; None: as it is
    deliveries: Sequence[DeliveryRow]


async def record(conn: aiosqlite.Connection, endpoint_id: int, progress: Progress,
                 now: datetime, keep: int) -> EndpointState | None:
    """Write an endpoint's progress and its attempts (the last ``keep`` are kept); the
    state it had before, or None when it is gone (deleted meanwhile). An endpoint the
    owner disabled meanwhile stays disabled; a cursor never moves back."""
    ts = to_ts(now)
    async with conn.execute("SELECT state FROM webhook_endpoints WHERE id = ?",
                            (endpoint_id,)) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    before = EndpointState(row[0])
    sql = dialect.of(conn)
    # the state and since when it fails: as it is, flagged failing (since now, unless it
    # was already), or active again; a paused endpoint stays paused
    state, since, since_params = "state", "failing_since", list[float | None]()
    if progress.failing is True:
        state = "CASE WHEN state = 'disabled' THEN state ELSE 'failing' END"
        since, since_params = "COALESCE(failing_since, ?)", [ts]
    elif progress.failing is False:
        state = "CASE WHEN state = 'disabled' THEN state ELSE 'active' END"
        since = "NULL"
    await conn.execute(
        f"UPDATE webhook_endpoints SET cursor = {sql.greatest('cursor', '?')}, failures = ?,"
        f" next_attempt_at = ?, last_error = ?, state = {state}, failing_since = {since},"
        " updated_at = ? WHERE id = ?",
        (progress.cursor, progress.failures, progress.next_attempt_at, progress.last_error,
         *since_params, ts, endpoint_id),
    )
    if progress.deliveries:
        await sql.execute_many(
            conn,
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, outcome,"
            " status_code, error, duration_ms, attempted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(endpoint_id, *row) for row in progress.deliveries],
        )
        await _prune_deliveries(conn, endpoint_id, keep)
    return before


async def add_delivery(conn: aiosqlite.Connection, endpoint_id: int, row: DeliveryRow,
                       keep: int) -> None:
    """An attempt outside the order of the events (a test event)."""
    await conn.execute(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, outcome,"
        " status_code, error, duration_ms, attempted_at)"
        " SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS"
        " (SELECT 1 FROM webhook_endpoints WHERE id = ?)",
        (endpoint_id, *row, endpoint_id),
    )
    await _prune_deliveries(conn, endpoint_id, keep)


async def _prune_deliveries(conn: aiosqlite.Connection, endpoint_id: int, keep: int) -> None:
    await conn.execute(
        "DELETE FROM webhook_deliveries WHERE endpoint_id = ? AND id <= (SELECT id FROM"
        " webhook_deliveries WHERE endpoint_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
        (endpoint_id, endpoint_id, keep),
    )


async def deliveries(conn: aiosqlite.Connection, owner_id: int, endpoint_id: int,
                     limit: int) -> list[Delivery]:
    """The endpoint's last attempts, newest first (none for another owner's)."""
    async with conn.execute(
        "SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.outcome, d.status_code,"
        " d.error, d.duration_ms, d.attempted_at FROM webhook_deliveries d"
        " JOIN webhook_endpoints w ON w.id = d.endpoint_id"
        " WHERE w.owner_id = ? AND d.endpoint_id = ? ORDER BY d.id DESC LIMIT ?",
        (owner_id, endpoint_id, limit),
    ) as cur:
        return [_delivery(row) for row in await cur.fetchall()]


async def pending_count(conn: aiosqlite.Connection, endpoint: Endpoint) -> int:
    """Events of the owner past the endpoint's cursor (some may be of types it skips)."""
    async with conn.execute(
        "SELECT COUNT(*) FROM webhook_events WHERE owner_id = ? AND id > ?",
        (endpoint.owner_id, endpoint.cursor),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


# --- what the events of messages say ------------------------------------------------------

async def message_refs(conn: aiosqlite.Connection,
                       ids: Sequence[int]) -> dict[int, tuple[str, str | None]]:
    """Message id -> (phone, the integrator's client_ref) for the messages' events."""
    sql = dialect.of(conn)
    async with conn.execute(
        f"SELECT id, phone, client_ref FROM messages WHERE {sql.in_list('id')}",
        (sql.list_param(ids),),
    ) as cur:
        return {row[0]: (row[1], row[2]) for row in await cur.fetchall()}


# --- pruning -------------------------------------------------------------------------------

async def prunable(conn: aiosqlite.Connection) -> list[tuple[int, int | None]]:
    """(owner id, up to which event id) for every owner with events: the lowest cursor of
    their endpoints that are not disabled; None: no such endpoint, all of them can go."""
    async with conn.execute(
        # one index seek per owner (a loose index scan), not a read of every event
        "WITH RECURSIVE o(owner_id) AS ("
        " SELECT MIN(owner_id) FROM webhook_events"
        " UNION ALL SELECT (SELECT MIN(owner_id) FROM webhook_events e"
        "                   WHERE e.owner_id > o.owner_id) FROM o"
        " WHERE o.owner_id IS NOT NULL)"
        " SELECT o.owner_id, (SELECT MIN(w.cursor) FROM webhook_endpoints w"
        "                     WHERE w.owner_id = o.owner_id AND w.state <> 'disabled')"
        " FROM o WHERE o.owner_id IS NOT NULL"
    ) as cur:
        return [(row[0], row[1]) for row in await cur.fetchall()]


async def prune(conn: aiosqlite.Connection, owner_id: int, upto: int | None,
                limit: int) -> int:
    """Delete at most ``limit`` of the owner's events up to ``upto`` (all when None),
    oldest first; how many went."""
    cur = await conn.execute(
        "DELETE FROM webhook_events WHERE id IN (SELECT id FROM webhook_events"
        " WHERE owner_id = ? AND id <= ? ORDER BY id LIMIT ?)",
        (owner_id, upto if upto is not None else 2**62, limit),
    )
    return cur.rowcount
