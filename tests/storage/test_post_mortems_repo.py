"""The post-mortem's facts and reports on a real SQLite file (``bot/storage/post_mortems.py``,
migration 0020): the last 48 hours of one number only (its sends and new chats, failures by
reason, replies, opt-outs of the people it messaged, the guard's warnings), kept and read
back by its owner only."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import InboundMessage, Language, SenderStatus
from bot.services.post_mortem import PostMortems
from bot.services.sending import SendingPolicy
from bot.storage import contacts, health, inbound, owners, senders
from bot.storage import post_mortems as repo
from bot.storage.db import Database

A, B, C, D, E, F = (f"+99450100000{n}" for n in range(1, 7))


async def owner_and_number(db: Database, clock, telegram_id: int) -> tuple[int, int]:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
        sender = await senders.add(tx, owner_id=owner.id, gateway="sandbox",
                                   phone=f"+99455000{telegram_id:04d}",
                                   status=SenderStatus.ACTIVE, now=clock())
    return owner.id, sender.id


async def message(db: Database, owner_id: int, sender_id: int, phone: str, at: float,
                  status: str = "sent", category: str | None = None) -> None:
    sent_at = at if status != "failed" or category is None else None
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO messages (owner_id, sender_id, phone, planned_at, status,"
            " error_category, sent_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (owner_id, sender_id, phone, at, status, category, sent_at, at))


async def test_the_last_48_hours_of_one_number_and_its_kept_report(db: Database,
                                                                   clock) -> None:
    a, number = await owner_and_number(db, clock, 1)
    b, other_number = await owner_and_number(db, clock, 2)
    await owner_and_number(db, clock, 3)  # another owner with a number, untouched
    clock.advance(days=60)  # warmed up
    now = clock().timestamp()
    h = 3600.0
    await message(db, a, number, A, now - 72 * h)  # before the window: A is an old chat
    await message(db, a, number, E, now - 50 * h, "failed", "transient")  # before it too
    for i, phone in enumerate((A, B, C, B)):
        await message(db, a, number, phone, now - 10 * h + i * 20)
    await message(db, a, number, D, now - 5 * h, "failed", "recipient_invalid")
    await message(db, a, number, E, now - 4 * h, "failed", "transient")
    await message(db, a, number, E, now - 3 * h, "failed", "transient")
    await message(db, b, other_number, B, now - 2 * h)  # another number's send
    async with db.transaction() as tx:
        for phone, hours in ((B, 9), (B, 8), (C, 7), (C, 60)):
            await inbound.add(tx, InboundMessage(0, a, number, phone,
                                                 clock() - timedelta(hours=hours)))
        await inbound.add(tx, InboundMessage(0, b, other_number, B, clock()))
        await contacts.upsert(tx, a, [(p, None, "{}") for p in (B, C, F)], clock())
    for phone, hours in ((B, 6), (C, 70), (F, 1)):  # C before the window; F never messaged
        async with db.transaction() as tx:
            await tx.execute("UPDATE contacts SET opted_out_at = ? WHERE owner_id = ?"
                             " AND phone = ?", (now - hours * h, a, phone))
    async with db.transaction() as tx:
        await health.record_warning(tx, a, number, now - 50 * h, "slowed", {})
        await health.record_warning(tx, a, number, now - 2 * h, "capping_first_warning", {})
        await health.record_warning(tx, a, number, now - h, "capping_second_warning", {})

    since = now - 48 * h
    sent = await repo.sends(db.reader, number, since)
    assert [(phone, new) for _at, phone, new in sent] == [(A, False), (B, True), (C, True),
                                                          (B, True)]
    assert await repo.failures(db.reader, number, since) == {"recipient_invalid": 1,
                                                             "transient": 2}
    assert await repo.replies(db.reader, number, since) == (3, 2)
    assert await repo.opt_outs(db.reader, a, number, since) == 1  # B only

    service = PostMortems(db, SendingPolicy(), clock)
    report = await service.record(a, number, "banned")
    assert report is not None
    assert (report.sent, report.recipients, report.new_chats) == (4, 3, 2)
    assert (report.gap_min, report.peak_hour) == (20, 4)
    assert report.failed == 3 and report.not_on_whatsapp == 1
    assert (report.replies, report.repliers, report.opt_outs) == (3, 2, 1)
    assert [k for _at, k in report.warnings] == ["capping_first_warning",
                                                 "capping_second_warning"]
    assert report.warmup_day is None and report.age_days == 61
    assert {d.code for d in report.differences} >= {"short_gaps", "not_on_whatsapp"}

    # kept: its owner reads it back; another owner, or another number, has none
    assert await service.latest(a, number) == report
    assert await service.latest(b, number) is None
    assert await service.latest(a, other_number) is None
    assert await service.record(b, number, "banned") is None  # not b's number
    [kept] = await service.list(a, number)
    assert (kept.state, kept.sender_id, kept.owner_id) == ("banned", number, a)
    assert await repo.get(db.reader, a, kept.id) is not None
    assert await repo.get(db.reader, b, kept.id) is None
    assert await service.senders_with(a) == {number} and await service.senders_with(b) == set()
    clock.advance(hours=1)
    later = await service.record(a, number, "restricted")
    assert later is not None and await service.latest(a, number) == later  # the newest


async def test_new_chats_by_contact_and_by_bare_phone(db: Database, clock) -> None:
    a, number = await owner_and_number(db, clock, 4)
    clock.advance(days=10)
    now = clock().timestamp()
    async with db.transaction() as tx:
        await contacts.upsert(tx, a, [(A, None, "{}"), (B, None, "{}")], clock())
        async with tx.execute("SELECT phone, id FROM contacts WHERE owner_id = ?",
                              (a,)) as cur:
            ids = dict(await cur.fetchall())
        rows = [(A, ids[A], now - 72 * 3600), (A, ids[A], now - 3600),  # a contact: old chat
                (B, ids[B], now - 3000),  # a contact: new
                (C, None, now - 90 * 3600), (C, None, now - 2000),  # a bare phone: old
                (D, None, now - 1000)]  # a bare phone: new
        await tx.executemany(
            "INSERT INTO messages (owner_id, sender_id, phone, contact_id, planned_at, status,"
            " sent_at, updated_at) VALUES (?, ?, ?, ?, ?, 'sent', ?, ?)",
            [(a, number, phone, cid, at, at, at) for phone, cid, at in rows])
    sent = await repo.sends(db.reader, number, now - 48 * 3600)
    assert [(phone, new) for _at, phone, new in sent] == [(A, False), (B, True), (C, False),
                                                          (D, True)]
