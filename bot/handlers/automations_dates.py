"""*New date message* (under /automations): the date column (offered from the owner's
contacts' attributes that hold dates), before / on / after and how many days, the time of
day (a button, or typed ``HH:MM``), every year or once, the template: five taps, and the
date message is on, with how many contacts have a valid date, an invalid one or none, and
the next sends.

The answers so far live in the open question (``PromptKind.DATE_NEW``, its payload:
``columns`` offered, then ``attribute``, ``when`` and ``days``, ``at``, ``yearly``), so the
wizard survives a restart; a typed command drops it. ``render_dates`` draws the screens
and lists the buttons (``adt:``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update

from bot.domain import Automation, AutomationKind
from bot.errors import QasidError
from bot.handlers import render_dates as rd
from bot.handlers.context import BotContext, active_owner, owner_zone
from bot.handlers.render import Screen
from bot.handlers.replies import refuse, reply, show
from bot.services.automations_dates import DateConfig, parse_date_config
from bot.services.prompts import Prompt, PromptKind

ASK = PromptKind.DATE_NEW


async def start(update: Update, context: BotContext, edit: int | None = None) -> None:
    """*New date message* (or *Edit* of one, ``edit``: its id): the date column is asked."""
    owner = active_owner(context)
    columns = await context.services.automation_dates.columns(owner.id)
    extra = {} if edit is None else {"edit": edit}
    await context.services.prompts.ask(owner.id, ASK,
                                       columns=[name for name, _ in columns[:rd.SHOWN]],
                                       **extra)
    await show(update, rd.column_question(context.tr, columns))


async def typed(update: Update, context: BotContext, prompt: Prompt, text: str) -> None:
    """Typed while the wizard is open: the time of day (``HH:MM``) when it is asked."""
    payload = dict(prompt.payload)
    if "days" not in payload or "at" in payload:
        await reply(update, Screen(context.tr("error.unexpected_text")))
        return
    try:
        at = _time(text)
    except QasidError:
        await reply(update, Screen(context.tr("dates.bad_time")))
        return
    await context.services.prompts.ask(active_owner(context).id, ASK, **payload, at=at)
    await reply(update, rd.yearly_question(context.tr, at))


def _time(text: str) -> str:
    """``HH:MM`` (or ``HHMM`` from a button) as the config stores it."""
    raw = text.strip()
    if raw.isdigit() and len(raw) == 4:
        raw = f"{raw[:2]}:{raw[2:]}"
    return str(parse_date_config({"attribute": "x", "template_id": 0, "at": raw})["at"])


async def button(update: Update, context: BotContext) -> None:
    """``adt:<action>[:<value>]``."""
    query = update.callback_query
    assert query is not None
    owner, tr, services = active_owner(context), context.tr, context.services
    action, _, value = (query.data or "").removeprefix("adt:").partition(":")
    try:
        if action in ("new", "ed"):
            edit = None
            if action == "ed":
                edit = (await services.automations.get(owner.id, int(value))).id
            await start(update, context, edit)
            await query.answer()
            return
        if action == "cancel":
            await services.prompts.drop(owner.id, ASK)
            await show(update, rd.cancelled(tr))
            await query.answer()
            return
        if action == "f":
            automation = await services.automations.get(owner.id, int(value))
            screen = rd.figures_screen(tr, automation, await figures(context, automation))
            await query.answer()
            await show(update, screen)
            return
        asked = await services.prompts.pending(owner.id)
        if asked is None or asked.kind is not ASK or "columns" not in asked.payload:
            raise ValueError("the wizard is not open")  # an old button: stale
        payload = dict(asked.payload)
        kept: dict[str, Any] = {k: payload[k] for k in ("columns", "edit") if k in payload}
        if action == "a":
            column = str(payload["columns"][int(value)])
            payload = {**kept, "attribute": column}
            screen = rd.offset_question(tr, column)
        elif action == "o" and "attribute" in payload:
            when, _, days = value.partition(":")
            payload = {**kept, "attribute": payload["attribute"], "when": when,
                       "days": int(days)}
            screen = rd.time_question(tr, str(payload["attribute"]), when, int(days))
        elif action == "t" and "days" in payload:
            payload["at"] = _time(value)
            payload.pop("yearly", None)
            screen = rd.yearly_question(tr, str(payload["at"]))
        elif action == "y" and "at" in payload:
            payload["yearly"] = value == "1"
            screen = rd.template_question(tr, await services.templates.list(owner.id))
        elif action == "p" and "yearly" in payload:
            screen = await _make(context, payload, int(value))
            await query.answer()
            await show(update, screen)
            return
        else:
            raise ValueError(f"unknown date wizard button {action!r}")
        await services.prompts.ask(owner.id, ASK, **payload)
    except (QasidError, ValueError, IndexError) as exc:
        await refuse(query, context, exc)
        return
    await query.answer()
    await show(update, screen)


async def _make(context: BotContext, payload: dict, template_id: int) -> Screen:
    owner, services, tr = active_owner(context), context.services, context.tr
    template = await services.templates.get(owner.id, template_id)
    name = rd.name_for(tr, str(payload["attribute"]), str(payload["when"]),
                       int(payload["days"]))
    config = {"attribute": payload["attribute"], "when": payload["when"],
              "days": payload["days"], "at": payload["at"], "yearly": payload["yearly"],
              "template_id": template.id}
    if payload.get("edit") is not None:  # Edit: the same date message, new settings
        made = await services.automations.update(owner.id, int(payload["edit"]), name=name,
                                                 config=config)
        await services.automation_dates.edited(owner.id, made.id)
    else:
        made = await services.automations.create(owner.id, AutomationKind.DATE.value, name,
                                                 config)
    await services.prompts.drop(owner.id, ASK)
    return rd.made(tr, made, template.name, await figures(context, made))


async def figures(context: BotContext, automation: Automation) -> str:
    """A date message's counts and next sends, as its card shows them (the times in the
    owner's zone)."""
    owner = active_owner(context)
    found = await context.services.automation_dates.figures(owner.id, automation.id)
    zone = ZoneInfo(owner_zone(context))
    sends = [(_when(s.at, zone), s.phone) for s in found.next_sends]
    return rd.figures_text(context.tr, DateConfig.of(automation.config), found, sends)


def _when(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%d.%m.%Y %H:%M")
