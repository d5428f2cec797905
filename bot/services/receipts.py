"""Receipts: what a gateway says became of a message it accepted (delivered, read,
failed), applied to the outbox forward only, in batches.

gathered   ``gather``: a receipt waits ``delay`` seconds for others, so that a burst of
           them costs one transaction, not one each
committed  ``flush``: group commit. Receipts gathered while a batch is being applied form
           the next batch; every caller waiting on a batch is answered once it is
           committed (a webhook answers 200 only then)
applied    ``apply_batch(tx, receipts, at)``: in the caller's one transaction, the
           messages moved, each only forward (read never goes back to delivered), an
           uncertain one settled (its credit charged, or released when it failed); it
           answers which messages moved from which state to which (``Applied``)

A receipt moves only a message that the number it came for sent (``Receipt.sender_id``):
one naming another number's message, or nobody's, is ignored and counted (``ignored``).
A batch the database refuses (``StorageUnavailable``) is kept and tried again at later
flushes (the dispatcher flushes at every tick); one that fails otherwise is tried again
on its own, ``KEPT_TRIES`` times in all.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.clock import Clock, utcnow
from bot.domain import MessageStatus
from bot.errors import StorageUnavailable
from bot.gateways.base import Receipt
from bot.services import billing
from bot.services.webhooks import WebhooksService
from bot.storage import outbox
from bot.storage.db import Connection, Database

log = logging.getLogger(__name__)

Refused = Callable[[str, StorageUnavailable], None]  # (what, why): the database refused it
Moved = Callable[[Mapping[int, int]], None]  # campaign id -> owner id: its messages moved
Held = Mapping[tuple[int, int | None], int]  # (owner id, campaign id) -> held credits


@dataclass(frozen=True, slots=True)
class Move:
    """One message moved by one receipt (a batch may move a message twice: sent ->
    delivered -> read)."""

    message_id: int
    campaign_id: int | None  # None: a test message
    owner_id: int
    sender_id: int
    before: MessageStatus
    after: MessageStatus
    at: datetime  # when the gateway says it happened
    error: str | None = None


@dataclass(slots=True)
class Applied:
    """What a batch of receipts did: the moves, in the order applied, and how many
    receipts were ignored (another number's message, or nobody's)."""

    moves: list[Move] = field(default_factory=list)
    ignored: int = 0

    @property
    def campaigns(self) -> dict[int, int]:
        """campaign id -> owner id of the campaigns whose messages moved."""
        return {m.campaign_id: m.owner_id for m in self.moves if m.campaign_id is not None}


def moves_forward(before: MessageStatus, after: MessageStatus) -> bool:
    """Only forward: a message that went out may fail later; otherwise a later state only
    (``outbox.RANK``), so duplicates and late receipts change nothing."""
    if after is MessageStatus.FAILED:
        return before in (MessageStatus.SENT, MessageStatus.UNCERTAIN)
    return outbox.RANK.get(after, -1) > outbox.RANK.get(before, 99)


async def apply_batch(tx: Connection, receipts: Sequence[Receipt], at: datetime) -> Applied:
    """Apply receipts in the caller's transaction (``at``: the time of the ledger rows);
    see the module docstring. Nothing here commits: what the caller writes in the same
    transaction commits, or rolls back, with the moves."""
    current = await outbox.by_gateway_ids(tx, list({r.message_id for r in receipts}))
    applied = Applied()
    charge: dict[tuple[int, int | None], int] = defaultdict(int)
    release: dict[tuple[int, int | None], int] = defaultdict(int)
    for receipt in sorted(receipts, key=lambda r: r.at):
        found = current.get(receipt.message_id)
        if found is None:
            continue
        message_id, campaign_id, owner_id, status, sender_id = found
        if receipt.sender_id is None or receipt.sender_id != sender_id:
            applied.ignored += 1  # another number's message (or nobody's): never applied
            continue
        before, after = MessageStatus(status), MessageStatus(receipt.status.value)
        if not moves_forward(before, after):
            continue
        if before is MessageStatus.UNCERTAIN:  # resolved: its held credit settles
            settled = release if after is MessageStatus.FAILED else charge
            settled[(owner_id, campaign_id)] += 1
        current[receipt.message_id] = (message_id, campaign_id, owner_id, after, sender_id)
        applied.moves.append(Move(message_id, campaign_id, owner_id, receipt.sender_id,
                                  before, after, receipt.at, receipt.error))
    if applied.moves:
        await outbox.advance_many(tx, [(m.message_id, m.after, m.at.timestamp(), m.error)
                                       for m in applied.moves])
    await settle(tx, charge, release, at, " (receipt)")
    return applied


async def settle(tx: Connection, charge: Held, release: Held, at: datetime, why: str) -> None:
    """Ledger rows for held credits now spent (sent) or given back (failed), one per
    (owner, campaign); the dispatcher's outcomes settle the same way."""
    for (owner_id, campaign_id), n in charge.items():
        await billing.charge(tx, owner_id, n, at, campaign_id=campaign_id, note="sent" + why)
    for (owner_id, campaign_id), n in release.items():
        await billing.release(tx, owner_id, n, at, campaign_id=campaign_id,
                              note="failed" + why)


def _refused(what: str, exc: StorageUnavailable) -> None:
    log.warning("%s could not be saved (%s); kept and tried again", what, exc)


