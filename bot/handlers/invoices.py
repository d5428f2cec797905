"""An owner's receipts (PDF) and monthly statements (CSV, XLSX), from *Balance*; and the
receipt sent after a purchase (``send_receipt``, ``payment_received``).

Buttons (``render_invoices`` says which): ``inv:list``, ``inv:get:<order id>``,
``stm:months``, ``stm:m:<YYYY-MM>``, ``stm:f:<YYYY-MM>:<csv|xlsx>``. An order id from a
button is checked against the owner again in the service: another owner's order is not
found.
"""

from __future__ import annotations

import io
import logging
import tempfile
from pathlib import Path

from telegram import Bot, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import Application

from bot.domain import Owner
from bot.errors import QasidError
from bot.handlers import render_invoices as ri
from bot.handlers.context import BotContext, active_owner, owner_zone
from bot.handlers.replies import refuse, show
from bot.i18n import translator
from bot.services.invoices import ReceiptFile
from bot.services.notify import PaymentReceived
from bot.services.statements import FORMATS, Month, StatementFormat

log = logging.getLogger(__name__)


async def receipts_button(update: Update, context: BotContext) -> None:
    """inv:list | inv:get:<order id>"""
    owner, tr = active_owner(context), context.tr
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").split(":")
    invoices = context.services.invoices
    try:
        if parts == ["inv", "list"]:
            orders = await invoices.paid_orders(owner.id)
            await query.answer()
            await show(update, ri.receipts(tr, orders, owner_zone(context)))
            return
        if len(parts) != 3 or parts[1] != "get":
            raise ValueError(query.data)
        receipt = await invoices.receipt(owner.id, int(parts[2]))
    except (QasidError, ValueError) as exc:
        await refuse(query, context, exc)
        return
    await query.answer(tr("invoice.sending"))
    await _send_pdf(context.bot, owner.chat_id, receipt, ri.receipt_caption(tr, receipt.order))


async def statement_button(update: Update, context: BotContext) -> None:
    """stm:months | stm:m:<YYYY-MM> | stm:f:<YYYY-MM>:<csv|xlsx>"""
    owner, tr, zone = active_owner(context), context.tr, owner_zone(context)
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").split(":")
    statements = context.services.statements
    try:
        if parts == ["stm", "months"]:
            months = await statements.months(owner.id, zone)
            await query.answer()
            await show(update, ri.statement_months(tr, months, zone))
            return
        month = Month.parse(parts[2]) if len(parts) >= 3 else None
        if month is not None and parts[1] == "m" and len(parts) == 3:
            await query.answer()
            await show(update, ri.statement_formats(tr, month))
            return
        if month is None or parts[1] != "f" or len(parts) != 4 or parts[3] not in FORMATS:
            raise ValueError(query.data)
        fmt: StatementFormat = "csv" if parts[3] == "csv" else "xlsx"
    except ValueError as exc:
        await refuse(query, context, exc)
        return
    await query.answer(tr("statement.preparing"))
    chat = update.effective_chat
    assert chat is not None
    await chat.send_action(ChatAction.UPLOAD_DOCUMENT)
    with tempfile.TemporaryDirectory(prefix="qasid-statement-") as folder:
        statement = await statements.write(owner.id, month, zone, fmt,
                                           ri.statement_text(tr, zone), Path(folder))
        with statement.path.open("rb") as fh:
            await chat.send_document(fh, filename=statement.path.name, caption=(
                ri.statement_caption(tr, month, statement.rows, statement.opening,
                                     statement.closing)))


async def _send_pdf(bot: Bot, chat_id: int, receipt: ReceiptFile, caption: str) -> bool:
    try:
        await bot.send_document(chat_id, io.BytesIO(receipt.content), filename=receipt.name,
                                caption=caption)
    except TelegramError as exc:
        log.warning("could not send the receipt of order %s: %s", receipt.order.reference,
                    exc)
        return False
    return True


async def send_receipt(app: Application, owner: Owner, order_id: int) -> bool:
    """The PDF receipt of the owner's paid order, to the owner's chat (after a purchase,
    once the order is paid: a Stars payment, a transfer an admin confirmed). False when
    it could not be made or sent (logged; the payment stands)."""
    services = app.bot_data["services"]
    try:
        receipt = await services.invoices.receipt(owner.id, order_id)
    except Exception:  # the payment stands whatever happens to its receipt
        log.exception("could not make the receipt of order %s", order_id)
        return False
    tr = translator(owner.language)
    return await _send_pdf(app.bot, owner.chat_id, receipt,
                           ri.receipt_caption(tr, receipt.order))


async def payment_received(app: Application, notice: PaymentReceived) -> None:
    """The notice that an order is paid: the owner is told (with what is available now),
    then gets the receipt."""
    services, owner = app.bot_data["services"], notice.owner
    tr = translator(owner.language)
    try:
        order = await services.invoices.paid_order(owner.id, notice.order_id)
        balance = await services.billing.balance(owner.id)
        screen = ri.payment_received(tr, order, balance.available)
        await app.bot.send_message(owner.chat_id, **screen.kwargs)
    except (QasidError, TelegramError) as exc:
        log.warning("could not tell owner %s of order %s paid: %s", owner.id,
                    notice.order_id, exc)
    await send_receipt(app, owner, notice.order_id)
