"""My account: the owner changes their name, business or time zone.

A button asks the question (the time zone's also offers its country's zones as buttons);
the next typed message is the answer, checked by the accounts service. A wrong answer says
what was wrong and keeps the old value, and the question stays open; a command instead
drops the question and runs. The question is stored (``chat_prompts``), so it survives a
restart. The doorkeeper hands typed text here before any conversation sees it.
"""

from __future__ import annotations

from telegram import Update

from bot.errors import QasidError
from bot.handlers import render
from bot.handlers.context import BotContext, active_owner
from bot.handlers.replies import error_text, reply, show
from bot.services import zones


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
            await accounts.ask_profile(owner.id, value)
            screen = _question(context, owner, value)
        elif action == "tz":
            owner = await accounts.update_profile(owner.id, "timezone", value)
            screen = render.profile(tr, owner, tr("profile.saved"), zone=accounts.zone(owner))
        else:  # cancel
            await accounts.cancel_profile_edit(owner.id)
            screen = render.profile(tr, owner, zone=accounts.zone(owner))
    except QasidError as exc:
        await query.answer(error_text(context, exc)[:200], show_alert=True)
        return
    await query.answer()
    await show(update, screen)


async def typed_answer(update: Update, context: BotContext) -> bool:
    """A new name, business or time zone typed after its button. False: none was asked
    (or a command came instead, which drops the question)."""
    message, owner = update.message, context.owner
    if message is None or not message.text or owner is None:
        return False
    accounts, tr = context.services.accounts, context.tr
    item = await accounts.profile_prompt(owner.id)
    if item is None:
        return False
    if message.text.startswith("/"):
        await accounts.cancel_profile_edit(owner.id)
        return False
    try:
        owner = await accounts.update_profile(owner.id, item, message.text)
    except QasidError as exc:
        await reply(update, render.Screen(error_text(context, exc) + "\n" + tr("profile.kept")))
        await reply(update, _question(context, owner, item))
        return True
    context.owner = owner
    await reply(update, render.profile(tr, owner, tr("profile.saved"), zone=accounts.zone(owner)))
    return True
