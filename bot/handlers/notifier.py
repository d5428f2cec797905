"""The Telegram side of the services' ``Notifier``: renders each notice and sends it."""

from __future__ import annotations

import logging

from telegram.error import TelegramError
from telegram.ext import Application

from bot.domain import Language, OwnerStatus
from bot.handlers import render
from bot.i18n import translator
from bot.services.notify import (
    ImportInterrupted,
    Notice,
    OwnerStatusChanged,
    RegistrationRequested,
)

log = logging.getLogger(__name__)


class TelegramNotifier:
    def __init__(self, application: Application) -> None:
        self._app = application

    async def _language_of(self, telegram_id: int) -> Language:
        owner = await self._app.bot_data["services"].accounts.find(telegram_id)
        return owner.language if owner else Language.EN

    async def _send(self, chat_id: int, screen: render.Screen) -> None:
        try:
            await self._app.bot.send_message(chat_id, **screen.kwargs)
        except TelegramError as exc:
            log.warning("could not notify chat %s: %s", chat_id, exc)

    async def notify(self, notice: Notice) -> None:
        if isinstance(notice, RegistrationRequested):
            if not notice.admin_ids:
                log.warning("owner %s waits for approval but ADMIN_IDS is empty", notice.owner.id)
            for admin_id in sorted(notice.admin_ids):
                tr = translator(await self._language_of(admin_id))
                await self._send(admin_id, render.registration_request(tr, notice.owner))
        elif isinstance(notice, OwnerStatusChanged):
            owner = notice.owner
            tr = translator(owner.language)
            if owner.status is OwnerStatus.ACTIVE:
                await self._send(owner.chat_id, render.Screen(tr("status.approved")))
                await self._send(owner.chat_id, render.main_menu(tr, owner))
            else:
                await self._send(owner.chat_id, render.status_explained(tr, owner))
        elif isinstance(notice, ImportInterrupted):
            tr = translator(notice.owner.language)
            await self._send(notice.owner.chat_id,
                             render.Screen(tr("import.interrupted", file=notice.file_name)))
