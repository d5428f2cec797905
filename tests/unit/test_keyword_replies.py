"""Keyword replies on a real SQLite file with a controllable clock: a customer's message
that holds a keyword is answered at once through the outbox and the dispatcher, once per
contact per N hours; opt-out words win; a new phone becomes a contact; the contact joins
the automation's list, which starts a sequence; pausing, editing and deleting take effect
at the next message; the config's errors say what and where."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.domain import LedgerKind, SenderStatus
from bot.errors import ValidationError
from bot.services.automations import AutomationsEngine, AutomationsService, parse_config
from bot.services.automations_sequences import SequenceEngine
from bot.services.dispatcher import Dispatcher, DispatcherConfig
from bot.services.keyword_replies import KeywordReplies, parse_keyword
from bot.services.messages import MessagesConfig, MessagesService
from bot.services.replies import RepliesService, Reply
from bot.services.templates import TemplatesService
from bot.storage import contacts, ledger, lists, senders, templates
from bot.storage.db import Database
from tests.fakes import FakeClock, RecordingGateway, RecordingNotifier
from tests.fakes.owners import add_active_owner

ALI, NEW = "+994501110001", "+994551110009"
PRICES = "Our prices: 10 AZN a bouquet, {{name|friend}}"


class World:
    """An owner with a number, credits, a price template, a welcome template, a list and
    a known contact; the replies service with the keyword hook, the automations service,
    the sequence engine and a dispatcher sending through the recording sandbox."""

    def __init__(self, db: Database, clock: FakeClock, gateway: RecordingGateway) -> None:
        self.db, self.clock, self.gateway = db, clock, gateway
        self.notifier = RecordingNotifier()
        self.templates = TemplatesService(db, clock)
        self.messages = MessagesService(db, self.templates, MessagesConfig(), clock)
        self.automations = AutomationsService(db, self.templates, self.messages,
                                              self.notifier, clock)
        self.keywords = KeywordReplies(self.automations, self.messages)
        self.replies = RepliesService(db, clock=clock, notifier=self.notifier,
                                      keywords=self.keywords)
        self.engine = AutomationsEngine(clock)
        self.engine.add(SequenceEngine(db, self.automations, clock))
        self.dispatcher = Dispatcher(db, gateway,  # type: ignore[arg-type]  # the sandbox sends no approved templates
                                     self.templates, RecordingNotifier(),
                                     DispatcherConfig(progress_every=0), clock)
        self.owner_id = self.number_id = self.prices = self.welcome = self.list_id = 0

    async def setup(self) -> None:
        now = self.clock()
        async with self.db.transaction() as tx:
            owner = await add_active_owner(tx, 1, now)
            number = await senders.add(tx, owner_id=owner.id, gateway="sandbox",
                                       phone="+994500000000", status=SenderStatus.ACTIVE,
                                       now=now)
            await ledger.add(tx, owner.id, LedgerKind.CREDIT, 100, now)
            self.prices = (await templates.add(tx, owner.id, "Prices", [PRICES], None, None,
                                               now)).id
            self.welcome = (await templates.add(tx, owner.id, "Welcome",
                                                ["Welcome to the club!"], None, None, now)).id
            self.list_id = (await lists.create(tx, owner.id, "Asked for prices", now)).id
            await contacts.upsert(tx, owner.id, [(ALI, "Əli", {})], now)
        self.owner_id, self.number_id = owner.id, number.id

    async def keyword(self, keywords: str = "price, qiymət, цена, how much",
                      **extra: Any) -> int:
        made = await self.automations.create(
            self.owner_id, "keyword", "Prices",
            {"keywords": keywords, "template_id": self.prices, **extra})
        return made.id

    async def says(self, phone: str, text: str, number_id: int | None = None) -> str:
        """The customer's message (to the owner's first number unless told); the
        dispatcher runs once; the outcome."""
        outcome = await self.replies.handle(number_id or self.number_id, phone, text)
        await self.engine.tick()
        await self.dispatcher.tick()
        return outcome

    def sent_to(self, phone: str) -> list[str]:
        return [s.text for s in self.gateway.sends if s.to == phone]


@pytest.fixture
async def world(db: Database, clock: FakeClock) -> AsyncIterator[World]:
    gateway = RecordingGateway(clock)
    made = World(db, clock, gateway)
    await made.setup()
    yield made
    await made.dispatcher.close()
    await gateway.close()


async def test_a_keyword_is_answered_at_once_through_the_outbox(world: World) -> None:
    await world.keyword()
    await world.says(ALI, "Salam! QİYMƏT nədir?")
    assert world.sent_to(ALI) == ["Our prices: 10 AZN a bouquet, Əli"]
    balance = await ledger.balance(world.db.reader, world.owner_id)
    assert (balance.total, balance.reserved) == (99, 0)  # one credit, charged
    await world.says(ALI, "thanks, and the priceless one?")  # no keyword as a whole word
    assert len(world.sent_to(ALI)) == 1


async def test_once_per_contact_per_n_hours(world: World) -> None:
    await world.keyword(cooldown_hours=6)
    await world.says(ALI, "price?")
    world.clock.advance(hours=1)
    await world.says(ALI, "цена?")
    world.clock.advance(hours=4, minutes=59)
    await world.says(ALI, "how much")
    assert len(world.sent_to(ALI)) == 1  # within 6 hours of the answer
    await world.says(NEW, "price")  # another contact has their own hours
    assert len(world.sent_to(NEW)) == 1
    world.clock.advance(minutes=1)  # 6 hours since the first answer
    await world.says(ALI, "price")
    assert len(world.sent_to(ALI)) == 2


async def test_the_default_cooldown_is_a_day(world: World) -> None:
    automation = await world.keyword()
    assert (await world.automations.get(world.owner_id, automation)).config[
        "cooldown_hours"] == 24
    await world.says(ALI, "price")
    world.clock.advance(hours=23, minutes=59)
    await world.says(ALI, "price")
    world.clock.advance(minutes=1)
    await world.says(ALI, "price")
    assert len(world.sent_to(ALI)) == 2


async def test_opt_out_words_win(world: World) -> None:
    await world.keyword()
    # a message that mentions a stop word goes to the owner to decide, unanswered
    assert await world.says(ALI, "STOP price") == "asked"
    assert world.sent_to(ALI) == []
    assert await world.says(ALI, "STOP") == "opted_out"
    world.clock.advance(days=2)
    await world.says(ALI, "price?")  # opted out: never answered
    assert world.sent_to(ALI) == []


async def test_an_opt_out_word_cannot_be_a_keyword() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_keyword({"keywords": "price, stop", "template_id": 1})
    assert (caught.value.reason, caught.value.where) == ("keyword_opt_out_word",
                                                         "keywords[1]")
    assert caught.value.params["keyword"] == "stop"


async def test_a_new_phone_becomes_a_contact_and_is_answered(world: World) -> None:
    await world.keyword()
    assert await contacts.get_by_phone(world.db.reader, world.owner_id, NEW) is None
    await world.says(NEW, "hello")  # no keyword: stays unknown
    assert await contacts.get_by_phone(world.db.reader, world.owner_id, NEW) is None
    await world.says(NEW, "How much?")
    assert world.sent_to(NEW) == ["Our prices: 10 AZN a bouquet, friend"]
    contact = await contacts.get_by_phone(world.db.reader, world.owner_id, NEW)
    assert contact is not None and contact.name is None


async def test_joining_the_list_starts_its_sequence(world: World) -> None:
    await world.automations.create(world.owner_id, "sequence", "Welcome", {
        "list_id": world.list_id,
        "steps": [{"template_id": world.welcome, "delay": 0, "unit": "minutes"}]})
    await world.keyword(list_id=world.list_id)
    await world.says(NEW, "qiymet")
    async with world.db.reader.execute(
            "SELECT c.phone FROM list_members m JOIN contacts c ON c.id = m.contact_id"
            " WHERE m.list_id = ?", (world.list_id,)) as cur:
        assert [row[0] async for row in cur] == [NEW]
    world.clock.advance(minutes=1)
    await world.engine.tick()
    await world.dispatcher.tick()
    assert world.sent_to(NEW) == ["Our prices: 10 AZN a bouquet, friend",
                                  "Welcome to the club!"]


async def test_one_answer_per_message_the_first_keyword_wins(world: World) -> None:
    await world.keyword("price")
    delivery = await world.automations.create(
        world.owner_id, "keyword", "Delivery",
        {"keywords": ["delivery", "çatdırılma"], "template_id": world.welcome})
    await world.says(ALI, "Catdirilma and price?")
    assert world.sent_to(ALI) == ["Welcome to the club!"]
    await world.automations.pause(world.owner_id, delivery.id)
    world.clock.advance(minutes=5)  # the number's pace
    await world.says(NEW, "delivery and price?")  # the paused one no longer answers
    assert world.sent_to(NEW) == ["Our prices: 10 AZN a bouquet, friend"]


async def test_changes_take_effect_at_the_next_message(world: World) -> None:
    automation = await world.keyword("price")
    await world.says(ALI, "price")
    await world.automations.update(world.owner_id, automation, config={
        "keywords": "tariff", "template_id": world.prices, "cooldown_hours": 1})
    world.clock.advance(hours=1)
    await world.says(ALI, "price")
    await world.says(ALI, "tariff")
    assert len(world.sent_to(ALI)) == 2
    await world.automations.delete(world.owner_id, automation)
    world.clock.advance(hours=2)
    await world.says(ALI, "tariff")
    assert len(world.sent_to(ALI)) == 2


async def test_a_message_delivered_twice_is_answered_once(world: World) -> None:
    await world.keyword(cooldown_hours=1)
    for _ in range(2):
        await world.replies.handle(world.number_id, ALI, "price", message_id="wa-1")
    await world.dispatcher.tick()
    assert len(world.sent_to(ALI)) == 1


@pytest.mark.parametrize(("config", "reason", "where"), [
    ({"template_id": 1}, "keywords_missing", "keywords"),
    ({"keywords": " , ;", "template_id": 1}, "keywords_missing", "keywords"),
    ({"keywords": "price, !!!", "template_id": 1}, "keyword_no_letters", "keywords[1]"),
    ({"keywords": "x" * 61, "template_id": 1}, "keyword_too_long", "keywords[0]"),
    ({"keywords": "price"}, "keyword_no_template", "template_id"),
    ({"keywords": "price", "template_id": "abc"}, "keyword_not_a_number", "template_id"),
    ({"keywords": "price", "template_id": 1, "cooldown_hours": 0}, "out_of_range",
     "cooldown_hours"),
    ({"keywords": "price", "template_id": 1, "cooldown_hours": True}, "keyword_not_a_number",
     "cooldown_hours"),
    ({"keywords": "price", "template_id": 1, "list_id": "x"}, "keyword_not_a_number", "list_id"),
    ({"keywords": [1, 2], "template_id": 1}, "keyword_not_text", "keywords"),
])
def test_config_errors_say_what_and_where(config: dict[str, Any], reason: str,
                                          where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_config("keyword", config)
    assert (caught.value.reason, caught.value.where) == (reason, where)


def test_config_as_stored() -> None:
    assert parse_keyword({"keywords": ["Price", "qiymət, цена"], "template_id": "3",
                          "cooldown_hours": 12, "list_id": 7}) == {
        "keywords": ["Price", "qiymət", "цена"], "template_id": 3, "cooldown_hours": 12,
        "list_id": 7}


async def test_the_answer_goes_from_the_number_the_customer_wrote_to(world: World) -> None:
    async with world.db.transaction() as tx:
        second = await senders.add(tx, owner_id=world.owner_id, gateway="sandbox",
                                   phone="+994500000002", status=SenderStatus.ACTIVE,
                                   now=world.clock())
    await world.keyword()
    for phone in (ALI, NEW):
        await world.says(phone, "price", number_id=second.id)
        world.clock.advance(minutes=5)
    assert [s.sender_id for s in world.gateway.sends] == [second.id, second.id]


async def test_a_batch_kept_at_once_answers_each_contact_once(world: World) -> None:
    await world.keyword()
    await world.replies.handle_many([
        Reply(world.number_id, ALI, "price?"), Reply(world.number_id, ALI, "цена?"),
        Reply(world.number_id, NEW, "STOP"), Reply(world.number_id, NEW, "price")])
    for _ in range(3):
        await world.dispatcher.tick()
        world.clock.advance(minutes=5)
    assert len(world.sent_to(ALI)) == 1 and world.sent_to(NEW) == []
