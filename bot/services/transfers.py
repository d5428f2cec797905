"""Paying by bank transfer (or card) outside Telegram, confirmed by an admin.

The owner picks a package and *Pay by transfer*: an order is made (``OrdersService.order``,
its reference unique) and the owner is shown where to pay (``TransferConfig``, from the
settings) and asked for a photo or PDF of the receipt (``PromptKind.TRANSFER_RECEIPT``).
An owner has one such order waiting at a time: asking again shows it again.

    open --receipt--> submitted --admin confirms--> paid (the package credited, once)
      |                         --admin rejects---> rejected (the owner reads why)
      +--owner cancels--> cancelled
      +--ORDER_EXPIRY_DAYS without a receipt--> expired (a job; the owner is told)

Every move is a conditional UPDATE on the status it leaves, so of two admins tapping
*Confirm payment* (or one *Confirm*, the other *Reject*) only the first changes anything;
the second is told who decided (``OrderDecided``). Confirming credits the package through
``billing.credit_package`` in the transaction that marks the order paid. Only admins see
every order; an owner reaches only their own (``NotFound`` otherwise). A suspended owner
neither orders nor sends a receipt; what an admin already has may still be decided.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.clock import Clock, utcnow
from bot.domain import Balance, Order, OrderMethod, OrderStatus, Owner
from bot.errors import InvalidTransition, NotAllowed, NotFound, OrderDecided, ValidationError
from bot.services import billing, guards
from bot.services import prompts as prompts_service
from bot.services.notify import Notifier, PaymentReceived, TransferExpired, TransferRejected
from bot.services.prompts import PromptKind
from bot.storage import ledger, owners, prompts, transfers
from bot.storage.db import Connection, Database

log = logging.getLogger(__name__)

REASON_MAX = 500  # an admin's reason to reject, as the owner reads it
ORDERS_CHECK_EVERY = timedelta(hours=1)  # the job that expires orders (bot/app.py)


@dataclass(frozen=True, slots=True)
class TransferConfig:
    """Where owners pay (PAYMENT_BANK, PAYMENT_IBAN, PAYMENT_RECIPIENT, PAYMENT_NOTE) and
    how long an order waits for its receipt (ORDER_EXPIRY_DAYS)."""

    bank: str = ""
    iban: str = ""
    recipient: str = ""
    note: str = ""
    expiry_days: int = 3

    @property
    def enabled(self) -> bool:
        """*Pay by transfer* is offered: there is an IBAN to pay to."""
        return bool(self.iban)


class Ordering(Protocol):
    """What makes an order (``OrdersService``): the package's credits, validity and price
    copied onto it, its reference unique; refuses a package no longer on sale."""

    async def order(self, owner_id: int, package_id: int, method: OrderMethod) -> Order: ...


@dataclass(frozen=True, slots=True)
class Decision:
    """An order an admin decided, its owner, and (confirmed) the owner's credits after."""

    order: Order
    owner: Owner
    balance: Balance | None = None


