"""Crash safety with several processes: three ``python -m bot worker`` on one database,
killed (SIGKILL) at random moments and started again, again and again.

A confirmed campaign of ``RECIPIENTS`` messages over ``NUMBERS`` sandbox numbers, paced
``PACE`` seconds between two messages of a number. Three workers share the numbers by
leases (``LEASE_SECONDS`` short here, so that a dead worker's numbers are taken over in
about a second and a half); ``KILLS`` times a random one of them is killed, half the time
at a random moment, half a few milliseconds after the gateway accepted a message (its
outcome not written yet), and started again at once. Then they finish the campaign and
stop on SIGTERM. WhatsApp is the sandbox gateway with a journal shared by the workers:
every message it accepted is a line on disk (with the time) before the send returns, so
what it received is known even for the sends of a killed worker. Afterwards:

* every recipient has one message, in exactly one final state (nothing queued or sending);
* the gateway never got a message twice for the same phone;
* what we call sent, the gateway has (under that id), and nothing it has is called failed;
* credits add up: charged = sent, the uncertain ones still held, never below zero;
* each number's pace held across the workers: every gap between two messages of a number
  in the gateway's journal is at least the pace's floor, through every takeover.

On SQLite (one WAL file shared by the processes) and, with ``QASID_TEST_PG``, PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from bot.console.botapi import FakeBotApi, FakeUser
from bot.console.http import serving
from bot.domain import LedgerKind, SenderStatus
from bot.services.campaigns import CampaignsConfig, CampaignsService
from bot.storage import contacts, ledger, lists, senders, templates
from bot.storage.db import Database
from tests.fakes.owners import add_active_owner

RECIPIENTS = 400
NUMBERS = 4
WORKERS = 3
KILLS = 24
PACE = 0.5  # seconds between two messages of a number (the campaign's custom pace)
LEASE = 1.5  # LEASE_SECONDS: a dead worker's numbers are taken over after this
SEED = 20261204  # the kills: which worker, when
# The kills are spread over the campaign by its progress, not by the clock (a loaded
# machine starts a worker in 2 s or in 20): the k-th when the gateway has accepted
# k * KILL_EVERY messages, then half the time a random moment later, half a few
# milliseconds after the gateway accepted one of the victim's messages.
KILL_EVERY = 12  # accepted messages between two kills (24 kills: by the 288th of ~360)
KILL_AFTER = (0.0, 0.5)  # seconds
KILL_AFTER_SEND = (0.0, 0.006)  # seconds after the journal grew
FINISH_WITHIN = 120.0  # seconds for the workers left running to complete the campaign
STARTUP_WITHIN = 120.0  # seconds for a worker to say "ready" (or stop): a loaded machine
OWNER_TELEGRAM_ID = 5252
ACCEPTED = ("sent", "delivered", "read")
FINAL = (*ACCEPTED, "failed", "uncertain")


async def prepare(target: Path | str, recipients: int = RECIPIENTS, numbers: int = NUMBERS,
                  pace: float = PACE) -> int:
    """An active owner with ``numbers`` sandbox numbers, a list, a template, exactly the
    credits the campaign costs, and the campaign confirmed with its messages due; its id."""
    now = datetime.now(UTC)
    db = Database(target)
    await db.connect()
    try:
        async with db.transaction() as tx:
            owner = await add_active_owner(tx, OWNER_TELEGRAM_ID, now)
            people = await lists.create(tx, owner.id, "Customers", now)
            rows = [(f"+99450{n:07d}", f"Name {n}", "{}") for n in range(recipients)]
            await contacts.upsert(tx, owner.id, rows, now)
            await contacts.add_to_list(tx, owner.id, people.id, [r[0] for r in rows], now)
            template = await templates.add(tx, owner.id, "Promo", ["Salam {{name|dostum}}!"],
                                           None, None, now)
            await ledger.add(tx, owner.id, LedgerKind.CREDIT, recipients, now)
            for n in range(numbers):
                await senders.add(tx, owner_id=owner.id, gateway="sandbox",
                                  phone=f"sandbox-{n}", status=SenderStatus.ACTIVE, now=now)
        service = CampaignsService(db, CampaignsConfig(advice_max=1000,
                                                       warmup=(recipients,)),
                                   lambda: now - timedelta(minutes=1))
        await service.begin(owner.id)
        await service.choose_list(owner.id, people.id)
        await service.choose_template(owner.id, template.id)
        await service.senders_chosen(owner.id)
        await service.start_now(owner.id)
        await service.custom_pacing(owner.id)
        # ``pace`` between two messages of a number, batches of 5 taking turns between
        # the numbers, no pause between batches, no quiet hours
        for answer in (f"{pace}-{pace}", "5", "0-0", None):
            await service.custom_value(owner.id, answer)
        summary = await service.confirm(owner.id, big_ok=True)
        campaign_id = summary.campaign.id
        # at any hour: not held to the recipients' morning (the test must not depend on
        # the time of day); JSON read and written here, the same on both engines
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


async def query(db: Database, sql: str, *args: object) -> list[tuple]:
    async with db.reader.execute(sql, args) as cur:
        return [tuple(row) for row in await cur.fetchall()]


def read_journal(path: Path) -> list[dict]:
    """The journal's whole lines (a worker may be writing the next one right now)."""
    text = path.read_text("utf-8") if path.exists() else ""
    return [json.loads(line) for line in text[:text.rfind("\n") + 1].splitlines()]


