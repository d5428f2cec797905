"""Date-based messages on a real SQLite file with a controllable clock
(``bot/services/automations_dates.py``): birthdays with and without a year, day-first and
ISO, 29 February in leap and other years, an invalid date counted and never messaged, N
days before across a year's end, each at its time in the recipient's zone; a second
evaluation and a restart make nothing twice; a contact added later in the day still gets
it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain import LedgerKind, SenderStatus
from bot.errors import ValidationError
from bot.services import automations_dates
from bot.services.automations import AutomationsEngine, AutomationsService
from bot.services.automations_dates import DatesEngine, parse_date_config
from bot.services.messages import MessagesConfig, MessagesService
from bot.services.templates import TemplatesService
from bot.storage import contact_cards, contacts, ledger, senders, templates
from bot.storage.db import Database
from tests.fakes import FakeClock, RecordingNotifier
from tests.fakes.owners import add_active_owner

BAKU, LONDON, MOSCOW = "+994501110001", "+442071110002", "+74951110003"
BAD, NONE, OTHER = "+994501110004", "+994501110005", "+994501110006"


class World:
    def __init__(self, db: Database, clock: FakeClock) -> None:
        self.db, self.clock = db, clock
        self.templates = TemplatesService(db, clock)
        self.restart()
        self.owner_id = self.template_id = 0

    def restart(self) -> None:
        """New services over the same database, as after a restart."""
        messages = MessagesService(self.db, self.templates, MessagesConfig(), self.clock)
        self.automations = AutomationsService(self.db, self.templates, messages,
                                              RecordingNotifier(), self.clock)
        self.dates = DatesEngine(self.db, self.automations, self.clock)
        self.engine = AutomationsEngine(self.clock)
        self.engine.add(self.dates)

    async def setup(self) -> None:
        now = self.clock()
        async with self.db.transaction() as tx:
            owner = await add_active_owner(tx, 1, now)
            await senders.add(tx, owner_id=owner.id, gateway="sandbox", phone="+994500000000",
                              status=SenderStatus.ACTIVE, now=now)
            await ledger.add(tx, owner.id, LedgerKind.CREDIT, 100, now)
            made = await templates.add(tx, owner.id, "Birthday",
                                       ["Happy birthday, {{name|friend}}!"], None, None, now)
        self.owner_id, self.template_id = owner.id, made.id

    async def add(self, *rows: tuple[str, dict[str, str]]) -> None:
        async with self.db.transaction() as tx:
            await contacts.upsert(tx, self.owner_id, [(p, None, a) for p, a in rows],
                                  self.clock())

    async def rule(self, **config: Any) -> int:
        made = await self.automations.create(self.owner_id, "date", "Birthdays", {
            "attribute": "birthday", "when": "on", "at": "10:00",
            "template_id": self.template_id, **config})
        return made.id

    async def run_until(self, until: datetime, every: timedelta = timedelta(hours=1)) -> None:
        while self.clock() <= until:
            await self.engine.tick()
            self.clock.advance(seconds=every.total_seconds())

    async def produced(self) -> list[tuple[str, str, datetime]]:
        """(phone, occurrence, planned at UTC) of every produced message."""
        async with self.db.reader.execute(
            "SELECT m.phone, s.occurrence, m.planned_at FROM automation_sends s"
            " JOIN messages m ON m.id = s.message_id"
            " ORDER BY s.occurrence, m.planned_at, m.phone") as cur:
            return [(r[0], r[1], datetime.fromtimestamp(r[2], UTC)) async for r in cur]


@pytest.fixture
async def world(db: Database, clock: FakeClock) -> AsyncIterator[World]:
    clock.now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    made = World(db, clock)
    await made.setup()
    yield made


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


async def test_birthdays_with_and_without_year_at_ten_in_each_zone(world: World) -> None:
    await world.add((BAKU, {"birthday": "05.12.1990"}),      # day-first
                    (LONDON, {"birthday": "1985-12-05"}),    # ISO
                    (MOSCOW, {"birthday": "05.12"}),         # no year
                    (BAD, {"birthday": "31.02.1990"}),       # no such day
                    (NONE, {"city": "Baku"}),                # no birthday
                    (OTHER, {"birthday": "07/12/1990"}))
    rule = await world.rule()
    await world.run_until(utc(2026, 12, 5, 23))
    assert await world.produced() == [
        (BAKU, "2026-12-05", utc(2026, 12, 5, 6)),     # 10:00 in Baku (UTC+4)
        (MOSCOW, "2026-12-05", utc(2026, 12, 5, 7)),   # 10:00 in Moscow (UTC+3)
        (LONDON, "2026-12-05", utc(2026, 12, 5, 10)),  # 10:00 in London
    ]
    figures = await world.dates.figures(world.owner_id, rule)
    assert (figures.valid, figures.invalid, figures.missing) == (4, 1, 1)
    # the next ones: 7 December's, then next year's
    assert [(s.phone, s.event.isoformat()) for s in figures.next_sends][:2] == [
        (OTHER, "2026-12-07"), (BAKU, "2027-12-05")]


async def test_an_invalid_date_is_counted_and_never_messaged(world: World) -> None:
    await world.add((BAKU, {"birthday": "03-05"}),   # 5 March or 3 May: never guessed
                    (LONDON, {"birthday": "05.03.24"}),
                    (MOSCOW, {"birthday": "2026-12-05"}))
    rule = await world.rule()
    world.clock.now = utc(2027, 3, 1)
    await world.run_until(utc(2027, 5, 10), every=timedelta(hours=6))
    assert [p for p, _, _ in await world.produced()] == []
    figures = await world.dates.figures(world.owner_id, rule)
    assert (figures.valid, figures.invalid, figures.missing) == (1, 2, 0)


async def test_29_february_on_the_28th_in_other_years(world: World) -> None:
    await world.add((BAKU, {"birthday": "29.02.2000"}), (LONDON, {"birthday": "28.02"}))
    await world.rule()
    world.clock.now = utc(2027, 2, 26)
    await world.run_until(utc(2027, 3, 2))
    world.clock.now = utc(2028, 2, 26)
    await world.run_until(utc(2028, 3, 2))
    assert [(p, o) for p, o, _ in await world.produced()] == [
        (BAKU, "2027-02-28"), (LONDON, "2027-02-28"),   # 2027: no 29th
        (LONDON, "2028-02-28"), (BAKU, "2028-02-29")]   # 2028: a leap year
    # (each year's first: Baku's 10:00 comes before London's)


async def test_days_before_cross_the_years_end(world: World) -> None:
    await world.add((BAKU, {"appointment": "01.01.2027"}), (LONDON, {"appointment": "01.01"}))
    await world.rule(attribute="appointment", days=3, when="before", at="09:30", yearly=False)
    await world.run_until(utc(2027, 1, 2))
    assert await world.produced() == [
        (BAKU, "2027-01-01", datetime(2026, 12, 29, 5, 30, tzinfo=UTC)),
        (LONDON, "2027-01-01", datetime(2026, 12, 29, 9, 30, tzinfo=UTC))]
    # a one-off date with a year does not come again; a yearless one does
    world.clock.now = utc(2027, 12, 27)
    await world.run_until(utc(2027, 12, 30))
    assert [(p, o) for p, o, _ in await world.produced()][2:] == [(LONDON, "2028-01-01")]


async def test_a_second_evaluation_and_a_restart_make_nothing_twice(world: World) -> None:
    await world.add((BAKU, {"birthday": "05.12.1990"}), (LONDON, {"birthday": "1985-12-05"}))
    rule = await world.rule()
    world.clock.now = utc(2026, 12, 5, 2)
    await world.engine.tick()
    await world.engine.tick()
    first = await world.produced()
    assert len(first) == 2
    world.restart()
    automation = await world.automations.get(world.owner_id, rule)
    # even evaluating the same day again, as if its mark were lost
    assert await world.dates.evaluate(automation, world.clock(), again=True) == 0
    async with world.db.transaction() as tx:
        await tx.execute("DELETE FROM automation_date_runs")
    await world.run_until(utc(2026, 12, 5, 20))
    assert await world.produced() == first
    assert (await ledger.balance(world.db.reader, world.owner_id)).reserved == 2


async def test_a_contact_added_later_in_the_day_still_gets_it(world: World) -> None:
    await world.rule()
    world.clock.now = utc(2026, 12, 5, 8)
    await world.engine.tick()
    assert await world.produced() == []
    world.clock.advance(hours=3)
    await world.add((LONDON, {"birthday": "05.12.1990"}))
    await world.engine.tick()
    # 11:00 in London: 10:00 has passed, it goes now
    assert await world.produced() == [(LONDON, "2026-12-05", utc(2026, 12, 5, 11))]
    # a date changed to today for someone whose day is over in their zone: not sent
    world.clock.now = utc(2026, 12, 5, 22)
    await world.add((BAKU, {"birthday": "05.12.1990"}))
    await world.engine.tick()
    assert [p for p, _, _ in await world.produced()] == [LONDON]


def test_the_config_is_checked() -> None:
    stored = parse_date_config({"attribute": " birthday ", "days": "2", "when": "before",
                                "at": "9.05", "template_id": 3})
    assert stored == {"attribute": "birthday", "days": 2, "when": "before", "at": "09:05",
                      "yearly": True, "template_id": 3}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"attribute": ""}, "attribute"), ({"when": "later"}, "when"),
        ({"when": "after", "days": 400}, "days"), ({"at": "25:00"}, "at"),
        ({"template_id": None}, "template_id")]
    for bad, where in cases:
        with pytest.raises(ValidationError) as raised:
            parse_date_config({"attribute": "birthday", "template_id": 1, **bad})
        assert raised.value.where == where


async def test_a_date_edited_removed_or_deleted_is_seen_at_the_next_tick(world: World) -> None:
    await world.add((BAKU, {"birthday": "05.12.1990"}), (LONDON, {"birthday": "06.12.1990"}),
                    (MOSCOW, {"birthday": "bad"}))
    rule = await world.rule()
    world.clock.now = utc(2026, 12, 1)
    await world.engine.tick()
    assert (await world.dates.figures(world.owner_id, rule)).valid == 2
    baku = await contacts.get_by_phone(world.db.reader, world.owner_id, BAKU)
    london = await contacts.get_by_phone(world.db.reader, world.owner_id, LONDON)
    moscow = await contacts.get_by_phone(world.db.reader, world.owner_id, MOSCOW)
    assert baku and london and moscow
    world.clock.advance(hours=1)
    async with world.db.transaction() as tx:
        # Baku's birthday moves to the 7th (a contact card edit), London's is removed,
        # Moscow's invalid one is fixed, and then Moscow is deleted
        await contact_cards.update(tx, world.owner_id, baku.id, None, {"birthday": "07.12"},
                                   world.clock())
        await contact_cards.update(tx, world.owner_id, london.id, None, {"city": "London"},
                                   world.clock())
        await contact_cards.update(tx, world.owner_id, moscow.id, None,
                                   {"birthday": "05.12"}, world.clock())
    world.clock.advance(minutes=2)
    figures = await world.dates.figures(world.owner_id, rule)
    assert (figures.valid, figures.invalid, figures.missing) == (2, 0, 1)
    async with world.db.transaction() as tx:
        await tx.execute("DELETE FROM contacts WHERE id = ?", (moscow.id,))
    await world.run_until(utc(2026, 12, 7, 12))
    assert [(p, o) for p, o, _ in await world.produced()] == [(BAKU, "2026-12-07")]


async def test_a_card_leaves_a_big_first_read_to_the_engine(world: World, monkeypatch) -> None:
    monkeypatch.setattr(automations_dates, "SCREEN_READS", 2)
    await world.add((BAKU, {"birthday": "05.12.1990"}), (LONDON, {"birthday": "1985-12-05"}),
                    (MOSCOW, {"birthday": "05.12"}))
    rule = await world.rule()
    figures = await world.dates.figures(world.owner_id, rule)
    assert (figures.valid, figures.unread) == (0, 3)  # shown as still being read
    await world.engine.tick()
    world.clock.advance(minutes=5)  # past the margin within which contacts are read again
    await world.engine.tick()
    figures = await world.dates.figures(world.owner_id, rule)
    assert (figures.valid, figures.unread) == (3, 0)
