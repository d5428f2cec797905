"""/language: pick Azerbaijani, Russian or English."""

from __future__ import annotations

from telegram import Update

from bot.domain import Language
from bot.handlers import render
from bot.handlers.context import BotContext
from bot.handlers.registration import prompt
from bot.handlers.replies import reply, show
from bot.i18n import LANGUAGE_NAMES, Safe, translator

# what /language takes besides the codes: each language's own name and its English name
_NAMES = {name.casefold(): lang for lang, name in LANGUAGE_NAMES.items()} | {
    "azerbaijani": Language.AZ, "russian": Language.RU, "azeri": Language.AZ,
    "русский": Language.RU, "английский": Language.EN, "ingilis": Language.EN}


def language_named(text: str) -> Language | None:
    """``ru``, ``RU``, ``Русский``, ``russian`` -> Language.RU; None when it is none of ours."""
    wanted = text.strip().casefold()
    try:
        return Language(wanted)
    except ValueError:
        return _NAMES.get(wanted)


async def choose(update: Update, context: BotContext) -> None:
    """/language: the picker; /language ru switches at once."""
    if context.args:
        wanted = " ".join(context.args)
        language = language_named(wanted)
        if language is not None:
            await _switch(update, context, language)
            return
        available = ", ".join(f"<code>{lang.value}</code> ({LANGUAGE_NAMES[lang]})"
                              for lang in Language)
        await reply(update, render.Screen(context.tr("language.unknown", given=wanted,
                                                     available=Safe(available))))
    current = context.owner.language if context.owner else context.tr.language
    await reply(update, render.language_picker(context.tr, current))


async def picked(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    try:
        language = Language((query.data or "").removeprefix("lang:"))
    except ValueError:
        await query.answer()
        return
    await _switch(update, context, language)


async def _switch(update: Update, context: BotContext, language: Language) -> None:
    assert update.effective_user is not None
    owner = await context.services.accounts.set_language(update.effective_user.id, language)
    context.tr = translator(language)
    if update.callback_query is not None:
        await update.callback_query.answer()
    await show(update, render.Screen(context.tr("language.changed")))
    if owner is not None and owner.is_active:
        await reply(update, render.main_menu(context.tr, owner))
    elif owner is not None:
        await prompt(update, owner, context)
