"""Customers' messages in the owner's chat: the answer to "asked to stop?" (rep:), and
the inbox (ibx:): *Reply* (the next message, photo or document goes to the customer),
*Opt out*, *Mute*, the approved twin when the 24-hour window closed, and /inbox (this
chat, or a linked forum group's topics; ``inbox_group.py`` is the group's side)."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.error import TelegramError

from bot.domain import InboxMode
from bot.errors import GatewayFailed, QasidError, ValidationError
from bot.gateways.base import Media
from bot.handlers import render_inbox
from bot.handlers.context import BotContext, active_owner, owner_zone
from bot.handlers.render import Screen
from bot.handlers.replies import error_text, refuse, reply, show
from bot.services.prompts import Prompt, PromptKind

log = logging.getLogger(__name__)


async def reply_button(update: Update, context: BotContext) -> None:
    """rep:out:<phone> (the customer asked to stop: opt out) | rep:keep"""
    owner, tr = active_owner(context), context.tr
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").split(":")
    try:
        if parts[1] == "out":
            contact = await context.services.contacts.opt_out(owner.id, parts[2],
                                                              "asked to stop in a reply")
            text = tr("replies.opted_out", phone=contact.phone)
        elif parts[1] == "keep":
            text = tr("replies.kept")
        else:
            raise ValueError(parts[1])
    except (ValueError, IndexError, QasidError) as exc:
        await refuse(query, context, exc)
        return
    await query.answer()
    await query.edit_message_reply_markup(None)
    await reply(update, Screen(text))


# --- the inbox: customers' messages in the owner's chat ------------------------------------


async def inbox_command(update: Update, context: BotContext) -> None:
    """/inbox: where customers' messages go (this chat, or a forum group's topics)."""
    owner = active_owner(context)
    settings = await context.services.inbox.settings(owner.id)
    await show(update, render_inbox.settings_screen(context.tr, settings))


async def inbox_button(update: Update, context: BotContext) -> None:
    """ibx:r|o|m|u:<conversation> (Reply, Opt out, Mute, Unmute), ibx:t:<conversation>:
    <template> (the approved twin), ibx:link|chat|topics|unlink (/inbox)."""
    owner, tr = active_owner(context), context.tr
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").split(":")
    inbox = context.services.inbox
    try:
        action = parts[1]
        if action in ("link", "chat", "topics", "unlink"):
            await _settings_button(update, context, action)
            return
        conversation = await inbox.conversation(owner.id, int(parts[2]))
        if action == "r":
            sender, _last, _window = await inbox.window(owner.id, conversation.id)
            await context.services.prompts.ask(owner.id, PromptKind.INBOX_REPLY,
                                               conversation_id=conversation.id)
            contact = await context.services.contact_card.by_phone(owner.id,
                                                                   conversation.phone)
            await query.answer()
            await reply(update, render_inbox.reply_prompt(
                tr, conversation, contact.name if contact else None,
                sender.label or sender.phone))
            return
        if action == "o":
            contact = await context.services.contacts.opt_out(
                owner.id, conversation.phone, "opted out from the inbox")
            await query.answer()
            await reply(update, Screen(tr("replies.opted_out", phone=contact.phone)))
            return
        if action in ("m", "u"):
            changed = await inbox.mute(owner.id, conversation.id, muted=action == "m")
            await query.answer()
            await reply(update, render_inbox.muted(tr, changed))
            return
        if action == "t":
            await query.answer()
            await _twin(update, context, owner.id, conversation.id, int(parts[3]))
            return
        raise ValueError(action)
    except (ValueError, IndexError, QasidError) as exc:
        await refuse(query, context, exc)


async def _settings_button(update: Update, context: BotContext, action: str) -> None:
    owner, tr = active_owner(context), context.tr
    query = update.callback_query
    assert query is not None
    inbox = context.services.inbox
    await query.answer()
    if action == "link":
        code, until = await inbox.link_code(owner.id)
        await reply(update, render_inbox.link_steps(
            tr, code, until, owner_zone(context), context.bot.username or "bot"))
        return
    if action == "chat":
        settings = await inbox.use(owner.id, InboxMode.CHAT)
    elif action == "topics":
        settings = await inbox.use(owner.id, InboxMode.TOPICS)
    else:
        settings = await inbox.unlink(owner.id)
    await show(update, render_inbox.settings_screen(tr, settings))


async def reply_typed(update: Update, context: BotContext, prompt: Prompt, text: str) -> None:
    """The owner's answer, typed after *Reply* (``PromptKind.INBOX_REPLY``)."""
    owner = active_owner(context)
    await _answer(update, context, owner.id, prompt.id("conversation_id"), text=text)


