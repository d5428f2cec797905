"""The campaign wizard (/newcampaign) and /campaigns.

The wizard is a ``ConversationHandler`` whose state is the draft's step: each callback
asks the campaigns service to change the draft, then shows the step the draft is at. The
draft lives in the database, so a restart or a day away resumes it (``persistence.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.domain import WIZARD, CampaignDraft, WizardStep
from bot.errors import GatewayFailed, QasidError, ValidationError
from bot.handlers import render_campaigns as rc
from bot.handlers.context import BotContext, active_owner, owner_zone
from bot.handlers.conversations import draft_conversation
from bot.handlers.persistence import CAMPAIGN_WIZARD
from bot.handlers.render import Screen, keyboard
from bot.handlers.replies import error_text, refuse, reply, show
from bot.services.campaigns import CampaignsService
from bot.services.followups import Audience

log = logging.getLogger(__name__)

END = ConversationHandler.END
# The custom pace's questions (one screen, one service call, for all four).
_CUSTOM_PACE = (WizardStep.CUSTOM_DELAY, WizardStep.CUSTOM_BATCH, WizardStep.CUSTOM_PAUSE,
                WizardStep.CUSTOM_QUIET)


def _parts(update: Update) -> list[str]:
    assert update.callback_query is not None
    return (update.callback_query.data or "").split(":")


async def _screen_for(context: BotContext, draft: CampaignDraft) -> Screen:
    """The screen of the step the draft is at (showing it only reads)."""
    owner, tr, services = active_owner(context), context.tr, context.services
    step = draft.step
    if step is WizardStep.LIST:
        return rc.wizard_list(tr, await services.contacts.lists(owner.id))
    if step is WizardStep.TEMPLATE:
        return rc.wizard_template(tr, await services.templates.list(owner.id))
    if step is WizardStep.SENDERS:
        return rc.wizard_senders(tr, await services.campaigns.usable_senders(owner.id),
                                 draft.senders or [])
    if step is WizardStep.WHEN:
        return rc.wizard_when(tr)
    if step is WizardStep.WHEN_AT:
        return rc.wizard_when_at(tr, owner_zone(context))
    if step is WizardStep.RECURRING_DAYS:
        return rc.wizard_weekdays(tr, draft.weekdays)
    if step is WizardStep.RECURRING_TIME:
        return rc.wizard_time(tr, owner_zone(context))
    if step is WizardStep.PACING:
        return rc.wizard_pacing(tr)
    if step in _CUSTOM_PACE:
        return rc.wizard_custom(tr, step)
    summary = await services.campaigns.summary(owner.id)
    if step is WizardStep.CONFIRM_BIG:
        return rc.confirm_big(tr, summary)
    if step is WizardStep.NAME:
        return rc.wizard_name(tr, summary)
    return rc.summary(tr, summary)


async def _show_step(update: Update, context: BotContext, draft: CampaignDraft, *,
                     new_message: bool = False) -> WizardStep:
    screen = await _screen_for(context, draft)
    if new_message:
        await reply(update, screen)
    else:
        await show(update, screen)
    return draft.step


async def _current(update: Update, context: BotContext, exc: QasidError) -> WizardStep | int:
    """After a refused answer: say why, and stay at the step the draft is at."""
    message = error_text(context, exc)
    if update.callback_query is not None and len(message) <= 200 and "<" not in message:
        await update.callback_query.answer(message, show_alert=True)
    else:  # too long (or formatted) for an alert: a message
        if update.callback_query is not None:
            await update.callback_query.answer()
        await reply(update, Screen(message))
    return await _stay(context)


# --- entry ------------------------------------------------------------------------------------

async def new_campaign(update: Update, context: BotContext) -> WizardStep:
    """/newcampaign: a new draft, or the one in progress where it was left."""
    owner = active_owner(context)
    if update.callback_query is not None:
        await update.callback_query.answer()
    await context.services.prompts.drop(owner.id)  # the wizard's questions are the newer ones
    existing = await context.services.campaigns.draft(owner.id)
    draft = await context.services.campaigns.begin(owner.id)
    if existing is not None and existing.step is not WizardStep.LIST:
        await reply(update, Screen(context.tr("wizard.resumed"), keyboard(
            [(context.tr("wizard.start_over"), "wiz:restart")])))
    return await _show_step(update, context, draft, new_message=True)


async def restart(update: Update, context: BotContext) -> WizardStep:
    assert update.callback_query is not None
    await update.callback_query.answer()
    draft = await context.services.campaigns.restart(active_owner(context).id)
    return await _show_step(update, context, draft, new_message=True)


# --- steps ------------------------------------------------------------------------------------

# A button that changes the draft, wiz:<what>:<value>: the service call it makes, by
# (what, value), or by (what, None) for any other value (an id, a preset's name).
DraftChange = Callable[[CampaignsService, int, str], Awaitable[CampaignDraft]]
_DRAFT_CHANGES: dict[tuple[str, str | None], DraftChange] = {
    ("list", None): lambda s, owner, v: s.choose_list(owner, int(v)),
    ("tpl", None): lambda s, owner, v: s.choose_template(owner, int(v)),
    ("snd", "ok"): lambda s, owner, v: s.senders_chosen(owner),
    ("snd", None): lambda s, owner, v: s.toggle_sender(owner, int(v)),
    ("when", "now"): lambda s, owner, v: s.start_now(owner),
    ("when", "at"): lambda s, owner, v: s.ask_date(owner),
    ("when", None): lambda s, owner, v: s.recurring(owner, v),  # day, week
    ("day", "ok"): lambda s, owner, v: s.weekdays_chosen(owner),
    ("day", None): lambda s, owner, v: s.toggle_weekday(owner, int(v)),
    ("pace", "custom"): lambda s, owner, v: s.custom_pacing(owner),
    ("pace", None): lambda s, owner, v: s.use_preset(owner, v),
    ("quiet", None): lambda s, owner, v: s.custom_value(owner, None),
    ("plan", "safe"): lambda s, owner, v: s.safe_plan(owner),
    ("plan", "original"): lambda s, owner, v: s.original_plan(owner),
    ("name", "default"): lambda s, owner, v: s.name_draft(owner, None),
    ("name", None): lambda s, owner, v: s.ask_name(owner),
    ("back", None): lambda s, owner, v: s.back(owner),
    **{("goto", step.value): lambda s, owner, v: s.go_to(owner, v)
       for step in WizardStep if WIZARD[step].editable},
}
# A typed answer, by the step the draft is at: the service call it makes.
_TYPED_ANSWERS: dict[WizardStep, DraftChange] = {
    WizardStep.WHEN_AT: lambda s, owner, text: s.start_at(owner, text),
    WizardStep.RECURRING_TIME: lambda s, owner, text: s.recurring_at(owner, text),
    WizardStep.NAME: lambda s, owner, text: s.name_draft(owner, text),
    **dict.fromkeys(_CUSTOM_PACE, lambda s, owner, text: s.custom_value(owner, text)),
}


async def button(update: Update, context: BotContext) -> WizardStep | int:
    """Every wizard button: wiz:<what>[:<value>]; one that changes the draft shows the
    step it is at then (``_DRAFT_CHANGES``), the others show their own screen
    (``_SCREENS``)."""
    owner, service = active_owner(context), context.services.campaigns
    query = update.callback_query
    assert query is not None
    parts = _parts(update)
    what = parts[1]
    value = parts[2] if len(parts) > 2 else ""
    change = _DRAFT_CHANGES.get((what, value)) or _DRAFT_CHANGES.get((what, None))
    screen = _SCREENS.get(what)
    call: Awaitable[CampaignDraft | WizardStep | int] | None = None
    if change is not None:
        try:
            call = change(service, owner.id, value)
        except ValueError:  # not a number where one belongs (forged, or another version's)
            call = None
    elif screen is not None:
        call = screen(update, context)
    if call is None:
        await query.answer(context.tr("help.stale_button"), show_alert=True)
        return await _stay(context)
    try:
        done = await call
    except QasidError as exc:
        return await _current(update, context, exc)
    if not isinstance(done, CampaignDraft):  # a screen of its own, shown
        return done
    await query.answer()
    return await _show_step(update, context, done)


async def _stay(context: BotContext) -> WizardStep | int:
    draft = await context.services.campaigns.draft(active_owner(context).id)
    return draft.step if draft else END


async def _edit_menu(update: Update, context: BotContext) -> WizardStep | int:
    """*Edit*: which answer to change (the draft stays at the summary)."""
    assert update.callback_query is not None
    await update.callback_query.answer()
    await show(update, rc.edit_menu(context.tr))
    return WizardStep.SUMMARY


async def _ask_confirm(update: Update, context: BotContext) -> WizardStep | int:
    """*Confirm*: at once, or after a second *Yes* when the summary asks twice."""
    summary = await context.services.campaigns.ask_big(active_owner(context).id)
    if not summary.asks_twice:
        return await _confirm(update, context, big_ok=False)
    assert update.callback_query is not None
    await update.callback_query.answer()
    await show(update, rc.confirm_big(context.tr, summary))
    return WizardStep.CONFIRM_BIG


async def _confirm_big(update: Update, context: BotContext) -> WizardStep | int:
    return await _confirm(update, context, big_ok=True)


async def _confirm(update: Update, context: BotContext, *, big_ok: bool) -> WizardStep | int:
    owner, tr = active_owner(context), context.tr
    try:
        summary = await context.services.campaigns.confirm(owner.id, big_ok=big_ok)
    except ValidationError as exc:
        return await _current(update, context, exc)
    assert update.callback_query is not None
    await update.callback_query.answer()
    await show(update, rc.confirmed(tr, summary))
    return END


async def _send_test(update: Update, context: BotContext) -> WizardStep | int:
    """*Send a test to me*: the first recipient's message to the owner's own WhatsApp."""
    owner, tr = active_owner(context), context.tr
    query = update.callback_query
    assert query is not None
    try:
        sample = await context.services.campaigns.test_message(owner.id)
        await query.answer(tr("summary.test_sending"))
        await context.services.dispatcher.send_test(sample)
    except GatewayFailed as exc:
        log.warning("test message: gateway %s", exc.reason)
        await reply(update, Screen(tr("summary.test_failed",
                                      reason=tr(f"stats.reason.{exc.reason}"))))
        return await _stay(context)
    except QasidError as exc:
        return await _current(update, context, exc)
    await reply(update, Screen(tr("summary.test_sent", phone=sample.to,
                                  number=rc.sender_label(sample.sender))))
    return await _stay(context)


async def _follow_up(update: Update, context: BotContext) -> WizardStep | int:
    """wiz:fu:<campaign>:<audience> (a campaign's stats, *New campaign to...*): the
    audience saved as a list, then the wizard at the template step with it chosen."""
    owner, tr = active_owner(context), context.tr
    parts = _parts(update)
    try:
        campaign_id, audience = int(parts[2]), Audience(parts[3])
    except (ValueError, IndexError):
        return await _stale(update, context)
    follow = await context.services.followups.new_campaign_to(
        owner.id, campaign_id, audience, tr(_AUDIENCE_NAMES[audience]))
    await context.services.prompts.drop(owner.id)  # the wizard's questions are the newer ones
    assert update.callback_query is not None
    await update.callback_query.answer()
    await reply(update, Screen(tr("followup.saved", name=follow.contact_list.name,
                                  count=follow.contact_list.size)))
    return await _show_step(update, context, follow.draft, new_message=True)


async def _run_again(update: Update, context: BotContext) -> WizardStep | int:
    """wiz:again:<campaign> (a campaign's stats, *Run again*): the wizard with its list,
    template, numbers and pace, asking when."""
    owner, tr = active_owner(context), context.tr
    parts = _parts(update)
    try:
        campaign_id = int(parts[2])
    except (ValueError, IndexError):
        return await _stale(update, context)
    draft = await context.services.campaigns.run_again(owner.id, campaign_id)
    await context.services.prompts.drop(owner.id)
    assert update.callback_query is not None
    await update.callback_query.answer()
    await reply(update, Screen(tr("again.note", id=campaign_id, name=draft.name)))
    return await _show_step(update, context, draft, new_message=True)


async def _stale(update: Update, context: BotContext) -> WizardStep | int:
    assert update.callback_query is not None
    await update.callback_query.answer(context.tr("help.stale_button"), show_alert=True)
    return await _stay(context)


# each audience's word in the name of the list a follow-up saves ("<campaign> - not read")
_AUDIENCE_NAMES = {
    Audience.NOT_READ: "followup.list.unread", Audience.FAILED: "followup.list.failed",
    Audience.REPLIED: "followup.list.replied", Audience.NOT_REPLIED: "followup.list.silent",
}

# A button that shows a screen of its own, wiz:<what>: the summary's, and the follow-ups
# of a campaign's stats that open the wizard.
_SCREENS: dict[str, Callable[[Update, BotContext], Awaitable[WizardStep | int]]] = {
    "edit": _edit_menu,
    "ok": _ask_confirm,
    "big": _confirm_big,
    "test": _send_test,
    "fu": _follow_up,
    "again": _run_again,
}


async def typed(update: Update, context: BotContext) -> WizardStep | int:
    """A typed answer: a date, a time of day, a custom pacing value, or the name."""
    owner, service = active_owner(context), context.services.campaigns
    assert update.message is not None
    text = update.message.text or ""
    draft = await service.draft(owner.id)
    answer = _TYPED_ANSWERS.get(draft.step) if draft else None
    if answer is None:
        await reply(update, Screen(context.tr("wizard.use_buttons")))
        return await _stay(context)
    try:
        draft = await answer(service, owner.id, text)
    except QasidError as exc:
        state = await _current(update, context, exc)  # why first
        if isinstance(exc, ValidationError) and exc.reason == "unparseable":
            # then what works (a time in the past or without a time needs no examples)
            await reply(update, Screen(context.tr("wizard.date_help", zone=owner_zone(context))))
        return state
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
    return draft_conversation(
        CAMPAIGN_WIZARD,
        entry_points=[
            CommandHandler("newcampaign", new_campaign),
            CallbackQueryHandler(new_campaign, pattern=r"^menu:newcampaign$"),
            # the wizard's buttons take it up again after a command left it
            buttons, cancel_button, restart_button,
        ],
        states={step: [buttons, typed_answer] for step in WizardStep},
        cancel=cancel, leave=leave,
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
            view = await service.view(owner.id, campaign_id)  # refused before any answer
            await query.answer()
            await show(update, rc.campaign_cancel_confirm(tr, view))
            return
        elif action in ("resend", "countsent"):
            view, count = await service.resolve_uncertain(owner.id, campaign_id,
                                                          resend=action == "resend")
            await query.answer(tr(f"campaigns.{action}_done", count=count), show_alert=True)
            await show(update, rc.campaign_card(tr, view, owner_zone(context)))
            return
        elif action == "cancelyes":
            view, released = await service.cancel(owner.id, campaign_id)
            await query.answer(tr("campaigns.cancelled", count=released), show_alert=True)
            await show(update, rc.campaign_card(tr, view, owner_zone(context)))
            return
        else:
            raise ValueError(action)
    except (ValueError, IndexError, QasidError) as exc:
        await refuse(query, context, exc)
        return
    await query.answer()
    checks = await context.services.number_checks.campaign(view.campaign.id)
    await show(update, rc.campaign_card(tr, view, owner_zone(context), checks))
