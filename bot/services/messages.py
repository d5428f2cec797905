"""Single messages (the HTTP API's ``POST /messages``): one phone, a template with its
variables or a plain text, through the same outbox, pacing, caps and credits as campaigns.

A single message is a row of the outbox without a campaign (``campaign_id`` NULL); what it
says is in the row (``content``, JSON: ``Content``), with the integrator's ``client_ref``.
The dispatcher sends it as it sends a campaign's (``bot/services/dispatcher.py``): at its
planned time, keeping its number's pace (``MESSAGE_PACING``: at least 3 s between two
messages of a number; no quiet hours, an integrator's messages are notices a customer waits
for), within the number's daily cap, charged when the gateway accepts it and given back
when it fails. Accepting it reserves its credit in the same transaction.

The checks, in this order: the phone (normalised as imports do, in the owner's region);
the template (the owner's; every variable without a fallback needs a value, from the
request's ``variables`` or the contact's own) or the text; the number (the one asked for,
which must be the owner's and working; else the owner's working number with the earliest
free turn, as the campaign wizard offers every working number); a Cloud API number sends
only a template with an approved twin; an opted-out phone is refused; then the credit.

Group commit: sends arriving while a batch is being written wait and form the next batch,
written in one transaction with a handful of statements (the owners, their numbers, the
templates, the recipients' contacts, the balances, then one insert for every row and one
reserve per owner), as the dispatcher applies receipts. Each send gets its own answer:
accepted, or the domain error that refused it; a batch that cannot be written fails all
its sends and none of them is in the outbox. ``on_commit`` (``bot.services.idempotency``)
runs inside that transaction with the send's answer, so the answer stored for an
``Idempotency-Key`` commits with the message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from bot.clock import Clock, utcnow
from bot.domain import Contact, Message, MessageStatus, Sender, SenderStatus, Template
from bot.errors import InsufficientCredits, NotFound, QasidError, ValidationError
from bot.gateways.base import Media, WhatsAppGateway
from bot.services import billing
from bot.services.billing import CREDITS_PER_MESSAGE
from bot.services.idempotency import InTransaction
from bot.services.imports import PhoneNormaliser
from bot.services.planning import PRESETS
from bot.services.senders import sandbox_default, sender_ref
from bot.services.templates import TemplatesService, contact_values
from bot.storage import ledger, owners, senders, templates
from bot.storage import messages as repo
from bot.storage.db import Database
from bot.storage.outbox import Due

log = logging.getLogger(__name__)

# A single message's pace on its number (the dispatcher's gap between two sends of it):
# the fast preset's, without quiet hours.
MESSAGE_PACING = replace(PRESETS["fast"], quiet=None)
TEXT_MAX = 4096  # characters of a text
CAPTION_MAX = 1024  # characters of a text with a picture or a document
CLIENT_REF_MAX = 200
VARIABLES_MAX = 100
MEDIA_KINDS = ("image", "document")
BATCH_MAX = 500  # sends written in one transaction
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")


@dataclass(frozen=True, slots=True)
class MessagesConfig:
    gateway: str = "sandbox"
    default_region: str = "AZ"
    allow_landlines: bool = False  # as the imports (IMPORT_ALLOW_LANDLINES)


@dataclass(frozen=True, slots=True)
class MessageRequest:
    """One message to one phone, as the caller wrote it: ``template_id`` (with
    ``variables``) or ``text``; optional ``media_url`` (``media_kind``: ``image`` or
    ``document``, else from the URL), ``sender_id`` and ``client_ref``."""

    phone: str
    template_id: int | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    text: str | None = None
    media_url: str | None = None
    media_kind: str | None = None
    sender_id: int | None = None
    client_ref: str | None = None


@dataclass(frozen=True, slots=True)
class MessageAccepted:
    """A message in the outbox: queued, from ``sender_id``, due at ``planned_at`` (the
    earliest it goes out: its number's pace and daily cap may hold it a little longer)."""

    id: int
    phone: str  # E.164
    status: MessageStatus
    sender_id: int
    planned_at: datetime
    client_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Content:
    """What a single message says, as stored in its row (``content``)."""

    template_id: int | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    text: str | None = None
    media_url: str | None = None
    media_kind: str | None = None

    def to_json(self) -> str:
        data: dict[str, Any] = ({"template_id": self.template_id,
                                 "variables": dict(self.variables)}
                                if self.template_id is not None else {"text": self.text})
        if self.media_url:
            data["media"] = {"url": self.media_url, "kind": self.media_kind}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> Content:
        data = json.loads(raw)
        media = data.get("media") or {}
        return cls(template_id=data.get("template_id"), variables=data.get("variables") or {},
                   text=data.get("text"), media_url=media.get("url"),
                   media_kind=media.get("kind"))

    @property
    def media(self) -> Media | None:
        return Media(self.media_kind or "document", url=self.media_url) if self.media_url \
            else None

    def values(self, base: Mapping[str, str]) -> dict[str, str]:
        """The template's values: the contact's (``base``), the request's over them."""
        return {**base, **self.variables}


def content_of(request: MessageRequest) -> Content:
    """The request's content, checked as far as it can be without the database."""
    if (request.template_id is None) == (request.text is None):
        raise ValidationError("template_or_text", where="template_id")
    media_url, kind = request.media_url, request.media_kind
    if media_url is not None:
        parts = urlsplit(media_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValidationError("bad_url", where="media_url")
        if kind is None:
            kind = "image" if parts.path.lower().endswith(_IMAGE_SUFFIXES) else "document"
        elif kind not in MEDIA_KINDS:
            raise ValidationError("bad_media_kind", where="media_kind")
    if request.client_ref is not None and len(request.client_ref) > CLIENT_REF_MAX:
        raise ValidationError("too_long", where="client_ref", limit=CLIENT_REF_MAX)
    if request.text is not None:
        limit = CAPTION_MAX if media_url else TEXT_MAX
        if not request.text.strip():
            raise ValidationError("blank", where="text")
        if len(request.text) > limit:
            raise ValidationError("too_long", where="text", limit=limit)
        return Content(text=request.text, media_url=media_url, media_kind=kind)
    if len(request.variables) > VARIABLES_MAX:
        raise ValidationError("too_many", where="variables", limit=VARIABLES_MAX)
    return Content(template_id=request.template_id, variables=_variables(request.variables),
                   media_url=media_url, media_kind=kind)


def _variables(given: Mapping[str, str]) -> dict[str, str]:
    """The values by the template's own variable names (``{"code": "1234"}`` fills
    ``{{code}}``), trimmed; blank ones left out (a fallback or the contact's own value
    fills them)."""
    return {name: value.strip() for name, value in given.items()
            if isinstance(value, str) and value.strip()}


@dataclass(slots=True)
class _Send:
    """A send waiting for its batch, then its answer."""

    owner_id: int
    request: MessageRequest
    content: Content
    on_commit: InTransaction[MessageAccepted] | None
    answer: asyncio.Future[MessageAccepted]
    phone: str = ""
    result: MessageAccepted | None = None
    error: BaseException | None = None


class MessagesService:
    def __init__(self, db: Database, templates_service: TemplatesService,
                 config: MessagesConfig | None = None, clock: Clock = utcnow, *,
                 gateway: WhatsAppGateway | None = None) -> None:
        self._db = db
        self._templates = templates_service
        self._config = config or MessagesConfig()
        self._clock = clock
        self._gateway = gateway  # asked which numbers need an approved template
        self._waiting: list[_Send] = []
        self._writer: asyncio.Task[None] | None = None
        self._turn: dict[int, float] = {}  # sender id -> its next free turn (epoch seconds)
        self._normalisers: dict[str, PhoneNormaliser] = {}
        self._sandboxed: set[int] = set()  # owners whose sandbox number is made
        self._sandboxing = asyncio.Lock()
        self.batches = 0  # transactions written (for the bench)

    # --- sending ----------------------------------------------------------------------

    async def send(self, owner_id: int, request: MessageRequest,
                   on_commit: InTransaction[MessageAccepted] | None = None) -> MessageAccepted:
        """Queue one message (module docstring); raises the domain error that refused it,
        and then nothing of it is in the outbox."""
        content = content_of(request)
        if self._config.gateway == "sandbox" and owner_id not in self._sandboxed:
            async with self._sandboxing:  # made once, not by each of a first burst
                if owner_id not in self._sandboxed:
                    await sandbox_default(self._db, owner_id, self._clock())
                    self._sandboxed.add(owner_id)
        send = _Send(owner_id, request, content, on_commit,
                     asyncio.get_running_loop().create_future())
        self._waiting.append(send)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches(), name="qasid-messages")
        # shielded: a caller that goes away does not take the others' batch with it
        return await asyncio.shield(send.answer)

    async def close(self) -> None:
        """Let the batch being written finish (at shutdown)."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _write_batches(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:BATCH_MAX], self._waiting[BATCH_MAX:]
            try:
                await self._write(batch)
            except BaseException as exc:
                for send in batch:
                    if not send.answer.done():
                        if isinstance(exc, Exception):
                            send.answer.set_exception(exc)
                            send.answer.exception()  # retrieved: its caller may be gone
                        else:
                            send.answer.cancel()
                if not isinstance(exc, Exception):
                    for send in self._waiting:
                        send.answer.cancel()
                    self._waiting = []
                    raise
                continue
            for send in batch:
                if send.answer.done():
                    continue
                if send.error is not None:
                    send.answer.set_exception(send.error)
                    send.answer.exception()
                else:
                    assert send.result is not None
                    send.answer.set_result(send.result)

    async def _write(self, batch: list[_Send]) -> None:
        now = self._clock()
        ts = now.timestamp()
        owner_ids = list(dict.fromkeys(s.owner_id for s in batch))
        wanted = list(dict.fromkeys((s.owner_id, s.content.template_id) for s in batch
                                    if s.content.template_id is not None))
        async with self._db.transaction() as tx:
            # what the batch's checks read, asked side by side: one trip to the writer's
            # thread for all of them instead of one after the other
            n, k = len(owner_ids), len(wanted)
            got = await _together(*(owners.get(tx, o) for o in owner_ids),
                                  *(senders.list_for_owner(tx, o) for o in owner_ids),
                                  *(templates.get(tx, o, t) for o, t in wanted),
                                  *(ledger.balance(tx, o) for o in owner_ids),
                                  repo.next_id(tx))
            found_owners, numbers_of = got[:n], got[n:2 * n]
            found_templates, balances = got[2 * n:2 * n + k], got[2 * n + k:3 * n + k]
            first_id: int = got[-1]
            regions = {o: (None if owner is None else owner.region or self._config.default_region)
                       for o, owner in zip(owner_ids, found_owners, strict=True)}
            numbers = dict(zip(owner_ids, numbers_of, strict=True))
            found = dict(zip(wanted, found_templates, strict=True))
            available = {o: b.available for o, b in zip(owner_ids, balances, strict=True)}
            live: list[_Send] = []
            for send in batch:
                region = regions[send.owner_id]
                if region is None:
                    send.error = NotFound("owner", owner_id=send.owner_id)
                    continue
                phone, reason = self._normaliser(region).normalise(send.request.phone)
                if phone is None or reason is not None:
                    send.error = ValidationError(reason or "no_phone", where="phone")
                    continue
                send.phone = phone
                live.append(send)
            known = (await repo.known_phones(tx, [(s.owner_id, s.phone) for s in live])
                     if live else {})
            next_id = first_id
            rows: list[repo.NewMessage] = []
            reserved: dict[int, int] = {}
            for send in live:
                try:
                    row = self._admit(send, ts, next_id, numbers[send.owner_id], found,
                                      known.get((send.owner_id, send.phone)), available)
                except QasidError as exc:
                    send.error = exc
                    continue
                next_id += 1
                rows.append(row)
                reserved[send.owner_id] = reserved.get(send.owner_id, 0) + CREDITS_PER_MESSAGE
            if rows:  # the rows, the credits and the answers, side by side too
                await _together(
                    repo.add_many(tx, rows, ts),
                    *(billing.reserve(tx, owner_id, n, now, note="API messages")
                      for owner_id, n in reserved.items()),
                    *(send.on_commit(tx, send.result) for send in live
                      if send.on_commit is not None and send.result is not None))
        self.batches += 1

    def _admit(self, send: _Send, ts: float, message_id: int, numbers: list[Sender],
               found: Mapping[tuple[int, int], Template | None], known: repo.Known | None,
               available: dict[int, int]) -> repo.NewMessage:
        """The row of one send, or the domain error that refuses it (in the module
        docstring's order); ``available`` is spent as sends are admitted."""
        content, owner_id = send.content, send.owner_id
        template = None
        if content.template_id is not None:
            template = found.get((owner_id, content.template_id))
            if template is None:
                raise NotFound("template", template_id=content.template_id)
            base = contact_values(_contact(owner_id, send.phone, known)) if known else {}
            values = content.values(base)
            missing = sorted({name for variant in range(len(template.variants))
                              for name in self._templates.compiled(template, variant).bare
                              if not (values.get(name) or "").strip()})
            if missing:
                raise ValidationError("missing_variables", where="variables",
                                      missing=", ".join(missing))
        sender = self._sender(send.request.sender_id, numbers, template)
        if known is not None and known.opted_out:
            raise ValidationError("opted_out", where="phone")
        if available[owner_id] < CREDITS_PER_MESSAGE:
            raise InsufficientCredits(CREDITS_PER_MESSAGE, max(0, available[owner_id]))
        available[owner_id] -= CREDITS_PER_MESSAGE
        planned = max(ts, self._turn.get(sender.id, ts))
        self._turn[sender.id] = planned + MESSAGE_PACING.delay_min
        variant = message_id % len(template.variants) if template and template.variants else 0
        send.result = MessageAccepted(message_id, send.phone, MessageStatus.QUEUED, sender.id,
                                      datetime.fromtimestamp(planned, UTC),
                                      send.request.client_ref)
        return repo.NewMessage(message_id, owner_id, sender.id,
                               known.contact_id if known else None, send.phone, variant,
                               planned, content.to_json(), send.request.client_ref)

    def _sender(self, wanted: int | None, numbers: Sequence[Sender],
                template: Template | None) -> Sender:
        """The number to send from: ``wanted`` (the owner's, working), else the working
        number with the earliest free turn that can send this content."""
        if wanted is not None:
            sender = next((s for s in numbers if s.id == wanted), None)
            if sender is None:
                raise NotFound("sender", sender_id=wanted)
            if sender.status is not SenderStatus.ACTIVE:
                raise ValidationError("sender_not_active", where="sender_id",
                                      status=sender.status.value)
            if not self._can_send(sender, template):
                raise ValidationError("cloud_needs_template", where="sender_id",
                                      number=sender.label or sender.phone,
                                      template=template.name if template else "")
            return sender
        able = self.able_senders(numbers, template)
        return min(able, key=lambda s: (self._turn.get(s.id, 0.0), s.id))

    def able_senders(self, numbers: Sequence[Sender],
                     template: Template | None) -> list[Sender]:
        """The owner's working numbers that can send this content (an automation's
        messages go from these too, ``bot/services/automations.py``); raises the
        ``ValidationError`` that says why there is none."""
        working = [s for s in numbers if s.status is SenderStatus.ACTIVE]
        if not working:
            raise ValidationError("no_senders", where="sender_id")
        able = [s for s in working if self._can_send(s, template)]
        if not able:
            raise ValidationError("cloud_needs_template", where="template_id",
                                  number=working[0].label or working[0].phone,
                                  template=template.name if template else "")
        return able

    def _can_send(self, sender: Sender, template: Template | None) -> bool:
        """A Cloud API number opens a conversation only with an approved template: a text,
        or a template without its approved twin, cannot go from it."""
        if self._gateway is None or not self._gateway.capabilities(
                sender_ref(sender)).needs_approved_template:
            return True
        return template is not None and template.cloud is not None

    def _normaliser(self, region: str) -> PhoneNormaliser:
        found = self._normalisers.get(region)
        if found is None:
            found = self._normalisers[region] = PhoneNormaliser(
                region, self._config.allow_landlines)
        return found

    # --- reading ----------------------------------------------------------------------

    async def get(self, owner_id: int, message_id: int) -> Message:
        """A message of the owner's (a campaign's too): its state and history."""
        found = await repo.get(self._db.reader, owner_id, message_id)
        if found is None:
            raise NotFound("message", message_id=message_id)
        return found


async def _together(*steps: Awaitable[Any]) -> list[Any]:
    """Await steps of one transaction side by side, each to its end (none left running
    when the transaction ends, even when one fails: then the first error is raised)."""
    done = await asyncio.gather(*steps, return_exceptions=True)
    for result in done:
        if isinstance(result, BaseException):
            raise result
    return done


def _contact(owner_id: int, phone: str, known: repo.Known) -> Contact:
    return Contact(known.contact_id, owner_id, phone, known.name,
                   json.loads(known.attributes or "{}"))


class MessageContents:
    """What the dispatcher sends for a single message: its values, its text (the template
    rendered, or the plain text), its template (for a Cloud API number's approved twin)
    and its media by URL. Templates are read once per tick (``forget`` at each)."""

    def __init__(self, db: Database, templates_service: TemplatesService) -> None:
        self._db = db
        self._templates = templates_service
        self._found: dict[tuple[int, int], Template | None] = {}
        self._contents: dict[int, Content] = {}

    def forget(self) -> None:
        self._found.clear()
        self._contents.clear()

    def of(self, due: Due) -> Content:
        found = self._contents.get(due.id)
        if found is None:
            found = self._contents[due.id] = Content.from_json(due.content or "{}")
        return found

    async def template(self, due: Due) -> Template | None:
        template_id = self.of(due).template_id
        if template_id is None:
            return None
        key = (due.owner_id, template_id)
        if key not in self._found:
            self._found[key] = await templates.get(self._db.reader, *key)
        return self._found[key]

    def read(self, due: Due) -> Template | None:
        """The template ``template`` (or ``render``) read for the message."""
        template_id = self.of(due).template_id
        return None if template_id is None else self._found.get((due.owner_id, template_id))

    async def render(self, due: Due, values: Mapping[str, str]) -> str:
        """The text (``values``: the contact's and the request's, ``Content.values``); a
        template gone since raises ``LookupError`` (the message fails, as a campaign's)."""
        content = self.of(due)
        if content.template_id is None:
            return content.text or ""
        template = await self.template(due)
        if template is None:
            raise LookupError("template")
        rng = random.Random(due.id)  # the same text on a retry
        return self._templates.compiled(template, due.variant).render(values, rng)

