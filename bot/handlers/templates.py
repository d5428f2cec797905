"""Templates in chat: /templates (preview, edit, delete) and the composer (/newtemplate).

The composer is a ``ConversationHandler`` whose state is the draft's step, kept in the
database by the templates service (see ``persistence.py``): a restart resumes it.
"""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.errors import QasidError
from bot.handlers import render_campaigns as rc
from bot.handlers.context import BotContext, active_owner
from bot.handlers.conversations import draft_conversation
from bot.handlers.persistence import TEMPLATE_COMPOSER
from bot.handlers.render import Screen, keyboard
from bot.handlers.replies import error_text, refuse, reply, show
from bot.i18n import Translator
from bot.services.formatting import Entity, to_whatsapp
from bot.services.prompts import Prompt, PromptKind
from bot.services.templates import TemplateDraft, TemplateProblems

END = ConversationHandler.END


def _parts(update: Update) -> list[str]:
    assert update.callback_query is not None
    return (update.callback_query.data or "").split(":")


async def _answer(update: Update) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer()


# --- /templates ------------------------------------------------------------------------------

async def templates_command(update: Update, context: BotContext) -> None:
    owner = active_owner(context)
    await _answer(update)
    await show(update, rc.templates_overview(context.tr,
                                             await context.services.templates.list(owner.id)))


async def template_button(update: Update, context: BotContext) -> None:
    """tpl:all | tpl:open:T | tpl:pv:T | tpl:pvl:T:L | tpl:del:T | tpl:delyes:T |
    tpl:cloud:T (name its approved Cloud API twin: the next typed message)"""
    owner, tr, service = active_owner(context), context.tr, context.services.templates
    parts = _parts(update)
    action = parts[1] if len(parts) > 1 else ""
    try:
        if action == "all":
            await templates_command(update, context)
            return
        if action not in ("open", "pv", "pvl", "del", "delyes", "cloud") or len(parts) < 3:
            assert update.callback_query is not None  # a tpl: button's handler
            await update.callback_query.answer(tr("help.stale_button"), show_alert=True)
            return
        template_id = int(parts[2])
        if action == "open":
            template = await service.get(owner.id, template_id)
            distinct = sum(service.compiled(template, n).distinct_texts()
                           for n in range(len(template.variants)))
            screen = rc.template_card(tr, template, distinct,
                                      cloud="cloud" in context.services.senders.kinds)
        elif action == "cloud":
            template = await service.get(owner.id, template_id)
            await context.services.prompts.ask(owner.id, PromptKind.CLOUD_TEMPLATE,
                                               template_id=template_id)
            screen = Screen(tr("templates.ask_cloud", name=template.name,
                               known=", ".join(sorted(await service.known_variables(owner.id)))))
            await _answer(update)
            await reply(update, screen)
            return
        elif action == "pv":
            template = await service.get(owner.id, template_id)
            screen = rc.preview_pick_list(tr, template,
                                          await context.services.contacts.lists(owner.id))
        elif action == "pvl":
            result = await service.preview(owner.id, template_id, int(parts[3]))
            screen = rc.preview(tr, result, int(parts[3]))
        elif action == "del":
            screen = rc.template_delete_confirm(tr, await service.get(owner.id, template_id))
        else:
            template = await service.delete(owner.id, template_id)
            await _answer(update)
            await show(update, Screen(tr("templates.deleted", name=template.name)))
            await reply(update, rc.templates_overview(tr, await service.list(owner.id)))
            return
    except (QasidError, ValueError, IndexError) as exc:  # a forged or stale button too
        assert update.callback_query is not None
        await refuse(update.callback_query, context, exc)
        return
    await _answer(update)
    await show(update, screen)


# --- the composer ----------------------------------------------------------------------------

async def compose_new(update: Update, context: BotContext) -> str:
    """/newtemplate: a new template, or the one the owner left unfinished, where it was."""
    owner, tr, service = active_owner(context), context.tr, context.services.templates
    await _answer(update)
    await context.services.prompts.drop(owner.id)  # the composer's question is the newer one
    draft = await service.draft(owner.id)
    if draft is not None and draft.has_work:
        draft = await service.resume(owner.id)
        await reply(update, Screen(tr("composer.resumed", name=draft.name),
                                   keyboard([(tr("composer.start_new"), "tpl:c:new")])))
    else:
        draft = await service.start(owner.id)
    await reply(update, rc.composer(tr, draft))
    return draft.step


async def compose_edit(update: Update, context: BotContext) -> str | int:
    owner = active_owner(context)
    try:
        draft = await context.services.templates.start(owner.id, int(_parts(update)[2]))
    except QasidError as exc:
        assert update.callback_query is not None  # the tpl:edit: button's handler
        await update.callback_query.answer(error_text(context, exc), show_alert=True)
        return END
    await context.services.prompts.drop(owner.id)  # the composer's question is the newer one
    await _answer(update)
    await reply(update, Screen(context.tr("composer.editing", name=draft.name)))
    await reply(update, rc.composer(context.tr, draft))
    return draft.step


async def compose_name(update: Update, context: BotContext) -> str:
    owner = active_owner(context)
    assert update.message is not None
    try:
        draft = await context.services.templates.set_name(owner.id, update.message.text or "")
    except QasidError as exc:
        await reply(update, Screen(error_text(context, exc)))
        return "name"
    await reply(update, rc.composer(context.tr, draft))
    return draft.step


