"""The inbox: every customer's message to an owner's number reaches the owner in Telegram,
and the owner's answer goes back through the same number.

Arrival. A gateway's ``IncomingMessage`` (a webhook, or the sandbox) goes to
``on_incoming``: the replies service keeps it and acts on an opt-out word first, in its
transaction (``bot/services/replies.py``; messages arriving while a batch is written
form the next batch, one transaction each: group commit, so that a burst of replies
holds the database, and the receipts waiting for it, a moment rather than a moment
each); then the owner's router is woken. Nothing is posted to Telegram while the webhook
waits: it answers once the message is kept.

Routing. One task per owner with messages still to route (``inbound_messages.routed_at``
NULL: after a restart too, ``start``) takes them oldest first, in batches, and for each:

- an opt-out or start word: already acted on, not forwarded; a muted conversation: kept,
  not forwarded;
- **topics mode** (a forum group linked, ``link_group``): posted in the customer's forum
  topic ("name · phone", made at their first message, ``InboxOutlet.create_topic``), with
  the campaign it answered; a topic deleted in Telegram is made again; a group the bot
  cannot post in (removed, no rights) sends it to the owner's chat instead;
- **chat mode** (the default): a ``CustomerWrote`` notice to the owner's chat, with
  *Reply*, *Opt out* and *Mute*; a reply that only mentions stopping is shown once, by
  the replies service's one-tap decision, not twice;
- an attachment is fetched from the gateway (``MediaDownloader``) and posted with it.

Answers (``answer``, ``answer_template``): through the number the customer last wrote to,
never another; refused (``ValidationError``, nothing sent or charged) when the number is
no longer usable, when its gateway allows free text only within a window after the
customer's last message (``Capabilities.reply_window``: the Cloud API's 24 hours) and
that window is closed (the approved twin of a template may still be sent:
``answer_template``), when the number reached its daily cap (``SendingPolicy``), or
without a credit. A sent answer is kept as an outbound message of the conversation and
charged one credit, reserved and charged in the transaction that keeps it.

Linking a group: the owner gets a one-time code (``link_code``, valid an hour) and types
``/linkinbox <code>`` in the group, where the bot is an administrator that may manage
topics (the handler checks with Telegram); a group is one owner's only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol

from bot.clock import Clock, utcnow
from bot.domain import (
    Conversation,
    InboundMessage,
    InboxMode,
    InboxSettings,
    Owner,
    Sender,
    SenderStatus,
    Template,
)
from bot.errors import NotAllowed, NotFound, StorageUnavailable, ValidationError
from bot.gateways.base import (
    Gateway,
    GatewayError,
    IncomingKind,
    IncomingMessage,
    Media,
    MediaDownloader,
    SenderRef,
    SendResult,
)
from bot.services import billing
from bot.services.billing import CREDITS_PER_MESSAGE
from bot.services.gateway_calls import gateway_call
from bot.services.notify import CustomerWrote, Notifier
from bot.services.prompts import PromptKind
from bot.services.prompts import close as close_prompt
from bot.services.replies import OptOutWords, RepliesService, Reply
from bot.services.senders import sender_ref
from bot.services.sending import SendingPolicy
from bot.services.templates import contact_values
from bot.storage import campaigns as campaigns_repo
from bot.storage import contacts as contacts_repo
from bot.storage import inbox as repo
from bot.storage import ledger, outbox, owners, senders, templates
from bot.storage.db import Database

log = logging.getLogger(__name__)

BATCH = 50  # messages an owner's router takes at a time
INTAKE_MAX = 50  # customers' messages kept in one transaction at most (the receipts wait)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a phone
CODE_LENGTH = 8
CODE_VALID = timedelta(hours=1)
MEDIA_MAX = 20 * 1024 * 1024  # an attachment bigger is not fetched (Telegram's own limit)
TEXT_MAX = 4096  # what an answer may say (WhatsApp's text limit)
TOPIC_NAME_MAX = 128  # Telegram's
REMEMBERED = 10_000  # customers' WhatsApp names (and attachments' file names) kept in memory
_MEDIA_KINDS = frozenset({IncomingKind.IMAGE, IncomingKind.DOCUMENT, IncomingKind.AUDIO,
                          IncomingKind.VOICE, IncomingKind.VIDEO, IncomingKind.STICKER})

PostResult = Literal["posted", "topic_gone", "failed"]


class InboxOutlet(Protocol):
    """Where the inbox posts in a Telegram forum group (``bot/handlers/inbox_outlet.py``).
    Neither raises for what Telegram refuses: each answers it."""

    async def create_topic(self, group_chat_id: int, name: str) -> int | None:
        """A new forum topic's thread id; None when the group refuses (no rights, not a
        forum, the bot removed)."""

    async def post(self, notice: CustomerWrote) -> PostResult:
        """Post in ``notice.group_chat_id`` / ``thread_id``: ``topic_gone`` when Telegram
        has no such topic (any more), ``failed`` for any other refusal."""


@dataclass(frozen=True, slots=True)
class InboxConfig:
    daily_cap: int
    warmup: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Answered:
    """An answer the gateway accepted: to ``phone`` from the owner's ``number``."""

    phone: str
    number: str
    message_id: int


