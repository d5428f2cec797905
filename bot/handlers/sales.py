"""Admins' views of the money: ``/sales`` and ``/owner <n>`` (``bot/services/sales.py``).

Anyone else is refused in words (the service's ``NotAllowed("not_admin")``). Buttons
(``render_sales``): ``adm:sales:order:<id>`` sends the waiting transfer's card again (its
receipt with *Confirm payment* / *Reject*, ``bot/handlers/transfers.py``'s), and
``adm:sales:chart`` revenue per day as a picture.
"""

from __future__ import annotations

import asyncio
import io

from telegram import Update
from telegram.constants import ChatAction

from bot.domain import OrderMethod
from bot.errors import NotFound, QasidError
from bot.handlers import render_sales as rs
from bot.handlers import render_transfers as rt
from bot.handlers.context import BotContext
from bot.handlers.render import Screen
from bot.handlers.replies import error_text, refuse, reply
from bot.i18n import STARS
from bot.services.sales import ChartText, revenue_chart


def _user_id(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


async def sales_command(update: Update, context: BotContext) -> None:
    """/sales"""
    try:
        overview = await context.services.sales.overview(_user_id(update))
    except QasidError as exc:  # not an admin
        await reply(update, Screen(error_text(context, exc)))
        return
    await reply(update, rs.sales(context.tr, overview))


async def owner_command(update: Update, context: BotContext) -> None:
    """/owner <owner number | Telegram id | phone>"""
    query = " ".join(context.args or [])
    try:
        if not query:
            context.services.accounts.require_admin(_user_id(update))
            await reply(update, rs.owner_usage(context.tr))
            return
        card = await context.services.sales.owner_card(_user_id(update), query)
    except NotFound as exc:
        text = (context.tr("error.owner_query", query=query) if exc.detail == "owner_query"
                else error_text(context, exc))
        await reply(update, Screen(text))
        return
    except QasidError as exc:
        await reply(update, Screen(error_text(context, exc)))
        return
    await reply(update, rs.owner_card(context.tr, card))


async def sales_button(update: Update, context: BotContext) -> None:
    """adm:sales:order:<id> | adm:sales:chart"""
    query = update.callback_query
    assert query is not None
    admin_id, tr = _user_id(update), context.tr
    parts = (query.data or "").split(":")
    chat = update.effective_chat
    assert chat is not None
    try:
        if parts[2:] == ["chart"]:
            overview = await context.services.sales.overview(admin_id)
            await query.answer()
            await chat.send_action(ChatAction.UPLOAD_PHOTO)
            text = ChartText(
                title=tr("sales.chart_title"), stars=tr("sales.chart_stars"),
                transfers=tr("sales.chart_transfers", currency=", ".join(sorted(
                    {t.currency for p in overview.days for t in p.totals
                     if t.currency != STARS})) or "AZN"),
                labels=tuple(rs.chart_labels(tr, overview.days)))
            png = await asyncio.to_thread(revenue_chart, overview.days, text)
            await chat.send_photo(io.BytesIO(png), caption=rs.chart_caption(tr, overview.zone))
            return
        if len(parts) != 4 or parts[2] != "order":
            raise ValueError(query.data)
        transfers = context.services.transfers
        order, owner = await transfers.for_admin(admin_id, int(parts[3]))
        if order.method is not OrderMethod.TRANSFER or order.receipt_file_id is None:
            raise ValueError(query.data)
        file_id = order.receipt_file_id
        order = await transfers.decidable(admin_id, order.id)  # still waiting?
    except (QasidError, ValueError) as exc:
        await refuse(query, context, exc)
        return
    await query.answer()
    zone = context.services.accounts.zone(await context.services.accounts.find(admin_id))
    caption, buttons = rt.admin_card(tr, order, owner, zone), rt.admin_buttons(tr, order)
    if order.receipt_kind == "photo":
        sent = await chat.send_photo(file_id, caption=caption,
                                     reply_markup=buttons)
    else:
        sent = await chat.send_document(file_id, caption=caption,
                                        reply_markup=buttons)
    # this card is the one edited when the order is decided
    await transfers.remember_notice(order.id, admin_id, sent.message_id)
