"""The integration API over real HTTP: the whole Qasid app (``Harness``) served by uvicorn
on a free 127.0.0.1 port in the test's event loop, owners with API keys, and the world
the routes' declared examples run against (``tests/e2e/test_api_contract.py``).

The seeded world (``ApiWorld.seed``), which every ``Example`` of every route may count on:

- owner **A** (``world.a``, telegram id 5001): list 1 "Customers" with the contacts
  ``A_PHONES``, template 1 "Promo" (two variants, variables ``name`` and ``city``),
  campaign 1 "Spring" (running, on list 1 and template 1) with 6 messages (2 read,
  1 delivered, 1 sent, 1 failed, 1 queued), campaign 2 "Autumn" (paused by the owner,
  no messages), 1,000 credits of which 10 are reserved by campaign 1; ``world.key_a``: a
  key with every scope;
- webhook endpoints of A's: 1 ``https://shop.example.com/qasid-events`` (message.delivered,
  message.failed, reply.received) and 2 ``https://crm.example.com/hooks`` (all events);
  their hosts resolve to nothing here, so nothing reaches them;
- owner **B** (``world.b``, telegram id 5002): template 2 "Other", list 2 "B list"; its
  key ``world.key_b`` has every scope. Ids 999 belong to nobody.

An area that needs more for its examples adds it to ``seed`` (and says so here).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from bot.app import Qasid
from bot.clock import utcnow
from bot.console.botapi import FakeUser
from bot.domain import Scope
from bot.services import billing
from bot.storage import contacts, lists, templates
from tests.e2e.conftest import ADMIN_ID, Harness
from tests.fakes import wait_until
from tests.fakes.owners import add_active_owner
from tests.unit.seeding import Seeded

A_TELEGRAM, B_TELEGRAM = 5001, 5002
A_PHONES = ("+994501000001", "+994501000002", "+994501000003")
B_PHONES = ("+994552000001",)


class _Server(uvicorn.Server):
    def capture_signals(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # the test runner keeps its own signal handlers


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """``app`` served by uvicorn (httptools, as ``python -m bot``) on a free port of
    127.0.0.1, in this event loop; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    server = _Server(uvicorn.Config(app, http="httptools", ws="none", lifespan="off",
                                    log_config=None, access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await wait_until(lambda: server.started or task.done(), what="uvicorn started")
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass(slots=True)
class ApiWorld:
    harness: Harness
    url: str  # the server's base URL (``/api/v1`` is under it)
    a: int = 0  # owner ids
    b: int = 0
    key_a: str = ""
    key_b: str = ""
    seeded_a: Seeded | None = None

    @property
    def qasid(self) -> Qasid:
        assert self.harness.qasid is not None
        return self.harness.qasid

    async def owner(self, telegram_id: int) -> int:
        """An active owner, written straight into the database."""
        self.harness.api.add_user(FakeUser(id=telegram_id, first_name="Aysel"))
        async with self.qasid.db.transaction() as tx:
            owner = await add_active_owner(tx, telegram_id, utcnow())
        return owner.id

    async def key(self, owner_id: int, scopes: Iterable[Scope] = tuple(Scope),
                  name: str = "Shop backend") -> str:
        """A new API key of the owner's (its secret)."""
        return (await self.qasid.services.api_keys.create(owner_id, name, scopes)).secret

    def client(self, key: str | None, **kwargs: Any) -> httpx.AsyncClient:
        """An HTTP client of ``/api/v1`` sending ``key`` (None: no Authorization)."""
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return httpx.AsyncClient(base_url=self.url + "/api/v1", headers=headers,
                                 timeout=30, **kwargs)

    async def seed(self) -> ApiWorld:
        """The world the module docstring describes."""
        q = self.qasid
        now = utcnow()
        self.a = await self.owner(A_TELEGRAM)
        self.b = await self.owner(B_TELEGRAM)
        async with q.db.transaction() as tx:
            customers = await lists.create(tx, self.a, "Customers", now)
            await contacts.upsert(tx, self.a, [(p, f"Customer {n}", '{"city": "Baku"}')
                                               for n, p in enumerate(A_PHONES, 1)], now)
            await contacts.add_to_list(tx, self.a, customers.id, list(A_PHONES), now)
            promo = await templates.add(
                tx, self.a, "Promo", ["Hi {{name|friend}}, see you in {{city|town}}!",
                                      "{Hello|Salam} {{name|friend}}!"], None, None, now)
            other_list = await lists.create(tx, self.b, "B list", now)
            await contacts.upsert(tx, self.b, [(p, "B customer", "{}") for p in B_PHONES],
                                  now)
            await contacts.add_to_list(tx, self.b, other_list.id, list(B_PHONES), now)
            await templates.add(tx, self.b, "Other", ["Other owner's text"], None, None, now)
        seeded = self.seeded_a = Seeded(q.db, utcnow, self.a, customers.id,
                                        promo.id)
        campaign = await seeded.campaign("Spring")
        for status, n in (("read", 2), ("delivered", 1), ("sent", 1), ("queued", 1)):
            await seeded.messages(campaign, status, n)
        await seeded.messages(campaign, "failed", 1, category="recipient_invalid",
                              detail="not on WhatsApp")
        await q.services.campaigns.pause(self.a, await seeded.campaign("Autumn"))
        await q.services.billing.credit(ADMIN_ID, self.a, 1000, "bank transfer")
        async with q.db.transaction() as tx:
            await billing.reserve(tx, self.a, 10, now, campaign_id=campaign)
        await q.services.webhooks.create(
            self.a, "https://shop.example.com/qasid-events",
            ["message.delivered", "message.failed", "reply.received"])
        await q.services.webhooks.create(self.a, "https://crm.example.com/hooks")
        await q.services.automations.create(self.a, "sequence", "Welcome", {  # id 1
            "list_id": customers.id, "steps": [{"template_id": promo.id, "delay": 0}]})
        self.key_a = await self.key(self.a)
        self.key_b = await self.key(self.b)
        return self


@contextlib.asynccontextmanager
async def api_world(harness: Harness, *, seed: bool = True,
                    app: Any = None) -> AsyncIterator[ApiWorld]:
    """The harness's whole web app (or ``app``) served over HTTP; the world seeded."""
    assert harness.qasid is not None
    async with serve(app if app is not None else harness.qasid.web) as url:
        world = ApiWorld(harness, url)
        if seed:
            await world.seed()
        yield world