def read_text(path: Path) -> str:
    return path.read_text("utf-8", errors="replace")


def size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def accepted_reach(journal: Path, count: int, seconds: float) -> None:
    """Return when the gateway has accepted ``count`` messages (journal lines)."""
    loop = asyncio.get_running_loop()
    deadline, seen = loop.time() + seconds, -1
    while True:
        now = size(journal)
        if now != seen:
            seen = now
            if len(read_journal(journal)) >= count:
                return
        assert loop.time() < deadline, f"the gateway got fewer than {count} messages"
        await asyncio.sleep(0.001)


async def holder_pid(db: Database, sender_id: int) -> int | None:
    """The pid of the worker holding the number (holders are host:pid:random)."""
    rows = await query(db, "SELECT holder FROM leases WHERE name = ?", f"sender:{sender_id}")
    return int(rows[0][0].split(":")[1]) if rows else None


@dataclass(slots=True)
class Workers:
    """``python -m bot worker`` processes; each run's stderr goes to its own file."""

    env: dict[str, str]
    cwd: Path
    logs: list[Path] = field(default_factory=list)
    running: list[asyncio.subprocess.Process] = field(default_factory=list)
    ready: list[asyncio.Task[None]] = field(default_factory=list)  # each one's start-up
    startup: list[float] = field(default_factory=list)  # seconds until "ready"
    up: set[int] = field(default_factory=set)  # pids of the workers that said "ready"

    async def start(self) -> asyncio.subprocess.Process:
        """A worker started; ``ready`` gets the task that waits for its "ready" line."""
        log = self.cwd / f"worker-{len(self.logs) + 1:02d}.log"
        self.logs.append(log)
        with log.open("wb") as stderr:  # the child keeps its own descriptor
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "worker", cwd=self.cwd, env=self.env,
                stdout=asyncio.subprocess.PIPE, stderr=stderr,
            )
        self.ready.append(asyncio.create_task(self._ready(proc, log)))
        return proc

    async def _ready(self, proc: asyncio.subprocess.Process, log: Path) -> None:
        started = asyncio.get_running_loop().time()
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=STARTUP_WITHIN)
        if not line and await proc.wait() == -signal.SIGKILL:
            return  # killed while it started up
        assert line.startswith(b"ready: worker "), (line, read_text(log))
        self.startup.append(asyncio.get_running_loop().time() - started)
        self.up.add(proc.pid)

    async def victim(self, rng: random.Random, pid: int | None) -> int:
        """Which worker to kill: the one with ``pid`` if it is up, else a random one of
        those up (waiting for one to be, when all are starting)."""
        while not self.up:  # noqa: ASYNC110 (a set filled by the start-up tasks)
            await asyncio.sleep(0.01)
        slots = [n for n, proc in enumerate(self.running) if proc.pid in self.up]
        chosen = [n for n in slots if self.running[n].pid == pid]
        return chosen[0] if chosen else rng.choice(slots)

    async def kill(self, slot: int) -> None:
        proc = self.running[slot]
        self.up.discard(proc.pid)
        proc.kill()
        assert await proc.wait() == -signal.SIGKILL

    async def stop_all(self) -> list[int]:
        for proc in self.running:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        return [await asyncio.wait_for(proc.wait(), timeout=STARTUP_WITHIN)
                for proc in self.running]


