"""Paying by bank transfer in chat (``bot/services/transfers.py`` has the rules).

The owner: *Pay by transfer* on a package (``buy:transfer:<package id>``, the buy screen
calls ``transfer_start``) shows where to pay and the order's reference, and asks for the
receipt. While an order waits for it, a photo, an image file or a PDF the owner sends is
its receipt (``file_received``, before the contacts import sees documents: a contacts file,
CSV, XLSX or VCF, still imports); typed text is reminded of it. *Cancel order*
(``trf:cancel:<id>``).

Admins: each gets the receipt with the order (``send_photo`` / ``send_document`` by the
file's id) and *Confirm payment* (``adm:pay:<id>``) / *Reject* (``adm:payno:<id>``: asks
the reason, typed, ``PromptKind.TRANSFER_REJECT``; *Back*, ``adm:payback:<id>``, goes back
to the card). When one decides, every admin's card says who did; a second tap is told so
and changes nothing. The owner is told by the service's notices (a rejection or an expiry:
``tell_owner``; a confirmation: ``PaymentReceived`` with the PDF receipt).
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application

from bot.domain import Language, Order, OrderStatus, Owner
from bot.errors import InvalidTransition, OrderDecided, QasidError, ValidationError
from bot.handlers import contacts, menu
from bot.handlers import render_transfers as rt
from bot.handlers.context import BotContext, active_owner, owner_zone
from bot.handlers.render import Screen
from bot.handlers.replies import error_text, refuse, reply, show
from bot.i18n import Translator, translator
from bot.services.notify import TransferExpired, TransferRejected
from bot.services.prompts import Prompt, PromptKind

log = logging.getLogger(__name__)

RECEIPT_TYPES = ("application/pdf", "image/")  # a document that is a receipt, not contacts
RECEIPT_SUFFIXES = (".pdf", ".jpg", ".jpeg", ".png", ".webp", ".heic")


# --- the owner ------------------------------------------------------------------------------

async def transfer_start(update: Update, context: BotContext, package_id: int) -> None:
    """*Pay by transfer* for a package: the order's payment details (or the order already
    waiting, again), and the owner's next photo or PDF is its receipt."""
    owner, tr, query = active_owner(context), context.tr, update.callback_query
    service = context.services.transfers
    try:
        order, made = await service.start(owner.id, package_id)
    except QasidError as exc:
        if query is not None:
            await refuse(query, context, exc)
        else:
            await reply(update, Screen(error_text(context, exc)))
        return
    if query is not None:
        await query.answer()
    await show(update, rt.order_details(tr, order, service.config, owner_zone(context),
                                        again=not made))


async def transfer_button(update: Update, context: BotContext) -> None:
    """``trf:cancel:<order id>``: the owner cancels an order still waiting for payment."""
    query = update.callback_query
    assert query is not None
    owner, tr = active_owner(context), context.tr
    action, _, raw_id = (query.data or "").removeprefix("trf:").partition(":")
    try:
        if action != "cancel":
            raise ValueError(action)
        order = await context.services.transfers.cancel(owner.id, int(raw_id))
    except InvalidTransition as exc:
        found = await context.services.transfers.order(owner.id, int(raw_id))
        await query.answer(rt.not_open(tr, found.reference, exc.current), show_alert=True)
        return
    except (QasidError, ValueError) as exc:
        await refuse(query, context, exc)
        return
    await query.answer()
    await show(update, rt.cancelled(tr, order))


def _receipt_file(message: Message) -> tuple[str, str] | None:
    """(file id, ``photo`` or ``document``) when the message can be a receipt."""
    if message.photo:
        return message.photo[-1].file_id, "photo"  # the largest size
    document = message.document
    if document is None:
        return None
    mime = (document.mime_type or "").lower()
    name = (document.file_name or "").lower()
    if mime.startswith(RECEIPT_TYPES) or name.endswith(RECEIPT_SUFFIXES):
        return document.file_id, "document"
    return None


