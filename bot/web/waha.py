"""``POST /webhooks/waha``: WAHA's receipts, session changes and customers' replies.

In order, each answered with a status code and nothing changed before a 200:

=============================================================  ======
a body over ``max_body`` bytes                                  400
a signing key is configured and ``X-Webhook-Hmac`` is missing  401
or is not the lowercase hex HMAC-SHA512 of the raw body
(``X-Webhook-Hmac-Algorithm``, if sent, must be ``sha512``)
not JSON, or not a JSON object                                  400
the events handed to the dispatcher, receipts applied           200
something failed while applying them (WAHA retries; every       500
step is idempotent)
=============================================================  ======

A session no sender uses, and events we do not handle, are answered 200 and ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from bot.gateways.base import GatewayEvent
from bot.gateways.waha import parse_webhook
from bot.storage import senders as senders_repo
from bot.storage.db import Database

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
SIGNATURE_HEADER = "x-webhook-hmac"
ALGORITHM_HEADER = "x-webhook-hmac-algorithm"
GATEWAY = "waha"


class EventSink(Protocol):
    """What the webhook hands events to: the dispatcher."""

    async def on_event(self, event: GatewayEvent) -> None: ...

    async def flush_receipts(self) -> int: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict with other capitalisation
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
    return value


class WahaWebhook:
    def __init__(
        self, db: Database, dispatcher: EventSink, key: str | None = None, *,
        max_body: int = MAX_BODY, clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._key = key.encode() if key else None
        self.max_body = max_body
        self._clock = clock

    def signed(self, raw: bytes, headers: Mapping[str, str]) -> bool:
        if self._key is None:
            return True
        signature = _header(headers, SIGNATURE_HEADER)
        algorithm = _header(headers, ALGORITHM_HEADER)
        if not signature or (algorithm is not None and algorithm.strip().lower() != "sha512"):
            return False
        expected = hmac.new(self._key, raw, hashlib.sha512).hexdigest()
        return hmac.compare_digest(expected, signature.strip().lower())

    async def __call__(self, raw: bytes, headers: Mapping[str, str]) -> int:
        if len(raw) > self.max_body:
            log.warning("WAHA webhook: body of %d bytes refused", len(raw))
            return 400
        if not self.signed(raw, headers):
            log.warning("WAHA webhook: missing or wrong signature")
            return 401
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return 400
        if not isinstance(body, dict):
            return 400
        try:
            session = body.get("session")
            if not isinstance(session, str):
                return 200
            known = await senders_repo.ids_by_external_id(self._db.reader, GATEWAY, [session])
            events = parse_webhook(body, known, now=self._clock)
            for event in events:
                await self._dispatcher.on_event(event)
            await self._dispatcher.flush_receipts()
        except Exception:
            log.exception("WAHA webhook %r could not be applied", body.get("event"))
            return 500
        return 200
