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
        self._known: dict[tuple[str, str], tuple[float, int]] = {}  # -> (until, sender id)

    async def find(self, gateway: str, address: WebhookAddress) -> KnownSenders:
        """The ``gateway``'s senders that ``address`` names (every sender of that gateway
        by its phone digits, when the address names a number by its phone)."""
        by_id = await self._by_external_id(gateway, address.external_ids,
                                           remember=address.receipts_only)
        by_phone = (await senders.ids_by_phone_digits(self._db.reader, gateway)
                    if address.by_phone else None)
        return KnownSenders(by_id, by_phone)

    async def _by_external_id(self, gateway: str, ids: tuple[str, ...], *,
                              remember: bool) -> dict[str, int]:
        now = self._monotonic()
        if remember and ids:
            found = {}
            for external_id in ids:
                hit = self._known.get((gateway, external_id))
                if hit is None or hit[0] <= now:
                    break
                found[external_id] = hit[1]
            else:
                return found
        known = await senders.ids_by_external_id(self._db.reader, gateway, list(ids))
        for external_id in ids:
            if external_id in known:
                self._known[gateway, external_id] = (now + self._remember_for,
                                                     known[external_id])
            else:
                self._known.pop((gateway, external_id), None)
        return known
