"""The campaign wizard (/newcampaign) and /campaigns.

The wizard is a ``ConversationHandler`` whose state is the draft's step: each callback
asks the campaigns service to change the draft, then shows the step the draft is at. The
draft lives in the database, so a restart or a day away resumes it (``persistence.py``).
"""

from __future__ import annotations

import logging
import warnings

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.domain import Campaign
from bot.errors import QasidError, ValidationError
from bot.gateways.base import GatewayError
from bot.handlers import contacts as contacts_handlers
from bot.handlers import render_campaigns as rc
from bot.handlers.context import BotContext, active_owner
from bot.handlers.conversations import leave_when
from bot.handlers.persistence import CAMPAIGN_WIZARD
from bot.handlers.render import Screen, keyboard
from bot.handlers.replies import error_text, refuse, reply, show

log = logging.getLogger(__name__)

END = ConversationHandler.END
EDITABLE_STEPS = ("list", "template", "senders", "when", "pacing", "summary")


def _parts(update: Update) -> list[str]:
    assert update.callback_query is not None
    return (update.callback_query.data or "").split(":")


def _zone(context: BotContext) -> str:
    owner = active_owner(context)
    return owner.timezone or context.services.campaigns.config.default_timezone


async def _screen_for(context: BotContext, draft: Campaign) -> Screen:
    """The screen of the step the draft is at."""
    owner, tr, services = active_owner(context), context.tr, context.services
    step = draft.draft.get("step", "list")
    if step == "list":
        return rc.wizard_list(tr, await services.contacts.lists(owner.id))
    if step == "template":
        return rc.wizard_template(tr, await services.templates.list(owner.id))
    if step == "senders":
        return rc.wizard_senders(tr, await services.campaigns.usable_senders(owner.id),
                                 draft.draft.get("senders", []))
    if step == "when":
        return rc.wizard_when(tr)
    if step == "when_at":
        return rc.wizard_when_at(tr, _zone(context))
    if step == "recurring_days":
        return rc.wizard_weekdays(tr, draft.draft.get("recurring", {}).get("weekdays", []))
    if step == "recurring_time":
        return rc.wizard_time(tr, _zone(context))
    if step == "pacing":
        return rc.wizard_pacing(tr)
    if step.startswith("custom_"):
        return rc.wizard_custom(tr, step)
    summary = await services.campaigns.summary(owner.id)
    if step == "confirm_big":
        return rc.confirm_big(tr, summary)
    return rc.summary(tr, summary)


async def _show_step(update: Update, context: BotContext, draft: Campaign, *,
                     new_message: bool = False) -> str:
    screen = await _screen_for(context, draft)
    if new_message:
        await reply(update, screen)
    else:
        await show(update, screen)
    return draft.draft.get("step", "list")


async def _current(update: Update, context: BotContext, exc: QasidError) -> str | int:
    """After a refused answer: say why, and stay at the step the draft is at."""
    message = error_text(context, exc)
    if update.callback_query is not None and len(message) <= 200 and "<" not in message:
        await update.callback_query.answer(message, show_alert=True)
    else:  # too long (or formatted) for an alert: a message
        if update.callback_query is not None:
            await update.callback_query.answer()
        await reply(update, Screen(message))
    draft = await context.services.campaigns.draft(active_owner(context).id)
    return draft.draft.get("step", "list") if draft else END


# --- entry ------------------------------------------------------------------------------------

async def new_campaign(update: Update, context: BotContext) -> str:
    """/newcampaign: a new draft, or the one in progress where it was left."""
    owner = active_owner(context)
    if update.callback_query is not None:
        await update.callback_query.answer()
    existing = await context.services.campaigns.draft(owner.id)
    draft = await context.services.campaigns.begin(owner.id)
    if existing is not None and existing.draft.get("step", "list") != "list":
        await reply(update, Screen(context.tr("wizard.resumed"), keyboard(
            [(context.tr("wizard.start_over"), "wiz:restart")])))
    return await _show_step(update, context, draft, new_message=True)


async def restart(update: Update, context: BotContext) -> str:
    assert update.callback_query is not None
    await update.callback_query.answer()
    draft = await context.services.campaigns.restart(active_owner(context).id)
    return await _show_step(update, context, draft, new_message=True)


# --- steps ------------------------------------------------------------------------------------

