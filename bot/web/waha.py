"""``POST /webhooks/waha``: WAHA's receipts, session changes and customers' replies.

A ``WebhookEndpoint`` (``bot/web/app.py``: 413, 401, 400, 200, 503, 500 in that order)
with WAHA's signature and its adapter's ``webhook_address`` / ``webhook_events``
(``bot/gateways/waha.py``, which alone reads WAHA's ``session`` and ``event``):

=============================================================  ======
a body over ``max_body`` bytes (256 KB)                         413
a signing key is configured and ``X-Webhook-Hmac`` is missing  401
or is not the lowercase hex HMAC-SHA512 of the raw body
(``X-Webhook-Hmac-Algorithm``, if sent, must be ``sha512``)
=============================================================  ======

A session no sender uses, and events we do not handle, are answered 200 and ignored. The
session's sender is looked up by ``SenderDirectory`` (``bot/services/sender_directory.py``),
which remembers a known session for a second for ``message.ack`` (receipts only).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping

from bot.clock import Clock, utcnow
from bot.gateways.waha import WahaGateway, webhook_address, webhook_events
from bot.web.app import EventSink, SenderFinder, WebhookEndpoint, header

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
SIGNATURE_HEADER = "x-webhook-hmac"
ALGORITHM_HEADER = "x-webhook-hmac-algorithm"


class WahaWebhook(WebhookEndpoint):
    def __init__(
        self, senders: SenderFinder, dispatcher: EventSink, key: str | None = None, *,
        max_body: int = MAX_BODY, clock: Clock = utcnow,
    ) -> None:
        self._key = key.encode() if key else None
        super().__init__("WAHA", WahaGateway.kind, signed=self.signed,
                         address=webhook_address, events=webhook_events, senders=senders,
                         dispatcher=dispatcher, max_body=max_body, clock=clock, log=log)

    def signed(self, raw: bytes, headers: Mapping[str, str]) -> bool:
        if self._key is None:
            return True
        signature = header(headers, SIGNATURE_HEADER)
        algorithm = header(headers, ALGORITHM_HEADER)
        if signature and (algorithm is None or algorithm.strip().lower() == "sha512"):
            expected = hmac.new(self._key, raw, hashlib.sha512).hexdigest()
            if hmac.compare_digest(expected, signature.strip().lower()):
                return True
        log.warning("WAHA webhook: missing or wrong signature")
        return False
