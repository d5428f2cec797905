"""Customers' replies: a reply that is only an opt-out word opts the number out of all of
the owner's campaigns at once; a start word opts it back in.

Words match case-insensitively on the whole reply, trimmed, with punctuation, symbols and
spaces at either end ignored ("Stop!", " стоп. " and "STOP 🙏" all count). A longer reply
that merely contains a stop word ("please stop writing to me") goes to the owner as a
one-tap decision (``asked``): opt the number out, or keep it.

Every message is kept first (``bot/storage/inbound.py``), in the transaction that acts on
its words: with the campaign message it answered (the last one that number sent to that
contact), which is then marked replied, and the contact marked as having written. A
campaign's stats count its replies, its report shows the first, and its follow-ups reach
those who replied or did not. ``handle_many`` keeps several in one transaction (the inbox
gathers the messages that arrive while one batch is written: ``bot/services/inbox.py``).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from bot.clock import Clock, utcnow
from bot.domain import InboundMessage, Sender
from bot.services import opt_outs
from bot.services.notify import Notifier, ReplyToDecide
from bot.services.webhooks import EventType, WebhooksService, contact_data, reply_data
from bot.storage import contacts as contacts_repo
from bot.storage import inbound
from bot.storage import senders as senders_repo
from bot.storage.db import Connection, Database

log = logging.getLogger(__name__)

OPT_OUT_REASON = "replied STOP"

DEFAULT_STOP_WORDS = (
    "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "QUIT", "END",  # en
    "DAYAN", "DAYANDIR", "ABUNƏLİKDƏN ÇIX",  # az
    "СТОП", "ОТПИСАТЬСЯ", "ОТПИСКА",  # ru
    "DUR", "İPTAL", "ABONELİKTEN ÇIK",  # tr
)
DEFAULT_START_WORDS = ("START", "BAŞLA", "СТАРТ")

Intent = Literal["stop", "start"]
Outcome = Literal["opted_out", "opted_in", "asked", "ignored"]
EXCERPT_MAX = 300  # characters of a reply shown to the owner


def normalise(text: str) -> str:
    """One spelling per word: case folded, Turkish/Azerbaijani dotted and dotless i made
    one letter, inner spaces collapsed, punctuation, symbols and spaces at the ends cut."""
    folded = unicodedata.normalize("NFC", text).casefold()
    folded = unicodedata.normalize("NFD", folded).replace("\u0307", "")  # İ -> i̇ -> i
    folded = unicodedata.normalize("NFC", folded).replace("ı", "i")
    words = folded.split()
    joined = " ".join(words)
    start, end = 0, len(joined)
    while start < end and _edge(joined[start]):
        start += 1
    while end > start and _edge(joined[end - 1]):
        end -= 1
    return joined[start:end]


def _strip_edges(word: str) -> str:
    start, end = 0, len(word)
    while start < end and _edge(word[start]):
        start += 1
    while end > start and _edge(word[end - 1]):
        end -= 1
    return word[start:end]


def _edge(char: str) -> bool:
    return unicodedata.category(char)[0] in "PSZC"


@dataclass(frozen=True, slots=True)
class OptOutWords:
    """The stop and start words, stored normalised. Build with ``OptOutWords.of``."""

    stop: frozenset[str]
    start: frozenset[str]

    @classmethod
    def of(
        cls, stop: Iterable[str] = DEFAULT_STOP_WORDS, start: Iterable[str] = DEFAULT_START_WORDS,
    ) -> OptOutWords:
        stops = frozenset(normalise(w) for w in stop) - {""}
        starts = frozenset(normalise(w) for w in start) - {""}
        if stops & starts:
            raise ValueError(f"words both stop and start: {sorted(stops & starts)}")
        return cls(stops, starts)

    def intent(self, reply: str) -> Intent | None:
        """``stop`` or ``start`` when the whole reply is one of the words, else None."""
        word = normalise(reply)
        if word in self.stop:
            return "stop"
        if word in self.start:
            return "start"
        return None

    def mentions_stop(self, reply: str) -> bool:
        """A longer reply holding a stop word (or phrase) as whole words."""
        words = [_strip_edges(w) for w in normalise(reply).split()]
        text = " " + " ".join(w for w in words if w) + " "
        return any(f" {stop} " in text for stop in self.stop)


@dataclass(frozen=True, slots=True)
class Reply:
    """A customer's message to a number, as ``handle`` takes it (see there)."""

    sender_id: int
    from_phone: str
    text: str
    at: datetime | None = None
    message_id: str | None = None
    kind: str = "text"
    media_ref: str | None = None


class KeywordHook(Protocol):
    """What answers a kept message that is no opt-out (``bot/services/keyword_replies.py``:
    keyword replies), in the transaction that keeps it."""

    async def answer(self, tx: Connection, owner_id: int, sender_id: int, phone: str,
                     text: str | None, received_at: datetime, now: datetime, *,
                     recheck: bool = True) -> object: ...


