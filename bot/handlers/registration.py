"""The doorkeeper: every update passes here first (handler group -1).

It finds the owner behind the user and picks their language. Active owners go on to
the ordinary handlers. Everyone else is handled here and stops here: new users are
registered (name -> company -> phone via the share-contact button -> terms), and
pending, rejected or suspended owners are told why they cannot go further. Admins'
own commands and the language picker pass for everyone. A payment's pre-checkout query
passes for an active owner only (anyone else is answered no); a payment Telegram took
(``successful_payment``) passes for any owner, so that it is recorded. Typed text that
answers an open question (a list's new name, a Cloud API token, an admin's reason for
declining, ...) is taken here, before any conversation could take it for its own
(``prompts.py``).
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.domain import Language, Owner, OwnerStatus
from bot.errors import QasidError
from bot.handlers import prompts, render
from bot.handlers.commands import COMMANDS
from bot.handlers.context import BotContext
from bot.handlers.replies import reply, say_error
from bot.i18n import translator

log = logging.getLogger(__name__)

ADMIN_COMMANDS = frozenset(c.name for c in COMMANDS if c.admin)
ADMIN_BUTTONS = ("adm:", "pkg:")  # the callback data of admins' buttons (/packages: pkg:)
OPEN_COMMANDS = frozenset({"language", "help"})


def _command(update: Update) -> str | None:
    message = update.message
    if message and message.text and message.text.startswith("/"):
        return message.text[1:].split(maxsplit=1)[0].split("@")[0].lower()
    return None


def _callback(update: Update) -> str:
    query = update.callback_query
    return query.data or "" if query else ""


def passes_for_everyone(update: Update, is_admin: bool) -> bool:
    command, data = _command(update), _callback(update)
    if command in OPEN_COMMANDS or data.startswith("lang:"):
        return True
    return is_admin and (command in ADMIN_COMMANDS or data.startswith(ADMIN_BUTTONS))


async def doorkeeper(update: Update, context: BotContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    checkout = update.pre_checkout_query  # a payment about to be made: it has no chat
    if user is None or (checkout is None and (chat is None or chat.type != "private")):
        raise ApplicationHandlerStop  # Qasid lives in private chats only
    accounts = context.services.accounts
    owner = await accounts.find(user.id)
    context.owner = owner
    context.tr = translator(owner.language if owner else Language.from_telegram(user.language_code))
    if checkout is not None:
        if owner is not None and owner.is_active:
            return  # to buy.pre_checkout
        await checkout.answer(ok=False, error_message=context.tr("buy.refused_not_active"))
        raise ApplicationHandlerStop  # a suspended (or unknown) user pays nothing
    if update.message is not None and update.message.successful_payment is not None \
            and owner is not None:
        return  # Telegram took the payment: it is recorded whatever the owner's status
    if await prompts.answer(update, context):
        raise ApplicationHandlerStop  # the answer to an open question
    if owner is not None and owner.is_active:
        return
    if passes_for_everyone(update, accounts.is_admin(user.id)):
        return
    await register(update, context, owner)
    raise ApplicationHandlerStop


async def register(update: Update, context: BotContext, owner: Owner | None) -> None:
    user, accounts = update.effective_user, context.services.accounts
    assert user is not None and update.effective_chat is not None
    query = update.callback_query
    if query is not None:
        await query.answer()
    if owner is None:
        owner = await accounts.start(user.id, update.effective_chat.id, user.language_code)
        context.tr = translator(owner.language)
        await reply(update, render.Screen(context.tr("registration.welcome")))
        await reply(update, render.registration_question(context.tr, owner.registration_step))
        return
    if owner.status is not OwnerStatus.REGISTERING:
        await prompt(update, owner, context)
        return

    message = update.message
    try:
        if query is not None and query.data == "reg:accept":
            owner = await accounts.accept_terms(user.id)
            await query.edit_message_reply_markup(None)
            await _submitted(update, context, owner)
            return
        if query is not None and query.data == "reg:decline":
            await reply(update, render.Screen(context.tr("registration.declined")))
        elif message is not None and message.contact is not None:
            owner = await accounts.share_phone(
                user.id, message.contact.phone_number, message.contact.user_id
            )
            await reply(update, render.Screen(context.tr("registration.phone_saved"),
                                              render.ReplyKeyboardRemove()))
        elif message is not None and message.text and _command(update) is None:
            owner = await accounts.answer(user.id, message.text)
    except QasidError as exc:
        await say_error(update, context, exc)
    await prompt(update, owner, context)


async def prompt(update: Update, owner: Owner, context: BotContext) -> None:
    """Ask the next registration question, or say why the account cannot be used."""
    if owner.status is OwnerStatus.REGISTERING:
        await reply(update, render.registration_question(context.tr, owner.registration_step))
    else:
        await reply(update, render.status_explained(
            context.tr, owner, context.services.accounts.support_contact))


async def _submitted(update: Update, context: BotContext, owner: Owner) -> None:
    if owner.status is OwnerStatus.ACTIVE:
        await reply(update, render.Screen(context.tr("registration.active")))
        await reply(update, render.main_menu(context.tr, owner))
    else:
        await reply(update, render.Screen(context.tr("status.pending")))
