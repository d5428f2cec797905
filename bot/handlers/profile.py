"""My account: the owner changes their name, business or time zone.

A button asks the question (the time zone's also offers its country's zones as buttons);
the next typed message is the answer, checked by the accounts service. A wrong answer says
what was wrong and keeps the old value, and the question stays open; a command instead
drops the question and runs. The question is a prompt (``PromptKind.PROFILE``), so it
survives a restart; ``handlers/prompts.py`` hands the typed answer here.
"""

from __future__ import annotations

from telegram import Update

from bot.errors import QasidError
from bot.handlers import render
from bot.handlers.context import BotContext, active_owner
from bot.handlers.replies import error_text, reply, show
from bot.services import zones
from bot.services.accounts import PROFILE_FIELDS
from bot.services.prompts import Prompt, PromptKind


def _question(context: BotContext, owner, item: str) -> render.Screen:
    accounts, tr = context.services.accounts, context.tr
    if item != "timezone":
        return render.profile_question(tr, owner, item, zone=accounts.zone(owner))
    now, language = accounts.now(), tr.language.value
    choices = [(zone, f"{zones.city(zone, language)} ({zones.offset(zone, now)})")
               for zone in accounts.timezone_choices(owner)]
    return render.profile_question(tr, owner, item, choices, now, zone=accounts.zone(owner))


async def profile_button(update: Update, context: BotContext) -> None:
    """prof:ask:<name|company|timezone>, prof:tz:<zone>, prof:cancel."""
    query = update.callback_query
    assert query is not None
    owner, tr, accounts = active_owner(context), context.tr, context.services.accounts
    action, _, value = (query.data or "").removeprefix("prof:").partition(":")
    try:
        if action == "ask":
            if value not in PROFILE_FIELDS:
                await query.answer(tr("help.stale_button"), show_alert=True)
                return
            await context.services.prompts.ask(owner.id, PromptKind.PROFILE, field=value)
            screen = _question(context, owner, value)
        elif action == "tz":
            owner = await accounts.update_profile(owner.id, "timezone", value)
            screen = render.profile(tr, owner, tr("profile.saved"), zone=accounts.zone(owner))
        else:  # cancel
            await context.services.prompts.drop(owner.id, PromptKind.PROFILE)
            screen = render.profile(tr, owner, zone=accounts.zone(owner))
    except QasidError as exc:
        await query.answer(error_text(context, exc)[:200], show_alert=True)
        return
    await query.answer()
    await show(update, screen)


async def profile_typed(update: Update, context: BotContext, prompt: Prompt, text: str) -> None:
    """A new name, business or time zone typed after its button (``PromptKind.PROFILE``)."""
    owner, accounts, tr = active_owner(context), context.services.accounts, context.tr
    item = str(prompt.payload.get("field"))
    try:
        owner = await accounts.update_profile(owner.id, item, text)
    except QasidError as exc:
        await reply(update, render.Screen(error_text(context, exc) + "\n" + tr("profile.kept")))
        await reply(update, _question(context, owner, item))
        return
    context.owner = owner
    await reply(update, render.profile(tr, owner, tr("profile.saved"), zone=accounts.zone(owner)))
