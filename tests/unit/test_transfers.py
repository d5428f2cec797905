"""Paying by bank transfer, the service: on a real SQLite file with a fake clock and a
recording notifier (the chat's side is tests/e2e/test_transfers.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot.domain import Language, OrderStatus, OwnerStatus
from bot.errors import InvalidTransition, NotAllowed, NotFound, OrderDecided, ValidationError
from bot.services.notify import PaymentReceived, TransferExpired, TransferRejected
from bot.services.orders import OrdersService
from bot.services.prompts import PromptKind, PromptsService
from bot.services.transfers import TransferConfig, TransfersService
from bot.storage import ledger, owners, packages
from bot.storage.db import Database
from tests.fakes import RecordingNotifier

ADMIN_A, ADMIN_B = 900, 901
CONFIG = TransferConfig(bank="Kapital Bank", iban="AZ21NABZ00000000137010001944",
                        recipient="Qasid MMC", expiry_days=3)


@dataclass
class World:
    db: Database
    clock: object
    notifier: RecordingNotifier
    transfers: TransfersService
    prompts: PromptsService
    package_id: int

    async def owner(self, telegram_id: int, status: OwnerStatus = OwnerStatus.ACTIVE) -> int:
        async with self.db.transaction() as tx:
            owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                     language=Language.EN, now=self.clock())
            owner.status, owner.name = status, f"Owner {telegram_id}"
            await owners.save(tx, owner, self.clock())
        return owner.id

    async def set_status(self, owner_id: int, status: OwnerStatus) -> None:
        async with self.db.transaction() as tx:
            owner = await owners.get(tx, owner_id)
            assert owner is not None
            owner.status = status
            await owners.save(tx, owner, self.clock())

    async def credits(self, owner_id: int) -> int:
        return (await ledger.balance(self.db.reader, owner_id)).total

    async def submitted(self, owner_id: int) -> int:
        order, _ = await self.transfers.start(owner_id, self.package_id)
        await self.transfers.attach_receipt(owner_id, order.id, "receipt-file", "photo")
        return order.id


def make_world(db: Database, clock, config: TransferConfig = CONFIG) -> World:
    notifier = RecordingNotifier()
    admins = frozenset({ADMIN_A, ADMIN_B})
    service = TransfersService(db, config, admins, OrdersService(db, admins, notifier, clock),
                               notifier, clock)
    return World(db, clock, notifier, service, PromptsService(db, clock), 0)


@pytest.fixture
async def world(db: Database, clock) -> World:
    w = make_world(db, clock)
    async with db.transaction() as tx:
        package = await packages.add(tx, name="Starter", credits=1000, validity_days=30,
                                     price_minor=2500, currency="AZN", price_stars=0,
                                     now=clock())
    w.package_id = package.id
    return w


async def test_a_confirmed_transfer_credits_the_package_once_whichever_admin_taps(
        world: World, clock) -> None:
    alice = await world.owner(1)
    order, made = await world.transfers.start(alice, world.package_id)
    assert made and order.status is OrderStatus.OPEN and order.amount_minor == 2500
    assert order.expires_at == order.created_at + timedelta(days=3)
    asked = await world.prompts.pending(alice)
    assert asked is not None and asked.kind is PromptKind.TRANSFER_RECEIPT
    assert asked.id("order_id") == order.id

    sent = await world.transfers.attach_receipt(alice, order.id, "receipt-file", "photo")
    assert sent.status is OrderStatus.SUBMITTED and await world.prompts.pending(alice) is None
    assert await world.credits(alice) == 0  # nothing before an admin confirms

    decision = await world.transfers.confirm(ADMIN_A, order.id)
    assert decision.order.status is OrderStatus.PAID and decision.order.decided_by == ADMIN_A
    assert decision.balance is not None and decision.balance.available == 1000
    with pytest.raises(OrderDecided) as again:
        await world.transfers.confirm(ADMIN_B, order.id)
    assert (again.value.status, again.value.decided_by) == (OrderStatus.PAID, ADMIN_A)
    with pytest.raises(OrderDecided):
        await world.transfers.reject(ADMIN_B, order.id, "no money came")
    assert await world.credits(alice) == 1000
    lines, _ = await ledger.history(world.db.reader, alice)
    assert [(line.amount, line.note) for line in lines] == [(1000, order.reference)]
    assert [n.order_id for n in world.notifier.of(PaymentReceived)] == [order.id]
    assert world.notifier.of(TransferRejected) == []
    paid = await world.transfers.order(alice, order.id)
    assert paid.status is OrderStatus.PAID and paid.reason is None


async def test_a_rejection_says_why_and_credits_nothing(world: World) -> None:
    alice = await world.owner(1)
    order_id = await world.submitted(alice)
    with pytest.raises(ValidationError):
        await world.transfers.reject(ADMIN_A, order_id, "   ")  # a reason is needed
    assert (await world.transfers.order(alice, order_id)).status is OrderStatus.SUBMITTED
    decision = await world.transfers.reject(ADMIN_A, order_id, "  the amount   is 20 AZN ")
    assert decision.order.reason == "the amount is 20 AZN"
    with pytest.raises(OrderDecided) as late:
        await world.transfers.confirm(ADMIN_B, order_id)
    assert (late.value.status, late.value.decided_by) == (OrderStatus.REJECTED, ADMIN_A)
    assert await world.credits(alice) == 0
    [told] = world.notifier.of(TransferRejected)
    assert told.owner.id == alice and told.order.reason == "the amount is 20 AZN"


async def test_a_reason_being_asked_is_moot_once_another_admin_confirms(world: World) -> None:
    alice = await world.owner(1)
    order_id = await world.submitted(alice)
    await world.transfers.decidable(ADMIN_B, order_id)
    await world.prompts.ask_admin(ADMIN_B, PromptKind.TRANSFER_REJECT, order_id=order_id,
                                  message_id=5)
    await world.transfers.confirm(ADMIN_A, order_id)
    assert await world.prompts.pending_admin(ADMIN_B) is None


async def test_one_order_waits_for_its_payment_at_a_time(world: World) -> None:
    alice = await world.owner(1)
    first, made = await world.transfers.start(alice, world.package_id)
    again, made_again = await world.transfers.start(alice, world.package_id)
    assert made and not made_again and again.id == first.id
    await world.transfers.cancel(alice, first.id)
    third, made_third = await world.transfers.start(alice, world.package_id)
    assert made_third and third.id != first.id and third.reference != first.reference


async def test_without_an_iban_there_is_no_paying_by_transfer(db: Database, clock) -> None:
    w = make_world(db, clock, TransferConfig())
    alice = await w.owner(1)
    with pytest.raises(NotAllowed) as refused:
        await w.transfers.start(alice, 1)
    assert refused.value.reason == "transfer_off"


async def test_a_suspended_owner_neither_orders_nor_sends_a_receipt(world: World) -> None:
    alice = await world.owner(1)
    order, _ = await world.transfers.start(alice, world.package_id)
    await world.set_status(alice, OwnerStatus.SUSPENDED)
    with pytest.raises(NotAllowed) as refused:
        await world.transfers.start(alice, world.package_id)
    assert refused.value.reason == "status_suspended"
    with pytest.raises(NotAllowed):
        await world.transfers.attach_receipt(alice, order.id, "receipt-file", "photo")
    assert (await world.transfers.order(alice, order.id)).status is OrderStatus.OPEN


async def test_another_owner_neither_sees_nor_changes_nor_confirms(world: World) -> None:
    alice, bob = await world.owner(1), await world.owner(2)
    order, _ = await world.transfers.start(alice, world.package_id)
    with pytest.raises(NotFound):
        await world.transfers.order(bob, order.id)
    with pytest.raises(NotFound):
        await world.transfers.cancel(bob, order.id)
    with pytest.raises(NotFound):
        await world.transfers.attach_receipt(bob, order.id, "bobs-file", "photo")
    assert await world.transfers.receipt_order(bob) is None
    await world.transfers.attach_receipt(alice, order.id, "receipt-file", "photo")
    for not_an_admin in (1, 2):  # owners' Telegram ids, whoever's the order is
        with pytest.raises(NotAllowed):
            await world.transfers.confirm(not_an_admin, order.id)
        with pytest.raises(NotAllowed):
            await world.transfers.reject(not_an_admin, order.id, "mine now")
        with pytest.raises(NotAllowed):
            await world.transfers.for_admin(not_an_admin, order.id)
    assert (await world.transfers.order(alice, order.id)).status is OrderStatus.SUBMITTED
    assert await world.credits(alice) == 0 and await world.credits(bob) == 0


async def test_an_order_without_a_receipt_expires_and_its_owner_is_told(
        world: World, clock) -> None:
    alice = await world.owner(1)
    order, _ = await world.transfers.start(alice, world.package_id)
    clock.advance(days=3, minutes=-1)
    assert await world.transfers.expire_due() == 0
    clock.advance(minutes=1)
    assert await world.transfers.expire_due() == 1
    assert await world.transfers.expire_due() == 0  # told once
    [told] = world.notifier.of(TransferExpired)
    assert (told.owner.id, told.order.id, told.days) == (alice, order.id, 3)
    assert await world.prompts.pending(alice) is None  # no receipt is awaited now
    assert await world.transfers.receipt_order(alice) is None
    with pytest.raises(InvalidTransition):
        await world.transfers.attach_receipt(alice, order.id, "late-file", "photo")
    assert (await world.transfers.order(alice, order.id)).status is OrderStatus.EXPIRED


async def test_the_receipt_finds_its_order_when_another_question_took_its_place(
        world: World) -> None:
    alice = await world.owner(1)
    order, _ = await world.transfers.start(alice, world.package_id)
    await world.prompts.ask(alice, PromptKind.RENAME_LIST, list_id=1)  # replaces it
    found = await world.transfers.receipt_order(alice)
    assert found is not None and found.id == order.id


async def test_two_admins_tapping_at_once_credit_the_order_once(world: World) -> None:
    alice = await world.owner(1)
    order_id = await world.submitted(alice)
    results = await asyncio.gather(world.transfers.confirm(ADMIN_A, order_id),
                                   world.transfers.confirm(ADMIN_B, order_id),
                                   world.transfers.reject(ADMIN_B, order_id, "no money"),
                                   return_exceptions=True)
    decided = [r for r in results if not isinstance(r, BaseException)]
    assert len(decided) == 1 and all(isinstance(r, OrderDecided) for r in results
                                     if isinstance(r, BaseException))
    paid = decided[0].order.status is OrderStatus.PAID
    assert await world.credits(alice) == (1000 if paid else 0)
    assert len(world.notifier.of(PaymentReceived)) + len(world.notifier.of(TransferRejected)) \
        == 1
