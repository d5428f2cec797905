"""Sender events on a real SQLite file: a number the gateway reports banned or restricted
pauses its campaigns (or, with failover, hands them to another number), the owner is told
once; a number is never unbanned by itself; customers' replies reach their handler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.domain import SenderStatus
from bot.gateways.base import IncomingMessage, SenderHealth, SenderState, SenderStateChanged
from bot.gateways.sandbox import SandboxConfig, SandboxGateway
from bot.services.notify import SenderLost
from bot.services.sender_events import SenderEvents
from bot.storage import owners, senders
from bot.storage.db import Database
from tests.fakes import FakeClock, RecordingNotifier
from tests.unit.test_dispatcher import Harness


@pytest.fixture
async def h(db: Database, clock: FakeClock) -> AsyncIterator[Harness]:
    gateway = SandboxGateway(SandboxConfig(delivery_delay=3600, read_delay=0, invalid_share=0))
    harness = Harness(db, clock, gateway)
    yield harness
    await harness.dispatcher.close()
    await gateway.close()


def changed(sender_id: int, state: SenderState, clock: FakeClock, **health) -> SenderStateChanged:
    return SenderStateChanged(sender_id, SenderHealth(state, **health), clock())


async def the_number(h: Harness) -> int:
    [sender] = await senders.list_for_owner(h.db.reader, h.owner_id)
    return sender.id


async def sender_of_messages(h: Harness, campaign_id: int) -> set[int]:
    async with h.db.reader.execute("SELECT DISTINCT sender_id FROM messages WHERE"
                                   " campaign_id = ?", (campaign_id,)) as cur:
        return {row[0] async for row in cur}


def lost(h: Harness) -> list[SenderLost]:
    return [n for n in h.notifier.notices if isinstance(n, SenderLost)]


async def test_a_ban_the_gateway_reports_pauses_the_campaigns_and_tells_the_owner(
        h: Harness) -> None:
    campaign_id = await h.campaign(4)
    number = await the_number(h)
    await h.dispatcher.events.on_event(changed(number, SenderState.BANNED, h.clock))
    view = await h.campaigns.view(h.owner_id, campaign_id)
    assert view.campaign.status.value == "paused"
    assert view.campaign.status_reason == "sender_banned"
    assert view.progress.queued == 4  # nothing sent, nothing lost
    [notice] = lost(h)
    assert (notice.state, notice.campaign_ids, notice.moved_to) == ("banned", (campaign_id,),
                                                                    None)
    [sender] = await senders.list_for_owner(h.db.reader, h.owner_id)
    assert sender.status is SenderStatus.BANNED


async def test_with_failover_a_ban_moves_the_campaign_to_another_healthy_number(
        h: Harness) -> None:
    campaign_id = await h.campaign(4)
    number = await the_number(h)
    async with h.db.transaction() as tx:
        spare = await senders.add(tx, owner_id=h.owner_id, gateway="sandbox",
                                  phone="+994551230000", status=SenderStatus.ACTIVE,
                                  now=h.clock(), label="Spare")
        await owners.set_preferences(tx, h.owner_id, {}, True, h.clock())
    await h.dispatcher.events.on_event(changed(number, SenderState.BANNED, h.clock))
    view = await h.campaigns.view(h.owner_id, campaign_id)
    assert view.campaign.status.value == "scheduled"  # not paused: it starts as planned
    assert await sender_of_messages(h, campaign_id) == {spare.id}
    [notice] = lost(h)
    assert (notice.state, notice.campaign_ids, notice.moved_to) == ("banned", (), "Spare")
    await h.run(60)  # and the spare number sends them all
    assert (await h.campaigns.view(h.owner_id, campaign_id)).progress.sent == 4
    assert await sender_of_messages(h, campaign_id) == {spare.id}


async def test_a_restriction_reported_twice_tells_the_owner_once_and_it_is_never_lifted_by_itself(
        db: Database, clock: FakeClock, h: Harness) -> None:
    campaign_id = await h.campaign(2)
    number = await the_number(h)
    paused: list[tuple[int, int, str]] = []

    async def pause(owner_id: int, campaign: int, reason: str) -> bool:
        paused.append((owner_id, campaign, reason))
        return True

    notifier = RecordingNotifier()
    events = SenderEvents(db, notifier, pause, clock)
    until = clock() + timedelta(hours=24)
    await events.on_event(changed(number, SenderState.RESTRICTED, clock, until=until))
    await events.on_event(changed(number, SenderState.RESTRICTED, clock, until=until))
    await events.on_event(changed(number, SenderState.WORKING, clock))  # WAHA reconnected
    await events.on_event(changed(number, SenderState.STOPPED, clock))
    assert paused == [(h.owner_id, campaign_id, "sender_restricted")]
    notices = [n for n in notifier.notices if isinstance(n, SenderLost)]
    assert [(n.state, n.campaign_ids, n.until) for n in notices] == [
        ("restricted", (campaign_id,), until)]
    [sender] = await senders.list_for_owner(db.reader, h.owner_id)
    assert sender.status is SenderStatus.RESTRICTED


async def test_a_customers_reply_reaches_the_replies_handler(db: Database,
                                                             clock: FakeClock) -> None:
    replies: list[IncomingMessage] = []

    async def handle(reply: IncomingMessage) -> None:
        replies.append(reply)

    async def never(owner_id: int, campaign_id: int, reason: str) -> bool:
        raise AssertionError("a reply pauses nothing")

    reply = IncomingMessage(7, "+994501112233", "STOP", clock())
    await SenderEvents(db, RecordingNotifier(), never, clock).on_event(reply)  # no handler
    await SenderEvents(db, RecordingNotifier(), never, clock, replies=handle).on_event(reply)
    assert replies == [reply]
