"""The live health guard's storage on a real SQLite file (``bot/storage/health.py``,
migration 0019): a number never acted on reads as normal, set_guard changes only what it
is given, warnings come back in order and per number, a removed number takes its rows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain import Language, SenderGuard, SenderStatus
from bot.storage import health, owners, senders
from bot.storage.db import Database


async def owner_and_numbers(db: Database, clock, telegram_id: int, n: int = 2
                            ) -> tuple[int, list[int]]:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
        ids = []
        for k in range(n):
            s = await senders.add(tx, owner_id=owner.id, gateway="waha",
                                  phone=f"+9945000{telegram_id:02d}{k:03d}",
                                  status=SenderStatus.ACTIVE, now=clock())
            ids.append(s.id)
    return owner.id, ids


async def test_guards_default_then_upserted_field_by_field(db: Database, clock) -> None:
    owner, (a, b) = await owner_and_numbers(db, clock, 1)
    assert await health.guards(db.reader, []) == {}
    assert await health.guards(db.reader, [a, b]) == {a: SenderGuard(a), b: SenderGuard(b)}
    async with db.transaction() as tx:
        await health.set_guard(tx, owner, a, clock(), capping="FIRST_WARNING", mode="slowed",
                               gap_factor=2.0)
    async with db.transaction() as tx:  # a later write of other fields keeps these
        await health.set_guard(tx, owner, a, clock().timestamp() + 5, quality="YELLOW",
                               tier=250)
    got = await health.guards(db.reader, [a, b])
    assert (got[a].mode, got[a].gap_factor, got[a].capping, got[a].quality, got[a].tier) == (
        "slowed", 2.0, "FIRST_WARNING", "YELLOW", 250)
    assert got[a].updated_at == clock() + timedelta(seconds=5)
    assert got[b] == SenderGuard(b)
    with pytest.raises(ValueError):
        async with db.transaction() as tx:
            await health.set_guard(tx, owner, a, clock(), colour="red")


async def test_mode_is_checked(db: Database, clock) -> None:
    owner, (a, _) = await owner_and_numbers(db, clock, 2)
    with pytest.raises(Exception):  # noqa: B017 - the engine's integrity error
        async with db.transaction() as tx:
            await health.set_guard(tx, owner, a, clock(), mode="fast")


async def test_warnings_in_order_per_number_and_the_latest(db: Database, clock) -> None:
    owner, (a, b) = await owner_and_numbers(db, clock, 3)
    t0 = clock()
    async with db.transaction() as tx:
        for n, kind in enumerate(["capping_first_warning", "capping_second_warning",
                                  "capped", "capping_cleared"]):
            await health.record_warning(tx, owner, a, t0 + timedelta(minutes=n), kind,
                                        {"n": n})
        await health.record_warning(tx, owner, b, t0.timestamp(), "timelock", {})
    got = await health.warnings(db.reader, a, t0 + timedelta(minutes=1))
    assert [(w.kind, w.detail) for w in got] == [("capping_second_warning", {"n": 1}),
                                                 ("capped", {"n": 2}),
                                                 ("capping_cleared", {"n": 3})]
    assert got[0].at == t0 + timedelta(minutes=1)
    assert [w.kind for w in await health.warnings(db.reader, b, 0)] == ["timelock"]
    latest = await health.last_warnings(db.reader, [a, b], 2)
    assert [w.kind for w in latest[a]] == ["capping_cleared", "capped"]
    assert [w.kind for w in latest[b]] == ["timelock"]


async def test_a_removed_number_takes_its_rows(db: Database, clock) -> None:
    owner, (a, _) = await owner_and_numbers(db, clock, 4)
    async with db.transaction() as tx:
        await health.set_guard(tx, owner, a, clock(), mode="paused")
        await health.record_warning(tx, owner, a, clock(), "quality_red", {})
        await tx.execute("DELETE FROM senders WHERE id = ?", (a,))
    assert await health.guards(db.reader, [a]) == {a: SenderGuard(a)}
    assert await health.warnings(db.reader, a, 0) == []
