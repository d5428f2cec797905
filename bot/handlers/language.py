"""/language: pick Azerbaijani, Russian or English."""

from __future__ import annotations

from telegram import Update

from bot.domain import Language
from bot.handlers import render
from bot.handlers.context import BotContext
from bot.handlers.registration import prompt
from bot.handlers.replies import reply, show
from bot.i18n import translator


async def choose(update: Update, context: BotContext) -> None:
    current = context.owner.language if context.owner else context.tr.language
    await reply(update, render.language_picker(context.tr, current))


async def picked(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    try:
        language = Language((query.data or "").removeprefix("lang:"))
    except ValueError:
        await query.answer()
        return
    owner = await context.services.accounts.set_language(update.effective_user.id, language)
    context.tr = translator(language)
    await query.answer()
    await show(update, render.Screen(context.tr("language.changed")))
    if owner is not None and owner.is_active:
        await reply(update, render.main_menu(context.tr, owner))
    elif owner is not None:
        await prompt(update, owner, context)
