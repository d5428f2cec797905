"""Campaigns, their senders, and the outbox (``messages``) they write."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache

import aiosqlite

from bot.domain import (
    Campaign,
    CampaignDraft,
    CampaignProgress,
    CampaignStatus,
    DraftStart,
    MessageStatus,
    StartKind,
    WizardStep,
)
from bot.storage import dialect
from bot.storage.db import at_ts, from_ts, to_ts
from bot.storage.dialect import Dialect

log = logging.getLogger(__name__)

@cache
def _columns(d: Dialect) -> str:
    return (
        "id, owner_id, name, status, status_reason, list_id, template_id, starts_at,"
        " recurrence, pacing, seed, run, draft, created_at, started_at, finished_at,"
        f" (SELECT {d.json_agg('sender_id')} FROM campaign_senders s"
        "  WHERE s.campaign_id = campaigns.id) AS sender_ids"
    )


def _campaign(row: aiosqlite.Row) -> Campaign:
    return Campaign(
        id=row["id"],
        owner_id=row["owner_id"],
        name=row["name"],
        status=CampaignStatus(row["status"]),
        status_reason=row["status_reason"],
        list_id=row["list_id"],
        template_id=row["template_id"],
        starts_at=from_ts(row["starts_at"]),
        recurrence=json.loads(row["recurrence"]) if row["recurrence"] else None,
        pacing=json.loads(row["pacing"]),
        seed=row["seed"],
        run=row["run"],
        created_at=at_ts(row["created_at"]),
        started_at=from_ts(row["started_at"]),
        finished_at=from_ts(row["finished_at"]),
        sender_ids=sorted(json.loads(row["sender_ids"])),
    )


# --- the wizard's draft -----------------------------------------------------------------
# ``campaigns.draft`` is JSON, read by every version since the wizard began (a draft may
# wait for its owner across an upgrade): {"step": "when", "senders": [3], "when": {"kind":
# "now" | "at" (+ "at": epoch seconds) | "recurring" (+ "recurrence": {...})}, "recurring":
# {"every": "week", "weekdays": [0, 2]}, "preset": "normal", "pacing": {...}, "custom":
# {...}, "left": true, "again": 12, "original": {"preset": ..., "pacing": {...}}}; an
# answer not given yet has no key. The draft's name
# is the row's ``name`` ("" until the owner gives one).

def _draft(row: aiosqlite.Row) -> CampaignDraft:
    answers = json.loads(row["draft"]) if row["draft"] else {}
    try:
        step = WizardStep(answers.get("step", "list"))
    except ValueError:  # not a step of this version: start over, the answers are kept
        log.warning("campaign %d: unknown wizard step %r", row["id"], answers.get("step"))
        step = WizardStep.LIST
    when, repeat = answers.get("when"), answers.get("recurring")
    start = None
    if when:
        kind = StartKind(when["kind"])
        start = DraftStart(kind, at=datetime.fromtimestamp(when["at"], UTC)
                           if kind is StartKind.AT else None,
                           recurrence=when.get("recurrence"))
    return CampaignDraft(
        id=row["id"], owner_id=row["owner_id"], step=step, list_id=row["list_id"],
        template_id=row["template_id"], senders=answers.get("senders"), start=start,
        repeat_every=(repeat.get("every") or "day") if repeat is not None else None,
        weekdays=list(repeat.get("weekdays", [])) if repeat is not None else [],
        preset=answers.get("preset"), pacing=answers.get("pacing"),
        custom=answers.get("custom"), left=bool(answers.get("left")),
        name=row["name"] or "", again=answers.get("again"),
        original=answers.get("original"),
    )


def _answers(draft: CampaignDraft) -> str:
    answers: dict = {"step": draft.step.value}
    if draft.senders is not None:
        answers["senders"] = draft.senders
    if draft.start is not None:
        when: dict = {"kind": draft.start.kind.value}
        if draft.start.at is not None:
            when["at"] = draft.start.at.timestamp()
        if draft.start.recurrence is not None:
            when["recurrence"] = draft.start.recurrence
        answers["when"] = when
    if draft.repeat_every is not None:
        answers["recurring"] = {"every": draft.repeat_every, "weekdays": draft.weekdays}
    for key in ("preset", "pacing", "custom", "original"):
        if getattr(draft, key) is not None:
            answers[key] = getattr(draft, key)
    if draft.left:
        answers["left"] = True
    if draft.again is not None:
        answers["again"] = draft.again
    return json.dumps(answers)


async def create_draft(
    conn: aiosqlite.Connection, owner_id: int, name: str, now: datetime
) -> Campaign:
    """A new campaign in status ``draft``, at the wizard's first step."""
    ts = to_ts(now)
    campaign_id = await dialect.of(conn).insert_id(
        conn,
        "INSERT INTO campaigns (owner_id, name, status, draft, created_at, updated_at)"
        " VALUES (?, ?, 'draft', ?, ?, ?)",
        (owner_id, name, _answers(CampaignDraft(0, owner_id)), ts, ts),
    )
    created = await get(conn, owner_id, campaign_id)
    assert created is not None
    return created


