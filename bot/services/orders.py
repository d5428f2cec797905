"""Orders of packages, and paying them with Telegram Stars inside the bot.

An order copies what the owner ordered from the package (its credits, validity and
price), so that editing the package later changes no order, and gets a unique reference
(``Q-000123-7K``: the order's number and two letters drawn at random), which is the
invoice's payload, the transfer's purpose and the receipt's number. A bank transfer's
path is ``bot/services/transfers.py``; it makes its orders here too (``order``).

Stars (``XTR``), as Telegram runs them:

    *Pay with Stars* -> stars_order (an open order; the owner's open one of that package
    again, if any) -> the bot sends the invoice (payload = the reference)
    -> pre_checkout_query -> stars_checkout: None (the bot answers ok) or why not
    -> successful_payment -> stars_paid: the order paid and its credits added, once

``stars_checkout`` says yes only while the order is open and the owner's, the owner is
active, the package still on sale as it was ordered (price and credits), and the amount
and currency the ones of the order: one read (Telegram waits 10 s for the answer).
``stars_paid`` is keyed by ``telegram_payment_charge_id`` (UNIQUE in ``orders``): the same
update again changes nothing and answers the payment as it was recorded. A payment
Telegram took for an order that can no longer take it (two checkouts of one invoice at
once, say) is never lost: it becomes an order of its own, paid and credited.

``/refund <reference>`` (admins): the handler asks Telegram to give the Stars back
(``refundStarPayment``; ``refundable`` first says whether there is anything to refund),
then ``refund_stars`` takes back what of the order's credits is still unspent
(``billing.take_back``) and marks the order refunded, in one transaction, once; the
owner is told (``StarsRefunded``). What was already spent stays spent.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.clock import Clock, utcnow
from bot.domain import Order, OrderMethod, OrderStatus, Owner, OwnerStatus
from bot.errors import NotFound, ValidationError
from bot.i18n import STARS
from bot.services import billing, guards
from bot.services.notify import Notifier, StarsRefunded
from bot.storage import ledger, owners
from bot.storage import orders as orders_repo
from bot.storage import packages as packages_repo
from bot.storage.db import Connection, Database

log = logging.getLogger(__name__)

REASON_MAX = 200  # an admin's reason for a refund, kept on the order
REFERENCE_LETTERS = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # nothing to misread (0/O, 1/I)


def make_reference(order_id: int) -> str:
    """``Q-000123-7K``: the order's number and two random letters, so that a reference
    typed on a transfer with one character wrong names no other order."""
    tail = "".join(secrets.choice(REFERENCE_LETTERS) for _ in range(2))
    return f"Q-{order_id:06d}-{tail}"


def normal_reference(text: str) -> str:
    """A reference as typed (``q-000123-7k``, ``Q0001237K``) in its one written form."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(raw) >= 4 and raw.startswith("Q") and raw[1:-2].isdigit():
        return f"Q-{int(raw[1:-2]):06d}-{raw[-2:]}"
    return text.strip().upper()


class Refusal(StrEnum):
    """Why a Stars payment is refused at pre-checkout (the owner reads it, in their
    language, in Telegram's payment window)."""

    UNKNOWN = "unknown"  # no such order, or another owner's
    NOT_ACTIVE = "not_active"  # the owner is suspended (or not approved)
    PAID = "paid"  # paid already
    CLOSED = "closed"  # refunded, expired, cancelled...
    HIDDEN = "hidden"  # the package is no longer on sale
    CHANGED = "changed"  # its price or credits changed since the order
    AMOUNT = "amount"  # not the order's amount or currency


@dataclass(frozen=True, slots=True)
class Payment:
    """A Stars payment as recorded: the paid order, whether this update recorded it
    (``first``; False: the same payment again, nothing changed), when its credits expire
    and what the owner has available now."""

    order: Order
    first: bool
    credits_expire: datetime | None
    available: int


@dataclass(frozen=True, slots=True)
class Refund:
    """A Stars order given back: ``taken`` credits taken back, the rest (``spent``) had
    been used."""

    order: Order
    owner: Owner
    taken: int
    available: int

    @property
    def spent(self) -> int:
        return self.order.credits - self.taken


