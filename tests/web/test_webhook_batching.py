"""Concurrent ``message.ack`` webhooks share transactions (group commit), and a 200 still
means the receipt is committed; a failed batch answers 500 to every request in it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Mapping

import httpx
import pytest

from bot.gateways.sandbox import SandboxConfig
from bot.services.sender_directory import SenderDirectory
from bot.storage import outbox
from bot.storage.db import Database
from bot.web.app import create_web_app
from bot.web.waha import WahaWebhook
from tests.fakes import FakeClock
from tests.unit.test_dispatcher import Harness
from tests.web.test_waha_webhook import KEY, SESSION, WahaIds, ack, sign

MESSAGES = 40


def gateway_id(n: int) -> str:
    return f"true_99450{n:07d}@c.us_3EB0C0FFEE0001"  # what WahaIds answered for contact n


def ack_of(n: int, value: int = 2, name: str = "DEVICE") -> bytes:
    body = ack(value, name)
    body["payload"]["id"] = gateway_id(n)
    return json.dumps(body).encode()


class Seen:
    """Wraps the webhook: when it answers 200, reads the message's status on a connection
    of its own, opened for that one read, which sees committed data only. (The shared
    reader connection would not do: while another of its statements is open it keeps the
    snapshot that statement started with.)"""

    def __init__(self, db: Database, webhook: WahaWebhook) -> None:
        self.db, self.webhook = db, webhook
        self.max_body = webhook.max_body
        self.at_answer: dict[str, str] = {}

    async def __call__(self, raw: bytes, headers: Mapping[str, str]) -> int:
        status = await self.webhook(raw, headers)
        if status == 200:
            message_id = json.loads(raw)["payload"]["id"]
            conn = sqlite3.connect(str(self.db.path))
            try:
                self.at_answer[message_id] = conn.execute(
                    "SELECT status FROM messages WHERE gateway_message_id = ?", (message_id,)
                ).fetchone()[0]
            finally:
                conn.close()
        return status


class Batches:
    """Counts the receipts service's transactions and their sizes."""

    def __init__(self, harness: Harness) -> None:
        self.sizes: list[int] = []
        self._apply = harness.dispatcher.receipts.apply
        harness.dispatcher.receipts.apply = self  # type: ignore[method-assign]  # counts them

    async def __call__(self, receipts):
        self.sizes.append(len(receipts))
        return await self._apply(receipts)


class Shop:
    def __init__(self, db: Database, h: Harness, client: httpx.AsyncClient, seen: Seen,
                 campaign_id: int) -> None:
        self.db, self.h, self.client, self.seen = db, h, client, seen
        self.campaign_id = campaign_id

    async def post(self, raw: bytes) -> int:
        response = await self.client.post("/webhooks/waha", content=raw, headers=sign(raw))
        return response.status_code

    async def post_all(self, bodies: list[bytes]) -> list[int]:
        return list(await asyncio.gather(*(self.post(raw) for raw in bodies)))

    async def statuses(self) -> dict[str, int]:
        return await self.h.statuses(self.campaign_id)


async def _health() -> dict[str, bool]:
    return {"database": True}


@pytest.fixture
async def shop(db: Database, clock: FakeClock) -> AsyncIterator[Shop]:
    gateway = WahaIds(SandboxConfig(delivery_delay=3600, read_delay=0, invalid_share=0))
    h = Harness(db, clock, gateway)
    campaign_id = await h.campaign(MESSAGES)
    async with db.transaction() as tx:  # sent by the WAHA session, each with its own id
        await tx.execute("UPDATE senders SET gateway = 'waha', external_id = ?", (SESSION,))
        await tx.execute(
            "UPDATE messages SET status = 'sent', attempts = 1, sent_at = ?,"
            " gateway_message_id = 'true_' || substr(phone, 2) || '@c.us_3EB0C0FFEE0001'",
            (clock().timestamp(),))
    assert await h.statuses(campaign_id) == {"sent": MESSAGES}
    seen = Seen(db, WahaWebhook(SenderDirectory(db), h.dispatcher.events, KEY, clock=clock))
    app = create_web_app(_health, waha_webhook=seen)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://qasid") as client:
        yield Shop(db, h, client, seen, campaign_id)
    await h.dispatcher.close()
    await gateway.close()


async def test_concurrent_receipts_are_all_committed_before_each_200(shop: Shop) -> None:
    batches = Batches(shop.h)
    answers = await shop.post_all([ack_of(n) for n in range(MESSAGES)])
    assert answers == [200] * MESSAGES
    assert await shop.statuses() == {"delivered": MESSAGES}
    assert shop.seen.at_answer == {gateway_id(n): "delivered" for n in range(MESSAGES)}
    assert sum(batches.sizes) == MESSAGES
    assert len(batches.sizes) < MESSAGES  # shared transactions, not one per webhook


async def test_a_failed_batch_answers_500_writes_nothing_and_applies_on_the_retry(
    shop: Shop, monkeypatch: pytest.MonkeyPatch,
) -> None:
    advance = outbox.advance_many
    failing = True

    async def advance_then_fail(conn, rows):
        await advance(conn, rows)  # written inside the transaction, then it fails
        if failing:
            raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(outbox, "advance_many", advance_then_fail)
    bodies = [ack_of(n) for n in range(MESSAGES)]
    assert await shop.post_all(bodies) == [500] * MESSAGES
    assert await shop.statuses() == {"sent": MESSAGES}  # nothing half-applied
    assert shop.seen.at_answer == {}
    failing = False
    assert await shop.post_all(bodies) == [200] * MESSAGES  # WAHA sends them again
    assert await shop.statuses() == {"delivered": MESSAGES}


async def test_duplicate_receipts_in_one_batch_move_and_charge_a_message_once(
    shop: Shop,
) -> None:
    async with shop.db.transaction() as tx:  # its outcome was unknown: credit only reserved
        await tx.execute("UPDATE messages SET status = 'uncertain' WHERE gateway_message_id = ?",
                         (gateway_id(0),))
    batches = Batches(shop.h)
    bodies = [ack_of(0)] * 10 + [ack_of(1)] * 10
    assert await shop.post_all(bodies) == [200] * 20
    assert max(batches.sizes) > 1  # duplicates did meet in one batch
    assert await shop.statuses() == {"delivered": 2, "sent": MESSAGES - 2}
    async with shop.db.reader.execute(
        "SELECT amount FROM ledger WHERE kind = 'charge' AND note = 'sent (receipt)'"
    ) as cur:
        assert [row[0] async for row in cur] == [-1]