async def insert(conn: aiosqlite.Connection, campaign: Campaign, now: datetime) -> int:
    """A campaign made whole at once (by API), not through the wizard's draft; its id."""
    ts = to_ts(now)
    return await dialect.of(conn).insert_id(
        conn,
        "INSERT INTO campaigns (owner_id, name, status, status_reason, list_id, template_id,"
        " starts_at, recurrence, pacing, seed, run, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (campaign.owner_id, campaign.name, campaign.status.value, campaign.status_reason,
         campaign.list_id, campaign.template_id, to_ts(campaign.starts_at),
         json.dumps(campaign.recurrence) if campaign.recurrence else None,
         json.dumps(campaign.pacing), campaign.seed, campaign.run, ts, ts),
    )


async def get(conn: aiosqlite.Connection, owner_id: int, campaign_id: int) -> Campaign | None:
    async with conn.execute(
        f"SELECT {_columns(dialect.of(conn))} FROM campaigns WHERE owner_id = ? AND id = ?",
        (owner_id, campaign_id)
    ) as cur:
        row = await cur.fetchone()
    return _campaign(row) if row else None


_DRAFT_COLUMNS = "id, owner_id, name, list_id, template_id, draft"


async def draft_of(conn: aiosqlite.Connection, owner_id: int) -> CampaignDraft | None:
    """The owner's wizard in progress (an owner has at most one)."""
    async with conn.execute(
        f"SELECT {_DRAFT_COLUMNS} FROM campaigns WHERE owner_id = ? AND status = 'draft'",
        (owner_id,)
    ) as cur:
        row = await cur.fetchone()
    return _draft(row) if row else None


async def drafts(conn: aiosqlite.Connection) -> list[CampaignDraft]:
    """Every wizard in progress."""
    async with conn.execute(
        f"SELECT {_DRAFT_COLUMNS} FROM campaigns WHERE status = 'draft'"
    ) as cur:
        return [_draft(row) async for row in cur]


async def save_draft(conn: aiosqlite.Connection, draft: CampaignDraft, now: datetime) -> None:
    """Write back the wizard's answers (only while the campaign is a draft)."""
    await conn.execute(
        "UPDATE campaigns SET name = ?, list_id = ?, template_id = ?, draft = ?,"
        " updated_at = ? WHERE owner_id = ? AND id = ? AND status = 'draft'",
        (draft.name, draft.list_id, draft.template_id, _answers(draft), to_ts(now),
         draft.owner_id, draft.id),
    )


async def save(conn: aiosqlite.Connection, campaign: Campaign, now: datetime) -> None:
    """Write back everything confirming or a transition may change; the wizard's answers
    go once the campaign is no longer a draft."""
    await conn.execute(
        "UPDATE campaigns SET name = ?, status = ?, status_reason = ?, list_id = ?,"
        " template_id = ?, starts_at = ?, recurrence = ?, pacing = ?, seed = ?, run = ?,"
        " draft = CASE WHEN ? = 'draft' THEN draft END,"
        " started_at = ?, finished_at = ?, updated_at = ?"
        " WHERE owner_id = ? AND id = ?",
        (campaign.name, campaign.status.value, campaign.status_reason, campaign.list_id,
         campaign.template_id, to_ts(campaign.starts_at),
         json.dumps(campaign.recurrence) if campaign.recurrence else None,
         json.dumps(campaign.pacing), campaign.seed, campaign.run, campaign.status.value,
         to_ts(campaign.started_at), to_ts(campaign.finished_at), to_ts(now),
         campaign.owner_id, campaign.id),
    )


