"""Packages and orders on a real SQLite file (migration 0013)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.domain import Language, OrderMethod, OrderStatus, OwnerStatus
from bot.storage import db as db_module
from bot.storage import orders, owners, packages
from bot.storage.db import Database


def make_reference(order_id: int) -> str:
    return f"Q-{order_id:06d}-7K"


async def _owner(db: Database, clock, telegram_id: int = 1) -> int:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
    return owner.id


async def _package(db: Database, clock, name: str = "Starter", **kwargs):
    values = {"credits": 1000, "validity_days": 30, "price_minor": 2500, "currency": "AZN",
              "price_stars": 500} | kwargs
    async with db.transaction() as tx:
        return await packages.add(tx, name=name, now=clock(), **values)


async def _order(db: Database, clock, owner_id: int, package, method=OrderMethod.STARS):
    async with db.transaction() as tx:
        return await orders.add(tx, owner_id, package.id, method, credits=package.credits,
                                validity_days=package.validity_days,
                                amount_minor=package.price_stars, currency="XTR", now=clock(),
                                reference=make_reference, package_name=package.name)


async def test_a_package_is_kept_as_made_and_hidden_ones_are_not_on_sale(db, clock) -> None:
    small = await _package(db, clock, "Small", credits=100, validity_days=0, price_stars=0)
    big = await _package(db, clock, "Big", credits=5000)
    assert await packages.get(db.reader, small.id) == small
    async with db.transaction() as tx:
        assert await packages.set_active(tx, big.id, False, clock())
        assert not await packages.set_active(tx, 999, False, clock())
    assert [p.name for p in await packages.on_sale(db.reader)] == ["Small"]
    assert [(p.name, p.active) for p in await packages.every(db.reader)] == [
        ("Small", True), ("Big", False)]


async def test_only_a_packages_own_columns_can_be_edited(db, clock) -> None:
    package = await _package(db, clock)
    async with db.transaction() as tx:
        assert await packages.update(tx, package.id, "price_stars", 750, clock())
        with pytest.raises(ValueError):
            await packages.update(tx, package.id, "active; DROP TABLE packages", 1, clock())
    changed = await packages.get(db.reader, package.id)
    assert changed is not None and changed.price_stars == 750
    assert changed.updated_at == clock()


async def test_an_order_copies_the_package_and_gets_a_unique_reference(db, clock) -> None:
    oid = await _owner(db, clock)
    package = await _package(db, clock)
    first = await _order(db, clock, oid, package)
    second = await _order(db, clock, oid, package)
    assert first.reference == "Q-000001-7K"
    assert second.reference.startswith("Q-000002-")
    stored = await orders.get(db.reader, first.id, oid)
    assert stored == first
    assert (stored.status, stored.credits, stored.package_name) == (
        OrderStatus.OPEN, 1000, "Starter")
    assert await orders.get(db.reader, first.id, owner_id=oid + 1) is None
    assert await orders.by_reference(db.reader, first.reference) == first


async def test_an_order_is_paid_once_and_a_charge_pays_one_order(db, clock) -> None:
    oid = await _owner(db, clock)
    package = await _package(db, clock)
    order, other = await _order(db, clock, oid, package), await _order(db, clock, oid, package)
    async with db.transaction() as tx:
        assert await orders.mark_paid(tx, order.id, "charge-1", "provider-1", clock())
        assert not await orders.mark_paid(tx, order.id, "charge-2", "provider-2", clock())
    paid = await orders.by_charge(db.reader, "charge-1")
    assert paid is not None and (paid.id, paid.status, paid.paid_at) == (
        order.id, OrderStatus.PAID, clock())
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as tx:
            await orders.mark_paid(tx, other.id, "charge-1", "provider-1", clock())
    async with db.transaction() as tx:
        assert await orders.mark_refunded(tx, order.id, 900, clock())
        assert not await orders.mark_refunded(tx, order.id, 900, clock())
    refunded = await orders.get(db.reader, order.id)
    assert refunded is not None and (refunded.status, refunded.decided_by) == (
        OrderStatus.REFUNDED, 900)


async def test_checkout_reads_the_order_its_package_now_and_the_owners_status(db, clock) -> None:
    oid = await _owner(db, clock)
    package = await _package(db, clock)
    order = await _order(db, clock, oid, package)
    async with db.transaction() as tx:
        await packages.update(tx, package.id, "price_stars", 900, clock())
    found = await orders.checkout(db.reader, order.reference)
    assert found is not None
    assert found.order == order
    assert (found.package.price_stars, found.package.active) == (900, True)
    assert found.owner_status is OwnerStatus.REGISTERING
    assert await orders.checkout(db.reader, "Q-000404-XX") is None
    assert await orders.open_stars(db.reader, oid, package.id) == order


async def test_version_13_keeps_the_packages_version_1_made(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "old.sqlite3"
    every = db_module._migration_files()
    monkeypatch.setattr(db_module, "_migration_files", lambda: [m for m in every if m[0] < 13])
    old = Database(path)
    await old.connect()
    async with old.transaction() as tx:
        await tx.execute("INSERT INTO packages (name, credits, validity_days, price_minor,"
                         " created_at) VALUES ('Old', 100, 30, 1000, 1.0)")
    await old.close()
    monkeypatch.setattr(db_module, "_migration_files", lambda: every)
    new = Database(path)
    await new.connect()
    [kept] = await packages.every(new.reader)
    await new.close()
    assert (kept.name, kept.credits, kept.validity_days, kept.price_minor, kept.price_stars,
            kept.active) == ("Old", 100, 30, 1000, 0, True)
