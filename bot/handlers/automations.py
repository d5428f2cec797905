"""/automations (and the main menu's *Automations*): the owner's standing rules.

The list shows each automation with its state; its card shows what it produced today
and in all, its messages' delivery figures and its next planned sends, with *Pause* /
*Resume*, *Edit* and *Delete* (asked first). *New sequence* is a handful of taps: the
list whose joiners it follows, then each step's template and wait (buttons), *Create*.
The draft is kept in an open question (``PromptKind.AUTOMATION_DRAFT``: it survives a
restart; a name typed meanwhile names the sequence). ``render_automations`` lists the
buttons; date messages and keyword replies add their own (their modules).
"""

from __future__ import annotations

from typing import Any

from telegram import Update

from bot.errors import NotFound, QasidError
from bot.handlers import render_automations as ra
from bot.handlers.context import BotContext, active_owner, owner_zone
from bot.handlers.render import Screen
from bot.handlers.replies import error_text, refuse, reply, show
from bot.services.prompts import Prompt, PromptKind


async def _names(context: BotContext) -> tuple[dict[int, str], dict[int, str]]:
    owner_id = active_owner(context).id
    lists = {x.id: x.name for x in await context.services.contacts.lists(owner_id)}
    templates = {t.id: t.name for t in await context.services.templates.list(owner_id)}
    return lists, templates


async def _list(context: BotContext, note: str | None = None) -> Screen:
    found = await context.services.automations.list(active_owner(context).id)
    return ra.list_screen(context.tr, found, note)


async def _card(context: BotContext, automation_id: int, note: str | None = None) -> Screen:
    zone = owner_zone(context)
    view = await context.services.automations.card(active_owner(context).id, automation_id,
                                                    zone)
    lists, templates = await _names(context)
    return ra.card(context.tr, view, zone, lists, templates, note)


async def _draft(context: BotContext) -> dict[str, Any]:
    asked = await context.services.prompts.pending(active_owner(context).id)
    if asked is None or asked.kind is not PromptKind.AUTOMATION_DRAFT:
        raise NotFound("draft")
    return dict(asked.payload)


async def _keep(context: BotContext, draft: dict[str, Any]) -> Screen:
    await context.services.prompts.ask(active_owner(context).id, PromptKind.AUTOMATION_DRAFT,
                                       **draft)
    lists, templates = await _names(context)
    return ra.draft_screen(context.tr, draft, lists, templates)


async def automations_command(update: Update, context: BotContext) -> None:
    """/automations."""
    await reply(update, await _list(context))


