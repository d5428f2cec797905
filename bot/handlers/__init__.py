"""python-telegram-bot handlers: parse the chat input, call a service, render the answer.

``register`` is the one ordered list of registrations.
"""

from __future__ import annotations

import logging

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    PreCheckoutQueryHandler,
    TypeHandler,
    filters,
)

from bot.domain import Language
from bot.handlers import (
    admin,
    api,
    automations,
    automations_dates,
    automations_keyword,
    balance,
    buy,
    campaigns,
    contact_card,
    contacts,
    inbox,
    inbox_group,
    invoices,
    language,
    menu,
    numbers,
    packages,
    profile,
    sales,
    settings,
    stats,
    templates,
    transfers,
    webhooks,
)
from bot.handlers.commands import visible_commands
from bot.handlers.conversations import Leaving
from bot.handlers.errors import on_error
from bot.handlers.registration import doorkeeper
from bot.i18n import translator

log = logging.getLogger(__name__)

_CALLBACKS = {
    "start": menu.start,
    "menu": menu.start,
    "help": menu.help_command,
    "lists": contacts.lists_command,
    "optout": contacts.optout_command,
    "optin": contacts.optin_command,
    "templates": templates.templates_command,
    "campaigns": campaigns.campaigns_command,
    "numbers": numbers.numbers_command,
    "stats": stats.stats_command,
    "balance": balance.balance_command,
    "credit": admin.credit,
    "packages": packages.packages_command,
    "refund": buy.refund_command,
    "sales": sales.sales_command,
    "owner": sales.owner_command,
    "settings": settings.settings_command,
    "api": api.api_command,
    "webhooks": webhooks.webhooks_command,
    "inbox": inbox.inbox_command,
    "contact": contact_card.contact_command,
    "automations": automations.automations_command,
    "cancel": menu.nothing_to_cancel,
    "language": language.choose,
    "pending": admin.pending,
    "reject": admin.reject,
    "suspend": admin.suspend,
    "unsuspend": admin.unsuspend,
}

_CONVERSATION_ENTRIES = {"newtemplate", "newcampaign"}  # their ConversationHandlers own them


def register(app: Application) -> None:
    # a linked forum group's topics (the inbox) and /linkinbox: groups stop there
    app.add_handler(TypeHandler(Update, inbox_group.group_update), group=-3)
    app.add_handler(TypeHandler(Update, doorkeeper), group=-2)
    # Conversations first: while one waits for a typed answer, the text is theirs. But a
    # command always wins: in the group before, it ends every conversation it leaves.
    conversations = [campaigns.wizard_handler(), templates.composer_handler()]
    app.add_handler(Leaving(conversations), group=-1)
    for conversation in conversations:
        app.add_handler(conversation)
    for command in visible_commands(admin=True):
        if command.name in _CONVERSATION_ENTRIES:
            continue
        app.add_handler(CommandHandler(command.name, _CALLBACKS[command.name]))
    app.add_handler(CallbackQueryHandler(language.picked, pattern=r"^lang:"))
    app.add_handler(CallbackQueryHandler(menu.menu_button, pattern=r"^menu:"))
    app.add_handler(CallbackQueryHandler(profile.profile_button, pattern=r"^prof:"))
    app.add_handler(CallbackQueryHandler(admin.decide, pattern=r"^adm:(ok|no|skip|back):\d+$"))
    app.add_handler(CallbackQueryHandler(transfers.admin_button,
                                         pattern=r"^adm:pay(no|back)?:\d+$"))
    app.add_handler(CallbackQueryHandler(contacts.import_button, pattern=r"^imp:"))
    app.add_handler(CallbackQueryHandler(contacts.list_button, pattern=r"^lst:"))
    app.add_handler(CallbackQueryHandler(templates.template_button, pattern=r"^tpl:"))
    app.add_handler(CallbackQueryHandler(campaigns.campaign_button, pattern=r"^cmp:"))
    app.add_handler(CallbackQueryHandler(balance.balance_command, pattern=r"^bal:"))
    app.add_handler(CallbackQueryHandler(buy.buy_button, pattern=r"^buy:"))
    app.add_handler(CallbackQueryHandler(packages.package_button, pattern=r"^pkg:"))
    app.add_handler(PreCheckoutQueryHandler(buy.pre_checkout))  # Stars: answered in 10 s
    app.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, buy.paid))
    app.add_handler(MessageHandler(filters.StatusUpdate.REFUNDED_PAYMENT, buy.refunded_payment))
    app.add_handler(CallbackQueryHandler(invoices.receipts_button, pattern=r"^inv:"))
    app.add_handler(CallbackQueryHandler(invoices.statement_button, pattern=r"^stm:"))
    app.add_handler(CallbackQueryHandler(sales.sales_button, pattern=r"^adm:sales:"))
    app.add_handler(CallbackQueryHandler(settings.settings_command, pattern=r"^set:"))
    app.add_handler(CallbackQueryHandler(numbers.sender_button, pattern=r"^snd:"))
    app.add_handler(CallbackQueryHandler(numbers.number_button, pattern=r"^num:"))
    app.add_handler(CallbackQueryHandler(inbox.reply_button, pattern=r"^rep:"))
    app.add_handler(CallbackQueryHandler(inbox.inbox_button, pattern=r"^ibx:"))
    app.add_handler(CallbackQueryHandler(contact_card.card_button, pattern=r"^ctc:"))
    app.add_handler(CallbackQueryHandler(stats.stats_button, pattern=r"^st:"))
    app.add_handler(CallbackQueryHandler(api.api_button, pattern=r"^api:"))
    app.add_handler(CallbackQueryHandler(webhooks.webhook_button, pattern=r"^wh:"))
    app.add_handler(CallbackQueryHandler(automations_keyword.button, pattern=r"^akw:"))
    app.add_handler(CallbackQueryHandler(automations_dates.button, pattern=r"^adt:"))
    app.add_handler(CallbackQueryHandler(transfers.transfer_button, pattern=r"^trf:"))
    app.add_handler(CallbackQueryHandler(automations.automation_button, pattern=r"^aut:"))
    app.add_handler(CallbackQueryHandler(menu.stale_button))
    # a transfer's receipt (photo, image, PDF) while an order waits for it; else a document
    # goes on to the contacts import (transfers.file_received hands it over)
    app.add_handler(MessageHandler(filters.PHOTO | filters.Document.ALL,
                                   transfers.file_received))
    app.add_handler(MessageHandler(filters.COMMAND, menu.unknown_command))
    # typed text that answers an open question never gets here (registration.doorkeeper)
    app.add_handler(MessageHandler(filters.ALL, menu.unknown_text))
    app.add_error_handler(on_error)


async def publish_commands(app: Application, admin_ids: frozenset[int]) -> None:
    """Tell Telegram the command menu, per language; admins also see theirs."""
    try:
        for lang in Language:
            tr = translator(lang)
            code = None if lang is Language.EN else lang.value
            owner_cmds = [
                BotCommand(c.name, tr(c.description)) for c in visible_commands(admin=False)
            ]
            await app.bot.set_my_commands(owner_cmds, BotCommandScopeDefault(), language_code=code)
            admin_cmds = [
                BotCommand(c.name, tr(c.description)) for c in visible_commands(admin=True)
            ]
            for admin_id in admin_ids:
                await app.bot.set_my_commands(
                    admin_cmds, BotCommandScopeChat(admin_id), language_code=code
                )
    except TelegramError as exc:  # e.g. an admin who never opened the bot
        log.warning("could not publish the command menu: %s", exc)
