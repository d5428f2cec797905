"""Which sender a webhook is for, asked of the service the web layer uses (a real SQLite
file): a receipt of a just-removed session may still count for a second, a newly linked
session is found at once, anything but receipts is looked up every time."""

from __future__ import annotations

from bot.domain import Language, SenderStatus
from bot.gateways import cloud, waha
from bot.gateways.base import KnownSenders, WebhookAddress
from bot.services.sender_directory import SenderDirectory
from bot.storage import owners, senders
from bot.storage.db import Database
from tests.fakes import FakeClock

ACK = WebhookAddress(("shop",), receipts_only=True, what="message.ack")
MESSAGE = WebhookAddress(("shop",), what="message")


class Ticks:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def add_sender(db: Database, clock: FakeClock, gateway: str, external_id: str,
                     phone: str, telegram_id: int = 1) -> int:
    async with db.transaction() as tx:
        owner = await owners.get_by_telegram(tx, telegram_id) or await owners.add(
            tx, telegram_id=telegram_id, chat_id=telegram_id, language=Language.EN,
            now=clock())
        sender = await senders.add(tx, owner_id=owner.id, gateway=gateway, phone=phone,
                                   status=SenderStatus.ACTIVE, now=clock(),
                                   external_id=external_id)
    return sender.id


async def remove(db: Database, clock: FakeClock, sender_id: int) -> None:
    async with db.transaction() as tx:
        await senders.set_status(tx, sender_id, SenderStatus.REMOVED, clock())


async def test_a_removed_sessions_receipts_count_for_a_second_at_most(db, clock) -> None:
    ticks = Ticks()
    directory = SenderDirectory(db, monotonic=ticks)
    shop = await add_sender(db, clock, "waha", "shop", "+994509990000")
    assert await directory.find("waha", ACK) == KnownSenders({"shop": shop})
    await remove(db, clock, shop)
    ticks.now += 0.5
    assert await directory.find("waha", ACK) == KnownSenders({"shop": shop})  # remembered
    assert await directory.find("waha", MESSAGE) == KnownSenders({})  # a reply: never
    assert await directory.find("waha", ACK) == KnownSenders({})  # that lookup forgot it


async def test_a_removed_session_is_forgotten_after_a_second(db, clock) -> None:
    ticks = Ticks()
    directory = SenderDirectory(db, monotonic=ticks)
    shop = await add_sender(db, clock, "waha", "shop", "+994509990000")
    await directory.find("waha", ACK)
    await remove(db, clock, shop)
    ticks.now += 1.0
    assert await directory.find("waha", ACK) == KnownSenders({})


async def test_a_newly_linked_session_is_found_at_once(db, clock) -> None:
    directory = SenderDirectory(db, monotonic=Ticks())
    assert await directory.find("waha", ACK) == KnownSenders({})  # not ours (yet)
    shop = await add_sender(db, clock, "waha", "shop", "+994509990000")
    assert await directory.find("waha", ACK) == KnownSenders({"shop": shop})


async def test_only_the_gateways_own_senders_are_found(db, clock) -> None:
    directory = SenderDirectory(db, monotonic=Ticks())
    number = await add_sender(db, clock, "cloud", "106540352242922", "+994505551234")
    await add_sender(db, clock, "waha", "shop", "+994509990000")
    address = cloud.webhook_address({"entry": [{"changes": [
        {"field": "messages", "value": {"metadata": {"phone_number_id": "106540352242922"}}},
        {"field": "account_update", "value": {"phone_number": "994505551234"}}]}]})
    assert address == WebhookAddress(("106540352242922",), by_phone=True)
    assert await directory.find("cloud", address) == KnownSenders(
        {"106540352242922": number}, {"994505551234": number})
    assert await directory.find("waha", WebhookAddress(("106540352242922",))) == \
        KnownSenders({})


def test_the_adapters_read_whom_a_body_is_for() -> None:
    assert waha.webhook_address({"session": "shop", "event": "message.ack"}) == ACK
    assert waha.webhook_address({"session": "shop", "event": "message"}) == MESSAGE
    nobody = WebhookAddress()  # nothing to look up: answered 200, ignored
    assert waha.webhook_address({"session": 7, "event": "message.ack"}) == nobody
    assert cloud.webhook_address({"object": "whatsapp_business_account"}) == nobody
    statuses_only = {"entry": [{"changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": "1"}}}, {"value": {"metadata": {
            "phone_number_id": "2"}}}]}, "not an entry"]}
    assert cloud.webhook_address(statuses_only) == WebhookAddress(("1", "2"))
