"""Transfer orders on a real SQLite file: each move happens once, from the status it
leaves; another owner's order is never touched; admins' messages are remembered."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import Language, OrderMethod, OrderStatus
from bot.storage import orders, owners, packages, transfers
from bot.storage.db import Database

ADMIN_A, ADMIN_B = 900, 901


def reference(order_id: int) -> str:
    return f"Q-{order_id:06d}-7K"


async def _owner(db: Database, clock, telegram_id: int) -> int:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
    return owner.id


async def _order(db: Database, clock, owner_id: int, method=OrderMethod.TRANSFER, *,
                 expires_in: timedelta | None = timedelta(days=3)):
    async with db.transaction() as tx:
        package = await packages.get(tx, 1) or await packages.add(
            tx, name="Starter", credits=1000, validity_days=30, price_minor=2500,
            currency="AZN", price_stars=500, now=clock())
        order = await orders.add(tx, owner_id, package.id, method, credits=package.credits,
                                 validity_days=package.validity_days,
                                 amount_minor=package.price_minor, currency="AZN",
                                 now=clock(), reference=reference, package_name=package.name)
        if expires_in is not None:
            await transfers.set_expiry(tx, order.id, clock() + expires_in)
    return order


async def test_a_receipt_submits_the_owners_open_order_once(db, clock) -> None:
    alice, bob = await _owner(db, clock, 1), await _owner(db, clock, 2)
    order = await _order(db, clock, alice)
    async with db.transaction() as tx:
        assert not await transfers.submit(tx, bob, order.id, "file-b", "photo")  # not his
        assert await transfers.submit(tx, alice, order.id, "file-a", "photo")
        assert not await transfers.submit(tx, alice, order.id, "file-again", "document")
    found = await transfers.get(db.reader, order.id, alice)
    assert found is not None and found.status is OrderStatus.SUBMITTED
    assert (found.receipt_file_id, found.receipt_kind) == ("file-a", "photo")
    assert await transfers.get(db.reader, order.id, bob) is None
    assert await transfers.open_of(db.reader, alice) is None


async def test_of_two_admins_deciding_only_the_first_changes_the_order(db, clock) -> None:
    alice = await _owner(db, clock, 1)
    order = await _order(db, clock, alice)
    async with db.transaction() as tx:
        assert not await transfers.decide(tx, order.id, OrderStatus.PAID, ADMIN_A, clock())
        await transfers.submit(tx, alice, order.id, "file", "photo")
        assert await transfers.decide(tx, order.id, OrderStatus.PAID, ADMIN_A, clock())
        assert not await transfers.decide(tx, order.id, OrderStatus.REJECTED, ADMIN_B,
                                          clock(), "no money")
        assert not await transfers.decide(tx, order.id, OrderStatus.PAID, ADMIN_B, clock())
    paid = await transfers.get(db.reader, order.id)
    assert paid is not None and paid.status is OrderStatus.PAID
    assert (paid.decided_by, paid.reason, paid.paid_at) == (ADMIN_A, None, clock())


async def test_a_stars_order_is_no_transfer(db, clock) -> None:
    alice = await _owner(db, clock, 1)
    stars = await _order(db, clock, alice, OrderMethod.STARS)
    async with db.transaction() as tx:
        assert not await transfers.submit(tx, alice, stars.id, "file", "photo")
        assert not await transfers.cancel(tx, alice, stars.id, clock())
    assert await transfers.get(db.reader, stars.id) is None
    assert await transfers.open_of(db.reader, alice) is None


async def test_only_an_open_order_is_cancelled_and_only_by_its_owner(db, clock) -> None:
    alice, bob = await _owner(db, clock, 1), await _owner(db, clock, 2)
    order = await _order(db, clock, alice)
    async with db.transaction() as tx:
        assert not await transfers.cancel(tx, bob, order.id, clock())
        assert await transfers.cancel(tx, alice, order.id, clock())
        assert not await transfers.cancel(tx, alice, order.id, clock())
        assert not await transfers.submit(tx, alice, order.id, "file", "photo")
    cancelled = await transfers.get(db.reader, order.id)
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED


async def test_open_orders_expire_at_their_end_and_submitted_ones_never(db, clock) -> None:
    alice, bob = await _owner(db, clock, 1), await _owner(db, clock, 2)
    waiting = await _order(db, clock, alice)
    sent = await _order(db, clock, bob)
    unset = await _order(db, clock, bob, expires_in=None)  # made before its expiry was set
    async with db.transaction() as tx:
        await transfers.submit(tx, bob, sent.id, "file", "photo")
    clock.advance(days=3, seconds=-1)
    async with db.transaction() as tx:
        assert await transfers.expire_due(tx, clock(), 3) == []
    clock.advance(seconds=1)
    async with db.transaction() as tx:
        expired = await transfers.expire_due(tx, clock(), 3)
        assert await transfers.expire_due(tx, clock(), 3) == []  # once
    assert sorted(o.id for o in expired) == [waiting.id, unset.id]
    assert {o.status for o in expired} == {OrderStatus.EXPIRED}
    still = await transfers.get(db.reader, sent.id)
    assert still is not None and still.status is OrderStatus.SUBMITTED


async def test_each_admins_message_about_an_order_is_remembered(db, clock) -> None:
    alice = await _owner(db, clock, 1)
    order = await _order(db, clock, alice)
    async with db.transaction() as tx:
        await transfers.add_notice(tx, order.id, ADMIN_B, 7)
        await transfers.add_notice(tx, order.id, ADMIN_A, 5)
        await transfers.add_notice(tx, order.id, ADMIN_B, 8)  # sent again: the newer one
    assert await transfers.notices(db.reader, order.id) == [(ADMIN_A, 5), (ADMIN_B, 8)]
