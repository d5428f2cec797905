"""``GET`` / ``POST /webhooks/cloud``: Meta's Cloud API webhooks (receipts and replies).

``GET`` is Meta's subscription handshake, ``verify(params)``: ``hub.mode=subscribe`` and
``hub.verify_token`` equal (compared in constant time) to the configured verify token ->
200 with ``hub.challenge`` as plain text; anything else, or no verify token configured,
403 (a challenge missing or over 256 characters with a good token: 400).

``POST`` is a ``WebhookEndpoint`` (``bot/web/app.py``: 413, 401, 400, 200, 503, 500 in
that order) with Meta's signature and its adapter's ``webhook_address`` /
``webhook_events`` (``bot/gateways/cloud.py``, which alone reads ``entry`` / ``changes``):

=============================================================  ======
a body over ``max_body`` bytes (1 MB: Meta batches)             413
no app secret configured: every POST (an unsigned Cloud         401
webhook is never trusted; warned once in the log)
``X-Hub-Signature-256`` missing, or not ``sha256=`` and the     401
hex HMAC-SHA256 of the raw body with the app secret
=============================================================  ======

A phone-number id no sender uses, and changes we do not handle, are answered 200 and
ignored; account and quality news name a number by its display phone, looked up among
the Cloud senders (``SenderDirectory``). The app secret, the verify token and message
texts are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping

from bot.clock import Clock, utcnow
from bot.gateways.cloud import CloudGateway, webhook_address, webhook_events
from bot.web.app import EventSink, SenderFinder, WebhookEndpoint, header

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
MAX_CHALLENGE = 256
SIGNATURE_HEADER = "x-hub-signature-256"
SIGNATURE_PREFIX = "sha256="


class CloudWebhook(WebhookEndpoint):
    def __init__(
        self, senders: SenderFinder, dispatcher: EventSink, app_secret: str | None,
        verify_token: str | None, *, max_body: int = MAX_BODY, clock: Clock = utcnow,
    ) -> None:
        self._secret = app_secret.encode() if app_secret else None
        self._verify_token = verify_token.encode() if verify_token else None
        self._warned_unsigned = False
        super().__init__("Cloud", CloudGateway.kind, signed=self.signed,
                         address=webhook_address, events=webhook_events, senders=senders,
                         dispatcher=dispatcher, max_body=max_body, clock=clock, log=log)

    def __repr__(self) -> str:
        return f"CloudWebhook(max_body={self.max_body})"

    async def verify(self, params: Mapping[str, str]) -> tuple[int, str]:
        """Meta's ``GET`` handshake: (status, body)."""
        if self._verify_token is None:
            log.warning("Cloud webhook handshake refused: no verify token configured")
            return 403, ""
        token = params.get("hub.verify_token")
        if params.get("hub.mode") != "subscribe" or not isinstance(token, str) \
                or not hmac.compare_digest(token.encode(), self._verify_token):
            log.warning("Cloud webhook handshake refused: wrong mode or verify token")
            return 403, ""
        challenge = params.get("hub.challenge")
        if not isinstance(challenge, str) or not challenge or len(challenge) > MAX_CHALLENGE:
            return 400, ""
        return 200, challenge

    def signed(self, raw: bytes, headers: Mapping[str, str]) -> bool:
        if self._secret is None:
            if not self._warned_unsigned:
                self._warned_unsigned = True
                log.warning("Cloud webhook: no app secret configured, every POST is refused")
            return False
        if self._signature_matches(raw, header(headers, SIGNATURE_HEADER)):
            return True
        log.warning("Cloud webhook: missing or wrong signature")
        return False

    def _signature_matches(self, raw: bytes, signature: str | None) -> bool:
        assert self._secret is not None
        if not signature:
            return False
        signature = signature.strip()
        if signature[:len(SIGNATURE_PREFIX)].lower() != SIGNATURE_PREFIX:
            return False
        expected = hmac.new(self._secret, raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(),
                                   signature[len(SIGNATURE_PREFIX):].lower().encode())
