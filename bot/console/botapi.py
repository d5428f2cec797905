"""An in-process fake of the Telegram Bot API that the real python-telegram-bot talks to.

`FakeBotApi` keeps the state Telegram would keep (the bot's messages per chat, files,
commands, pending updates), answers with real Bot API JSON (`{"ok": true, "result": ...}`
or `{"ok": false, "error_code": 400, "description": "Bad Request: ..."}`) and records every
call. It plugs into PTB as an `httpx.MockTransport` (`transport()`) or is served over HTTP by
`bot.console.http.botapi_app`; both go through `call_http()` / `download()`.

Private chats: a chat id is the user's id. A chat is known once the user sent an update
(the update builders register it) or `add_user()` was called; sending to an unknown chat
fails with "chat not found", to a user who `block()`ed the bot with 403.

Forum groups (supergroups with topics) as Telegram runs them: `add_group()` makes one
(negative id, its title, its members, the bot's rights: a member, or an administrator
with or without `can_manage_topics`). `createForumTopic` needs a forum and the right to
manage topics; it answers a `ForumTopic` whose `message_thread_id` is the id of the
topic's first (service) message, `forum_topic_created`. A message sent with
`message_thread_id` goes to that topic and comes back with `is_topic_message: true`
("message thread not found" for a topic that does not exist or was deleted:
`delete_topic()`); `getChatMember` answers the bot's own membership (`administrator`
with its rights, or `member`) and the members' (`member`, `left` for anyone else). The
group builders (`group_text_update`, `group_photo_update`, `group_document_update`)
make a member's message in the group, in a topic when given one: with
`message_thread_id`, `is_topic_message` and, as Telegram's apps send it, a
`reply_to_message` that is the topic's first message. A bot removed from a group
(`remove_bot()`) gets 403 "bot was kicked from the supergroup chat".

Payments in Telegram Stars as Telegram runs them: `sendInvoice` (currency `XTR`, an empty
provider token, one price) sends a message with an `invoice` object; a user pays it in
two updates the test pushes: `pre_checkout_update` (Telegram asks the bot, which must
answer `answerPreCheckoutQuery`, recorded in `checkout_answers`), then, when the bot said
ok, `successful_payment_update` (a message with `successful_payment` and a new
`telegram_payment_charge_id`; the same update may be processed again, as Telegram
redelivers). `refundStarPayment` gives a recorded payment back once
(`CHARGE_ALREADY_REFUNDED` the second time).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import parse_qsl

import httpx

logger = logging.getLogger(__name__)

MessageKind = Literal["text", "document", "photo", "voice", "invoice"]

# Parameters that are strings on the wire; every other value PTB sends is JSON-encoded.
_TEXT_PARAMS = frozenset(
    "text caption parse_mode callback_query_id url file_id document photo description "
    "short_description language_code action secret_token inline_message_id title payload "
    "currency provider_token start_parameter pre_checkout_query_id error_message "
    "telegram_payment_charge_id name voice icon_custom_emoji_id".split()
)
_HTML_TAGS = frozenset(
    "b strong i em u ins s strike del span tg-spoiler a code pre blockquote tg-emoji".split()
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_PATH_RE = re.compile(r"/(?P<file>file/)?bot(?P<token>[^/]+)/(?P<rest>.+)")
_QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status `error_code` and its `description`."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error_code, self.description, self.retry_after = error_code, description, retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


@dataclass(frozen=True, slots=True)
class UploadedFile:
    file_name: str
    mime_type: str
    content: bytes


@dataclass(slots=True)
class ApiCall:
    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile] = field(default_factory=dict)
    result: Any = None  # the "result" Telegram answered with, when ok
    error: str | None = None  # the "description" Telegram answered with, when not ok


@dataclass(slots=True)
class SentMessage:
    """A message the bot sent, in its current state (after edits)."""

    chat_id: int
    message_id: int
    text: str | None = None  # as the bot sent it, markup included
    caption: str | None = None
    reply_markup: dict[str, Any] | None = None
    kind: MessageKind = "text"
    file: UploadedFile | None = None
    parse_mode: str | None = None
    edited: int = 0
    deleted: bool = False
    file_id: str | None = None
    date: int = field(default_factory=lambda: int(time.time()))
    invoice: dict[str, Any] | None = None  # an invoice's Invoice object, as Telegram has it
    thread_id: int | None = None  # the forum topic it was sent to (groups)

    @property
    def body(self) -> str:
        """Text or caption, whichever the message has (an invoice: its title and
        description)."""
        if self.invoice is not None:
            return f"{self.invoice['title']}\n{self.invoice['description']}"
        return self.text if self.text is not None else self.caption or ""

    @property
    def buttons(self) -> list[str]:
        """Labels of the inline keyboard, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button["text"] for row in rows for button in row]