async def set_senders(
    conn: aiosqlite.Connection, campaign_id: int, sender_ids: Sequence[int]
) -> None:
    await conn.execute("DELETE FROM campaign_senders WHERE campaign_id = ?", (campaign_id,))
    await dialect.of(conn).execute_many(
        conn,
        "INSERT INTO campaign_senders (campaign_id, sender_id) VALUES (?, ?)",
        [(campaign_id, sender_id) for sender_id in sender_ids],
    )


async def delete(conn: aiosqlite.Connection, owner_id: int, campaign_id: int) -> None:
    await conn.execute("DELETE FROM campaigns WHERE owner_id = ? AND id = ?",
                       (owner_id, campaign_id))


async def due_to_start(conn: aiosqlite.Connection, now: datetime) -> list[Campaign]:
    async with conn.execute(
        f"SELECT {_columns(dialect.of(conn))} FROM campaigns WHERE status = 'scheduled'"
        " AND starts_at <= ?"
        " ORDER BY starts_at", (to_ts(now),)
    ) as cur:
        return [_campaign(row) async for row in cur]


async def running(conn: aiosqlite.Connection) -> list[Campaign]:
    async with conn.execute(
        f"SELECT {_columns(dialect.of(conn))} FROM campaigns WHERE status = 'running'"
        " ORDER BY id"
    ) as cur:
        return [_campaign(row) async for row in cur]


async def using_sender(conn: aiosqlite.Connection, sender_id: int, *,
                       include_paused: bool = False) -> list[tuple[int, int]]:
    """(owner, campaign) of the campaigns sending (or, with ``include_paused``, paused) from
    a sender."""
    statuses = ("scheduled", "running", "paused") if include_paused else ("scheduled",
                                                                          "running")
    d = dialect.of(conn)
    async with conn.execute(
        "SELECT c.owner_id, c.id FROM campaigns c JOIN campaign_senders s ON s.campaign_id = c.id"
        f" WHERE s.sender_id = ? AND {d.in_list('c.status')}",
        (sender_id, d.list_param(statuses)),
    ) as cur:
        return [(row[0], row[1]) async for row in cur]


async def for_owner(
    conn: aiosqlite.Connection, owner_id: int, limit: int = 20, before: int | None = None
) -> list[Campaign]:
    """The owner's campaigns, newest first (not the draft); ``before``: only those with a
    smaller id (the next page)."""
    async with conn.execute(
        f"SELECT {_columns(dialect.of(conn))} FROM campaigns WHERE owner_id = ?"
        " AND status <> 'draft'"
        " AND id < ? ORDER BY id DESC LIMIT ?",
        (owner_id, (1 << 62) if before is None else before, limit)
    ) as cur:
        return [_campaign(row) async for row in cur]


async def progress(
    conn: aiosqlite.Connection, owner_id: int, campaign_ids: Sequence[int]
) -> dict[int, CampaignProgress]:
    """Counts of messages by status, per campaign."""
    counts: dict[int, dict[str, int]] = {cid: {} for cid in campaign_ids}
    d = dialect.of(conn)
    async with conn.execute(
        "SELECT campaign_id, status, COUNT(*) FROM messages"
        f" WHERE owner_id = ? AND {d.in_list('campaign_id')}"
        " GROUP BY campaign_id, status", (owner_id, d.list_param(campaign_ids)),
    ) as cur:
        async for campaign_id, status, n in cur:
            counts[campaign_id][status] = n
    return {cid: CampaignProgress(total=sum(c.values()), **c) for cid, c in counts.items()}


async def finish_time(conn: aiosqlite.Connection, campaign_id: int) -> datetime | None:
    """The last planned time of the campaign's unsent messages."""
    async with conn.execute(
        "SELECT MAX(planned_at) FROM messages WHERE campaign_id = ? AND status = 'queued'",
        (campaign_id,),
    ) as cur:
        row = await cur.fetchone()
    return from_ts(row[0]) if row else None


