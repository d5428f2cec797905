"""/contact <phone or name>: a contact's card, and its buttons (ctc:): rename, an
attribute (typed answers: ``PromptKind.CONTACT_EDIT``), opt out or in, delete and forget
(asked twice). *Reply* and *Mute* on a card are the inbox's (``ibx:``)."""

from __future__ import annotations

from telegram import Update

from bot.errors import QasidError
from bot.handlers import render_contact_card as rcc
from bot.handlers.context import BotContext, active_owner, owner_zone
from bot.handlers.render import Screen
from bot.handlers.replies import error_text, refuse, reply, show
from bot.services.prompts import Prompt, PromptKind


async def contact_command(update: Update, context: BotContext) -> None:
    owner, tr = active_owner(context), context.tr
    query = " ".join(context.args or [])
    if not query:
        await reply(update, Screen(tr("card.usage")))
        return
    cards = context.services.contact_card
    try:
        found = await cards.find(owner.id, query, owner.region)
        if len(found) == 1:
            await reply(update, rcc.card(tr, await cards.card(owner.id, found[0].id),
                                         owner_zone(context)))
            return
    except QasidError as exc:
        await reply(update, Screen(error_text(context, exc)))
        return
    await reply(update, rcc.found(tr, query, found))


async def card_button(update: Update, context: BotContext) -> None:
    """ctc:show|name|attr|out|in|del|delok:<contact>"""
    owner, tr = active_owner(context), context.tr
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").split(":")
    cards = context.services.contact_card
    try:
        action, contact_id = parts[1], int(parts[2])
        contact = await cards.get(owner.id, contact_id)
        if action in ("name", "attr"):
            field = "name" if action == "name" else "attribute"
            await context.services.prompts.ask(owner.id, PromptKind.CONTACT_EDIT,
                                               contact_id=contact.id, field=field)
            await query.answer()
            await reply(update, rcc.edit_prompt(tr, contact, field))
            return
        if action == "del":
            await query.answer()
            await show(update, rcc.delete_confirm(tr, contact))
            return
        if action == "delok":
            gone = await cards.forget(owner.id, contact.id)
            await query.answer()
            await show(update, rcc.deleted(tr, gone))
            return
        if action == "out":
            await context.services.contacts.opt_out(owner.id, contact.phone,
                                                    "opted out from the contact card")
        elif action == "in":
            await context.services.contacts.opt_in(owner.id, contact.phone)
        elif action != "show":
            raise ValueError(action)
        await query.answer()
        await show(update, rcc.card(tr, await cards.card(owner.id, contact.id),
                                    owner_zone(context)))
    except (ValueError, IndexError, QasidError) as exc:
        await refuse(query, context, exc)


async def edit_typed(update: Update, context: BotContext, prompt: Prompt, text: str) -> None:
    """A contact's new name, or ``key: value`` for an attribute, typed after the card's
    button (``PromptKind.CONTACT_EDIT``); a wrong answer keeps the question open."""
    owner, tr = active_owner(context), context.tr
    cards = context.services.contact_card
    try:
        if prompt.payload.get("field") == "name":
            contact = await cards.rename(owner.id, prompt.id("contact_id"), text)
        else:
            contact = await cards.set_attribute(owner.id, prompt.id("contact_id"), text)
    except QasidError as exc:
        await reply(update, Screen(error_text(context, exc)))
        return
    await reply(update, Screen(tr("card.saved")))
    await reply(update, rcc.card(tr, await cards.card(owner.id, contact.id),
                                 owner_zone(context)))
