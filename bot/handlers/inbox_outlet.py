"""The inbox's Telegram side: a customer's message posted in the owner's chat (the
``CustomerWrote`` notice, from ``bot/handlers/notifier.py``) or in its forum topic
(``TelegramInbox``, the services' ``InboxOutlet``), with its attachment: a photo as a
photo, a voice note as a voice message, anything else as a file."""

from __future__ import annotations

import logging
import mimetypes

from telegram import Bot
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application

from bot.handlers import render_inbox
from bot.handlers.render import Screen
from bot.i18n import translator
from bot.services.inbox import PostResult
from bot.services.notify import CustomerWrote

log = logging.getLogger(__name__)

PHOTO_MAX = 10 * 1024 * 1024  # Telegram's limit for a photo; a bigger image goes as a file


class TelegramInbox:
    """``InboxOutlet`` on the bot: forum topics of the owners' linked groups."""

    def __init__(self, application: Application) -> None:
        self._app = application

    async def create_topic(self, group_chat_id: int, name: str) -> int | None:
        try:
            topic = await self._app.bot.create_forum_topic(group_chat_id, name)
        except TelegramError as exc:
            log.warning("inbox: no topic made in a group: %s", exc)
            return None
        return topic.message_thread_id

    async def post(self, notice: CustomerWrote) -> PostResult:
        assert notice.group_chat_id is not None and notice.thread_id is not None
        services = self._app.bot_data["services"]
        owner = await services.accounts.get(notice.owner_id)
        tr = translator(owner.language)
        screen = render_inbox.customer_message(tr, notice, services.accounts.zone(owner),
                                               in_topic=True)
        try:
            await send(self._app.bot, notice.group_chat_id, notice, screen, notice.thread_id)
        except BadRequest as exc:
            if "thread not found" in str(exc).lower():
                return "topic_gone"
            log.warning("inbox: not posted in a topic: %s", exc)
            return "failed"
        except TelegramError as exc:
            log.warning("inbox: not posted in a topic: %s", exc)
            return "failed"
        return "posted"


async def to_chat(app: Application, notice: CustomerWrote) -> None:
    """The notice in the owner's own chat (chat mode, or a topic that could not be had)."""
    services = app.bot_data["services"]
    owner = await services.accounts.get(notice.owner_id)
    tr = translator(owner.language)
    screen = render_inbox.customer_message(tr, notice, services.accounts.zone(owner),
                                           in_topic=False)
    try:
        await send(app.bot, owner.chat_id, notice, screen)
    except TelegramError as exc:
        log.warning("inbox: a customer's message not shown to owner %d: %s",
                    notice.owner_id, exc)


async def send(bot: Bot, chat_id: int, notice: CustomerWrote, screen: Screen,
               thread_id: int | None = None) -> None:
    """The screen as a text, or as the caption of the notice's attachment."""
    media = notice.media
    if media is None or not media.data:
        await bot.send_message(chat_id, screen.text, reply_markup=screen.reply_markup,
                               message_thread_id=thread_id)
        return
    if notice.kind == "image" and len(media.data) <= PHOTO_MAX:
        await bot.send_photo(chat_id, photo=media.data, caption=screen.text,
                             reply_markup=screen.reply_markup, message_thread_id=thread_id)
    elif notice.kind == "voice":
        await bot.send_voice(chat_id, voice=media.data, caption=screen.text,
                             reply_markup=screen.reply_markup, message_thread_id=thread_id)
    else:
        await bot.send_document(chat_id, document=media.data,
                                filename=media.filename or _name(notice), caption=screen.text,
                                reply_markup=screen.reply_markup, message_thread_id=thread_id)


def _name(notice: CustomerWrote) -> str:
    mimetype = (notice.media.mimetype or "") if notice.media else ""
    suffix = mimetypes.guess_extension(mimetype.split(";")[0].strip()) or ".bin"
    return f"{notice.kind}-{notice.inbound_id}{suffix}"