def _whatsapp_text(message: Message) -> str:
    """The message's text or caption, its Telegram formatting turned into WhatsApp's."""
    text = message.text if message.text is not None else (message.caption or "")
    entities = message.entities if message.text is not None else message.caption_entities
    return to_whatsapp(text, [Entity(str(e.type), e.offset, e.length, e.url)
                              for e in entities or ()])


async def compose_text(update: Update, context: BotContext) -> str:
    owner, tr, service = active_owner(context), context.tr, context.services.templates
    message = update.message
    assert message is not None
    media_kind = media_id = None
    if message.photo:
        media_kind, media_id = "image", message.photo[-1].file_id
    elif message.document is not None:
        media_kind, media_id = "document", message.document.file_id
    text = _whatsapp_text(message)
    try:
        draft = await service.add_text(owner.id, text, media_kind=media_kind,
                                       media_file_id=media_id)
    except TemplateProblems as exc:
        await reply(update, rc.template_problems(tr, exc.problems,
                                                 await service.known_variables(owner.id)))
        return "text"
    except QasidError as exc:
        await reply(update, Screen(error_text(context, exc)))
        return "text"
    await reply(update, rc.composer(tr, draft, added=text.strip() or None))
    return draft.step


async def compose_button(update: Update, context: BotContext) -> str | int:
    """tpl:c:save | tpl:c:undo | tpl:c:nomedia | tpl:c:cancel | tpl:c:new (start afresh)"""
    owner, tr, service = active_owner(context), context.tr, context.services.templates
    action = _parts(update)[2]
    await _answer(update)
    if action == "cancel":
        await show(update, Screen(_cancelled(tr, await service.cancel(owner.id))))
        return END
    if action == "new":
        draft = await service.start(owner.id)
        await reply(update, rc.composer(tr, draft))
        return draft.step
    try:
        if action == "save":
            template = await service.save(owner.id)
            await show(update, Screen(tr("composer.saved", name=template.name)))
            distinct = sum(service.compiled(template, n).distinct_texts()
                           for n in range(len(template.variants)))
            await reply(update, rc.template_card(tr, template, distinct))
            return END
        draft = (await service.drop_last(owner.id) if action == "undo"
                 else await service.drop_media(owner.id))
    except TemplateProblems as exc:
        await reply(update, rc.template_problems(tr, exc.problems,
                                                 await service.known_variables(owner.id),
                                                 exc.variant))
        return "text"
    except QasidError as exc:
        await reply(update, Screen(error_text(context, exc)))
        kept = await service.draft(owner.id)
        return kept.step if kept else END
    await show(update, rc.composer(tr, draft))
    return draft.step


async def compose_leave(update: Update, context: BotContext) -> int:
    """A command typed in the composer: it runs, the draft is kept for /newtemplate."""
    if context.owner is not None:
        await context.services.templates.leave(context.owner.id)
    return END


async def compose_cancel(update: Update, context: BotContext) -> int:
    dropped = await context.services.templates.cancel(active_owner(context).id)
    await reply(update, Screen(_cancelled(context.tr, dropped)))
    return END


def _cancelled(tr: Translator, dropped: TemplateDraft | None) -> str:
    """A new template: not saved; an edit: its changes are gone, the template is as it was."""
    if dropped is not None and dropped.template_id is not None:
        return tr("composer.edit_cancelled", name=dropped.name)
    return tr("composer.cancelled")


def composer_handler() -> ConversationHandler:
    text = filters.TEXT & ~filters.COMMAND
    content = (filters.TEXT | filters.PHOTO | filters.Document.ALL) & ~filters.COMMAND
    buttons = CallbackQueryHandler(compose_button,
                                   pattern=r"^tpl:c:(save|undo|nomedia|cancel|new)$")
    return draft_conversation(
        TEMPLATE_COMPOSER,
        entry_points=[
            CommandHandler("newtemplate", compose_new),
            CallbackQueryHandler(compose_new, pattern=r"^tpl:new$"),
            CallbackQueryHandler(compose_edit, pattern=r"^tpl:edit:\d+$"),
            buttons,  # the composer's buttons take it up again after a command left it
        ],
        states={
            "name": [MessageHandler(text, compose_name)],
            "text": [MessageHandler(content, compose_text)],
        },
        cancel=compose_cancel, leave=compose_leave,
    )


async def cloud_template_typed(update: Update, context: BotContext, prompt: Prompt,
                               text: str) -> None:
    """The approved Cloud API template a template stands for (``PromptKind.CLOUD_TEMPLATE``)."""
    owner, tr, service = active_owner(context), context.tr, context.services.templates
    try:
        template = await service.link_cloud(owner.id, prompt.id("template_id"), text)
    except QasidError as exc:
        await reply(update, Screen(error_text(context, exc) + "\n" + tr("templates.cloud_again")))
        return
    done = (tr("templates.cloud_saved", name=template.cloud.name) if template.cloud
            else tr("templates.cloud_removed"))
    await reply(update, Screen(done, keyboard([(tr("templates.open"), f"tpl:open:{template.id}")])))
