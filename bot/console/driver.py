"""Drive a real `telegram.ext.Application` as one user would, through a `FakeBotApi`.

    api = FakeBotApi()
    app = application_builder(api).build()  # then register handlers
    async with app:                         # initialize(): getMe goes to the fake
        await app.start()                   # only needed if handlers use app.create_task
        chat = ChatDriver(app, api, FakeUser(id=42, first_name="Aysel"))
        [reply] = await chat.send("/start")
        await chat.press("Campaigns")
        paid = await chat.pay()             # the newest invoice in the chat, in Stars

Every step builds a real Bot API update, runs `app.process_update()` and returns what the
bot sent or changed in this chat during the step. Handlers are expected to block (PTB's
default); work started with `app.create_task` while the application is running is awaited
too (bounded by `settle_timeout`). Tasks made with bare `asyncio.create_task` are not seen.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from bot.console.botapi import FakeBotApi, FakeGroup, FakeUser, SentMessage

logger = logging.getLogger(__name__)

STRANGER_ID = 6999999999  # user_id of the contact shared by share_contact(own=False)


def application_builder(api: FakeBotApi) -> ApplicationBuilder:
    """An ApplicationBuilder whose bot talks to `api` in-process (no network)."""
    return (
        ApplicationBuilder()
        .token(api.token)
        .request(HTTPXRequest(httpx_kwargs={"transport": api.transport()}))
        .get_updates_request(HTTPXRequest(httpx_kwargs={"transport": api.transport()}))
    )


@dataclass(frozen=True, slots=True)
class Checkout:
    """A user paying an invoice: the bot's answer to the pre-checkout query (``ok``, else
    ``error_message``, what Telegram shows the user) and, when it said ok, the
    ``successful_payment`` update (``update``: step it again to repeat it, as Telegram
    redelivers), its charge id and what the bot replied to it."""

    ok: bool
    error_message: str | None = None
    charge_id: str | None = None
    update: dict[str, Any] | None = None
    replies: tuple[Reply, ...] = ()


@dataclass(frozen=True, slots=True)
class Reply:
    """A bot message sent (`edited=False`) or changed (`edited=True`) during one step.

    `message` is its state after the step; `message.deleted` tells a deletion.
    """

    message: SentMessage
    edited: bool

    @property
    def text(self) -> str:
        return self.message.body

    @property
    def buttons(self) -> list[str]:
        return self.message.buttons


class ChatDriver:
    """One user's private chat with the bot."""

    def __init__(
        self, app: Application, api: FakeBotApi, user: FakeUser, *, settle_timeout: float = 5.0
    ) -> None:
        self.app, self.api, self.user = app, api, user
        self.settle_timeout = settle_timeout
        self.last_replies: list[Reply] = []
        self.last_answer: dict[str, Any] | None = None  # answerCallbackQuery of the last press
        self._old_tasks: set[asyncio.Task[Any]] = set()
        api.add_user(user)

    @property
    def chat_id(self) -> int:
        return self.user.id

    async def send(self, text: str) -> list[Reply]:
        return await self.step(self.api.text_update(self.user, text))

    async def share_contact(self, phone: str, own: bool = True) -> list[Reply]:
        """Share the user's own contact, or (own=False) someone else's from the phone book."""
        if own:
            update = self.api.contact_update(self.user, phone, self.user.first_name, self.user.id)
        else:
            update = self.api.contact_update(self.user, phone, "Friend", STRANGER_ID)
        return await self.step(update)

    async def upload(
        self, content: bytes, file_name: str, mime_type: str, caption: str | None = None
    ) -> list[Reply]:
        document = self.api.add_file(content, file_name, mime_type)
        return await self.step(self.api.document_update(self.user, document, caption))

    async def press(self, label: str) -> list[Reply]:
        """Press an inline button (newest message first) or a reply-keyboard button.

        `label` matches exactly, else as a unique case-insensitive prefix.
        """
        message, button = self._find_button(label)
        if message is None:
            if button.get("request_contact"):
                raise ValueError(f"{button['text']!r} shares a contact: use share_contact()")
            return await self.send(button["text"])
        if "callback_data" not in button:
            raise ValueError(f"{button['text']!r} is not a callback button: {button}")
        update = self.api.callback_update(self.user, message, button["callback_data"])
        replies = await self.step(update)
        query_id = update["callback_query"]["id"]
        self.last_answer = next(
            (
                c.params
                for c in self.api.calls
                if c.method == "answerCallbackQuery"
                and c.params.get("callback_query_id") == query_id
            ),
            None,
        )
        return replies

    async def pay(self, invoice: SentMessage | None = None) -> Checkout:
        """Pay an invoice (default: the newest in this chat; another chat's, as if it was
        forwarded) as Telegram does: the pre-checkout query, then, if the bot answered ok,
        the successful payment. A bot that did not answer is refused (Telegram gives up
        after 10 seconds)."""
        if invoice is None:
            invoice = next((m for m in reversed(self.api.messages(self.chat_id))
                            if m.invoice is not None), None)
            if invoice is None:
                raise LookupError("no invoice in this chat to pay")
        asked = self.api.pre_checkout_update(self.user, invoice)
        await self.step(asked)
        answer = self.api.checkout_answers.get(asked["pre_checkout_query"]["id"])
        if answer is None:
            return Checkout(False, "the bot did not answer the pre-checkout query")
        if not answer["ok"]:
            return Checkout(False, answer.get("error_message"))
        paid = self.api.successful_payment_update(self.user, invoice)
        replies = await self.step(paid)
        return Checkout(True, charge_id=paid["message"]["successful_payment"][
            "telegram_payment_charge_id"], update=paid, replies=tuple(replies))

    def texts(self) -> list[str]:
        """Texts (or captions) of the replies of the last step."""
        return [reply.text for reply in self.last_replies]

    def buttons(self, message: SentMessage | None = None) -> list[str]:
        """Inline button labels of `message`, default: the bot's last message in this chat."""
        message = message or self.api.last_message(self.chat_id)
        return message.buttons if message else []

    def reply_buttons(self) -> list[str]:
        """Labels of the reply keyboard the user currently sees."""
        return [button["text"] for button in self._reply_keyboard()]

    async def settle(self) -> None:
        """Wait (bounded) for tasks the application created since the current step began."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settle_timeout
        tracked = getattr(self.app, "_Application__create_task_tasks", None)
        if tracked is None:  # PTB internals changed: wait until no API call for 20 ms instead
            count = -1
            while count != len(self.api.calls) and loop.time() < deadline:
                count = len(self.api.calls)
                await asyncio.sleep(0.02)
            return
        while pending := [t for t in tracked if t not in self._old_tasks and not t.done()]:
            if loop.time() >= deadline:
                logger.warning("%d application tasks still running", len(pending))
                return
            await asyncio.wait(pending, timeout=deadline - loop.time())

    async def step(self, update: dict[str, Any]) -> list[Reply]:
        """Process any update built with the FakeBotApi builders (e.g. `photo_update`)."""
        before = len(self.api.calls)
        existing = {m.message_id for m in self.api.messages(self.chat_id, include_deleted=True)}
        self._old_tasks = set(getattr(self.app, "_Application__create_task_tasks", ()))
        await self.app.process_update(Update.de_json(update, self.app.bot))
        await self.settle()
        touched: dict[int, None] = {}
        for call in self.api.calls[before:]:
            if call.error or call.params.get("chat_id") != self.chat_id:
                continue
            result = call.result if isinstance(call.result, dict) else call.params
            if isinstance(message_id := result.get("message_id"), int):
                touched[message_id] = None
        self.last_replies = [
            Reply(message, edited=message_id in existing)
            for message_id in touched
            if (message := self.api.message(self.chat_id, message_id)) is not None
        ]
        return self.last_replies

    def _find_button(self, label: str) -> tuple[SentMessage | None, dict[str, Any]]:
        candidates: list[tuple[SentMessage | None, dict[str, Any]]] = [
            (message, button)
            for message in reversed(self.api.messages(self.chat_id))
            for row in (message.reply_markup or {}).get("inline_keyboard", [])
            for button in row
        ]
        candidates += [(None, button) for button in self._reply_keyboard()]
        for candidate in candidates:
            if candidate[1]["text"] == label:
                return candidate
        hits: dict[str, tuple[SentMessage | None, dict[str, Any]]] = {}
        for candidate in candidates:
            if candidate[1]["text"].casefold().startswith(label.casefold()):
                hits.setdefault(candidate[1]["text"], candidate)
        if len(hits) == 1:
            return next(iter(hits.values()))
        labels = list(dict.fromkeys(button["text"] for _, button in candidates))
        problem = f"is ambiguous: {list(hits)}" if hits else "not found"
        raise LookupError(f"button {label!r} {problem}; buttons: {labels}")

    def _reply_keyboard(self) -> list[dict[str, Any]]:
        for message in reversed(self.api.messages(self.chat_id, include_deleted=True)):
            markup = message.reply_markup or {}
            if "keyboard" in markup:
                return [_as_button(b) for row in markup["keyboard"] for b in row]
            if markup.get("remove_keyboard"):
                return []
        return []


class GroupDriver(ChatDriver):
    """One member of a supergroup the bot is in, writing in the group: in a forum topic
    when ``thread`` is given. Replies are what the bot sent or changed in the group."""

    def __init__(
        self, app: Application, api: FakeBotApi, group: FakeGroup, user: FakeUser, *,
        settle_timeout: float = 5.0,
    ) -> None:
        self.app, self.api, self.user, self.group = app, api, user, group
        self.settle_timeout = settle_timeout
        self.last_replies = []
        self.last_answer = None
        self._old_tasks = set()
        group.members.setdefault(user.id, user)  # a member: no private chat with the bot

    @property
    def chat_id(self) -> int:
        return self.group.id

    async def send(self, text: str, thread: int | None = None) -> list[Reply]:
        return await self.step(self.api.group_text_update(self.group.id, self.user, text,
                                                          thread))

    async def send_photo(self, content: bytes, thread: int | None = None,
                         caption: str | None = None) -> list[Reply]:
        photo = self.api.add_file(content, "photo.jpg", "image/jpeg")
        return await self.step(self.api.group_photo_update(self.group.id, self.user, photo,
                                                           thread, caption))

    async def upload(  # a group's file, to a topic when given one
        self, content: bytes, file_name: str, mime_type: str, caption: str | None = None,
        thread: int | None = None,
    ) -> list[Reply]:
        document = self.api.add_file(content, file_name, mime_type)
        return await self.step(self.api.group_document_update(self.group.id, self.user,
                                                              document, thread, caption))

    def topic(self, thread: int) -> list[SentMessage]:
        """The bot's messages in one topic of the group."""
        return self.api.topic_messages(self.group.id, thread)


def _as_button(button: str | dict[str, Any]) -> dict[str, Any]:
    return {"text": button} if isinstance(button, str) else button
