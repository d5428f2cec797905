"""/balance: the owner's credits and their latest changes (the admins' /credit is in
``admin.py``)."""

from __future__ import annotations

from telegram import Update

from bot.handlers import render_balance
from bot.handlers.context import BotContext, active_owner, owner_zone
from bot.handlers.replies import show


async def balance_command(update: Update, context: BotContext) -> None:
    """/balance and the Balance button (bal:show)."""
    owner, billing = active_owner(context), context.services.billing
    if update.callback_query is not None:
        await update.callback_query.answer()
    await show(update, render_balance.balance(
        context.tr, await billing.balance(owner.id), await billing.history(owner.id),
        owner_zone(context), support=context.services.accounts.support_contact,
        expiring=await billing.expiring(owner.id)))
