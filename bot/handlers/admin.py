"""Admin actions in chat: approve or reject registrations, suspend and unsuspend owners."""

from __future__ import annotations

from telegram import Update

from bot.errors import QasidError
from bot.handlers import render
from bot.handlers.context import BotContext
from bot.handlers.replies import error_text, reply
from bot.i18n import Safe


def _admin_id(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


async def decide(update: Update, context: BotContext) -> None:
    """The Approve / Reject buttons under a registration request."""
    query = update.callback_query
    assert query is not None
    _, verdict, raw_id = (query.data or "adm:?:0").split(":", 2)
    accounts, tr = context.services.accounts, context.tr
    try:
        owner_id = int(raw_id)
        if verdict == "ok":
            owner = await accounts.approve(_admin_id(update), owner_id)
        else:
            owner = await accounts.reject(_admin_id(update), owner_id)
    except (QasidError, ValueError) as exc:
        text = error_text(context, exc) if isinstance(exc, QasidError) else tr("error.generic")
        await query.answer(text, show_alert=True)
        return
    await query.answer()
    done = tr("admin.decided", line=Safe(render.owner_line(tr, owner)))
    await query.edit_message_text(done, parse_mode="HTML")


async def pending(update: Update, context: BotContext) -> None:
    owners = await context.services.accounts.pending(_admin_id(update))
    if not owners:
        await reply(update, render.Screen(context.tr("admin.none_pending")))
        return
    for owner in owners:
        await reply(update, render.registration_request(context.tr, owner))


async def suspend(update: Update, context: BotContext) -> None:
    await _change(update, context, "suspend")


async def unsuspend(update: Update, context: BotContext) -> None:
    await _change(update, context, "unsuspend")


async def _change(update: Update, context: BotContext, action: str) -> None:
    tr, accounts = context.tr, context.services.accounts
    args = context.args or []
    if not args or not args[0].lstrip("#").isdigit():
        await reply(update, render.Screen(tr(f"admin.{action}_usage")))
        return
    owner_id = int(args[0].lstrip("#"))
    try:
        if action == "suspend":
            owner = await accounts.suspend(_admin_id(update), owner_id, " ".join(args[1:]))
        else:
            owner = await accounts.unsuspend(_admin_id(update), owner_id)
    except QasidError as exc:
        await reply(update, render.Screen(error_text(context, exc)))
        return
    await reply(update, render.Screen(render.owner_line(tr, owner)))
