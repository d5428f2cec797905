"""What a campaign's run writes to the webhook outbox, in the transactions of its changes:
started, each message sent / delivered / read / failed, paused (why), finished; a lost
number; the owner's pause and cancel. Sandbox gateway, real database, fake clock."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.domain import Language
from bot.gateways.base import Receipt, ReceiptStatus
from bot.gateways.sandbox import SandboxConfig, SandboxGateway
from bot.gateways.webhook_client import AiohttpPoster, UrlPolicy
from bot.services.campaigns import CampaignsConfig, CampaignsService
from bot.services.dispatcher import Dispatcher, DispatcherConfig
from bot.services.templates import TemplatesService
from bot.services.webhooks import WebhooksConfig, WebhooksService
from bot.storage import owners
from bot.storage import webhooks as repo
from bot.storage.db import Database
from tests.fakes import FakeClock, RecordingNotifier
from tests.unit.test_dispatcher import Harness


class Hooked(Harness):
    """test_dispatcher's harness, its services writing webhook events; the owner has an
    endpoint wanting every event (nothing is delivered here: the outbox is read)."""

    def __init__(self, db: Database, clock: FakeClock, gateway, http: AiohttpPoster,
                 **config) -> None:
        self.db, self.clock, self.gateway = db, clock, gateway
        self.notifier = RecordingNotifier()
        self.webhooks = WebhooksService(db, http, self.notifier,
                                        WebhooksConfig(allow_private=True), clock)
        self.templates = TemplatesService(db, clock)
        self.campaigns = CampaignsService(db, CampaignsConfig(advice_max=10_000), clock,
                                          webhooks=self.webhooks)
        self.dispatcher = Dispatcher(db, gateway, self.templates, self.notifier,
                                     DispatcherConfig(progress_every=0, **config), clock,
                                     campaigns_service=self.campaigns,
                                     webhooks=self.webhooks)
        gateway.set_event_handler(self.dispatcher.events.on_event)

    async def owner(self, telegram_id: int = 1) -> int:
        async with self.db.transaction() as tx:
            owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                     language=Language.EN, now=self.clock())
        self.owner_id = owner.id
        await self.webhooks.create(owner.id, "https://127.0.0.1/hook")
        return owner.id

    async def events(self) -> list[tuple[str, dict]]:
        found = await repo.events_after(self.db.reader, self.owner_id, 0, 100_000)
        return [(e.type, json.loads(e.data)) for e in found]


@pytest.fixture
async def http() -> AsyncIterator[AiohttpPoster]:
    poster = AiohttpPoster(UrlPolicy(allow_private=True), timeout=5.0)
    yield poster
    await poster.close()


def sandbox(**config) -> SandboxGateway:
    return SandboxGateway(SandboxConfig(**{"delivery_delay": 0, "read_delay": 0,
                                           "invalid_share": 0, **config}))


async def test_a_campaigns_run_is_told_start_to_finish_each_message_in_its_order(
        db, clock, http) -> None:
    gateway = sandbox(read_share=1.0)
    try:
        h = Hooked(db, clock, gateway, http)
        await h.owner()
        campaign_id = await h.campaign(3, again=True)
        await h.run(120)
        await h.dispatcher.receipts.flush()
    finally:
        await gateway.close()
    events = await h.events()
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "campaign.started" and "campaign.finished" in kinds
    assert events[0][1] == {"campaign_id": campaign_id, "name": events[0][1]["name"],
                            "status": "running"}
    by_message: dict[int, list[str]] = {}
    for kind, data in events:
        if kind.startswith("message."):
            by_message.setdefault(data["message_id"], []).append(kind)
            assert data["campaign_id"] == campaign_id and data["phone"].startswith("+99450")
            assert data["client_ref"] is None  # the chat's campaigns have none
    assert len(by_message) == 3
    assert all(seen == ["message.sent", "message.delivered", "message.read"]
               for seen in by_message.values())
    last_sent = max(i for i, k in enumerate(kinds) if k == "message.sent")
    assert kinds.index("campaign.finished") > last_sent


async def test_message_events_carry_the_integrators_client_ref(db, clock, http) -> None:
    gateway = sandbox()
    try:
        h = Hooked(db, clock, gateway, http)
        await h.owner()
        campaign_id = await h.campaign(2, again=True)
        async with db.transaction() as tx:
            await tx.execute("UPDATE messages SET client_ref = 'order-' || id"
                             " WHERE campaign_id = ?", (campaign_id,))
        await h.run(60)
    finally:
        await gateway.close()
    refs = {data["message_id"]: data["client_ref"] for kind, data in await h.events()
            if kind == "message.sent"}
    assert refs and all(ref == f"order-{mid}" for mid, ref in refs.items())


async def test_a_ban_is_a_number_event_and_a_pause_for_the_ban(db, clock, http) -> None:
    gateway = sandbox(ban_after=2)
    try:
        h = Hooked(db, clock, gateway, http)
        await h.owner()
        campaign_id = await h.campaign(5, again=True)
        await h.run(200)
    finally:
        await gateway.close()
    events = await h.events()
    kinds = [kind for kind, _ in events]
    [banned] = [data for kind, data in events if kind == "number.banned"]
    assert banned["state"] == "banned" and banned["phone"]
    [paused] = [data for kind, data in events if kind == "campaign.paused"]
    assert paused == {"campaign_id": campaign_id, "name": paused["name"], "status": "paused",
                      "reason": "ban"}
    assert kinds.index("number.banned") < kinds.index("campaign.paused")
    assert kinds.count("message.sent") == 2


async def test_failed_messages_and_a_failure_spike_are_told(db, clock, http) -> None:
    gateway = sandbox(invalid_share=1.0)
    try:
        h = Hooked(db, clock, gateway, http, spike_window=5, spike_share=0.5)
        await h.owner()
        await h.campaign(20, again=True)
        await h.run(300)
    finally:
        await gateway.close()
    events = await h.events()
    failed = [data for kind, data in events if kind == "message.failed"]
    assert len(failed) == 5 and all(d["status"] == "failed" and d["error"] for d in failed)
    assert [d["reason"] for k, d in events if k == "campaign.paused"] == ["failures"]


async def test_the_owners_pause_and_cancel_are_told(db, clock, http) -> None:
    gateway = sandbox()
    try:
        h = Hooked(db, clock, gateway, http)
        await h.owner()
        campaign_id = await h.campaign(3, again=True)
        await h.campaigns.pause(h.owner_id, campaign_id)
        await h.campaigns.cancel(h.owner_id, campaign_id)
    finally:
        await gateway.close()
    told = [(kind, data.get("reason"), data["status"]) for kind, data in await h.events()]
    assert told == [("campaign.paused", "owner", "paused"),
                    ("campaign.finished", "cancelled", "cancelled")]


async def test_a_batch_of_receipts_writes_its_events_in_its_one_transaction(
        db, clock, http) -> None:
    gateway = sandbox(delivery_delay=3600, read_delay=3600)  # no receipts by themselves
    try:
        h = Hooked(db, clock, gateway, http)
        await h.owner()
        campaign_id = await h.campaign(40, again=True)
        await h.run(400)
        async with db.reader.execute(
            "SELECT gateway_message_id, sender_id FROM messages WHERE campaign_id = ?"
            " AND status = 'sent'", (campaign_id,)
        ) as cur:
            sent = await cur.fetchall()
        before = len(await h.events())
        commits = db.commits
        moved = await h.dispatcher.receipts.apply([
            Receipt(message_id=gid, status=ReceiptStatus.DELIVERED, at=clock(), sender_id=sid)
            for gid, sid in sent])
    finally:
        await gateway.close()
    assert moved == len(sent) > 0
    assert db.commits == commits + 1
    events = await h.events()
    assert [kind for kind, _ in events[before:]] == ["message.delivered"] * len(sent)
