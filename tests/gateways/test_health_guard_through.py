"""The live health guard mid campaign, from a fake gateway on 127.0.0.1 through the real
adapter, the guard's poll and the dispatcher: WAHA's FIRST_WARNING doubles the gaps,
SECOND_WARNING stops new chats while existing chats go on, CAPPED restricts the number
until the cycle's end; the Cloud API's YELLOW slows, RED pauses. Each reaction once, the
owner told once per change."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from itertools import pairwise

import httpx
import pytest

from bot.domain import InboundMessage, SenderStatus
from bot.gateways.cloud import CloudConfig, CloudGateway
from bot.gateways.waha import WahaConfig, WahaGateway
from bot.services.notify import SenderLost, SenderWarned
from bot.storage import health, inbound, senders
from tests.fakes import FakeClock
from tests.gateways.fake_cloud import FakeCloud, FakeCloudServer
from tests.gateways.fake_waha import FakeWaha, FakeWahaServer
from tests.unit.test_dispatcher import Harness

SESSION = "shop"
NUMBER_ID = "106540352242922"
TOKEN = "EAAG-health-guard"
FAST_MIN = 3.0  # the "fast" preset's least gap (3-8 s)


@pytest.fixture(scope="module")
def waha_server() -> Iterator[FakeWaha]:
    with FakeWahaServer(FakeWaha()) as fake:
        yield fake


@pytest.fixture(scope="module")
def cloud_server() -> Iterator[FakeCloud]:
    with FakeCloudServer() as fake:
        yield fake


async def _harness(db, clock: FakeClock, gateway, kind: str, external_id: str,
                   recipients: int) -> tuple[Harness, int, int]:
    h = Harness(db, clock, gateway)
    campaign_id = await h.campaign(recipients)
    async with db.transaction() as tx:
        await tx.execute("UPDATE senders SET gateway = ?, external_id = ?, phone = ?",
                         (kind, external_id, "+994509990000"))
    [sender] = await senders.list_for_owner(db.reader, h.owner_id)
    clock.advance(seconds=6)  # the campaign starts 5 s after confirming
    return h, campaign_id, sender.id


async def sent(h: Harness, campaign_id: int) -> list[tuple[str, float]]:
    async with h.db.reader.execute(
        "SELECT phone, sent_at FROM messages WHERE campaign_id = ? AND sent_at IS NOT NULL"
        " ORDER BY sent_at", (campaign_id,),
    ) as cur:
        return [(r[0], r[1]) async for r in cur]


async def queued(h: Harness, campaign_id: int) -> set[str]:
    async with h.db.reader.execute(
        "SELECT phone FROM messages WHERE campaign_id = ? AND status = 'queued'",
        (campaign_id,),
    ) as cur:
        return {r[0] async for r in cur}


def told(h: Harness) -> list[str]:
    return [n.kind for n in h.notifier.of(SenderWarned)]


@pytest.fixture
async def waha_world(db, clock, waha_server: FakeWaha
                     ) -> AsyncIterator[tuple[Harness, int, int, FakeWaha]]:
    waha_server.reset()
    waha_server.add_session(SESSION, me="994509990000")
    async with httpx.AsyncClient() as client:
        gateway = WahaGateway(WahaConfig(base_url=waha_server.url, timeout=0.5), client,
                              clock=clock)
        h, campaign_id, sender_id = await _harness(db, clock, gateway, "waha", SESSION, 20)
        yield h, campaign_id, sender_id, waha_server
        await h.dispatcher.close()


async def test_waha_warnings_slow_then_stop_new_chats_then_restrict(waha_world, clock) -> None:
    h, campaign_id, sender_id, waha = waha_world
    session = waha.sessions[SESSION]
    existing = {f"+99450{n:07d}" for n in (17, 18, 19)}  # customers who wrote to the number
    async with h.db.transaction() as tx:
        for phone in existing:
            await inbound.add(tx, InboundMessage(0, h.owner_id, sender_id, phone, clock()))

    await h.run(20)  # normal pace: gaps of the preset's 3-8 s
    before = await sent(h, campaign_id)
    assert len(before) >= 3
    assert await h.dispatcher.guard.poll() == 1  # NONE: nothing to say
    assert told(h) == []

    session.capping_status = "FIRST_WARNING"
    await h.dispatcher.guard.poll()
    await h.dispatcher.guard.poll()  # the same warning again: no second reaction
    guard = (await health.guards(h.db.reader, [sender_id]))[sender_id]
    assert (guard.mode, guard.gap_factor, guard.capping) == ("slowed", 2.0, "FIRST_WARNING")
    assert told(h) == ["capping_first_warning"]
    await h.run(60)
    slowed = (await sent(h, campaign_id))[len(before):]
    assert len(slowed) >= 3
    gaps = [b - a for (_, a), (_, b) in pairwise(slowed)]
    assert min(gaps) >= 2 * FAST_MIN  # doubled
    assert len(set(round(g, 3) for g in gaps)) > 1  # and still random

    session.capping_status = "SECOND_WARNING"
    await h.dispatcher.guard.poll()
    assert told(h) == ["capping_first_warning", "capping_second_warning"]
    done = {p for p, _ in await sent(h, campaign_id)}
    await h.run(300)
    after = {p for p, _ in await sent(h, campaign_id)} - done
    assert after == existing - done  # existing chats went on ...
    waiting = await queued(h, campaign_id)
    assert waiting and not waiting & existing  # ... new chats wait

    session.capping_status, session.cycle_end = "CAPPED", int(clock().timestamp()) + 6 * 3600
    await h.dispatcher.guard.poll()
    await h.dispatcher.guard.poll()
    number = await senders.get_any(h.db.reader, sender_id)
    assert number is not None and number.status is SenderStatus.RESTRICTED
    assert number.restricted_until is not None
    assert number.restricted_until.timestamp() == session.cycle_end
    [lost] = h.notifier.of(SenderLost)  # told once, by the existing restricted path
    assert lost.until == number.restricted_until
    assert told(h) == ["capping_first_warning", "capping_second_warning"]
    kinds = [w.kind for w in await health.warnings(h.db.reader, sender_id, 0)]
    assert kinds == ["capping_first_warning", "capping_second_warning", "capped",
                     "restricted"]


async def test_waha_warning_lifted_is_normal_again_and_told(waha_world) -> None:
    h, _campaign_id, sender_id, waha = waha_world
    session = waha.sessions[SESSION]
    session.capping_status = "SECOND_WARNING"
    await h.dispatcher.guard.poll()
    session.capping_status = "NONE"
    await h.dispatcher.guard.poll()
    guard = (await health.guards(h.db.reader, [sender_id]))[sender_id]
    assert (guard.mode, guard.gap_factor) == ("normal", 1.0)
    assert told(h) == ["capping_second_warning", "capping_cleared"]


async def test_a_send_refused_with_463_is_recorded_as_a_timelock(waha_world) -> None:
    h, _campaign_id, sender_id, waha = waha_world
    waha.sessions[SESSION].timelock_active = True  # the next send: 500 error 463
    await h.run(3)
    number = await senders.get_any(h.db.reader, sender_id)
    assert number is not None and number.status is SenderStatus.RESTRICTED
    kinds = [w.kind for w in await health.warnings(h.db.reader, sender_id, 0)]
    assert kinds == ["timelock", "restricted"]
    assert len(h.notifier.of(SenderLost)) == 1


@pytest.fixture
async def cloud_world(db, clock, cloud_server: FakeCloud
                      ) -> AsyncIterator[tuple[Harness, int, int, FakeCloud]]:
    cloud_server.reset()
    cloud_server.add_number(NUMBER_ID, TOKEN)
    async with httpx.AsyncClient() as client:
        tokens: dict[int, str] = {}
        gateway = CloudGateway(CloudConfig(base_url=cloud_server.url, timeout=0.5,
                                           throughput=10_000), client, tokens=tokens,
                               clock=clock)
        h, campaign_id, sender_id = await _harness(db, clock, gateway, "cloud", NUMBER_ID, 20)
        tokens[sender_id] = TOKEN
        yield h, campaign_id, sender_id, cloud_server
        await h.dispatcher.close()


async def test_cloud_yellow_slows_and_red_pauses(cloud_world, clock) -> None:
    h, campaign_id, sender_id, cloud = cloud_world
    number = cloud.numbers[NUMBER_ID]
    await h.dispatcher.guard.poll()  # GREEN, TIER_1K: kept, nothing said
    guard = (await health.guards(h.db.reader, [sender_id]))[sender_id]
    assert (guard.quality, guard.tier, guard.mode) == ("GREEN", 1000, "normal")

    number.quality, number.tier = "YELLOW", "TIER_250"
    await h.dispatcher.guard.poll()
    await h.dispatcher.guard.poll()
    guard = (await health.guards(h.db.reader, [sender_id]))[sender_id]
    assert (guard.mode, guard.gap_factor, guard.tier) == ("slowed", 2.0, 250)
    assert told(h) == ["quality_yellow", "tier_changed"]
    [tier] = [n for n in h.notifier.of(SenderWarned) if n.kind == "tier_changed"]
    assert (tier.tier_before, tier.tier) == (1000, 250)
    start = len(await sent(h, campaign_id))
    await h.run(60)
    slowed = (await sent(h, campaign_id))[max(0, start - 1):]
    assert len(slowed) >= 3
    assert min(b - a for (_, a), (_, b) in pairwise(slowed)) >= 2 * FAST_MIN

    number.quality = "RED"
    await h.dispatcher.guard.poll()
    await h.dispatcher.guard.poll()
    guard = (await health.guards(h.db.reader, [sender_id]))[sender_id]
    assert guard.mode == "paused"
    found = await senders.get_any(h.db.reader, sender_id)
    assert found is not None and found.status is SenderStatus.RESTRICTED
    [lost] = h.notifier.of(SenderLost)
    assert lost.campaign_ids == (campaign_id,)  # its campaign paused
    assert told(h) == ["quality_yellow", "tier_changed"]  # RED: told by SenderLost alone
    kinds = [w.kind for w in await health.warnings(h.db.reader, sender_id, 0)]
    assert kinds == ["quality_yellow", "tier_changed", "quality_red", "restricted"]
