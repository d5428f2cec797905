"""Webhooks as an integrator uses them, over real HTTP end to end: a key made in the chat,
an endpoint added by API, 1,000 contacts upserted, a campaign sent; its events reach a
receiver on 127.0.0.1 that checks every signature, while the receiver fails for a while:
they arrive late, in order, none lost, none twice. And the /webhooks routes for a second
owner: 404, nothing of the first's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from bot.console.botapi import FakeBotApi
from tests.e2e.api_world import api_world
from tests.e2e.conftest import ADMIN_ID, Harness
from tests.e2e.test_api_keys import make_key
from tests.e2e.test_campaigns import compose, owner_id
from tests.fakes import wait_until
from tests.fakes.webhook_receiver import Receiver

A_ID = 881
SLOW = 30.0  # seconds: what a whole campaign's events may take to arrive (never reached)


class OffsetClock:
    """The real time, plus a jump a test makes (past a backoff, past a start)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        from bot.clock import utcnow

        return utcnow() + self.offset


class ClockedHarness(Harness):
    def __init__(self, api: FakeBotApi, settings, clock: OffsetClock) -> None:
        super().__init__(api, settings)
        self.clock = clock

    async def start(self):
        from telegram.request import HTTPXRequest

        from bot.app import Qasid
        from bot.console.botapi import FakeUser
        from tests.e2e.conftest import ADMIN_ID

        self.api.add_user(FakeUser(id=ADMIN_ID, first_name="Admin"))
        request = HTTPXRequest(httpx_kwargs={"transport": self.api.transport()})
        self.qasid = Qasid(self.settings, request=request, token=self.api.token,
                           rate_limit=False, clock=self.clock)
        await self.qasid.start()
        return self.qasid


@pytest.fixture
def clock() -> OffsetClock:  # this module's clock: the real time, jumped by the tests
    return OffsetClock()


@pytest.fixture
async def hooked(make_settings, clock: OffsetClock) -> AsyncIterator[ClockedHarness]:
    h = ClockedHarness(FakeBotApi(), make_settings(webhooks_allow_http=True,
                                                   webhooks_allow_private=True,
                                                   sandbox_invalid_share=0), clock)
    await h.start()
    yield h
    await h.stop()


@pytest.fixture
async def receiver(clock: OffsetClock) -> AsyncIterator[Receiver]:
    found = await Receiver(now=lambda: clock().timestamp()).start()
    yield found
    await found.stop()


