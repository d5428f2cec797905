"""/api: the owner's API keys, made, listed and revoked in the chat.

*New key* asks the key's name (a prompt, ``PromptKind.API_KEY_NAME``: it survives a
restart, and ``handlers/prompts.py`` hands the typed name here); then the scopes are
toggled on buttons and *Create* shows the key, this once. *Revoke* asks first; a revoked
key stops working at once. The key being made is a draft in the database
(``ApiKeysService``), so its buttons work after a restart too.
"""

from __future__ import annotations

from telegram import Update

from bot.domain import Scope
from bot.errors import NotFound, QasidError
from bot.handlers import render_api
from bot.handlers.context import BotContext, active_owner, owner_zone
from bot.handlers.render import Screen
from bot.handlers.replies import error_text, refuse, reply, show
from bot.services.prompts import Prompt, PromptKind


async def _keys(context: BotContext, note: str | None = None) -> Screen:
    keys = await context.services.api_keys.list(active_owner(context).id)
    return render_api.keys_screen(context.tr, keys, owner_zone(context), note)


async def api_command(update: Update, context: BotContext) -> None:
    """/api and the API button of the main menu (``api:all``)."""
    await reply(update, await _keys(context))


async def api_button(update: Update, context: BotContext) -> None:
    """``api:<action>[:<value>]`` (``render_api`` lists them)."""
    query = update.callback_query
    assert query is not None
    owner, tr = active_owner(context), context.tr
    keys, prompts = context.services.api_keys, context.services.prompts
    action, _, value = (query.data or "").removeprefix("api:").partition(":")
    try:
        if action == "all":
            screen = await _keys(context)
        elif action == "new":
            await keys.check_room(owner.id)
            await prompts.ask(owner.id, PromptKind.API_KEY_NAME)
            screen = render_api.name_question(tr)
        elif action == "sc":
            screen = render_api.scopes_question(tr, await keys.toggle_scope(owner.id,
                                                                             Scope(value)))
        elif action == "mk":
            screen = render_api.created(tr, await keys.create_from_draft(owner.id))
        elif action == "cancel":
            await keys.drop_draft(owner.id)
            screen = await _keys(context)
        elif action == "rv":
            key = await keys.get(owner.id, int(value))
            if not key.active:  # revoked already, from another message
                raise ValueError(value)
            screen = render_api.revoke_question(tr, key)
        elif action == "rvok":
            key = await keys.get(owner.id, int(value))
            revoked = await keys.revoke(owner.id, key.id)
            screen = await _keys(context, tr("api.revoked", name=key.name) if revoked else None)
        else:
            raise ValueError(action)
    except NotFound as exc:  # another owner's key, or a draft already made or dropped
        await refuse(query, context, exc if exc.detail == "api_key" else ValueError())
        return
    except (QasidError, ValueError) as exc:
        await refuse(query, context, exc)
        return
    await query.answer()
    await show(update, screen)


async def key_name_typed(update: Update, context: BotContext, prompt: Prompt,
                         text: str) -> None:
    """The new key's name, typed after *New key*: then its scopes."""
    owner = active_owner(context)
    try:
        draft = await context.services.api_keys.start_draft(owner.id, text)
    except QasidError as exc:  # too short, too long: the question stays open
        await reply(update, Screen(error_text(context, exc)))
        return
    await reply(update, render_api.scopes_question(context.tr, draft))
