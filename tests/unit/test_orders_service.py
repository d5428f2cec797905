"""Orders and Telegram Stars: what the pre-checkout answers, a payment credited once per
charge, a payment no order can take still credited, a refund taking back what is unspent."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain import Language, LedgerKind, OrderMethod, OrderStatus, OwnerStatus
from bot.errors import NotAllowed, NotFound, ValidationError
from bot.services import billing
from bot.services.notify import StarsRefunded
from bot.services.orders import OrdersService, Refusal, normal_reference
from bot.services.packages import PackagesService
from bot.storage import ledger, owners
from bot.storage.db import Database
from tests.fakes import RecordingNotifier

ADMIN = 4242


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def orders(db, clock, notifier) -> OrdersService:
    return OrdersService(db, frozenset({ADMIN}), notifier, clock)


@pytest.fixture
def packages(db, clock) -> PackagesService:
    return PackagesService(db, frozenset({ADMIN}), clock)


async def active_owner(db: Database, clock, telegram_id: int) -> int:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
        owner.status = OwnerStatus.ACTIVE
        await owners.save(tx, owner, clock())
    return owner.id


async def set_status(db: Database, clock, owner_id: int, status: OwnerStatus) -> None:
    async with db.transaction() as tx:
        owner = await owners.get(tx, owner_id)
        assert owner is not None
        owner.status = status
        await owners.save(tx, owner, clock())


@pytest.fixture
async def starter(packages):
    return await packages.create(ADMIN, name="Starter", credits=1000, price_minor=2500,
                                 price_stars=500, validity_days=30)


async def available(db: Database, owner_id: int) -> int:
    return (await ledger.balance(db.reader, owner_id)).available


async def test_an_order_copies_the_package_so_editing_it_changes_no_order(
        orders, packages, starter, db, clock) -> None:
    oid = await active_owner(db, clock, 1)
    order = await orders.order(oid, starter.id, OrderMethod.TRANSFER)
    await packages.edit(ADMIN, starter.id, "credits", "2000")
    assert (order.credits, order.validity_days, order.amount_minor, order.currency) == (
        1000, 30, 2500, "AZN")
    assert (await orders.get(oid, order.id)).credits == 1000
    stars = await orders.order(oid, starter.id, OrderMethod.STARS)
    assert (stars.amount_minor, stars.currency, stars.credits) == (500, "XTR", 2000)


async def test_pay_with_stars_again_reuses_the_open_order_while_it_matches(
        orders, packages, starter, db, clock) -> None:
    oid = await active_owner(db, clock, 1)
    first = await orders.stars_order(oid, starter.id)
    assert (await orders.stars_order(oid, starter.id)).id == first.id
    await packages.edit(ADMIN, starter.id, "stars", "600")
    again = await orders.stars_order(oid, starter.id)
    assert again.id != first.id and again.amount_minor == 600


async def test_nothing_is_ordered_by_a_suspended_owner_or_of_a_hidden_package(
        orders, packages, starter, db, clock) -> None:
    oid = await active_owner(db, clock, 1)
    await set_status(db, clock, oid, OwnerStatus.SUSPENDED)
    with pytest.raises(NotAllowed):
        await orders.stars_order(oid, starter.id)
    await set_status(db, clock, oid, OwnerStatus.ACTIVE)
    await packages.set_active(ADMIN, starter.id, False)
    with pytest.raises(NotFound):
        await orders.order(oid, starter.id, OrderMethod.STARS)
    stars_only = await packages.create(ADMIN, name="Stars only", credits=10, price_minor=0,
                                       price_stars=5, validity_days=0)
    with pytest.raises(ValidationError):
        await orders.order(oid, stars_only.id, OrderMethod.TRANSFER)


async def test_the_pre_checkout_says_yes_only_to_an_open_order_still_on_sale(
        orders, packages, starter, db, clock) -> None:
    a, b = await active_owner(db, clock, 1), await active_owner(db, clock, 2)
    order = await orders.stars_order(a, starter.id)
    ref = order.reference
    assert await orders.stars_checkout(a, ref, 500) is None
    assert await orders.stars_checkout(b, ref, 500) is Refusal.UNKNOWN  # another's order
    assert await orders.stars_checkout(a, "Q-999999-ZZ", 500) is Refusal.UNKNOWN
    assert await orders.stars_checkout(a, ref, 499) is Refusal.AMOUNT
    assert await orders.stars_checkout(a, ref, 500, "USD") is Refusal.AMOUNT
    await packages.edit(ADMIN, starter.id, "credits", "900")
    assert await orders.stars_checkout(a, ref, 500) is Refusal.CHANGED
    await packages.edit(ADMIN, starter.id, "credits", "1000")
    await packages.set_active(ADMIN, starter.id, False)
    assert await orders.stars_checkout(a, ref, 500) is Refusal.HIDDEN
    await packages.set_active(ADMIN, starter.id, True)
    await set_status(db, clock, a, OwnerStatus.SUSPENDED)
    assert await orders.stars_checkout(a, ref, 500) is Refusal.NOT_ACTIVE
    await set_status(db, clock, a, OwnerStatus.ACTIVE)
    await orders.stars_paid(a, ref, 500, "charge-1", "prov-1")
    assert await orders.stars_checkout(a, ref, 500) is Refusal.PAID


async def test_a_payment_credits_the_package_once_whatever_repeats(
        orders, starter, db, clock) -> None:
    oid = await active_owner(db, clock, 1)
    order = await orders.stars_order(oid, starter.id)
    paid = await orders.stars_paid(oid, order.reference, 500, "charge-1", "prov-1")
    assert paid.first and paid.available == 1000
    assert (paid.order.status, paid.order.telegram_charge_id, paid.order.paid_at) == (
        OrderStatus.PAID, "charge-1", clock())
    assert paid.credits_expire == clock() + timedelta(days=30)
    again = await orders.stars_paid(oid, order.reference, 500, "charge-1", "prov-1")
    assert not again.first and again.order.id == order.id
    assert again.credits_expire == paid.credits_expire
    assert await available(db, oid) == 1000
    [row] = await ledger.recent(db.reader, oid)
    assert (row.kind, row.amount, row.note) == (LedgerKind.CREDIT, 1000, order.reference)


async def test_a_second_payment_of_one_invoice_is_credited_as_an_order_of_its_own(
        orders, starter, db, clock) -> None:
    oid = await active_owner(db, clock, 1)
    order = await orders.stars_order(oid, starter.id)
    await orders.stars_paid(oid, order.reference, 500, "charge-1", "prov-1")
    second = await orders.stars_paid(oid, order.reference, 500, "charge-2", "prov-2")
    assert second.first and second.order.id != order.id
    assert (second.order.status, second.order.credits) == (OrderStatus.PAID, 1000)
    assert await available(db, oid) == 2000
    with pytest.raises(NotFound):  # names no order at all: nothing to credit it as
        await orders.stars_paid(oid, "Q-777777-AB", 500, "charge-3", "prov-3")


async def test_a_refund_takes_back_what_is_unspent_and_says_what_was_spent(
        orders, starter, notifier, db, clock) -> None:
    oid = await active_owner(db, clock, 1)
    order = await orders.stars_order(oid, starter.id)
    await orders.stars_paid(oid, order.reference, 500, "charge-1", "prov-1")
    async with db.transaction() as tx:  # 300 credits spent on messages
        await billing.reserve(tx, oid, 300, clock())
        await billing.charge(tx, oid, 300, clock())
    found, owner = await orders.refundable(ADMIN, order.reference.lower())
    assert (found.id, found.telegram_charge_id, owner.telegram_id) == (order.id, "charge-1", 1)
    refund = await orders.refund_stars(ADMIN, order.reference)
    assert (refund.taken, refund.spent, refund.available) == (700, 300, 0)
    assert refund.order.status is OrderStatus.REFUNDED
    assert await available(db, oid) == 0
    [told] = notifier.of(StarsRefunded)
    assert (told.order.reference, told.taken, told.available) == (order.reference, 700, 0)
    with pytest.raises(ValidationError) as twice:
        await orders.refund_stars(ADMIN, order.reference)
    assert twice.value.reason == "refund_not_paid"
    with pytest.raises(ValidationError):
        await orders.refundable(ADMIN, order.reference)
    assert await available(db, oid) == 0


async def test_only_admins_refund_and_only_paid_stars_orders(orders, starter, db,
                                                             clock) -> None:
    oid = await active_owner(db, clock, 1)
    stars = await orders.stars_order(oid, starter.id)
    transfer = await orders.order(oid, starter.id, OrderMethod.TRANSFER)
    with pytest.raises(NotAllowed):
        await orders.refundable(oid, stars.reference)
    with pytest.raises(ValidationError) as unpaid:
        await orders.refundable(ADMIN, stars.reference)
    assert unpaid.value.reason == "refund_not_paid"
    with pytest.raises(ValidationError) as not_stars:
        await orders.refundable(ADMIN, transfer.reference)
    assert not_stars.value.reason == "refund_not_stars"
    with pytest.raises(NotFound):
        await orders.refundable(ADMIN, "Q-123456-AA")


@pytest.mark.parametrize(("typed", "written"), [
    ("q-000123-7k", "Q-000123-7K"), ("Q0001237K", "Q-000123-7K"), (" Q-12-AB ", "Q-000012-AB"),
])
def test_a_reference_is_read_however_it_is_typed(typed, written) -> None:
    assert normal_reference(typed) == written