async def file_received(update: Update, context: BotContext) -> None:
    """A photo or a document. While the owner's transfer order waits for its receipt, a
    photo, image or PDF is that receipt; anything else goes where it went before (a
    document to the contacts import, a photo to the "I did not understand")."""
    message = update.message
    assert message is not None
    owner, tr = active_owner(context), context.tr
    service = context.services.transfers
    receipt = _receipt_file(message)
    order = await service.receipt_order(owner.id) if receipt is not None else None
    if receipt is None or order is None:
        if message.document is not None:
            await contacts.document_received(update, context)
        else:
            await menu.unknown_text(update, context)
        return
    try:
        order = await service.attach_receipt(owner.id, order.id, *receipt)
    except InvalidTransition as exc:
        await reply(update, Screen(rt.not_open(tr, order.reference, exc.current)))
        return
    except QasidError as exc:
        await reply(update, Screen(error_text(context, exc)))
        return
    await reply(update, rt.receipt_received(tr, order))
    await _send_to_admins(context, order, owner)


async def receipt_typed(update: Update, context: BotContext, prompt: Prompt,
                        text: str) -> None:
    """Text typed while an order waits for its receipt (``PromptKind.TRANSFER_RECEIPT``):
    the receipt is a photo or a PDF; the question stays open."""
    owner, tr = active_owner(context), context.tr
    service = context.services.transfers
    order = await service.receipt_order(owner.id)
    if order is None:  # it expired or was cancelled meanwhile
        await context.services.prompts.drop(owner.id, PromptKind.TRANSFER_RECEIPT)
        await menu.unknown_text(update, context)
        return
    await reply(update, rt.waiting_for_receipt(tr, order))


# --- admins ----------------------------------------------------------------------------------

async def _admin_language(context: BotContext, admin_id: int) -> Translator:
    owner = await context.services.accounts.find(admin_id)
    return translator(owner.language if owner else Language.EN)


async def _admin_zone(context: BotContext, admin_id: int) -> str:
    accounts = context.services.accounts
    return accounts.zone(await accounts.find(admin_id))


async def _send_to_admins(context: BotContext, order: Order, owner: Owner) -> None:
    """The receipt, with the order and *Confirm payment* / *Reject*, to every admin."""
    service, bot = context.services.transfers, context.bot
    if not service.admin_ids:
        log.warning("order %s waits for an admin but ADMIN_IDS is empty", order.reference)
    assert order.receipt_file_id is not None
    for admin_id in sorted(service.admin_ids):
        tr = await _admin_language(context, admin_id)
        caption = rt.admin_card(tr, order, owner, await _admin_zone(context, admin_id))
        buttons = rt.admin_buttons(tr, order)
        try:
            if order.receipt_kind == "photo":
                sent = await bot.send_photo(admin_id, order.receipt_file_id, caption=caption,
                                            reply_markup=buttons)
            else:
                sent = await bot.send_document(admin_id, order.receipt_file_id,
                                               caption=caption, reply_markup=buttons)
        except TelegramError as exc:  # e.g. an admin who never opened the bot
            log.warning("could not show order %s to admin %s: %s", order.reference, admin_id,
                        exc)
            continue
        await service.remember_notice(order.id, admin_id, sent.message_id)


async def _admin_name(context: BotContext, admin_id: int | None) -> str:
    """How admins are named on the cards: their Telegram first name, else their id."""
    if admin_id is None:
        return "—"
    try:
        chat = await context.bot.get_chat(admin_id)
    except TelegramError:
        return f"#{admin_id}"
    return chat.first_name or chat.username or f"#{admin_id}"


async def _edit_card(context: BotContext, admin_id: int, message_id: int, caption: str,
                     reply_markup: InlineKeyboardMarkup | None = None) -> None:
    try:
        await context.bot.edit_message_caption(chat_id=admin_id, message_id=message_id,
                                               caption=caption, reply_markup=reply_markup)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            log.info("order card %s of admin %s not edited: %s", message_id, admin_id, exc)
    except TelegramError as exc:
        log.info("order card %s of admin %s not edited: %s", message_id, admin_id, exc)


async def _show_decided(context: BotContext, order: Order, owner: Owner) -> None:
    """Every admin's card about the order says who decided, and loses its buttons."""
    service = context.services.transfers
    admin = await _admin_name(context, order.decided_by)
    for admin_id, message_id in await service.notices(order.id):
        tr = await _admin_language(context, admin_id)
        await _edit_card(context, admin_id, message_id,
                         rt.decided(tr, order, owner, admin, await _admin_zone(context,
                                                                                admin_id)))