class RepliesService:
    def __init__(
        self, db: Database, words: OptOutWords | None = None,
        clock: Clock = utcnow, notifier: Notifier | None = None,
        webhooks: WebhooksService | None = None, keywords: KeywordHook | None = None,
    ) -> None:
        self._db = db
        self._words = words or OptOutWords.of()
        self._clock = clock
        self._notifier = notifier
        self._webhooks = webhooks  # every reply is a reply.received event; an opt-out too
        # keyword replies: a kept message that is not, and does not mention, an opt-out
        # word may be answered (opt-out words always win)
        self._keywords = keywords

    def answer_keywords_with(self, keywords: KeywordHook) -> None:
        """Keyword replies (made after this service: they need the automations')."""
        self._keywords = keywords

    async def handle(self, sender_id: int, from_phone: str, text: str, *,
                     at: datetime | None = None, message_id: str | None = None,
                     kind: str = "text", media_ref: str | None = None) -> Outcome:
        """A customer's message to the number ``sender_id``: kept (``inbound_messages``,
        with the campaign message it answered marked replied, and the contact), then an
        opt-out word opts out, a start word opts in, anything else changes nothing
        (``ignored``), all in one transaction. ``at``: when it was sent (default now);
        ``message_id``: the gateway's id (the same message delivered again changes nothing
        and is ``ignored``); ``kind`` and ``media_ref`` for an attachment (``text`` its
        caption). Each message is also a ``reply.received`` event for the owner's webhooks,
        written with the opt-out (or in — a ``contact.opted_out`` event too) it caused."""
        [outcome] = await self.handle_many([
            Reply(sender_id, from_phone, text, at, message_id, kind, media_ref)])
        return outcome

    async def handle_many(self, replies: Sequence[Reply]) -> list[Outcome]:
        """``handle`` for several messages at once (the inbox's group commit: those that
        arrived while the last batch was being written), in one transaction: kept and
        acted on in order, as ``handle`` would one after the other; their outcomes."""
        now = self._clock()
        numbers: dict[int, Sender | None] = {}
        prepared: list[tuple[int, Sender, Intent | None, bool, bool]] = []
        for index, reply in enumerate(replies):
            if reply.sender_id not in numbers:
                numbers[reply.sender_id] = await senders_repo.get_any(self._db.reader,
                                                                      reply.sender_id)
            sender = numbers[reply.sender_id]
            if sender is None:
                continue  # no number of ours: nothing kept
            intent = self._words.intent(reply.text)
            asks = intent is None and self._notifier is not None \
                and self._words.mentions_stop(reply.text)
            tells = self._webhooks is not None and await self._webhooks.wants(
                sender.owner_id, EventType.REPLY_RECEIVED)
            prepared.append((index, sender, intent, asks, tells))
        outcomes: list[Outcome] = ["ignored"] * len(replies)
        if not prepared:
            return outcomes
        kept: list[Outcome | Literal["kept"]] = []
        looked: set[int] = set()  # owners whose keyword replies were read in this transaction
        async with self._db.transaction() as tx:
            for index, sender, intent, _asks, tells in prepared:
                outcome = await self._keep(tx, replies[index], sender, intent, tells, now)
                reply = replies[index]
                if outcome == "kept" and intent is None and self._keywords is not None \
                        and not self._words.mentions_stop(reply.text):
                    await self._keywords.answer(tx, sender.owner_id, sender.id,
                                                reply.from_phone, reply.text,
                                                reply.at or now, now,
                                                recheck=sender.owner_id not in looked)
                    looked.add(sender.owner_id)
                kept.append(outcome)
        for (index, sender, _intent, asks, _tells), outcome in zip(prepared, kept, strict=True):
            reply = replies[index]
            if outcome in ("opted_out", "opted_in"):
                log.info("a reply to sender %d %s a contact", reply.sender_id,
                         "opted out" if outcome == "opted_out" else "opted in")
                outcomes[index] = outcome
            elif outcome == "kept" and asks:
                assert self._notifier is not None  # "please stop writing to me": the owner decides
                await self._notifier.notify(ReplyToDecide(sender.owner_id, reply.from_phone,
                                                          reply.text.strip()[:EXCERPT_MAX]))
                outcomes[index] = "asked"
        return outcomes

    async def _keep(self, tx: Connection, reply: Reply, sender: Sender, intent: Intent | None,
                    tells: bool, now: datetime) -> Outcome | Literal["kept"]:
        """One message in the caller's transaction: ``kept`` (nothing to act on),
        ``opted_out`` / ``opted_in``, or ``ignored`` (the gateway delivered it again)."""
        if reply.message_id is not None and await inbound.known(tx, reply.sender_id,
                                                                reply.message_id):
            return "ignored"  # a webhook delivered again: kept, and acted on, once
        contact = await contacts_repo.get_by_phone(tx, sender.owner_id, reply.from_phone)
        answers = (await inbound.answered(tx, sender.owner_id, reply.sender_id, contact.id)
                   if contact is not None else None)
        await inbound.add(tx, InboundMessage(
            0, sender.owner_id, reply.sender_id, reply.from_phone, reply.at or now,
            kind=reply.kind, text=reply.text or None, media_ref=reply.media_ref,
            gateway_message_id=reply.message_id,
            contact_id=contact.id if contact is not None else None,
            message_id=answers[0] if answers else None,
            campaign_id=answers[1] if answers else None))
        if tells:
            await self._told(tx, sender.owner_id, reply.sender_id, reply.from_phone,
                             reply.text, now)
        if intent == "stop":
            opted = await contacts_repo.opt_out(tx, sender.owner_id, reply.from_phone,
                                                OPT_OUT_REASON, now)
            await opt_outs.skip_queued(tx, sender.owner_id, [reply.from_phone], now)
            if self._webhooks is not None and (contact is None
                                               or contact.opted_out_at is None):
                await self._webhooks.emit(tx, sender.owner_id, EventType.CONTACT_OPTED_OUT,
                                          contact_data(opted))
            return "opted_out"
        if intent == "start" and contact is not None and contact.opted_out_at is not None:
            await contacts_repo.opt_in(tx, sender.owner_id, reply.from_phone, now)
            return "opted_in"
        return "kept"

    async def _told(self, tx: Connection, owner_id: int, sender_id: int, phone: str,
                    text: str, at: datetime) -> None:
        if self._webhooks is not None:
            await self._webhooks.emit(tx, owner_id, EventType.REPLY_RECEIVED,
                                      reply_data(sender_id, phone, text, at))
