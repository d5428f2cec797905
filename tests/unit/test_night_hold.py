"""The night held in each recipient's own zone (``Pacing.recipient_night``): when it ends
in several zones (DST included), its stored form, and the dispatcher holding a message due
at night where it arrives while a message to a daytime zone goes out."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain import Language, LedgerKind
from bot.gateways.sandbox import SandboxConfig, SandboxGateway
from bot.services import risk
from bot.services.campaigns import CampaignsConfig, CampaignsService
from bot.services.dispatcher import Dispatcher, DispatcherConfig
from bot.services.planning import NIGHT_SPREAD, PRESETS, Pacing, QuietHours, night_end
from bot.services.templates import TemplatesService
from bot.storage import contacts, ledger, lists, owners, templates
from bot.storage.db import Database
from tests.fakes import FakeClock, RecordingNotifier

BAKU, TOKYO, NEW_YORK, MOSCOW = (ZoneInfo(z) for z in (
    "Asia/Baku", "Asia/Tokyo", "America/New_York", "Europe/Moscow"))


def _utc(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def _local(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=zone).timestamp()


def test_the_night_ends_at_the_next_local_morning_in_each_zone() -> None:
    # 2026-11-25 21:00 UTC: 01:00 in Baku, 00:00 in Moscow, 06:00 in Tokyo, 16:00 in New York
    at = _utc(2026, 11, 25, 21, 0)
    assert night_end(BAKU, at) == _local(BAKU, 2026, 11, 26, 8, 0)
    assert night_end(MOSCOW, at) == _local(MOSCOW, 2026, 11, 26, 8, 0)
    assert night_end(TOKYO, at) == _local(TOKYO, 2026, 11, 26, 8, 0)
    assert night_end(NEW_YORK, at) is None  # the afternoon there
    # evening: tomorrow's morning; the edges: 22:00 is night, 08:00 is day
    assert night_end(BAKU, _local(BAKU, 2026, 11, 25, 23, 30)) == \
        _local(BAKU, 2026, 11, 26, 8, 0)
    assert night_end(BAKU, _local(BAKU, 2026, 11, 25, 22, 0)) == \
        _local(BAKU, 2026, 11, 26, 8, 0)
    assert night_end(BAKU, _local(BAKU, 2026, 11, 25, 8, 0)) is None
    assert night_end(BAKU, _local(BAKU, 2026, 11, 25, 21, 59)) is None


def test_the_night_follows_daylight_saving_time() -> None:
    # New York springs forward on 2026-03-08 at 02:00: 08:00 that morning is 12:00 UTC
    assert night_end(NEW_YORK, _utc(2026, 3, 8, 5, 0)) == _utc(2026, 3, 8, 12, 0)
    # and falls back on 2026-11-01: that night is an hour longer, 08:00 is 13:00 UTC
    assert night_end(NEW_YORK, _utc(2026, 11, 1, 3, 0)) == _utc(2026, 11, 1, 13, 0)
    assert night_end(NEW_YORK, _utc(2026, 10, 31, 12, 30)) is None  # 08:30 EDT: day
    assert night_end(NEW_YORK, _utc(2026, 11, 1, 12, 30)) is not None  # 07:30 EST: night


def test_recipient_night_is_in_the_stored_pace_and_off_for_older_ones() -> None:
    pacing = Pacing(30.0, 60.0, 50, 900.0, 1800.0, QuietHours(time(22), time(8)),
                    recipient_night=True)
    assert pacing.to_json()["recipient_night"] is True
    assert Pacing.from_json(pacing.to_json()) == pacing
    older = {k: v for k, v in pacing.to_json().items() if k != "recipient_night"}
    assert Pacing.from_json(older).recipient_night is False
    # the defaults hold it; "fast" (the riskiest choice, for time-critical notices) does not
    assert PRESETS["safe"].recipient_night and PRESETS["normal"].recipient_night
    assert not PRESETS["fast"].recipient_night


def test_the_night_rule_counts_no_night_sends_when_the_night_is_held() -> None:
    start = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 04:00 in New York
    burst = Pacing(30.0, 60.0, 50, 900.0, 1800.0, None)
    facts = risk.CampaignFacts(
        recipients=200, never_messaged=0, unchecked=0, distinct_texts=10,
        texts_with_links=0, pacing=burst, first=start, finish=start + timedelta(hours=3),
        owner_zone=BAKU, zones=(("America/New_York", 200),))
    assert "night" in {r.code for r in risk.assess(facts, start).reasons}
    held = risk.CampaignFacts(**{**{f: getattr(facts, f) for f in facts.__dataclass_fields__},
                                 "pacing": Pacing(30.0, 60.0, 50, 900.0, 1800.0, None,
                                                  recipient_night=True)})
    assert "night" not in {r.code for r in risk.assess(held, start).reasons}


# --- the dispatcher ------------------------------------------------------------------------

PHONES = {"+994501234567": BAKU, "+81312345678": TOKYO, "+12125550123": NEW_YORK}


async def _campaign(db: Database, clock: FakeClock, service: CampaignsService,
                    preset: str) -> int:
    now = clock()
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN, now=now)
        people = await lists.create(tx, owner.id, "world", now)
        rows = [(p, f"Name {n}", "{}") for n, p in enumerate(PHONES)]
        await contacts.upsert(tx, owner.id, rows, now)
        await contacts.add_to_list(tx, owner.id, people.id, list(PHONES), now)
        template = await templates.add(tx, owner.id, "t", ["{Salam|Hello} {{name}}"], None,
                                       None, now)
        await ledger.add(tx, owner.id, LedgerKind.CREDIT, 100, now)
    await service.begin(owner.id)
    await service.choose_list(owner.id, people.id)
    await service.choose_template(owner.id, template.id)
    await service.senders_chosen(owner.id)
    await service.start_now(owner.id)
    await service.use_preset(owner.id, preset)
    campaign = (await service.confirm(owner.id, big_ok=True)).campaign
    assert campaign is not None
    return campaign.id


async def _rows(db: Database) -> dict[str, tuple[str, float, float | None]]:
    async with db.reader.execute(
            "SELECT phone, status, planned_at, sent_at FROM messages") as cur:
        return {r[0]: (r[1], r[2], r[3]) async for r in cur}


@pytest.mark.parametrize("preset", ["normal", "safe"])
async def test_a_message_due_at_night_where_it_arrives_waits_for_the_morning_there(
        db: Database, preset: str) -> None:
    # 09:00 UTC: 13:00 in Baku (the owner's), 18:00 in Tokyo, 04:00 in New York
    clock = FakeClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    gateway = SandboxGateway(SandboxConfig(delivery_delay=0, read_delay=0, invalid_share=0))
    try:
        service = CampaignsService(db, CampaignsConfig(advice_max=100, warmup=()), clock)
        dispatcher = Dispatcher(db, gateway,  # type: ignore[arg-type]  # no Meta templates
                                TemplatesService(db, clock), RecordingNotifier(),
                                DispatcherConfig(progress_every=0, warmup=()), clock,
                                campaigns_service=service)
        gateway.set_event_handler(dispatcher.events.on_event)
        await _campaign(db, clock, service, preset)
        for _ in range(600):  # ten minutes of ticks: the pace lets all three go
            await dispatcher.tick()
            clock.advance(seconds=1)
        rows = await _rows(db)
        assert rows["+994501234567"][2] is not None  # sent: the afternoon in Baku
        assert rows["+81312345678"][2] is not None  # sent: evening in Tokyo
        status, planned, sent = rows["+12125550123"]
        morning = _local(NEW_YORK, 2026, 11, 25, 8, 0)  # 13:00 UTC
        assert (status, sent) == ("queued", None)
        assert morning <= planned <= morning + NIGHT_SPREAD
        # at the morning there (plus the spread) it goes
        clock.now = datetime.fromtimestamp(planned, UTC) + timedelta(seconds=1)
        for _ in range(120):
            await dispatcher.tick()
            clock.advance(seconds=1)
        status, _planned, sent = (await _rows(db))["+12125550123"]
        assert sent is not None and sent >= morning
        assert night_end(NEW_YORK, sent) is None
    finally:
        await gateway.close()


async def test_a_pace_without_the_hold_sends_at_night_as_before(db: Database) -> None:
    clock = FakeClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))  # 04:00 in New York
    gateway = SandboxGateway(SandboxConfig(delivery_delay=0, read_delay=0, invalid_share=0))
    try:
        service = CampaignsService(db, CampaignsConfig(advice_max=100, warmup=()), clock)
        dispatcher = Dispatcher(db, gateway,  # type: ignore[arg-type]  # no Meta templates
                                TemplatesService(db, clock), RecordingNotifier(),
                                DispatcherConfig(progress_every=0, warmup=()), clock,
                                campaigns_service=service)
        await _campaign(db, clock, service, "fast")
        for _ in range(120):
            await dispatcher.tick()
            clock.advance(seconds=1)
        assert all(sent is not None for _s, _p, sent in (await _rows(db)).values())
    finally:
        await gateway.close()


def test_the_apis_own_pace_holds_the_recipients_night_unless_told_not_to() -> None:
    from bot.web.api.campaigns import _pace  # the request's pace, as the API reads it
    given = {"delay_min": 30, "delay_max": 60, "batch_size": 50, "batch_pause_min": 900,
             "batch_pause_max": 1800}
    preset, pacing = _pace(given)
    assert preset == "custom" and pacing is not None and pacing.recipient_night
    _preset, pacing = _pace({**given, "recipient_night": False})
    assert pacing is not None and not pacing.recipient_night