async def button(update: Update, context: BotContext) -> str | int:
    """Every wizard button: wiz:<what>[:<value>]."""
    owner, service = active_owner(context), context.services.campaigns
    query = update.callback_query
    assert query is not None
    parts = _parts(update)
    what = parts[1]
    value = parts[2] if len(parts) > 2 else ""
    try:
        if what == "list":
            draft = await service.choose_list(owner.id, int(value))
        elif what == "tpl":
            draft = await service.choose_template(owner.id, int(value))
        elif what == "snd":
            draft = await (service.senders_chosen(owner.id) if value == "ok"
                           else service.toggle_sender(owner.id, int(value)))
        elif what == "when":
            if value == "now":
                draft = await service.start_now(owner.id)
            elif value == "at":
                draft = await service.ask_date(owner.id)
            else:
                draft = await service.recurring(owner.id, value)
        elif what == "day":
            draft = await (service.weekdays_chosen(owner.id) if value == "ok"
                           else service.toggle_weekday(owner.id, int(value)))
        elif what == "pace":
            draft = await (service.custom_pacing(owner.id) if value == "custom"
                           else service.use_preset(owner.id, value))
        elif what == "quiet":
            draft = await service.custom_value(owner.id, None)
        elif what == "back":
            draft = await service.back(owner.id)
        elif what == "goto" and value in EDITABLE_STEPS:
            draft = await service.go_to(owner.id, value)
        elif what == "edit":
            await query.answer()
            await show(update, rc.edit_menu(context.tr))
            return "summary"
        elif what == "ok":
            summary = await service.ask_big(owner.id)
            if summary.asks_twice:
                await query.answer()
                await show(update, rc.confirm_big(context.tr, summary))
                return "confirm_big"
            return await _confirm(update, context, big_ok=False)
        elif what == "big":
            return await _confirm(update, context, big_ok=True)
        elif what == "test":
            return await _send_test(update, context)
        else:
            await query.answer(context.tr("help.stale_button"), show_alert=True)
            return await _stay(context)
    except QasidError as exc:
        return await _current(update, context, exc)
    await query.answer()
    return await _show_step(update, context, draft)


async def _stay(context: BotContext) -> str | int:
    draft = await context.services.campaigns.draft(active_owner(context).id)
    return draft.draft.get("step", "list") if draft else END


async def _confirm(update: Update, context: BotContext, *, big_ok: bool) -> str | int:
    owner, tr = active_owner(context), context.tr
    try:
        summary = await context.services.campaigns.confirm(owner.id, big_ok=big_ok)
    except ValidationError as exc:
        return await _current(update, context, exc)
    assert update.callback_query is not None
    await update.callback_query.answer()
    await show(update, rc.confirmed(tr, summary))
    return END


async def _send_test(update: Update, context: BotContext) -> str | int:
    """*Send a test to me*: the first recipient's message to the owner's own WhatsApp."""
    owner, tr = active_owner(context), context.tr
    query = update.callback_query
    assert query is not None
    try:
        sample = await context.services.campaigns.test_message(owner.id)
        await query.answer(tr("summary.test_sending"))
        await context.services.dispatcher.send_test(sample)
    except QasidError as exc:
        return await _current(update, context, exc)
    except GatewayError as exc:
        log.warning("test message: gateway %s", exc.category)
        await reply(update, Screen(tr("summary.test_failed",
                                      reason=tr(f"stats.reason.{exc.category.value}"))))
        return await _stay(context)
    await reply(update, Screen(tr("summary.test_sent", phone=sample.to,
                                  number=rc.sender_label(sample.sender))))
    return await _stay(context)


async def typed(update: Update, context: BotContext) -> str | int:
    """A typed answer: a date, a time of day, or a custom pacing value."""
    owner, service = active_owner(context), context.services.campaigns
    assert update.message is not None
    if await contacts_handlers.typed_text(update, context):
        return await _stay(context)  # it answered a question asked since (a list's name)
    text = update.message.text or ""
    draft = await service.draft(owner.id)
    step = draft.draft.get("step") if draft else None
    try:
        if step == "when_at":
            draft = await service.start_at(owner.id, text)
        elif step == "recurring_time":
            draft = await service.recurring_at(owner.id, text)
        elif step is not None and step.startswith("custom_"):
            draft = await service.custom_value(owner.id, text)
        else:
            await reply(update, Screen(context.tr("wizard.use_buttons")))
            return await _stay(context)
    except QasidError as exc:
        state = await _current(update, context, exc)  # why first
        if isinstance(exc, ValidationError) and exc.reason == "unparseable":
            # then what works (a time in the past or without a time needs no examples)
            await reply(update, Screen(context.tr("wizard.date_help", zone=_zone(context))))
        return state
    assert draft is not None
    return await _show_step(update, context, draft, new_message=True)


