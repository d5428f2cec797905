"""/packages (admins): the packages owners can buy, defined in the chat.

The list shows each package with its state and a button; a package's card has *Edit*
(one field: its question is a prompt, ``PromptKind.PACKAGE_EDIT``) and *Hide* / *Show*.
*New package* asks its five questions one at a time (``PromptKind.PACKAGE_NEW``; the
first also takes the whole package in one line). Typed answers reach ``new_typed`` and
``edit_typed`` through ``handlers/prompts.py``; a wrong one is told what is wrong and the
question stays open. ``PackagesService`` checks that the caller is an admin.
"""

from __future__ import annotations

from telegram import Update

from bot.errors import QasidError
from bot.handlers import render_packages as rp
from bot.handlers.context import BotContext
from bot.handlers.render import Screen
from bot.handlers.replies import error_text, refuse, reply, say_error, show
from bot.services.packages import FIELDS
from bot.services.prompts import Prompt


def _admin_id(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


async def packages_command(update: Update, context: BotContext) -> None:
    """/packages"""
    try:
        packages = await context.services.packages.every(_admin_id(update))
    except QasidError as exc:  # not an admin
        await say_error(update, context, exc)
        return
    await reply(update, rp.packages_list(context.tr, packages))


async def package_button(update: Update, context: BotContext) -> None:
    """``pkg:<action>[:<id>[:<field>]]`` (``render_packages`` lists them)."""
    query = update.callback_query
    assert query is not None
    service, tr, admin_id = context.services.packages, context.tr, _admin_id(update)
    action, *rest = (query.data or "").removeprefix("pkg:").split(":")
    try:
        ids = [int(rest[0])] if rest else []
        if action == "all":
            screen = rp.packages_list(tr, await service.every(admin_id))
        elif action == "new":
            await service.start_new(admin_id)
            screen = rp.new_question(tr, FIELDS[0], service.currency)
        elif action == "view":
            screen = rp.package_card(tr, await service.get(admin_id, ids[0]))
        elif action == "ed" and len(rest) == 2 and rest[1] in FIELDS:
            package = await service.start_edit(admin_id, ids[0], rest[1])
            screen = rp.edit_question(tr, package, rest[1], service.currency)
        elif action in ("hide", "show"):
            package = await service.set_active(admin_id, ids[0], action == "show")
            note = tr("packages.shown" if package.active else "packages.now_hidden")
            screen = rp.package_card(tr, package, note)
        elif action == "cancel":
            await service.drop_question(admin_id)
            screen = (rp.package_card(tr, await service.get(admin_id, ids[0])) if ids
                      else rp.packages_list(tr, await service.every(admin_id)))
        else:
            raise ValueError(query.data)
    except (QasidError, ValueError, IndexError) as exc:
        await refuse(query, context, exc if isinstance(exc, QasidError) else ValueError())
        return
    await query.answer()
    await show(update, screen)


async def new_typed(update: Update, context: BotContext, prompt: Prompt, text: str) -> None:
    """An answer to *New package*'s question: the next question, or the package made."""
    service, tr = context.services.packages, context.tr
    try:
        step = await service.answer_new(_admin_id(update), prompt.payload, text)
    except QasidError as exc:  # the question stays open
        await reply(update, Screen(error_text(context, exc)))
        return
    if step.package is None:
        assert step.question is not None
        await reply(update, rp.new_question(tr, step.question, service.currency))
        return
    await reply(update, rp.package_card(tr, step.package, tr("packages.made")))


async def edit_typed(update: Update, context: BotContext, prompt: Prompt, text: str) -> None:
    """The new value of the field *Edit* asked for."""
    tr = context.tr
    try:
        package = await context.services.packages.edit(
            _admin_id(update), prompt.id("package_id"), str(prompt.payload["field"]), text)
    except QasidError as exc:  # the question stays open
        await reply(update, Screen(error_text(context, exc)))
        return
    await reply(update, rp.package_card(tr, package, tr("packages.changed")))
