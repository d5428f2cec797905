"""Faults an owner may meet, through the real application and the fake Bot API: the disk
full when they confirm a campaign or import a file, the database locked by another
process when they type a command, and the bot stopped in the middle of an import. Each
time the owner reads a clear word (nothing was changed, try again; or: interrupted,
nothing saved, send the file again), the log holds one line and no traceback, nothing is
half written, and the bot goes on serving."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from bot.console.botapi import FakeBotApi, FakeUser
from bot.console.driver import ChatDriver
from bot.storage import db as db_module
from tests.e2e.conftest import Harness
from tests.e2e.test_campaigns import compose, credit, seed_list, up_to_pace
from tests.faults import disk_freed, disk_full, import_writers_disk_full, locked_by_another

COULD_NOT_SAVE = ("Could not save just now: the bot's storage is full or busy. Nothing was"
                  " changed; please try again in a few minutes.")
CUSTOMERS = [(f"+99450{n:07d}", f"Customer {n}", "{}") for n in range(500)]


def problems(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r.getMessage() for r in caplog.records if r.exc_info]


async def scalar(harness: Harness, sql: str) -> object:
    async with harness.qasid.db.reader.execute(sql) as cur:
        return (await cur.fetchone())[0]


@pytest.fixture
async def quick_lock_harness(make_settings, monkeypatch) -> AsyncIterator[Harness]:
    """A bot whose writes give up after 200 ms when another process holds the lock."""
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 200)
    harness = Harness(FakeBotApi(), make_settings())
    await harness.start()
    yield harness
    await harness.stop()


@pytest.mark.engines("sqlite")  # SQLite's file full or locked (tests/faults.py)
async def test_a_full_disk_at_confirm_changes_nothing_and_confirm_works_once_there_is_room(
    make_settings, caplog,
) -> None:
    harness = Harness(FakeBotApi(), make_settings(campaign_advice_max=1000))
    await harness.start()
    try:
        chat = await harness.active_owner(811)
        await seed_list(harness, 811, "Hamı", CUSTOMERS)
        await compose(chat, "Salam", "Salam {{name|dostum}}")
        await credit(harness, 811, 1000)
        await up_to_pace(chat, "📋 Hamı (500)", "📝 Salam")
        await chat.press("🐢 Safe")
        # 500 on a new number is a high risk: Confirm asks again, the yes writes
        replies = await chat.press("✅ Confirm")
        assert "🔴 This campaign's risk is high" in replies[0].text

        await disk_full(harness.qasid.db)
        caplog.clear()
        replies = await chat.press("Yes, send to 500")
        assert [r.text for r in replies if not r.edited] == ["😔 " + COULD_NOT_SAVE]
        [line] = problems(caplog)
        assert line.name == "bot.handlers.errors" and "database or disk is full" in \
            line.getMessage() and "user 811 (callback data=" in line.getMessage()
        no_traceback(caplog)
        assert await scalar(harness, "SELECT COUNT(*) FROM messages") == 0
        replies = await chat.send("/balance")  # the bot serves on, and nothing was reserved
        assert "Available: <b>1,000</b>" in replies[0].text
        assert await scalar(harness, "SELECT COUNT(*) FROM ledger WHERE kind = 'reserve'") == 0

        await disk_freed(harness.qasid.db)
        replies = await chat.press("Yes, send to 500")  # the same button, the draft kept
        assert "is scheduled: 500 messages" in replies[0].text
        assert await scalar(harness, "SELECT COUNT(*) FROM messages") == 500
    finally:
        await harness.stop()


@pytest.mark.engines("sqlite")  # SQLite's file full or locked (tests/faults.py)
async def test_a_locked_database_is_one_line_and_a_clear_word_and_the_bot_goes_on(
    quick_lock_harness: Harness, caplog,
) -> None:
    harness = quick_lock_harness
    chat = await harness.active_owner(812)
    await seed_list(harness, 812, "Hamı", CUSTOMERS[:3])
    caplog.clear()
    with locked_by_another(harness.qasid.db.path):
        replies = await chat.send("/optout +994500000001 asked by phone")
        assert [r.text for r in replies] == ["😔 " + COULD_NOT_SAVE]
        replies = await chat.send("/lists")  # reading goes on meanwhile
        assert "Hamı: 3 contacts, 0 opted out" in replies[0].text
    [line] = problems(caplog)
    assert "database is locked" in line.getMessage() and "command='/optout'" in line.getMessage()
    assert "994500000001" not in line.getMessage()  # no customer's phone in the log
    no_traceback(caplog)
    replies = await chat.send("/optout +994500000001 asked by phone")  # released: it works
    assert "+994500000001" in replies[0].text
    replies = await chat.send("/lists")
    assert "Hamı: 3 contacts, 1 opted out" in replies[0].text


@pytest.mark.engines("sqlite")  # SQLite's file full or locked (tests/faults.py)
async def test_an_import_on_a_full_disk_says_so_and_leaves_nothing(
    harness: Harness, monkeypatch, caplog,
) -> None:
    chat = await harness.active_owner(813)
    content = ("Name,Phone\n" + "".join(f"Customer {n},+99450{n:07d}\n" for n in range(3000))
               ).encode()
    import_writers_disk_full(monkeypatch)
    caplog.clear()
    await chat.upload(content, "shop.csv", "text/csv")
    replies = await chat.press("➕ New list “shop”")
    text = harness.api.message(813, replies[0].message.message_id).text
    assert text == ("❌ <b>shop.csv</b> could not be saved just now: the bot's storage is"
                    " full or busy. Nothing was changed; please send the file again in a few"
                    " minutes.")
    [line] = problems(caplog)
    assert "not saved" in line.getMessage() and "disk is full" in line.getMessage()
    no_traceback(caplog)
    assert await scalar(harness, "SELECT COUNT(*) FROM contacts") == 0
    assert await scalar(harness, "SELECT COUNT(*) FROM contact_lists") == 0

    monkeypatch.undo()  # room again: the same file imports
    await chat.upload(content, "shop.csv", "text/csv")
    replies = await chat.press("➕ New list “shop”")
    assert "New: 3,000" in harness.api.message(813, replies[0].message.message_id).text


async def test_an_import_interrupted_by_the_stop_is_rolled_back_and_says_so(
    make_settings, caplog,
) -> None:
    """``python -m bot`` gets SIGTERM (or Ctrl+C) in the middle of an import: ``Qasid.stop``
    rolls it back before its next batch, and its progress message says so, once."""
    harness = Harness(FakeBotApi(), make_settings(import_max_file_mb=64))
    await harness.start()
    try:
        await interrupted_import(harness, caplog)
    finally:
        await harness.stop()


async def interrupted_import(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    await harness.active_owner(814)
    rows = 1_000_000  # parsed in a child process: some seconds of work after the first progress
    content = ("Name,Phone\n" + "".join(f"Customer {n},+99450{n:07d}\n" for n in range(rows))
               ).encode()
    user = FakeUser(id=814, first_name="Aysel", language_code="en")
    chat = ChatDriver(harness.qasid.application, harness.api, user, settle_timeout=0)
    await chat.upload(content, "big.csv", "text/csv")
    replies = await chat.press("➕ New list “big”")  # returns at once: the import runs on
    message_id = replies[0].message.message_id
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while "rows read" not in harness.api.message(814, message_id).text:  # the first progress
        assert loop.time() < deadline, harness.api.message(814, message_id).text
        await asyncio.sleep(0.05)

    await harness.stop()  # what SIGTERM does (bot/__main__.py)
    text = harness.api.message(814, message_id).text
    assert text == ("The import of <b>big.csv</b> was interrupted by a restart of the bot."
                    " Nothing was changed; please send the file again.")
    no_traceback(caplog)
    assert not [r for r in problems(caplog) if r.name.startswith("bot.")
                and not r.name.startswith("bot.console")]  # (the driver did not wait)

    sent = len(harness.api.messages(814))
    await harness.start()  # the next start has nothing more to say about it
    assert len(harness.api.messages(814)) == sent
    assert await scalar(harness, "SELECT COUNT(*) FROM contacts") == 0
    assert await scalar(harness, "SELECT COUNT(*) FROM contact_lists") == 0
    assert await scalar(harness, "SELECT COUNT(*) FROM imports WHERE status = 'failed'"
                                " AND error = 'interrupted'") == 1


async def test_a_list_chosen_while_the_bot_stops_waits_for_the_next_start(
    harness: Harness,
) -> None:
    """The owner picks the list just as the bot begins to stop: no import begins (its
    task would outlive the application), the file waits, and the same button works after
    the restart."""
    chat = await harness.active_owner(815)
    content = "Name,Phone\nƏli,+994501234567\nLeyla,+994551234567\n".encode()
    await chat.upload(content, "shop.csv", "text/csv")
    harness.qasid.services.contacts.interrupt_imports()  # Qasid.stop's first step
    await chat.press("➕ New list “shop”")
    assert chat.last_answer["text"] == ("The bot is restarting. Press the button again in a"
                                        " minute: your file is kept.")
    assert chat.last_answer["show_alert"] is True
    assert await scalar(harness, "SELECT status FROM imports") == "awaiting_list"

    await harness.restart()
    chat = harness.chat(815)
    replies = await chat.press("➕ New list “shop”")
    assert "New: 2" in harness.api.message(815, replies[0].message.message_id).text
