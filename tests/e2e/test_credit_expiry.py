"""Credits that expire, as the owner sees them in chat: /balance says how many expire when,
the owner is told three days ahead (once), and at the end they leave the balance. On a
fake clock; the credits job is called as the JobQueue calls it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.console.botapi import FakeBotApi
from bot.services import billing
from tests.e2e.test_campaigns import credit, owner_id
from tests.e2e.test_sending import ClockedHarness
from tests.fakes import FakeClock

BOUGHT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def h(make_settings) -> AsyncIterator[ClockedHarness]:
    harness = ClockedHarness(FakeBotApi(), make_settings(dispatch_interval=0),
                             FakeClock(BOUGHT))
    await harness.start()
    yield harness
    await harness.stop()


async def bought(h: ClockedHarness, telegram_id: int, credits: int, days: int) -> None:
    """The owner bought a package (as the payment paths credit one)."""
    assert h.qasid is not None
    oid = await owner_id(h, telegram_id)
    async with h.qasid.db.transaction() as tx:
        await billing.credit_package(tx, oid, credits, h.clock(), validity_days=days,
                                     package_id=None, order_id=None, note="Start")


def warnings(h: ClockedHarness, telegram_id: int) -> list:
    return [m for m in h.api.messages(telegram_id) if "of your credits expire" in (m.text or "")]


async def run_credits_job(h: ClockedHarness) -> None:
    assert h.qasid is not None
    await h.qasid._credits(None)


async def test_expiring_credits_are_shown_warned_of_and_lapse(h: ClockedHarness) -> None:
    aysel = await h.active_owner(901)
    other = await h.active_owner(902, name="Rauf", phone="+994501234568")
    await bought(h, 901, 120, days=10)
    await credit(h, 901, 30)  # an admin's credits never expire
    await credit(h, 902, 50)

    [shown] = await aysel.send("/balance")
    assert "Balance: <b>150</b>" in shown.text
    assert "⏳ 120 credits expire on Dec 11, 2026" in shown.text
    [theirs] = await other.send("/balance")
    assert "Balance: <b>50</b>" in theirs.text and "expire" not in theirs.text

    h.clock.advance(days=6)
    await run_credits_job(h)
    assert warnings(h, 901) == []  # four days left: not yet

    h.clock.advance(days=1)
    await run_credits_job(h)
    await run_credits_job(h)  # the job runs every hour: told once
    alerts = warnings(h, 901)
    assert [m.text for m in alerts] == [
        "⏳ 120 of your credits expire on Dec 11, 2026. Credits are spent oldest-expiring"
        " first: use them by then, or they lapse."]
    assert alerts[0].buttons == ["💳 Balance"]
    assert warnings(h, 902) == []  # nothing of Aysel's

    h.clock.advance(days=3)
    await run_credits_job(h)
    [shown] = await aysel.press("💳 Balance")
    assert "Balance: <b>30</b>" in shown.text and "⏳" not in shown.text
    assert "expired -120" in shown.text
    [theirs] = await other.send("/balance")
    assert "Balance: <b>50</b>" in theirs.text and "expired" not in theirs.text