async def automation_button(update: Update, context: BotContext) -> None:
    """``aut:<action>[:<id>[:<n>[:<value>]]]`` (``render_automations``)."""
    query = update.callback_query
    assert query is not None
    owner, tr = active_owner(context), context.tr
    service, prompts = context.services.automations, context.services.prompts
    action, *args = (query.data or "").removeprefix("aut:").split(":")
    ids = [int(a) for a in args]
    try:
        if action == "all":
            screen = await _list(context)
        elif action == "open":
            screen = await _card(context, ids[0])
        elif action in ("off", "on"):
            if action == "off":
                skipped = await service.pause(owner.id, ids[0])
                note = tr("automations.paused_note", count=skipped)
            else:
                await service.resume(owner.id, ids[0])
                note = tr("automations.resumed_note")
            screen = await _card(context, ids[0], note)
        elif action == "rm":
            screen = ra.delete_question(tr, await service.get(owner.id, ids[0]))
        elif action == "rmok":
            gone = await service.get(owner.id, ids[0])
            await service.delete(owner.id, gone.id)
            screen = await _list(context, tr("automations.deleted", name=gone.name))
        elif action == "ed":
            _, templates = await _names(context)
            screen = ra.edit_screen(tr, await service.get(owner.id, ids[0]), templates)
        elif action == "rn":
            automation = await service.get(owner.id, ids[0])
            await prompts.ask(owner.id, PromptKind.AUTOMATION_RENAME,
                              automation_id=automation.id)
            screen = ra.rename_question(tr, automation)
        elif action == "et":
            screen = ra.templates_question(
                tr, await context.services.templates.list(owner.id),
                f"aut:eT:{ids[0]}:{ids[1]}:", f"aut:ed:{ids[0]}",
                tr("automations.ask_template", n=ids[1] + 1))
        elif action == "ew":
            screen = ra.waits_question(tr, f"aut:eW:{ids[0]}:{ids[1]}:", f"aut:ed:{ids[0]}",
                                       tr("automations.ask_wait", n=ids[1] + 1))
        elif action in ("eT", "eW"):
            automation = await service.get(owner.id, ids[0])
            config = dict(automation.config)
            steps = [dict(s) for s in config.get("steps") or []]
            step = steps[ids[1]]
            if action == "eT":
                step["template_id"] = ids[2]
            else:
                wait = ra.wait_step(ids[2])
                step.update(delay=wait.delay, unit=wait.unit, at=wait.at)
            config["steps"] = steps
            automation = await service.update(owner.id, automation.id, config=config)
            _, templates = await _names(context)
            screen = ra.edit_screen(tr, automation, templates)
        elif action == "new":
            screen = ra.lists_question(tr, await context.services.contacts.lists(owner.id))
        elif action == "nl":
            lists, _ = await _names(context)
            if ids[0] not in lists:
                raise NotFound("list", list_id=ids[0])
            screen = await _keep(context, {"list_id": ids[0], "steps": [],
                                           "name": lists[ids[0]]})
        elif action == "add":
            await _draft(context)
            screen = ra.templates_question(
                tr, await context.services.templates.list(owner.id), "aut:nt:", "aut:back",
                tr("automations.ask_template", n=len((await _draft(context))["steps"]) + 1))
        elif action == "nt":
            draft = await _draft(context)
            draft["template_id"] = ids[0]
            await prompts.ask(owner.id, PromptKind.AUTOMATION_DRAFT, **draft)
            screen = ra.waits_question(tr, "aut:nw:", "aut:back", tr(
                "automations.ask_wait", n=len(draft["steps"]) + 1))
        elif action == "nw":
            draft = await _draft(context)
            wait = ra.wait_step(ids[0])
            step = {"template_id": int(draft.pop("template_id")), "delay": wait.delay,
                    "unit": wait.unit, "after": "previous"}
            if wait.at:
                step["at"] = wait.at
            draft["steps"] = [*draft["steps"], step]
            screen = await _keep(context, draft)
        elif action == "back":
            draft = await _draft(context)
            draft.pop("template_id", None)
            screen = await _keep(context, draft)
        elif action == "ok":
            draft = await _draft(context)
            made = await service.create(owner.id, "sequence", draft.get("name") or "",
                                        {"list_id": draft["list_id"],
                                         "steps": draft["steps"]})
            await prompts.drop(owner.id, PromptKind.AUTOMATION_DRAFT)
            screen = await _card(context, made.id, tr("automations.created"))
        elif action == "x":
            await prompts.drop(owner.id, PromptKind.AUTOMATION_DRAFT)
            screen = await _list(context)
        else:
            raise ValueError(action)
    except (QasidError, ValueError, IndexError, KeyError) as exc:
        await refuse(query, context, exc)
        return
    await query.answer()
    await show(update, screen)


async def draft_typed(update: Update, context: BotContext, prompt: Prompt, text: str) -> None:
    """A name typed while a new sequence is drafted: it names the sequence."""
    draft = dict(prompt.payload)
    draft["name"] = " ".join(text.split())[:64]
    await reply(update, await _keep(context, draft))


async def rename_typed(update: Update, context: BotContext, prompt: Prompt, text: str) -> None:
    """An automation's new name, typed after *Rename*."""
    owner = active_owner(context)
    try:
        automation = await context.services.automations.update(
            owner.id, prompt.id("automation_id"), name=text)
    except QasidError as exc:  # blank or too long: the question stays open
        await reply(update, Screen(error_text(context, exc)))
        return
    await context.services.prompts.drop(owner.id, PromptKind.AUTOMATION_RENAME)
    _, templates = await _names(context)
    await reply(update, ra.edit_screen(context.tr, automation, templates))
