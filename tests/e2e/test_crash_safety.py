"""Crash safety: ``python -m bot`` killed (SIGKILL) at random points of a campaign.

The bot runs as a real process on a database with a confirmed campaign and is killed
after a random short time, started again, killed again, ... ``KILLS`` times, then left to
finish the campaign and stopped with SIGTERM. WhatsApp is the sandbox gateway with a
journal: every message it accepted is a line on disk before the send returns, so what it
received is known even for the sends of a killed process. Afterwards:

* every recipient has one message, in exactly one final state (nothing queued or sending);
* the gateway never got a message twice for the same number;
* what we call sent, the gateway has (under that id, for that number), and nothing the
  gateway has is called failed;
* credits add up: charged = sent, the uncertain ones still held, never below zero.

Half the kills come at a random time after the bot said "ready" (during start-up and
recovery, during a tick or between two); the other half a few milliseconds after the
gateway accepted a message, when its outcome may not be written yet.

On SQLite and, with ``QASID_TEST_PG``, PostgreSQL (``DATABASE_URL`` in the child's
environment).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import sqlite3
import sys
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.console.botapi import FakeBotApi, FakeUser
from bot.console.http import serving
from bot.domain import LedgerKind, SenderStatus
from bot.services.campaigns import CampaignsConfig, CampaignsService
from bot.storage import contacts, ledger, lists, senders, templates
from bot.storage.db import Database
from tests.e2e.conftest import database_env
from tests.fakes.owners import add_active_owner

RECIPIENTS = 40
KILLS = 20
SEED = 20261125  # the kill times
KILL_AFTER = (0.05, 0.9)  # seconds after "ready" (the first tick comes ~0.45 s after it)
KILL_AFTER_SEND = (0.0, 0.006)  # seconds after the journal grew
FINISH_WITHIN = 20.0  # seconds for the last run to complete the campaign
OWNER_TELEGRAM_ID = 5151
ACCEPTED = ("sent", "delivered", "read")
FINAL = (*ACCEPTED, "failed", "uncertain")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def prepare(target: Path | str) -> int:
    """An active owner with two sandbox numbers, a list, a template, exactly the credits
    the campaign costs, and the campaign confirmed with all its messages due; its id."""
    now = datetime.now(UTC)
    db = Database(target)
    await db.connect()
    try:
        async with db.transaction() as tx:
            owner = await add_active_owner(tx, OWNER_TELEGRAM_ID, now)
            people = await lists.create(tx, owner.id, "Customers", now)
            rows = [(f"+99450{n:07d}", f"Name {n}", "{}") for n in range(RECIPIENTS)]
            await contacts.upsert(tx, owner.id, rows, now)
            await contacts.add_to_list(tx, owner.id, people.id, [r[0] for r in rows], now)
            template = await templates.add(tx, owner.id, "Promo", ["Salam {{name|dostum}}!"],
                                           None, None, now)
            await ledger.add(tx, owner.id, LedgerKind.CREDIT, RECIPIENTS, now)
            for n in (1, 2):  # two numbers: their sends run side by side in a tick
                await senders.add(tx, owner_id=owner.id, gateway="sandbox",
                                  phone=f"sandbox-{n}", status=SenderStatus.ACTIVE, now=now)
        # confirmed a minute ago: the start ("now" is 5 s after confirming) and every
        # planned time have passed, so the messages are due at once
        service = CampaignsService(db, CampaignsConfig(advice_max=1000,
                                                       warmup=(RECIPIENTS,)),  # as the bot
                                   lambda: now - timedelta(minutes=1))
        await service.begin(owner.id)
        await service.choose_list(owner.id, people.id)
        await service.choose_template(owner.id, template.id)
        await service.senders_chosen(owner.id)
        await service.start_now(owner.id)
        await service.custom_pacing(owner.id)
        # 0.2 s between two messages of a number (the dispatcher keeps that gap, so the
        # campaign lasts a few seconds of running, across many kills), batches of 5 taking
        # turns between the numbers, no pause between batches, no quiet hours
        for answer in ("0.2-0.2", "5", "0-0", None):
            await service.custom_value(owner.id, answer)
        summary = await service.confirm(owner.id, big_ok=True)  # a pace far below safe
        # and at any hour: the custom pace starts from Normal's, which holds the night in
        # the recipients' zone (Baku here); the test must not depend on the time of day
        # (JSON read and written here, the same on both engines)
        campaign_id = summary.campaign.id
        async with db.transaction() as tx:
            async with tx.execute("SELECT pacing FROM campaigns WHERE id = ?",
                                  (campaign_id,)) as cur:
                row = await cur.fetchone()
            pacing = json.loads(row[0]) | {"recipient_night": False}
            await tx.execute("UPDATE campaigns SET pacing = ? WHERE id = ?",
                             (json.dumps(pacing), campaign_id))
        return campaign_id
    finally:
        await db.close()


def query(target: Path | str, sql: str, *args: object) -> list[tuple]:
    """Read the bot's database without writing to it (the bot may be running): the SQLite
    file read-only, or the PostgreSQL database (``?`` parameters either way)."""
    if isinstance(target, str):
        import psycopg

        with psycopg.connect(target, autocommit=True) as pg:
            return [tuple(row) for row in pg.execute(sql.replace("?", "%s"), args).fetchall()]
    with closing(sqlite3.connect(f"file:{target}?mode=ro", uri=True, timeout=5)) as conn:
        return conn.execute(sql, args).fetchall()


def read_journal(path: Path) -> list[dict]:
    text = path.read_text("utf-8") if path.exists() else ""
    return [json.loads(line) for line in text.splitlines()]


def read_text(path: Path) -> str:
    return path.read_text("utf-8", errors="replace")


def size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def after_a_send(journal: Path, seconds: float) -> None:
    """Return when the gateway accepts a message (the journal grows), or after ``seconds``."""
    loop = asyncio.get_running_loop()
    before, deadline = size(journal), loop.time() + seconds
    while loop.time() < deadline:
        if size(journal) != before:
            return
        await asyncio.sleep(0.001)


@dataclass(slots=True)
class Bot:
    """``python -m bot`` as a child process; each run's stderr goes to its own file."""

    env: dict[str, str]
    cwd: Path
    logs: list[Path] = field(default_factory=list)
    startup: list[float] = field(default_factory=list)  # seconds until "ready"

    async def start(self) -> asyncio.subprocess.Process:
        loop = asyncio.get_running_loop()
        started = loop.time()
        log = self.cwd / f"run-{len(self.logs) + 1:02d}.log"
        self.logs.append(log)
        with log.open("wb") as stderr:  # the child keeps its own descriptor
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", cwd=self.cwd, env=self.env,
                stdout=asyncio.subprocess.PIPE, stderr=stderr,
            )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
        assert line.startswith(b"ready: "), (line, read_text(log))
        self.startup.append(loop.time() - started)
        return proc


