"""The campaign wizard, confirming (the outbox and the reserved credits) and the owner's
controls, on a real SQLite file with a fake clock."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain import (
    CampaignDraft,
    CampaignStatus,
    DraftStart,
    Language,
    LedgerKind,
    SenderStatus,
    StartKind,
    WizardStep,
)
from bot.errors import InvalidTransition, NotFound, ValidationError
from bot.services.campaigns import (
    CampaignsConfig,
    CampaignsService,
    parse_quiet,
    parse_range,
)
from bot.services.planning import PRESETS, Pacing, QuietHours, plan
from bot.storage import campaigns as campaigns_repo
from bot.storage import contacts, ledger, lists, owners, senders, templates
from bot.storage.db import Database
from tests.fakes import FakeClock

VARIANTS = ["Salam {{ name | dostum }}!", "Hello {{ name | friend }}!", "Hi {{ first_name }}"]


def phone(n: int) -> str:
    return f"+99450{n:07d}"


async def seed(
    db: Database, clock, telegram_id: int, *, people: int = 22, opted_out: int = 0,
    credits: int = 100, sender_count: int = 2, timezone: str | None = None,
) -> tuple[int, int, int]:
    """An owner with a list of ``people`` (the last ``opted_out`` of them opted out), a
    three-variant template, ``sender_count`` active senders and ``credits``; their ids."""
    base = telegram_id * 1000
    rows = [(phone(base + n), f"Person {n}", "{}") for n in range(people)]
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
        if timezone is not None:
            owner.timezone = timezone
            await owners.save(tx, owner, clock())
        target = await lists.create(tx, owner.id, "Customers", clock())
        await contacts.upsert(tx, owner.id, rows, clock())
        await contacts.add_to_list(tx, owner.id, target.id, [r[0] for r in rows], clock())
        for number, _, _ in rows[people - opted_out:]:
            await contacts.opt_out(tx, owner.id, number, "asked", clock())
        template = await templates.add(tx, owner.id, "Promo", list(VARIANTS), None, None,
                                       clock())
        for n in range(sender_count):
            await senders.add(tx, owner_id=owner.id, gateway="waha",
                              phone=phone(900_000 + base + n), status=SenderStatus.ACTIVE,
                              now=clock())
        if credits:
            await ledger.add(tx, owner.id, LedgerKind.CREDIT, credits, clock())
    return owner.id, target.id, template.id


def make_service(db: Database, clock, **config) -> CampaignsService:
    return CampaignsService(db, CampaignsConfig(**config), clock)


@pytest.fixture
def service(db, clock) -> CampaignsService:
    return make_service(db, clock)


async def up_to_when(service: CampaignsService, oid: int, list_id: int, template_id: int):
    await service.begin(oid)
    await service.choose_list(oid, list_id)
    await service.choose_template(oid, template_id)
    return await service.senders_chosen(oid)


async def custom_small_batches(service: CampaignsService, oid: int) -> None:
    """Custom pacing: 3-5 s between messages, batches of 4, 1-2 min pauses, no quiet."""
    await service.custom_pacing(oid)
    for answer in ("3-5", "4", "1-2", None):
        await service.custom_value(oid, answer)


async def ready_draft(service, oid, list_id, template_id, *, preset: str | None = None):
    """A draft at the summary: everyone, every sender, now, custom or ``preset`` pacing."""
    await up_to_when(service, oid, list_id, template_id)
    await service.start_now(oid)
    if preset is None:
        await custom_small_batches(service, oid)
    else:
        await service.use_preset(oid, preset)


async def outbox(db: Database, campaign_id: int) -> list[tuple]:
    async with db.reader.execute(
        "SELECT contact_id, sender_id, batch, variant, planned_at, status, run, phone"
        " FROM messages WHERE campaign_id = ? ORDER BY contact_id", (campaign_id,)
    ) as cur:
        return [tuple(row) for row in await cur.fetchall()]


async def recipients(db: Database, oid: int, list_id: int) -> list[tuple[int, str]]:
    async with db.reader.execute(
        "SELECT c.id, c.phone FROM list_members m JOIN contacts c ON c.id = m.contact_id"
        " WHERE m.list_id = ? AND c.owner_id = ? AND c.opted_out_at IS NULL ORDER BY c.id",
        (list_id, oid),
    ) as cur:
        return [tuple(row) for row in await cur.fetchall()]


async def ledger_rows(db: Database, oid: int) -> list[tuple]:
    async with db.reader.execute(
        "SELECT kind, amount, campaign_id FROM ledger WHERE owner_id = ? ORDER BY id", (oid,)
    ) as cur:
        return [tuple(row) for row in await cur.fetchall()]


# --- confirming --------------------------------------------------------------------------

async def test_confirm_queues_one_message_per_recipient_as_planned(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1, people=25, opted_out=3)
    await ready_draft(service, oid, list_id, template_id)
    summary = await service.confirm(oid)

    campaign = summary.campaign
    stored = await campaigns_repo.get(db.reader, oid, campaign.id)
    assert stored.status is CampaignStatus.SCHEDULED and await service.draft(oid) is None
    assert stored.starts_at == clock() + timedelta(seconds=5)
    assert len(stored.sender_ids) == 2
    rows = await outbox(db, campaign.id)
    expected = await recipients(db, oid, list_id)
    assert len(expected) == 22
    assert [(r[0], r[7]) for r in rows] == expected  # one each, opted-out ones left out
    assert {r[5] for r in rows} == {"queued"} and {r[6] for r in rows} == {0}

    # The plan is reproducible from what is stored: pacing, start, seed, senders.
    again = plan(len(expected), Pacing.from_json(stored.pacing), stored.starts_at, stored.seed,
                 ZoneInfo("Asia/Baku"), senders=len(stored.sender_ids),
                 variants=len(VARIANTS))
    for i, (_, sender_id, batch, variant, planned_at, *_rest) in enumerate(rows):
        assert batch == i // 4 == again.batch[i]
        assert variant == batch % len(VARIANTS) == again.variant[i]
        assert sender_id == stored.sender_ids[again.sender[i]]
        assert planned_at == pytest.approx(again.at[i], abs=1e-3)
    assert {r[1] for r in rows} == set(stored.sender_ids)  # both senders get work
    for sender_id in stored.sender_ids:
        times = [r[4] for r in rows if r[1] == sender_id]
        assert times == sorted(times)
    assert min(r[4] for r in rows) == pytest.approx(stored.starts_at.timestamp())
    assert summary.finish == datetime.fromtimestamp(max(again.at), UTC)


async def test_a_new_number_gets_the_share_its_warm_up_allows(service, db, clock) -> None:
    """Two numbers: the first linked today (20 a day in its warm-up), the second a month
    ago (1,000). Taking turns would give each 3 of the 6 batches, and the new number would
    hold 4 of its 12 messages back to tomorrow; by room, it gets one batch."""
    oid, list_id, template_id = await seed(db, clock, 1, people=22)
    async with db.transaction() as tx:
        month_ago = (clock() - timedelta(days=30)).timestamp()
        await tx.execute("UPDATE senders SET created_at = ?, linked_at = ? WHERE id = ?",
                         (month_ago, month_ago, await second_sender(tx, oid)))
    await ready_draft(service, oid, list_id, template_id)
    summary = await service.confirm(oid)
    rows = await outbox(db, summary.campaign.id)
    new, seasoned = summary.campaign.sender_ids
    assert [sum(r[1] == s for r in rows) for s in (new, seasoned)] == [4, 18]
    assert [r[1] for r in rows if r[2] == 0] == [new] * 4  # equal shares: the first


async def second_sender(tx, oid: int) -> int:
    async with tx.execute("SELECT MAX(id) FROM senders WHERE owner_id = ?", (oid,)) as cur:
        return (await cur.fetchone())[0]


async def test_confirm_reserves_the_credits_of_every_recipient(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1, people=25, opted_out=3, credits=100)
    await ready_draft(service, oid, list_id, template_id)
    summary = await service.confirm(oid)
    balance = await ledger.balance(db.reader, oid)
    assert (balance.total, balance.reserved, balance.available) == (100, 22, 78)
    assert summary.cost == 22 and summary.balance == balance
    assert (await ledger_rows(db, oid))[-1] == ("reserve", -22, summary.campaign.id)
    view = await service.view(oid, summary.campaign.id)
    assert view.held == 22
    assert view.progress.queued == view.progress.total == 22


async def test_confirm_without_enough_credits_changes_nothing(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1, people=22, credits=21)
    await ready_draft(service, oid, list_id, template_id)
    with pytest.raises(ValidationError) as exc:
        await service.confirm(oid)
    assert exc.value.reason == "insufficient"
    assert exc.value.params["missing"] == 1
    draft = await service.draft(oid)
    assert draft is not None and draft.step is WizardStep.SUMMARY
    assert await outbox(db, draft.id) == []
    assert await ledger_rows(db, oid) == [("credit", 21, None)]
    assert await service.list(oid) == []


async def test_a_campaign_over_the_advice_needs_a_second_yes(db, clock) -> None:
    service = make_service(db, clock, advice_max=10)
    oid, list_id, template_id = await seed(db, clock, 1, people=11)
    await ready_draft(service, oid, list_id, template_id)
    summary = await service.ask_big(oid)
    assert summary.over_advice and (await service.draft(oid)).step == "confirm_big"
    with pytest.raises(ValidationError) as exc:
        await service.confirm(oid)
    assert exc.value.reason == "over_advice"
    assert exc.value.params == {"limit": 10, "count": 11}
    assert await service.draft(oid) is not None  # still a draft
    confirmed = await service.confirm(oid, big_ok=True)
    assert confirmed.campaign.status is CampaignStatus.SCHEDULED


async def test_a_campaign_at_the_advice_needs_no_second_yes(db, clock) -> None:
    service = make_service(db, clock, advice_max=10)
    oid, list_id, template_id = await seed(db, clock, 1, people=10)
    await ready_draft(service, oid, list_id, template_id)
    summary = await service.ask_big(oid)
    assert not summary.over_advice and (await service.draft(oid)).step == "summary"
    assert (await service.confirm(oid)).recipients == 10


async def test_the_summary_of_a_new_number_ends_when_its_warm_up_allows(service, db,
                                                                          clock) -> None:
    # one number linked just now may send 20 today: 36 recipients take two days, and the
    # summary says so (not "today, in one batch")
    oid, list_id, template_id = await seed(db, clock, 1, people=36, sender_count=1)
    await ready_draft(service, oid, list_id, template_id, preset="fast")
    summary = await service.summary(oid)
    assert summary.days == 2 and summary.cap_waits > 0 and summary.per_day == 20
    assert summary.finish - summary.starts_at > timedelta(days=1)
    confirmed = await service.confirm(oid)
    planned = sorted(r[4] for r in await outbox(db, confirmed.campaign.id))
    assert planned[20] >= planned[0] + 86_400  # the 21st waits until the first is a day old
    assert confirmed.finish.timestamp() == pytest.approx(planned[-1])


async def test_a_start_in_the_quiet_hours_is_flagged_with_the_first_send(db) -> None:
    clock = FakeClock(datetime(2026, 11, 25, 19, 30, tzinfo=UTC))  # 23:30 in Baku
    service = make_service(db, clock)
    oid, list_id, template_id = await seed(db, clock, 1, people=5)
    await ready_draft(service, oid, list_id, template_id, preset="safe")  # quiet 21-09
    summary = await service.summary(oid)
    assert summary.starts_quiet
    assert summary.first_send.astimezone(ZoneInfo("Asia/Baku")) == datetime(
        2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Asia/Baku"))
    await service.go_to(oid, "pacing")
    await service.use_preset(oid, "fast")  # no quiet hours
    assert not (await service.summary(oid)).starts_quiet


@pytest.mark.parametrize(("delay", "batch", "risky"), [
    ("0-1", "50", True), ("2-5", "50", True), ("3-5", "150", True), ("3-5", "100", False)])
async def test_a_pace_below_the_safe_envelope_is_flagged_and_asks_twice(
        service, db, clock, delay, batch, risky) -> None:
    oid, list_id, template_id = await seed(db, clock, 1, people=5)
    await up_to_when(service, oid, list_id, template_id)
    await service.start_now(oid)
    await service.custom_pacing(oid)
    for answer in (delay, batch, "1-2", None):
        await service.custom_value(oid, answer)
    summary = await service.ask_big(oid)
    assert summary.risky_pace is risky and summary.asks_twice is risky
    assert (await service.draft(oid)).step == ("confirm_big" if risky else "summary")
    if risky:
        with pytest.raises(ValidationError):
            await service.confirm(oid)
        assert (await service.confirm(oid, big_ok=True)).recipients == 5
    else:
        assert (await service.confirm(oid)).recipients == 5


async def test_recipients_without_a_value_the_template_needs_are_counted(
        service, db, clock) -> None:
    oid, list_id, _ = await seed(db, clock, 1, people=6)
    async with db.transaction() as tx:  # 2 of the 6 have a tag; {{city}} has a fallback
        await tx.execute("UPDATE contacts SET attributes = '{\"tag\": \"gold\"}'"
                         " WHERE id IN (SELECT id FROM contacts WHERE owner_id = ? LIMIT 2)",
                         (oid,))
        await tx.execute("UPDATE contacts SET attributes = '{\"tag\": \"  \"}'"
                         " WHERE id = (SELECT MAX(id) FROM contacts WHERE owner_id = ?)", (oid,))
        tagged = await templates.add(tx, oid, "Tagged", ["Your tag is {{tag}} in {{city|Baku}}",
                                                         "Hi {{name}}"], None, None, clock())
    await ready_draft(service, oid, list_id, tagged.id, preset="fast")
    summary = await service.ask_big(oid)
    assert summary.lacking == {"tag": 4}  # a blank value is no value; names are all there
    assert summary.asks_twice and (await service.draft(oid)).step == "confirm_big"
    with pytest.raises(ValidationError):
        await service.confirm(oid)


async def test_the_summary_counts_members_opt_outs_batches_and_cost(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1, people=25, opted_out=3, credits=20)
    await ready_draft(service, oid, list_id, template_id)
    summary = await service.summary(oid)
    assert (summary.members, summary.opted_out, summary.recipients) == (25, 3, 22)
    assert summary.batches == 6  # 22 in batches of 4
    assert (summary.cost, summary.missing, summary.balance_after) == (22, 2, -2)
    assert summary.preset == "custom"
    assert summary.finish > summary.starts_at


# --- when it starts ----------------------------------------------------------------------

async def test_now_starts_a_few_seconds_after_the_clock(service, db, clock) -> None:
    clock.now = clock.now.replace(microsecond=400_000)
    oid, list_id, template_id = await seed(db, clock, 1)
    await ready_draft(service, oid, list_id, template_id, preset="fast")
    clock.advance(minutes=3)  # the owner thought about it for a while
    summary = await service.confirm(oid)
    lead = summary.campaign.starts_at - clock()
    assert timedelta(seconds=5) <= lead <= timedelta(seconds=6)


@pytest.mark.parametrize(("zone", "expected"), [
    (None, datetime(2026, 11, 26, 6, 0, tzinfo=UTC)),  # default Asia/Baku, UTC+4
    ("Europe/Berlin", datetime(2026, 11, 26, 9, 0, tzinfo=UTC)),  # CET, UTC+1
])
async def test_a_typed_date_is_read_in_the_owners_time_zone(db, clock, zone, expected) -> None:
    service = make_service(db, clock)
    oid, list_id, template_id = await seed(db, clock, 1, timezone=zone)
    await up_to_when(service, oid, list_id, template_id)
    assert (await service.ask_date(oid)).step == "when_at"
    draft = await service.start_at(oid, "tomorrow 10:00")
    assert draft.step == "pacing"
    await service.use_preset(oid, "fast")
    assert (await service.summary(oid)).starts_at == expected
    confirmed = await service.confirm(oid)
    assert confirmed.campaign.starts_at == expected
    rows = await outbox(db, confirmed.campaign.id)
    assert min(r[4] for r in rows) == pytest.approx(expected.timestamp())


async def test_a_date_in_the_past_is_refused(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1)
    await up_to_when(service, oid, list_id, template_id)
    await service.ask_date(oid)
    with pytest.raises(ValidationError) as exc:
        await service.start_at(oid, "25.11.2026 10:00")  # 06:00 UTC, three hours ago
    assert exc.value.reason == "in_past"
    assert (await service.draft(oid)).step == "when_at"


@pytest.mark.parametrize(("language", "typed", "day"), [
    (Language.EN, "12/25 18:30", (2026, 12, 25)),  # English screens write M/D
    (Language.EN, "05/06 10:00", (2027, 5, 6)),
    (Language.RU, "05/06 10:00", (2027, 6, 5)),  # Russian and Azerbaijani: D/M
    (Language.AZ, "05/06 10:00", (2027, 6, 5)),
])
async def test_a_slash_date_is_read_in_the_owners_order(service, db, clock, language, typed,
                                                        day) -> None:
    oid, list_id, template_id = await seed(db, clock, 1)
    async with db.transaction() as tx:
        owner = await owners.get(tx, oid)
        owner.language = language
        await owners.save(tx, owner, clock())
    await up_to_when(service, oid, list_id, template_id)
    await service.ask_date(oid)
    draft = await service.start_at(oid, typed)
    at = draft.start.at.astimezone(ZoneInfo("Asia/Baku"))
    assert (at.year, at.month, at.day) == day


async def test_a_weekly_time_can_be_written_10am(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1)
    await up_to_when(service, oid, list_id, template_id)
    await service.recurring(oid, "week")
    await service.toggle_weekday(oid, 4)
    await service.weekdays_chosen(oid)
    draft = await service.recurring_at(oid, "10am")
    assert draft.start.recurrence["at"] == "10:00"


async def test_a_date_that_passed_while_the_draft_waited_is_refused(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1)
    await up_to_when(service, oid, list_id, template_id)
    await service.start_at(oid, "25.11.2026 14:00")  # 10:00 UTC
    await service.use_preset(oid, "fast")
    clock.advance(hours=2)
    with pytest.raises(ValidationError) as exc:
        await service.confirm(oid)
    assert exc.value.reason == "in_past"
    assert await service.draft(oid) is not None  # still a draft
    assert await ledger_rows(db, oid) == [("credit", 100, None)]


async def test_a_weekly_campaign_starts_on_the_next_chosen_weekday(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1)  # Wednesday 25 Nov, 13:00 in Baku
    await up_to_when(service, oid, list_id, template_id)
    assert (await service.recurring(oid, "week")).step == "recurring_days"
    with pytest.raises(ValidationError) as exc:
        await service.weekdays_chosen(oid)
    assert exc.value.reason == "no_weekdays"
    for day in (0, 4, 4):  # Monday, and Friday on and off again
        draft = await service.toggle_weekday(oid, day)
    assert draft.weekdays == [0]
    assert (await service.weekdays_chosen(oid)).step == "recurring_time"
    await service.recurring_at(oid, "10:00")
    await service.use_preset(oid, "safe")
    summary = await service.confirm(oid)
    monday_ten_in_baku = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    assert summary.starts_at == summary.campaign.starts_at == monday_ten_in_baku
    stored = await campaigns_repo.get(db.reader, oid, summary.campaign.id)
    assert stored.recurrence == {"every": "week", "at": "10:00", "weekdays": [0]}


async def test_a_daily_campaign_later_today_starts_today(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1)  # 13:00 in Baku
    await up_to_when(service, oid, list_id, template_id)
    assert (await service.recurring(oid, "day")).step == "recurring_time"
    await service.recurring_at(oid, "18:30")
    await service.use_preset(oid, "fast")
    summary = await service.summary(oid)
    assert summary.starts_at == datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
    with pytest.raises(ValidationError):
        await service.recurring(oid, "month")
    with pytest.raises(ValidationError):
        await service.toggle_weekday(oid, 7)


# --- pacing ------------------------------------------------------------------------------

async def test_custom_pacing_keeps_what_the_owner_typed(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1)
    await up_to_when(service, oid, list_id, template_id)
    await service.start_now(oid)
    assert (await service.custom_pacing(oid)).step == "custom_delay"
    steps = []
    for answer in ("10 – 30", "25", "5-10", "23:00 - 07:30"):
        steps.append((await service.custom_value(oid, answer)).step)
    assert steps == ["custom_batch", "custom_pause", "custom_quiet", "summary"]
    summary = await service.confirm(oid)
    assert summary.campaign.pacing == {
        "delay_min": 10.0, "delay_max": 30.0, "batch_size": 25,
        "batch_pause_min": 300.0, "batch_pause_max": 600.0,
        "quiet": {"start": "23:00", "end": "07:30"},
        "recipient_night": True,  # the default pace's hold of the recipients' night kept
    }
    assert summary.preset == "custom"


async def test_custom_pacing_without_quiet_hours(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1)
    await up_to_when(service, oid, list_id, template_id)
    await service.start_now(oid)
    await custom_small_batches(service, oid)
    summary = await service.summary(oid)
    assert summary.pacing.quiet is None
    # no quiet hours in the owner's zone; the recipients' night is still held
    assert summary.pacing == Pacing(3.0, 5.0, 4, 60.0, 120.0, None, recipient_night=True)


@pytest.mark.parametrize(("step_answers", "bad", "reason"), [
    ((), "30-10", "bad_range"),
    ((), "fast please", "bad_range"),
    ((), "5000", "too_long"),  # over an hour between two messages
    (("10-30",), "0", "range"),
    (("10-30",), "2000", "range"),
    (("10-30",), "ten", "bad_number"),
    (("10-30", "25"), "10-5", "bad_range"),
    (("10-30", "25"), "2000", "too_long"),  # minutes: more than a day
    (("10-30", "25", "5-10"), "22:00", "bad_quiet"),
    (("10-30", "25", "5-10"), "22-22", "bad_quiet"),
    (("10-30", "25", "5-10"), "25:00-08:00", "bad_time"),
])
async def test_a_bad_pacing_answer_is_refused_and_asked_again(
    service, db, clock, step_answers, bad, reason
) -> None:
    oid, list_id, template_id = await seed(db, clock, 1)
    await up_to_when(service, oid, list_id, template_id)
    await service.start_now(oid)
    await service.custom_pacing(oid)
    for answer in step_answers:
        await service.custom_value(oid, answer)
    before = await service.draft(oid)
    with pytest.raises(ValidationError) as exc:
        await service.custom_value(oid, bad)
    assert exc.value.reason == reason
    after = await service.draft(oid)
    assert after == before  # same step, same answers


async def test_a_preset_is_stored_as_its_pacing(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1)
    await up_to_when(service, oid, list_id, template_id)
    await service.start_now(oid)
    with pytest.raises(ValidationError):
        await service.use_preset(oid, "reckless")
    await service.use_preset(oid, "normal")
    summary = await service.confirm(oid)
    assert summary.preset == "normal"
    assert Pacing.from_json(summary.campaign.pacing) == PRESETS["normal"]


async def test_text_outside_the_custom_questions_is_refused(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1)
    await up_to_when(service, oid, list_id, template_id)
    with pytest.raises(ValidationError) as exc:
        await service.custom_value(oid, "10-20")
    assert exc.value.reason == "unexpected_text"


@given(low=st.integers(0, 10_000), extra=st.integers(0, 10_000),
       dash=st.sampled_from(["-", " - ", "–", " – ", "—", " "]),
       unit=st.sampled_from([1.0, 60.0]))
def test_a_typed_range_reads_back_as_typed(low: int, extra: int, dash: str, unit: float) -> None:
    high = low + extra
    assert parse_range(f"{low}{dash}{high}", "delay", unit=unit) == (low * unit, high * unit)
    assert parse_range(f" {low} ", "delay", unit=unit) == (low * unit, low * unit)
    if extra:
        with pytest.raises(ValidationError):
            parse_range(f"{high}-{low}", "delay")


@given(whole=st.integers(0, 999), tenths=st.integers(0, 9),
       comma=st.sampled_from([".", ","]))
def test_a_decimal_range_reads_with_a_point_or_a_comma(whole: int, tenths: int,
                                                      comma: str) -> None:
    typed = f"{whole}{comma}{tenths}"
    low, high = parse_range(f"{typed}-{whole + 1}", "delay")
    assert low == pytest.approx(whole + tenths / 10) and high == whole + 1


@given(st.text(alphabet="abcxyz!?:;/", min_size=1, max_size=5))
def test_a_range_with_words_is_refused(junk: str) -> None:
    with pytest.raises(ValidationError):
        parse_range(f"10{junk}20", "delay")


def test_quiet_hours_are_read_in_the_usual_spellings() -> None:
    assert parse_quiet("22:00-08:00") == QuietHours(time(22), time(8))
    assert parse_quiet(" 22 – 8 ") == QuietHours(time(22), time(8))
    assert parse_quiet("21.30 9") == QuietHours(time(21, 30), time(9))
    for bad in ("", "22", "22-08-09", "8-8"):
        with pytest.raises(ValidationError):
            parse_quiet(bad)


# --- moving around the wizard ------------------------------------------------------------

async def test_back_goes_to_the_previous_question(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1)

    async def back() -> str:
        return (await service.back(oid)).step

    assert (await service.begin(oid)).step == "list"
    assert await back() == "list"
    await service.choose_list(oid, list_id)
    assert await back() == "list"
    await service.choose_list(oid, list_id)
    await service.choose_template(oid, template_id)
    assert await back() == "template"
    await service.choose_template(oid, template_id)
    await service.senders_chosen(oid)
    assert await back() == "senders"
    await service.senders_chosen(oid)
    await service.ask_date(oid)
    assert await back() == "when"
    await service.recurring(oid, "week")
    assert await back() == "when"
    await service.recurring(oid, "day")
    assert await back() == "when"
    await service.start_now(oid)
    assert await back() == "when"
    await service.start_now(oid)
    await service.custom_pacing(oid)
    assert await back() == "pacing"
    await service.custom_pacing(oid)
    await service.custom_value(oid, "1-3")
    assert await back() == "custom_delay"
    for answer in ("1-3", "4", "1-2"):
        await service.custom_value(oid, answer)
    assert await back() == "custom_pause"
    await service.custom_value(oid, "1-2")
    await service.custom_value(oid, None)
    assert await back() == "custom_quiet"  # the custom summary goes back to its last question
    await service.custom_value(oid, None)
    await service.use_preset(oid, "fast")
    assert await back() == "pacing"  # a preset's summary goes back to the presets
    await service.use_preset(oid, "fast")
    await service.ask_big(oid)
    assert await back() == "pacing"


async def test_back_from_the_big_confirmation_returns_to_the_summary(db, clock) -> None:
    service = make_service(db, clock, advice_max=1)
    oid, list_id, template_id = await seed(db, clock, 1)
    await ready_draft(service, oid, list_id, template_id, preset="fast")
    await service.ask_big(oid)
    assert (await service.back(oid)).step == "summary"


async def test_going_back_to_change_one_answer_keeps_the_others(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1)
    await service.begin(oid)
    with pytest.raises(ValidationError) as exc:
        await service.go_to(oid, "summary")
    assert exc.value.reason == "incomplete"
    await ready_draft(service, oid, list_id, template_id, preset="fast")
    with pytest.raises(ValidationError):
        await service.go_to(oid, "custom_batch")
    draft = await service.go_to(oid, "template")
    assert draft.step == "template"
    assert draft.list_id == list_id and draft.template_id == template_id
    assert draft.start == DraftStart(StartKind.NOW) and draft.preset == "fast"
    assert (await service.go_to(oid, "summary")).step == "summary"
    assert (await service.summary(oid)).preset == "fast"


async def test_the_draft_survives_a_restart_of_the_bot(db_path, clock) -> None:
    first = Database(db_path)
    await first.connect()
    try:
        service = make_service(first, clock)
        oid, list_id, template_id = await seed(first, clock, 1)
        await up_to_when(service, oid, list_id, template_id)
        await service.start_now(oid)
        await service.custom_pacing(oid)
        await service.custom_value(oid, "10-30")
    finally:
        await first.close()

    second = Database(db_path)
    await second.connect()
    try:
        service = make_service(second, clock)
        assert await service.drafts() == [(oid, "custom_batch")]
        draft = await service.begin(oid)  # resumes, does not start over
        assert draft.step == "custom_batch"
        assert draft.list_id == list_id and draft.template_id == template_id
        assert draft.custom["delay_min"] == 10.0
        for answer in ("25", "5-10", None):
            await service.custom_value(oid, answer)
        assert (await service.summary(oid)).pacing.batch_size == 25
    finally:
        await second.close()


async def test_starting_over_forgets_the_answers(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1)
    await up_to_when(service, oid, list_id, template_id)
    fresh = await service.restart(oid)
    assert fresh == CampaignDraft(fresh.id, oid)  # at the first step, no answer
    assert fresh.list_id is None and fresh.template_id is None
    assert await service.draft(oid) == fresh
    await service.discard(oid)
    assert await service.draft(oid) is None
    with pytest.raises(NotFound):
        await service.start_now(oid)


async def test_a_list_without_anyone_to_message_cannot_be_chosen(service, db, clock) -> None:
    oid, list_id, _ = await seed(db, clock, 1, people=3, opted_out=3)
    await service.begin(oid)
    with pytest.raises(ValidationError) as exc:
        await service.choose_list(oid, list_id)
    assert exc.value.reason == "no_recipients"
    assert (await service.draft(oid)).list_id is None


async def test_senders_can_be_left_out_but_not_all(service, db, clock) -> None:
    oid, list_id, template_id = await seed(db, clock, 1, people=12)
    draft = await up_to_when(service, oid, list_id, template_id)
    first, second = draft.senders
    await service.toggle_sender(oid, first)
    await service.toggle_sender(oid, second)
    with pytest.raises(ValidationError) as exc:
        await service.senders_chosen(oid)
    assert exc.value.reason == "no_senders"
    await service.toggle_sender(oid, second)
    await service.senders_chosen(oid)
    await service.start_now(oid)
    await custom_small_batches(service, oid)
    summary = await service.confirm(oid)
    assert summary.campaign.sender_ids == [second]
    assert {r[1] for r in await outbox(db, summary.campaign.id)} == {second}


async def test_the_sandbox_sender_is_made_once_per_owner_when_the_wizard_begins(
        db, clock) -> None:
    service = make_service(db, clock, gateway="sandbox")
    oid, _, _ = await seed(db, clock, 1, sender_count=0)
    other, _, _ = await seed(db, clock, 2, sender_count=0)
    assert await service.usable_senders(oid) == []  # looking makes nothing
    await service.begin(oid)
    first = await service.usable_senders(oid)
    await service.restart(oid)
    again = await service.usable_senders(oid)
    await asyncio.gather(service.begin(other), service.begin(other))
    together = await service.usable_senders(other)
    assert first == again and len(first) == 1
    assert first[0].gateway == "sandbox" and first[0].status is SenderStatus.ACTIVE
    assert len(together) == 1 and together[0].id != first[0].id
    assert len(await senders.list_for_owner(db.reader, oid)) == 1


async def stored_by_an_earlier_version(db: Database, clock, oid: int, answers: dict, *,
                                       list_id: int | None = None,
                                       template_id: int | None = None) -> int:
    """A draft row as the untyped wizard wrote it: its JSON, its step strings."""
    async with db.transaction() as tx:
        campaign = await campaigns_repo.create_draft(tx, oid, "", clock())
        await tx.execute("UPDATE campaigns SET list_id = ?, template_id = ?, draft = ?"
                         " WHERE id = ?", (list_id, template_id, json.dumps(answers),
                                           campaign.id))
    return campaign.id


async def everything(db: Database) -> list[tuple]:
    rows = []
    for table in ("campaigns", "senders", "ledger", "messages"):
        async with db.reader.execute(f"SELECT * FROM {table} ORDER BY id") as cur:
            rows += [(table, *row) for row in await cur.fetchall()]
    return rows


async def test_building_the_summary_only_reads(db, clock) -> None:
    """The summary, the numbers offered and the draft itself are reads: in the sandbox an
    owner whose draft waits at the summary with no number gets "no numbers" and no number
    is made by looking; a complete draft's summary changes nothing either."""
    service = make_service(db, clock, gateway="sandbox")
    oid, list_id, template_id = await seed(db, clock, 1, sender_count=0)
    await stored_by_an_earlier_version(db, clock, oid, {
        "step": "summary", "senders": [], "when": {"kind": "now"}, "preset": "fast",
        "pacing": PRESETS["fast"].to_json()}, list_id=list_id, template_id=template_id)
    before = await everything(db)
    with pytest.raises(ValidationError) as exc:
        await service.summary(oid)
    assert exc.value.reason == "no_senders"
    assert await service.usable_senders(oid) == [] and await service.draft(oid) is not None
    assert await everything(db) == before

    await service.restart(oid)  # a step that writes: the sandbox number is made here
    await service.choose_list(oid, list_id)
    await service.choose_template(oid, template_id)
    await service.senders_chosen(oid)
    await service.start_now(oid)
    await service.use_preset(oid, "fast")
    before = await everything(db)
    summary = await service.summary(oid)
    assert [s.gateway for s in summary.senders] == ["sandbox"]
    await service.usable_senders(oid)
    assert await everything(db) == before