async def _already(update: Update, context: BotContext, exc: OrderDecided,
                   order_id: int) -> None:
    """A tap on an order no longer waiting: who decided it; this card is brought up to
    date too (nothing else changes)."""
    query = update.callback_query
    tr, admin = context.tr, await _admin_name(context, exc.decided_by)
    text = rt.already_decided(tr, exc, admin)
    if query is not None:
        await query.answer(text[:200], show_alert=True)
    else:
        await reply(update, Screen(text))
    admin_id = update.effective_user.id if update.effective_user else 0
    order, owner = await context.services.transfers.for_admin(admin_id, order_id)
    if order.status in (OrderStatus.PAID, OrderStatus.REJECTED):
        await _show_decided(context, order, owner)


async def admin_button(update: Update, context: BotContext) -> None:
    """``adm:pay:<id>`` (Confirm payment), ``adm:payno:<id>`` (Reject: asks the reason),
    ``adm:payback:<id>`` (the card again, without a reason asked)."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    admin_id, tr = update.effective_user.id, context.tr
    service, prompts = context.services.transfers, context.services.prompts
    _, action, raw_id = (query.data or "adm:?:x").split(":", 2)
    try:
        order_id = int(raw_id)
        if action == "pay":
            decision = await service.confirm(admin_id, order_id)
        elif action == "payno":
            order = await service.decidable(admin_id, order_id)
            _, owner = await service.for_admin(admin_id, order_id)
            await prompts.ask_admin(admin_id, PromptKind.TRANSFER_REJECT, order_id=order_id,
                                    message_id=query.message.message_id if query.message
                                    else None)
            await query.answer()
            screen = rt.reason_question(tr, order, owner, await _admin_zone(context, admin_id))
            if query.message is not None:
                await _edit_card(context, admin_id, query.message.message_id, screen.text,
                                 screen.reply_markup)
            return
        else:  # "payback"
            order, owner = await service.for_admin(admin_id, order_id)
            await prompts.drop_admin(admin_id)
            await service.decidable(admin_id, order_id)
            await query.answer()
            if query.message is not None:
                zone = await _admin_zone(context, admin_id)
                await _edit_card(context, admin_id, query.message.message_id,
                                 rt.admin_card(tr, order, owner, zone),
                                 rt.admin_buttons(tr, order))
            return
    except OrderDecided as exc:
        await _already(update, context, exc, order_id)
        return
    except (QasidError, ValueError) as exc:
        await refuse(query, context, exc)
        return
    await query.answer()
    await _show_decided(context, decision.order, decision.owner)


async def reason_typed(update: Update, context: BotContext, prompt: Prompt, text: str) -> None:
    """The reason an admin types after *Reject* (``PromptKind.TRANSFER_REJECT``): the order
    is rejected with it and the owner reads it."""
    assert update.effective_user is not None
    admin_id, tr = update.effective_user.id, context.tr
    order_id = prompt.id("order_id")
    try:
        decision = await context.services.transfers.reject(admin_id, order_id, text)
    except ValidationError as exc:  # the question stays open: type it again
        await reply(update, Screen(error_text(context, exc)))
        return
    except OrderDecided as exc:
        await context.services.prompts.drop_admin(admin_id)
        await _already(update, context, exc, order_id)
        return
    except QasidError as exc:
        await context.services.prompts.drop_admin(admin_id)
        await reply(update, Screen(error_text(context, exc)))
        return
    await reply(update, rt.reason_saved(tr, decision.order))
    await _show_decided(context, decision.order, decision.owner)


# --- what the owner is told (the notifier hands the service's notices here) -----------------

async def tell_owner(app: Application, notice: TransferRejected | TransferExpired) -> None:
    """Rejected: why; expired: that it did. (Confirmed: ``PaymentReceived``, with the
    receipt: ``bot/handlers/invoices.py``.)"""
    services = app.bot_data["services"]
    owner, order = notice.owner, notice.order
    tr = translator(owner.language)
    support = services.accounts.support_contact
    if isinstance(notice, TransferExpired):
        screen = rt.owner_expired(tr, order, notice.days, support)
    else:
        screen = rt.owner_rejected(tr, order, support)
    try:
        await app.bot.send_message(owner.chat_id, **screen.kwargs)
    except TelegramError as exc:
        log.warning("could not tell owner %s about order %s: %s", owner.id, order.reference,
                    exc)
