"""Each gateway fault, from a fake gateway on 127.0.0.1 through the real adapter and the
dispatcher, ends in the message state it must: sent, queued again for a retry (with the
gateway's Retry-After), uncertain (never resent), failed, or held with the number marked
and its campaign paused.

One recipient per campaign; the Harness's sandbox number is turned into a WAHA session
or a Cloud API number before anything is sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from bot.gateways.cloud import CloudConfig, CloudGateway
from bot.gateways.http import AiohttpTransport
from bot.gateways.waha import WahaConfig, WahaGateway
from bot.storage import senders
from tests.fakes import FakeClock
from tests.gateways.fake_cloud import FakeCloud, FakeCloudServer
from tests.gateways.fake_waha import ERROR_463, FakeWaha, FakeWahaServer
from tests.unit.test_dispatcher import Harness

SESSION = "shop"
NUMBER_ID = "106540352242922"
TOKEN = "EAAG-through-the-dispatcher"
RECIPIENT = "994500000000"  # the Harness's first contact, without "+"


@pytest.fixture(params=("httpcore", "aiohttp"))
def transport(request: pytest.FixtureRequest) -> str:
    """httpx's own transport, or the aiohttp one the adapters make when given no client."""
    return request.param


def new_client(transport: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=AiohttpTransport() if transport == "aiohttp" else None)


@pytest.fixture(scope="module")
def waha_server() -> Iterator[FakeWaha]:
    with FakeWahaServer(FakeWaha()) as fake:
        yield fake


@pytest.fixture(scope="module")
def cloud_server() -> Iterator[FakeCloud]:
    with FakeCloudServer() as fake:
        yield fake


class World:
    def __init__(self, h: Harness, campaign_id: int, sender_id: int) -> None:
        self.h, self.campaign_id, self.sender_id = h, campaign_id, sender_id

    async def state(self) -> tuple[str, str | None, float]:
        async with self.h.db.reader.execute(
            "SELECT status, error_category, planned_at FROM messages WHERE campaign_id = ?",
            (self.campaign_id,),
        ) as cur:
            row = await cur.fetchone()
        return row[0], row[1], row[2]

    async def sender_status(self) -> str:
        sender = await senders.get_any(self.h.db.reader, self.sender_id)
        assert sender is not None
        return sender.status.value

    async def campaign_status(self) -> str:
        view = await self.h.campaigns.view(self.h.owner_id, self.campaign_id)
        return view.campaign.status.value


async def _world(db, clock: FakeClock, gateway, kind: str, external_id: str
                 ) -> AsyncIterator[World]:
    h = Harness(db, clock, gateway)
    campaign_id = await h.campaign(1)
    async with db.transaction() as tx:
        await tx.execute("UPDATE senders SET gateway = ?, external_id = ?, phone = ?",
                         (kind, external_id, "+994509990000"))
    [sender] = await senders.list_for_owner(db.reader, h.owner_id)
    clock.advance(seconds=6)  # the campaign starts 5 s after confirming
    yield World(h, campaign_id, sender.id)
    await h.dispatcher.close()


@pytest.fixture
async def via_waha(db, clock, waha_server: FakeWaha, transport: str
                   ) -> AsyncIterator[tuple[World, FakeWaha]]:
    waha_server.reset()
    waha_server.add_session(SESSION, me="994509990000")
    async with new_client(transport) as client:
        gateway = WahaGateway(WahaConfig(base_url=waha_server.url, timeout=0.5), client,
                              clock=clock)
        async for world in _world(db, clock, gateway, "waha", SESSION):
            yield world, waha_server


@pytest.fixture
async def via_cloud(db, clock, cloud_server: FakeCloud, transport: str
                    ) -> AsyncIterator[tuple[World, FakeCloud]]:
    cloud_server.reset()
    cloud_server.add_number(NUMBER_ID, TOKEN)
    async with new_client(transport) as client:
        tokens: dict[int, str] = {}
        gateway = CloudGateway(CloudConfig(base_url=cloud_server.url, timeout=0.5,
                                           throughput=10_000), client, tokens=tokens,
                               clock=clock)
        async for world in _world(db, clock, gateway, "cloud", NUMBER_ID):
            tokens[world.sender_id] = TOKEN
            yield world, cloud_server


# -- WAHA ---------------------------------------------------------------------------------

SEND = "/api/sendText"


async def test_waha_accepted_is_sent_with_its_id(via_waha) -> None:
    world, waha = via_waha
    await world.h.dispatcher.tick()
    assert (await world.state())[0] == "sent"
    [request] = waha.sent()
    assert request.body["chatId"] == f"{RECIPIENT}@c.us"


@pytest.mark.parametrize(("fault", "headers", "wait"), [
    ((500, {"message": "engine not ready"}), {}, None),
    ((429, {"message": "slow down"}), {"Retry-After": "120"}, 120.0),
    ((408, None), {}, None),
])
async def test_waha_retryable_answers_queue_the_message_again(
    via_waha, fault: tuple[int, Any], headers: dict[str, str], wait: float | None,
) -> None:
    world, waha = via_waha
    waha.fail_next(*fault, path=SEND, headers=headers)
    now = world.h.clock().timestamp()
    await world.h.dispatcher.tick()
    status, category, planned = await world.state()
    assert status == "queued" and category in ("transient", "rate_limited")
    if wait is not None:
        assert planned == pytest.approx(now + wait, abs=1)
    world.h.clock.advance(seconds=3600)
    await world.h.dispatcher.tick()
    assert (await world.state())[0] == "sent"  # the retry went through
    assert len(waha.sent()) == 2


