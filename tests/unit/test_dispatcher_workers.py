"""Two dispatchers as two workers (``python -m bot worker``) on one database, each with
its own leases (bot/services/leases.py) and its own gateway: they split the numbers, a
number's pace holds across them, and when one dies the other takes its numbers over once
their leases ran out, its claims left ``sending`` turned ``uncertain``, never resent."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from itertools import pairwise

from bot.domain import Language, LedgerKind, SenderStatus
from bot.gateways.base import Receipt, ReceiptStatus
from bot.gateways.sandbox import SandboxConfig
from bot.services.campaigns import CampaignsConfig, CampaignsService
from bot.services.dispatcher import Dispatcher, DispatcherConfig
from bot.services.leases import Leases
from bot.services.notify import CampaignUpdate
from bot.services.templates import TemplatesService
from bot.storage import contacts, ledger, lists, owners, senders, templates
from bot.storage.db import Database
from tests.fakes import FakeClock, RecordingGateway, RecordingNotifier

LEASE = 30.0
QUIET = SandboxConfig(delivery_delay=0, read_delay=0, invalid_share=0)
RECIPIENTS = 16


async def campaign(db: Database, clock: FakeClock) -> tuple[int, int, list[int]]:
    """An owner with two numbers and a confirmed campaign (the "fast" pace: 3-8 s between
    two messages of a number); (owner, campaign, numbers)."""
    now = clock()
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN, now=now)
        people = await lists.create(tx, owner.id, "all", now)
        rows = [(f"+99450{n:07d}", f"Name {n}", "{}") for n in range(RECIPIENTS)]
        await contacts.upsert(tx, owner.id, rows, now)
        await contacts.add_to_list(tx, owner.id, people.id, [r[0] for r in rows], now)
        template = await templates.add(tx, owner.id, "t", ["Salam {{name|dostum}}"], None,
                                       None, now)
        await ledger.add(tx, owner.id, LedgerKind.CREDIT, 1000, now)
        numbers = [(await senders.add(tx, owner_id=owner.id, gateway="sandbox",
                                      phone=f"sandbox-{n}", status=SenderStatus.ACTIVE,
                                      now=now)).id for n in range(2)]
    service = CampaignsService(db, CampaignsConfig(advice_max=10_000), clock)
    await service.begin(owner.id)
    await service.choose_list(owner.id, people.id)
    await service.choose_template(owner.id, template.id)
    await service.senders_chosen(owner.id)
    await service.start_now(owner.id)
    await service.use_preset(owner.id, "fast")
    summary = await service.confirm(owner.id, big_ok=True)
    async with db.transaction() as tx:  # every other message from the second number,
        await tx.execute(  # all due at the start: both numbers busy from the first tick
            "UPDATE messages SET sender_id = CASE WHEN id % 2 = 0 THEN ? ELSE sender_id END,"
            " planned_at = (SELECT MIN(planned_at) FROM messages) WHERE campaign_id = ?",
            (numbers[1], summary.campaign.id))
    return owner.id, summary.campaign.id, numbers


def worker(db: Database, clock: FakeClock, name: str) -> tuple[Dispatcher, RecordingGateway]:
    gateway = RecordingGateway(clock, replace(QUIET, run_id=name))  # ids unique per worker
    dispatcher = Dispatcher(db, gateway, TemplatesService(db, clock), RecordingNotifier(),
                            DispatcherConfig(progress_every=0), clock,
                            leases=Leases(db, clock, seconds=LEASE, holder=name))
    return dispatcher, gateway


async def statuses(db: Database, campaign_id: int) -> dict[str, int]:
    async with db.reader.execute(
        "SELECT status, COUNT(*) FROM messages WHERE campaign_id = ? GROUP BY status",
        (campaign_id,),
    ) as cur:
        return {row[0]: row[1] async for row in cur}


async def test_two_workers_split_the_numbers_keep_each_ones_pace_and_take_over_a_dead_ones(
        db: Database, clock: FakeClock) -> None:
    _, campaign_id, numbers = await campaign(db, clock)
    a, sends_a = worker(db, clock, "a")
    b, sends_b = worker(db, clock, "b")
    try:
        clock.advance(seconds=6)  # the campaign's start has come
        for _ in range(40):  # 20 s, both alive
            await a.tick()
            await b.tick()
            clock.advance(seconds=0.5)
        # each number is sent from by one worker (a alone at first; b got one since)
        assert {s.sender_id for s in sends_a.sends} == set(numbers)
        assert len({s.sender_id for s in sends_b.sends}) == 1
        [b_number] = {s.sender_id for s in sends_b.sends}
        a_number = next(n for n in numbers if n != b_number)
        # a dies while sending one of its number's messages: claimed, maybe sent, unknown
        async with db.transaction() as tx:
            await tx.execute(
                "UPDATE messages SET status = 'sending', attempts = 1 WHERE id = (SELECT"
                " MIN(id) FROM messages WHERE sender_id = ? AND status = 'queued')",
                (a_number,))
        died_at = clock()
        for _ in range(360):  # 3 minutes of b alone
            await b.tick()
            clock.advance(seconds=0.5)
    finally:
        await sends_a.close()
        await sends_b.close()

    took_over = [s.at for s in sends_b.sends if s.sender_id == a_number]
    assert took_over  # b sends from a's number now ...
    assert (took_over[0] - died_at).total_seconds() >= LEASE  # ... once a's lease ran out
    sends = sends_a.sends + sends_b.sends
    assert [to for to, n in Counter(s.to for s in sends).items() if n > 1] == []  # once
    by_number = defaultdict(list)
    for s in sends:
        by_number[s.sender_id].append(s.at)
    gaps = [(y - x).total_seconds() for times in by_number.values()
            for x, y in pairwise(sorted(times))]
    assert min(gaps) >= 3  # the "fast" pace's floor, across the workers and the takeover
    assert await statuses(db, campaign_id) == {"sent": RECIPIENTS - 1, "uncertain": 1}
    async with db.reader.execute("SELECT status FROM campaigns WHERE id = ?",
                                 (campaign_id,)) as cur:
        assert (await cur.fetchone())[0] == "completed"  # b took the campaigns' job too


async def test_a_single_dispatcher_without_leases_writes_none(db: Database,
                                                              clock: FakeClock) -> None:
    _, campaign_id, _ = await campaign(db, clock)
    gateway = RecordingGateway(clock, QUIET)
    dispatcher = Dispatcher(db, gateway, TemplatesService(db, clock), RecordingNotifier(),
                            DispatcherConfig(progress_every=0), clock)
    try:
        clock.advance(seconds=6)
        for _ in range(240):
            await dispatcher.tick()
            clock.advance(seconds=0.5)
    finally:
        await gateway.close()
    assert await statuses(db, campaign_id) == {"sent": RECIPIENTS}
    async with db.reader.execute("SELECT COUNT(*) FROM leases") as cur:
        assert (await cur.fetchone())[0] == 0  # the single process: as before


async def test_the_web_process_updates_a_campaigns_progress_after_receipts_without_ticks(
        db: Database, clock: FakeClock) -> None:
    owner_id, campaign_id, _ = await campaign(db, clock)
    sender, gateway = worker(db, clock, "w")
    try:
        clock.advance(seconds=6)
        for _ in range(240):
            await sender.tick()
            clock.advance(seconds=0.5)
    finally:
        await gateway.close()
    async with db.reader.execute("SELECT gateway_message_id, sender_id FROM messages"
                                 " WHERE campaign_id = ? LIMIT 1", (campaign_id,)) as cur:
        gateway_id, sender_id = await cur.fetchone()  # type: ignore[misc]
    told = RecordingNotifier()
    web = Dispatcher(db, RecordingGateway(clock, QUIET), TemplatesService(db, clock), told,
                     DispatcherConfig(progress_every=0), clock)  # the web's: never ticks
    await web.events.on_event(Receipt(gateway_id, ReceiptStatus.READ, clock(),
                                      sender_id=sender_id))
    await web.progress()  # its "progress" job
    updates = [n for n in told.notices if isinstance(n, CampaignUpdate)]
    assert [(u.owner_id, u.campaign_id, u.kind) for u in updates] == [
        (owner_id, campaign_id, "progress")]
    assert updates[0].progress.read == 1
