"""The figures ``/metrics`` reads from the database (``bot/storage/metrics.py``), on a real
database (each engine the ``db`` fixture gives): messages by state and number, the queue
the dispatcher would send now and its oldest planned time, every number's health."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import Language, SenderStatus
from bot.storage import campaigns as campaigns_repo
from bot.storage import health, owners, senders
from bot.storage import metrics as figures
from bot.storage.db import Database, to_ts
from tests.fakes import FakeClock


async def seed(db: Database, clock: FakeClock) -> dict[str, int]:
    """Owner 1 with a WAHA and a Cloud number (and a removed one), a running and a paused
    campaign, and messages: 3 due on the running campaign (the oldest 120 s late), 1
    planned in an hour, 2 due on the paused one, 1 single message due (no number yet), 2
    sent and 1 failed."""
    now = clock()
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=11, chat_id=11, language=Language.EN, now=now)
        waha = await senders.add(tx, owner_id=owner.id, gateway="waha", phone="+994501110000",
                                 status=SenderStatus.ACTIVE, now=now, external_id="shop")
        cloud = await senders.add(tx, owner_id=owner.id, gateway="cloud",
                                  phone="+994502220000", status=SenderStatus.RESTRICTED,
                                  now=now)
        await senders.add(tx, owner_id=owner.id, gateway="waha", phone="+994503330000",
                          status=SenderStatus.REMOVED, now=now)
        await health.set_guard(tx, owner.id, cloud.id, now, mode="slowed", gap_factor=2.5)
        running = await campaigns_repo.create_draft(tx, owner.id, "Spring", now)
        running.schedule(now)
        running.start(now)
        await campaigns_repo.save(tx, running, now)
        paused = await campaigns_repo.create_draft(tx, owner.id, "Autumn", now)
        paused.schedule(now)
        paused.start(now)
        paused.pause()
        await campaigns_repo.save(tx, paused, now)
        ts = to_ts(now)
        rows = [  # campaign, sender, planned (s from now), status
            (running.id, waha.id, -120, "queued"), (running.id, waha.id, -60, "queued"),
            (running.id, cloud.id, -1, "queued"), (running.id, waha.id, 3600, "queued"),
            (paused.id, waha.id, -600, "queued"), (paused.id, waha.id, -500, "queued"),
            (None, None, -30, "queued"),
            (running.id, waha.id, -900, "sent"), (running.id, cloud.id, -800, "sent"),
            (running.id, cloud.id, -700, "failed"),
        ]
        for n, (campaign, sender, planned, status) in enumerate(rows):
            await tx.execute(
                "INSERT INTO messages (campaign_id, owner_id, sender_id, phone, planned_at,"
                " status, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (campaign, owner.id, sender, f"+99455000{n:04d}", ts + planned, status, ts))
    return {"owner": owner.id, "waha": waha.id, "cloud": cloud.id}


async def test_messages_by_state_and_number(db: Database, clock: FakeClock) -> None:
    ids = await seed(db, clock)
    counts = {(status, sender): n for status, sender, n in await figures.outbox(db.reader)}
    assert counts == {("queued", ids["waha"]): 5, ("queued", ids["cloud"]): 1,
                      ("queued", None): 1, ("sent", ids["waha"]): 1,
                      ("sent", ids["cloud"]): 1, ("failed", ids["cloud"]): 1}
    kinds = await figures.gateways(db.reader)
    assert kinds[ids["waha"]] == "waha" and kinds[ids["cloud"]] == "cloud"
    assert len(kinds) == 3  # the removed number too: its messages stay in the outbox


async def test_the_queue_is_what_the_dispatcher_would_send_now(db: Database,
                                                               clock: FakeClock) -> None:
    await seed(db, clock)
    queue = await figures.queue(db.reader, to_ts(clock()))
    # the running campaign's three and the single message; not the paused campaign's,
    # not the one planned in an hour
    assert queue.due == 4
    assert queue.oldest_planned_at == to_ts(clock() - timedelta(seconds=120))
    clock.advance(hours=2)
    later = await figures.queue(db.reader, to_ts(clock()))
    assert later.due == 5


async def test_an_empty_queue(db: Database, clock: FakeClock) -> None:
    queue = await figures.queue(db.reader, to_ts(clock()))
    assert queue == figures.Queue(0, None)


async def test_numbers_health_without_their_phones(db: Database, clock: FakeClock) -> None:
    ids = await seed(db, clock)
    numbers = await figures.senders(db.reader)
    assert numbers == [
        figures.SenderFigures(ids["waha"], ids["owner"], "waha", "active", "normal", 1.0),
        figures.SenderFigures(ids["cloud"], ids["owner"], "cloud", "restricted", "slowed",
                              2.5),
    ]  # the removed number is not listed


async def test_live_leases_by_kind(db: Database, clock: FakeClock) -> None:
    ids = await seed(db, clock)
    now = to_ts(clock())
    async with db.transaction() as tx:
        for name, holder, until in ((f"sender:{ids['waha']}", "h:1:a", now + 30),
                                    (f"sender:{ids['cloud']}", "h:2:b", now - 1),  # ran out
                                    ("job:campaigns", "h:1:a", now + 30),
                                    ("worker:h:1:a", "h:1:a", now + 30),
                                    ("worker:h:2:b", "h:2:b", now + 30)):
            await tx.execute("INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)",
                             (name, holder, until))
    assert await figures.leases(db.reader, now) == {"sender": 1, "job": 1, "worker": 2}
