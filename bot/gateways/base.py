"""The seam between Qasid and a WhatsApp gateway.

Every adapter (the built-in sandbox, WAHA, the Cloud API) implements
``WhatsAppGateway`` and maps what its gateway says into the results and error
categories below. Failures are raised as ``GatewayError``:

    GatewayError(category, detail, retry_after)
      category = sender_banned      the number is banned, logged out or locked
               | sender_restricted  temporarily blocked (quality, capping)
               | recipient_invalid  not on WhatsApp, bad number
               | rate_limited       slow down; retry after ``retry_after`` seconds
               | transient          5xx, or a timeout before the request left
               | uncertain          no answer after the request may have arrived
               | rejected           permanent: content, policy, template

Gateways are remote: a send is *accepted* (``SendResult``), and what happens to the
message later (delivered, read, failed) arrives as ``GatewayEvent``s through the
handler given to ``set_event_handler``. Never turn an unreadable answer into success.

The protocols, small and side by side (an adapter implements those its gateway can do;
``bot.gateways.router.GatewayRouter`` puts them together and hands each out typed):

    WhatsAppGateway   sending: text, media, number checks, a number's health; and
                      ``capabilities(sender)``, what the sender's gateway can and must do
                      (services ask this, never the gateway's name)
    TemplateSender    ``send_template``: a template Meta approved (the Cloud API)
    MediaDownloader   ``download_media``: a customer's attachment, by its reference
    Gateway           WhatsAppGateway + TemplateSender: what the dispatcher sends through
    Linker            linking a number by QR code or pairing code (WAHA sessions)
    CloudNumbers      adding a Cloud API number: its health and its own phone
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable


class ErrorCategory(StrEnum):
    SENDER_BANNED = "sender_banned"
    SENDER_RESTRICTED = "sender_restricted"
    RECIPIENT_INVALID = "recipient_invalid"
    RATE_LIMITED = "rate_limited"
    TRANSIENT = "transient"
    UNCERTAIN = "uncertain"
    REJECTED = "rejected"


class GatewayError(Exception):
    def __init__(
        self, category: ErrorCategory, detail: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(f"{category}: {detail}" if detail else str(category))
        self.category = category
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class SenderRef:
    """Which linked number sends: our sender id and the gateway's own handle for it."""

    sender_id: int
    phone: str  # E.164
    external_id: str | None = None  # WAHA session, Cloud phone-number id, ...
    gateway: str = ""  # which adapter serves it ("sandbox", "waha", "cloud"); see router


@dataclass(frozen=True, slots=True)
class Media:
    kind: str  # "image" | "document"
    url: str | None = None
    data: bytes | None = None
    mimetype: str | None = None
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    message_id: str  # the gateway's id, used to match receipts
    accepted_at: datetime


@dataclass(frozen=True, slots=True)
class NumberCheck:
    phone: str
    on_whatsapp: bool


class SenderState(StrEnum):
    WORKING = "working"
    LINKING = "linking"  # waiting for a QR scan / pairing code
    RESTRICTED = "restricted"
    BANNED = "banned"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class SenderHealth:
    state: SenderState
    detail: str = ""
    until: datetime | None = None  # when a restriction lifts, if known
    # Early warnings (bot/services/health_guard.py), None when the gateway has none:
    capping: str | None = None  # WAHA cappingStatus: NONE / FIRST_WARNING / SECOND_WARNING / CAPPED
    quality: str | None = None  # Cloud API quality_rating: GREEN / YELLOW / RED
    tier: int | None = None  # Cloud API messaging limit: unique users a day (250 ... 100000)


class ReceiptStatus(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Receipt:
    """The gateway says what happened to a message it accepted, from which number.

    ``sender_id`` is the number the gateway reported it for (its WAHA session, its Cloud
    API phone-number id): a receipt is applied only to a message that number sent, so a
    signed webhook of one number can never move another's (or another owner's) message;
    a receipt without a sender is never applied."""

    message_id: str
    status: ReceiptStatus
    at: datetime
    error: str | None = None
    sender_id: int | None = None


@dataclass(frozen=True, slots=True)
class SenderStateChanged:
    sender_id: int
    health: SenderHealth
    at: datetime


class IncomingKind(StrEnum):
    """What a customer sent: what the inbox keeps (``inbound_messages.kind``) and shows."""

    TEXT = "text"
    IMAGE = "image"
    DOCUMENT = "document"
    AUDIO = "audio"
    VOICE = "voice"  # a voice note (OGG/Opus)
    VIDEO = "video"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACT = "contact"  # one or more contact cards
    OTHER = "other"  # something WhatsApp has that we cannot show (a poll, an order...)


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A customer's message to one of our numbers, as the adapter read it.

    ``text`` is the body, or an attachment's caption (empty when none). ``media_ref`` is
    the gateway's own reference of an attachment (a WAHA media URL, a Cloud API media id),
    fetched later with ``MediaDownloader.download_media``; ``mimetype`` / ``filename`` say
    what it is when the gateway told. A location is ``geo:<lat>,<lon>`` in ``media_ref``
    with its name and address as ``text``; contact cards are ``text``, one line each
    ("Name: +994..., ..."). ``message_id`` is the gateway's id (a webhook delivered twice is
    one message); ``profile_name`` the name the customer gave WhatsApp, when it says."""

    sender_id: int
    from_phone: str
    text: str
    at: datetime
    kind: IncomingKind = IncomingKind.TEXT
    media_ref: str | None = None
    mimetype: str | None = None
    filename: str | None = None
    message_id: str | None = None
    profile_name: str | None = None


GatewayEvent = Receipt | SenderStateChanged | IncomingMessage
EventHandler = Callable[[GatewayEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class WebhookAddress:
    """Which of our numbers a webhook body speaks of, in the gateway's own terms: read by
    the adapter's ``webhook_address`` so that only the adapter reads its wire format."""

    external_ids: tuple[str, ...] = ()  # WAHA sessions, Cloud API phone-number ids
    by_phone: bool = False  # it names a number only by its display phone (Meta's news)
    # only receipts (WAHA's ``message.ack``): they move messages by the gateway's id, so
    # a sender looked up a moment ago will do (``SenderDirectory``)
    receipts_only: bool = False
    what: str | None = None  # what it is, for the log (WAHA's ``event``)