class OrdersService:
    def __init__(self, db: Database, admin_ids: frozenset[int], notifier: Notifier,
                 clock: Clock = utcnow) -> None:
        self._db = db
        self._admin_ids = admin_ids
        self._notifier = notifier
        self._clock = clock

    # --- ordering ------------------------------------------------------------------------

    async def order(self, owner_id: int, package_id: int, method: OrderMethod) -> Order:
        """A new open order of a package on sale, for Stars or by transfer (the package
        must have a price of that kind). A suspended owner orders nothing."""
        async with self._db.transaction() as tx:
            return await self._order(tx, owner_id, package_id, method)

    async def stars_order(self, owner_id: int, package_id: int) -> Order:
        """*Pay with Stars*: the owner's open Stars order of this package if it still
        matches the package (the same invoice again), else a new one."""
        async with self._db.transaction() as tx:
            found = await orders_repo.open_stars(tx, owner_id, package_id)
            package = await packages_repo.get(tx, package_id)
            if (found is not None and package is not None and package.active
                    and (found.amount_minor, found.credits, found.validity_days)
                    == (package.price_stars, package.credits, package.validity_days)):
                await guards.active_owner(tx, owner_id)
                return found
            return await self._order(tx, owner_id, package_id, OrderMethod.STARS)

    async def _order(self, tx: Connection, owner_id: int, package_id: int,
                     method: OrderMethod) -> Order:
        await guards.active_owner(tx, owner_id)
        package = await packages_repo.get(tx, package_id)
        if package is None or not package.active:
            raise NotFound("package", package_id=package_id)
        if method is OrderMethod.STARS:
            if not package.for_stars:
                raise ValidationError("package_no_stars", where="method")
            amount, currency = package.price_stars, STARS
        else:
            if not package.for_money:
                raise ValidationError("package_no_price", where="method")
            amount, currency = package.price_minor, package.currency
        order = await orders_repo.add(
            tx, owner_id, package.id, method, credits=package.credits,
            validity_days=package.validity_days, amount_minor=amount, currency=currency,
            now=self._clock(), reference=make_reference, package_name=package.name)
        log.info("owner %s ordered package %s (%s): %s", owner_id, package.id, method.value,
                 order.reference)
        return order

    async def get(self, owner_id: int, order_id: int) -> Order:
        """One of the owner's orders (another owner's is not found)."""
        found = await orders_repo.get(self._db.reader, order_id, owner_id)
        if found is None:
            raise NotFound("order", order_id=order_id)
        return found

    # --- Telegram Stars ------------------------------------------------------------------

    async def stars_checkout(self, owner_id: int, payload: str, total: int,
                             currency: str = STARS) -> Refusal | None:
        """A pre-checkout query: None when the payment may go ahead, else why not (a
        ``Refusal``). One read, no transaction."""
        found = await orders_repo.checkout(self._db.reader, payload)
        if found is None or found.order.owner_id != owner_id \
                or found.order.method is not OrderMethod.STARS:
            return Refusal.UNKNOWN
        order, package = found.order, found.package
        if found.owner_status is not OwnerStatus.ACTIVE:
            return Refusal.NOT_ACTIVE
        if order.status is OrderStatus.PAID:
            return Refusal.PAID
        if order.status is not OrderStatus.OPEN:
            return Refusal.CLOSED
        if not package.active:
            return Refusal.HIDDEN
        if (package.price_stars, package.credits, package.validity_days) != (
                order.amount_minor, order.credits, order.validity_days):
            return Refusal.CHANGED
        if currency != STARS or total != order.amount_minor:
            return Refusal.AMOUNT
        return None

    async def stars_paid(self, owner_id: int, payload: str, total: int,
                         telegram_charge_id: str, provider_charge_id: str,
                         currency: str = STARS) -> Payment:
        """A successful payment: the order paid and its credits added, in one
        transaction, once per ``telegram_charge_id`` (the same again answers the payment
        as recorded, ``first`` False). NotFound when the payload names no order at all
        (nothing to credit it as: logged for an admin to refund)."""
        now = self._clock()
        async with self._db.transaction() as tx:
            done = await orders_repo.by_charge(tx, telegram_charge_id)
            if done is not None:
                available = (await ledger.balance(tx, done.owner_id)).available
                return Payment(done, False, _expiry(done), available)
            order = await orders_repo.by_reference(tx, payload)
            if order is None:
                log.error("a Stars payment %s of owner %s names no order (%s): refund it",
                          telegram_charge_id, owner_id, payload)
                raise NotFound("order")
            if currency != STARS or total != order.amount_minor:
                log.warning("Stars payment %s: %s %s paid for order %s of %s",
                            telegram_charge_id, total, currency, order.reference,
                            order.amount_minor)
            if order.owner_id != owner_id or order.method is not OrderMethod.STARS \
                    or not await orders_repo.mark_paid(tx, order.id, telegram_charge_id,
                                                       provider_charge_id, now):
                # Telegram took the Stars though this order cannot take them: an order of
                # its own, so that what was paid is credited (and can be refunded)
                log.warning("Stars payment %s for order %s (%s) recorded as a new order",
                            telegram_charge_id, order.reference, order.status.value)
                order = await orders_repo.add(
                    tx, owner_id, order.package_id, OrderMethod.STARS, credits=order.credits,
                    validity_days=order.validity_days, amount_minor=total, currency=STARS,
                    now=now, reference=make_reference, package_name=order.package_name)
                await orders_repo.mark_paid(tx, order.id, telegram_charge_id,
                                            provider_charge_id, now)
            expires = await billing.credit_package(
                tx, owner_id, order.credits, now, validity_days=order.validity_days,
                package_id=order.package_id, order_id=order.id, note=order.reference)
            paid = await orders_repo.get(tx, order.id)
            available = (await ledger.balance(tx, owner_id)).available
        assert paid is not None
        log.info("order %s paid with %s Stars (charge %s)", paid.reference, total,
                 telegram_charge_id)
        return Payment(paid, True, expires, available)

    async def refundable(self, admin_id: int, reference: str) -> tuple[Order, Owner]:
        """The paid Stars order ``/refund`` names, and its owner (whose Telegram id and the
        charge are what ``refundStarPayment`` takes)."""
        guards.require_admin(self._admin_ids, admin_id)
        order = await orders_repo.by_reference(self._db.reader, normal_reference(reference))
        if order is None:
            raise NotFound("order", reference=reference)
        if order.method is not OrderMethod.STARS:
            raise ValidationError("refund_not_stars", where="reference",
                                  reference=order.reference)
        if order.status is not OrderStatus.PAID or order.telegram_charge_id is None:
            raise ValidationError("refund_not_paid", where="reference",
                                  reference=order.reference)
        owner = await owners.get(self._db.reader, order.owner_id)
        if owner is None:
            raise NotFound("owner", owner_id=order.owner_id)
        return order, owner

    async def refund_stars(self, admin_id: int, reference: str,
                           reason: str | None = None) -> Refund:
        """After Telegram gave the order's Stars back: what of its credits is unspent is
        taken back and the order is refunded (``reason``: the admin's, if any), in one
        transaction, once (again: ValidationError ``refund_not_paid``). The owner is
        told."""
        guards.require_admin(self._admin_ids, admin_id)
        reason = " ".join((reason or "").split())[:REASON_MAX] or None
        now = self._clock()
        async with self._db.transaction() as tx:
            order = await orders_repo.by_reference(tx, normal_reference(reference))
            if order is None:
                raise NotFound("order", reference=reference)
            if not await orders_repo.mark_refunded(tx, order.id, admin_id, now, reason):
                raise ValidationError("refund_not_paid", where="reference",
                                      reference=order.reference)
            taken = await billing.take_back(tx, order.owner_id, order.id, now,
                                            note=f"refund {order.reference}")
            owner = await owners.get(tx, order.owner_id)
            refunded = await orders_repo.get(tx, order.id)
            available = (await ledger.balance(tx, order.owner_id)).available
        assert owner is not None and refunded is not None
        log.info("admin %s refunded order %s: %s credits taken back", admin_id,
                 refunded.reference, taken)
        await self._notifier.notify(StarsRefunded(owner, refunded, taken, available))
        return Refund(refunded, owner, taken, available)

    # --- helpers --------------------------------------------------------------------------



def _expiry(order: Order) -> datetime | None:
    """When a paid order's credits expire (its lot's end)."""
    if order.paid_at is None or not order.validity_days:
        return None
    return order.paid_at + timedelta(days=order.validity_days)
