"""``POST /webhooks/waha``: WAHA's receipts, session changes and customers' replies.

In order, each answered with a status code and nothing changed before a 200:

=============================================================  ======
a body over ``max_body`` bytes                                  413
a signing key is configured and ``X-Webhook-Hmac`` is missing  401
or is not the lowercase hex HMAC-SHA512 of the raw body
(``X-Webhook-Hmac-Algorithm``, if sent, must be ``sha512``)
not JSON, or not a JSON object                                  400
the events handed to the dispatcher, receipts applied           200
the database cannot save now (disk full, locked): nothing       503
applied, one warning line; WAHA sends it again
something failed while applying them (WAHA retries; every       500
step is idempotent)
=============================================================  ======

A session no sender uses, and events we do not handle, are answered 200 and ignored.

A 200 for receipts means they are committed. Concurrent webhooks share one transaction
(the dispatcher's group commit): each request waits for the batch holding its receipts,
and a batch that fails answers 500 to every request in it, with nothing of it written.

Which sender a session belongs to is looked up in the database for every event but
``message.ack``. Receipts only need to know that the session is ours (they move messages by
the gateway's id), so for them a known session is remembered for ``SESSION_TTL`` seconds:
a sender removed or re-linked meanwhile still has its receipts applied for at most that
long, which is harmless (they concern messages it did send). Unknown sessions are never
remembered, so a newly linked number's receipts are never dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from bot.errors import StorageUnavailable
from bot.gateways.base import GatewayEvent, Receipt
from bot.gateways.waha import parse_webhook
from bot.storage import senders as senders_repo
from bot.storage.db import Database
from bot.web.app import header, json_object

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
SIGNATURE_HEADER = "x-webhook-hmac"
ALGORITHM_HEADER = "x-webhook-hmac-algorithm"
GATEWAY = "waha"
SESSION_TTL = 1.0  # seconds a session's sender is remembered for receipts


class EventSink(Protocol):
    """What the webhook hands events to: the dispatcher."""

    async def on_event(self, event: GatewayEvent) -> None: ...

    async def flush_receipts(self, *, strict: bool = False) -> int: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


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
        self._sessions: dict[str, tuple[float, int]] = {}  # session -> (until, sender id)

    def signed(self, raw: bytes, headers: Mapping[str, str]) -> bool:
        if self._key is None:
            return True
        signature = header(headers, SIGNATURE_HEADER)
        algorithm = header(headers, ALGORITHM_HEADER)
        if not signature or (algorithm is not None and algorithm.strip().lower() != "sha512"):
            return False
        expected = hmac.new(self._key, raw, hashlib.sha512).hexdigest()
        return hmac.compare_digest(expected, signature.strip().lower())

    async def __call__(self, raw: bytes, headers: Mapping[str, str]) -> int:
        if len(raw) > self.max_body:
            log.warning("WAHA webhook: body of %d bytes refused", len(raw))
            return 413
        if not self.signed(raw, headers):
            log.warning("WAHA webhook: missing or wrong signature")
            return 401
        body = json_object(raw)
        if body is None:
            return 400
        try:
            session = body.get("session")
            if not isinstance(session, str):
                return 200
            known = await self._senders(session, remember=body.get("event") == "message.ack")
            events = parse_webhook(body, known, now=self._clock)
            for event in events:
                await self._dispatcher.on_event(event)
            if any(isinstance(event, Receipt) for event in events):
                await self._dispatcher.flush_receipts(strict=True)  # raises if not applied
        except StorageUnavailable as exc:  # nothing applied: WAHA sends it again
            log.warning("WAHA webhook %r answered 503, the database cannot save: %s",
                        body.get("event"), exc)
            return 503
        except Exception:
            log.exception("WAHA webhook %r could not be applied", body.get("event"))
            return 500
        return 200

    async def _senders(self, session: str, *, remember: bool) -> dict[str, int]:
        """The session's sender, as ``parse_webhook`` wants it; ``remember``: a known
        session may come from memory (see the module docstring)."""
        now = time.monotonic()
        if remember:
            found = self._sessions.get(session)
            if found is not None and found[0] > now:
                return {session: found[1]}
        known = await senders_repo.ids_by_external_id(self._db.reader, GATEWAY, [session])
        if session in known:
            self._sessions[session] = (now + SESSION_TTL, known[session])
        else:
            self._sessions.pop(session, None)
        return known
