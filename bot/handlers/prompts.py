"""Typed text that answers an open question: the one dispatch.

The doorkeeper hands every update here before any conversation or command sees it. When
the user has an open question (``bot/services/prompts.py``) and types text, the feature
that asked gets the text (``ANSWERS``) and nothing else sees it; a typed command instead
drops the question and goes on to run. An admin's question (the reason for declining a
registration) comes before their own as an owner. A photo or a document answers the
questions that take one (``FILE_ANSWERS``: the owner's answer to a customer) the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update

from bot.handlers import (
    admin,
    api,
    automations,
    automations_dates,
    automations_keyword,
    contact_card,
    contacts,
    inbox,
    numbers,
    packages,
    profile,
    templates,
    transfers,
    webhooks,
)
from bot.handlers.context import BotContext
from bot.services.prompts import Prompt, PromptKind

# (update, context, the open question, the text typed) -> the answer shown
Answer = Callable[[Update, BotContext, Prompt, str], Awaitable[None]]

ANSWERS: dict[PromptKind, Answer] = {
    PromptKind.RENAME_LIST: contacts.rename_typed,
    PromptKind.PAIR_PHONE: numbers.pair_phone_typed,
    PromptKind.CLOUD_NUMBER: numbers.cloud_number_typed,
    PromptKind.CLOUD_TEMPLATE: templates.cloud_template_typed,
    PromptKind.PROFILE: profile.profile_typed,
    PromptKind.API_KEY_NAME: api.key_name_typed,
    PromptKind.WEBHOOK_URL: webhooks.url_typed,
    PromptKind.REJECT_REASON: admin.reason_typed,
    PromptKind.TRANSFER_RECEIPT: transfers.receipt_typed,  # a reminder: the receipt is a file
    PromptKind.TRANSFER_REJECT: transfers.reason_typed,
    PromptKind.PACKAGE_NEW: packages.new_typed,
    PromptKind.PACKAGE_EDIT: packages.edit_typed,
    PromptKind.INBOX_REPLY: inbox.reply_typed,
    PromptKind.CONTACT_EDIT: contact_card.edit_typed,
    PromptKind.AUTOMATION_DRAFT: automations.draft_typed,
    PromptKind.AUTOMATION_RENAME: automations.rename_typed,
    PromptKind.KEYWORD_NEW: automations_keyword.typed,
    PromptKind.DATE_NEW: automations_dates.typed,
}
# a photo or a document that answers an open question (the owner's answer to a customer)
FILE_ANSWERS: dict[PromptKind, Callable[[Update, BotContext, Prompt], Awaitable[None]]] = {
    PromptKind.INBOX_REPLY: inbox.reply_file,
}


def _is_command(text: str) -> bool:
    return text.startswith("/")


async def answer(update: Update, context: BotContext) -> bool:
    """True when the update was the answer to an open question (and has been answered)."""
    message, user = update.message, update.effective_user
    if message is not None and user is not None and (message.photo or message.document) \
            and context.owner is not None and context.owner.is_active:
        asked = await context.services.prompts.pending(context.owner.id)
        if asked is not None and asked.kind in FILE_ANSWERS:
            await FILE_ANSWERS[asked.kind](update, context, asked)
            return True
    if message is None or not message.text or user is None:
        return False
    text, prompts = message.text, context.services.prompts
    if context.services.accounts.is_admin(user.id):
        asked = await prompts.pending_admin(user.id)
        if asked is not None:
            if not _is_command(text):
                await ANSWERS[asked.kind](update, context, asked, text)
                return True
            await prompts.drop_admin(user.id)
    owner = context.owner
    if owner is None or not owner.is_active:
        return False
    asked = await prompts.pending(owner.id)
    if asked is None:
        return False
    if _is_command(text):
        await prompts.drop(owner.id)
        return False
    await ANSWERS[asked.kind](update, context, asked, text)
    return True