class ReceiptsService:
    KEPT_TRIES = 5  # a failed batch's receipts are given up after this many tries
    KEPT_MAX = 100_000  # receipts kept while the database refuses them; the oldest go first

    def __init__(self, db: Database, clock: Clock = utcnow, *, delay: float = 0.05,
                 refused: Refused = _refused, moved: Moved | None = None,
                 webhooks: WebhooksService | None = None) -> None:
        """``refused`` is told when the database refuses a batch (the dispatcher's outage
        log); ``moved`` gets the campaigns whose messages each applied batch moved;
        ``webhooks`` writes each move's ``message.*`` event with the batch."""
        self._db = db
        self._webhooks = webhooks
        self._clock = clock
        self._delay = delay
        self._refused = refused
        self._moved = moved
        self._gathered: list[Receipt] = []  # for the next batch
        self._later: asyncio.Task[None] | None = None  # flushes them after ``delay``
        self._batch: asyncio.Future[int] | None = None  # the next batch's answer
        self._applying: asyncio.Future[int] | None = None  # the one being applied
        self._flushing: asyncio.Task[None] | None = None  # applies batch after batch
        self._kept: list[tuple[int, Receipt]] = []  # (tries, receipt) that failed
        self.ignored = 0  # receipts for a message of another number, never applied

    def gather(self, receipt: Receipt) -> None:
        """Gathered for a moment and applied together: one transaction, not one each."""
        self._gathered.append(receipt)
        if self._later is None or self._later.done():
            self._later = asyncio.create_task(self._flush_later(), name="qasid-receipts")

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._delay)
        await self.flush()

    async def flush(self, *, strict: bool = False) -> int:
        """Apply the receipts gathered so far and return once they are committed; how many
        of their batch moved a message.

        A batch that fails writes nothing: its receipts are kept and tried again, in a
        transaction of their own, at later flushes, and a ``strict`` caller gets the error
        instead of 0 (the webhook answers 500 and the gateway sends the receipts again:
        applying a receipt twice changes nothing)."""
        if self._gathered or self._kept:
            if self._batch is None:
                self._batch = asyncio.get_running_loop().create_future()
            waiting = self._batch
            if self._flushing is None or self._flushing.done():
                self._flushing = asyncio.create_task(self._flush_batches(),
                                                     name="qasid-receipts-flush")
        elif self._applying is not None:  # the caller's receipts may be in it
            waiting = self._applying
        else:
            return 0
        try:
            # shielded: a caller that gives up must not cancel the batch of the others
            return await asyncio.shield(waiting)
        except Exception:
            if strict:
                raise
            return 0

    async def _flush_batches(self) -> None:
        """The flush in progress: batch after batch, as long as callers are waiting."""
        loop = asyncio.get_running_loop()
        while self._batch is not None or self._gathered:
            done = self._batch or loop.create_future()
            batch, self._gathered, self._batch = self._gathered, [], None
            self._applying = done
            try:
                moved = await self._retry_kept()
                if batch:
                    moved += await self.apply(batch)
            except Exception as exc:
                if isinstance(exc, StorageUnavailable):  # kept, without counting a try
                    self._refused(f"{len(batch)} receipts", exc)
                    self._keep([(0, receipt) for receipt in batch])
                else:
                    log.exception("%d receipts could not be applied yet", len(batch))
                    self._kept.extend((1, receipt) for receipt in batch)
                done.set_exception(exc)
                done.exception()  # logged here, once: not again as "never retrieved"
            except BaseException:  # cancelled: nothing written, the receipts kept
                self._gathered[:0] = batch
                done.cancel()
                raise
            else:
                done.set_result(moved)
            finally:
                self._applying = None

    async def _retry_kept(self) -> int:
        """Receipts of a failed batch, tried again on their own so that they cannot fail
        a new batch's callers."""
        if not self._kept:
            return 0
        kept, self._kept = self._kept, []
        try:
            return await self.apply([receipt for _, receipt in kept])
        except StorageUnavailable:  # not their fault: kept as they are, the batch waits too
            self._kept[:0] = kept
            raise
        except Exception:
            again = [(tries + 1, r) for tries, r in kept if tries + 1 < self.KEPT_TRIES]
            log.exception("%d kept receipts failed again (%d given up)", len(kept),
                          len(kept) - len(again))
            self._kept[:0] = again
            return 0

    def _keep(self, kept: list[tuple[int, Receipt]]) -> None:
        """Keep receipts for later, after the ones already kept; bounded (a webhook's are
        sent again by its gateway, which got a 503)."""
        self._kept.extend(kept)
        extra = len(self._kept) - self.KEPT_MAX
        if extra > 0:
            del self._kept[:extra]
            log.warning("%d kept receipts given up: more than %d waited for the database",
                        extra, self.KEPT_MAX)

    async def apply_one(self, receipt: Receipt) -> bool:
        return await self.apply([receipt]) == 1

    async def apply(self, receipts: list[Receipt]) -> int:
        """Apply receipts now, in one transaction (``apply_batch``); how many moves."""
        async with self._db.transaction() as tx:
            applied = await apply_batch(tx, receipts, self._clock())
            if self._webhooks is not None and applied.moves:  # one executemany a batch
                await self._webhooks.emit_messages(tx, applied.moves)
        if applied.ignored:
            self.ignored += applied.ignored
            log.warning("%d receipts ignored: not for a message of the number they came for",
                        applied.ignored)
        if self._moved is not None and applied.moves:
            self._moved(applied.campaigns)  # the dispatcher owes them a progress notice
        return len(applied.moves)

    async def close(self) -> None:
        """Apply the receipts still gathered (at shutdown)."""
        if self._later is not None and not self._later.done():
            self._later.cancel()
            try:
                await self._later
            except asyncio.CancelledError:
                pass
        await self.flush()
        if self._flushing is not None:  # ends once no caller is waiting
            await self._flushing