async def test_drafts_stored_by_an_earlier_version_still_load(service, db, clock) -> None:
    """The JSON the untyped wizard stored (its step strings, its keys, a draft left for a
    command) loads into the typed draft, resumes at its step and goes on to confirm."""
    oid, list_id, template_id = await seed(db, clock, 1, people=5)
    ids = sorted(s.id for s in await service.usable_senders(oid))
    at = clock() + timedelta(hours=2)
    custom = {**PRESETS["normal"].to_json(), "delay_min": 10.0, "delay_max": 20.0,
              "batch_size": 4}
    await stored_by_an_earlier_version(db, clock, oid, {
        "step": "custom_quiet", "senders": ids, "when": {"kind": "at", "at": at.timestamp()},
        "custom": custom, "left": True}, list_id=list_id, template_id=template_id)
    assert await service.drafts() == []  # left for a command: not resumed at start-up
    draft = await service.begin(oid)
    assert (draft.step, draft.left, draft.senders) == (WizardStep.CUSTOM_QUIET, False, ids)
    assert draft.start == DraftStart(StartKind.AT, at=at)
    draft = await service.custom_value(oid, None)  # no quiet hours
    assert draft.step is WizardStep.SUMMARY and draft.preset == "custom"
    summary = await service.summary(oid)
    assert (summary.starts_at, summary.pacing.delay_min, summary.pacing.batch_size) == (
        at, 10.0, 4)
    assert (await service.back(oid)).step is WizardStep.CUSTOM_QUIET
    await service.custom_value(oid, None)
    confirmed = await service.confirm(oid)
    assert confirmed.campaign.status is CampaignStatus.SCHEDULED
    assert confirmed.campaign.starts_at == at and confirmed.campaign.sender_ids == ids

    # a weekly start half set up with a preset pace, and a draft of the very first days
    # (no step stored: the first)
    other, other_list, other_template = await seed(db, clock, 2)
    other_ids = sorted(s.id for s in await service.usable_senders(other))
    await stored_by_an_earlier_version(db, clock, other, {
        "step": "recurring_time", "senders": other_ids,
        "recurring": {"every": "week", "weekdays": [0, 2]}, "preset": "fast",
        "pacing": PRESETS["fast"].to_json()}, list_id=other_list, template_id=other_template)
    third, _, _ = await seed(db, clock, 3)
    await stored_by_an_earlier_version(db, clock, third, {})
    assert sorted(await service.drafts()) == [(other, WizardStep.RECURRING_TIME),
                                              (third, WizardStep.LIST)]
    assert (await service.recurring_at(other, "10:00")).step is WizardStep.PACING
    await service.go_to(other, "summary")
    summary = await service.summary(other)
    assert summary.recurrence.weekdays == (0, 2) and summary.recurrence.at == time(10, 0)
    assert summary.preset == "fast" and [s.id for s in summary.senders] == other_ids


