"""The main menu, help, profile, and what to say to input nobody handles."""

from __future__ import annotations

from telegram import Update

from bot.handlers import render
from bot.handlers.commands import visible_commands
from bot.handlers.context import BotContext, active_owner
from bot.handlers.replies import reply, show


async def start(update: Update, context: BotContext) -> None:
    await reply(update, render.main_menu(context.tr, active_owner(context)))


async def menu_button(update: Update, context: BotContext) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer()
    item = (update.callback_query.data or "").removeprefix("menu:")
    owner, tr = active_owner(context), context.tr
    if item == "profile":
        await show(update, render.profile(tr, owner, zone=context.services.accounts.zone(owner)))
    elif item == "language":
        await show(update, render.language_picker(tr, owner.language))
    elif item == "help":
        await show(update, render.help_screen(tr, _commands(update, context), with_back=True))
    else:
        await show(update, render.main_menu(tr, owner))


async def help_command(update: Update, context: BotContext) -> None:
    await reply(update, render.help_screen(context.tr, _commands(update, context)))


async def unknown_command(update: Update, context: BotContext) -> None:
    await reply(update, render.Screen(context.tr("help.unknown_command")))
    await help_command(update, context)


async def nothing_to_cancel(update: Update, context: BotContext) -> None:
    await reply(update, render.Screen(context.tr("help.nothing_to_cancel"),
                                      render.back_to_menu(context.tr)))


async def unknown_text(update: Update, context: BotContext) -> None:
    await reply(update, render.Screen(context.tr("help.unknown_text"),
                                      render.back_to_menu(context.tr)))


async def stale_button(update: Update, context: BotContext) -> None:
    """A button from an old message that no handler knows any more."""
    assert update.callback_query is not None
    await update.callback_query.answer(context.tr("help.stale_button"), show_alert=True)


def _commands(update: Update, context: BotContext) -> list[tuple[str, str]]:
    user = update.effective_user
    is_admin = user is not None and context.services.accounts.is_admin(user.id)
    return [(c.name, context.tr(c.description)) for c in visible_commands(admin=is_admin)]