@dataclass(slots=True)
class FakeUser:
    id: int
    first_name: str
    language_code: str | None = "en"
    username: str | None = None
    last_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {"is_bot": False, **asdict(self)}
        return {key: value for key, value in data.items() if value is not None}


@dataclass(slots=True)
class FakeGroup:
    """A supergroup the bot was added to: ``bot_status`` ``administrator`` (with
    ``can_manage_topics`` or not) or ``member``; ``topics``: thread id -> name."""

    id: int
    title: str
    is_forum: bool = True
    members: dict[int, FakeUser] = field(default_factory=dict)
    bot_status: str = "administrator"
    can_manage_topics: bool = True
    topics: dict[int, str] = field(default_factory=dict)
    removed: bool = False  # the bot was removed (kicked) from it

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": "supergroup", "title": self.title}
        if self.is_forum:
            data["is_forum"] = True
        return data


TOPIC_COLOR = 7322096  # the icon colour Telegram picks first (0x6FB9F0)


@dataclass(frozen=True, slots=True)
class Invoice:
    """What Telegram keeps of an invoice it sent: the user sees the message's `invoice`
    object; the payload goes back to the bot with the payment."""

    chat_id: int
    message_id: int
    payload: str
    currency: str
    total_amount: int


@dataclass(slots=True)
class StarPayment:
    """A payment Telegram took (`successful_payment`), refundable once."""

    user_id: int
    invoice: Invoice
    telegram_payment_charge_id: str
    provider_payment_charge_id: str
    refunded: bool = False


@dataclass(slots=True)
class _StoredFile:
    file_id: str
    unique_id: str
    path: str
    file: UploadedFile


class _TelegramHtml(HTMLParser):
    """Checks a text the way Telegram parses parse_mode=HTML and keeps the plain text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.plain: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            raise bad_request(f'can\'t parse entities: Unsupported start tag "{tag}"')
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            raise bad_request(f'can\'t parse entities: Unexpected end tag "{tag}"')

    def handle_data(self, data: str) -> None:
        self.plain.append(data)


def rendered_text(text: str, parse_mode: str | None) -> str:
    """The text a user sees; raises ApiError where Telegram refuses the markup."""
    if (parse_mode or "").upper() != "HTML":
        return text
    parser = _TelegramHtml()
    parser.feed(text)
    parser.close()
    if parser.open:
        tag = parser.open[-1]
        raise bad_request(f"can't parse entities: Can't find end tag for start tag \"{tag}\"")
    return "".join(parser.plain)


def decode_body(
    content_type: str, body: bytes, query: str = ""
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Decode a Bot API request as PTB sends it: form-urlencoded or multipart/form-data."""
    fields = parse_qsl(query, keep_blank_values=True)
    files: dict[str, UploadedFile] = {}
    if content_type.startswith("application/json") and body:
        return {**dict(fields), **json.loads(body)}, files
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        for part in BytesParser(policy=HTTP).parsebytes(head + body).iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            raw = part.get_payload(decode=True)  # bytes (None when empty) for a leaf part
            payload = raw if isinstance(raw, bytes) else b""
            if (file_name := part.get_filename()) is None:
                fields.append((name, payload.decode()))
            else:  # httpx escapes names the HTML5 way
                for escaped, char in (("%22", '"'), ("%0D", "\r"), ("%0A", "\n")):
                    file_name = file_name.replace(escaped, char)
                files[name] = UploadedFile(file_name, part.get_content_type(), payload)
    elif body:
        fields += parse_qsl(body.decode(), keep_blank_values=True)
    return {key: _decode_value(key, value) for key, value in fields}, files


def _decode_value(key: str, value: str) -> Any:
    if key in _TEXT_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