async def leave(update: Update, context: BotContext) -> int:
    """A command typed in the wizard: it runs, the draft is kept for /newcampaign."""
    if context.owner is not None:
        await context.services.campaigns.leave(context.owner.id)
    return END


async def cancel(update: Update, context: BotContext) -> int:
    await context.services.campaigns.discard(active_owner(context).id)
    if update.callback_query is not None:
        await update.callback_query.answer()
        await show(update, Screen(context.tr("wizard.cancelled")))
    else:
        await reply(update, Screen(context.tr("wizard.cancelled")))
    return END


def wizard_handler() -> ConversationHandler:
    text = filters.TEXT & ~filters.COMMAND
    buttons = CallbackQueryHandler(button, pattern=r"^wiz:(?!cancel$|restart$)")
    cancel_button = CallbackQueryHandler(cancel, pattern=r"^wiz:cancel$")
    restart_button = CallbackQueryHandler(restart, pattern=r"^wiz:restart$")
    typed_answer = MessageHandler(text, typed)
    with warnings.catch_warnings():
        # Button presses are tracked per chat, as intended (PTB warns about per_message).
        warnings.simplefilter("ignore", PTBUserWarning)
        return ConversationHandler(
            entry_points=[
                CommandHandler("newcampaign", new_campaign),
                CallbackQueryHandler(new_campaign, pattern=r"^menu:newcampaign$"),
                # the wizard's buttons take it up again after a command left it
                buttons, cancel_button, restart_button,
            ],
            states={step: [buttons, typed_answer] for step in (
                "list", "template", "senders", "when", "when_at", "recurring_days",
                "recurring_time", "pacing", "custom_delay", "custom_batch", "custom_pause",
                "custom_quiet", "summary", "confirm_big")},
            fallbacks=[
                CommandHandler("cancel", cancel),
                leave_when(leave),  # any other command (last: see conversations.py)
            ],
            name=CAMPAIGN_WIZARD,
            persistent=True,
            allow_reentry=True,
        )


# --- /campaigns --------------------------------------------------------------------------------

async def campaigns_command(update: Update, context: BotContext) -> None:
    owner = active_owner(context)
    if update.callback_query is not None:
        await update.callback_query.answer()
    await show(update, rc.campaigns_overview(context.tr,
                                             await context.services.campaigns.list(owner.id)))


async def campaign_button(update: Update, context: BotContext) -> None:
    """cmp:all | cmp:open:C | cmp:pause:C | cmp:resume:C | cmp:cancel:C | cmp:cancelyes:C"""
    owner, tr, service = active_owner(context), context.tr, context.services.campaigns
    query = update.callback_query
    assert query is not None
    parts = _parts(update)
    action = parts[1] if len(parts) > 1 else ""
    if action == "all":
        await campaigns_command(update, context)
        return
    try:
        campaign_id = int(parts[2])
        if action == "open":
            view = await service.view(owner.id, campaign_id)
        elif action == "pause":
            view = await service.pause(owner.id, campaign_id)
        elif action == "resume":
            view = await service.resume(owner.id, campaign_id)
        elif action == "cancel":
            await query.answer()
            await show(update, rc.campaign_cancel_confirm(tr, await service.view(owner.id,
                                                                                campaign_id)))
            return
        elif action in ("resend", "countsent"):
            view, count = await service.resolve_uncertain(owner.id, campaign_id,
                                                          resend=action == "resend")
            await query.answer(tr(f"campaigns.{action}_done", count=count), show_alert=True)
            await show(update, rc.campaign_card(tr, view, _zone(context)))
            return
        elif action == "cancelyes":
            view, released = await service.cancel(owner.id, campaign_id)
            await query.answer(tr("campaigns.cancelled", count=released), show_alert=True)
            await show(update, rc.campaign_card(tr, view, _zone(context)))
            return
        else:
            raise ValueError(action)
    except (ValueError, IndexError, QasidError) as exc:
        await refuse(query, context, exc)
        return
    await query.answer()
    await show(update, rc.campaign_card(tr, view, _zone(context)))