@dataclass(frozen=True, slots=True)
class Linked:
    """A group linked as ``owner``'s inbox."""

    owner: Owner
    group_chat_id: int


@dataclass(slots=True)
class _Batch:
    """What routing a batch of one owner's messages reads once, and the topics it made."""

    rows: list[InboundMessage]
    settings: InboxSettings
    conversations: dict[str, Conversation]  # by phone
    names: dict[str, str]  # the contacts' names, by phone
    senders: dict[int, Sender | None] = field(default_factory=dict)
    campaigns: dict[int, str | None] = field(default_factory=dict)  # id -> name
    topics: list[tuple[int, int | None, int | None]] = field(default_factory=list)


class _Remembered(OrderedDict[tuple[int, str], str]):
    """A small bounded memory: the oldest entries go first."""

    def keep(self, key: tuple[int, str], value: str) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > REMEMBERED:
            self.popitem(last=False)


class InboxService:
    def __init__(
        self, db: Database, replies: RepliesService, gateway: Gateway,
        notifier: Notifier, config: InboxConfig, clock: Clock = utcnow, *,
        words: OptOutWords | None = None, outlet: InboxOutlet | None = None,
    ) -> None:
        self._db = db
        self._replies = replies
        self._gateway = gateway
        self._notifier = notifier
        self._outlet = outlet
        self._words = words or OptOutWords.of()
        self._policy = SendingPolicy(config.daily_cap, config.warmup)
        self._clock = clock
        self._owner_of_sender: dict[int, int] = {}
        self._profiles = _Remembered()  # (owner, phone) -> the name they gave WhatsApp
        self._filenames = _Remembered()  # (owner, media ref) -> the attachment's file name
        self._intake: list[tuple[IncomingMessage, asyncio.Future[None]]] = []  # to keep
        self._taking: asyncio.Task[None] | None = None  # keeps them, batch after batch
        self._dirty: set[int] = set()  # owners with messages to route
        self._after: dict[int, int] = {}  # owner -> the last message id routed here
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self.routed = 0  # messages routed since start (the bench reads it)

    def set_outlet(self, outlet: InboxOutlet) -> None:
        """Where topics are posted (the bot's, wired once the application exists)."""
        self._outlet = outlet

    # --- arrival ------------------------------------------------------------------------

    async def on_incoming(self, event: IncomingMessage) -> None:
        """A customer's message from a gateway: kept and acted on (opt-out words) by the
        replies service, then routed by the owner's task. Returns once it is kept (a
        webhook answers 200 only then); messages arriving while a batch is written form
        the next one, kept in one transaction (group commit)."""
        done = asyncio.get_running_loop().create_future()
        self._intake.append((event, done))
        if self._taking is None or self._taking.done():
            self._taking = asyncio.create_task(self._take_in(), name="inbox-intake")
        await asyncio.shield(done)  # a caller that gives up leaves the others' batch alone

    async def _take_in(self) -> None:
        """Batch after batch, as long as messages wait."""
        while self._intake:
            batch, self._intake = self._intake[:INTAKE_MAX], self._intake[INTAKE_MAX:]
            try:
                await self._keep_batch(batch)
            except BaseException as exc:  # cancelled: its callers are told, not left waiting
                for _, done in batch:
                    if not done.done():
                        _fail(done, exc if isinstance(exc, Exception)
                              else StorageUnavailable("stopping", "the bot is stopping"))
                raise

    async def _keep_batch(self, batch: list[tuple[IncomingMessage, asyncio.Future[None]]]
                          ) -> None:
        try:
            await self._replies.handle_many([_reply(event) for event, _ in batch])
        except Exception as exc:
            if len(batch) == 1 or isinstance(exc, StorageUnavailable):
                for _, done in batch:
                    _fail(done, exc)
                return
            for event, done in batch:  # one of them failed the rest: each on its own
                try:
                    await self._replies.handle_many([_reply(event)])
                except Exception as one:
                    _fail(done, one)
                else:
                    await self._kept(event)
                    done.set_result(None)
            return
        for event, _ in batch:  # routers woken before the webhooks are answered
            await self._kept(event)
        for _, done in batch:
            done.set_result(None)

    async def _kept(self, event: IncomingMessage) -> None:
        """The owner's router woken for the message kept (its WhatsApp name remembered)."""
        try:
            owner_id = await self._owner_of(event.sender_id)
        except Exception:  # routed at the owner's next message, or the next start
            log.exception("inbox: the owner of sender %d not known", event.sender_id)
            return
        if owner_id is None:
            return
        if event.profile_name:
            self._profiles.keep((owner_id, event.from_phone), event.profile_name[:64])
        if event.media_ref and event.filename:
            self._filenames.keep((owner_id, event.media_ref), event.filename[:128])
        self.kick(owner_id)

    async def _owner_of(self, sender_id: int) -> int | None:
        owner_id = self._owner_of_sender.get(sender_id)
        if owner_id is None:
            sender = await senders.get_any(self._db.reader, sender_id)
            if sender is None:
                return None
            owner_id = self._owner_of_sender[sender_id] = sender.owner_id
        return owner_id

    # --- routing --------------------------------------------------------------------------

    async def start(self) -> None:
        """Route what was left unrouted (the process stopped first)."""
        for owner_id in await repo.owners_unrouted(self._db.reader):
            self.kick(owner_id)

    def kick(self, owner_id: int) -> None:
        """The owner has messages to route: their task runs (or runs again)."""
        if self._closed:
            return
        self._dirty.add(owner_id)
        if owner_id not in self._tasks:
            self._idle.clear()
            self._tasks[owner_id] = asyncio.create_task(self._run(owner_id),
                                                        name=f"inbox-{owner_id}")

    async def drain(self) -> None:
        """Until every message handed in so far is kept and routed."""
        while self._tasks or (self._taking is not None and not self._taking.done()):
            if self._taking is not None and not self._taking.done():
                await asyncio.gather(self._taking, return_exceptions=True)
            else:
                await self._idle.wait()

    async def close(self) -> None:
        """Stop routing (what is left is routed at the next start); the messages being
        kept are kept first."""
        if self._taking is not None:
            await asyncio.gather(self._taking, return_exceptions=True)
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, owner_id: int) -> None:
        try:
            while owner_id in self._dirty:
                self._dirty.discard(owner_id)
                while batch := await self._batch(owner_id):
                    for row in batch.rows:
                        try:
                            await self._route(row, batch)
                        except Exception:  # one message that cannot go never holds the rest
                            log.exception("inbox: message %d of owner %d not routed",
                                          row.id, owner_id)
                    async with self._db.transaction() as tx:  # one write for the batch
                        await repo.set_topics(tx, batch.topics)
                        await repo.mark_routed(tx, [r.id for r in batch.rows], self._clock())
                    self._after[owner_id] = batch.rows[-1].id
                    self.routed += len(batch.rows)
        except asyncio.CancelledError:
            raise
        except Exception:  # the storage failed: tried again at the next message or start
            log.exception("inbox: routing for owner %d stopped", owner_id)
        finally:
            del self._tasks[owner_id]
            if not self._tasks:
                self._idle.set()

    async def _batch(self, owner_id: int) -> _Batch | None:
        """The owner's next messages to route (None: none), with what routing them reads,
        once for all of them: the settings, the conversations (made for new customers),
        the contacts' names. Read in a transaction: the writer sees every message kept so
        far (the shared reader may still be reading an older state), and past the last
        one this task routed (however late its mark shows)."""
        async with self._db.transaction() as tx:
            rows = await repo.unrouted(tx, owner_id, BATCH, after=self._after.get(owner_id, 0))
            if not rows:
                return None
            phones = list(dict.fromkeys(row.phone for row in rows))
            conversations = await repo.conversations_of(tx, owner_id, phones)
            missing = [phone for phone in phones if phone not in conversations]
            if missing:
                conversations.update(await repo.ensure_conversations(tx, owner_id, missing,
                                                                     self._clock()))
            return _Batch(rows, await repo.settings(tx, owner_id), conversations,
                          await repo.contact_names(tx, owner_id, phones))

    async def _route(self, row: InboundMessage, batch: _Batch) -> None:
        text = row.text or ""
        if row.kind == IncomingKind.TEXT and self._words.intent(text) is not None:
            return  # an opt-out (or start) word: acted on when it came
        conversation = batch.conversations[row.phone]
        if conversation.muted_at is not None:
            return
        settings = batch.settings
        asked = row.kind == IncomingKind.TEXT and self._words.mentions_stop(text)
        if asked and not settings.topics:
            return  # the owner's one-tap decision shows it (the replies service's)
        notice = await self._notice(row, conversation, batch)
        if settings.topics and self._outlet is not None and await self._post(
                notice, conversation, batch):
            return
        await self._notifier.notify(notice)

    async def _post(self, notice: CustomerWrote, conversation: Conversation,
                    batch: _Batch) -> bool:
        """Posted in the customer's topic (made, or made again, when needed)? A new topic
        is kept with the batch's routing."""
        assert self._outlet is not None and batch.settings.group_chat_id is not None
        group = batch.settings.group_chat_id
        thread = conversation.thread_id if conversation.group_chat_id == group else None
        for _attempt in range(2):
            if thread is None:
                thread = await self._outlet.create_topic(group, self._topic_name(notice))
                if thread is None:
                    log.warning("inbox: owner %d's group refused a topic", notice.owner_id)
                    return False
                batch.conversations[conversation.phone] = replace(
                    conversation, group_chat_id=group, thread_id=thread)
                batch.topics.append((conversation.id, group, thread))
            result = await self._outlet.post(_replace_topic(notice, group, thread))
            if result == "posted":
                return True
            if result == "failed":
                return False
            thread = None  # the topic was deleted in Telegram: a new one
        return False

    @staticmethod
    def _topic_name(notice: CustomerWrote) -> str:
        name = " ".join((notice.name or "").split())
        label = f"{name} · {notice.phone}" if name else notice.phone
        return label[:TOPIC_NAME_MAX]

    async def _notice(self, row: InboundMessage, conversation: Conversation,
                      batch: _Batch) -> CustomerWrote:
        reader = self._db.reader
        name = batch.names.get(row.phone) or self._profiles.get((row.owner_id, row.phone))
        if row.sender_id not in batch.senders:
            batch.senders[row.sender_id] = await senders.get_any(reader, row.sender_id)
        sender = batch.senders[row.sender_id]
        number = (sender.label or sender.phone) if sender is not None else "?"
        campaign: str | None = None
        if row.campaign_id is not None:
            if row.campaign_id not in batch.campaigns:
                found = await campaigns_repo.get(reader, row.owner_id, row.campaign_id)
                batch.campaigns[row.campaign_id] = found.name if found is not None else None
            campaign = batch.campaigns[row.campaign_id]
        media, missing, geo = None, False, None
        if row.kind == IncomingKind.LOCATION and row.media_ref:
            geo = _geo(row.media_ref)
        elif row.kind in _MEDIA_KINDS:
            media = await self._fetch(sender, row) if sender is not None and row.media_ref \
                else None
            missing = media is None
        return CustomerWrote(
            row.owner_id, row.id, conversation.id, row.phone, name, number, campaign,
            row.kind, row.text or "", row.received_at, media, missing, geo)

    async def _fetch(self, sender: Sender, row: InboundMessage) -> Media | None:
        """The attachment from the gateway (None when it cannot be had)."""
        assert row.media_ref is not None
        if not isinstance(self._gateway, MediaDownloader):
            return None
        try:
            media = await self._gateway.download_media(sender_ref(sender), row.media_ref,
                                                       max_bytes=MEDIA_MAX)
        except GatewayError as exc:
            log.warning("inbox: attachment of message %d not fetched: %s", row.id,
                        exc.category)
            return None
        filename = self._filenames.get((row.owner_id, row.media_ref)) or media.filename
        kind = "image" if row.kind == IncomingKind.IMAGE else "document"
        return Media(kind, data=media.data, mimetype=media.mimetype, filename=filename)

    # --- conversations ----------------------------------------------------------------------

    async def conversation(self, owner_id: int, conversation_id: int) -> Conversation:
        found = await repo.conversation_by_id(self._db.reader, owner_id, conversation_id)
        if found is None:
            raise NotFound("conversation")
        return found

    async def conversation_of(self, owner_id: int, phone: str) -> Conversation | None:
        return await repo.conversation(self._db.reader, owner_id, phone)

    async def owner_of_group(self, group_chat_id: int) -> int | None:
        """The owner whose linked inbox this group is."""
        return await repo.owner_of_group(self._db.reader, group_chat_id)

    async def in_topic(self, group_chat_id: int, thread_id: int) -> Conversation | None:
        """The conversation a forum topic of a linked group is (None: not one of ours)."""
        found = await repo.by_topic(self._db.reader, group_chat_id, thread_id)
        if found is None:
            return None
        settings = await repo.settings(self._db.reader, found.owner_id)
        return found if settings.group_chat_id == group_chat_id else None

    async def mute(self, owner_id: int, conversation_id: int, muted: bool) -> Conversation:
        """No more forwarding of this customer's messages (kept all the same), or again."""
        conversation = await self.conversation(owner_id, conversation_id)
        async with self._db.transaction() as tx:
            await repo.set_muted(tx, owner_id, conversation.id,
                                 self._clock() if muted else None)
        return await self.conversation(owner_id, conversation_id)

    async def window(self, owner_id: int, conversation_id: int
                     ) -> tuple[Sender, datetime, timedelta | None]:
        """The number an answer goes through, the customer's last message to it, and how
        long after it free text may answer (None: at any time)."""
        conversation = await self.conversation(owner_id, conversation_id)
        sender, last = await self._route_back(owner_id, conversation.phone)
        return sender, last.received_at, self._gateway.capabilities(sender_ref(sender)).reply_window

    async def twins(self, owner_id: int) -> list[Template]:
        """The owner's templates with an approved twin (what a closed window may send)."""
        return [t for t in await templates.for_owner(self._db.reader, owner_id)
                if t.cloud is not None]

    # --- answers ------------------------------------------------------------------------------

    async def answer(self, owner_id: int, conversation_id: int, text: str = "",
                     media: Media | None = None) -> Answered:
        """The owner's answer (text, or an image / document with ``text`` its caption) to
        the customer, through the number they wrote to (see the module docstring)."""
        text = text.strip()
        if not text and media is None:
            raise ValidationError("inbox_empty", where="inbox")
        if len(text) > (TEXT_MAX if media is None else 1024):
            raise ValidationError("inbox_too_long", where="inbox",
                                  limit=TEXT_MAX if media is None else 1024)
        conversation, sender, last, ref = await self._ready(owner_id, conversation_id)
        window = self._gateway.capabilities(ref).reply_window
        if window is not None and self._clock() - last.received_at > window:
            raise ValidationError("inbox_window_closed", where="inbox",
                                  hours=int(window.total_seconds() // 3600))
        with gateway_call():
            if media is not None:
                result = await self._gateway.send_media(ref, conversation.phone, media,
                                                        caption=text or None)
            else:
                result = await self._gateway.send_text(ref, conversation.phone, text)
        said: dict[str, object] = {"text": text}
        if media is not None:
            said["media"] = {"kind": media.kind, "url": None}
        return await self._keep(owner_id, conversation, sender, result, said)

    async def answer_template(self, owner_id: int, conversation_id: int,
                              template_id: int) -> Answered:
        """The approved twin of the owner's template, to a customer whose window closed
        (or any time): its variables from the contact."""
        template = await templates.get(self._db.reader, owner_id, template_id)
        if template is None:
            raise NotFound("template", template_id=template_id)
        twin = template.cloud
        if twin is None:
            raise ValidationError("inbox_no_twin", where="inbox", name=template.name)
        conversation, sender, _last, ref = await self._ready(owner_id, conversation_id)
        contact = await contacts_repo.get_by_phone(self._db.reader, owner_id,
                                                   conversation.phone)
        values = contact_values(contact) if contact is not None else {
            "phone": conversation.phone}
        with gateway_call():
            result = await self._gateway.send_template(
                ref, conversation.phone, twin.name, twin.language,
                [values.get(p) or "-" for p in twin.params])
        said = {"template_id": template.id, "variables": {p: values.get(p) or "-"
                                                          for p in twin.params}}
        return await self._keep(owner_id, conversation, sender, result, said)

    async def _ready(self, owner_id: int, conversation_id: int
                     ) -> tuple[Conversation, Sender, InboundMessage, SenderRef]:
        """What every answer checks before it is sent: the owner active, the number the
        customer wrote to still theirs and usable, under its daily cap, a credit."""
        owner = await owners.get(self._db.reader, owner_id)
        if owner is None or not owner.is_active:
            raise NotAllowed("not_active")
        conversation = await self.conversation(owner_id, conversation_id)
        sender, last = await self._route_back(owner_id, conversation.phone)
        ts = self._clock().timestamp()
        used = await outbox.sent_since(self._db.reader, sender.id, ts - 86_400)
        if self._policy.room(sender, ts, used) <= 0:
            raise ValidationError("inbox_cap_reached", where="senders",
                                  number=sender.label or sender.phone)
        balance = await ledger.balance(self._db.reader, owner_id)
        if balance.available < CREDITS_PER_MESSAGE:
            raise ValidationError("inbox_no_credits", where="balance")
        return conversation, sender, last, sender_ref(sender)

    async def _route_back(self, owner_id: int, phone: str) -> tuple[Sender, InboundMessage]:
        last = await repo.last_inbound(self._db.reader, owner_id, phone)
        if last is None:
            raise NotFound("conversation")
        sender = await senders.get(self._db.reader, owner_id, last.sender_id)
        if sender is None or sender.status is not SenderStatus.ACTIVE:
            raise ValidationError("inbox_number_gone", where="senders",
                                  number=(sender.label or sender.phone) if sender else "?")
        return sender, last

    async def _keep(self, owner_id: int, conversation: Conversation, sender: Sender,
                    result: SendResult, said: Mapping[str, object]) -> Answered:
        now = self._clock()
        contact = await contacts_repo.get_by_phone(self._db.reader, owner_id,
                                                   conversation.phone)
        async with self._db.transaction() as tx:
            message_id = await repo.record_answer(
                tx, owner_id, sender.id, conversation.phone,
                contact.id if contact is not None else None, result.message_id,
                json.dumps(said, ensure_ascii=False, separators=(",", ":")), now)
            await billing.reserve(tx, owner_id, CREDITS_PER_MESSAGE, now, note="inbox answer")
            await billing.charge(tx, owner_id, CREDITS_PER_MESSAGE, now, note="inbox answer")
            await close_prompt(tx, owner_id, PromptKind.INBOX_REPLY)
        log.info("inbox: owner %d answered through sender %d", owner_id, sender.id)
        return Answered(conversation.phone, sender.label or sender.phone, message_id)

    # --- settings and linking a group ---------------------------------------------------------

    async def settings(self, owner_id: int) -> InboxSettings:
        return await repo.settings(self._db.reader, owner_id)

    async def link_code(self, owner_id: int) -> tuple[str, datetime]:
        """A new one-time code to type in the group (``/linkinbox <code>``), and its end."""
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        now = self._clock()
        until = now + CODE_VALID
        async with self._db.transaction() as tx:
            await repo.set_link_code(tx, owner_id, code, until, now)
        return code, until

    async def link_group(self, code: str, group_chat_id: int, title: str | None) -> Linked:
        """The group whose member typed the owner's code becomes the owner's inbox (topics
        mode). ``NotFound`` for a wrong or expired code; ``NotAllowed`` when the group is
        another owner's, or the owner is not active."""
        code = "".join(code.split()).upper().replace("-", "")
        now = self._clock()
        async with self._db.transaction() as tx:
            owner_id = await repo.owner_of_code(tx, code, now) if code else None
            if owner_id is None:
                raise NotFound("link_code")
            owner = await owners.get(tx, owner_id)
            if owner is None or not owner.is_active:
                raise NotAllowed("not_active")
            holder = await repo.owner_of_group(tx, group_chat_id)
            if holder is not None and holder != owner_id:
                raise NotAllowed("inbox_group_taken")
            await repo.link_group(tx, owner_id, group_chat_id, (title or "")[:128] or None, now)
        log.info("inbox: owner %d linked a group", owner_id)
        return Linked(owner, group_chat_id)

    async def use(self, owner_id: int, mode: InboxMode) -> InboxSettings:
        """Chat mode, or topics mode again (a group must be linked)."""
        current = await self.settings(owner_id)
        if mode is InboxMode.TOPICS and current.group_chat_id is None:
            raise ValidationError("inbox_no_group", where="inbox")
        async with self._db.transaction() as tx:
            await repo.set_mode(tx, owner_id, mode, self._clock())
        return await self.settings(owner_id)

    async def unlink(self, owner_id: int) -> InboxSettings:
        async with self._db.transaction() as tx:
            await repo.unlink(tx, owner_id, self._clock())
        return await self.settings(owner_id)


def _reply(event: IncomingMessage) -> Reply:
    return Reply(event.sender_id, event.from_phone, event.text, event.at, event.message_id,
                 event.kind.value, event.media_ref)


def _fail(done: asyncio.Future[None], exc: BaseException) -> None:
    done.set_exception(exc)
    done.exception()  # the caller gets it; never logged again as "never retrieved"


def _replace_topic(notice: CustomerWrote, group: int, thread: int) -> CustomerWrote:
    return replace(notice, group_chat_id=group, thread_id=thread)


def _geo(ref: str) -> tuple[float, float] | None:
    """``geo:<lat>,<lon>`` -> (lat, lon)."""
    try:
        lat, lon = ref.removeprefix("geo:").split(",", 1)
        return float(lat), float(lon)
    except ValueError:
        return None
