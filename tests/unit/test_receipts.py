"""The receipts service on its own, on a real SQLite file: receipts bound to their number,
group commit, forward only, what a batch moved, and a batch the database refused."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.domain import Language, MessageStatus, SenderStatus
from bot.errors import StorageUnavailable
from bot.gateways.base import Receipt, ReceiptStatus
from bot.gateways.sandbox import SandboxConfig, SandboxGateway
from bot.services.receipts import Move, ReceiptsService, apply_batch
from bot.storage import ledger, owners, senders
from bot.storage.db import Database
from tests.fakes import FakeClock
from tests.unit.test_dispatcher import Harness

MESSAGES = 6


@dataclass(slots=True)
class Shop:
    """An owner whose campaign's messages were all sent from one number, each with the
    gateway id ``gw-<n>``; a second owner's number besides."""

    db: Database
    clock: FakeClock
    h: Harness
    campaign_id: int
    sender_id: int
    intruder_id: int

    def receipt(self, n: int, status: ReceiptStatus, *, sender_id: int | None = None,
                error: str | None = None) -> Receipt:
        return Receipt(f"gw-{n}", status, self.clock(), error=error,
                       sender_id=self.sender_id if sender_id is None else sender_id)

    def committed(self, n: int) -> str:
        """The message's status as another connection sees it: only what was committed."""
        conn = sqlite3.connect(str(self.db.path))
        try:
            return conn.execute("SELECT status FROM messages WHERE gateway_message_id = ?",
                                (f"gw-{n}",)).fetchone()[0]
        finally:
            conn.close()

    async def statuses(self) -> dict[str, int]:
        return await self.h.statuses(self.campaign_id)


@pytest.fixture
async def shop(db: Database, clock: FakeClock) -> AsyncIterator[Shop]:
    gateway = SandboxGateway(SandboxConfig(delivery_delay=3600, read_delay=0, invalid_share=0))
    h = Harness(db, clock, gateway)
    campaign_id = await h.campaign(MESSAGES)
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE messages SET status = 'sent', attempts = 1, sent_at = ?,"
            " gateway_message_id = 'gw-' || (id - (SELECT MIN(id) FROM messages))",
            (clock().timestamp(),))
        other = await owners.add(tx, telegram_id=77, chat_id=77, language=Language.EN,
                                 now=clock())
        intruder = await senders.add(tx, owner_id=other.id, gateway="sandbox",
                                     phone="+994559990000", status=SenderStatus.ACTIVE,
                                     now=clock())
    [sender] = await senders.list_for_owner(db.reader, h.owner_id)
    yield Shop(db, clock, h, campaign_id, sender.id, intruder.id)
    await h.dispatcher.close()
    await gateway.close()


class Batches:
    """Counts the service's transactions and their sizes; ``during`` runs inside the
    first one, before it is applied."""

    def __init__(self, service: ReceiptsService, during=None) -> None:
        self.sizes: list[int] = []
        self._apply, self._during = service.apply, during
        service.apply = self  # type: ignore[method-assign]  # counts the calls

    async def __call__(self, receipts: list[Receipt]) -> int:
        self.sizes.append(len(receipts))
        if self._during is not None:
            during, self._during = self._during, None
            await during()
        return await self._apply(receipts)


async def test_a_receipt_from_another_number_is_ignored_and_counted(shop: Shop) -> None:
    service = ReceiptsService(shop.db, shop.clock)
    forged = [shop.receipt(0, ReceiptStatus.READ, sender_id=shop.intruder_id),
              shop.receipt(1, ReceiptStatus.FAILED, sender_id=shop.intruder_id)]
    assert await service.apply(forged) == 0
    assert service.ignored == 2
    assert await shop.statuses() == {"sent": MESSAGES}
    assert await service.apply_one(shop.receipt(0, ReceiptStatus.READ))  # its own number's
    assert service.ignored == 2
    assert await shop.statuses() == {"sent": MESSAGES - 1, "read": 1}


