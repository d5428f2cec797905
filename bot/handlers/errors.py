"""The global error handler: log with context, apologise in one line, keep running."""

from __future__ import annotations

import logging

from telegram import Update

from bot.handlers.context import BotContext

log = logging.getLogger(__name__)


def describe(update: object) -> str:
    """Who and what, without message bodies or tokens."""
    if not isinstance(update, Update):
        return repr(type(update).__name__)
    user = update.effective_user
    kind = "callback" if update.callback_query else "message" if update.message else "update"
    detail = ""
    if update.callback_query:
        detail = f" data={update.callback_query.data!r}"
    elif update.message and update.message.text and update.message.text.startswith("/"):
        detail = f" command={update.message.text.split()[0]!r}"
    elif update.message and update.message.document:
        detail = f" document={update.message.document.file_name!r}"
    return f"update {update.update_id} from user {user.id if user else None} ({kind}{detail})"


async def on_error(update: object, context: BotContext) -> None:
    log.error("error while handling %s", describe(update), exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer()
        await update.effective_chat.send_message(context.tr("error.unexpected"))
    except Exception:  # the apology itself failed (network, blocked bot): logged, not raised
        log.warning("could not apologise for %s", describe(update), exc_info=True)
