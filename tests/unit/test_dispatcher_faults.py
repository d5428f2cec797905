"""The dispatcher under faults, with a real database and a fake clock: the disk filling up
or the database locked by another process in the middle of a campaign, and the clock
jumping forward and back. Nothing is lost, nothing is sent twice, the pace, the daily cap
and the quiet hours hold, and a fault is one line in the log, not a traceback a tick."""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from bot.gateways.sandbox import SandboxConfig, SandboxGateway
from bot.services.campaigns import CampaignsConfig, CampaignsService
from bot.storage import db as db_module
from bot.storage import ledger
from bot.storage.db import Database
from tests.fakes import FakeClock
from tests.faults import disk_freed, disk_full
from tests.unit.test_dispatcher import Harness

FINAL = {"sent", "delivered", "read", "failed", "uncertain"}


class Counting(SandboxGateway):
    """The sandbox, counting what it accepted per phone (and when, by the clock)."""

    def __init__(self, clock: FakeClock, on_send=None) -> None:
        super().__init__(SandboxConfig(delivery_delay=0, read_delay=0, invalid_share=0))
        self.clock, self.on_send = clock, on_send
        self.sent: Counter[str] = Counter()
        self.times: list[datetime] = []

    async def send_text(self, sender, to, text):
        self.sent[to] += 1
        self.times.append(self.clock())
        if self.on_send is not None:
            await self.on_send(sum(self.sent.values()))
        return await super().send_text(sender, to, text)


def roomy(h: Harness, db: Database, clock: FakeClock, **caps) -> None:
    """The campaign plan with the same caps as the dispatcher's (default: none to speak of)."""
    h.campaigns = CampaignsService(db, CampaignsConfig(advice_max=10_000, **caps), clock)


async def run_until_done(h: Harness, campaign_id: int, hours: float = 4,
                         step: float = 1.0) -> None:
    """Ticks every ``step`` seconds of the clock until the campaign completes."""
    for _ in range(int(hours * 60)):
        if (await h.campaigns.view(h.owner_id, campaign_id)).campaign.status.value \
                == "completed":
            return
        await h.run(60, step=step)
    raise AssertionError(await h.statuses(campaign_id))


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "could not be saved" in r.getMessage()]


class Fault:
    def __init__(self, kind: str, db: Database) -> None:
        self.kind, self.db = kind, db
        self.other: sqlite3.Connection | None = None

    async def begin(self) -> None:
        if self.kind == "disk_full":
            await disk_full(self.db)
        else:  # another process takes the lock and keeps it
            self.other = sqlite3.connect(str(self.db.path), isolation_level=None)
            self.other.execute("BEGIN EXCLUSIVE")

    async def end(self) -> None:
        if self.kind == "disk_full":
            await disk_freed(self.db)
        elif self.other is not None:
            self.other.execute("ROLLBACK")
            self.other.close()


@pytest.mark.parametrize("kind", ["disk_full", "locked"])
async def test_a_storage_fault_mid_campaign_loses_nothing_sends_nothing_twice_and_logs_once(
    kind, db_path, clock, monkeypatch, caplog,
) -> None:
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 50)
    caplog.set_level(logging.INFO)
    db = Database(db_path)
    await db.connect()
    fault = Fault(kind, db)

    async def on_send(count: int) -> None:
        if count == 5:  # between a claim and the write of its outcome
            await fault.begin()

    gateway = Counting(clock, on_send)
    try:
        h = Harness(db, clock, gateway, warmup=(10_000,))
        roomy(h, db, clock, warmup=(10_000,))
        campaign_id = await h.campaign(60)
        for _ in range(100):  # until the database refuses a write of the dispatcher's
            await h.run(10)
            if refusals(caplog):
                break
        assert refusals(caplog), "the fault never hit the dispatcher"
        sent_when_refused = sum(gateway.sent.values())
        await h.run(300, step=10)  # five minutes of ticks with the database refusing
        if kind == "locked":  # every write waits and fails: nothing may go out meanwhile
            assert sum(gateway.sent.values()) == sent_when_refused
        # (a full disk still takes the writes that need no new page: a claim may go
        # through, its outcome then waits in memory like the others)
        await fault.end()
        await run_until_done(h, campaign_id)

        statuses = await h.statuses(campaign_id)
        assert set(statuses) <= FINAL and sum(statuses.values()) == 60, statuses
        assert len(gateway.sent) == 60 and set(gateway.sent.values()) == {1}  # once each
        balance = await ledger.balance(db.reader, h.owner_id)
        assert (balance.total, balance.reserved) == (10_000 - 60, 0)  # charged = sent
    finally:
        await gateway.close()
        await db.close()

    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in warnings] == ["bot.services.dispatcher"], \
        [r.getMessage() for r in warnings]
    assert ("disk is full" if kind == "disk_full" else "database is locked") \
        in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info]  # no traceback anywhere
    assert any("saves again" in r.getMessage() for r in caplog.records)


async def test_the_clock_jumping_forward_and_back_keeps_pace_cap_and_quiet_hours(db) -> None:
    """NTP corrections, a VM resumed after a day, a wrong clock set right: each phone gets
    its message once, two sends of the number are never closer than the minimum delay in
    the order they went out, no 24 hours of the clock hold more than the cap, and nothing
    goes out in the quiet hours (22:00-08:00 in Baku: the "normal" preset)."""
    clock = FakeClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))  # 13:00 in Baku
    gateway = Counting(clock)
    cap = 12
    try:
        h = Harness(db, clock, gateway, daily_cap=cap, warmup=(cap,))
        roomy(h, db, clock, daily_cap=cap, warmup=(cap,))
        campaign_id = await h.campaign(40, preset="normal")
        jumps = [timedelta(minutes=2), timedelta(hours=6), -timedelta(hours=3),
                 timedelta(hours=30), -timedelta(minutes=50), timedelta(days=2),
                 -timedelta(hours=20), timedelta(hours=9)]
        for jump in jumps:
            await h.run(240, step=2)
            clock.now += jump
        started = clock()
        await run_until_done(h, campaign_id, hours=24 * 5, step=60)
        print(f"\n{len(jumps)} jumps; the last message {clock() - started} after them")
    finally:
        await gateway.close()

    assert len(gateway.sent) == 40 and set(gateway.sent.values()) == {1}
    times = gateway.times
    gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
    assert min(gaps) >= 8.0, gaps  # the preset's minimum delay, in sending order
    for t in times:
        assert sum(t - timedelta(days=1) < other <= t for other in times) <= cap
    local = [t.astimezone(ZoneInfo("Asia/Baku")).time() for t in times]
    assert not [t for t in local if t >= clock_time(22) or t < clock_time(8)], local
    assert (await h.campaigns.view(h.owner_id, campaign_id)).progress.done == 40
