"""``GET`` / ``POST /webhooks/cloud``: Meta's Cloud API webhooks (receipts and replies).

``GET`` is Meta's subscription handshake, ``verify(params)``: ``hub.mode=subscribe`` and
``hub.verify_token`` equal (compared in constant time) to the configured verify token ->
200 with ``hub.challenge`` as plain text; anything else, or no verify token configured,
403 (a challenge missing or over 256 characters with a good token: 400).

``POST``, in order, each answered with a status code and nothing changed before a 200:

=============================================================  ======
a body over ``max_body`` bytes (1 MB: Meta batches)             413
no app secret configured: every POST (an unsigned Cloud         401
webhook is never trusted; warned once in the log)
``X-Hub-Signature-256`` missing, or not ``sha256=`` and the     401
hex HMAC-SHA256 of the raw body with the app secret
not JSON, or not a JSON object                                  400
the events handed to the dispatcher, receipts committed         200
the database cannot save now (disk full, locked): nothing       503
applied, one warning line; Meta sends it again
something failed while applying them (Meta retries; every       500
step is idempotent)
=============================================================  ======

A phone-number id no sender uses, and changes we do not handle, are answered 200 and
ignored. The app secret, the verify token and message texts are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from bot.errors import StorageUnavailable
from bot.gateways.base import Receipt
from bot.gateways.cloud import parse_webhook, phone_number_ids
from bot.storage import senders as senders_repo
from bot.storage.db import Database
from bot.web.app import header, json_object
from bot.web.waha import EventSink, utcnow

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
MAX_CHALLENGE = 256
SIGNATURE_HEADER = "x-hub-signature-256"
SIGNATURE_PREFIX = "sha256="
GATEWAY = "cloud"


class CloudWebhook:
    def __init__(
        self, db: Database, dispatcher: EventSink, app_secret: str | None,
        verify_token: str | None, *, max_body: int = MAX_BODY,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._secret = app_secret.encode() if app_secret else None
        self._verify_token = verify_token.encode() if verify_token else None
        self.max_body = max_body
        self._clock = clock
        self._warned_unsigned = False

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
            return False
        signature = header(headers, SIGNATURE_HEADER)
        if not signature:
            return False
        signature = signature.strip()
        if signature[:len(SIGNATURE_PREFIX)].lower() != SIGNATURE_PREFIX:
            return False
        expected = hmac.new(self._secret, raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(),
                                   signature[len(SIGNATURE_PREFIX):].lower().encode())

    async def __call__(self, raw: bytes, headers: Mapping[str, str]) -> int:
        if len(raw) > self.max_body:
            log.warning("Cloud webhook: body of %d bytes refused", len(raw))
            return 413
        if self._secret is None:
            if not self._warned_unsigned:
                self._warned_unsigned = True
                log.warning("Cloud webhook: no app secret configured, every POST is refused")
            return 401
        if not self.signed(raw, headers):
            log.warning("Cloud webhook: missing or wrong signature")
            return 401
        body = json_object(raw)
        if body is None:
            return 400
        try:
            numbers = phone_number_ids(body)
            account_news = _names_no_number(body)
            if not numbers and not account_news:
                return 200
            known = await senders_repo.ids_by_external_id(self._db.reader, GATEWAY, numbers)
            # account and quality updates name the number only by its display phone
            display = (await senders_repo.ids_by_phone_digits(self._db.reader, GATEWAY)
                       if account_news else None)
            events = parse_webhook(body, known, now=self._clock, sender_for_display=display)
            for event in events:
                await self._dispatcher.on_event(event)
            if any(isinstance(event, Receipt) for event in events):
                await self._dispatcher.flush_receipts(strict=True)  # raises if not applied
        except StorageUnavailable as exc:  # nothing applied: Meta sends it again
            log.warning("Cloud webhook answered 503, the database cannot save: %s", exc)
            return 503
        except Exception:
            log.exception("Cloud webhook could not be applied")
            return 500
        return 200


def _names_no_number(body: dict) -> bool:
    """Whether a change other than ``messages`` is in the body (account or quality news,
    which carry the display phone, not the phone-number id)."""
    entries = body.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            if isinstance(change, dict) and change.get("field") not in (None, "messages"):
                return True
    return False