async def test_no_sandbox_sender_is_made_for_a_real_gateway(db, clock) -> None:
    service = make_service(db, clock, gateway="waha")
    oid, list_id, template_id = await seed(db, clock, 1, sender_count=0)
    assert await service.usable_senders(oid) == []
    await service.begin(oid)
    await service.choose_list(oid, list_id)
    await service.choose_template(oid, template_id)
    with pytest.raises(ValidationError):
        await service.senders_chosen(oid)
    assert await senders.list_for_owner(db.reader, oid) == []


# --- the owner's controls ------------------------------------------------------------------

async def confirmed(service, db, clock, telegram_id: int = 1, **seeded):
    oid, list_id, template_id = await seed(db, clock, telegram_id, **seeded)
    await ready_draft(service, oid, list_id, template_id)
    return oid, (await service.confirm(oid)).campaign


async def test_cancel_skips_the_queue_and_gives_the_credits_back(service, db, clock) -> None:
    oid, campaign = await confirmed(service, db, clock, people=22, credits=100)
    clock.advance(minutes=1)
    view, released = await service.cancel(oid, campaign.id)
    assert released == 22
    assert view.campaign.status is CampaignStatus.CANCELLED
    assert view.campaign.finished_at == clock()
    assert (view.progress.skipped, view.progress.queued, view.held) == (22, 0, 0)
    assert {r[5] for r in await outbox(db, campaign.id)} == {"skipped"}
    assert (await ledger_rows(db, oid))[-1] == ("release", 22, campaign.id)
    balance = await ledger.balance(db.reader, oid)
    assert (balance.total, balance.reserved, balance.available) == (100, 0, 100)
    with pytest.raises(InvalidTransition):
        await service.cancel(oid, campaign.id)
    assert len(await ledger_rows(db, oid)) == 3  # credit, reserve, release: no second release