async def test_a_campaigns_events_arrive_signed_late_in_order_none_lost(
        hooked: ClockedHarness, receiver: Receiver, clock: OffsetClock) -> None:
    chat = await hooked.active_owner(A_ID)
    key = await make_key(chat, "Shop", "Contacts: write", "Campaigns: write",
                         "Webhooks: write")
    await compose(chat, "Promo", "Salam {{name|dostum}}")
    owner = await owner_id(hooked, A_ID)
    await hooked.qasid.services.billing.credit(ADMIN_ID, owner, 100, "test")
    [template] = await hooked.qasid.services.templates.list(owner)
    refused = {"on": True}
    receiver.failing = lambda _r: 503 if refused["on"] else None

    async with api_world(hooked, seed=False) as world, world.client(key) as http:
        made = await http.post("/webhooks", json={"url": receiver.url("/events"),
                                                  "events": ["*"]})
        assert made.status_code == 201, made.text
        receiver.secrets["/events"] = made.json()["secret"]
        contacts = [{"phone": f"+99450{n:07d}", "name": f"Customer {n}"} for n in range(1000)]
        upserted = await http.post("/contacts", json={"contacts": contacts})
        assert upserted.status_code == 200, upserted.text
        recipients = [{"phone": c["phone"], "client_ref": f"order-{n}"}
                      for n, c in enumerate(contacts[:5])]
        pace = {"delay_min": 0, "delay_max": 0, "batch_size": 100, "batch_pause_min": 0,
                "batch_pause_max": 0,
                "recipient_night": False}  # at any hour: not on the time of day the test runs
        started = await http.post("/campaigns", json={
            "recipients": recipients, "template_id": template.id, "pace": pace,
            "accept_risk": True})  # no gaps at all: a high risk
        assert started.status_code == 202, started.text
        campaign_id = started.json()["id"]
        clock.offset += timedelta(seconds=10)  # past the start, 5 s after confirming
        await wait_until(lambda: len(receiver.refused) >= 2, SLOW,
                         "deliveries refused while the receiver fails")
        refused["on"] = False  # back up; the next attempt comes after its backoff
        clock.offset += timedelta(minutes=30)

        def finished() -> bool:
            return any(r.event["type"] == "campaign.finished" for r in receiver.accepted)

        await wait_until(finished, SLOW, "the campaign's events up to campaign.finished")
        await hooked.qasid.services.dispatcher.events.flush_receipts()
        await wait_until(lambda: sum(r.event["type"] == "message.delivered"
                                     for r in receiver.accepted) == 5, SLOW,
                         "every delivery receipt told")
        listed = (await http.get(f"/webhooks/{made.json()['id']}/deliveries",
                                 params={"limit": 50})).json()["data"]

    events = receiver.events()
    ids = [int(e["id"].removeprefix("evt_")) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # in order, none twice
    assert receiver.bad_signatures == []
    assert receiver.refused[0].event["id"] == events[0]["id"]  # the first waited, then came
    kinds = [e["type"] for e in events]
    assert kinds[0] == "campaign.started" and kinds.count("message.sent") == 5
    refs = {e["data"]["client_ref"] for e in events if e["type"] == "message.sent"}
    assert refs == {f"order-{n}" for n in range(5)}
    assert all(e["data"]["campaign_id"] == campaign_id for e in events
               if e["type"].startswith(("message.", "campaign.")))
    for message_id in {e["data"]["message_id"] for e in events if "message_id" in e["data"]}:
        seen = [e["type"] for e in events if e["data"].get("message_id") == message_id]
        assert seen[:2] == ["message.sent", "message.delivered"], seen
    assert {d["outcome"] for d in listed} == {"delivered", "failed"}
    assert [d["status_code"] for d in listed if d["outcome"] == "failed"] == [503] * len(
        [d for d in listed if d["outcome"] == "failed"])


async def test_a_second_owner_gets_404_for_every_webhook_route_and_nothing_else(
        hooked: ClockedHarness, receiver: Receiver) -> None:
    async with api_world(hooked) as world:
        async with world.client(world.key_a) as a:
            made = (await a.post("/webhooks", json={"url": receiver.url("/a")})).json()
        receiver.secrets["/a"] = made["secret"]
        async with world.client(world.key_b) as b:
            assert (await b.get("/webhooks")).json() == {"data": []}
            for method, path in (("POST", f"/webhooks/{made['id']}/test"),
                                 ("GET", f"/webhooks/{made['id']}/deliveries"),
                                 ("DELETE", f"/webhooks/{made['id']}")):
                answer = await b.request(method, path)
                assert answer.status_code == 404, (method, path)
                assert receiver.url("/a") not in answer.text
        assert receiver.accepted == []  # no test event went to a's endpoint for b
        async with world.client(world.key_a) as a:
            tested = (await a.post(f"/webhooks/{made['id']}/test")).json()
            assert tested["ok"] and tested["status_code"] == 200
            listed = (await a.get("/webhooks")).json()["data"]
            assert made["id"] in [e["id"] for e in listed]
            assert all("secret" not in e for e in listed)
            assert (await a.delete(f"/webhooks/{made['id']}")).status_code == 204
    assert [r.event["type"] for r in receiver.accepted] == ["webhook.test"]


async def test_a_url_to_the_servers_own_network_is_422_without_the_setting(harness) -> None:
    async with api_world(harness) as world, world.client(world.key_a) as a:
        for url in ("https://127.0.0.1:8443/x", "https://[::1]/x", "https://10.0.0.8/x",
                    "https://169.254.169.254/latest/meta-data", "http://shop.example.com/x"):
            answer = await a.post("/webhooks", json={"url": url})
            assert answer.status_code == 422, url
            assert answer.json()["field"] == "/url"

