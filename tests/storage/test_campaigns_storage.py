"""Campaigns, the outbox, the ledger and list variables on a real SQLite file."""

from __future__ import annotations

import json
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import (
    Campaign,
    CampaignProgress,
    Language,
    LedgerKind,
    SenderStatus,
    WizardStep,
)
from bot.storage import campaigns, contacts, dialect, ledger, lists, owners, senders
from bot.storage.db import Database


def phone(n: int) -> str:
    return f"+99450{n:07d}"


async def seed(db: Database, clock, telegram_id: int, people: int,
               opted_out: tuple[int, ...] = ()) -> tuple[int, int, int, Campaign]:
    """An owner, a list of ``people`` (those at ``opted_out`` positions opted out), one
    sender and a draft campaign on the list; (owner, list, sender, campaign)."""
    base = telegram_id * 1000
    rows = [(phone(base + n), f"P{n}", "{}") for n in range(people)]
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
        target = await lists.create(tx, owner.id, "Customers", clock())
        await contacts.upsert(tx, owner.id, rows, clock())
        await contacts.add_to_list(tx, owner.id, target.id, [r[0] for r in rows], clock())
        for n in opted_out:
            await contacts.opt_out(tx, owner.id, rows[n][0], None, clock())
        sender = await senders.add(tx, owner_id=owner.id, gateway="sandbox",
                                   phone=f"sandbox-{owner.id}", status=SenderStatus.ACTIVE,
                                   now=clock())
        campaign = await campaigns.create_draft(tx, owner.id, "C", clock())
        campaign.list_id = target.id
        campaign.schedule(clock())
        await campaigns.save(tx, campaign, clock())
    return owner.id, target.id, sender.id, campaign


async def messages(db: Database, campaign_id: int) -> list[tuple]:
    async with db.reader.execute(
        "SELECT phone, sender_id, batch, variant, planned_at, status, run FROM messages"
        " WHERE campaign_id = ? ORDER BY run, contact_id", (campaign_id,)
    ) as cur:
        return [tuple(row) for row in await cur.fetchall()]


