"""The global error handler: log with context, apologise in one line, keep running.

A database that cannot save (``StorageUnavailable``: the disk is full, another process
holds it locked) is one warning line, without a traceback, and the user reads that
nothing was changed and to try again; anything else is logged with its traceback.
"""

from __future__ import annotations

import logging

from telegram import Update

from bot.errors import StorageUnavailable
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
    error = context.error
    what = (f"job {context.job.name!r}" if update is None and context.job is not None
            else describe(update))
    if isinstance(error, StorageUnavailable):
        log.warning("could not save while handling %s: %s", what, error)
        text = "error.storage_unavailable"
    else:
        log.error("error while handling %s", what, exc_info=error)
        text = "error.unexpected"
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer()
        await update.effective_chat.send_message(context.tr(text))
    except Exception:  # the apology itself failed (network, blocked bot): logged, not raised
        log.warning("could not apologise for %s", describe(update), exc_info=True)
