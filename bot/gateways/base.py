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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
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


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    sender_id: int
    from_phone: str
    text: str
    at: datetime


GatewayEvent = Receipt | SenderStateChanged | IncomingMessage
EventHandler = Callable[[GatewayEvent], Awaitable[None]]


@runtime_checkable
class WhatsAppGateway(Protocol):
    kind: str

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