async def write(db: Database, clock, campaign: Campaign, sender_id: int, count: int,
                run: int = 0) -> int:
    async with db.transaction() as tx:
        return await campaigns.write_outbox(
            tx, campaign, run, campaign.list_id, [sender_id] * count,
            [i // 2 for i in range(count)], [(i // 2) % 3 for i in range(count)],
            [1_800_000_000.0 + 10.5 * i for i in range(count)], clock())


async def test_the_audience_counts_members_and_opt_outs(db, clock) -> None:
    oid, list_id, _, _ = await seed(db, clock, 1, 6, opted_out=(1, 4))
    async with db.transaction() as tx:  # an opted-out stranger, in no list
        await contacts.opt_out(tx, oid, phone(999), None, clock())
    assert await campaigns.audience(db.reader, oid, list_id) == (6, 2)
    assert await campaigns.count_recipients(db.reader, oid, list_id) == 4
    other, _, _, _ = await seed(db, clock, 2, 3)
    assert await campaigns.audience(db.reader, other, list_id) == (0, 0)
    assert await campaigns.count_recipients(db.reader, other, list_id) == 0


async def test_the_outbox_gets_one_message_per_recipient_in_order(db, clock) -> None:
    _, _, sender_id, campaign = await seed(db, clock, 1, 7, opted_out=(0, 3))
    assert await write(db, clock, campaign, sender_id, 5) == 5
    rows = await messages(db, campaign.id)
    assert [r[0] for r in rows] == [phone(1000 + n) for n in (1, 2, 4, 5, 6)]
    assert [r[2] for r in rows] == [0, 0, 1, 1, 2]
    assert [r[3] for r in rows] == [0, 0, 1, 1, 2]
    assert [r[4] for r in rows] == [1_800_000_000.0 + 10.5 * i for i in range(5)]
    assert {(r[1], r[5], r[6]) for r in rows} == {(sender_id, "queued", 0)}
    async with db.transaction() as tx:  # the plan does not linger in the session
        plan = dialect.of(tx).temp("outbox_plan")
        async with tx.execute(f"SELECT COUNT(*) FROM {plan}") as cur:
            assert (await cur.fetchone())[0] == 0


async def test_a_short_plan_writes_only_what_it_covers(db, clock) -> None:
    """``confirm`` compares the count with the recipients: a short plan must show."""
    _, _, sender_id, campaign = await seed(db, clock, 1, 5)
    assert await write(db, clock, campaign, sender_id, 3) == 3
    assert len(await messages(db, campaign.id)) == 3


async def test_a_plan_with_mismatched_columns_is_refused(db, clock) -> None:
    _, _, sender_id, campaign = await seed(db, clock, 1, 3)
    with pytest.raises(ValueError):
        async with db.transaction() as tx:
            await campaigns.write_outbox(tx, campaign, 0, campaign.list_id, [sender_id] * 3,
                                         [0, 0], [0, 0, 0], [1.0, 2.0, 3.0], clock())
    assert await messages(db, campaign.id) == []


async def test_a_run_is_written_once_and_the_next_run_again(db, clock) -> None:
    _, _, sender_id, campaign = await seed(db, clock, 1, 3)
    await write(db, clock, campaign, sender_id, 3)
    with pytest.raises(sqlite3.IntegrityError):
        await write(db, clock, campaign, sender_id, 3)
    assert await write(db, clock, campaign, sender_id, 3, run=1) == 3
    assert [r[6] for r in await messages(db, campaign.id)] == [0, 0, 0, 1, 1, 1]


async def test_progress_counts_by_status_per_campaign(db, clock) -> None:
    oid, _, sender_id, campaign = await seed(db, clock, 1, 6)
    async with db.transaction() as tx:
        second = await campaigns.create_draft(tx, oid, "", clock())
    await write(db, clock, campaign, sender_id, 6)
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE messages SET status = CASE id % 3 WHEN 0 THEN 'sent' WHEN 1 THEN 'failed'"
            " ELSE status END WHERE campaign_id = ?", (campaign.id,))
    progress = await campaigns.progress(db.reader, oid, [campaign.id, second.id])
    assert progress[campaign.id] == CampaignProgress(total=6, queued=2, sent=2, failed=2)
    assert progress[campaign.id].done == 2 and progress[campaign.id].unsent == 2
    assert progress[second.id] == CampaignProgress()
    other, _, _, _ = await seed(db, clock, 2, 1)
    assert await campaigns.progress(db.reader, other, [campaign.id]) == {
        campaign.id: CampaignProgress()}


async def test_skipping_leaves_messages_that_went_out_alone(db, clock) -> None:
    oid, _, sender_id, campaign = await seed(db, clock, 1, 5)
    other, _, _, _ = await seed(db, clock, 2, 1)
    await write(db, clock, campaign, sender_id, 5)
    async with db.transaction() as tx:
        await tx.execute("UPDATE messages SET status = 'sent' WHERE campaign_id = ? AND"
                         " batch = 0", (campaign.id,))
        assert await campaigns.skip_unsent(tx, other, campaign.id, clock()) == 0
        assert await campaigns.skip_unsent(tx, oid, campaign.id, clock()) == 3
        assert await campaigns.skip_unsent(tx, oid, campaign.id, clock()) == 0
    assert [r[5] for r in await messages(db, campaign.id)] == ["sent"] * 2 + ["skipped"] * 3
    assert await campaigns.finish_time(db.reader, campaign.id) is None


async def test_the_finish_is_the_last_queued_message(db, clock) -> None:
    _, _, sender_id, campaign = await seed(db, clock, 1, 4)
    await write(db, clock, campaign, sender_id, 4)
    finish = await campaigns.finish_time(db.reader, campaign.id)
    assert finish.timestamp() == 1_800_000_000.0 + 10.5 * 3


