"""Number checks that do not themselves risk the number: "is this phone on WhatsApp?" asked
ahead of the send, in small paced batches, and remembered (``whatsapp_checks``, trusted for
``valid_for``, 30 days).

A repeating job calls ``run``: for the queued messages planned within ``horizon`` (12 h)
on numbers whose gateway ``checks_numbers``, the phones without a recent check are asked
through the message's own number, at most ``batch`` of them in one batch, a random
``gap_min``-``gap_max`` seconds between two checks, and a rest of ``rest_min``-``rest_max``
seconds after a batch before the next one on that number. Never two checks of one number
at once: every check of a number (these batches, and the dispatcher's inline fallback
through ``check``) takes its turn on that number's lock and keeps the gap since its last
check. Each answer is kept; a phone that is not on WhatsApp fails the owner's queued
messages to it on those numbers ahead of the send (``not_on_whatsapp``, never sent, their
credits released the way the dispatcher releases a failed message's). A check that fails
(gateway error, timeout) says nothing and is asked again at a later run.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.clock import Clock, utcnow
from bot.domain import MessageStatus, SenderStatus
from bot.errors import StorageUnavailable
from bot.gateways.base import Gateway, GatewayError, SenderRef
from bot.services.billing import CREDITS_PER_MESSAGE
from bot.services.receipts import settle
from bot.services.senders import sender_ref
from bot.services.webhooks import Changed, WebhooksService
from bot.storage import contacts as contacts_repo
from bot.storage import number_checks as repo
from bot.storage import senders as senders_repo
from bot.storage.db import Database

log = logging.getLogger(__name__)

NOT_ON_WHATSAPP = "not_on_whatsapp"  # failed by the check, never sent: no ban signal
AHEAD_DETAIL = "not on WhatsApp (checked ahead of sending)"

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class NumberChecksConfig:
    horizon: float = 12 * 3600.0  # messages planned this far ahead are checked
    batch: int = 10  # checks in one batch on one number
    gap_min: float = 2.0  # seconds between two checks on one number (random in the range)
    gap_max: float = 5.0
    rest_min: float = 60.0  # seconds a number rests after a batch (random in the range)
    rest_max: float = 120.0
    valid_for: float = 30 * 86400.0  # an answer is trusted this long


@dataclass(frozen=True, slots=True)
class CampaignChecks:
    """A campaign's recipients as the checks see them (its card shows it)."""

    queued: int  # messages still to send
    checked: int  # of them, to phones known on WhatsApp by a recent check
    not_on_whatsapp: int  # messages failed because their phone is not on WhatsApp