async def reply_file(update: Update, context: BotContext, prompt: Prompt) -> None:
    """A photo or a document sent after *Reply*: it goes to the customer, its caption too."""
    owner = active_owner(context)
    message = update.message
    assert message is not None
    media = await telegram_attachment(context, message)
    if media is None:
        await reply(update, Screen(context.tr("inbox.file_not_sent")))
        return
    await _answer(update, context, owner.id, prompt.id("conversation_id"),
                  text=message.caption or "", media=media)


async def _answer(update: Update, context: BotContext, owner_id: int, conversation_id: int,
                  *, text: str = "", media: Media | None = None) -> None:
    try:
        done = await context.services.inbox.answer(owner_id, conversation_id, text, media)
    except QasidError as exc:
        await reply(update, await answer_refused(context, owner_id, conversation_id, exc))
        return
    await reply(update, render_inbox.answered(context.tr, done))


async def _twin(update: Update, context: BotContext, owner_id: int, conversation_id: int,
                template_id: int) -> None:
    try:
        done = await context.services.inbox.answer_template(owner_id, conversation_id,
                                                            template_id)
    except QasidError as exc:
        await reply(update, await answer_refused(context, owner_id, conversation_id, exc))
        return
    await reply(update, render_inbox.answered(context.tr, done))


async def answer_refused(context: BotContext, owner_id: int, conversation_id: int,
                         exc: QasidError) -> Screen:
    """Why an answer did not go (nothing was sent or charged); a closed 24-hour window
    offers the approved twins instead."""
    tr = context.tr
    if isinstance(exc, GatewayFailed):
        log.warning("inbox answer: gateway %s", exc.reason)
        return Screen(tr("inbox.not_sent", reason=tr(f"stats.reason.{exc.reason}")))
    if isinstance(exc, ValidationError) and exc.reason == "inbox_window_closed":
        inbox = context.services.inbox
        conversation = await inbox.conversation(owner_id, conversation_id)
        _sender, last, window = await inbox.window(owner_id, conversation_id)
        owner = await context.services.accounts.get(owner_id)
        hours = int(window.total_seconds() // 3600) if window is not None else 24
        return render_inbox.window_closed(tr, conversation, hours, last,
                                          context.services.accounts.zone(owner),
                                          await inbox.twins(owner_id))
    return Screen(error_text(context, exc))


async def telegram_attachment(context: BotContext, message: Message) -> Media | None:
    """A photo or a document a user sent, from Telegram (None: neither, or too big)."""
    if message.photo:
        file_id, kind = message.photo[-1].file_id, "image"
        mimetype, filename = "image/jpeg", "photo.jpg"
    elif message.document is not None:
        document = message.document
        file_id = document.file_id
        mimetype = document.mime_type or "application/octet-stream"
        filename = document.file_name or "file"
        kind = "image" if mimetype in ("image/jpeg", "image/png") else "document"
    else:
        return None
    try:
        file = await context.bot.get_file(file_id)
        data = bytes(await file.download_as_bytearray())
    except TelegramError as exc:  # e.g. over the 20 MB a bot may download
        log.warning("inbox: a file to answer with not downloaded: %s", exc)
        return None
    return Media(kind, data=data, mimetype=mimetype, filename=filename)
