"""Single messages (``POST /messages``'s service) on a real SQLite file: queued in the
outbox, sent by the dispatcher through the recording sandbox, credits charged once."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.domain import LedgerKind, MessageStatus
from bot.errors import InsufficientCredits, NotFound, ValidationError
from bot.services.dispatcher import Dispatcher, DispatcherConfig
from bot.services.idempotency import Answer, IdempotencyService, fingerprint
from bot.services.messages import MessageRequest, MessagesConfig, MessagesService
from bot.services.templates import TemplatesService
from bot.storage import contacts, idempotency, ledger, templates
from bot.storage.db import Database
from tests.fakes import FakeClock, RecordingGateway, RecordingNotifier
from tests.fakes.owners import add_active_owner

PHONE = "+994501112233"


class World:
    """Two owners (credits, a template each), the messages service and a dispatcher that
    sends through the recording sandbox."""

    def __init__(self, db: Database, clock: FakeClock, gateway: RecordingGateway) -> None:
        self.db, self.clock, self.gateway = db, clock, gateway
        self.templates = TemplatesService(db, clock)
        self.messages = MessagesService(db, self.templates, MessagesConfig(), clock,
                                        gateway=gateway)
        self.dispatcher = Dispatcher(db, gateway,  # type: ignore[arg-type]  # the sandbox sends no approved templates
                                     self.templates, RecordingNotifier(),
                                     DispatcherConfig(progress_every=0), clock)

    async def owner(self, telegram_id: int, credits: int) -> tuple[int, int]:
        """An owner with ``credits`` and a template "Salam {{name}}, {{code|0000}}"."""
        now = self.clock()
        async with self.db.transaction() as tx:
            owner = await add_active_owner(tx, telegram_id, now)
            if credits:
                await ledger.add(tx, owner.id, LedgerKind.CREDIT, credits, now)
            template = await templates.add(tx, owner.id, "Code", ["Salam {{name}}, {{code|0000}}"],
                                           None, None, now)
        return owner.id, template.id

    async def run(self, seconds: int) -> None:
        for _ in range(seconds):
            await self.dispatcher.tick()
            self.clock.advance(seconds=1)

    async def outbox(self, owner_id: int) -> list[tuple]:
        async with self.db.reader.execute(
            "SELECT id, phone, status, campaign_id, client_ref FROM messages WHERE owner_id = ?"
            " ORDER BY id", (owner_id,)) as cur:
            return [tuple(row) async for row in cur]


@pytest.fixture
async def world(db: Database, clock: FakeClock):
    gateway = RecordingGateway(clock)
    yield World(db, clock, gateway)
    await gateway.close()


async def test_a_message_goes_out_through_the_outbox_and_is_charged_once(world: World) -> None:
    owner, template = await world.owner(1, credits=10)
    accepted = await world.messages.send(owner, MessageRequest(
        "050 111 22 33", template_id=template, variables={"name": " Aysel "},
        client_ref="order-17"))
    assert accepted.phone == PHONE and accepted.status is MessageStatus.QUEUED
    assert accepted.planned_at == world.clock() and accepted.client_ref == "order-17"
    held = await ledger.balance(world.db.reader, owner)
    assert (held.total, held.available) == (10, 9)  # reserved at once

    await world.run(10)

    assert [(s.to, s.text) for s in world.gateway.sends] == [(PHONE, "Salam Aysel, 0000")]
    state = await world.messages.get(owner, accepted.id)
    assert state.status is MessageStatus.SENT and state.client_ref == "order-17"
    assert [status for status, _ in state.history] == [MessageStatus.QUEUED,
                                                        MessageStatus.SENT]
    balance = await ledger.balance(world.db.reader, owner)
    assert (balance.total, balance.reserved) == (9, 0)
    assert await world.outbox(owner) == [(accepted.id, PHONE, "sent", None, "order-17")]


async def test_a_plain_text_with_a_picture_goes_as_media(world: World) -> None:
    owner, _ = await world.owner(1, credits=5)
    pictures = []
    send_media = world.gateway.send_media

    async def recording(sender, to, media, caption=None):
        pictures.append((to, media.kind, media.url, caption))
        return await send_media(sender, to, media, caption)

    world.gateway.send_media = recording  # type: ignore[method-assign]  # a test's spy
    accepted = await world.messages.send(owner, MessageRequest(
        PHONE, text="Your table is ready {{not a variable}}",
        media_url="https://shop.example/menu.jpg"))
    await world.run(3)
    assert world.gateway.sends == []  # not a text: a picture with its caption, as written
    assert pictures == [(PHONE, "image", "https://shop.example/menu.jpg",
                         "Your table is ready {{not a variable}}")]
    assert (await world.messages.get(owner, accepted.id)).status is MessageStatus.SENT
    assert (await ledger.balance(world.db.reader, owner)).total == 4


async def test_an_opted_out_phone_is_refused_and_nothing_is_queued(world: World) -> None:
    owner, _template = await world.owner(1, credits=10)
    async with world.db.transaction() as tx:
        await contacts.opt_out(tx, owner, PHONE, "STOP", world.clock())
    with pytest.raises(ValidationError) as refused:
        await world.messages.send(owner, MessageRequest(PHONE, text="Hello"))
    assert (refused.value.reason, refused.value.where) == ("opted_out", "phone")
    assert await world.outbox(owner) == []
    assert (await ledger.balance(world.db.reader, owner)).available == 10


async def test_credits_short_refuse_the_sends_they_do_not_cover(world: World) -> None:
    owner, _ = await world.owner(1, credits=2)
    results = await asyncio.gather(
        *(world.messages.send(owner, MessageRequest(f"+99450111220{n}", text="Hi"))
          for n in range(3)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, InsufficientCredits)]
    assert len(refused) == 1 and (refused[0].needed, refused[0].available) == (1, 0)
    assert len(await world.outbox(owner)) == 2
    assert (await ledger.balance(world.db.reader, owner)).available == 0


async def test_a_variable_without_a_fallback_needs_a_value(world: World) -> None:
    owner, template = await world.owner(1, credits=10)
    with pytest.raises(ValidationError) as refused:
        await world.messages.send(owner, MessageRequest(PHONE, template_id=template))
    assert refused.value.reason == "missing_variables"
    assert refused.value.params["missing"] == "name"
    # a contact's own name fills it
    async with world.db.transaction() as tx:
        await contacts.upsert(tx, owner, [(PHONE, "Leyla", "{}")], world.clock())
    accepted = await world.messages.send(owner, MessageRequest(PHONE, template_id=template))
    await world.run(3)
    assert world.gateway.texts == ["Salam Leyla, 0000"]
    assert (await world.messages.get(owner, accepted.id)).contact_id is not None


async def test_another_owners_template_number_and_message_are_not_found(world: World) -> None:
    alice, alices_template = await world.owner(1, credits=10)
    bob, _ = await world.owner(2, credits=10)
    sent = await world.messages.send(alice, MessageRequest(PHONE, text="Hi"))
    with pytest.raises(NotFound):
        await world.messages.send(bob, MessageRequest(PHONE, template_id=alices_template,
                                                      variables={"name": "x"}))
    with pytest.raises(NotFound):
        await world.messages.send(bob, MessageRequest(PHONE, text="Hi",
                                                      sender_id=sent.sender_id))
    with pytest.raises(NotFound):
        await world.messages.get(bob, sent.id)
    assert await world.outbox(bob) == []


async def test_a_numbers_single_messages_keep_its_pace(world: World) -> None:
    owner, _ = await world.owner(1, credits=10)
    accepted = [await world.messages.send(owner, MessageRequest(f"+99450111220{n}", text="Hi"))
                for n in range(3)]
    gaps = [(b.planned_at - a.planned_at).total_seconds()
            for a, b in itertools.pairwise(accepted)]
    assert gaps == [3.0, 3.0]
    await world.run(12)
    times = world.gateway.times
    assert len(times) == 3
    assert min((b - a).total_seconds() for a, b in itertools.pairwise(times)) >= 3


async def test_concurrent_sends_share_transactions_and_each_is_queued_once(
        world: World) -> None:
    owner, _ = await world.owner(1, credits=1000)
    before = world.db.commits
    accepted = await asyncio.gather(*(world.messages.send(
        owner, MessageRequest(f"+9945011{n:05d}", text="Hi", client_ref=f"r{n}"))
        for n in range(200)))
    assert world.db.commits - before < 20  # a few batches, not 200 transactions
    rows = await world.outbox(owner)
    assert sorted(r[0] for r in rows) == sorted(a.id for a in accepted)
    assert {r[4] for r in rows} == {f"r{n}" for n in range(200)}
    assert (await ledger.balance(world.db.reader, owner)).available == 800


async def test_the_idempotency_answer_commits_with_the_message(world: World) -> None:
    owner, _ = await world.owner(1, credits=10)
    keys = IdempotencyService(world.db, world.clock)
    request = fingerprint("POST", "/api/v1/messages", b"{}")

    async def store(tx, accepted) -> None:
        await keys.store_in(tx, owner, "k-1", request, Answer(202, b'{"id": %d}' % accepted.id))

    accepted = await world.messages.send(owner, MessageRequest(PHONE, text="Hi"), store)
    kept = await idempotency.get(world.db.reader, owner, "k-1")
    assert kept is not None and kept.body == b'{"id": %d}' % accepted.id

    async def broken(tx, accepted) -> None:
        raise RuntimeError("the answer cannot be stored")

    with pytest.raises(RuntimeError):
        await world.messages.send(owner, MessageRequest("+994501112234", text="Hi"), broken)
    assert len(await world.outbox(owner)) == 1  # the message went with its answer
