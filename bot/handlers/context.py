"""The typed context every handler receives."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram.ext import CallbackContext, ExtBot

from bot.domain import Language, Owner
from bot.i18n import Translator, translator

if TYPE_CHECKING:
    from bot.app import Services


class BotContext(CallbackContext[ExtBot, dict, dict, dict]):
    """``context.services`` for the service layer; ``owner`` and ``tr`` set by the doorkeeper."""

    owner: Owner | None = None
    _tr: Translator | None = None

    @property
    def services(self) -> Services:
        return self.application.bot_data["services"]

    @property
    def tr(self) -> Translator:
        return self._tr or translator(Language.EN)

    @tr.setter
    def tr(self, value: Translator) -> None:
        self._tr = value


def active_owner(context: BotContext) -> Owner:
    """The owner whose update this is. The doorkeeper (``registration.py``) lets only an
    active owner's updates reach the handlers that call this, so there always is one."""
    assert context.owner is not None, "the doorkeeper lets no update in without an owner"
    return context.owner


def owner_zone(context: BotContext) -> str:
    """The time zone the active owner's times are shown in (``AccountsService.zone``)."""
    return context.services.accounts.zone(active_owner(context))