class _Turn:
    """One number's checks, one at a time, ``gap`` apart."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.last: float | None = None  # clock timestamp of its last check
        self.rest_until = 0.0  # no batch before this


class NumberChecks:
    def __init__(self, db: Database, gateway: Gateway, config: NumberChecksConfig | None = None,
                 clock: Clock = utcnow, *, sleep: Sleep = asyncio.sleep,
                 rng: random.Random | None = None,
                 webhooks: WebhooksService | None = None) -> None:
        self._db = db
        self._gateway = gateway
        self._config = config or NumberChecksConfig()
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._webhooks = webhooks
        self._turns: dict[int, _Turn] = defaultdict(_Turn)

    @property
    def config(self) -> NumberChecksConfig:
        return self._config

    def _now(self) -> float:
        return self._clock().timestamp()

    async def run(self) -> int:
        """One round (the repeating job): a batch on every number that is not resting, the
        numbers side by side, each number's checks in order. Returns the checks answered."""
        now = self._now()
        cfg = self._config
        rows = await repo.unchecked(self._db.reader, now + cfg.horizon, now - cfg.valid_for,
                                    cfg.batch)
        by_sender: dict[int, list[repo.Unchecked]] = defaultdict(list)
        for row in rows:
            by_sender[row.sender_id].append(row)
        batches = []
        for sender_id, phones in by_sender.items():
            turn = self._turns[sender_id]
            if turn.lock.locked() or turn.rest_until > now:
                continue
            sender = await senders_repo.get_any(self._db.reader, sender_id)
            if sender is None or sender.status is not SenderStatus.ACTIVE:
                continue  # a number not working is not asked anything
            ref = sender_ref(sender)
            if not self._gateway.capabilities(ref).checks_numbers:
                continue
            batches.append(self._batch(ref, phones))
        answered = await asyncio.gather(*batches)
        return sum(answered)

    async def _batch(self, ref: SenderRef, phones: list[repo.Unchecked]) -> int:
        answered = 0
        for row in phones[: self._config.batch]:
            found = await self.check(ref, row.owner_id, row.phone)
            if found is None:
                continue  # says nothing: asked again at a later run
            answered += 1
            if not found:
                await self._fail_ahead(row.owner_id, row.phone)
        cfg = self._config
        self._turns[ref.sender_id].rest_until = (
            self._now() + self._rng.uniform(cfg.rest_min, cfg.rest_max))
        return answered

    async def check(self, ref: SenderRef, owner_id: int, phone: str) -> bool | None:
        """Ask the number's gateway whether ``phone`` is on WhatsApp, in the number's turn
        (never two at once, a random gap after its last check), and keep the answer. None:
        the check failed (a gateway error): nothing is known."""
        cfg = self._config
        turn = self._turns[ref.sender_id]
        async with turn.lock:
            if turn.last is not None:
                wait = turn.last + self._rng.uniform(cfg.gap_min, cfg.gap_max) - self._now()
                if wait > 0:
                    await self._sleep(wait)
            try:
                answer = await self._gateway.check_number(ref, phone)
            except GatewayError as exc:
                log.info("number check skipped (%s)", exc.category)
                return None
            finally:
                turn.last = self._now()
        try:
            async with self._db.transaction() as tx:
                await contacts_repo.remember_whatsapp(
                    tx, [(owner_id, phone, answer.on_whatsapp, self._now())])
        except StorageUnavailable as exc:  # only a cache: asked again next time
            log.warning("a number check could not be saved (%s)", exc)
        return answer.on_whatsapp

    async def _fail_ahead(self, owner_id: int, phone: str) -> None:
        """The owner's queued messages to ``phone`` on their numbers that check numbers
        fail now, never sent, their credits released (``receipts.settle``, as the
        dispatcher settles a failed message)."""
        checking = [s.id for s in await senders_repo.list_for_owner(self._db.reader, owner_id)
                    if self._gateway.capabilities(sender_ref(s)).checks_numbers]
        if not checking:
            return
        at = self._clock()
        now = at.timestamp()
        try:
            async with self._db.transaction() as tx:
                failed = await repo.fail_not_on_whatsapp(
                    tx, owner_id, phone, checking, now + self._config.valid_for, now,
                    NOT_ON_WHATSAPP, AHEAD_DETAIL)
                release: dict[tuple[int, int | None], int] = defaultdict(int)
                for _, campaign_id in failed:
                    release[(owner_id, campaign_id)] += CREDITS_PER_MESSAGE
                await settle(tx, {}, release, at, "")
                if self._webhooks is not None and failed:
                    await self._webhooks.emit_messages(tx, [
                        Changed(message_id, owner_id, campaign_id, MessageStatus.FAILED, at,
                                NOT_ON_WHATSAPP) for message_id, campaign_id in failed])
        except StorageUnavailable as exc:  # the dispatcher's inline check still catches it
            log.warning("messages to a phone not on WhatsApp could not be failed (%s)", exc)

    async def campaign(self, campaign_id: int) -> CampaignChecks:
        queued, checked, failed = await repo.campaign_checks(
            self._db.reader, campaign_id, self._now() - self._config.valid_for)
        return CampaignChecks(queued, checked, failed)
