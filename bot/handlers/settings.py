"""/settings: which alerts the owner gets, and failover."""

from __future__ import annotations

from telegram import Update

from bot.handlers import render
from bot.handlers.context import BotContext, active_owner
from bot.handlers.replies import show


async def settings_command(update: Update, context: BotContext) -> None:
    """/settings and the Settings button (set:show); set:<name> toggles one."""
    owner, alerts = active_owner(context), context.services.alerts
    query = update.callback_query
    if query is not None and (query.data or "").startswith("set:"):
        name = (query.data or "").split(":", 1)[1]
        try:
            prefs = await alerts.toggle(owner.id, name)
        except ValueError:
            await query.answer(context.tr("help.stale_button"), show_alert=True)
            return
    else:
        prefs = await alerts.preferences(owner.id)
    if query is not None:
        await query.answer()
    await show(update, render.settings_screen(context.tr, prefs.alerts, prefs.failover))
