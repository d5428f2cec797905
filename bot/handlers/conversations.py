"""A command always wins over a waiting conversation.

Each ``ConversationHandler`` (the campaign wizard, the template composer) ends its fallbacks
with ``leave_when(...)``: a typed command that the conversation does not take itself (its
entry points and ``/cancel`` are checked before), or a button that opens another
conversation. Its callback tells the service that the owner left (the draft is kept, but no
longer waits for an answer, so a restart does not resume it either) and ends the
conversation.

``Leaving`` runs in the group just before the conversations and plays that fallback for
every conversation the update leaves, so the command then reaches its own handler as if no
conversation had been waiting: ``/newtemplate`` typed in the wizard opens the composer, and
the text typed next is the template's name, not a wrong answer to the wizard.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, cast

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, ConversationHandler, filters
from telegram.warnings import PTBUserWarning

from bot.handlers.context import BotContext

# a handler's callback, as PTB types it (a coroutine function)
Callback = Callable[[Update, BotContext], Coroutine[Any, Any, object]]


class _Leave(BaseHandler[Update, BotContext, object]):
    """A conversation's last fallback: the owner went elsewhere."""

    def __init__(self, callback: Callback) -> None:
        super().__init__(callback)
        self.other_entries: list[BaseHandler[Any, Any, Any]] = []  # set by ``Leaving``

    def check_update(self, update: object) -> bool:
        if not isinstance(update, Update):
            return False
        if update.message is not None and filters.COMMAND.check_update(update):
            return True
        return any(entry.check_update(update) not in (None, False)
                   for entry in self.other_entries)


def leave_when(callback: Callback) -> _Leave:
    """The fallback to put last in a conversation's fallbacks; ``callback`` keeps the draft
    and returns ``ConversationHandler.END``."""
    return _Leave(callback)


def draft_conversation(
    name: str, entry_points: list[BaseHandler[Update, BotContext, Any]],
    states: Mapping[object, list[BaseHandler[Update, BotContext, Any]]],
    cancel: Callback,
    leave: Callback,
) -> ConversationHandler[BotContext]:
    """A conversation whose state is a draft's step stored in the database (persistent,
    re-entered by its entry points): ``/cancel`` ends it with ``cancel``, and any other
    command leaves it with ``leave`` (``leave_when``, last)."""
    with warnings.catch_warnings():
        # Button presses are tracked per chat, as intended (PTB warns about per_message).
        warnings.simplefilter("ignore", PTBUserWarning)
        return ConversationHandler(
            entry_points=entry_points,
            states=dict(states),
            fallbacks=[CommandHandler("cancel", cancel), leave_when(leave)],
            name=name,
            persistent=True,
            allow_reentry=True,
        )


class Leaving(BaseHandler[Update, BotContext, object]):
    """Ends, for the update's chat, every conversation that the update leaves."""

    def __init__(self, conversations: Sequence[ConversationHandler]) -> None:
        super().__init__(_unused)
        self.conversations = list(conversations)
        for conversation in self.conversations:
            leave = self._leave_of(conversation)
            leave.other_entries = [entry for other in self.conversations
                                   if other is not conversation for entry in other.entry_points]

    @staticmethod
    def _leave_of(conversation: ConversationHandler) -> _Leave:
        leave = conversation.fallbacks[-1] if conversation.fallbacks else None
        if not isinstance(leave, _Leave):
            raise TypeError(f"{conversation.name}: its last fallback must be leave_when(...)")
        return leave

    def check_update(self, update: object) -> list[tuple[ConversationHandler, object]] | None:
        leaving: list[tuple[ConversationHandler, object]] = []
        for conversation in self.conversations:
            check = conversation.check_update(update)
            # (state, key, handler, its check): the handler the conversation would run
            if check is not None and check[2] is self._leave_of(conversation):
                leaving.append((conversation, check))
        return leaving or None

    async def handle_update(self, update: Update, application: Any, check_result: object,
                            context: BotContext) -> None:
        # what check_update returned: each conversation left and its own check (whose type
        # PTB keeps in a private module)
        leaving = cast(list[tuple[ConversationHandler, Any]], check_result)
        for conversation, check in leaving:
            await conversation.handle_update(update, application, check, context)


async def _unused(update: Update, context: BotContext) -> None:  # pragma: no cover
    """``Leaving`` runs the conversations' own fallbacks instead of a callback."""