@pytest.mark.slow
@pytest.mark.engines("sqlite", "postgres")
async def test_three_workers_killed_again_and_again_send_each_message_once_at_each_numbers_pace(
    tmp_path: Path, db_engine: str, db_target: Path | str,
) -> None:
    journal = tmp_path / "journal.jsonl"
    campaign_id = await prepare(db_target)
    api = FakeBotApi()
    api.add_user(FakeUser(id=OWNER_TELEGRAM_ID, first_name="Aysel"))  # gets the progress
    rng = random.Random(SEED)
    loop = asyncio.get_running_loop()
    database = ({"DATABASE_URL": str(db_target)} if db_engine == "postgres"
                else {"DATABASE_PATH": str(db_target)})
    async with serving(api) as url:
        workers = Workers(env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_URL": f"{url}/bot",
            "TELEGRAM_FILE_URL": f"{url}/file/bot",
            **database,
            "METRICS_PORT": "0",
            "PTB_TIMEDELTA": "1",
            "DISPATCH_INTERVAL": "0.05",
            "LEASE_SECONDS": str(LEASE),
            "SENDER_WARMUP": str(RECIPIENTS),  # a new number may send them all on day one
            "FAILURE_SPIKE_SHARE": "1",  # the invalid numbers must not pause the campaign
            "SANDBOX_JOURNAL": str(journal),
            "SANDBOX_INVALID_SHARE": "0.1",  # some sends fail
            "SANDBOX_SEED": "7",
            "SANDBOX_DELIVERY_DELAY": "0.02",
            "SANDBOX_READ_DELAY": "0.02",
        }, cwd=tmp_path)
        workers.running = [await workers.start() for _ in range(WORKERS)]
        await asyncio.gather(*workers.ready)
        db = Database(db_target)
        await db.connect()
        try:
            # a worker killed at a random moment, or just after the gateway accepted one
            # of its messages (the worker holding that number), started again at once;
            # the others go on meanwhile
            for kill in range(KILLS):
                pid = None
                await accepted_reach(journal, (kill + 1) * KILL_EVERY, FINISH_WITHIN)
                if kill % 2:  # the worker that sent it, its outcome perhaps not written
                    pid = await holder_pid(db, read_journal(journal)[-1]["sender"])
                    await asyncio.sleep(rng.uniform(*KILL_AFTER_SEND))
                else:
                    await asyncio.sleep(rng.uniform(*KILL_AFTER))
                victim = await workers.victim(rng, pid)
                await workers.kill(victim)
                workers.running[victim] = await workers.start()
            sent_during_kills = len(read_journal(journal))
            await asyncio.gather(*workers.ready)  # the last ones started say "ready"
            deadline = loop.time() + FINISH_WITHIN
            while await query(db, "SELECT status FROM campaigns WHERE id = ?",
                              campaign_id) != [("completed",)]:
                assert loop.time() < deadline, "the campaign did not complete"
                await asyncio.sleep(0.2)
            codes = await workers.stop_all()
            assert codes == [0] * WORKERS, [read_text(log) for log in workers.logs[-3:]]

            messages = await query(db, "SELECT phone, status, gateway_message_id, sender_id"
                                   " FROM messages WHERE campaign_id = ?", campaign_id)
            rows = await query(db, "SELECT kind, amount FROM ledger ORDER BY id")
            leases_left = await query(db, "SELECT name FROM leases WHERE expires_at >= ?",
                                      datetime.now(UTC).timestamp())
        finally:
            for proc in workers.running:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            await db.close()
    logs = [read_text(log) for log in workers.logs]
    for log, text in zip(workers.logs, logs, strict=True):
        assert "Traceback" not in text, (log.name, text)
    takeovers = sum(text.count("taken over from") for text in logs)

    accepted = read_journal(journal)
    states = Counter(status for _, status, _, _ in messages)
    status_of = {phone: status for phone, status, _, _ in messages}
    runs_that_sent = {line["id"].rsplit("-", 2)[0] for line in accepted}  # sbx-<run>-...
    by_number: dict[int, list[float]] = defaultdict(list)
    for line in accepted:
        by_number[line["sender"]].append(line["at"])
    gaps = [b - a for times in by_number.values() for a, b in pairwise(sorted(times))]
    print(f"\n{db_engine}: {KILLS} kills of {WORKERS} workers (start-up"
          f" {min(workers.startup):.1f}-{max(workers.startup):.1f} s); {len(accepted)} accepted"
          f" ({sent_during_kills} while killing), by {len(runs_that_sent)} runs;"
          f" {takeovers} takeovers of a dead worker's number; {dict(states)};"
          f" shortest gap {min(gaps):.3f} s (pace {PACE} s)")
    assert len(runs_that_sent) >= KILLS // 3  # the kills did land in the campaign
    assert sent_during_kills >= KILLS * KILL_EVERY
    assert len(accepted) > sent_during_kills  # the last kill came before the end
    assert takeovers >= KILLS // 4  # dead workers' numbers were taken over
    assert leases_left == []  # the workers stopped gave everything back (the dead's ran out)

    # every recipient: one message, in exactly one final state
    assert len(messages) == len(status_of) == RECIPIENTS
    assert set(states) <= set(FINAL), states
    # the gateway never got a message twice for anyone
    assert [to for to, n in Counter(line["to"] for line in accepted).items() if n > 1] == []
    # what we call sent, the gateway has, under that id and for that number ...
    by_id = {line["id"]: line for line in accepted}
    for phone, status, gateway_id, sender_id in messages:
        if status in ACCEPTED:
            assert gateway_id in by_id and by_id[gateway_id]["to"] == phone, phone
            assert by_id[gateway_id]["sender"] == sender_id
    # ... and what the gateway has is never called failed (its outcome may be unknown)
    assert {status_of[line["to"]] for line in accepted} <= {*ACCEPTED, "uncertain"}
    # each number's pace, across the workers and the takeovers (the journal's clock)
    assert len(by_number) == NUMBERS
    assert min(gaps) >= PACE - 0.002, sorted(gaps)[:5]

    # credits: never below zero at any point, charged = sent, the uncertain still held
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
