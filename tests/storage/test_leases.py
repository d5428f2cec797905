"""Leases on a real database (both engines): one holder per name, taken over once it ran
out; and the workers' sharing of the numbers built on them (bot/services/leases.py):
fair shares, takeover of a dead worker's numbers within a lease time, its claims turned
uncertain (and only its), scheduled jobs run by one process."""

from __future__ import annotations

import random

from bot.domain import Language, SenderStatus
from bot.services.leases import Leases
from bot.storage import leases, outbox, owners, senders
from bot.storage.db import Database, to_ts
from tests.fakes import FakeClock

LEASE = 30.0


async def take(db: Database, name: str, holder: str, until: float, now: float) -> bool:
    async with db.transaction() as tx:
        return await leases.acquire(tx, name, holder, until, now)


async def test_a_free_name_is_taken_and_a_live_lease_is_refused_to_another_holder(
        db: Database) -> None:
    assert await take(db, "sender:1", "a", 130.0, 100.0)
    assert not await take(db, "sender:1", "b", 131.0, 101.0)  # a's, alive
    assert await leases.get(db.reader, "sender:1") == leases.Lease("sender:1", "a", 130.0)
    assert await take(db, "sender:1", "a", 140.0, 110.0)  # its holder renews it
    assert (await leases.get(db.reader, "sender:1")).expires_at == 140.0


async def test_a_lease_that_ran_out_is_taken_over_by_another_holder(db: Database) -> None:
    assert await take(db, "job:credits", "a", 130.0, 100.0)
    assert not await take(db, "job:credits", "b", 160.0, 130.0)  # not before it ran out
    assert await take(db, "job:credits", "b", 161.0, 130.5)
    assert await leases.get(db.reader, "job:credits") == leases.Lease("job:credits", "b",
                                                                      161.0)
    assert not await take(db, "job:credits", "a", 170.0, 140.0)  # a came back too late


async def test_renew_keeps_only_the_holders_leases_and_never_shortens_one(
        db: Database) -> None:
    await take(db, "sender:1", "a", 130.0, 100.0)
    await take(db, "sender:2", "b", 130.0, 100.0)
    await take(db, "job:credits", "a", 3700.0, 100.0)  # a job's lease spans its interval
    async with db.transaction() as tx:
        assert await leases.renew(tx, "a", 150.0) == 1
    assert await leases.held_by(db.reader, "a", 120.0) == {"sender:1": 150.0,
                                                            "job:credits": 3700.0}
    assert await leases.held_by(db.reader, "b", 120.0) == {"sender:2": 130.0}
    assert await leases.held_by(db.reader, "b", 131.0) == {}  # ran out
    assert await leases.live(db.reader, "sender:", 131.0) == {"sender:1": "a"}


async def test_release_gives_back_the_named_leases_or_all_and_only_the_holders(
        db: Database) -> None:
    for name in ("sender:1", "sender:2", "worker:a"):
        await take(db, name, "a", 130.0, 100.0)
    await take(db, "sender:3", "b", 130.0, 100.0)
    async with db.transaction() as tx:
        assert await leases.release(tx, "a", ["sender:1", "sender:3"]) == 1
    assert set(await leases.held_by(db.reader, "a", 100.0)) == {"sender:2", "worker:a"}
    async with db.transaction() as tx:
        assert await leases.release(tx, "a") == 2
    assert await leases.live(db.reader, "", 100.0) == {"sender:3": "b"}
    assert await take(db, "sender:1", "b", 140.0, 101.0)  # free at once


# --- the workers' sharing (bot/services/leases.py) ---------------------------------------

class World:
    """An owner with ``numbers`` active numbers, each with queued messages due now."""

    def __init__(self, db: Database, clock: FakeClock) -> None:
        self.db, self.clock = db, clock
        self.numbers: list[int] = []
        self.owner_id = 0

    async def seed(self, numbers: int, per_number: int = 3) -> World:
        now = self.clock()
        async with self.db.transaction() as tx:
            owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN,
                                     now=now)
            self.owner_id = owner.id
            for n in range(numbers):
                sender = await senders.add(tx, owner_id=owner.id, gateway="sandbox",
                                           phone=f"sandbox-{n}", status=SenderStatus.ACTIVE,
                                           now=now)
                self.numbers.append(sender.id)
        for sid in self.numbers:
            await self.message(sid, "queued", per_number)
        return self

    async def message(self, sender_id: int, status: str, n: int = 1) -> None:
        ts = to_ts(self.clock())
        async with self.db.transaction() as tx:
            for k in range(n):
                await tx.execute(
                    "INSERT INTO messages (owner_id, sender_id, phone, planned_at, status,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (self.owner_id, sender_id, f"+99450{sender_id:03d}{k:04d}{status[:2]}",
                     ts, status, ts))

    async def statuses(self, sender_id: int) -> dict[str, int]:
        async with self.db.reader.execute(
            "SELECT status, COUNT(*) FROM messages WHERE sender_id = ? GROUP BY status",
            (sender_id,),
        ) as cur:
            return {row[0]: row[1] async for row in cur}

    def worker(self, name: str, seed: int = 0) -> Leases:
        return Leases(self.db, self.clock, seconds=LEASE, holder=name,
                      rng=random.Random(seed))


def always_idle(_sender_id: int) -> bool:
    return True


