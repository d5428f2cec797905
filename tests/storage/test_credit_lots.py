"""Credit lots on a real SQLite file: the ledger's invariants over random sequences of what
the services do (hypothesis), the spending order, expiry, a refund's take-back, and the
opening lot migration 0014 gives every owner who had credits before lots."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import LedgerKind
from bot.services import billing
from bot.services.billing import BillingService
from bot.storage import db as dbmod
from bot.storage import ledger, lots
from bot.storage.db import Connection, Database
from bot.storage.lots import Lot
from tests.fakes import FakeClock, RecordingNotifier
from tests.fakes.owners import add_active_owner

ADMIN = 4242


async def add_owner(db: Database, now: datetime, telegram_id: int = 1) -> int:
    async with db.transaction() as tx:
        return (await add_active_owner(tx, telegram_id, now)).id


def spending_order(lot: Lot) -> tuple[bool, float, int]:
    """The nearest expiry first, those that never expire last (said here independently of
    ``lots.OLDEST``)."""
    return (lot.expires_at is None, lot.expires_at.timestamp() if lot.expires_at else 0.0,
            lot.id)


async def all_lots(conn: Connection, owner_id: int) -> list[Lot]:
    """Every lot of the owner, empty ones too, in spending order."""
    return sorted(await lots.every(conn, owner_id), key=spending_order)


def taken_in_order(before: list[Lot], after: list[Lot], column: str) -> bool:
    """What left ``column`` left the lots in spending order: a lot gave some only when
    every lot before it had none left."""
    now = {lot.id: lot for lot in after}
    emptied_so_far = True
    for lot in before:
        gave = getattr(lot, column) - getattr(now[lot.id], column)
        if gave > 0 and not emptied_so_far:
            return False
        emptied_so_far = emptied_so_far and getattr(now[lot.id], column) == 0
    return True


async def ledger_sum(conn: Connection, owner_id: int) -> int:
    rows = await conn.execute_fetchall(
        "SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE owner_id = ?"
        " AND kind IN ('credit', 'adjust', 'expire', 'charge')", (owner_id,))
    return int(next(iter(rows))[0])


# --- the invariants, over random sequences ----------------------------------------------

Op = tuple[str, int, int]

OPS = st.lists(st.one_of(
    st.tuples(st.just("credit"), st.integers(1, 120), st.sampled_from([-1, 0, 1, 1, 2, 5])),
    st.tuples(st.just("reserve"), st.integers(0, 150), st.integers(0, 2)),
    st.tuples(st.just("charge"), st.integers(0, 150), st.integers(0, 2)),
    st.tuples(st.just("release"), st.integers(0, 150), st.integers(0, 2)),
    st.tuples(st.just("adjust"), st.integers(-150, 150), st.just(0)),
    st.tuples(st.just("time"), st.integers(1, 24 * 3), st.just(0)),
    st.tuples(st.just("expire"), st.just(0), st.just(0)),
    st.tuples(st.just("take_back"), st.integers(0, 4), st.just(0)),
), min_size=8, max_size=50)


@dataclass
class Run:
    """One owner's sequence: what each of three campaigns holds, as the callers track it
    (``campaigns.py`` reserves what is available; receipts charge or release no more than a
    campaign holds; an admin's correction never goes below what is available)."""

    db: Database
    clock: FakeClock
    service: BillingService
    owner_id: int
    order_ids: Iterator[int]  # shared by the runs on one database
    holds: list[int] = field(default_factory=lambda: [0, 0, 0])
    orders: list[int] = field(default_factory=list)

    async def step(self, op: Op) -> None:
        kind, n, k = op
        oid, now = self.owner_id, self.clock()
        async with self.db.transaction() as tx:
            balance = await ledger.balance(tx, oid)
            before = await all_lots(tx, oid)
            after: list[Lot]
            if kind == "credit" and k < 0:  # an admin's /credit: never expires
                await billing.credit(tx, oid, n, now, note="admin")
            elif kind == "credit":  # a package bought: its order paid
                order = next(self.order_ids)
                await tx.execute(
                    "INSERT INTO packages (id, name, credits, validity_days, price_minor,"
                    " created_at) VALUES (?, ?, ?, ?, 100, 0)", (order, f"p{order}", n, k))
                await tx.execute(
                    "INSERT INTO orders (id, owner_id, package_id, method, status, reference,"
                    " credits, validity_days, amount_minor, currency, created_at)"
                    " VALUES (?, ?, ?, 'stars', 'paid', ?, ?, ?, 50, 'XTR', 0)",
                    (order, oid, order, f"Q-{order:06d}", n, k))
                await billing.credit_package(tx, oid, n, now, validity_days=k,
                                             package_id=order, order_id=order, note="bought")
                self.orders.append(order)
            elif kind == "reserve":
                n = min(n, balance.available)
                await billing.reserve(tx, oid, n, now)
                self.holds[k] += n
                after = await all_lots(tx, oid)
                assert taken_in_order(before, after, "remaining")
            elif kind == "charge":
                n = min(n, self.holds[k])
                await billing.charge(tx, oid, n, now)
                self.holds[k] -= n
                after = await all_lots(tx, oid)
                assert taken_in_order(before, after, "held")
                assert [a.remaining for a in after] == [b.remaining for b in before]
            elif kind == "release":
                n = min(n, self.holds[k])
                await billing.release(tx, oid, n, now)
                self.holds[k] -= n
                now_lots = {lot.id: lot for lot in await all_lots(tx, oid)}
                for lot in before:  # given back to an expired lot: lapsed at once
                    if lot.expires_at is not None and lot.expires_at <= now:
                        assert now_lots[lot.id].remaining <= lot.remaining
            elif kind == "adjust" and n != 0:
                n = max(n, -balance.available)
                if n:
                    await billing.adjust(tx, oid, n, now, note="typo")
                if n < 0:
                    assert taken_in_order(before, await all_lots(tx, oid), "remaining")
            elif kind == "take_back" and self.orders:
                order = self.orders[n % len(self.orders)]
                unspent = sum(lot.remaining for lot in await lots.of_order(tx, oid, order))
                taken = await billing.take_back(tx, oid, order, now, "refund")
                assert taken == min(unspent, balance.available)
                assert await billing.take_back(tx, oid, order, now, "again") == 0
        if kind == "time":
            self.clock.advance(hours=n)
        elif kind == "expire":
            async with self.db.transaction() as tx:
                was = await ledger.balance(tx, oid)
                due = [lot for lot in await all_lots(tx, oid)
                       if lot.expires_at is not None and lot.expires_at <= now]
            await self.service.expire_due()
            now_is = await ledger.balance(self.db.reader, oid)
            assert now_is.reserved == was.reserved  # never what campaigns hold
            assert was.total - now_is.total == sum(lot.remaining for lot in due)
            for lot in await all_lots(self.db.reader, oid):
                if lot.expires_at is not None and lot.expires_at <= now:
                    assert lot.remaining == 0
        await self.check()

    async def check(self) -> None:
        conn, oid = self.db.reader, self.owner_id
        balance = await ledger.balance(conn, oid)
        remaining, held = await lots.totals(conn, oid)
        every = await all_lots(conn, oid)
        assert balance.total == await ledger_sum(conn, oid) == remaining + held
        assert balance.reserved == held == sum(self.holds)
        assert 0 <= balance.reserved <= balance.total
        assert balance.available >= 0
        assert all(lot.remaining >= 0 and lot.held >= 0 for lot in every)


def test_the_ledger_and_its_lots_agree_whatever_happens(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    db = Database(tmp_path / "lots.sqlite3")
    loop.run_until_complete(db.connect())
    owners_made, order_ids = itertools.count(1), itertools.count(1)
    try:
        @settings(max_examples=150, deadline=None)
        @given(ops=OPS)
        def run(ops: list[Op]) -> None:
            clock = FakeClock()
            service = BillingService(db, frozenset({ADMIN}), RecordingNotifier(), clock)
            oid = loop.run_until_complete(add_owner(db, clock(), next(owners_made)))
            state = Run(db, clock, service, oid, order_ids)
            for op in ops:
                loop.run_until_complete(state.step(op))

        run()
    finally:
        loop.run_until_complete(db.close())
        loop.close()


# --- the spending order, case by case ----------------------------------------------------

async def credited(db: Database, clock: FakeClock, oid: int,
                   *packages: tuple[int, int]) -> None:
    """Packages of (credits, validity days) bought now, in this order."""
    async with db.transaction() as tx:
        for credits, days in packages:
            await billing.credit_package(tx, oid, credits, clock(), validity_days=days,
                                         package_id=None, order_id=None, note=None)


async def test_campaigns_spend_the_credits_that_expire_first(db: Database, clock) -> None:
    oid = await add_owner(db, clock())
    await credited(db, clock, oid, (100, 0), (50, 30), (20, 7))
    async with db.transaction() as tx:
        await billing.reserve(tx, oid, 60, clock())
    assert [(lot.credits, lot.remaining, lot.held) for lot in await lots.live(db.reader, oid)] \
        == [(20, 0, 20), (50, 10, 40), (100, 100, 0)]
    async with db.transaction() as tx:  # 50 sent, 10 failed, in any order
        await billing.release(tx, oid, 5, clock())
        await billing.charge(tx, oid, 50, clock())
        await billing.release(tx, oid, 5, clock())
    assert [(lot.credits, lot.remaining) for lot in await lots.live(db.reader, oid)] \
        == [(50, 20), (100, 100)]  # the 7-day package spent whole, then the 30-day one


async def test_a_correction_takes_the_credits_that_expire_first(db: Database, clock) -> None:
    oid = await add_owner(db, clock())
    await credited(db, clock, oid, (100, 0), (30, 10))
    service = BillingService(db, frozenset({ADMIN}), RecordingNotifier(), clock)
    await service.credit(ADMIN, oid, -40, "typo")
    assert [(lot.credits, lot.remaining) for lot in await lots.live(db.reader, oid)] \
        == [(100, 90)]


async def test_expired_credits_lapse_but_not_those_a_campaign_holds(db: Database, clock) -> None:
    oid = await add_owner(db, clock())
    await credited(db, clock, oid, (100, 5))
    async with db.transaction() as tx:
        await billing.reserve(tx, oid, 30, clock())
    service = BillingService(db, frozenset({ADMIN}), RecordingNotifier(), clock)
    clock.advance(days=5)
    assert await service.expire_due() == 70
    balance = await service.balance(oid)
    assert (balance.total, balance.reserved, balance.available) == (30, 30, 0)
    async with db.transaction() as tx:  # the campaign sends 20; 10 come back, expired
        await billing.charge(tx, oid, 20, clock())
        await billing.release(tx, oid, 10, clock())
    balance = await service.balance(oid)
    assert (balance.total, balance.reserved) == (0, 0)
    kinds = [(e.kind, e.amount) for e in await ledger.recent(db.reader, oid)]
    assert kinds[:2] == [(LedgerKind.EXPIRE, -10), (LedgerKind.RELEASE, 10)]
    assert (LedgerKind.EXPIRE, -70) in kinds
    assert await service.expire_due() == 0  # nothing twice


async def test_a_refund_takes_back_the_unspent_credits_of_its_order(db: Database, clock) -> None:
    oid = await add_owner(db, clock())
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO packages (id, name, credits, validity_days, price_minor,"
                         " created_at) VALUES (1, 'Start', 100, 30, 2000, 0)")
        await tx.execute(
            "INSERT INTO orders (id, owner_id, package_id, method, reference, credits,"
            " validity_days, amount_minor, currency, created_at)"
            " VALUES (7, ?, 1, 'stars', 'Q-000007-AB', 100, 30, 500, 'XTR', 0)", (oid,))
        await billing.credit(tx, oid, 40, clock(), note="admin")
        await billing.credit_package(tx, oid, 100, clock(), validity_days=30, package_id=1,
                                     order_id=7, note="Start")
        await billing.reserve(tx, oid, 30, clock())  # out of the package: it expires first
        await billing.charge(tx, oid, 10, clock())
    async with db.transaction() as tx:
        assert await billing.take_back(tx, oid, 7, clock(), "refund") == 70
        assert await billing.take_back(tx, oid, 7, clock(), "refund") == 0
    async with db.transaction() as tx:  # the campaign gives back 20: the order's, so gone
        await billing.release(tx, oid, 20, clock())
    balance = await ledger.balance(db.reader, oid)
    assert (balance.total, balance.reserved, balance.available) == (40, 0, 40)
    rows = await db.reader.execute_fetchall(
        "SELECT kind, amount, package_id FROM ledger WHERE owner_id = ? AND kind = 'adjust'",
        (oid,))
    assert [tuple(r) for r in rows] == [("adjust", -70, 1)]


async def test_a_package_credit_row_names_its_package_and_expiry(db: Database, clock) -> None:
    oid = await add_owner(db, clock())
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO packages (id, name, credits, validity_days, price_minor,"
                         " created_at) VALUES (3, 'Pro', 500, 30, 9000, 0)")
        at = await billing.credit_package(tx, oid, 500, clock(), validity_days=30,
                                          package_id=3, order_id=None, note="Pro")
    assert at == clock() + timedelta(days=30)
    rows = await db.reader.execute_fetchall(
        "SELECT kind, amount, package_id, expires_at FROM ledger WHERE owner_id = ?", (oid,))
    assert [tuple(r) for r in rows] == [("credit", 500, 3, at.timestamp())]
    [lot] = await lots.live(db.reader, oid)
    assert (lot.credits, lot.remaining, lot.expires_at, lot.package_id) == (500, 500, at, 3)


# --- migration 0014 on a database from before lots ---------------------------------------

async def test_an_existing_owner_gets_an_opening_lot_of_their_balance(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock) -> None:
    path = tmp_path / "before.sqlite3"
    every = dbmod._migration_files()
    monkeypatch.setattr(dbmod, "_migration_files", lambda: [m for m in every if m[0] < 14])
    old = Database(path)
    await old.connect()
    rich, idle = await add_owner(old, clock(), 1), await add_owner(old, clock(), 2)
    async with old.transaction() as tx:  # the rows as the services wrote them before lots
        for oid, kind, amount in ((rich, "credit", 500), (rich, "reserve", -120),
                                  (rich, "charge", -20), (rich, "adjust", -30),
                                  (idle, "credit", 10), (idle, "adjust", -10)):
            await tx.execute("INSERT INTO ledger (owner_id, kind, amount, created_at)"
                             " VALUES (?, ?, ?, 0)", (oid, kind, amount))
    await old.close()
    with sqlite3.connect(path) as conn:
        assert "credit_lots" not in {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}

    monkeypatch.setattr(dbmod, "_migration_files", lambda: every)
    db = Database(path)
    await db.connect()
    try:
        [lot] = await lots.live(db.reader, rich)
        assert (lot.credits, lot.remaining, lot.held, lot.expires_at) == (450, 350, 100, None)
        assert await lots.live(db.reader, idle) == []
        balance = await ledger.balance(db.reader, rich)
        assert (balance.total, balance.reserved) == (450, 100)
        async with db.transaction() as tx:  # the running campaign goes on from its hold
            await billing.charge(tx, rich, 100, clock())
            await billing.reserve(tx, rich, 350, clock())
        assert await lots.totals(db.reader, rich) == (0, 350)
    finally:
        await db.close()
