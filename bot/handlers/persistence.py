"""Conversations that survive a restart, with the database as their only memory.

The campaign wizard and the template composer keep their drafts (step included) in the
database through their services. This persistence hands PTB's ``ConversationHandler``
those steps back at start-up, so an owner who was choosing a template yesterday is still
choosing it after a restart. It stores nothing itself: a conversation's state is always
the draft's step, written by the service in the same call that changed the draft. A
draft the owner left for a command (``conversations.py``) is kept but not handed back.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from telegram.ext import BasePersistence, PersistenceInput

if TYPE_CHECKING:
    from bot.app import Services

# what ConversationHandler keeps per conversation, as PTB documents it (its own aliases
# live in a private module)
ConversationKey = tuple[int | str, ...]
ConversationDict = MutableMapping[ConversationKey, object]

CAMPAIGN_WIZARD = "campaign_wizard"
TEMPLATE_COMPOSER = "template_composer"


class DraftPersistence(BasePersistence[dict, dict, dict]):
    def __init__(self) -> None:
        super().__init__(store_data=PersistenceInput(bot_data=False, chat_data=False,
                                                     user_data=False, callback_data=False),
                         update_interval=3600)
        self.services: Services | None = None  # set by the composition root

    async def get_conversations(self, name: str) -> ConversationDict:
        assert self.services is not None
        steps: Sequence[tuple[int, object]]
        if name == CAMPAIGN_WIZARD:
            steps = await self.services.campaigns.drafts()
        elif name == TEMPLATE_COMPOSER:
            steps = [(owner_id, draft.step)
                     for owner_id, draft in await self.services.templates.drafts()]
        else:
            return {}
        found: dict[ConversationKey, object] = {}
        for owner_id, step in steps:
            owner = await self.services.accounts.get(owner_id)
            found[(owner.chat_id, owner.telegram_id)] = step
        return found

    async def update_conversation(self, name: str, key: ConversationKey,
                                  new_state: object | None) -> None:
        """Nothing to do: the services saved the step with the draft."""

    # No user, chat, bot or callback data is kept (``store_data`` says so to PTB).
    async def get_user_data(self) -> dict[int, dict]:
        return {}

    async def get_chat_data(self) -> dict[int, dict]:
        return {}

    async def get_bot_data(self) -> dict:
        return {}

    async def get_callback_data(self) -> Any:
        return None

    async def update_user_data(self, user_id: int, data: dict) -> None:
        pass

    async def update_chat_data(self, chat_id: int, data: dict) -> None:
        pass

    async def update_bot_data(self, data: dict) -> None:
        pass

    async def update_callback_data(self, data: Any) -> None:
        pass

    async def drop_user_data(self, user_id: int) -> None:
        pass

    async def drop_chat_data(self, chat_id: int) -> None:
        pass

    async def refresh_user_data(self, user_id: int, user_data: dict) -> None:
        pass

    async def refresh_chat_data(self, chat_id: int, chat_data: dict) -> None:
        pass

    async def refresh_bot_data(self, bot_data: dict) -> None:
        pass

    async def flush(self) -> None:
        pass
