"""Small helpers to answer in the chat an update came from."""

from __future__ import annotations

from telegram import CallbackQuery, Message, Update
from telegram.error import BadRequest

from bot.errors import InvalidTransition, NotAllowed, NotFound, QasidError, ValidationError
from bot.handlers.context import BotContext
from bot.handlers.render import Screen


async def reply(update: Update, screen: Screen) -> Message:
    """Send a new message to the chat of the update."""
    chat = update.effective_chat
    assert chat is not None
    return await chat.send_message(**screen.kwargs)


async def show(update: Update, screen: Screen) -> None:
    """Replace the message whose button was pressed; send a new one for a typed command."""
    query = update.callback_query
    if query is None or query.message is None:
        await reply(update, screen)
        return
    try:
        await query.edit_message_text(**screen.kwargs)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


def error_text(context: BotContext, exc: QasidError) -> str:
    tr = context.tr
    if isinstance(exc, ValidationError):
        params = {k: tr.number(v) if type(v) is int and k != "count" else v  # count: plural
                  for k, v in exc.params.items()}
        return tr(f"error.{exc.reason}", where=exc.where, **params)
    if isinstance(exc, NotAllowed):
        return tr(f"denied.{exc.reason}", **exc.params)
    if isinstance(exc, NotFound):
        if exc.detail == "owner" and "owner_id" in exc.params:  # an admin typed a number
            return tr("error.no_owner", id=exc.params["owner_id"])
        return tr("error.not_found")
    if isinstance(exc, InvalidTransition):
        return tr("error.invalid_transition")
    return tr("error.generic")


async def say_error(update: Update, context: BotContext, exc: QasidError) -> None:
    await reply(update, Screen(error_text(context, exc)))


async def refuse(query: CallbackQuery, context: BotContext, exc: Exception) -> None:
    """A button that cannot be done: why, in an alert (a malformed one is out of date)."""
    text = (error_text(context, exc) if isinstance(exc, QasidError)
            else context.tr("help.stale_button"))
    await query.answer(text[:200], show_alert=True)
