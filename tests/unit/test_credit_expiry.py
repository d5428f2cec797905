"""Credits that expire, on a fake clock: the owner is told three days ahead, once per lot,
how many credits will lapse; at the end what is left lapses by an ``expire`` row."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain import LedgerKind
from bot.services import billing
from bot.services.billing import WARN_BEFORE, BillingService, Expiring
from bot.services.notify import CreditsExpiring
from bot.storage import owners
from bot.storage.db import Database
from tests.fakes import FakeClock, RecordingNotifier
from tests.fakes.owners import add_active_owner

ADMIN = 4242


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def service(db, clock, notifier) -> BillingService:
    return BillingService(db, frozenset({ADMIN}), notifier, clock)


async def owner_with_package(db: Database, clock: FakeClock, credits: int, days: int,
                             telegram_id: int = 1) -> int:
    async with db.transaction() as tx:
        owner = await add_active_owner(tx, telegram_id, clock())
        await billing.credit_package(tx, owner.id, credits, clock(), validity_days=days,
                                     package_id=None, order_id=None, note="Start")
    return owner.id


async def test_the_owner_is_told_three_days_ahead_once(service, notifier, db, clock) -> None:
    oid = await owner_with_package(db, clock, 120, days=10)
    ends = clock() + timedelta(days=10)
    clock.advance(days=7, seconds=-1)  # a second more than three days left: not yet
    assert await service.expiry_warnings() == 0
    assert notifier.of(CreditsExpiring) == []

    clock.advance(seconds=1)
    async with db.transaction() as tx:  # 20 of them spent meanwhile
        await billing.reserve(tx, oid, 20, clock())
        await billing.charge(tx, oid, 20, clock())
    assert await service.expiry_warnings() == 1
    [told] = notifier.of(CreditsExpiring)
    assert (told.owner.id, told.credits, told.at) == (oid, 100, ends)

    clock.advance(hours=1)
    assert await service.expiry_warnings() == 0  # once per lot
    clock.advance(days=2)
    assert await service.expiry_warnings() == 0
    assert len(notifier.of(CreditsExpiring)) == 1


async def test_what_is_left_at_the_end_lapses_by_an_expire_row(service, db, clock) -> None:
    oid = await owner_with_package(db, clock, 120, days=10)
    assert await service.expiring(oid) == [Expiring(120, clock() + timedelta(days=10))]
    async with db.transaction() as tx:
        await billing.reserve(tx, oid, 20, clock())
        await billing.charge(tx, oid, 20, clock())
    clock.advance(days=10, seconds=-1)
    assert await service.expire_due() == 0  # a second before its end
    assert (await service.balance(oid)).total == 100
    clock.advance(seconds=1)
    assert await service.expire_due() == 100
    balance = await service.balance(oid)
    assert (balance.total, balance.available) == (0, 0)
    latest = (await service.history(oid)).lines[0]
    assert (latest.kind, latest.amount) == (LedgerKind.EXPIRE, -100)
    assert await service.expiring(oid) == []
    assert await service.expire_due() == 0


async def test_each_package_is_warned_of_on_its_own(service, notifier, db, clock) -> None:
    oid = await owner_with_package(db, clock, 50, days=5)
    clock.advance(days=1)
    async with db.transaction() as tx:
        await billing.credit_package(tx, oid, 70, clock(), validity_days=5, package_id=None,
                                     order_id=None, note="Again")
        await billing.credit(tx, oid, 10, clock(), note="admin")  # never expires
    clock.advance(days=1)  # the first ends in 3 days, the second in 4
    assert await service.expiry_warnings() == 1
    clock.advance(days=1)
    assert await service.expiry_warnings() == 1
    assert [(n.credits, n.at - clock()) for n in notifier.of(CreditsExpiring)] == [
        (50, timedelta(days=2)), (70, WARN_BEFORE)]
    assert await service.expiring(oid) == [Expiring(50, clock() + timedelta(days=2)),
                                           Expiring(70, clock() + WARN_BEFORE)]


async def test_a_suspended_owner_is_told_once_active_again(service, notifier, db,
                                                          clock) -> None:
    oid = await owner_with_package(db, clock, 40, days=4)
    async with db.transaction() as tx:
        owner = await owners.get(tx, oid)
        assert owner is not None
        owner.suspend("unpaid")
        await owners.save(tx, owner, clock())
    clock.advance(days=1, hours=1)
    assert await service.expiry_warnings() == 0
    async with db.transaction() as tx:
        owner = await owners.get(tx, oid)
        assert owner is not None
        owner.unsuspend()
        await owners.save(tx, owner, clock())
    assert await service.expiry_warnings() == 1
    assert [n.credits for n in notifier.of(CreditsExpiring)] == [40]
