"""The webhook outbox on a real SQLite file: events in order per owner, every endpoint of
the owner sees each of them (fan-out by cursor), progress never moves back, pruning."""

from __future__ import annotations

from bot.domain import Language
from bot.storage import owners
from bot.storage import webhooks as repo
from bot.storage.db import Database
from bot.storage.webhooks import EndpointState, Progress


async def add_owner(db: Database, clock, telegram_id: int) -> int:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
    return owner.id


async def add_endpoint(db: Database, clock, owner_id: int, events=("*",)) -> repo.Endpoint:
    async with db.transaction() as tx:
        return await repo.add_endpoint(tx, owner_id, "https://example.com/hook",
                                       "whsec_x", events, clock())


async def write(db: Database, clock, *events: tuple[int, str]) -> None:
    async with db.transaction() as tx:
        await repo.add_events(tx, [(owner, kind, '{"n": 1}', clock().timestamp())
                                   for owner, kind in events])


async def test_an_endpoint_reads_its_owners_events_in_the_order_they_were_written(
        db: Database, clock) -> None:
    alice, bob = await add_owner(db, clock, 1), await add_owner(db, clock, 2)
    endpoint = await add_endpoint(db, clock, alice)
    await write(db, clock, (alice, "message.sent"), (bob, "message.sent"),
                (alice, "message.delivered"))
    await write(db, clock, (alice, "message.read"))
    events = await repo.events_after(db.reader, alice, endpoint.cursor, 10)
    assert [e.type for e in events] == ["message.sent", "message.delivered", "message.read"]
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert all(e.owner_id == alice for e in events)
    assert [e.type for e in await repo.events_after(db.reader, alice, events[0].id, 10)] == [
        "message.delivered", "message.read"]


async def test_every_endpoint_of_the_owner_gets_each_event_and_a_new_one_only_later_ones(
        db: Database, clock) -> None:
    alice = await add_owner(db, clock, 1)
    first = await add_endpoint(db, clock, alice)
    await write(db, clock, (alice, "message.sent"))
    second = await add_endpoint(db, clock, alice)
    await write(db, clock, (alice, "campaign.started"))
    seen_first = [e.type for e in await repo.events_after(db.reader, alice, first.cursor, 10)]
    seen_second = [e.type for e in await repo.events_after(db.reader, alice, second.cursor, 10)]
    assert seen_first == ["message.sent", "campaign.started"]
    assert seen_second == ["campaign.started"]
    due = await repo.due(db.reader, clock().timestamp(), 10)
    assert {e.id for e in due} == {first.id, second.id}


async def test_the_worker_sees_only_endpoints_with_events_left_and_no_backoff_pending(
        db: Database, clock) -> None:
    alice, bob = await add_owner(db, clock, 1), await add_owner(db, clock, 2)
    waiting = await add_endpoint(db, clock, alice)
    idle = await add_endpoint(db, clock, bob)
    await write(db, clock, (alice, "message.sent"))
    now = clock().timestamp()
    assert [e.id for e in await repo.due(db.reader, now, 10)] == [waiting.id]
    async with db.transaction() as tx:
        await repo.record(tx, waiting.id, Progress(waiting.cursor, 1, now + 60, "HTTP 500",
                                                   None, []), clock(), keep=10)
    assert await repo.due(db.reader, now, 10) == []  # backing off
    assert [e.id for e in await repo.due(db.reader, now + 61, 10)] == [waiting.id]
    del idle


async def test_progress_never_moves_back_and_a_paused_endpoint_stays_paused(
        db: Database, clock) -> None:
    alice = await add_owner(db, clock, 1)
    endpoint = await add_endpoint(db, clock, alice)
    async with db.transaction() as tx:
        await repo.record(tx, endpoint.id, Progress(50, 0, 0, None, None, []), clock(), 10)
        assert await repo.set_enabled(tx, alice, endpoint.id, False, clock())
        before = await repo.record(tx, endpoint.id, Progress(40, 0, 0, None, False, []),
                                   clock(), 10)
    assert before is EndpointState.DISABLED
    stored = await repo.get(db.reader, alice, endpoint.id)
    assert stored is not None
    assert (stored.cursor, stored.state) == (50, EndpointState.DISABLED)


async def test_the_last_attempts_are_kept_newest_first(db: Database, clock) -> None:
    alice = await add_owner(db, clock, 1)
    endpoint = await add_endpoint(db, clock, alice)
    rows = [(n, "message.sent", "delivered", 200, None, 3, clock().timestamp() + n)
            for n in range(1, 8)]
    async with db.transaction() as tx:
        await repo.record(tx, endpoint.id, Progress(7, 0, 0, None, None, rows), clock(), 5)
    kept = await repo.deliveries(db.reader, alice, endpoint.id, 10)
    assert [d.event_id for d in kept] == [7, 6, 5, 4, 3]
    bob = await add_owner(db, clock, 2)
    assert await repo.deliveries(db.reader, bob, endpoint.id, 10) == []  # not bob's


async def test_events_every_endpoint_is_done_with_are_pruned_and_ids_never_come_back(
        db: Database, clock) -> None:
    alice, bob = await add_owner(db, clock, 1), await add_owner(db, clock, 2)
    fast, slow = await add_endpoint(db, clock, alice), await add_endpoint(db, clock, alice)
    await write(db, clock, *[(alice, "message.sent")] * 5, (bob, "message.sent"))
    events = await repo.events_after(db.reader, alice, 0, 10)
    async with db.transaction() as tx:
        await repo.record(tx, fast.id, Progress(events[-1].id, 0, 0, None, None, []), clock(), 5)
        await repo.record(tx, slow.id, Progress(events[1].id, 0, 0, None, None, []), clock(), 5)
    plan = dict(await repo.prunable(db.reader))
    assert plan == {alice: events[1].id, bob: None}  # bob has no endpoint: all can go
    async with db.transaction() as tx:
        for owner_id, upto in plan.items():
            await repo.prune(tx, owner_id, upto, 100)
    left = await repo.events_after(db.reader, alice, 0, 10)
    assert [e.id for e in left] == [e.id for e in events[2:]]
    assert await repo.events_after(db.reader, bob, 0, 10) == []
    async with db.transaction() as tx:  # the newest event went (bob's): its id is not reused
        await repo.prune(tx, alice, None, 100)
    await write(db, clock, (alice, "message.read"))
    [fresh] = await repo.events_after(db.reader, alice, 0, 10)
    assert fresh.id > events[-1].id + 1


async def test_subscriptions_leave_out_paused_endpoints(db: Database, clock) -> None:
    alice, bob = await add_owner(db, clock, 1), await add_owner(db, clock, 2)
    await add_endpoint(db, clock, alice, ("message.sent", "reply.received"))
    paused = await add_endpoint(db, clock, bob)
    async with db.transaction() as tx:
        await repo.set_enabled(tx, bob, paused.id, False, clock())
    assert await repo.subscriptions(db.reader) == {
        alice: frozenset({"message.sent", "reply.received"})}