async def test_a_campaign_reads_back_as_saved(db, clock) -> None:
    oid, list_id, sender_id, campaign = await seed(db, clock, 1, 1)
    campaign.pacing = {"batch_size": 5}
    campaign.recurrence = {"every": "day", "at": "10:00", "weekdays": []}
    campaign.seed = 12345
    async with db.transaction() as tx:
        await campaigns.save(tx, campaign, clock())
        await campaigns.set_senders(tx, campaign.id, [sender_id])
    stored = await campaigns.get(db.reader, oid, campaign.id)
    assert stored.sender_ids == [sender_id] and stored.list_id == list_id
    assert (stored.pacing, stored.recurrence, stored.seed) == (
        {"batch_size": 5}, {"every": "day", "at": "10:00", "weekdays": []}, 12345)
    assert stored.starts_at == clock() and await campaigns.draft_of(db.reader, oid) is None
    assert await campaigns.get(db.reader, oid + 1, campaign.id) is None


@pytest.mark.parametrize("answers", [
    {"step": "pacing", "senders": [3, 5],
     "when": {"kind": "recurring", "recurrence": {"every": "week", "at": "10:00",
                                                   "weekdays": [0, 2]}},
     "recurring": {"every": "week", "weekdays": [0, 2]}, "left": True},
    {"step": "custom_batch", "senders": [], "when": {"kind": "at", "at": 1_800_003_600.25},
     "custom": {"delay_min": 10.0, "delay_max": 20.0, "batch_size": 25, "quiet": None}},
    {"step": "confirm_big", "when": {"kind": "now"}, "preset": "safe",
     "pacing": {"delay_min": 20.0, "delay_max": 60.0, "batch_size": 20}},
    {"step": "list"},
])
async def test_a_draft_reads_and_writes_the_json_earlier_versions_stored(
        db, clock, answers) -> None:
    """The wizard's answers as the untyped wizard stored them load, and are written back
    key for key (a draft may wait for its owner across an upgrade, and back)."""
    oid, list_id, _, _ = await seed(db, clock, 1, 1)
    async with db.transaction() as tx:
        created = await campaigns.create_draft(tx, oid, "", clock())
        await tx.execute("UPDATE campaigns SET list_id = ?, draft = ? WHERE id = ?",
                         (list_id, json.dumps(answers), created.id))
    draft = await campaigns.draft_of(db.reader, oid)
    assert (draft.id, draft.step, draft.list_id) == (created.id, answers["step"], list_id)
    assert draft.senders == answers.get("senders")
    assert draft.left is bool(answers.get("left"))
    assert await campaigns.drafts(db.reader) == [draft]
    async with db.transaction() as tx:
        await campaigns.save_draft(tx, draft, clock())
    async with db.reader.execute("SELECT draft FROM campaigns WHERE id = ?",
                                 (created.id,)) as cur:
        assert json.loads((await cur.fetchone())[0]) == answers
    assert await campaigns.draft_of(db.reader, oid) == draft


async def test_a_draft_of_an_unknown_step_starts_over_with_its_answers(db, clock) -> None:
    oid, _, _, _ = await seed(db, clock, 1, 1)
    async with db.transaction() as tx:
        created = await campaigns.create_draft(tx, oid, "", clock())
        await tx.execute("UPDATE campaigns SET draft = ? WHERE id = ?",
                         (json.dumps({"step": "audience", "senders": [4]}), created.id))
    draft = await campaigns.draft_of(db.reader, oid)
    assert (draft.step, draft.senders) == (WizardStep.LIST, [4])


# --- the ledger --------------------------------------------------------------------------