# --- recipients and the outbox ------------------------------------------------------

async def audience(conn: aiosqlite.Connection, owner_id: int, list_id: int) -> tuple[int, int]:
    """(members, opted out) of a list."""
    async with conn.execute(
        f"SELECT COUNT(*), COALESCE({dialect.of(conn).count_if('c.opted_out_at IS NOT NULL')}, 0)"
        " FROM list_members m JOIN contacts c ON c.id = m.contact_id"
        " WHERE m.list_id = ? AND c.owner_id = ?", (list_id, owner_id),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def senders_busy_until(conn: aiosqlite.Connection,
                             sender_ids: Sequence[int]) -> list[float | None]:
    """Per sender, the last planned time of its queued messages (any campaign)."""
    found: dict[int, float] = {}
    d = dialect.of(conn)
    async with conn.execute(
        "SELECT sender_id, MAX(planned_at) FROM messages WHERE status = 'queued'"
        f" AND {d.in_list('sender_id')} GROUP BY sender_id",
        (d.list_param(sender_ids),),
    ) as cur:
        async for sender_id, last in cur:
            found[sender_id] = last
    return [found.get(s) for s in sender_ids]


async def count_recipients(conn: aiosqlite.Connection, owner_id: int, list_id: int) -> int:
    """How many of a list's contacts may be messaged (not opted out)."""
    async with conn.execute(
        "SELECT COUNT(*) FROM list_members m JOIN contacts c ON c.id = m.contact_id"
        " WHERE m.list_id = ? AND c.owner_id = ? AND c.opted_out_at IS NULL",
        (list_id, owner_id),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def lacking_values(conn: aiosqlite.Connection, owner_id: int, list_id: int,
                         names: Sequence[str]) -> dict[str, int]:
    """Per variable, how many recipients of the list (not opted out) have no value for it
    (missing or blank): ``name`` and ``first_name`` are the contact's name, the others its
    attributes; ``phone`` is never missing."""
    wanted = [n for n in names if n != "phone"]
    if not wanted:
        return {}
    d = dialect.of(conn)
    blank_name = d.count_if("TRIM(COALESCE(c.name, '')) = ''")
    blank_value = d.count_if(f"TRIM(COALESCE({d.json_get('c.attributes')}, '')) = ''")
    columns = ", ".join(
        f"COALESCE({blank_name if n in ('name', 'first_name') else blank_value}, 0)"
        for n in wanted)
    params: list[object] = [d.json_key(n) for n in wanted if n not in ("name", "first_name")]
    async with conn.execute(
        f"SELECT {columns} FROM list_members m JOIN contacts c ON c.id = m.contact_id"
        " WHERE m.list_id = ? AND c.owner_id = ? AND c.opted_out_at IS NULL",
        (*params, list_id, owner_id),
    ) as cur:
        row = await cur.fetchone()
    return {n: int(v) for n, v in zip(wanted, row or (), strict=False) if v}


async def first_recipient(conn: aiosqlite.Connection, owner_id: int,
                          list_id: int) -> int | None:
    """The contact id the outbox puts first (``write_outbox``'s order)."""
    async with conn.execute(
        "SELECT MIN(m.contact_id) FROM list_members m JOIN contacts c ON c.id = m.contact_id"
        " WHERE m.list_id = ? AND c.owner_id = ? AND c.opted_out_at IS NULL",
        (list_id, owner_id),
    ) as cur:
        row = await cur.fetchone()
    return row[0] if row else None


async def write_outbox(
    conn: aiosqlite.Connection, campaign: Campaign, run: int, list_id: int,
    sender_ids: Sequence[int], batches: Sequence[int], variants: Sequence[int],
    planned_at: Sequence[float], now: datetime,
) -> int:
    """One queued message per recipient of the list (contacts in id order, opted-out ones
    left out), the i-th recipient getting the i-th sender, batch, variant and planned time.

    The recipients never leave SQLite: the plan goes into a temporary table keyed by
    position and is joined to the numbered recipients (100,000 rows: about 1 s here,
    against 1.6 s reading the recipients out and inserting row by row)."""
    d = dialect.of(conn)
    plan = d.temp("outbox_plan")
    await conn.execute(d.temp_table("outbox_plan", (
        ("i", "INTEGER PRIMARY KEY"), ("sender_id", "INTEGER"), ("batch", "INTEGER"),
        ("variant", "INTEGER"), ("planned_at", "REAL"))))
    await conn.execute(f"DELETE FROM {plan}")
    await d.write_rows(conn, plan, ("sender_id", "batch", "variant", "planned_at"),
                       list(zip(sender_ids, batches, variants, planned_at, strict=True)),
                       position="i")
    cur = await conn.execute(
        "INSERT INTO messages (campaign_id, owner_id, contact_id, sender_id, run, phone, batch,"
        " variant, planned_at, queued_at, updated_at)"
        " SELECT ?, ?, r.id, p.sender_id, ?, r.phone, p.batch, p.variant, p.planned_at, ?, ?"
        " FROM (SELECT c.id, c.phone, row_number() OVER (ORDER BY m.contact_id) - 1 AS i"
        "       FROM list_members m JOIN contacts c ON c.id = m.contact_id"
        "       WHERE m.list_id = ? AND c.owner_id = ? AND c.opted_out_at IS NULL) AS r"
        f" JOIN {plan} p ON p.i = r.i",
        (campaign.id, campaign.owner_id, run, to_ts(now), to_ts(now), list_id,
         campaign.owner_id),
    )
    written = cur.rowcount
    await conn.execute(f"DELETE FROM {plan}")
    return written


async def skip_unsent(conn: aiosqlite.Connection, owner_id: int, campaign_id: int,
                      now: datetime) -> int:
    """Queued messages of a campaign become ``skipped``; returns how many."""
    cur = await conn.execute(
        "UPDATE messages SET status = 'skipped', updated_at = ?"
        " WHERE owner_id = ? AND campaign_id = ? AND status = 'queued'",
        (to_ts(now), owner_id, campaign_id),
    )
    return cur.rowcount


async def progress_message(conn: aiosqlite.Connection, owner_id: int,
                           campaign_id: int) -> int | None:
    async with conn.execute(
        "SELECT progress_message_id FROM campaigns WHERE owner_id = ? AND id = ?",
        (owner_id, campaign_id),
    ) as cur:
        row = await cur.fetchone()
    return row[0] if row else None


async def set_progress_message(conn: aiosqlite.Connection, owner_id: int, campaign_id: int,
                               message_id: int | None) -> None:
    await conn.execute(
        "UPDATE campaigns SET progress_message_id = ? WHERE owner_id = ? AND id = ?",
        (message_id, owner_id, campaign_id),
    )


async def set_uncertain(conn: aiosqlite.Connection, owner_id: int, campaign_id: int,
                        status: MessageStatus, now: datetime) -> int:
    """The owner's decision on a campaign's uncertain messages: ``queued`` (send them
    again, now) or ``sent`` (count them as sent)."""
    ts = to_ts(now)
    if status == MessageStatus.QUEUED:
        cur = await conn.execute(
            "UPDATE messages SET status = 'queued', planned_at = ?, error_category = NULL,"
            " error_detail = NULL, updated_at = ? WHERE owner_id = ? AND campaign_id = ?"
            " AND status = 'uncertain'", (ts, ts, owner_id, campaign_id))
    else:
        cur = await conn.execute(
            "UPDATE messages SET status = 'sent', sent_at = COALESCE(sent_at, ?),"
            " updated_at = ? WHERE owner_id = ? AND campaign_id = ? AND status = 'uncertain'",
            (ts, ts, owner_id, campaign_id))
    return cur.rowcount


async def replace_sender(conn: aiosqlite.Connection, old: int, new: int) -> None:
    """Failover: campaigns that sent from ``old`` send from ``new``."""
    await conn.execute(dialect.of(conn).insert_ignore(
        "campaign_senders (campaign_id, sender_id)",
        "SELECT campaign_id, ? FROM campaign_senders WHERE sender_id = ?"), (new, old))
    await conn.execute("DELETE FROM campaign_senders WHERE sender_id = ?", (old,))