class FakeBotApi:
    """The Telegram side of one bot, in memory. Use from one event loop."""

    def __init__(
        self, *, bot_id: int = 7000000001, username: str = "qasid_bot", first_name: str = "Qasid"
    ) -> None:
        self.me = {
            "id": bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[ApiCall] = []
        self.on_call: Callable[[ApiCall], None] | None = None
        self.updates_queue: list[dict[str, Any]] = []
        self.webhook_url = ""
        self.descriptions: dict[tuple[str, str], str] = {}  # (kind, language_code) -> text
        self._users: dict[int, FakeUser] = {}
        self.groups: dict[int, FakeGroup] = {}
        self._blocked: set[int] = set()
        self._messages: dict[int, list[SentMessage]] = defaultdict(list)
        self._user_messages: set[tuple[int, int]] = set()
        self._last_message_id: dict[int, int] = defaultdict(int)
        self._files: dict[str, _StoredFile] = {}
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._open_queries: set[str] = set()
        self.invoices: dict[tuple[int, int], Invoice] = {}  # (chat id, message id) ->
        self._open_checkouts: dict[str, Invoice] = {}  # pre-checkout query id -> its invoice
        self.checkout_answers: dict[str, dict[str, Any]] = {}  # query id -> the bot's answer
        self.payments: dict[str, StarPayment] = {}  # telegram_payment_charge_id ->
        self._failures: dict[str, list[ApiError]] = defaultdict(list)
        self._counter = 0
        self._update_id = 0
        self._new_update = asyncio.Event()

    @property
    def token(self) -> str:
        return f"{self.me['id']}:fake-token-for-the-console-and-tests"

    # ---- wiring ------------------------------------------------------------------------

    def transport(self) -> httpx.AsyncBaseTransport:
        """For `HTTPXRequest(httpx_kwargs={"transport": api.transport()})`."""
        return httpx.MockTransport(self._on_request)

    async def _on_request(self, request: httpx.Request) -> httpx.Response:
        match = _PATH_RE.fullmatch(request.url.path)
        if match is None:
            status, body = 404, _json(ApiError(404, "Not Found").payload())
        elif match["file"]:
            status, body = self.download(match["token"], match["rest"])
        else:
            content_type = request.headers.get("content-type", "")
            query = request.url.query.decode()
            status, body = await self.call_http(
                match["token"], match["rest"], content_type, request.content, query
            )
        return httpx.Response(status, content=body)

    async def call_http(
        self, token: str, method: str, content_type: str, body: bytes, query: str = ""
    ) -> tuple[int, bytes]:
        """Answer `POST /bot{token}/{method}`: (HTTP status, JSON body)."""
        if token != self.token:
            return 401, _json(ApiError(401, "Unauthorized").payload())
        try:
            params, files = decode_body(content_type, body, query)
        except ValueError as exc:
            return 400, _json(bad_request(f"can't parse request: {exc}").payload())
        status, answer = await self.handle(method, params, files)
        return status, _json(answer)

    def download(self, token: str, file_path: str) -> tuple[int, bytes]:
        """Answer `GET /file/bot{token}/{file_path}`: (HTTP status, file content)."""
        stored = next((f for f in self._files.values() if f.path == file_path), None)
        if token != self.token or stored is None:
            return 404, _json(ApiError(404, "Not Found").payload())
        return 200, stored.file.content

    async def handle(
        self, method: str, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> tuple[int, dict[str, Any]]:
        """Run one Bot API method; record it; return (HTTP status, answer)."""
        call = ApiCall(method, params, files)
        self.calls.append(call)
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", method).lower()
        handler = getattr(self, f"_api_{snake}", None)
        try:
            if self._failures[method]:
                raise self._failures[method].pop(0)
            if handler is None:
                raise ApiError(404, "Not Found")
            result = handler(params, files)
            call.result = await result if inspect.isawaitable(result) else result
            status, answer = 200, {"ok": True, "result": call.result}
        except ApiError as exc:
            call.error = exc.description
            status, answer = exc.error_code, exc.payload()
        logger.debug("fake Bot API %s -> %s", method, status)
        if self.on_call is not None:
            self.on_call(call)
        return status, answer

    # ---- test controls and inspection --------------------------------------------------

    def add_user(self, user: FakeUser) -> None:
        """Make the user's private chat known, as if they had started the bot."""
        self._users[user.id] = user

    def add_group(self, group: FakeGroup) -> FakeGroup:
        """The bot was added to this supergroup (with the rights ``group`` says)."""
        self.groups[group.id] = group
        return group

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """A group admin deleted the topic: sending to it fails from now on."""
        self.groups[chat_id].topics.pop(thread_id, None)

    def remove_bot(self, chat_id: int) -> None:
        """The bot was removed from the group: every call for it answers 403."""
        self.groups[chat_id].removed = True

    def topic_messages(self, chat_id: int, thread_id: int) -> list[SentMessage]:
        """The bot's messages in one forum topic of a group."""
        return [m for m in self.messages(chat_id) if m.thread_id == thread_id]

    def block(self, user_id: int) -> None:
        """The user blocks the bot: sending to them fails with 403."""
        self._blocked.add(user_id)

    def fail_next(
        self,
        method: str,
        error_code: int = 400,
        description: str = "Bad Request: x",
        retry_after: int | None = None,
    ) -> None:
        """Make the next call of `method` fail with this error (e.g. 429 with retry_after)."""
        self._failures[method].append(ApiError(error_code, description, retry_after))

    def messages(self, chat_id: int, include_deleted: bool = False) -> list[SentMessage]:
        return [m for m in self._messages[chat_id] if include_deleted or not m.deleted]

    def last_message(self, chat_id: int) -> SentMessage | None:
        current = self.messages(chat_id)
        return current[-1] if current else None

    def message(self, chat_id: int, message_id: int) -> SentMessage | None:
        return next((m for m in self._messages[chat_id] if m.message_id == message_id), None)

    def commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[dict]:
        """The command menu set for this scope (default: all private chats) and language."""
        return self._commands.get((_scope_key(scope), language_code), [])

    def add_file(self, content: bytes, file_name: str, mime_type: str) -> dict[str, Any]:
        """Store a file a user uploads; returns its Telegram Document dict."""
        stored = self._store(UploadedFile(file_name, mime_type, content), "documents")
        return self._document_dict(stored)

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates (from another thread: loop.call_soon_threadsafe)."""
        self.updates_queue.append(update)
        self._new_update.set()

    # ---- update builders (real Bot API update dicts) -----------------------------------

    def text_update(self, user: FakeUser, text: str) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if text.startswith("/"):
            command = text.split()[0]
            length = len(command.encode("utf-16-le")) // 2
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._user_message(user, text=text, **extra)

    def contact_update(
        self, user: FakeUser, phone_number: str, first_name: str, user_id: int | None = None
    ) -> dict[str, Any]:
        contact: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
        if user_id is not None:
            contact["user_id"] = user_id
        return self._user_message(user, contact=contact)

    def document_update(
        self, user: FakeUser, document: dict[str, Any], caption: str | None = None
    ) -> dict[str, Any]:
        return self._user_message(user, document=document, **_caption(caption))

    def photo_update(
        self, user: FakeUser, file: dict[str, Any], caption: str | None = None
    ) -> dict[str, Any]:
        """`file` is a dict from `add_file()`."""
        size = {key: file[key] for key in ("file_id", "file_unique_id", "file_size")}
        return self._user_message(
            user, photo=[{**size, "width": 800, "height": 600}], **_caption(caption)
        )

    def group_text_update(self, chat_id: int, user: FakeUser, text: str,
                          thread_id: int | None = None) -> dict[str, Any]:
        """A member's message in the group (in the topic ``thread_id``, when given)."""
        extra: dict[str, Any] = {}
        if text.startswith("/"):
            command = text.split()[0]
            length = len(command.encode("utf-16-le")) // 2
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._group_message(chat_id, user, thread_id, text=text, **extra)

    def group_photo_update(self, chat_id: int, user: FakeUser, file: dict[str, Any],
                           thread_id: int | None = None,
                           caption: str | None = None) -> dict[str, Any]:
        """`file` is a dict from `add_file()`."""
        size = {key: file[key] for key in ("file_id", "file_unique_id", "file_size")}
        return self._group_message(chat_id, user, thread_id,
                                   photo=[{**size, "width": 800, "height": 600}],
                                   **_caption(caption))

    def group_document_update(self, chat_id: int, user: FakeUser, document: dict[str, Any],
                              thread_id: int | None = None,
                              caption: str | None = None) -> dict[str, Any]:
        return self._group_message(chat_id, user, thread_id, document=document,
                                   **_caption(caption))

    def _group_message(self, chat_id: int, user: FakeUser, thread_id: int | None,
                       **content: Any) -> dict[str, Any]:
        group = self.groups[chat_id]
        group.members.setdefault(user.id, user)
        message_id = self._next_message_id(chat_id)
        self._user_messages.add((chat_id, message_id))
        message: dict[str, Any] = {"message_id": message_id, "from": user.to_dict(),
                                   "chat": group.to_dict(), "date": int(time.time())}
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
            message["reply_to_message"] = self._topic_created(group, thread_id)
        return self._update(message={**message, **content})

    def _topic_created(self, group: FakeGroup, thread_id: int) -> dict[str, Any]:
        return {"message_id": thread_id, "from": self.me, "chat": group.to_dict(),
                "date": int(time.time()), "message_thread_id": thread_id,
                "is_topic_message": True,
                "forum_topic_created": {"name": group.topics.get(thread_id, "?"),
                                        "icon_color": TOPIC_COLOR}}

    def callback_update(self, user: FakeUser, message: SentMessage, data: str) -> dict[str, Any]:
        self.add_user(user)
        query_id = self._next_id("query")
        self._open_queries.add(query_id)
        return self._update(
            callback_query={
                "id": query_id,
                "from": user.to_dict(),
                "message": self._message_dict(message),
                "chat_instance": f"{message.chat_id}-instance",
                "data": data,
            }
        )

    def pre_checkout_update(self, user: FakeUser, invoice_message: SentMessage) -> dict[str, Any]:
        """The user pressed Pay on the invoice (any user: an invoice can be forwarded):
        Telegram asks the bot first. The bot's answer lands in `checkout_answers` under
        the query's id (``update["pre_checkout_query"]["id"]``)."""
        invoice = self._invoice_of(invoice_message)
        self.add_user(user)
        query_id = self._next_id("checkout")
        self._open_checkouts[query_id] = invoice
        return self._update(
            pre_checkout_query={
                "id": query_id,
                "from": user.to_dict(),
                "currency": invoice.currency,
                "total_amount": invoice.total_amount,
                "invoice_payload": invoice.payload,
            }
        )

    def successful_payment_update(
        self, user: FakeUser, invoice_message: SentMessage
    ) -> dict[str, Any]:
        """Telegram took the user's payment of the invoice: the message that says so, with a
        new charge id (recorded in `payments`, so that it can be refunded)."""
        invoice = self._invoice_of(invoice_message)
        charge = self._next_id("stxFakeCharge")
        payment = StarPayment(user.id, invoice, charge, self._next_id("fake-provider"))
        self.payments[charge] = payment
        return self._user_message(
            user,
            successful_payment={
                "currency": invoice.currency,
                "total_amount": invoice.total_amount,
                "invoice_payload": invoice.payload,
                "telegram_payment_charge_id": charge,
                "provider_payment_charge_id": payment.provider_payment_charge_id,
            },
        )

    def refunded_payment_update(self, user: FakeUser, charge_id: str) -> dict[str, Any]:
        """The service message Telegram sends after a refund of the user's payment."""
        payment = self.payments[charge_id]
        return self._user_message(
            user,
            refunded_payment={
                "currency": payment.invoice.currency,
                "total_amount": payment.invoice.total_amount,
                "invoice_payload": payment.invoice.payload,
                "telegram_payment_charge_id": charge_id,
            },
        )

    def _invoice_of(self, message: SentMessage) -> Invoice:
        invoice = self.invoices.get((message.chat_id, message.message_id))
        if invoice is None:
            raise ValueError(f"message {message.message_id} is no invoice")
        return invoice

    def _user_message(self, user: FakeUser, **content: Any) -> dict[str, Any]:
        self.add_user(user)
        message_id = self._next_message_id(user.id)
        self._user_messages.add((user.id, message_id))
        return self._update(
            message={
                "message_id": message_id,
                "from": user.to_dict(),
                "chat": self._chat_dict(user.id),
                "date": int(time.time()),
                **content,
            }
        )

    def _update(self, **payload: Any) -> dict[str, Any]:
        self._update_id += 1
        return {"update_id": self._update_id, **payload}

    # ---- Bot API methods: _snake_case(params, files) -> result --------------------------

    def _api_get_me(self, p: dict, f: dict) -> dict:
        return self.me

    def _api_log_out(self, p: dict, f: dict) -> bool:
        return True

    _api_close = _api_log_out

    def _api_set_my_commands(self, p: dict, f: dict) -> bool:
        commands = p.get("commands", [])
        for command in commands:
            if not _COMMAND_RE.fullmatch(command.get("command", "")):
                raise bad_request("BOT_COMMAND_INVALID")
        self._commands[(_scope_key(p.get("scope")), p.get("language_code", ""))] = commands
        return True

    def _api_get_my_commands(self, p: dict, f: dict) -> list[dict]:
        return self.commands(p.get("scope"), p.get("language_code", ""))

    def _api_delete_my_commands(self, p: dict, f: dict) -> bool:
        self._commands.pop((_scope_key(p.get("scope")), p.get("language_code", "")), None)
        return True

    def _api_set_my_description(self, p: dict, f: dict, key: str = "description") -> bool:
        self.descriptions[(key, p.get("language_code", ""))] = p.get(key, "")
        return True

    def _api_set_my_short_description(self, p: dict, f: dict) -> bool:
        return self._api_set_my_description(p, f, "short_description")

    def _api_set_webhook(self, p: dict, f: dict) -> bool:
        self.webhook_url = p.get("url", "")
        return True

    def _api_delete_webhook(self, p: dict, f: dict) -> bool:
        self.webhook_url = ""
        if p.get("drop_pending_updates"):
            self.updates_queue.clear()
        return True

    def _api_get_webhook_info(self, p: dict, f: dict) -> dict:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates_queue),
        }

    async def _api_get_updates(self, p: dict, f: dict) -> list[dict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.get("offset", 0)
        self.updates_queue[:] = [u for u in self.updates_queue if u["update_id"] >= offset]
        if not self.updates_queue and p.get("timeout", 0) > 0:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), p["timeout"])
            except TimeoutError:
                return []
        return self.updates_queue[: p.get("limit", 100)]

    def _api_send_message(self, p: dict, f: dict) -> dict:
        chat_id = self._chat(p)
        thread_id = self._thread(chat_id, p)
        _check_text(p, "text")
        _check_markup(p.get("reply_markup"))
        message = SentMessage(
            chat_id,
            self._next_message_id(chat_id),
            text=p["text"],
            reply_markup=p.get("reply_markup"),
            parse_mode=p.get("parse_mode"),
            thread_id=thread_id,
        )
        self._messages[chat_id].append(message)
        return self._message_dict(message)

    def _api_send_document(self, p: dict, f: dict) -> dict:
        return self._send_file(p, f, "document")

    def _api_send_photo(self, p: dict, f: dict) -> dict:
        return self._send_file(p, f, "photo")

    def _api_send_voice(self, p: dict, f: dict) -> dict:
        return self._send_file(p, f, "voice")

    def _send_file(self, p: dict, f: dict, kind: Literal["document", "photo", "voice"]) -> dict:
        chat_id = self._chat(p)
        thread_id = self._thread(chat_id, p)
        stored: _StoredFile | None
        if kind in f:
            if not f[kind].content:
                raise bad_request("file must be non-empty")
            stored = self._store(f[kind], kind + "s")
        elif (stored := self._files.get(p.get(kind, ""))) is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        caption = p.get("caption")
        _check_text(p, "caption")
        _check_markup(p.get("reply_markup"))
        message = SentMessage(
            chat_id,
            self._next_message_id(chat_id),
            caption=caption,
            kind=kind,
            reply_markup=p.get("reply_markup"),
            file=stored.file,
            parse_mode=p.get("parse_mode"),
            file_id=stored.file_id,
            thread_id=thread_id,
        )
        self._messages[chat_id].append(message)
        return self._message_dict(message)

    def _api_send_invoice(self, p: dict, f: dict) -> dict:
        chat_id = self._chat(p)
        title, description = str(p.get("title", "")), str(p.get("description", ""))
        payload, currency = str(p.get("payload", "")), str(p.get("currency", ""))
        prices = p.get("prices")
        if not 1 <= len(title) <= 32:
            raise bad_request("invoice title must be 1-32 characters")
        if not 1 <= len(description) <= 255:
            raise bad_request("invoice description must be 1-255 characters")
        if not 1 <= len(payload.encode()) <= 128:
            raise bad_request("invoice payload must be 1-128 bytes")
        if not isinstance(prices, list) or not prices or not all(
            isinstance(price, dict) and price.get("label")
            and isinstance(price.get("amount"), int) for price in prices
        ):
            raise bad_request("can't parse prices JSON object")
        if currency == "XTR":  # Telegram Stars: no provider, exactly one price
            if p.get("provider_token"):
                raise bad_request("provider_token must be empty for payments in Telegram Stars")
            if len(prices) != 1:
                raise bad_request("prices must contain exactly one item for Telegram Stars")
        elif not p.get("provider_token"):
            raise bad_request("PAYMENT_PROVIDER_INVALID")
        total = sum(price["amount"] for price in prices)
        if total <= 0:
            raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
        _check_markup(p.get("reply_markup"))
        message = SentMessage(
            chat_id,
            self._next_message_id(chat_id),
            kind="invoice",
            reply_markup=p.get("reply_markup"),
            invoice={
                "title": title,
                "description": description,
                "start_parameter": str(p.get("start_parameter", "")),
                "currency": currency,
                "total_amount": total,
            },
        )
        self._messages[chat_id].append(message)
        self.invoices[(chat_id, message.message_id)] = Invoice(
            chat_id, message.message_id, payload, currency, total)
        return self._message_dict(message)

    def _api_answer_pre_checkout_query(self, p: dict, f: dict) -> bool:
        query_id = p.get("pre_checkout_query_id")
        if query_id not in self._open_checkouts:
            raise bad_request(_QUERY_TOO_OLD)
        ok = p.get("ok")
        if not isinstance(ok, bool):
            raise bad_request("parameter \"ok\" is required")
        if not ok and not p.get("error_message"):
            raise bad_request("ERROR_MESSAGE_EMPTY")  # required when ok is false
        del self._open_checkouts[query_id]
        self.checkout_answers[query_id] = {"ok": ok, "error_message": p.get("error_message")}
        return True

    def _api_refund_star_payment(self, p: dict, f: dict) -> bool:
        payment = self.payments.get(str(p.get("telegram_payment_charge_id", "")))
        if payment is None or payment.user_id != p.get("user_id"):
            raise bad_request("CHARGE_NOT_FOUND")
        if payment.refunded:
            raise bad_request("CHARGE_ALREADY_REFUNDED")
        payment.refunded = True
        return True

    def _api_create_forum_topic(self, p: dict, f: dict) -> dict:
        group = self._group(p)
        if not group.is_forum:
            raise bad_request("the chat is not a forum")
        if group.bot_status != "administrator" or not group.can_manage_topics:
            raise bad_request("not enough rights to create a topic")
        name = str(p.get("name", ""))
        if not 1 <= len(name) <= 128:
            raise bad_request("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_INVALID")
        thread_id = self._next_message_id(group.id)
        group.topics[thread_id] = name
        return {"message_thread_id": thread_id, "name": name,
                "icon_color": p.get("icon_color", TOPIC_COLOR)}

    def _api_get_chat_member(self, p: dict, f: dict) -> dict:
        group = self._group(p)
        user_id = p.get("user_id")
        if user_id == self.me["id"]:
            if group.bot_status != "administrator":
                return {"user": self.me, "status": "member"}
            rights = dict.fromkeys(
                "can_be_edited is_anonymous can_manage_chat can_delete_messages "
                "can_manage_video_chats can_restrict_members can_promote_members "
                "can_change_info can_invite_users can_post_stories can_edit_stories "
                "can_delete_stories can_pin_messages".split(), False)
            rights.update(can_manage_chat=True, can_delete_messages=True,
                          can_manage_topics=group.can_manage_topics)
            return {"user": self.me, "status": "administrator", **rights}
        member = group.members.get(user_id) if isinstance(user_id, int) else None
        if member is None:
            return {"user": {"id": user_id, "is_bot": False, "first_name": "?"},
                    "status": "left"}
        return {"user": member.to_dict(), "status": "member"}

    def _api_send_chat_action(self, p: dict, f: dict) -> bool:
        self._chat(p)
        return True

    def _api_edit_message_text(self, p: dict, f: dict) -> dict:
        message = self._editable(p)
        if message.kind != "text":
            raise bad_request("there is no text in the message to edit")
        _check_text(p, "text")
        return self._edit(message, p, text=p["text"])

    def _api_edit_message_caption(self, p: dict, f: dict) -> dict:
        message = self._editable(p)
        if message.kind == "text":
            raise bad_request("there is no caption in the message to edit")
        caption = p.get("caption")
        _check_text(p, "caption")
        return self._edit(message, p, caption=caption)

    def _api_edit_message_media(self, p: dict, f: dict) -> dict:
        message = self._editable(p)
        media = p.get("media")
        if not isinstance(media, dict) or media.get("type") not in ("photo", "document"):
            raise bad_request("can't parse InputMedia: media type is not specified")
        if message.kind == "text" or media["type"] != message.kind:
            raise bad_request("message can't be edited: wrong media type")
        source = str(media.get("media", ""))
        stored: _StoredFile | None
        if source.startswith("attach://"):
            upload = f.get(source.removeprefix("attach://"))
            if upload is None or not upload.content:
                raise bad_request("wrong file identifier/HTTP URL specified")
            stored = self._store(upload, media["type"] + "s")
        elif (stored := self._files.get(source)) is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        _check_text({"caption": media.get("caption"), "parse_mode": media.get("parse_mode")},
                    "caption")
        message.parse_mode = media.get("parse_mode")
        return self._edit(message, p, file=stored.file, file_id=stored.file_id,
                          caption=media.get("caption"))

    def _api_edit_message_reply_markup(self, p: dict, f: dict) -> dict:
        return self._edit(self._editable(p), p)

    def _api_delete_message(self, p: dict, f: dict) -> bool:
        chat_id, message_id = self._chat(p, check_blocked=False), p.get("message_id", 0)
        message = self.message(chat_id, message_id)
        if message is not None and not message.deleted:
            message.deleted = True
        elif (chat_id, message_id) in self._user_messages:
            self._user_messages.discard((chat_id, message_id))
        else:
            raise bad_request("message to delete not found")
        return True

    def _api_answer_callback_query(self, p: dict, f: dict) -> bool:
        if p.get("callback_query_id") not in self._open_queries:
            raise bad_request(_QUERY_TOO_OLD)
        self._open_queries.discard(p["callback_query_id"])
        return True

    def _api_get_file(self, p: dict, f: dict) -> dict:
        stored = self._files.get(p.get("file_id", ""))
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.file.content),
            "file_path": stored.path,
        }

    def _api_get_chat(self, p: dict, f: dict) -> dict:
        chat_id = self._chat(p, check_blocked=False)
        kinds = (
            "unlimited_gifts limited_gifts unique_gifts premium_subscription gifts_from_channels"
        )
        gifts = dict.fromkeys(kinds.split(), False)
        return {
            **self._chat_dict(chat_id),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }

    # ---- helpers -----------------------------------------------------------------------

    def _chat(self, p: dict, check_blocked: bool = True) -> int:
        chat_id = p.get("chat_id")
        if isinstance(chat_id, int) and chat_id in self.groups:
            return self._group(p).id
        if chat_id not in self._users:
            raise bad_request("chat not found")
        if check_blocked and chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _group(self, p: dict) -> FakeGroup:
        chat_id = p.get("chat_id")
        group = self.groups.get(chat_id) if isinstance(chat_id, int) else None
        if group is None:
            raise bad_request("chat not found")
        if group.removed:
            raise ApiError(403, "Forbidden: bot was kicked from the supergroup chat")
        return group

    def _thread(self, chat_id: int, p: dict) -> int | None:
        """The forum topic a message is sent to (``message_thread_id``), checked."""
        thread_id = p.get("message_thread_id")
        if thread_id is None:
            return None
        group = self.groups.get(chat_id)
        if group is None or thread_id not in group.topics:
            raise bad_request("message thread not found")
        return int(thread_id)

    def _editable(self, p: dict) -> SentMessage:
        if "inline_message_id" in p:
            raise bad_request("inline messages are not supported by the fake")
        chat_id = self._chat(p, check_blocked=False)
        message = self.message(chat_id, p.get("message_id", 0))
        if message is None or message.deleted:
            if (chat_id, p.get("message_id")) in self._user_messages:
                raise bad_request("message can't be edited")
            raise bad_request("message to edit not found")
        return message

    def _edit(self, message: SentMessage, p: dict, **changes: Any) -> dict:
        markup = p.get("reply_markup")  # Telegram drops the keyboard when an edit omits it
        _check_markup(markup)
        if all(getattr(message, k) == v for k, v in changes.items()) and (
            message.reply_markup == markup
        ):
            raise bad_request(_NOT_MODIFIED)
        for key, value in changes.items():
            setattr(message, key, value)
        if changes:
            message.parse_mode = p.get("parse_mode")
        message.reply_markup = markup
        message.edited += 1
        return self._message_dict(message)

    def _next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] += 1
        return self._last_message_id[chat_id]

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-{self._counter}"

    def _store(self, file: UploadedFile, folder: str) -> _StoredFile:
        file_id = self._next_id("fake-file")
        suffix = file.file_name.rpartition(".")[2] if "." in file.file_name else "bin"
        path = f"{folder}/file_{self._counter}.{suffix}"
        stored = _StoredFile(file_id, f"unique-{file_id}", path, file)
        self._files[file_id] = stored
        return stored

    def _document_dict(self, stored: _StoredFile) -> dict[str, Any]:
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_name": stored.file.file_name,
            "mime_type": stored.file.mime_type,
            "file_size": len(stored.file.content),
        }

    def _chat_dict(self, chat_id: int) -> dict[str, Any]:
        if chat_id in self.groups:
            return self.groups[chat_id].to_dict()
        user = self._users[chat_id].to_dict()
        keys = ("first_name", "last_name", "username")
        return {"id": chat_id, "type": "private", **{k: user[k] for k in keys if k in user}}

    def _message_dict(self, message: SentMessage) -> dict[str, Any]:
        """The Message object Telegram returns: plain text, only inline keyboards."""
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "from": self.me,
            "chat": self._chat_dict(message.chat_id),
            "date": message.date,
        }
        if message.edited:
            data["edit_date"] = int(time.time())
        if message.text is not None:
            data["text"] = rendered_text(message.text, message.parse_mode)
        if message.caption is not None:
            data["caption"] = rendered_text(message.caption, message.parse_mode)
        if message.thread_id is not None:
            data["message_thread_id"] = message.thread_id
            data["is_topic_message"] = True
        if message.kind != "text" and message.file_id is not None:
            document = self._document_dict(self._files[message.file_id])
            if message.kind == "document":
                data["document"] = document
            elif message.kind == "voice":
                data["voice"] = {k: document[k] for k in ("file_id", "file_unique_id",
                                                          "file_size", "mime_type")}
                data["voice"]["duration"] = 1
            else:
                document = {k: document[k] for k in ("file_id", "file_unique_id", "file_size")}
                data["photo"] = [{**document, "width": 800, "height": 600}]
        if message.invoice is not None:
            data["invoice"] = dict(message.invoice)
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup
        return data


def _check_text(p: dict[str, Any], key: Literal["text", "caption"]) -> None:
    """Refuse what Telegram refuses: bad HTML, empty text, too long (in UTF-16 units)."""
    plain = rendered_text(p.get(key) or "", p.get("parse_mode"))
    if key == "text" and not plain.strip():
        raise bad_request("message text is empty")
    if len(plain.encode("utf-16-le")) // 2 > (4096 if key == "text" else 1024):
        raise bad_request("message is too long" if key == "text" else "message caption is too long")


def _check_markup(markup: dict[str, Any] | None) -> None:
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            if len(button.get("callback_data", "").encode()) > 64:
                raise bad_request("BUTTON_DATA_INVALID")


def _caption(caption: str | None) -> dict[str, str]:
    return {} if caption is None else {"caption": caption}


def _scope_key(scope: dict[str, Any] | None) -> str:
    return json.dumps(scope or {"type": "default"}, sort_keys=True)


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()