class TransfersService:
    def __init__(self, db: Database, config: TransferConfig, admin_ids: frozenset[int],
                 orders: Ordering, notifier: Notifier, clock: Clock = utcnow) -> None:
        self._db = db
        self.config = config
        self._admin_ids = admin_ids
        self._orders = orders
        self._notifier = notifier
        self._clock = clock

    @property
    def admin_ids(self) -> frozenset[int]:
        """Who confirms payments (ADMIN_IDS): each gets every receipt."""
        return self._admin_ids

    # --- the owner ------------------------------------------------------------------------

    async def start(self, owner_id: int, package_id: int) -> tuple[Order, bool]:
        """*Pay by transfer* for a package: a new order waiting for its receipt (True), or
        the owner's order already waiting (False: one at a time, shown again). Either way
        the owner's next photo or PDF is its receipt."""
        if not self.config.enabled:
            raise NotAllowed("transfer_off")
        await guards.active_owner(self._db.reader, owner_id)
        order = await transfers.open_of(self._db.reader, owner_id)
        made = order is None
        if order is None:
            order = await self._orders.order(owner_id, package_id, OrderMethod.TRANSFER)
        async with self._db.transaction() as tx:
            if made:
                await transfers.set_expiry(
                    tx, order.id, order.created_at + timedelta(days=self.config.expiry_days))
            await prompts.set(tx, owner_id, PromptKind.TRANSFER_RECEIPT.value,
                              {"order_id": order.id}, self._clock())
            current = await transfers.get(tx, order.id, owner_id)
        assert current is not None
        return current, made

    async def order(self, owner_id: int, order_id: int) -> Order:
        """One of the owner's transfer orders (another's is not found)."""
        found = await transfers.get(self._db.reader, order_id, owner_id)
        if found is None:
            raise NotFound("order", order_id=order_id)
        return found

    async def receipt_order(self, owner_id: int) -> Order | None:
        """The order the owner's next photo or PDF is the receipt of: the one their
        receipt question names, else (another question took its place) their order still
        waiting for its payment; None when no order waits."""
        asked = await prompts.get(self._db.reader, owner_id)
        if asked is not None and asked[0] == PromptKind.TRANSFER_RECEIPT.value:
            found = await transfers.get(self._db.reader, int(asked[1]["order_id"]), owner_id)
            if found is not None and found.status is OrderStatus.OPEN:
                return found
        return await transfers.open_of(self._db.reader, owner_id)

    async def attach_receipt(self, owner_id: int, order_id: int, file_id: str,
                             kind: str) -> Order:
        """The owner sent the receipt (``kind``: ``photo`` or ``document``): the order waits
        for an admin now, and the receipt question is answered."""
        if kind not in ("photo", "document"):
            raise ValueError(f"a receipt is a photo or a document, not {kind!r}")
        await guards.active_owner(self._db.reader, owner_id)
        async with self._db.transaction() as tx:
            if not await transfers.submit(tx, owner_id, order_id, file_id, kind):
                found = await transfers.get(tx, order_id, owner_id)
                if found is None:
                    raise NotFound("order", order_id=order_id)
                raise InvalidTransition("order", found.status, OrderStatus.SUBMITTED)
            await prompts_service.close(tx, owner_id, PromptKind.TRANSFER_RECEIPT)
            order = await transfers.get(tx, order_id, owner_id)
        assert order is not None
        return order

    async def cancel(self, owner_id: int, order_id: int) -> Order:
        """The owner cancels an order still waiting for its payment."""
        async with self._db.transaction() as tx:
            if not await transfers.cancel(tx, owner_id, order_id, self._clock()):
                found = await transfers.get(tx, order_id, owner_id)
                if found is None:
                    raise NotFound("order", order_id=order_id)
                raise InvalidTransition("order", found.status, OrderStatus.CANCELLED)
            await prompts_service.close(tx, owner_id, PromptKind.TRANSFER_RECEIPT)
            order = await transfers.get(tx, order_id, owner_id)
        assert order is not None
        return order

    # --- admins ---------------------------------------------------------------------------

    async def for_admin(self, admin_id: int, order_id: int) -> tuple[Order, Owner]:
        """An order and its owner, as an admin sees them."""
        guards.require_admin(self._admin_ids, admin_id)
        order = await transfers.get(self._db.reader, order_id)
        if order is None:
            raise NotFound("order", order_id=order_id)
        owner = await owners.get(self._db.reader, order.owner_id)
        if owner is None:
            raise NotFound("owner", owner_id=order.owner_id)
        return order, owner

    async def remember_notice(self, order_id: int, admin_id: int, message_id: int) -> None:
        """The message ``admin_id`` was sent about the order (edited when it is decided)."""
        async with self._db.transaction() as tx:
            await transfers.add_notice(tx, order_id, admin_id, message_id)

    async def notices(self, order_id: int) -> list[tuple[int, int]]:
        """(admin id, message id) of every admin's message about the order."""
        return await transfers.notices(self._db.reader, order_id)

    async def decidable(self, admin_id: int, order_id: int) -> Order:
        """The order, still waiting for an admin (``OrderDecided`` when it is not)."""
        order, _ = await self.for_admin(admin_id, order_id)
        if order.status is not OrderStatus.SUBMITTED:
            raise OrderDecided(order.reference, order.status, order.decided_by)
        return order

    async def confirm(self, admin_id: int, order_id: int) -> Decision:
        """The payment arrived: the order is paid and its credits added, once (of two
        admins, the second gets ``OrderDecided`` and nothing changes). The owner is told,
        and gets the receipt (``PaymentReceived``)."""
        guards.require_admin(self._admin_ids, admin_id)
        now = self._clock()
        async with self._db.transaction() as tx:
            order = await self._decide(tx, order_id, OrderStatus.PAID, admin_id, now)
            await billing.credit_package(
                tx, order.owner_id, order.credits, now, validity_days=order.validity_days,
                package_id=order.package_id, order_id=order.id, note=order.reference,
                actor_id=admin_id)
            await prompts_service.close_admins_asked(tx, PromptKind.TRANSFER_REJECT,
                                                     "order_id", order.id)
            owner = await owners.get(tx, order.owner_id)
            paid = await transfers.get(tx, order.id)
            balance = await ledger.balance(tx, order.owner_id)
        assert owner is not None and paid is not None
        decision = Decision(paid, owner, balance)
        log.info("order %s paid by transfer (confirmed by admin %s)", paid.reference, admin_id)
        await self._notifier.notify(PaymentReceived(owner, paid.id))  # and its receipt
        return decision

    async def reject(self, admin_id: int, order_id: int, reason: str) -> Decision:
        """The payment did not arrive (or not as it should): the order is rejected with the
        reason the owner reads. Nothing is credited; the owner is told."""
        guards.require_admin(self._admin_ids, admin_id)
        reason = " ".join(reason.split())
        if not reason:
            raise ValidationError("empty", where="reason")
        if len(reason) > REASON_MAX:
            raise ValidationError("too_long", where="reason", limit=REASON_MAX)
        now = self._clock()
        async with self._db.transaction() as tx:
            order = await self._decide(tx, order_id, OrderStatus.REJECTED, admin_id, now,
                                       reason)
            await prompts_service.close_admins_asked(tx, PromptKind.TRANSFER_REJECT,
                                                     "order_id", order.id)
            owner = await owners.get(tx, order.owner_id)
            rejected = await transfers.get(tx, order.id)
        assert owner is not None and rejected is not None
        await self._notifier.notify(TransferRejected(owner, rejected))
        return Decision(rejected, owner)

    async def expire_due(self) -> int:
        """A job: orders left without a receipt past their expiry expire, and their owners
        are told (``TransferExpired``). Answers how many expired."""
        async with self._db.transaction() as tx:
            expired = await transfers.expire_due(tx, self._clock(), self.config.expiry_days)
            for order in expired:
                asked = await prompts.get(tx, order.owner_id)
                if asked is not None and asked[0] == PromptKind.TRANSFER_RECEIPT.value \
                        and asked[1].get("order_id") == order.id:
                    await prompts.clear(tx, order.owner_id, asked[0])
            told = [(order, await owners.get(tx, order.owner_id)) for order in expired]
        for order, owner in told:
            if owner is not None:
                await self._notifier.notify(TransferExpired(owner, order,
                                                            self.config.expiry_days))
        if expired:
            log.info("%d transfer orders expired without a receipt", len(expired))
        return len(expired)

    # --- helpers --------------------------------------------------------------------------

    async def _decide(self, tx: Connection, order_id: int,
                      status: OrderStatus, admin_id: int, now: datetime,
                      reason: str | None = None) -> Order:
        if not await transfers.decide(tx, order_id, status, admin_id, now, reason):
            found = await transfers.get(tx, order_id)
            if found is None:
                raise NotFound("order", order_id=order_id)
            raise OrderDecided(found.reference, found.status, found.decided_by)
        order = await transfers.get(tx, order_id)
        assert order is not None
        return order

