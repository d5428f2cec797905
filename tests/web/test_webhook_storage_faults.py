"""Webhooks while the database cannot save: 503, so the gateway sends the body again; one
warning line per refused body, no traceback; nothing applied, and the body sent again
once the database saves is applied (once)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.storage import db as db_module
from bot.storage.db import Database
from tests.fakes import FakeClock
from tests.faults import locked_by_another
from tests.web import test_cloud_webhook as cloud
from tests.web import test_waha_webhook as waha
from tests.web.test_cloud_webhook import meta_published, webhook_check  # noqa: F401 (fixtures)


@pytest.fixture
async def quick_db(db_path, monkeypatch) -> AsyncIterator[Database]:
    """A database whose writes give up after 100 ms when someone else holds the lock."""
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 100)
    database = Database(db_path)
    await database.connect()
    yield database
    await database.close()


def assert_one_warning_each(caplog: pytest.LogCaptureFixture, logger: str, count: int) -> None:
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in warnings if r.name == logger] == [logger] * count, \
        [r.getMessage() for r in warnings]
    assert all("503" in r.getMessage() and "database is locked" in r.getMessage()
               for r in warnings if r.name == logger)
    assert not [r for r in caplog.records if r.exc_info]  # no traceback anywhere


async def test_a_waha_receipt_and_a_reply_get_503_while_locked_and_apply_when_sent_again(
    quick_db: Database, clock: FakeClock, caplog,
) -> None:
    async for world in waha.make_world(quick_db, clock):
        caplog.clear()
        with locked_by_another(quick_db.path):
            assert await world.post(waha.ack(3, "READ")) == 503
            assert await world.post(waha.incoming("STOP")) == 503
            assert (await world.message())[0] == "sent"
            assert not await world.opted_out()
        assert_one_warning_each(caplog, "bot.web.waha", 2)
        # WAHA sends them again: applied, once
        assert await world.post(waha.ack(3, "READ")) == 200
        assert await world.post(waha.incoming("STOP")) == 200
        assert (await world.message())[0] == "read"
        assert await world.opted_out()
        assert await world.h.statuses(world.campaign_id) == {"read": 1}


async def test_a_cloud_status_gets_503_while_locked_and_applies_when_sent_again(
    quick_db: Database, clock: FakeClock, webhook_check, caplog,  # noqa: F811
) -> None:
    async for world in cloud._world(quick_db, clock, webhook_check, cloud.APP_SECRET,
                                    cloud.VERIFY_TOKEN):
        caplog.clear()
        with locked_by_another(quick_db.path):
            assert await world.post(cloud.statuses("delivered")) == 503
            assert (await world.message())[0] == "sent"
        assert_one_warning_each(caplog, "bot.web.cloud", 1)
        assert await world.post(cloud.statuses("delivered")) == 200
        assert (await world.message())[0] == "delivered"
        ledger = await world.ledger()
        assert [kind for kind, _ in ledger].count("charge") == 1  # charged once
