"""The HTTP server stays responsive while a campaign sends: requests are answered between
the dispatcher's steps, not queued behind a whole tick."""

from __future__ import annotations

import asyncio

import httpx

from bench.dispatch_bench import confirm, setup
from bot.gateways.sandbox import SandboxConfig, SandboxGateway
from bot.services.campaigns import CampaignsConfig, CampaignsService
from bot.services.dispatcher import Dispatcher, DispatcherConfig
from bot.services.templates import TemplatesService
from bot.web.app import create_web_app
from tests.fakes import RecordingNotifier


async def test_health_is_answered_while_a_tick_sends_thousands(db, clock) -> None:
    gateway = SandboxGateway(SandboxConfig(delivery_delay=3600, invalid_share=0))
    dispatcher = Dispatcher(db, gateway, TemplatesService(db), RecordingNotifier(),
                            DispatcherConfig(progress_every=3600, claim_limit=5000,
                                             daily_cap=10**7, warmup=()), clock)
    service = CampaignsService(db, CampaignsConfig(advice_max=10**7), clock)
    owner_id, list_id, template_id = await setup(db, 3000, 10, clock())
    await confirm(db, service, owner_id, list_id, template_id, None)  # pacing off
    clock.advance(seconds=10)

    async def health() -> dict[str, bool]:
        return {"database": True}

    app = create_web_app(health)
    answered_during: list[bool] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://q") as client:
        tick = asyncio.create_task(dispatcher.tick())
        for _ in range(5):
            response = await client.get("/healthz")
            assert response.status_code == 200
            answered_during.append(not tick.done())
        report = await tick
    await dispatcher.close()
    await gateway.close()
    assert report.sent == 3000
    assert all(answered_during)  # each answer came while the tick was still sending