async def test_cancel_after_some_were_sent_releases_only_the_rest(service, db, clock) -> None:
    oid, campaign = await confirmed(service, db, clock, people=22, credits=100)
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE messages SET status = 'sent' WHERE id IN (SELECT id FROM messages"
            " WHERE campaign_id = ? ORDER BY planned_at LIMIT 5)", (campaign.id,))
        await ledger.add(tx, oid, LedgerKind.CHARGE, -5, clock(), campaign_id=campaign.id)
        running = await campaigns_repo.get(tx, oid, campaign.id)
        running.start(clock())
        await campaigns_repo.save(tx, running, clock())
    view, released = await service.cancel(oid, campaign.id)
    assert released == 17
    assert (view.progress.sent, view.progress.skipped) == (5, 17)
    balance = await ledger.balance(db.reader, oid)
    assert (balance.total, balance.reserved, balance.available) == (95, 0, 95)


async def test_pause_and_resume(service, db, clock) -> None:
    oid, campaign = await confirmed(service, db, clock)
    view = await service.pause(oid, campaign.id)
    assert view.campaign.status is CampaignStatus.PAUSED
    assert view.campaign.status_reason == "owner"
    assert view.finish is not None and view.held == 22
    with pytest.raises(InvalidTransition):
        await service.pause(oid, campaign.id)
    view = await service.resume(oid, campaign.id)
    assert view.campaign.status is CampaignStatus.SCHEDULED  # it had not started yet
    assert view.campaign.status_reason is None
    with pytest.raises(InvalidTransition):
        await service.resume(oid, campaign.id)
    async with db.transaction() as tx:
        running = await campaigns_repo.get(tx, oid, campaign.id)
        running.start(clock())
        await campaigns_repo.save(tx, running, clock())
    await service.pause(oid, campaign.id)
    assert (await service.resume(oid, campaign.id)).campaign.status is CampaignStatus.RUNNING
    await service.cancel(oid, campaign.id)
    for action in (service.pause, service.resume):
        with pytest.raises(InvalidTransition):
            await action(oid, campaign.id)


