"""Buying credits: *Balance* -> *Buy credits* -> a package -> *Pay with Stars*, and the
Telegram Stars payment (``bot/services/orders.py`` says how it goes).

- ``buy_button``: ``buy:list`` (the packages on sale), ``buy:pkg:<id>`` (a package's card),
  ``buy:stars:<id>`` (an order, and its invoice in ``XTR``: payload = the order's
  reference, no provider token). *Pay by transfer* (``buy:transfer:<id>``, shown when
  transfers are set up and the package has a price in money) goes on in
  ``bot/handlers/transfers.py`` (``transfer_start``).
- ``pre_checkout``: Telegram asks before taking the Stars; the answer must come within 10
  seconds: one read, then ok, or why not in the owner's language. The doorkeeper refuses
  it for an owner who is not active before it gets here.
- ``paid``: the ``successful_payment`` message: the order paid and credited once (by
  Telegram's charge id; the same update again changes nothing), and the receipt.
- ``refund_command``: ``/refund <reference> [reason]`` (admins): Telegram gives the Stars
  back (``refundStarPayment``), then the unspent credits are taken back; the admin is told
  what was already spent, the owner is told by the service's notice.
"""

from __future__ import annotations

import logging

from telegram import LabeledPrice, Update
from telegram.error import TelegramError

from bot.errors import NotFound, QasidError
from bot.handlers import invoices, render_buy, transfers
from bot.handlers.context import BotContext, active_owner
from bot.handlers.render import Screen
from bot.handlers.replies import error_text, refuse, reply, show
from bot.i18n import STARS

log = logging.getLogger(__name__)

ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"  # Telegram's answer when it gave them back before


async def buy_button(update: Update, context: BotContext) -> None:
    """``buy:list`` | ``buy:pkg:<id>`` | ``buy:stars:<id>`` | ``buy:transfer:<id>``"""
    query = update.callback_query
    assert query is not None
    owner, tr = active_owner(context), context.tr
    services = context.services
    action, _, raw_id = (query.data or "").removeprefix("buy:").partition(":")
    try:
        if action == "list":
            await query.answer()
            await show(update, render_buy.packages_screen(tr, await services.packages.on_sale()))
            return
        package_id = int(raw_id)
        if action == "pkg":
            package = await services.packages.offered(package_id)
            await query.answer()
            await show(update, render_buy.package_card(
                tr, package, transfer=services.transfers.config.enabled))
            return
        if action == "transfer":  # bot/handlers/transfers.py takes it from here
            await transfers.transfer_start(update, context, package_id)
            return
        if action != "stars":
            raise ValueError(query.data)
        order = await services.orders.stars_order(owner.id, package_id)
    except (QasidError, ValueError) as exc:
        await refuse(query, context, exc)
        return
    await query.answer()
    texts = render_buy.invoice(tr, order)
    # Stars take no provider token. It is left out rather than sent empty: with Defaults,
    # PTB 22 turns an empty string into "[]" (an empty str passes its check for a sequence
    # of poll options) and Telegram then refuses the invoice
    await context.bot.send_invoice(
        owner.chat_id, texts["title"], texts["description"], payload=order.reference,
        currency=STARS, prices=[LabeledPrice(texts["label"], order.amount_minor)])


async def pre_checkout(update: Update, context: BotContext) -> None:
    """Telegram's pre-checkout query of a Stars invoice: ok only for the owner's open
    order of a package still on sale as ordered, for its amount."""
    query = update.pre_checkout_query
    assert query is not None
    owner = active_owner(context)
    reason = await context.services.orders.stars_checkout(
        owner.id, query.invoice_payload, query.total_amount, query.currency)
    if reason is None:
        await query.answer(ok=True)
        return
    log.info("pre-checkout of %s refused for owner %s: %s", query.invoice_payload, owner.id,
             reason.value)
    await query.answer(ok=False, error_message=render_buy.refused(context.tr, reason))


async def paid(update: Update, context: BotContext) -> None:
    """A ``successful_payment``: credited once; the receipt (again, for the same update
    again: it changes nothing else)."""
    message = update.message
    assert message is not None and message.successful_payment is not None
    payment = message.successful_payment
    owner = context.owner  # any owner who paid (a payment Telegram took is recorded)
    if owner is None:
        log.error("a Stars payment %s from a user who is no owner: refund it",
                  payment.telegram_payment_charge_id)
        return
    try:
        done = await context.services.orders.stars_paid(
            owner.id, payment.invoice_payload, payment.total_amount,
            payment.telegram_payment_charge_id, payment.provider_payment_charge_id,
            payment.currency)
    except NotFound:  # names no order of ours: logged by the service for an admin
        await reply(update, Screen(context.tr("buy.paid_unmatched",
                                              charge=payment.telegram_payment_charge_id)))
        return
    zone = context.services.accounts.zone(owner)
    await reply(update, render_buy.receipt(context.tr, done, zone))
    await invoices.send_receipt(context.application, owner, done.order.id)  # the PDF


async def refunded_payment(update: Update, context: BotContext) -> None:
    """Telegram's service message that a payment was refunded: the owner was told by the
    refund itself, nothing more to say."""


async def refund_command(update: Update, context: BotContext) -> None:
    """/refund <reference> [reason]"""
    tr, orders = context.tr, context.services.orders
    assert update.effective_user is not None
    admin_id, args = update.effective_user.id, context.args or []
    if not args:
        await reply(update, Screen(tr("buy.refund_usage")))
        return
    reference, reason = args[0], " ".join(args[1:]) or None
    try:
        order, owner = await orders.refundable(admin_id, reference)
    except QasidError as exc:
        await reply(update, Screen(error_text(context, exc)))
        return
    assert order.telegram_charge_id is not None
    try:
        await context.bot.refund_star_payment(owner.telegram_id, order.telegram_charge_id)
    except TelegramError as exc:
        if ALREADY_REFUNDED not in str(exc).upper():
            log.warning("Telegram refused to refund order %s: %s", order.reference, exc)
            await reply(update, Screen(tr("buy.refund_refused", reference=order.reference,
                                          reason=str(exc))))
            return
        log.info("order %s was refunded at Telegram already", order.reference)
    try:
        refund = await orders.refund_stars(admin_id, order.reference, reason)
    except QasidError as exc:  # another admin's /refund of it got there first
        await reply(update, Screen(error_text(context, exc)))
        return
    lines = [tr("buy.refund_done", reference=refund.order.reference,
                stars=tr.money(refund.order.amount_minor, refund.order.currency),
                id=owner.id, name=owner.name or "—", count=refund.taken)]
    if refund.spent:
        lines.append(tr("buy.refund_spent", count=refund.spent))
    await reply(update, Screen("\n".join(lines)))