async def test_concurrent_flushes_share_one_transaction_committed_before_each_answer(
        shop: Shop) -> None:
    service = ReceiptsService(shop.db, shop.clock, delay=3600)  # never by itself
    second_wave: list[asyncio.Task[int]] = []

    async def webhook(n: int) -> tuple[int, str]:
        service.gather(shop.receipt(n, ReceiptStatus.DELIVERED))
        moved = await service.flush(strict=True)
        return moved, shop.committed(n)  # what the gateway may rely on once answered

    async def more_arrive() -> None:  # while the first batch is being applied
        second_wave.extend(asyncio.create_task(webhook(n)) for n in range(3, MESSAGES))
        await asyncio.sleep(0)  # they gather and wait for the next batch

    batches = Batches(service, during=more_arrive)
    first = await asyncio.gather(*(webhook(n) for n in range(3)))
    second = await asyncio.gather(*second_wave)
    assert batches.sizes == [3, MESSAGES - 3]  # two transactions for six callers
    assert first == [(3, "delivered")] * 3
    assert second == [(MESSAGES - 3, "delivered")] * (MESSAGES - 3)
    assert await shop.statuses() == {"delivered": MESSAGES}
    await service.close()


async def test_a_batch_says_which_messages_moved_from_which_state_forward_only(
        shop: Shop) -> None:
    async with shop.db.transaction() as tx:  # message 1's send had no answer
        await tx.execute("UPDATE messages SET status = 'uncertain' WHERE gateway_message_id"
                         " = 'gw-1'")
    receipts = [shop.receipt(0, ReceiptStatus.DELIVERED), shop.receipt(0, ReceiptStatus.READ),
                shop.receipt(0, ReceiptStatus.DELIVERED),  # late: changes nothing
                shop.receipt(1, ReceiptStatus.FAILED, error="blocked"),
                shop.receipt(2, ReceiptStatus.SENT)]  # a duplicate of what it is
    before = await ledger.balance(shop.db.reader, shop.h.owner_id)
    async with shop.db.transaction() as tx:
        applied = await apply_batch(tx, receipts, shop.clock())
    moves = [(m.after, m.before) for m in applied.moves]
    assert moves == [(MessageStatus.DELIVERED, MessageStatus.SENT),
                     (MessageStatus.READ, MessageStatus.DELIVERED),
                     (MessageStatus.FAILED, MessageStatus.UNCERTAIN)]
    assert {m.campaign_id for m in applied.moves} == {shop.campaign_id}
    assert all(isinstance(m, Move) and m.sender_id == shop.sender_id for m in applied.moves)
    assert applied.moves[-1].error == "blocked"
    assert applied.campaigns == {shop.campaign_id: shop.h.owner_id}
    assert await shop.statuses() == {"sent": MESSAGES - 2, "read": 1, "failed": 1}
    after = await ledger.balance(shop.db.reader, shop.h.owner_id)
    assert after.reserved == before.reserved - 1  # the uncertain one's credit given back
    assert after.total == before.total


async def test_a_batch_the_database_refuses_is_kept_and_applied_at_a_later_flush(
        shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    refused: list[str] = []
    moved: list[dict[int, int]] = []
    service = ReceiptsService(shop.db, shop.clock, delay=3600,
                              refused=lambda what, exc: refused.append(what),
                              moved=lambda campaigns: moved.append(dict(campaigns)))
    real_apply = service.apply

    async def disk_full(receipts: list[Receipt]) -> int:
        raise StorageUnavailable("disk_full", "database or disk is full")

    monkeypatch.setattr(service, "apply", disk_full)
    service.gather(shop.receipt(0, ReceiptStatus.READ))
    with pytest.raises(StorageUnavailable):
        await service.flush(strict=True)  # the webhook answers 503
    assert refused == ["1 receipts"] and moved == []
    assert await shop.statuses() == {"sent": MESSAGES}
    monkeypatch.setattr(service, "apply", real_apply)
    assert await service.flush() == 1  # the next tick's flush
    assert await shop.statuses() == {"sent": MESSAGES - 1, "read": 1}
    assert moved == [{shop.campaign_id: shop.h.owner_id}]
    assert await service.flush() == 0  # nothing kept any more
