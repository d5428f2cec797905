"""The command list: the one place that says which commands exist.

Handlers are registered from it and the menu Telegram shows (``setMyCommands``, in
every language, with the admin commands only in admins' chats) is generated from it,
so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Update

Callback = Callable[[Update, object], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    description: str  # catalog key
    admin: bool = False


COMMANDS: tuple[Command, ...] = (
    Command("start", "cmd.start"),
    Command("menu", "cmd.menu"),
    Command("help", "cmd.help"),
    Command("lists", "cmd.lists"),
    Command("optout", "cmd.optout"),
    Command("optin", "cmd.optin"),
    Command("templates", "cmd.templates"),
    Command("newtemplate", "cmd.newtemplate"),
    Command("newcampaign", "cmd.newcampaign"),
    Command("campaigns", "cmd.campaigns"),
    Command("numbers", "cmd.numbers"),
    Command("stats", "cmd.stats"),
    Command("balance", "cmd.balance"),
    Command("settings", "cmd.settings"),
    Command("api", "cmd.api"),
    Command("webhooks", "cmd.webhooks"),
    Command("inbox", "cmd.inbox"),
    Command("contact", "cmd.contact"),
    Command("automations", "cmd.automations"),
    Command("cancel", "cmd.cancel"),
    Command("language", "cmd.language"),
    Command("pending", "cmd.pending", admin=True),
    Command("reject", "cmd.reject", admin=True),
    Command("suspend", "cmd.suspend", admin=True),
    Command("unsuspend", "cmd.unsuspend", admin=True),
    Command("credit", "cmd.credit", admin=True),
    Command("packages", "cmd.packages", admin=True),
    Command("refund", "cmd.refund", admin=True),
    Command("sales", "cmd.sales", admin=True),
    Command("owner", "cmd.owner", admin=True),
)


def visible_commands(*, admin: bool) -> list[Command]:
    return [c for c in COMMANDS if admin or not c.admin]