async def test_workers_share_the_numbers_fairly_and_never_hold_the_same_one(
        db: Database, clock: FakeClock) -> None:
    world = await World(db, clock).seed(numbers=5)
    a, b, c = world.worker("a", 1), world.worker("b", 2), world.worker("c", 3)
    horizon = to_ts(clock()) + 1
    await a.round(horizon, always_idle)
    assert a.senders() == world.numbers  # alone: all of them
    await b.round(horizon, always_idle)  # two alive now: b takes the free ones, none
    await c.round(horizon, always_idle)
    assert b.senders() == c.senders() == []
    clock.advance(seconds=LEASE / 6)
    for worker in (a, b, c, b, c):  # a gives back what is beyond its share, the others
        await worker.round(horizon, always_idle)  # take it
    held = [set(w.senders()) for w in (a, b, c)]
    assert sorted(len(h) for h in held) == [1, 2, 2]  # ceil(5 / 3) each at most
    assert set.union(*held) == set(world.numbers)
    assert sum(len(h) for h in held) == len(world.numbers)  # nobody's twice


async def test_a_busy_number_is_not_given_back_while_its_sends_are_in_flight(
        db: Database, clock: FakeClock) -> None:
    world = await World(db, clock).seed(numbers=2)
    a, b = world.worker("a"), world.worker("b")
    horizon = to_ts(clock()) + 1
    await a.round(horizon, always_idle)
    await b.round(horizon, always_idle)
    clock.advance(seconds=LEASE / 6)
    await a.round(horizon, lambda sid: False)  # both numbers sending here
    assert a.senders() == world.numbers
    await b.round(horizon, always_idle)
    assert b.senders() == []


async def test_a_dead_workers_numbers_are_taken_over_within_a_lease_time_and_only_its_claims_turn_uncertain(  # noqa: E501
        db: Database, clock: FakeClock) -> None:
    world = await World(db, clock).seed(numbers=2)
    first, second = world.numbers
    a, b = world.worker("a"), world.worker("b")
    horizon = to_ts(clock()) + 1
    await a.round(horizon, always_idle)
    await b.round(horizon, always_idle)
    clock.advance(seconds=LEASE / 6)
    await a.round(horizon, always_idle)  # a gives one back ...
    await b.round(horizon, always_idle)  # ... b takes it
    assert len(a.senders()) == len(b.senders()) == 1
    mine, theirs = b.senders()[0], a.senders()[0]
    await world.message(mine, "sending", 2)  # b's sends in flight
    await world.message(theirs, "sending", 3)  # a's, when a is killed
    # a dies (no more rounds); b goes on renewing: a's number stays a's until it runs out
    clock.advance(seconds=LEASE / 2)
    b_horizon = to_ts(clock()) + 1
    assert await b.round(b_horizon, always_idle) == []
    assert b.senders() == [mine]
    assert (await world.statuses(theirs))["sending"] == 3
    clock.advance(seconds=LEASE / 2 + 1)  # a's lease has run out: b takes the number
    taken = await b.round(to_ts(clock()) + 1, always_idle)
    assert [(t.sender_id, t.previous, t.recovered) for t in taken] == [(theirs, "a", 3)]
    assert b.senders() == sorted([first, second])
    assert await world.statuses(theirs) == {"queued": 3, "uncertain": 3}
    assert await world.statuses(mine) == {"queued": 3, "sending": 2}  # b's own: untouched
    async with db.reader.execute(
        "SELECT error_detail FROM messages WHERE status = 'uncertain'") as cur:
        assert {row[0] async for row in cur} == {"interrupted"}  # as recover() says it


async def test_a_worker_stops_sending_from_a_number_before_its_lease_runs_out(
        db: Database, clock: FakeClock) -> None:
    world = await World(db, clock).seed(numbers=1)
    a = world.worker("a")
    await a.round(to_ts(clock()) + 1, always_idle)
    assert a.holds_sender(world.numbers[0])
    clock.advance(seconds=LEASE - a.margin + 0.1)  # no round since: the database was down
    assert not a.holds_sender(world.numbers[0])
    assert a.senders() == []


async def test_a_worker_that_stops_gives_its_numbers_back_at_once(
        db: Database, clock: FakeClock) -> None:
    world = await World(db, clock).seed(numbers=2)
    a, b = world.worker("a"), world.worker("b")
    horizon = to_ts(clock()) + 1
    await a.round(horizon, always_idle)
    await a.close()
    clock.advance(seconds=LEASE / 6)
    taken = await b.round(horizon, always_idle)
    assert sorted(t.sender_id for t in taken) == world.numbers
    assert {t.previous for t in taken} == {None} and not any(t.recovered for t in taken)


async def test_a_scheduled_job_runs_in_one_process_and_passes_on_when_it_is_gone(
        db: Database, clock: FakeClock) -> None:
    world = World(db, clock)
    web1, web2 = world.worker("web-1"), world.worker("web-2")
    assert await web1.job("credits", every=3600)
    assert not await web2.job("credits", every=3600)
    clock.advance(seconds=3600)
    assert await web1.job("credits", every=3600)  # it ran again: kept
    assert not await web2.job("credits", every=3600)
    clock.advance(seconds=3600 + LEASE + 1)  # web-1 is gone
    assert await web2.job("credits", every=3600)


async def test_the_outbox_gives_a_worker_the_due_messages_of_its_numbers_only(
        db: Database, clock: FakeClock) -> None:
    world = await World(db, clock).seed(numbers=3, per_number=2)
    first, _, third = world.numbers
    now = to_ts(clock())
    assert await outbox.busy_senders(db.reader, now) == world.numbers
    due = await outbox.due(db.reader, now, 100, [first, third])
    assert sorted({d.sender_id for d in due}) == [first, third] and len(due) == 4
    assert await outbox.due(db.reader, now, 100, []) == []
    async with db.transaction() as tx:
        assert await outbox.claim(tx, [d.id for d in due], now + 300, now) == 4
        assert await outbox.claim(tx, [d.id for d in due], now + 300, now) == 0  # once
    assert await outbox.busy_senders(db.reader, now) == [world.numbers[1]]
