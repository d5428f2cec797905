"""An opt-out stops what is already queued: the customer gets nothing more, and the held
credit comes back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.gateways.sandbox import SandboxConfig, SandboxGateway
from bot.services.contacts import ContactsConfig, ContactsService
from bot.storage import ledger
from bot.storage.db import Database
from tests.fakes import FakeClock
from tests.unit.test_dispatcher import Harness


@pytest.fixture
async def h(db: Database, clock: FakeClock) -> AsyncIterator[Harness]:
    gateway = SandboxGateway(SandboxConfig(delivery_delay=3600, read_delay=0, invalid_share=0))
    harness = Harness(db, clock, gateway)
    yield harness
    await harness.dispatcher.close()
    await gateway.close()


async def statuses_by_phone(db: Database, campaign_id: int) -> dict[str, str]:
    async with db.reader.execute(
        "SELECT c.phone, m.status FROM messages m JOIN contacts c ON c.id = m.contact_id"
        " WHERE m.campaign_id = ?", (campaign_id,)) as cur:
        return {row[0]: row[1] async for row in cur}


async def test_a_number_opted_out_after_confirming_gets_none_of_its_queued_messages(
        db: Database, clock: FakeClock, h: Harness) -> None:
    campaign_id = await h.campaign(3, credits=100)
    contacts = ContactsService(db, ContactsConfig(default_region="AZ"), clock)
    held = (await ledger.balance(db.reader, h.owner_id)).reserved
    assert held == 3
    await contacts.opt_out(h.owner_id, "+994500000001", "asked in person")
    after = await ledger.balance(db.reader, h.owner_id)
    assert (after.reserved, after.available) == (2, 98)  # its credit is back at once
    await h.run(60)
    assert await statuses_by_phone(db, campaign_id) == {
        "+994500000000": "sent", "+994500000001": "skipped", "+994500000002": "sent"}
    final = await ledger.balance(db.reader, h.owner_id)
    assert (final.total, final.reserved) == (98, 0)  # two sent, one given back
