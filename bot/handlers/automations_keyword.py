"""*New keyword reply* (under /automations): the keywords (typed, several at once, commas
between them), the template to answer with, how often one contact is answered at most
(24 hours unless chosen), and an optional list the contact joins: four steps, the last
three buttons, and the keyword reply is on. Its *Edit* on the card walks the same steps
and changes it (``automation_id`` in the payload).

The answers so far live in the open question (``PromptKind.KEYWORD_NEW``, its payload:
``keywords``, then ``template_id`` and ``cooldown_hours``), so the wizard survives a
restart; a typed command drops it. ``render_keywords`` draws the screens and lists the
buttons (``akw:``).
"""

from __future__ import annotations

from telegram import Update

from bot.domain import AutomationKind
from bot.errors import QasidError, ValidationError
from bot.handlers import render_automations as ra
from bot.handlers import render_keywords as rk
from bot.handlers.context import BotContext, active_owner
from bot.handlers.render import Screen
from bot.handlers.replies import error_text, refuse, reply, show
from bot.services.keyword_replies import MAX_COOLDOWN_HOURS, parse_keywords
from bot.services.prompts import Prompt, PromptKind

ASK = PromptKind.KEYWORD_NEW


async def start(update: Update, context: BotContext, automation_id: int | None = None
                ) -> None:
    """*New keyword reply* (or *Edit* of one: ``automation_id``, checked as the owner's):
    the keywords are asked (the next typed message answers)."""
    owner = active_owner(context)
    if automation_id is None:
        await context.services.prompts.ask(owner.id, ASK)
        await show(update, rk.keywords_question(context.tr))
        return
    current = await context.services.automations.get(owner.id, automation_id)
    if current.kind != AutomationKind.KEYWORD:
        raise ValueError("not a keyword reply")
    await context.services.prompts.ask(owner.id, ASK, automation_id=current.id)
    await show(update, rk.keywords_question(context.tr, current))


async def _templates(context: BotContext, keywords: list[str]) -> Screen:
    owner = active_owner(context)
    return rk.template_question(context.tr, keywords,
                                await context.services.templates.list(owner.id))


async def _lists(context: BotContext, hours: int) -> Screen:
    owner = active_owner(context)
    return rk.list_question(context.tr, hours, await context.services.contacts.lists(owner.id))


async def typed(update: Update, context: BotContext, prompt: Prompt, text: str) -> None:
    """Typed while the wizard is open: the keywords (first), or the hours (a number
    instead of a button); anything else is asked again."""
    owner, tr, prompts = active_owner(context), context.tr, context.services.prompts
    payload = dict(prompt.payload)
    try:
        if "keywords" not in payload:
            keywords = parse_keywords(text)
            await prompts.ask(owner.id, ASK, **payload, keywords=keywords)
            await reply(update, await _templates(context, keywords))
        elif "template_id" in payload and "cooldown_hours" not in payload:
            hours = _hours(text)
            await prompts.ask(owner.id, ASK, **payload, cooldown_hours=hours)
            await reply(update, await _lists(context, hours))
        else:
            await reply(update, Screen(tr("error.unexpected_text")))
    except QasidError as exc:  # the question stays open: typed again
        await reply(update, Screen(error_text(context, exc) + "\n\n"
                                   + tr("keywords.type_again")))


def _hours(text: str) -> int:
    digits = text.strip().lower().removesuffix("h").strip()
    if not digits.isdigit():
        raise ValidationError("keyword_not_a_number", where="cooldown_hours")
    hours = int(digits)
    if not 1 <= hours <= MAX_COOLDOWN_HOURS:
        raise ValidationError("out_of_range", where="cooldown_hours", min=1,
                              max=MAX_COOLDOWN_HOURS)
    return hours


async def button(update: Update, context: BotContext) -> None:
    """``akw:<action>[:<id>]``."""
    query = update.callback_query
    assert query is not None
    owner, tr, services = active_owner(context), context.tr, context.services
    action, _, value = (query.data or "").removeprefix("akw:").partition(":")
    try:
        if action in ("new", "ed"):
            await start(update, context, int(value) if action == "ed" else None)
            await query.answer()
            return
        if action == "cancel":
            await services.prompts.drop(owner.id, ASK)
            await show(update, rk.cancelled(tr))
            await query.answer()
            return
        asked = await services.prompts.pending(owner.id)
        if asked is None or asked.kind is not ASK or "keywords" not in asked.payload:
            raise ValueError("the wizard is not open")  # an old button: stale
        payload = dict(asked.payload)
        if action == "t":
            template = await services.templates.get(owner.id, int(value))
            payload.pop("cooldown_hours", None)
            await services.prompts.ask(owner.id, ASK, **{**payload,
                                                         "template_id": template.id})
            screen = rk.cooldown_question(tr, template)
        elif action == "c" and "template_id" in payload:
            hours = _hours(value)
            await services.prompts.ask(owner.id, ASK, **{**payload, "cooldown_hours": hours})
            screen = await _lists(context, hours)
        elif action == "l" and "cooldown_hours" in payload:
            screen = await _make(context, payload, int(value) or None)
        else:
            raise ValueError(f"unknown keyword wizard button {action!r}")
    except (QasidError, ValueError) as exc:
        await refuse(query, context, exc)
        return
    await query.answer()
    await show(update, screen)


async def _make(context: BotContext, payload: dict, list_id: int | None) -> Screen:
    owner, services = active_owner(context), context.services
    keywords = [str(k) for k in payload["keywords"]]
    template = await services.templates.get(owner.id, int(payload["template_id"]))
    list_name = None
    if list_id is not None:
        list_name = (await services.contacts.get_list(owner.id, list_id)).name
    config = {"keywords": keywords, "template_id": template.id,
              "cooldown_hours": int(payload["cooldown_hours"]), "list_id": list_id}
    if "automation_id" in payload:  # Edit: the same automation, its new settings
        made = await services.automations.update(
            owner.id, int(payload["automation_id"]), name=rk.name_for(keywords),
            config=config)
    else:
        made = await services.automations.create(
            owner.id, AutomationKind.KEYWORD.value, rk.name_for(keywords), config)
    await services.prompts.drop(owner.id, ASK)
    return rk.made(context.tr, made, template.name, list_name, f"aut:open:{made.id}",
                   "aut:all")


# /automations (``bot/handlers/automations.py``, ``render_automations``): the list's
# *New keyword reply*, a line about its settings on the card, and its *Edit*
ra.NEW_BUTTONS.append(("keywords.new_button", "akw:new"))
ra.DESCRIBE[AutomationKind.KEYWORD.value] = rk.describe
ra.EDITORS[AutomationKind.KEYWORD.value] = "akw:ed:{id}"