@dataclass(frozen=True, slots=True)
class KnownSenders:
    """Our senders that a webhook's address names, as the adapter's parser wants them."""

    by_external_id: Mapping[str, int]  # session / phone-number id -> sender id
    by_phone: Mapping[str, int] | None = None  # E.164 digits without "+" -> sender id


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a gateway's numbers can and must do, so that services ask instead of
    comparing gateway names."""

    # opens a conversation only with a template Meta approved (free text outside the
    # customer's 24-hour window is refused): a campaign's template needs its approved
    # twin, and that twin is what is sent (``TemplateSender.send_template``)
    needs_approved_template: bool = False
    # asking "is this phone on WhatsApp?" is a real, cheap question here: asked once
    # before a first message, so that a number that is not fails without a send that
    # counts against the sender
    checks_numbers: bool = False
    # free text (and media) may answer a customer only this long after their last message
    # (Meta's customer service window); after it, only an approved template (None: always)
    reply_window: timedelta | None = None


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """Where linking a number stands: ``phone`` is the linked number once ``WORKING``."""

    state: SenderState
    phone: str | None = None
    detail: str = ""


@runtime_checkable
class WhatsAppGateway(Protocol):
    kind: str

    def capabilities(self, sender: SenderRef) -> Capabilities:
        """What the sender's gateway can and must do (an adapter: always its own)."""

    def set_event_handler(self, handler: EventHandler) -> None:
        """Where asynchronous receipts and status changes go."""

    async def send_text(self, sender: SenderRef, to: str, text: str) -> SendResult: ...

    async def send_media(
        self, sender: SenderRef, to: str, media: Media, caption: str | None = None
    ) -> SendResult: ...

    async def check_number(self, sender: SenderRef, phone: str) -> NumberCheck: ...

    async def sender_status(self, sender: SenderRef) -> SenderHealth: ...

    async def close(self) -> None:
        """Stop background work (pending receipts) and release connections."""


@runtime_checkable
class TemplateSender(Protocol):
    async def send_template(
        self, sender: SenderRef, to: str, name: str, language: str, body_params: list[str]
    ) -> SendResult:
        """An approved template: ``body_params`` fill ``{{1}}``, ``{{2}}``... in order."""


@runtime_checkable
class MediaDownloader(Protocol):
    async def download_media(self, sender: SenderRef, ref: str, *,
                             max_bytes: int = 20 * 1024 * 1024) -> Media:
        """The attachment ``ref`` (an ``IncomingMessage.media_ref``) of a customer's message
        to ``sender``: its bytes (``Media.data``), type and name. Larger than
        ``max_bytes``: ``rejected`` (nothing more is read); gone or not ours: ``rejected``."""


@runtime_checkable
class Gateway(WhatsAppGateway, TemplateSender, Protocol):
    """Every kind of send: what the dispatcher sends through (the router, which refuses
    a template for a gateway that is no ``TemplateSender`` as ``rejected``)."""


@runtime_checkable
class Linker(Protocol):
    """Linking a number to a session that the owner's phone scans (WAHA): ``kind`` names
    the gateway its numbers are served by."""

    kind: str

    async def start_session(self, session: str, *, webhook_url: str | None = None,
                            webhook_key: str | None = None) -> None:
        """Create and start ``session`` (or start it, if it exists) so it shows a QR."""

    async def link_status(self, session: str) -> LinkStatus:
        """The session's linking state; ``WORKING`` carries the linked number."""

    async def qr_code(self, session: str) -> bytes:
        """The QR code to scan now, as PNG bytes."""

    async def request_code(self, session: str, phone: str) -> str:
        """A pairing code to type on the phone instead of scanning."""

    async def delete_session(self, session: str) -> None:
        """Log the number out and delete the session; gone already is fine."""

    def remember_linked(self, *sessions: str) -> None:
        """Sessions known to have worked (from the database after a restart)."""


@runtime_checkable
class CloudNumbers(Protocol):
    """What adding a Cloud API number asks of its adapter: ``kind`` names the gateway its
    numbers are served by."""

    kind: str

    async def sender_status(self, sender: SenderRef) -> SenderHealth: ...

    async def phone_number(self, sender: SenderRef) -> str | None:
        """The number's own phone in E.164 (``None`` if the gateway gives none)."""
