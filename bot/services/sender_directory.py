"""Which of our senders a gateway's webhook speaks of, for the web layer (which reaches
storage only through services).

A webhook's adapter reads the body's address (``bot.gateways.*.webhook_address``: WAHA's
session, Cloud API phone-number ids, whether it names a number only by its display
phone); ``SenderDirectory.find`` answers the senders those name, as the adapter's parser
wants them (``KnownSenders``).

Receipts only need to know that the number is ours (they move messages by the gateway's
id and are bound to the sender they name), so for an address of receipts only (WAHA's
``message.ack``) a known sender is remembered for ``REMEMBER_FOR`` seconds: a sender
removed or re-linked meanwhile still has its receipts applied for at most that long,
which is harmless (they concern messages it did send). Unknown ids are never remembered,
so a newly linked number's receipts are never dropped; everything else is looked up in
the database every time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.gateways.base import KnownSenders, WebhookAddress
from bot.storage import senders
from bot.storage.db import Database

REMEMBER_FOR = 1.0  # seconds a known sender is remembered for receipts


class SenderDirectory:
    def __init__(self, db: Database, *, remember_for: float = REMEMBER_FOR,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._remember_for = remember_for
        self._monotonic = monotonic
        # (gateway, ids) -> (until, what they were): only when every one was known
        self._known: dict[tuple[str, tuple[str, ...]], tuple[float, KnownSenders]] = {}

    async def find(self, gateway: str, address: WebhookAddress) -> KnownSenders:
        """The ``gateway``'s senders that ``address`` names (every sender of that gateway
        by its phone digits, when the address names a number by its phone)."""
        key = (gateway, address.external_ids)
        now = self._monotonic()
        if address.receipts_only and not address.by_phone:  # thousands a second: no query
            hit = self._known.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        by_id = await senders.ids_by_external_id(self._db.reader, gateway,
                                                 list(address.external_ids))
        by_phone = (await senders.ids_by_phone_digits(self._db.reader, gateway)
                    if address.by_phone else None)
        found = KnownSenders(by_id, by_phone)
        if address.external_ids and len(by_id) == len(address.external_ids):
            self._known[key] = (now + self._remember_for, KnownSenders(by_id))
        else:
            self._known.pop(key, None)
        return found
