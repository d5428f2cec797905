"""/webhooks (and *Webhooks* under /api): the owner's outgoing webhook endpoints.

*Add endpoint* asks the URL (a prompt, ``PromptKind.WEBHOOK_URL``: it survives a restart,
and ``handlers/prompts.py`` hands the typed URL here); the endpoint is made subscribed to
every event, its signing secret shown in a message of its own, this once, and the events
follow as toggles. An endpoint's card lists its last deliveries (status, time in the
owner's zone) with *Send test event*, *Events*, *Pause* / *Resume* and *Delete* (asked
first). ``render_webhooks`` lists the buttons.
"""

from __future__ import annotations

from telegram import Update

from bot.errors import NotFound, QasidError
from bot.handlers import render_webhooks as rw
from bot.handlers.context import BotContext, active_owner, owner_zone
from bot.handlers.render import Screen
from bot.handlers.replies import error_text, refuse, reply, show
from bot.services.prompts import Prompt, PromptKind


async def _list(context: BotContext, note: str | None = None) -> Screen:
    views = await context.services.webhooks.endpoints(active_owner(context).id)
    return rw.endpoints_screen(context.tr, views, owner_zone(context), note)


async def _card(context: BotContext, endpoint_id: int, note: str | None = None) -> Screen:
    owner, service = active_owner(context), context.services.webhooks
    endpoint = await service.get(owner.id, endpoint_id)
    deliveries = await service.deliveries(owner.id, endpoint_id, rw.SHOWN_DELIVERIES)
    return rw.endpoint_card(context.tr, endpoint, deliveries, owner_zone(context), note)


async def webhooks_command(update: Update, context: BotContext) -> None:
    """/webhooks."""
    await reply(update, await _list(context))


async def webhook_button(update: Update, context: BotContext) -> None:
    """``wh:<action>[:<id>[:<n>]]``."""
    query = update.callback_query
    assert query is not None
    owner, tr = active_owner(context), context.tr
    service, prompts = context.services.webhooks, context.services.prompts
    action, _, rest = (query.data or "").removeprefix("wh:").partition(":")
    endpoint_id, _, number = rest.partition(":")
    try:
        if action == "all":
            screen = await _list(context)
        elif action == "new":
            await prompts.ask(owner.id, PromptKind.WEBHOOK_URL)
            screen = rw.url_question(tr)
        elif action == "cancel":
            await prompts.drop(owner.id, PromptKind.WEBHOOK_URL)
            screen = await _list(context)
        elif action == "open":
            screen = await _card(context, int(endpoint_id))
        elif action == "ev":
            screen = rw.events_question(tr, await service.get(owner.id, int(endpoint_id)))
        elif action == "tg":
            kind = rw.EVENT_TYPES[int(number)]
            screen = rw.events_question(tr, await service.toggle_event(
                owner.id, int(endpoint_id), kind.value))
        elif action == "any":
            screen = rw.events_question(tr, await service.set_events(
                owner.id, int(endpoint_id), ["*"]))
        elif action == "test":
            await query.answer(tr("webhooks.testing"))
            result = await service.send_test(owner.id, int(endpoint_id))
            await show(update, await _card(context, int(endpoint_id), rw.test_note(tr, result)))
            return
        elif action in ("off", "on"):
            await service.set_enabled(owner.id, int(endpoint_id), action == "on")
            screen = await _card(context, int(endpoint_id))
        elif action == "rm":
            screen = rw.delete_question(tr, await service.get(owner.id, int(endpoint_id)))
        elif action == "rmok":
            endpoint = await service.get(owner.id, int(endpoint_id))
            await service.delete(owner.id, endpoint.id)
            screen = await _list(context, tr("webhooks.deleted", url=endpoint.url))
        else:
            raise ValueError(action)
    except NotFound as exc:  # another owner's endpoint, or one deleted meanwhile
        await refuse(query, context, exc)
        return
    except (QasidError, ValueError, IndexError) as exc:
        await refuse(query, context, exc)
        return
    await query.answer()
    await show(update, screen)


async def url_typed(update: Update, context: BotContext, prompt: Prompt, text: str) -> None:
    """The new endpoint's URL, typed after *Add endpoint*: its secret, then its events."""
    owner = active_owner(context)
    try:
        made = await context.services.webhooks.create(owner.id, text, answers_prompt=True)
    except QasidError as exc:  # not https, a private address...: the question stays open
        await reply(update, Screen(error_text(context, exc) + "\n\n"
                                   + context.tr("webhooks.type_again")))
        return
    await reply(update, rw.created(context.tr, made))
    await reply(update, rw.events_question(context.tr, made.endpoint))
