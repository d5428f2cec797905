"""The inbox's intake on a real SQLite file: customers' messages arriving together are kept
in one transaction (group commit), each acted on as if alone (a STOP opts out, a message
delivered twice is kept once), and one that cannot be kept fails alone."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.gateways.base import IncomingMessage
from bot.gateways.router import GatewayRouter
from bot.gateways.sandbox import SandboxConfig, SandboxGateway
from bot.services.inbox import InboxConfig, InboxService
from bot.services.notify import CustomerWrote
from bot.services.replies import RepliesService
from bot.storage import contacts, inbound
from bot.storage.db import Database
from tests.fakes import RecordingNotifier
from tests.storage.test_inbox_repo import owner_and_number


@pytest.fixture
async def intake(db: Database, clock):
    notifier = RecordingNotifier()
    gateway = GatewayRouter({"sandbox": SandboxGateway(SandboxConfig())}, "sandbox")
    inbox = InboxService(db, RepliesService(db, clock=clock, notifier=notifier), gateway,
                         notifier, InboxConfig(daily_cap=1000, warmup=()), clock)
    yield inbox, notifier
    await inbox.close()
    await gateway.close()


async def test_a_burst_is_kept_in_a_few_transactions_each_message_as_if_alone(
    db: Database, clock, intake,
) -> None:
    inbox, notifier = intake
    owner_id, number = await owner_and_number(db, clock, 1)
    at = clock()
    burst = [IncomingMessage(number, f"+9945012300{n:02d}", f"Salam {n}",
                             at + timedelta(seconds=n), message_id=f"m{n}") for n in range(40)]
    burst += [IncomingMessage(number, "+994501230001", "STOP", at, message_id="stop"),
              IncomingMessage(number, "+994501230002", "Salam 2", at, message_id="m2")]
    commits = db.commits
    await asyncio.gather(*(inbox.on_incoming(message) for message in burst))
    kept_in = db.commits - commits
    assert kept_in <= 3  # group commit: not one transaction each
    kept = [m for n in range(40)
            for m in await inbound.of_phone(db.reader, owner_id, f"+9945012300{n:02d}")]
    assert len(kept) == 41  # 40 texts and the STOP; the message delivered twice once
    opted = await contacts.get_by_phone(db.reader, owner_id, "+994501230001")
    assert opted is not None and opted.opted_out_at is not None
    await inbox.drain()
    shown = sorted(n.text for n in notifier.of(CustomerWrote))
    assert shown == sorted(f"Salam {n}" for n in range(40))  # the STOP is not forwarded


async def test_a_message_that_cannot_be_kept_fails_alone(db: Database, clock, intake,
                                                         monkeypatch) -> None:
    inbox, _notifier = intake
    owner_id, number = await owner_and_number(db, clock, 1)
    real = inbound.add

    async def add(tx, message):  # one message the storage refuses
        if message.text == "poison":
            raise ValueError("refused")
        return await real(tx, message)

    monkeypatch.setattr(inbound, "add", add)
    messages = [IncomingMessage(number, f"+99450123{n:04d}", "poison" if n == 3 else "ok",
                                clock(), message_id=f"p{n}") for n in range(6)]
    results = await asyncio.gather(*(inbox.on_incoming(m) for m in messages),
                                   return_exceptions=True)
    assert [isinstance(r, ValueError) for r in results] == [n == 3 for n in range(6)]
    for n in range(6):
        kept = await inbound.of_phone(db.reader, owner_id, f"+99450123{n:04d}")
        assert len(kept) == (0 if n == 3 else 1)