async def test_the_ledger_balance_and_holds(db, clock) -> None:
    oid, _, _, campaign = await seed(db, clock, 1, 1)
    other, _, _, other_campaign = await seed(db, clock, 2, 1)
    async with db.transaction() as tx:
        await ledger.add(tx, oid, LedgerKind.CREDIT, 100, clock(), note="paid")
        await ledger.add(tx, oid, LedgerKind.RESERVE, -40, clock(), campaign_id=campaign.id)
        await ledger.add(tx, oid, LedgerKind.CHARGE, -15, clock(), campaign_id=campaign.id)
        await ledger.add(tx, oid, LedgerKind.ADJUST, -5, clock())
        await ledger.add(tx, other, LedgerKind.CREDIT, 7, clock())
        await ledger.add(tx, other, LedgerKind.RESERVE, -7, clock(),
                         campaign_id=other_campaign.id)
    balance = await ledger.balance(db.reader, oid)
    assert (balance.total, balance.reserved, balance.available) == (80, 25, 55)
    assert await ledger.held_for(db.reader, oid, campaign.id) == 25
    assert await ledger.held_for(db.reader, oid, other_campaign.id) == 0
    assert await ledger.held_for(db.reader, other, other_campaign.id) == 7
    async with db.transaction() as tx:
        await ledger.add(tx, oid, LedgerKind.RELEASE, 25, clock(), campaign_id=campaign.id)
    balance = await ledger.balance(db.reader, oid)
    assert (balance.total, balance.reserved, balance.available) == (80, 0, 80)
    recent = await ledger.recent(db.reader, oid, limit=2)
    assert [(e.kind, e.amount, e.campaign_id) for e in recent] == [
        (LedgerKind.RELEASE, 25, campaign.id), (LedgerKind.ADJUST, -5, None)]


async def test_an_owner_without_rows_has_nothing(db, clock) -> None:
    oid, _, _, _ = await seed(db, clock, 1, 1)
    balance = await ledger.balance(db.reader, oid)
    assert (balance.total, balance.reserved, balance.available) == (0, 0, 0)
    assert await ledger.recent(db.reader, oid) == []


# --- list variables ----------------------------------------------------------------------

async def test_variables_keep_their_first_order_without_repeats(db, clock) -> None:
    oid, list_id, _, _ = await seed(db, clock, 1, 1)
    other, other_list, _, _ = await seed(db, clock, 2, 1)
    async with db.transaction() as tx:
        add_variables = lists.add_variables_sql(dialect.of(tx))
        await tx.execute(add_variables, ('["city", "tag"]', oid, list_id))
        await tx.execute(add_variables,
                         ('["tag", "bonus", "city", "bonus", "Şəhər"]', oid, list_id))
        await tx.execute(add_variables, ('["secret"]', oid, other_list))  # not theirs
        second = await lists.create(tx, oid, "VIP", clock())
        await tx.execute(add_variables, ('["level", "city"]', oid, second.id))
    assert (await lists.get(db.reader, oid, list_id)).variables == [
        "city", "tag", "bonus", "Şəhər"]
    assert (await lists.get(db.reader, other, other_list)).variables == []
    assert await lists.owner_variables(db.reader, oid) == {
        "city", "tag", "bonus", "Şəhər", "level"}
    assert await lists.owner_variables(db.reader, other) == set()


NAMES = st.text(alphabet="abAB_Şə1 ", min_size=1, max_size=4)


@pytest.mark.engines("sqlite")  # through sqlite3 itself, as the SQLite import writer runs it
async def test_adding_variables_is_an_ordered_union(db, clock) -> None:
    """Whatever was there and whatever comes: first occurrences, in order, once each."""
    oid, list_id, _, _ = await seed(db, clock, 1, 1)
    conn = sqlite3.connect(db.path, isolation_level=None)  # the import writer's way

    @settings(max_examples=150, deadline=None)
    @given(existing=st.lists(NAMES, max_size=8), added=st.lists(NAMES, max_size=8))
    def union(existing: list[str], added: list[str]) -> None:
        conn.execute("UPDATE contact_lists SET variables = ? WHERE id = ?",
                     (json.dumps(list(dict.fromkeys(existing))), list_id))
        conn.execute(lists.ADD_VARIABLES_SQL, (json.dumps(added), oid, list_id))
        stored = conn.execute("SELECT variables FROM contact_lists WHERE id = ?",
                              (list_id,)).fetchone()[0]
        assert json.loads(stored) == list(dict.fromkeys(existing + added))

    try:
        union()
    finally:
        conn.close()
