"""Admin actions in chat: approve or reject registrations (with a reason the owner reads),
suspend and unsuspend owners, credit an owner's balance."""

from __future__ import annotations

from telegram import Update
from telegram.error import TelegramError

from bot.errors import QasidError
from bot.handlers import render
from bot.handlers.context import BotContext
from bot.handlers.replies import error_text, reply, say_error
from bot.i18n import Safe
from bot.services.prompts import Prompt, PromptKind


def _admin_id(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


async def decide(update: Update, context: BotContext) -> None:
    """The Approve / Reject buttons under a registration request; after Reject, the
    question for a reason offers Skip (reject without one) and Cancel (back to the request)."""
    query = update.callback_query
    assert query is not None
    _, verdict, raw_id = (query.data or "adm:?:0").split(":", 2)
    accounts, prompts, tr = context.services.accounts, context.services.prompts, context.tr
    admin_id = _admin_id(update)
    message_id = query.message.message_id if query.message else None
    try:
        owner_id = int(raw_id)
        if verdict == "ok":
            owner = await accounts.approve(admin_id, owner_id)
        elif verdict == "no":
            owner = await accounts.rejectable(admin_id, owner_id)
            await prompts.ask_admin(admin_id, PromptKind.REJECT_REASON, owner_id=owner_id,
                                    message_id=message_id)
            await query.answer()
            await query.edit_message_text(**render.reject_reason_question(tr, owner).kwargs)
            return
        elif verdict == "back":
            accounts.require_admin(admin_id)
            await prompts.drop_admin(admin_id)
            owner = await accounts.get(owner_id)
            await query.answer()
            await query.edit_message_text(**render.registration_request(tr, owner).kwargs)
            return
        else:  # "skip": no reason
            owner = await accounts.reject(admin_id, owner_id)
    except (QasidError, ValueError) as exc:
        text = error_text(context, exc) if isinstance(exc, QasidError) else tr("error.generic")
        await query.answer(text, show_alert=True)
        return
    await query.answer()
    done = tr("admin.decided", line=Safe(render.owner_line(tr, owner)))
    await query.edit_message_text(done)


async def reason_typed(update: Update, context: BotContext, prompt: Prompt, text: str) -> None:
    """The reason an admin types after pressing Reject (``PromptKind.REJECT_REASON``): the
    owner is rejected with it (``handlers/prompts.py`` routes it here)."""
    admin_id, tr = _admin_id(update), context.tr
    question_id = prompt.payload.get("message_id")
    try:
        owner = await context.services.accounts.reject(admin_id, prompt.id("owner_id"), text)
    except QasidError as exc:
        await context.services.prompts.drop_admin(admin_id)
        await reply(update, render.Screen(error_text(context, exc)))
        return
    if question_id is not None and update.effective_chat is not None:
        try:  # Skip and Cancel are moot now
            await context.bot.edit_message_reply_markup(update.effective_chat.id, question_id)
        except TelegramError:
            pass
    await reply(update, render.Screen(render.rejected_line(tr, owner)))


async def pending(update: Update, context: BotContext) -> None:
    try:
        owners = await context.services.accounts.pending(_admin_id(update))
    except QasidError as exc:  # not an admin
        await say_error(update, context, exc)
        return
    if not owners:
        await reply(update, render.Screen(context.tr("admin.none_pending")))
        return
    for owner in owners:
        await reply(update, render.registration_request(context.tr, owner))


async def suspend(update: Update, context: BotContext) -> None:
    await _change(update, context, "suspend")


async def unsuspend(update: Update, context: BotContext) -> None:
    await _change(update, context, "unsuspend")


async def reject(update: Update, context: BotContext) -> None:
    """/reject <owner number> [reason]"""
    await _change(update, context, "reject")


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
        elif action == "reject":
            owner = await accounts.reject(_admin_id(update), owner_id, " ".join(args[1:]))
            await reply(update, render.Screen(render.rejected_line(tr, owner)))
            return
        else:
            owner = await accounts.unsuspend(_admin_id(update), owner_id)
    except QasidError as exc:
        await reply(update, render.Screen(error_text(context, exc)))
        return
    await reply(update, render.Screen(render.owner_line(tr, owner)))


async def credit(update: Update, context: BotContext) -> None:
    """/credit <owner number> <amount> [note]"""
    tr = context.tr
    args = context.args or []
    try:
        owner_id, amount = int(args[0].lstrip("#")), int(args[1].replace("_", ""))
    except (IndexError, ValueError):
        await reply(update, render.Screen(tr("admin.credit_usage")))
        return
    try:
        owner, balance = await context.services.billing.credit(_admin_id(update), owner_id,
                                                               amount, " ".join(args[2:]))
    except QasidError as exc:
        await reply(update, render.Screen(error_text(context, exc)))
        return
    # the owner is told by the billing service's notice (``BalanceChanged``)
    await reply(update, render.Screen(tr("admin.credited", amount=tr.number(amount, signed=True),
                                         id=owner.id, name=owner.name or "—",
                                         available=tr.number(balance.available))))
