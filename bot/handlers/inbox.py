"""Customers' replies to a campaign: the owner's answer to "asked to stop?"."""

from __future__ import annotations

from telegram import Update

from bot.errors import QasidError
from bot.handlers.context import BotContext, active_owner
from bot.handlers.render import Screen
from bot.handlers.replies import refuse, reply


async def reply_button(update: Update, context: BotContext) -> None:
    """rep:out:<phone> (the customer asked to stop: opt out) | rep:keep"""
    owner, tr = active_owner(context), context.tr
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").split(":")
    try:
        if parts[1] == "out":
            contact = await context.services.contacts.opt_out(owner.id, parts[2],
                                                              "asked to stop in a reply")
            text = tr("replies.opted_out", phone=contact.phone)
        elif parts[1] == "keep":
            text = tr("replies.kept")
        else:
            raise ValueError(parts[1])
    except (ValueError, IndexError, QasidError) as exc:
        await refuse(query, context, exc)
        return
    await query.answer()
    await query.edit_message_reply_markup(None)
    await reply(update, Screen(text))