@pytest.mark.parametrize("fault", ["timeout_after_accepting", "dropped", "gateway_timeout"])
async def test_waha_no_answer_after_the_request_left_is_uncertain(via_waha, fault) -> None:
    world, waha = via_waha
    if fault == "timeout_after_accepting":
        waha.delay_next(1.5, path=SEND)  # WAHA sends it, the client stopped waiting
    elif fault == "dropped":
        waha.drop_next(path=SEND)
    else:
        waha.fail_next(504, {"message": "upstream timed out"}, path=SEND)
    await world.h.dispatcher.tick()
    assert (await world.state())[:2] == ("uncertain", "uncertain")
    world.h.clock.advance(seconds=3600)
    await world.h.dispatcher.tick()
    assert (await world.state())[0] == "uncertain"  # never sent again by itself
    assert len(waha.sent()) == 1


async def test_waha_unreachable_before_sending_is_retried(db, clock, transport: str) -> None:
    async with new_client(transport) as client:
        gateway = WahaGateway(WahaConfig(base_url="http://127.0.0.1:9", timeout=0.5), client,
                              clock=clock)
        async for world in _world(db, clock, gateway, "waha", SESSION):
            await world.h.dispatcher.tick()
            assert (await world.state())[:2] == ("queued", "transient")


async def test_waha_failed_session_holds_the_message_bans_the_number_and_pauses(
    via_waha,
) -> None:
    world, waha = via_waha
    waha.fail_next(422, {"statusCode": 422, "message": "Session status is not as expected",
                         "status": "FAILED"}, path=SEND)
    await world.h.dispatcher.tick()
    assert (await world.state())[0] == "queued"  # not lost, not failed: held back
    assert await world.sender_status() == "banned"
    assert await world.campaign_status() == "paused"


async def test_waha_error_463_restricts_the_number_and_pauses(via_waha) -> None:
    world, waha = via_waha
    waha.fail_next(500, {"message": ERROR_463}, path=SEND)
    await world.h.dispatcher.tick()
    assert (await world.state())[0] == "queued"
    assert await world.sender_status() == "restricted"
    assert await world.campaign_status() == "paused"


async def test_waha_a_phone_not_on_whatsapp_fails_without_a_send(via_waha) -> None:
    world, waha = via_waha
    waha.not_on_whatsapp.add(RECIPIENT)
    await world.h.dispatcher.tick()
    assert (await world.state())[:2] == ("failed", "not_on_whatsapp")
    assert waha.sent() == []
    assert await world.sender_status() == "active"


# -- Cloud API ----------------------------------------------------------------------------

MESSAGES = f"/v23.0/{NUMBER_ID}/messages"


async def test_cloud_accepted_is_sent(via_cloud) -> None:
    world, cloud = via_cloud
    await world.h.dispatcher.tick()
    assert (await world.state())[0] == "sent"
    [request] = [r for r in cloud.requests if r.path == MESSAGES]
    assert request.body["to"] == RECIPIENT


@pytest.mark.parametrize(("code", "category"), [
    (131026, "recipient_invalid"),  # not on WhatsApp
    (131047, "rejected"),  # outside the 24-hour window: needs a template
    (190, "rejected"),  # the token expired
])
async def test_cloud_permanent_errors_fail_the_message(via_cloud, code, category) -> None:
    world, cloud = via_cloud
    cloud.fail_code(code, path=MESSAGES)
    await world.h.dispatcher.tick()
    assert (await world.state())[:2] == ("failed", category)
    assert await world.sender_status() == "active"


@pytest.mark.parametrize(("code", "status"), [(130429, 429), (131000, 500)])
async def test_cloud_throughput_and_transient_errors_are_retried(via_cloud, code, status
                                                                  ) -> None:
    world, cloud = via_cloud
    cloud.fail_code(code, status, path=MESSAGES)
    await world.h.dispatcher.tick()
    assert (await world.state())[0] == "queued"
    world.h.clock.advance(seconds=3600)
    await world.h.dispatcher.tick()
    assert (await world.state())[0] == "sent"


@pytest.mark.parametrize(("code", "state"), [(368, "banned"), (131048, "restricted")])
async def test_cloud_account_errors_hold_the_message_mark_the_number_and_pause(
    via_cloud, code, state,
) -> None:
    world, cloud = via_cloud
    cloud.fail_code(code, path=MESSAGES)
    await world.h.dispatcher.tick()
    assert (await world.state())[0] == "queued"
    assert await world.sender_status() == state
    assert await world.campaign_status() == "paused"


async def test_cloud_timeout_after_accepting_is_uncertain(via_cloud) -> None:
    world, cloud = via_cloud
    cloud.delay_next(1.5, path=MESSAGES)
    await world.h.dispatcher.tick()
    assert (await world.state())[:2] == ("uncertain", "uncertain")
