"""Sequences on a real SQLite file with a controllable clock: contacts who join a list get
the steps at their times (in their own zones), through the outbox and the dispatcher; a
reply, an opt-out or leaving the list stops them; a rejoin does not restart; a restart
in the middle changes nothing; nothing twice; the credits add up; an empty balance
pauses the sequence and tells the owner once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain import InboundMessage, LedgerKind, SenderStatus
from bot.errors import NotFound, ValidationError
from bot.services.automations import AutomationsEngine, AutomationsService
from bot.services.automations_sequences import SequenceEngine, parse_sequence
from bot.services.contacts import ContactsConfig, ContactsService
from bot.services.dispatcher import Dispatcher, DispatcherConfig
from bot.services.messages import MessagesConfig, MessagesService
from bot.services.notify import AutomationPaused
from bot.services.templates import TemplatesService
from bot.storage import automations as repo
from bot.storage import contacts, inbound, ledger, lists, senders, templates
from bot.storage.db import Database
from tests.fakes import FakeClock, RecordingGateway, RecordingNotifier
from tests.fakes.owners import add_active_owner

BAKU, LONDON, MOSCOW = "+994501110001", "+442071110002", "+74951110003"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


class World:
    """An owner with a number, credits, three templates and a list; the automations
    service, the sequence engine and a dispatcher sending through the recording sandbox."""

    def __init__(self, db: Database, clock: FakeClock, gateway: RecordingGateway) -> None:
        self.db, self.clock, self.gateway = db, clock, gateway
        self.notifier = RecordingNotifier()
        self.templates = TemplatesService(db, clock)
        self.restart()
        self.dispatcher = Dispatcher(db, gateway,  # type: ignore[arg-type]  # the sandbox sends no approved templates
                                     self.templates, RecordingNotifier(),
                                     DispatcherConfig(progress_every=0), clock)
        self.owner_id = self.list_id = 0
        self.steps: list[int] = []

    def restart(self) -> None:
        """New services over the same database, as after a restart."""
        self.messages = MessagesService(self.db, self.templates, MessagesConfig(), self.clock)
        self.automations = AutomationsService(self.db, self.templates, self.messages,
                                              self.notifier, self.clock)
        self.engine = AutomationsEngine(self.clock)
        self.engine.add(SequenceEngine(self.db, self.automations, self.clock))

    async def setup(self, credits: int = 100) -> None:
        now = self.clock()
        async with self.db.transaction() as tx:
            owner = await add_active_owner(tx, 1, now)
            await senders.add(tx, owner_id=owner.id, gateway="sandbox", phone="+994500000000",
                              status=SenderStatus.ACTIVE, now=now)
            if credits:
                await ledger.add(tx, owner.id, LedgerKind.CREDIT, credits, now)
            for n in range(3):
                made = await templates.add(tx, owner.id, f"Step {n + 1}",
                                           [f"Step {n + 1} for {{{{name|you}}}}"], None, None,
                                           now)
                self.steps.append(made.id)
            self.list_id = (await lists.create(tx, owner.id, "Clients", now)).id
        self.owner_id = owner.id

    def config(self, **extra: Any) -> dict[str, Any]:
        a, b, c = self.steps
        return {"list_id": self.list_id, "steps": [
            {"template_id": a, "delay": 0, "unit": "minutes", "after": "join"},
            {"template_id": b, "delay": 1, "unit": "days", "at": "10:00"},
            {"template_id": c, "delay": 2, "unit": "hours"}], **extra}

    async def sequence(self, **extra: Any) -> int:
        made = await self.automations.create(self.owner_id, "sequence", "Welcome",
                                             self.config(**extra))
        return made.id

    async def join(self, *phones: str) -> None:
        async with self.db.transaction() as tx:
            await contacts.upsert(tx, self.owner_id, [(p, None, {}) for p in phones],
                                  self.clock())
            await contacts.add_to_list(tx, self.owner_id, self.list_id, list(phones),
                                       self.clock())

    async def leave(self, phone: str) -> None:
        async with self.db.transaction() as tx:
            await lists.remove_members(tx, self.owner_id, self.list_id, [phone])

    async def reply(self, phone: str) -> None:
        [number] = await senders.list_for_owner(self.db.reader, self.owner_id)
        async with self.db.transaction() as tx:
            await inbound.add(tx, InboundMessage(0, self.owner_id, number.id, phone,
                                                 self.clock(), text="thanks!"))

    async def run_until(self, until: datetime, every: timedelta = timedelta(minutes=10),
                        events: dict[datetime, Any] | None = None) -> None:
        pending = dict(sorted((events or {}).items()))
        while self.clock() <= until:
            for at in [at for at in pending if at <= self.clock()]:
                await pending.pop(at)()
            await self.engine.tick()
            await self.dispatcher.tick()
            self.clock.advance(seconds=every.total_seconds())

    async def produced(self) -> list[tuple[str, str, datetime, str]]:
        """(phone, occurrence, planned at, status) of every produced message."""
        async with self.db.reader.execute(
            "SELECT m.phone, s.occurrence, m.planned_at, m.status FROM automation_sends s"
            " JOIN messages m ON m.id = s.message_id ORDER BY m.phone, s.occurrence") as cur:
            return [(r[0], r[1], datetime.fromtimestamp(r[2], UTC), r[3]) async for r in cur]

    def sent_to(self, phone: str) -> list[str]:
        return [s.text for s in self.gateway.sends if s.to == phone]


@pytest.fixture
async def world(db: Database, clock: FakeClock) -> AsyncIterator[World]:
    gateway = RecordingGateway(clock)
    made = World(db, clock, gateway)
    await made.setup()
    yield made
    await made.dispatcher.close()
    await gateway.close()


async def test_three_steps_go_at_each_contacts_times_in_their_zones(world: World) -> None:
    await world.sequence()
    later = {utc(25, 12): lambda: world.join(LONDON),
             utc(25, 23, 30): lambda: world.join(MOSCOW)}
    await world.join(BAKU)  # 09:00 UTC, 13:00 in Baku
    await world.run_until(utc(27, 12), events=later)

    planned = {(p, o): at for p, o, at, _ in await world.produced()}
    # joined at 02:30 Moscow time: the welcome waits for the morning there (08:00, 05:00
    # UTC, plus the dispatcher's spread of up to an hour), as a campaign's message would
    welcome = planned.pop((MOSCOW, "step:0"))
    assert utc(26, 5) <= welcome <= utc(26, 6)
    assert planned == {
        (BAKU, "step:0"): utc(25, 9), (BAKU, "step:1"): utc(26, 6),  # 10:00 in Baku
        (BAKU, "step:2"): utc(26, 8),
        (LONDON, "step:0"): utc(25, 12), (LONDON, "step:1"): utc(26, 10),  # 10:00 London
        (LONDON, "step:2"): utc(26, 12),
        # joined at 02:30 Moscow time on the 26th: the next day's 10:00 is the 27th's
        (MOSCOW, "step:1"): utc(27, 7),
        (MOSCOW, "step:2"): utc(27, 9)}
    for phone in (BAKU, LONDON, MOSCOW):
        assert world.sent_to(phone) == ["Step 1 for you", "Step 2 for you", "Step 3 for you"]
    sent_at = {(s.to, s.text): s.at for s in world.gateway.sends}
    assert utc(26, 6) <= sent_at[(BAKU, "Step 2 for you")] <= utc(26, 6, 10)
    # the credits add up: nine sent, nothing held
    balance = await ledger.balance(world.db.reader, world.owner_id)
    assert (balance.total, balance.reserved) == (100 - 9, 0)
    counts = await repo.enrolment_counts(world.db.reader, 1)
    assert counts == {"done": 3}


async def test_a_reply_or_an_opt_out_stops_the_next_steps(world: World) -> None:
    await world.sequence()
    await world.join(BAKU, LONDON, MOSCOW)
    optouts = ContactsService(world.db, ContactsConfig(default_region="AZ"), world.clock)
    await world.run_until(utc(25, 10), events={
        utc(25, 9, 30): lambda: world.reply(BAKU),
        utc(25, 9, 40): lambda: optouts.opt_out(world.owner_id, LONDON, "said stop")})
    await world.run_until(utc(27, 12))
    assert world.sent_to(BAKU) == ["Step 1 for you"]
    assert world.sent_to(LONDON) == ["Step 1 for you"]
    assert len(world.sent_to(MOSCOW)) == 3
    counts = await repo.enrolment_counts(world.db.reader, 1)
    assert counts == {"replied": 1, "opted_out": 1, "done": 1}


async def test_stop_rules_can_be_turned_off(world: World) -> None:
    await world.sequence(stop_on_reply=False, stop_on_leave=False)
    await world.join(BAKU, LONDON)
    await world.run_until(utc(25, 10), events={utc(25, 9, 30): lambda: world.reply(BAKU),
                                               utc(25, 9, 40): lambda: world.leave(LONDON)})
    await world.run_until(utc(27, 12))
    assert len(world.sent_to(BAKU)) == 3 and len(world.sent_to(LONDON)) == 3


async def test_leaving_stops_and_joining_again_does_not_restart(world: World) -> None:
    await world.sequence()
    await world.join(BAKU, LONDON)

    async def rejoin() -> None:
        await world.leave(BAKU)
        await world.join(BAKU)

    await world.run_until(utc(27, 12), events={utc(25, 10): rejoin,
                                               utc(25, 11): lambda: world.leave(LONDON)})
    assert world.sent_to(BAKU) == ["Step 1 for you", "Step 2 for you", "Step 3 for you"]
    assert world.sent_to(LONDON) == ["Step 1 for you"]


async def test_a_sequence_that_says_so_restarts_on_a_rejoin(world: World) -> None:
    await world.sequence(restart_on_rejoin=True)
    await world.join(BAKU)
    await world.run_until(utc(26, 12))

    async def rejoin() -> None:
        await world.leave(BAKU)
        await world.join(BAKU)

    await world.run_until(utc(28, 12), events={utc(26, 12, 10): rejoin})
    assert world.sent_to(BAKU) == ["Step 1 for you", "Step 2 for you", "Step 3 for you"] * 2
    occurrences = [o for _, o, _, _ in await world.produced()]
    assert occurrences == ["step:0", "step:0#1", "step:1", "step:1#1", "step:2", "step:2#1"]


async def test_a_restart_in_the_middle_changes_nothing(world: World, monkeypatch) -> None:
    await world.sequence()
    await world.join(BAKU, LONDON)
    await world.run_until(utc(25, 9, 30))
    # the engine dies in the middle of a step's transaction: nothing of it is kept
    original, calls = repo.advance, []

    async def dies(*args: Any) -> None:
        calls.append(args)
        raise RuntimeError("power cut")

    monkeypatch.setattr(repo, "advance", dies)
    world.clock.now = utc(26, 6, 0)
    await world.engine.tick()
    assert calls and len(await world.produced()) == 2  # only the first steps
    monkeypatch.setattr(repo, "advance", original)
    world.restart()
    await world.run_until(utc(27, 12))
    world.restart()
    await world.run_until(utc(27, 13))
    produced = await world.produced()
    assert len(produced) == len({(p, o) for p, o, _, _ in produced}) == 6
    assert world.sent_to(BAKU) == world.sent_to(LONDON) == [
        "Step 1 for you", "Step 2 for you", "Step 3 for you"]


async def test_produce_never_makes_an_occurrence_twice(world: World) -> None:
    seq = await world.automations.get(world.owner_id, await world.sequence())
    await world.join(BAKU)
    [contact] = [c for c in [await contacts.get_by_phone(world.db.reader, world.owner_id,
                                                         BAKU)] if c]
    item = (contact.id, BAKU, "step:0", world.clock().timestamp())
    async with world.db.transaction() as tx:
        assert await world.automations.produce(tx, seq, [item, item], world.steps[0]) == 1
    async with world.db.transaction() as tx:
        assert await world.automations.produce(tx, seq, [item], world.steps[0]) == 0
    assert (await ledger.balance(world.db.reader, world.owner_id)).reserved == 1


async def test_an_empty_balance_pauses_and_tells_the_owner_once(db: Database,
                                                                clock: FakeClock) -> None:
    gateway = RecordingGateway(clock)
    world = World(db, clock, gateway)
    await world.setup(credits=2)
    seq_id = await world.sequence()
    await world.join(BAKU, LONDON, MOSCOW)
    await world.run_until(utc(25, 12))
    await world.automations.settle()
    seq = await world.automations.get(world.owner_id, seq_id)
    assert (seq.state, seq.paused_reason) == ("paused", "balance")
    told = [n for n in world.notifier.notices if isinstance(n, AutomationPaused)]
    assert [(n.automation_id, n.reason) for n in told] == [(seq_id, "balance")]
    assert len(gateway.sends) == 2
    # credits bought, resumed: the third goes on from where it was, nothing twice
    async with db.transaction() as tx:
        await ledger.add(tx, world.owner_id, LedgerKind.CREDIT, 10, clock())
    await world.automations.resume(world.owner_id, seq_id)
    await world.run_until(utc(25, 13))
    assert sorted(s.to for s in gateway.sends) == sorted([BAKU, LONDON, MOSCOW])
    await world.automations.settle()
    assert len([n for n in world.notifier.notices if isinstance(n, AutomationPaused)]) == 1
    await world.dispatcher.close()
    await gateway.close()


async def test_pausing_skips_what_is_queued_and_gives_the_credits_back(world: World) -> None:
    seq_id = await world.sequence()
    await world.join(BAKU, LONDON)
    await world.engine.tick()  # produced, not sent yet
    assert (await ledger.balance(world.db.reader, world.owner_id)).reserved == 2
    assert await world.automations.pause(world.owner_id, seq_id) == 2
    balance = await ledger.balance(world.db.reader, world.owner_id)
    assert (balance.available, balance.reserved) == (100, 0)
    await world.run_until(utc(27, 12))
    assert world.gateway.sends == []
    card = await world.automations.card(world.owner_id, seq_id)
    assert (card.automation.state, card.produced_total, card.skipped) == ("paused", 2, 2)


async def test_the_card_counts_and_shows_the_next_sends(world: World) -> None:
    seq_id = await world.sequence()
    await world.join(BAKU, LONDON)
    await world.run_until(utc(25, 10))
    card = await world.automations.card(world.owner_id, seq_id)
    assert (card.produced_today, card.produced_total, card.sent) == (2, 2, 2)
    assert [(p.phone, p.step, p.at) for p in card.next_sends] == [
        (BAKU, 1, utc(26, 6)), (LONDON, 1, utc(26, 10))]
    assert card.enrolments == {"active": 2}


async def test_an_automation_is_its_owners_only(world: World) -> None:
    seq_id = await world.sequence()
    with pytest.raises(NotFound):
        await world.automations.get(world.owner_id + 1, seq_id)
    with pytest.raises(NotFound):
        await world.automations.pause(world.owner_id + 1, seq_id)
    assert await world.automations.delete(world.owner_id, seq_id) == 0
    assert await world.automations.list(world.owner_id) == []


@pytest.mark.parametrize("config, where", [
    ({"steps": [{"template_id": 1, "delay": 0}]}, "list_id"),
    ({"list_id": 1, "steps": []}, "steps"),
    ({"list_id": 1, "steps": [{"template_id": 1, "delay": 1, "unit": "weeks"}]},
     "steps[0].unit"),
    ({"list_id": 1, "steps": [{"template_id": 1, "delay": -1}]}, "steps[0].delay"),
    ({"list_id": 1, "steps": [{"template_id": 1, "delay": 1, "at": "25:00"}]}, "steps[0].at"),
    ({"list_id": 1, "steps": [{"template_id": 1}], "stop_on_reply": "yes"}, "stop_on_reply"),
])
def test_a_bad_sequence_is_refused_with_its_field(config: dict, where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_sequence(config)
    assert caught.value.where == where


async def test_a_sequence_names_the_owners_list_and_templates(world: World) -> None:
    with pytest.raises(NotFound):
        await world.automations.create(world.owner_id, "sequence", "X",
                                       {**world.config(), "list_id": 999})
    bad = world.config()
    bad["steps"][1]["template_id"] = 999
    with pytest.raises(NotFound):
        await world.automations.create(world.owner_id, "sequence", "X", bad)


async def test_a_step_due_at_night_where_it_arrives_waits_for_the_morning_there(
        world: World) -> None:
    # 09:00 UTC is 04:00 in New York: the welcome (at once after joining) waits for 08:00
    # there, as a campaign's message would; the Baku one (13:00) goes now
    new_york = "+12125550123"
    await world.sequence()
    await world.join(BAKU, new_york)
    await world.run_until(utc(25, 11))
    first = {phone: (planned, status) for phone, occurrence, planned, status
             in await world.produced() if occurrence == "step:0"}
    assert first[BAKU][1] != "queued"
    morning = utc(25, 13)  # 08:00 in New York
    assert first[new_york][1] == "queued"
    assert morning <= first[new_york][0] <= morning + timedelta(hours=1)
    await world.run_until(utc(25, 15))
    sent = [p for p, occurrence, _at, status in await world.produced()
            if occurrence == "step:0" and status != "queued"]
    assert new_york in sent
