"""The inbox in a Telegram forum group (topics mode): linking the group, and the team's
answers in the customers' topics.

Every update from a group or supergroup stops here (handler group -3, before the
doorkeeper, which lets private chats alone through):

- ``/linkinbox <code>`` typed in the group: the group must be a forum, the bot one of its
  administrators with the right to manage topics (asked of Telegram), and the code the
  one an owner got in their own chat (/inbox), so that nobody links another's inbox;
- a member's message (text, photo or document) in a customer's topic goes to the
  customer through the number they wrote to (``InboxService.answer``): any member of the
  group may answer; what cannot go is said in the topic, a closed 24-hour window with
  the approved templates to send instead (``ibx:t:`` buttons, pressed in the group);
- anything else (the General topic, topics the group made itself, other commands, other
  bots) is left alone.
"""

from __future__ import annotations

import logging

from telegram import Chat, Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.domain import Language
from bot.errors import NotAllowed, NotFound, QasidError
from bot.handlers import render_inbox
from bot.handlers.context import BotContext
from bot.handlers.inbox import answer_refused, telegram_attachment
from bot.handlers.render import Screen
from bot.i18n import Translator, translator

log = logging.getLogger(__name__)

LINK_COMMAND = "linkinbox"


async def group_update(update: Update, context: BotContext) -> None:
    chat = update.effective_chat
    if chat is None or chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        return  # a private chat: the doorkeeper's
    try:
        message = update.message
        if message is not None and message.from_user is not None \
                and not message.from_user.is_bot:
            command = _command(message)
            if command == LINK_COMMAND:
                await _link(context, chat, message)
            elif command is None and message.is_topic_message \
                    and message.message_thread_id is not None:
                await _topic_message(context, chat, message, message.message_thread_id)
        elif update.callback_query is not None:
            await _button(update, context, chat)
    except QasidError as exc:  # what the services refuse is said where it was asked
        log.info("inbox group: %s", exc)
    raise ApplicationHandlerStop  # Qasid's chat lives in private chats only


def _command(message: Message) -> str | None:
    text = message.text or ""
    if not text.startswith("/"):
        return None
    return text[1:].split(maxsplit=1)[0].split("@")[0].lower()


async def _tr_of(context: BotContext, owner_id: int | None, message: Message | None) -> Translator:
    if owner_id is not None:
        owner = await context.services.accounts.get(owner_id)
        return translator(owner.language)
    user = message.from_user if message is not None else None
    return translator(Language.from_telegram(user.language_code if user else None))


async def _say(message: Message, screen: Screen) -> None:
    try:
        await message.reply_text(**screen.kwargs)
    except TelegramError as exc:
        log.warning("inbox group: could not answer in the group: %s", exc)


async def _link(context: BotContext, chat: Chat, message: Message) -> None:
    """``/linkinbox <code>``: this forum group becomes the code's owner's inbox."""
    words = (message.text or "").split(maxsplit=1)
    code = words[1] if len(words) > 1 else ""
    tr = await _tr_of(context, None, message)
    if chat.type != ChatType.SUPERGROUP or not chat.is_forum:
        await _say(message, Screen(tr("inbox.group_not_forum")))
        return
    try:
        me = await context.bot.get_chat_member(chat.id, context.bot.id)
    except TelegramError as exc:
        log.warning("inbox group: the bot's rights not known: %s", exc)
        me = None
    can_manage = me is not None and me.status == ChatMemberStatus.ADMINISTRATOR \
        and bool(getattr(me, "can_manage_topics", False))
    if not can_manage:
        await _say(message, Screen(tr("inbox.group_needs_admin")))
        return
    try:
        linked = await context.services.inbox.link_group(code, chat.id, chat.title)
    except NotFound:
        await _say(message, Screen(tr("inbox.group_bad_code")))
        return
    except NotAllowed as exc:
        key = ("inbox.group_taken" if exc.reason == "inbox_group_taken"
               else "inbox.group_owner_inactive")
        await _say(message, Screen(tr(key)))
        return
    owner = linked.owner
    tr = translator(owner.language)
    await _say(message, Screen(tr("inbox.group_linked", company=owner.company or "")))
    try:
        await context.bot.send_message(owner.chat_id, **Screen(tr(
            "inbox.group_linked_owner", group=chat.title or "")).kwargs)
    except TelegramError as exc:
        log.warning("inbox group: owner %d not told of the link: %s", owner.id, exc)


async def _topic_message(context: BotContext, chat: Chat, message: Message,
                         thread_id: int) -> None:
    """A member's answer in a customer's topic: to the customer."""
    inbox = context.services.inbox
    conversation = await inbox.in_topic(chat.id, thread_id)
    if conversation is None:
        return  # a topic the group made itself
    tr = await _tr_of(context, conversation.owner_id, None)
    context.tr = tr
    text, media = message.text or "", None
    if message.photo or message.document is not None:
        media = await telegram_attachment(context, message)
        if media is None:
            await _say(message, Screen(tr("inbox.file_not_sent")))
            return
        text = message.caption or ""
    elif not text:
        return  # a sticker, a poll, a service message: nothing to send
    try:
        await inbox.answer(conversation.owner_id, conversation.id, text, media)
    except QasidError as exc:
        await _say(message, await answer_refused(context, conversation.owner_id,
                                                 conversation.id, exc))
        return
    await _say(message, Screen(tr("inbox.sent_in_topic")))


async def _button(update: Update, context: BotContext, chat: Chat) -> None:
    """``ibx:t:<conversation>:<template>`` pressed in the owner's group: the twin goes."""
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").split(":")
    owner_id = await context.services.inbox.owner_of_group(chat.id)
    if owner_id is None or len(parts) != 4 or parts[:2] != ["ibx", "t"] \
            or not parts[2].isdigit() or not parts[3].isdigit():
        await query.answer()
        return
    tr = await _tr_of(context, owner_id, None)
    context.tr = tr
    await query.answer()
    conversation_id = int(parts[2])
    try:
        done = await context.services.inbox.answer_template(owner_id, conversation_id,
                                                            int(parts[3]))
    except QasidError as exc:
        screen = await answer_refused(context, owner_id, conversation_id, exc)
    else:
        screen = render_inbox.answered(tr, done)
    if query.message is not None:
        try:
            await context.bot.send_message(chat.id, screen.text,
                                           reply_markup=screen.reply_markup,
                                           message_thread_id=query.message.message_thread_id
                                           if isinstance(query.message, Message) else None)
        except TelegramError as exc:
            log.warning("inbox group: could not answer in the group: %s", exc)