@pytest.mark.slow
async def test_a_campaign_killed_again_and_again_sends_each_message_once_and_charges_once(
    tmp_path: Path, db_target: Path | str,
) -> None:
    database, journal = db_target, tmp_path / "journal.jsonl"
    campaign_id = await prepare(database)
    api = FakeBotApi()
    api.add_user(FakeUser(id=OWNER_TELEGRAM_ID, first_name="Aysel"))  # gets the progress
    rng = random.Random(SEED)
    loop = asyncio.get_running_loop()
    async with serving(api) as url:
        bot = Bot(env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_URL": f"{url}/bot",
            "TELEGRAM_FILE_URL": f"{url}/file/bot",
            **database_env(database),
            "HTTP_PORT": str(free_port()),
            "PTB_TIMEDELTA": "1",
            "DISPATCH_INTERVAL": "0.05",
            "SENDER_WARMUP": str(RECIPIENTS),  # a new number may send them all on day one
            "FAILURE_SPIKE_SHARE": "1",  # the invalid numbers must not pause the campaign
            "SANDBOX_JOURNAL": str(journal),
            "SANDBOX_INVALID_SHARE": "0.1",  # some sends fail
            "SANDBOX_SEED": "7",
            "SANDBOX_DELIVERY_DELAY": "0.02",
            "SANDBOX_READ_DELAY": "0.02",
        }, cwd=tmp_path)
        for kill in range(KILLS):
            proc = await bot.start()
            if kill % 2:
                await after_a_send(journal, KILL_AFTER[1])
                await asyncio.sleep(rng.uniform(*KILL_AFTER_SEND))
            else:
                await asyncio.sleep(rng.uniform(*KILL_AFTER))
            proc.kill()
            assert await proc.wait() == -signal.SIGKILL

        proc = await bot.start()  # the last run finishes the campaign
        try:
            deadline = loop.time() + FINISH_WITHIN
            while query(database, "SELECT status FROM campaigns WHERE id = ?",
                        campaign_id) != [("completed",)]:
                assert loop.time() < deadline, "the campaign did not complete"
                await asyncio.sleep(0.1)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), timeout=30)
        assert code == 0, read_text(bot.logs[-1])
    for log in bot.logs:
        assert "Traceback" not in read_text(log), log.name

    messages = query(database, "SELECT phone, status, gateway_message_id FROM messages"
                     " WHERE campaign_id = ?", campaign_id)
    accepted = read_journal(journal)
    states = Counter(status for _, status, _ in messages)
    status_of = {phone: status for phone, status, _ in messages}
    runs_that_sent = {line["id"].rsplit("-", 2)[0] for line in accepted}  # sbx-<run>-...
    print(f"\n{KILLS} kills; start-up {min(bot.startup):.2f}-{max(bot.startup):.2f} s;"
          f" {len(accepted)} accepted, by {len(runs_that_sent)} runs; {dict(states)};"
          f" uncertain but accepted:"
          f" {sum(status_of[line['to']] == 'uncertain' for line in accepted)}")
    assert len(runs_that_sent) >= KILLS // 4  # the kills did land in the campaign

    # every recipient: one message, in exactly one final state
    assert len(messages) == len(status_of) == RECIPIENTS
    assert set(states) <= set(FINAL), states
    # the gateway never got a message twice for anyone
    assert [to for to, n in Counter(line["to"] for line in accepted).items() if n > 1] == []
    # what we call sent, the gateway has, under that id and for that number ...
    by_id = {line["id"]: line for line in accepted}
    for phone, status, gateway_id in messages:
        if status in ACCEPTED:
            assert gateway_id in by_id and by_id[gateway_id]["to"] == phone, phone
    # ... and what the gateway has is never called failed (its outcome may be unknown)
    assert {status_of[line["to"]] for line in accepted} <= {*ACCEPTED, "uncertain"}

    # credits: never below zero at any point, charged = sent, the uncertain still held
    rows = query(database, "SELECT kind, amount FROM ledger ORDER BY id")
    total = reserved = 0
    for kind, amount in rows:
        if kind in ("credit", "adjust", "expire", "charge"):
            total += amount
        if kind in ("reserve", "release"):
            reserved -= amount
        if kind == "charge":
            reserved += amount  # a charge spends a hold
        assert min(total, reserved, total - reserved) >= 0, rows
    charged = -sum(amount for kind, amount in rows if kind == "charge")
    sent = sum(states[s] for s in ACCEPTED)
    assert charged == sent
    assert reserved == states["uncertain"]
    assert total == RECIPIENTS - sent
