"""The ahead-of-send number checks through the real WAHA adapter against the fake WAHA:
the request log of ``GET /api/contacts/check-exists`` is paced (batches of at most 10 on
the session, 2-5 s apart, a rest of a minute or more between batches), and a phone WAHA
says is not on WhatsApp fails ahead: the dispatcher never sends to it nor asks again."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.gateways.waha import WahaConfig, WahaGateway
from bot.services.number_checks import NumberChecks, NumberChecksConfig
from tests.fakes import FakeClock
from tests.gateways.fake_waha import FakeWaha, FakeWahaServer
from tests.unit.test_dispatcher import Harness

SESSION = "shop"
CHECK = "/api/contacts/check-exists"


@pytest.fixture(scope="module")
def waha_server():
    with FakeWahaServer(FakeWaha()) as fake:
        yield fake


@pytest.fixture
async def world(db, clock: FakeClock, waha_server: FakeWaha
                ) -> AsyncIterator[tuple[Harness, FakeWaha, int]]:
    waha_server.reset()
    waha_server.add_session(SESSION, me="994509990000")
    async with httpx.AsyncClient() as client:
        gateway = WahaGateway(WahaConfig(base_url=waha_server.url, timeout=0.5), client,
                              clock=clock)
        h = Harness(db, clock, gateway)
        campaign_id = await h.campaign(12)
        async with db.transaction() as tx:
            await tx.execute("UPDATE senders SET gateway = 'waha', external_id = ?, phone = ?",
                             (SESSION, "+994509990000"))
        yield h, waha_server, campaign_id
        await h.dispatcher.close()


async def test_the_check_requests_are_paced_and_a_phone_without_whatsapp_fails_ahead(
        world, clock: FakeClock) -> None:
    h, waha, _ = world
    waha.not_on_whatsapp.add("994500000003")
    stamped: list[float] = []  # the clock's time of each check-exists request, in order

    def stamp() -> None:
        asked = [r for r in waha.requests if r.path == CHECK]
        stamped.extend([clock().timestamp()] * (len(asked) - len(stamped)))

    async def sleep(seconds: float) -> None:
        stamp()
        clock.advance(seconds=seconds)
        await asyncio.sleep(0)

    checks = NumberChecks(h.db, h.gateway, NumberChecksConfig(), clock, sleep=sleep,
                          rng=random.Random(3))
    for _ in range(30):  # the job every 10 s for 5 minutes
        await checks.run()
        stamp()
        clock.advance(seconds=10)

    asked = [r for r in waha.requests if r.path == CHECK]
    assert sorted(r.query["phone"] for r in asked) == [f"9945000000{n:02d}" for n in range(12)]
    assert {r.query["session"] for r in asked} == {SESSION}
    gaps = [b - a for a, b in itertools.pairwise(stamped)]
    within = [g for g in gaps if g < 60]
    rests = [g for g in gaps if g >= 60]
    assert len(within) == 10 and len(rests) == 1  # 10 in the first batch, 2 after a rest
    assert all(2.0 <= g <= 5.0 for g in within), within
    assert all(g <= 130 for g in rests)

    async with h.db.reader.execute(
        "SELECT status, error_category FROM messages WHERE phone = '+994500000003'") as cur:
        assert tuple(await cur.fetchone()) == ("failed", "not_on_whatsapp")
    await h.run(300)  # the dispatcher sends the others, asks nothing again
    assert len([r for r in waha.requests if r.path == CHECK]) == 12
    assert sorted(r.body["chatId"] for r in waha.sent()) == [
        f"9945000000{n:02d}@c.us" for n in range(12) if n != 3]
