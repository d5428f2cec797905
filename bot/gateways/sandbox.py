"""The built-in ``sandbox`` gateway: a simulated WhatsApp that needs no phone number.

It behaves like a remote gateway, not like a function that returns "delivered":

* A send is validated and *accepted* (``SendResult`` with a gateway message id);
  what happens next arrives later through the event handler, as a real gateway's
  webhooks would: ``Receipt(DELIVERED)`` after ``delivery_delay`` seconds and, for a
  ``read_share`` of the messages, ``Receipt(READ)`` ``read_delay`` seconds after that.
* A ``invalid_share`` of phone numbers is "not on WhatsApp". Which ones is a pure
  function of ``(seed, phone)``, so a number always answers the same: ``check_number``
  says ``on_whatsapp=False`` and a send raises ``recipient_invalid``. A number that is
  not E.164 (``+`` and 8-15 digits) is ``recipient_invalid`` too.
* Whether a message is read is a pure function of ``(seed, message_id)``, and message
  ids are ``sbx-{sender_id}-{n}`` with a per-sender counter (``sbx-{run_id}-...`` when
  ``run_id`` is set). The same seed and the same sends give the same ids, invalid
  numbers and read receipts, run after run.
* With ``ban_after=N`` a sender is banned once N of its messages were accepted: its
  next send raises ``sender_banned``, ``sender_status`` says ``BANNED`` and one
  ``SenderStateChanged`` event is emitted. ``ban``, ``restrict`` and ``unban`` simulate
  the same on cue; a restricted sender's sends raise ``sender_restricted`` until the
  restriction lifts.
* ``simulate_incoming`` plays a customer's reply (e.g. "STOP") as an ``IncomingMessage``;
  given ``media`` (bytes), it is an attachment kept in memory under a ``sandbox:<n>``
  reference, which ``download_media`` gives back (to the number it was sent to only).
* With ``journal`` (a file path) every *accepted* message appends one JSON line
  ``{"id", "sender", "to", "sha256", "at"}`` (the SHA-256 of the text or caption, never
  the text itself; ``at`` the wall-clock time it was accepted, for the pace between sends)
  and is flushed and fsynced before the send returns: what the gateway accepted is on disk
  even if the caller dies right after, so a test can count what "WhatsApp" received
  across restarts of the process. The file is opened, appended and closed per
  message (several gateways, one after the other, may share it). A journal that cannot be
  written fails the send with the ``OSError``, and nothing is accepted.

Receipts run as asyncio tasks owned by the gateway; ``close()`` cancels and awaits them
all, so nothing fires after close and no task is left pending. Without an event handler
events are dropped (logged at debug level). A failing handler is logged and does not
stop later events. Nothing starts at import or in ``__init__``.

Timestamps (``accepted_at``, ``Receipt.at``, restriction expiry) come from the injected
``clock``; the delays themselves are real ``asyncio`` time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.clock import utcnow
from bot.gateways.base import (
    Capabilities,
    ErrorCategory,
    EventHandler,
    GatewayError,
    GatewayEvent,
    IncomingKind,
    IncomingMessage,
    Media,
    NumberCheck,
    Receipt,
    ReceiptStatus,
    SenderHealth,
    SenderRef,
    SenderState,
    SenderStateChanged,
    SendResult,
)

logger = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MEDIA_KINDS = frozenset({"image", "document"})

_E164 = re.compile(r"\+[1-9]\d{7,14}")
CAPABILITIES = Capabilities()


def _unit_hash(*parts: object) -> float:
    """A stable number in [0, 1) for the given parts (same input, same answer, any run)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    delivery_delay: float = 2.0  # seconds from accept to DELIVERED
    read_delay: float = 5.0  # seconds from DELIVERED to READ
    read_share: float = 0.7  # share of delivered messages that get read
    invalid_share: float = 0.05  # share of numbers that are not on WhatsApp
    ban_after: int | None = None  # per sender: banned once N messages were accepted
    seed: int = 0
    latency: float = 0.0  # simulated network latency per call, in seconds
    run_id: str = ""  # optional id prefix, keeps ids unique across restarts
    journal: str | None = None  # file that every accepted message is appended to

    def __post_init__(self) -> None:
        for name in ("delivery_delay", "read_delay", "latency"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        for name in ("read_share", "invalid_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.ban_after is not None and self.ban_after < 0:
            raise ValueError("ban_after must be >= 0 or None")


@dataclass(slots=True)
class _SenderSim:
    """What the simulated gateway knows about one linked number."""

    sent: int = 0  # accepted messages ever (message id counter)
    since_unban: int = 0  # accepted messages counted towards ``ban_after``
    health: SenderHealth = field(default_factory=lambda: SenderHealth(SenderState.WORKING))


class SandboxGateway:
    """A deterministic, simulated WhatsApp gateway (see the module docstring)."""

    kind = "sandbox"

    def __init__(
        self, config: SandboxConfig, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._config = config
        self._clock = clock or utcnow
        self._handler: EventHandler | None = None
        self._senders: dict[int, _SenderSim] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending = 0
        self._closed = False
        self._media: dict[str, tuple[int, Media]] = {}  # reference -> (sender, attachment)

    # -- the WhatsAppGateway protocol -------------------------------------------------

    def capabilities(self, sender: SenderRef) -> Capabilities:
        return CAPABILITIES  # free text, and a number check that asks nobody

    def set_event_handler(self, handler: EventHandler) -> None:
        self._handler = handler

    async def send_text(self, sender: SenderRef, to: str, text: str) -> SendResult:
        await self._network()
        self._check_sender(sender.sender_id)
        self._check_recipient(to)
        if not text.strip():
            raise GatewayError(ErrorCategory.REJECTED, "empty text")
        if len(text) > MAX_TEXT_LENGTH:
            raise GatewayError(
                ErrorCategory.REJECTED, f"text longer than {MAX_TEXT_LENGTH} characters"
            )
        return self._accept(sender.sender_id, to, text)

    async def send_media(
        self, sender: SenderRef, to: str, media: Media, caption: str | None = None
    ) -> SendResult:
        await self._network()
        self._check_sender(sender.sender_id)
        self._check_recipient(to)
        if media.kind not in MEDIA_KINDS:
            raise GatewayError(ErrorCategory.REJECTED, f"unsupported media kind {media.kind!r}")
        if media.url is None and not media.data:
            raise GatewayError(ErrorCategory.REJECTED, "media has neither url nor data")
        if caption is not None and len(caption) > MAX_CAPTION_LENGTH:
            raise GatewayError(
                ErrorCategory.REJECTED, f"caption longer than {MAX_CAPTION_LENGTH} characters"
            )
        return self._accept(sender.sender_id, to, caption or "")

    async def check_number(self, sender: SenderRef, phone: str) -> NumberCheck:
        await self._network()
        sim = self._sender(sender.sender_id)
        if sim.health.state is SenderState.BANNED:
            raise GatewayError(ErrorCategory.SENDER_BANNED, sim.health.detail)
        return NumberCheck(phone=phone, on_whatsapp=self.on_whatsapp(phone))

    async def sender_status(self, sender: SenderRef) -> SenderHealth:
        await self._network()
        return self._current_health(sender.sender_id)

    async def close(self) -> None:
        """Cancel every pending receipt and event; later calls raise ``transient``."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._pending = 0

    # -- simulation hooks (tests, a future admin tool) --------------------------------

    def on_whatsapp(self, phone: str) -> bool:
        """Whether ``phone`` is a WhatsApp account here: a pure function of (seed, phone)."""
        if not _E164.fullmatch(phone):
            return False
        return _unit_hash(self._config.seed, "number", phone) >= self._config.invalid_share

    @property
    def pending_receipts(self) -> int:
        """Receipts scheduled but not yet emitted."""
        return self._pending

    async def ban(self, sender_id: int, detail: str = "banned (simulated)") -> None:
        """Ban the sender now; emits ``SenderStateChanged`` unless it was already banned."""
        await self._change_state(sender_id, SenderHealth(SenderState.BANNED, detail))

    async def restrict(
        self, sender_id: int, until: datetime | None, detail: str = "restricted (simulated)"
    ) -> None:
        """Restrict the sender until ``until`` (by the gateway's clock; None: until unban)."""
        await self._change_state(
            sender_id, SenderHealth(SenderState.RESTRICTED, detail, until=until)
        )

    async def unban(self, sender_id: int) -> None:
        """Back to working; the ``ban_after`` count starts again from zero."""
        self._sender(sender_id).since_unban = 0
        await self._change_state(sender_id, SenderHealth(SenderState.WORKING))

    async def simulate_incoming(
        self, sender_id: int, from_phone: str, text: str, *,
        kind: IncomingKind = IncomingKind.TEXT, media: Media | None = None,
        media_ref: str | None = None, message_id: str | None = None,
        profile_name: str | None = None,
    ) -> None:
        """A customer writes to ``sender_id``; the handler sees an ``IncomingMessage``.
        ``media`` (with its bytes) is kept for ``download_media`` under a new reference."""
        mimetype = filename = None
        if media is not None:
            media_ref = f"sandbox:{len(self._media) + 1}"
            self._media[media_ref] = (sender_id, media)
            mimetype, filename = media.mimetype, media.filename
        await self._emit(IncomingMessage(sender_id, from_phone, text, self._clock(), kind,
                                         media_ref=media_ref, mimetype=mimetype,
                                         filename=filename, message_id=message_id,
                                         profile_name=profile_name))

    async def download_media(self, sender: SenderRef, ref: str, *,
                             max_bytes: int = 20 * 1024 * 1024) -> Media:
        await self._network()
        found = self._media.get(ref)
        if found is None or found[0] != sender.sender_id:
            raise GatewayError(ErrorCategory.REJECTED, "media gone")
        if len(found[1].data or b"") > max_bytes:
            raise GatewayError(ErrorCategory.REJECTED, f"media of more than {max_bytes} bytes")
        return found[1]

    # -- internals --------------------------------------------------------------------

    async def _network(self) -> None:
        if self._config.latency > 0:
            await asyncio.sleep(self._config.latency)
        if self._closed:
            raise GatewayError(ErrorCategory.TRANSIENT, "sandbox gateway is closed")

    def _sender(self, sender_id: int) -> _SenderSim:
        return self._senders.setdefault(sender_id, _SenderSim())

    def _current_health(self, sender_id: int) -> SenderHealth:
        sim = self._sender(sender_id)
        health = sim.health
        if (
            health.state is SenderState.RESTRICTED
            and health.until is not None
            and self._clock() >= health.until
        ):
            sim.health = health = SenderHealth(SenderState.WORKING)
        return health

    def _check_sender(self, sender_id: int) -> None:
        limit = self._config.ban_after
        if limit is not None and self._sender(sender_id).since_unban >= limit:
            self._auto_ban(sender_id)  # ban_after=0: banned before the first message
        health = self._current_health(sender_id)
        if health.state is SenderState.BANNED:
            raise GatewayError(ErrorCategory.SENDER_BANNED, health.detail)
        if health.state is SenderState.RESTRICTED:
            raise GatewayError(ErrorCategory.SENDER_RESTRICTED, health.detail)

    def _check_recipient(self, to: str) -> None:
        if not _E164.fullmatch(to):
            raise GatewayError(ErrorCategory.RECIPIENT_INVALID, "not an E.164 phone number")
        if not self.on_whatsapp(to):
            raise GatewayError(ErrorCategory.RECIPIENT_INVALID, "number is not on WhatsApp")

    def _accept(self, sender_id: int, to: str, text: str) -> SendResult:
        sim = self._sender(sender_id)
        prefix = f"sbx-{self._config.run_id}" if self._config.run_id else "sbx"
        message_id = f"{prefix}-{sender_id}-{sim.sent + 1}"
        if self._config.journal is not None:  # on disk before anything counts
            _append_durably(self._config.journal, {
                "id": message_id, "sender": sender_id, "to": to,
                "sha256": hashlib.sha256(text.encode()).hexdigest(),
                "at": time.time(),  # wall clock: processes sharing a journal compare them
            })
        sim.sent += 1
        sim.since_unban += 1
        accepted_at = self._clock()
        read = _unit_hash(self._config.seed, "read", message_id) < self._config.read_share
        remaining = 2 if read else 1
        self._pending += remaining
        self._spawn(self._receipts(sender_id, message_id, read, remaining))
        logger.debug("sandbox accepted %s (sender %s)", message_id, sender_id)
        limit = self._config.ban_after
        if limit is not None and sim.since_unban >= limit:
            self._auto_ban(sender_id)
        return SendResult(message_id=message_id, accepted_at=accepted_at)

    def _auto_ban(self, sender_id: int) -> None:
        sim = self._sender(sender_id)
        if sim.health.state is SenderState.BANNED:
            return
        sim.health = SenderHealth(
            SenderState.BANNED, f"banned after {self._config.ban_after} messages (simulated)"
        )
        logger.info("sandbox banned sender %s after %s messages", sender_id, sim.since_unban)
        self._spawn(self._emit(SenderStateChanged(sender_id, sim.health, self._clock())))

    async def _change_state(self, sender_id: int, health: SenderHealth) -> None:
        sim = self._sender(sender_id)
        current = self._current_health(sender_id)
        if (current.state, current.until) == (health.state, health.until):
            return
        sim.health = health
        await self._emit(SenderStateChanged(sender_id, health, self._clock()))

    async def _receipts(self, sender_id: int, message_id: str, read: bool,
                        remaining: int) -> None:
        try:
            await asyncio.sleep(self._config.delivery_delay)
            remaining -= 1
            self._pending -= 1
            await self._emit(Receipt(message_id, ReceiptStatus.DELIVERED, self._clock(),
                                     sender_id=sender_id))
            if read:
                await asyncio.sleep(self._config.read_delay)
                remaining -= 1
                self._pending -= 1
                await self._emit(Receipt(message_id, ReceiptStatus.READ, self._clock(),
                                         sender_id=sender_id))
        finally:
            self._pending -= remaining

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _emit(self, event: GatewayEvent) -> None:
        handler = self._handler
        if self._closed:
            logger.debug("sandbox: closed, dropped %s", _describe(event))
            return
        if handler is None:
            logger.debug("sandbox: no event handler, dropped %s", _describe(event))
            return
        try:
            await handler(event)
        except Exception:
            logger.exception("sandbox: event handler failed on %s", _describe(event))


def _append_durably(path: str, record: dict[str, object]) -> None:
    """Append ``record`` as one JSON line; flushed and fsynced before returning."""
    with open(path, "a", encoding="utf-8") as journal:
        journal.write(json.dumps(record) + "\n")
        journal.flush()
        os.fsync(journal.fileno())


def _describe(event: GatewayEvent) -> str:
    """Enough to find the event in logs, never a message body or a customer's number."""
    if isinstance(event, Receipt):
        return f"receipt {event.status} for {event.message_id}"
    if isinstance(event, SenderStateChanged):
        return f"sender {event.sender_id} -> {event.health.state}"
    return f"incoming message for sender {event.sender_id}"