async def test_the_owners_campaigns_newest_first_without_the_draft(service, db, clock) -> None:
    oid, first = await confirmed(service, db, clock, credits=1000)
    list_id = first.list_id
    await ready_draft(service, oid, list_id, first.template_id)
    second = (await service.confirm(oid)).campaign
    await service.begin(oid)  # a new draft is not listed
    views = await service.list(oid)
    assert [v.campaign.id for v in views] == [second.id, first.id]
    assert all(v.progress.queued == 22 for v in views)
    assert views[0].campaign.name == "Promo · Customers"
    draft = await service.draft(oid)
    with pytest.raises(NotFound):
        await service.view(oid, draft.id)
    with pytest.raises(NotFound):
        await service.cancel(oid, draft.id)


async def test_another_owner_cannot_see_or_touch_a_campaign(service, db, clock) -> None:
    a, campaign = await confirmed(service, db, clock, telegram_id=1)
    b, _, _ = await seed(db, clock, 2)
    assert await service.list(b) == []
    for action in (service.view, service.pause, service.resume, service.cancel):
        with pytest.raises(NotFound):
            await action(b, campaign.id)
    view = await service.view(a, campaign.id)
    assert view.campaign.status is CampaignStatus.SCHEDULED and view.progress.queued == 22
    assert (await ledger.balance(db.reader, b)).reserved == 0


async def test_another_owners_list_template_and_sender_cannot_be_chosen(
    service, db, clock
) -> None:
    _, a_list, a_template = await seed(db, clock, 1)
    a_sender = (await senders.list_for_owner(db.reader, 1))[0]
    b, b_list, b_template = await seed(db, clock, 2)
    await service.begin(b)
    with pytest.raises(NotFound):
        await service.choose_list(b, a_list)
    await service.choose_list(b, b_list)
    with pytest.raises(NotFound):
        await service.choose_template(b, a_template)
    await service.choose_template(b, b_template)
    with pytest.raises(NotFound):
        await service.toggle_sender(b, a_sender.id)
    draft = await service.draft(b)
    assert draft.list_id == b_list and draft.template_id == b_template
    assert a_sender.id not in draft.senders
