"""``python -m bot`` stopped with SIGTERM while it works, as systemd stops it: the signal
goes to the whole process group (the import's parser process included).

* During an import: it is rolled back, and its progress message says so (interrupted,
  nothing saved, send the file again); nothing of the file is in the database, and the
  next start has nothing more to say about it.
* During a campaign: the process exits 0 after the sends in flight; started again, it
  finishes the campaign; every recipient got exactly one message, nothing is left
  uncertain or unsent, and the credits charged are the messages sent.

Neither run logs a traceback or a warning about tasks left behind. On SQLite and, with
``QASID_TEST_PG``, PostgreSQL (``DATABASE_URL`` in the child's environment).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.console.botapi import FakeBotApi, FakeUser
from bot.console.http import serving
from bot.storage.db import Database
from tests.e2e.conftest import database_env
from tests.e2e.test_crash_safety import (
    OWNER_TELEGRAM_ID,
    RECIPIENTS,
    free_port,
    prepare,
    query,
    read_journal,
    read_text,
)
from tests.fakes.owners import add_active_owner

pytestmark = pytest.mark.slow  # real processes: some seconds each

IMPORT_ROWS = 1_000_000  # some seconds of work after the first progress: parsed in a child
INTERRUPTED = ("The import of <b>big.csv</b> was interrupted by a restart of the bot. Nothing"
               " was changed; please send the file again.")


async def active_owner(target: Path | str) -> None:
    now = datetime.now(UTC)
    db = Database(target)
    await db.connect()
    try:
        async with db.transaction() as tx:
            await add_active_owner(tx, OWNER_TELEGRAM_ID, now)
    finally:
        await db.close()


def environment(tmp_path: Path, database: Path | str, api: FakeBotApi, url: str,
                **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": f"{url}/bot",
        "TELEGRAM_FILE_URL": f"{url}/file/bot",
        **database_env(database),
        "HTTP_PORT": str(free_port()),
        "PTB_TIMEDELTA": "1",
        **extra,
    }


async def start(env: dict[str, str], cwd: Path, log: Path) -> asyncio.subprocess.Process:
    """The bot in a session (a process group) of its own, as a service manager starts it."""
    with log.open("ab") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=stderr, start_new_session=True)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
    assert line.startswith(b"ready: "), (line, read_text(log))
    return proc


async def stop(proc: asyncio.subprocess.Process) -> int:
    """SIGTERM to the whole group, as systemd's default (``KillMode=control-group``)."""
    os.killpg(proc.pid, signal.SIGTERM)
    return await asyncio.wait_for(proc.wait(), timeout=60)


async def wait_for(predicate, seconds: float = 60.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate():
        assert loop.time() < deadline, what
        await asyncio.sleep(0.05)


def last_text(api: FakeBotApi, chat_id: int) -> str:
    message = api.last_message(chat_id)
    return (message.text or "") if message is not None else ""


def clean(log: Path) -> None:
    text = read_text(log)
    assert "Traceback" not in text, text[-3000:]
    assert "Warning" not in text and "won't be automatically awaited" not in text, text[-3000:]


async def test_sigterm_during_an_import_rolls_it_back_and_tells_the_owner(
    tmp_path: Path, db_target: Path | str,
) -> None:
    await active_owner(db_target)
    api = FakeBotApi()
    user = FakeUser(id=OWNER_TELEGRAM_ID, first_name="Aysel")
    api.add_user(user)
    content = ("Name,Phone\n" + "".join(f"Customer {n},+99450{n:07d}\n"
                                        for n in range(IMPORT_ROWS))).encode()
    log = tmp_path / "bot.log"
    async with serving(api) as url:
        env = environment(tmp_path, db_target, api, url, IMPORT_MAX_FILE_MB="64")
        proc = await start(env, tmp_path, log)
        try:
            api.push_update(api.document_update(user, api.add_file(content, "big.csv",
                                                                    "text/csv")))
            await wait_for(lambda: "into which list" in last_text(api, user.id),
                           what="the list question")
            question = api.last_message(user.id)
            [data] = [b["callback_data"] for row in question.reply_markup["inline_keyboard"]
                      for b in row if b["text"].startswith("➕")]
            api.push_update(api.callback_update(user, question, data))
            await wait_for(lambda: "rows read" in (api.message(user.id, question.message_id)
                                                   .text or ""), what="the first progress")
        finally:
            code = await stop(proc)
        assert code == 0, read_text(log)
        assert api.message(user.id, question.message_id).text == INTERRUPTED
        messages = len(api.messages(user.id))

        proc = await start(env, tmp_path, log)  # the next start: nothing more to tell
        await asyncio.sleep(1.0)
        assert await stop(proc) == 0
        assert len(api.messages(user.id)) == messages
    clean(log)
    database = db_target
    assert query(database, "SELECT COUNT(*) FROM contacts") == [(0,)]
    assert query(database, "SELECT COUNT(*) FROM contact_lists") == [(0,)]
    assert query(database, "SELECT status, error FROM imports") == [("failed", "interrupted")]


async def test_sigterm_during_a_campaign_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, db_target: Path | str,
) -> None:
    database, journal = db_target, tmp_path / "journal.jsonl"
    campaign_id = await prepare(database)
    api = FakeBotApi()
    api.add_user(FakeUser(id=OWNER_TELEGRAM_ID, first_name="Aysel"))
    log = tmp_path / "bot.log"
    async with serving(api) as url:
        env = environment(tmp_path, database, api, url, DISPATCH_INTERVAL="0.05",
                          SENDER_WARMUP=str(RECIPIENTS), FAILURE_SPIKE_SHARE="1",
                          SANDBOX_JOURNAL=str(journal), SANDBOX_INVALID_SHARE="0.1",
                          SANDBOX_SEED="7", SANDBOX_DELIVERY_DELAY="0.02",
                          SANDBOX_READ_DELAY="0.02")
        proc = await start(env, tmp_path, log)
        try:
            await wait_for(lambda: len(read_journal(journal)) >= RECIPIENTS // 4,
                           what="a quarter of the campaign")
        finally:
            code = await stop(proc)
        assert code == 0, read_text(log)
        left = dict(query(database, "SELECT status, COUNT(*) FROM messages GROUP BY status"))
        assert "sending" not in left and "uncertain" not in left, left  # a clean stop
        assert left.get("queued", 0) > 0, left  # it did stop in the middle

        proc = await start(env, tmp_path, log)
        try:
            await wait_for(lambda: query(database, "SELECT status FROM campaigns WHERE id = ?",
                                         campaign_id) == [("completed",)],
                           what="the campaign completing")
        finally:
            assert await stop(proc) == 0
    clean(log)
    accepted = read_journal(journal)
    messages = query(database, "SELECT phone, status FROM messages WHERE campaign_id = ?",
                     campaign_id)
    states = Counter(status for _, status in messages)
    assert len(messages) == RECIPIENTS
    assert set(states) <= {"sent", "delivered", "read", "failed"}, states  # none uncertain
    assert [to for to, n in Counter(line["to"] for line in accepted).items() if n > 1] == []
    sent = sum(n for s, n in states.items() if s != "failed")
    assert len(accepted) == sent  # every send the gateway took is recorded as sent
    rows = query(database, "SELECT kind, amount FROM ledger")
    assert -sum(amount for kind, amount in rows if kind == "charge") == sent
