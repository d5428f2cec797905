"""``bench/scale_bench.py claim`` and ``dispatch``: the outbox and the workers on PostgreSQL.

    python bench/scale_bench.py claim [--messages 1000000] [--seconds 10] [--url URL]
    python bench/scale_bench.py dispatch [--messages 20000] [--numbers 40] [--workers 1,2,4]

``claim``: the outbox with MESSAGES queued (200 owners, 400 numbers, one running campaign
per owner; written with COPY, all due), claimed as the dispatcher's tick claims: batches
of ``claim_limit`` (2,000) read by ``outbox.due`` and claimed by ``outbox.claim`` (its
``FOR UPDATE SKIP LOCKED`` on PostgreSQL) in a shared transaction, as the dispatcher's
tick does. One claimer (``python -m bot`` alone); four processes each with a quarter of
the numbers (four workers, each its leased numbers); four processes claiming from every
number at once (the race SKIP LOCKED settles); four behind the writers' advisory lock
(what sharing saves); and the claim statement in another form, for comparison. Per batch
p50/p95 latency, claims/s; after each round: no message claimed twice (the claims made =
the messages now ``sending``, each with one attempt), or the bench fails.

``dispatch``: N ``python -m bot worker`` processes (the real entry point: leases, claims,
the WAHA adapter over HTTP) on one PostgreSQL database, sending one campaign of MESSAGES
over NUMBERS numbers, pacing off (0 s gaps, one batch a number, no pause), caps far away,
the recipients checked before (one request a message); a fake WAHA in another process
(``tests/gateways/fake_waha.py``, httptools on uvloop) that counts what it was sent, a
fake Telegram Bot API in this one. Messages/s for each N and the ratio to one worker; no
message sent twice (the gateway got each recipient once, and as many as are ``sent``).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bot.__main__ import run_loop  # noqa: E402 (the event loop python -m bot runs on)
from bot.storage import outbox  # noqa: E402
from bot.storage.db import Database  # noqa: E402


def with_database(server: str, name: str) -> str:
    """A fresh database ``name`` on ``server``; its URL."""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlsplit(server)._replace(path=f"/{name}").geturl()


def drop_database(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int, children: bool = False) -> float:
    """CPU seconds of a process (and of its children it reaped), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15 if children else 13]) / TICKS


def server_cpu(url: str) -> float:
    """CPU seconds of the PostgreSQL server (its postmaster, the children it reaped and
    the ones alive): it must run on this machine."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    assert row is not None
    postmaster = int((Path(row[0]) / "postmaster.pid").read_text().split()[0])
    total = cpu_of(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if ppid == postmaster:
                total += cpu_of(int(entry.name))
    return total


# --- claim: the outbox with 1M queued messages -------------------------------------------

OWNERS = 200
NUMBERS = 400  # two per owner
CLAIM_LIMIT = 2000  # DispatcherConfig.claim_limit: messages looked at (and claimed) a tick
LEASE = 300.0  # DispatcherConfig.lease_seconds


async def fill_outbox(url: str, messages: int, now: float) -> tuple[float, float]:
    """OWNERS owners, NUMBERS numbers, one running campaign per owner, ``messages`` queued
    messages written with COPY (the numbers' in turn, planned over the last day: all due);
    then VACUUM ANALYZE, as autovacuum leaves a settled table. (COPY's, VACUUM's) seconds."""
    db = Database(url)
    await db.connect()
    try:
        started = time.perf_counter()
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO owners (telegram_id, chat_id, language, status, created_at,"
                " updated_at) SELECT n, n, 'en', 'active', ?, ? FROM generate_series(1, ?) n",
                (now, now, OWNERS))
            await tx.execute(
                "INSERT INTO senders (owner_id, gateway, phone, external_id, status,"
                " created_at, updated_at) SELECT o.id, 'waha', '+9945' || (o.id * 10 + k),"
                " 's' || (o.id * 10 + k), 'active', ?, ? FROM owners o,"
                " generate_series(0, ?) k", (now, now, NUMBERS // OWNERS - 1))
            await tx.execute(
                "INSERT INTO campaigns (owner_id, name, status, pacing, created_at, updated_at,"
                " started_at) SELECT id, 'Promo', 'running', '{}', ?, ?, ? FROM owners",
                (now, now, now))
            async with tx.execute(
                    "SELECT s.id, s.owner_id, c.id FROM senders s JOIN campaigns c"
                    " ON c.owner_id = s.owner_id ORDER BY s.id") as cur:
                numbers = [tuple(row) async for row in cur]
            span = 86400.0 / messages

            def rows() -> Iterator[tuple[Any, ...]]:
                for n in range(messages):
                    sender_id, owner_id, campaign_id = numbers[n % len(numbers)]
                    planned = now - 86400.0 + n * span
                    yield (campaign_id, owner_id, sender_id, f"+99450{n:07d}", n // 1000,
                           n % 3, planned, "queued", 0, planned, planned)

            await tx.copy_rows(  # type: ignore[attr-defined]  # pg.Connection's COPY
                "messages", ["campaign_id", "owner_id", "sender_id", "phone", "batch",
                             "variant", "planned_at", "status", "attempts", "queued_at",
                             "updated_at"], rows())
        copied = time.perf_counter() - started
    finally:
        await db.close()
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return copied, time.perf_counter() - started


Batches = tuple[list[float], list[float], int, float]


async def claim_by_array(conn: Any, ids: Sequence[int], lease_until: float, now: float) -> int:
    """``outbox.claim`` with the locked rows gathered first (``id = ANY(ARRAY(SELECT ...
    FOR UPDATE SKIP LOCKED))``): PostgreSQL plans ``id IN (SELECT ... SKIP LOCKED)`` as a
    hash semi-join over a sequential scan of the whole table at 100,000 rows (not at
    1,000,000); this form is always two index scans of the primary key. For comparison."""
    cur = await conn.execute(
        "UPDATE messages SET status = 'sending', lease_until = ?, attempts = attempts + 1,"
        " updated_at = ? WHERE id = ANY(ARRAY(SELECT id FROM messages WHERE status = 'queued'"
        " AND id = ANY(?) FOR UPDATE SKIP LOCKED))", (lease_until, now, list(ids)))
    return int(cur.rowcount)


async def claim_batches(url: str, until: float, seconds: float, numbers: Sequence[int] | None,
                        shared: bool, now: float, by_array: bool = False) -> Batches:
    """The dispatcher's tick against the database, over and over for ``seconds``:
    ``outbox.due`` on the reader (its numbers only, when a worker's), then
    ``outbox.claim`` of those ids in a transaction (``shared``: without the global writer
    lock, as PG.md allows for SKIP LOCKED claims). The due reads' and the whole batches'
    seconds, how many it claimed, the wall time."""
    db = Database(url)
    await db.connect()
    due_times: list[float] = []
    batch_times: list[float] = []
    claimed = 0
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            t0 = time.perf_counter()
            picked = await outbox.due(db.reader, until, CLAIM_LIMIT, numbers)
            t1 = time.perf_counter()
            if not picked:
                break
            async with db.transaction(shared=shared) as tx:
                claim = claim_by_array if by_array else outbox.claim
                claimed += await claim(tx, [d.id for d in picked], now + LEASE, now)
            t2 = time.perf_counter()
            due_times.append(t1 - t0)
            batch_times.append(t2 - t0)
        wall = time.perf_counter() - started
    finally:
        await db.close()
    return due_times, batch_times, claimed, wall


def _claimer(args: tuple[str, float, float, list[int] | None, bool, float, bool]) -> Batches:
    return run_loop(claim_batches(*args))


async def rows_of(url: str, query: str) -> list[tuple[Any, ...]]:
    db = Database(url)
    await db.connect()
    try:
        async with db.reader.execute(query) as cur:
            return [tuple(row) async for row in cur]
    finally:
        await db.close()


def claims_made(url: str) -> tuple[int, int]:
    """(messages claimed, the most attempts any has): 1 unless one was claimed twice."""
    rows = run_loop(rows_of(url, "SELECT COUNT(*), COALESCE(MAX(attempts), 0) FROM messages"
                                 " WHERE status = 'sending'"))
    return int(rows[0][0]), int(rows[0][1])


def claim_round(url: str, label: str, shares: list[list[int] | None], shared: bool,
                seconds: float, now: float, by_array: bool = False) -> float:
    """One round of ``len(shares)`` claimers (processes when more than one); claims/s."""
    before, _ = claims_made(url)
    jobs = [(url, now, seconds, share, shared, now, by_array) for share in shares]
    if len(jobs) == 1:
        results = [_claimer(jobs[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
            results = pool.map(_claimer, jobs)
    after, most = claims_made(url)
    due_times = [t for r in results for t in r[0]]
    batch_times = [t for r in results for t in r[1]]
    claimed = sum(r[2] for r in results)
    wall = max(r[3] for r in results)
    # no message claimed twice: each claim made is one message now 'sending', one attempt
    if after - before != claimed or most > 1:
        raise SystemExit(f"{label}: CLAIMED TWICE: {claimed:,} claims made, "
                         f"{after - before:,} messages now sending, attempts up to {most}")
    if not batch_times:
        print(f"  {label}: nothing left to claim (a bigger --messages)")
        return 0.0
    print(f"  {label}: {len(batch_times):,} batches, {claimed:,} claimed in {wall:.1f} s = "
          f"{claimed / wall:,.0f} claims/s; a batch p50 "
          f"{statistics.median(batch_times) * 1000:.0f} ms, p95 "
          f"{percentile(batch_times, 0.95) * 1000:.0f} ms (its due read p50 "
          f"{statistics.median(due_times) * 1000:.0f} ms, p95 "
          f"{percentile(due_times, 0.95) * 1000:.0f} ms); none claimed twice", flush=True)
    return claimed / wall


def claim_part(server: str, messages: int = 1_000_000, seconds: float = 10.0) -> None:
    name = f"qasid_scale_claim_{os.getpid()}"
    url = with_database(server, name)
    try:
        now = datetime.now(UTC).timestamp()
        copied, vacuumed = run_loop(fill_outbox(url, messages, now))
        print(f"claim: {messages:,} queued messages (all due), {OWNERS} owners, {NUMBERS} "
              f"numbers, {OWNERS} running campaigns; written with COPY in {copied:.1f} s "
              f"({messages / copied:,.0f} rows/s), VACUUM ANALYZE {vacuumed:.1f} s; "
              f"{CLAIM_LIMIT:,} a batch, {seconds:.0f} s a round; {load()}", flush=True)
        numbers = [int(row[0]) for row in run_loop(rows_of(url, "SELECT id FROM senders"))]
        quarters: list[list[int] | None] = [sorted(numbers)[n::4] for n in range(4)]
        claim_round(url, "1 claimer, every number (python -m bot alone)", [None], True,
                    seconds, now)
        claim_round(url, "4 claimers, a quarter of the numbers each (4 workers)", quarters,
                    True, seconds, now)
        claim_round(url, "4 claimers, every number at once (SKIP LOCKED's race)",
                    [None] * 4, True, seconds, now)
        claim_round(url, "4 claimers, a quarter each, behind the writers' lock (not "
                    "shared)", quarters, False, seconds, now)
        print("  the claim as id = ANY(ARRAY(SELECT ... SKIP LOCKED)), for comparison "
              "(two index scans, not a scan of the table):")
        claim_round(url, "1 claimer, every number", [None], True, seconds, now, True)
        claim_round(url, "4 claimers, a quarter of the numbers each", quarters, True,
                    seconds, now, True)
        left = run_loop(rows_of(url, "SELECT COUNT(*) FROM messages WHERE status = 'queued'"))
        print(f"  still queued after the rounds: {left[0][0]:,}; {load()}")
    finally:
        drop_database(server, name)


# --- dispatch: N workers through the WAHA adapter over HTTP ------------------------------

OWNER_TELEGRAM_ID = 5252
ACCEPTED = ("sent", "delivered", "read")


def fake_waha(sessions: int) -> None:
    """``scale_outbox.py --fake-waha N``: tests/gateways/fake_waha.py's fast server
    (sessions s0..sN-1) counting the chats it was sent to; prints its URL, and when stdin
    closes a JSON line: sends, distinct chats, chats sent to more than once."""
    from tests.gateways.fake_waha import FakeWaha, FakeWahaServer

    chats: Counter[str] = Counter()

    class Counting(FakeWaha):
        def _send(self, path: str, body: Any) -> Any:
            answer = super()._send(path, body)
            if answer.status_code == 201:
                chats[body["chatId"]] += 1
            return answer

    fake = Counting(record=False)
    for n in range(sessions):
        fake.add_session(f"s{n}", me=f"9945000000{n:02d}")
    server = FakeWahaServer(fake, fast=True)
    server.start()
    print(fake.url, flush=True)
    sys.stdin.read()
    server.stop()
    print(json.dumps({"sends": sum(chats.values()), "chats": len(chats),
                      "twice": sum(1 for n in chats.values() if n > 1)}), flush=True)


async def prepare_campaign(url: str, messages: int, numbers: int) -> int:
    """An active owner with ``numbers`` WAHA numbers (sessions s0..), ``messages``
    contacts already checked on WhatsApp, credits, and the campaign confirmed, pacing off,
    at any hour; left paused until the workers are up. Its id."""
    from bot.domain import LedgerKind, SenderStatus
    from bot.services.campaigns import CampaignsConfig, CampaignsService
    from bot.storage import contacts, ledger, lists, senders, templates
    from tests.fakes.owners import add_active_owner

    now = datetime.now(UTC)
    db = Database(url)
    await db.connect()
    try:
        async with db.transaction() as tx:
            owner = await add_active_owner(tx, OWNER_TELEGRAM_ID, now)
            for n in range(numbers):
                sender = await senders.add(tx, owner_id=owner.id, gateway="waha",
                                           phone=f"+9945000000{n:02d}",
                                           status=SenderStatus.ACTIVE,
                                           now=now - timedelta(days=30))
                await tx.execute("UPDATE senders SET external_id = ? WHERE id = ?",
                                 (f"s{n}", sender.id))
            await ledger.add(tx, owner.id, LedgerKind.CREDIT, 10 * messages, now)
            people = await lists.create(tx, owner.id, "Customers", now)
            rows = [(f"+99450{n:07d}", f"Name {n}", '{"city": "Bakı"}')
                    for n in range(messages)]
            await contacts.upsert(tx, owner.id, rows, now)
            await contacts.add_to_list(tx, owner.id, people.id, [r[0] for r in rows], now)
            template = await templates.add(tx, owner.id, "Promo",
                                           ["{Salam|Hello} {{name}} from {{city}}"],
                                           None, None, now)
            await tx.execute(  # each recipient checked before: one request a message
                "INSERT INTO whatsapp_checks (owner_id, phone, on_whatsapp, checked_at)"
                " SELECT owner_id, phone, 1, ? FROM contacts", (now.timestamp(),))
        service = CampaignsService(db, CampaignsConfig(advice_max=10**7, warmup=(10**7,)),
                                   lambda: now - timedelta(minutes=1))
        await service.begin(owner.id)
        await service.choose_list(owner.id, people.id)
        await service.choose_template(owner.id, template.id)
        await service.senders_chosen(owner.id)
        await service.start_now(owner.id)
        await service.custom_pacing(owner.id)
        # no gap, no pause, one batch a number (batches take turns between the numbers:
        # a number sends its batch one message after another, the numbers side by side)
        for answer in ("0-0", str(-(-messages // numbers)), "0-0", None):
            await service.custom_value(owner.id, answer)
        summary = await service.confirm(owner.id, big_ok=True)
        assert summary.campaign is not None
        campaign_id = summary.campaign.id
        async with db.transaction() as tx:
            async with tx.execute("SELECT pacing FROM campaigns WHERE id = ?",
                                  (campaign_id,)) as cur:
                row = await cur.fetchone()
            assert row is not None
            pacing = json.loads(row[0]) | {"recipient_night": False}
            # paused until every worker is up and holds its share of the numbers
            await tx.execute("UPDATE campaigns SET pacing = ?, status = 'paused' WHERE id = ?",
                             (json.dumps(pacing), campaign_id))
        return campaign_id
    finally:
        await db.close()


async def one_round(url: str, waha_url: str, waha_pid: int, workers: int, messages: int,
                    numbers: int, campaign_id: int, tmp: Path) -> dict[str, Any]:
    """``workers`` workers started, each holding its share of the numbers, then the
    campaign let run; the seconds until nothing is queued or sending, and the CPU seconds
    the workers, PostgreSQL and the fake WAHA spent meanwhile."""

    def cpu() -> tuple[float, float, float]:
        return (sum(cpu_of(proc.pid) for proc in procs), server_cpu(url), cpu_of(waha_pid))

    from bot.console.botapi import FakeBotApi, FakeUser
    from bot.console.http import serving

    api = FakeBotApi()
    api.add_user(FakeUser(id=OWNER_TELEGRAM_ID, first_name="Aysel"))  # its progress notices
    db = Database(url)
    await db.connect()
    procs: list[asyncio.subprocess.Process] = []

    async def one(sql: str, *args: Any) -> Any:
        async with db.reader.execute(sql, args) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    try:
        async with serving(api) as bot_url:
            env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp),
                   "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": f"{bot_url}/bot",
                   "TELEGRAM_FILE_URL": f"{bot_url}/file/bot", "DATABASE_URL": url,
                   "GATEWAY": "waha", "WAHA_BASE_URL": waha_url, "METRICS_PORT": "0",
                   "PTB_TIMEDELTA": "1",
                   "SENDER_DAILY_CAP": str(10**7), "SENDER_WARMUP": str(10**7),
                   "NUMBER_CHECK_INTERVAL": "0", "HEALTH_POLL_INTERVAL": "0",
                   "FAILURE_SPIKE_SHARE": "1",
                   # libpq's server options, passed on (e.g. -c plan_cache_mode=...)
                   **{k: v for k, v in os.environ.items() if k == "PGOPTIONS"}}
            for n in range(workers):
                with (tmp / f"worker-{workers}-{n}.log").open("wb") as stderr:
                    procs.append(await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "bot", "worker", cwd=ROOT, env=env,
                        stdout=asyncio.subprocess.PIPE, stderr=stderr))
            for proc in procs:
                assert proc.stdout is not None
                line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
                if not line.startswith(b"ready: worker "):
                    raise SystemExit(f"a worker did not start: {line!r}, see {tmp}")
            # every number held, by every worker (their shares settle over a few rounds)
            deadline = time.monotonic() + 60
            while True:
                held = await one("SELECT COUNT(*) FROM leases WHERE name LIKE 'sender:%'"
                                 " AND expires_at > ?", time.time())
                holders = await one("SELECT COUNT(DISTINCT holder) FROM leases"
                                    " WHERE name LIKE 'sender:%' AND expires_at > ?",
                                    time.time())
                if held == numbers and holders == workers:
                    break
                if time.monotonic() > deadline:
                    print(f"    (after 60 s: {held} numbers held by {holders} workers; "
                          "going on)")
                    break
                await asyncio.sleep(0.2)
            cpu_before = cpu()
            started = time.perf_counter()
            async with db.transaction() as tx:
                await tx.execute("UPDATE campaigns SET status = 'running' WHERE id = ?",
                                 (campaign_id,))
            deadline = time.monotonic() + 600
            while await one("SELECT COUNT(*) FROM messages WHERE campaign_id = ? AND"
                            " status IN ('queued', 'sending')", campaign_id):
                if time.monotonic() > deadline:
                    raise SystemExit(f"{workers} workers: not done in 600 s, see {tmp}")
                await asyncio.sleep(0.25)  # (the poll: ~1% of PostgreSQL's time)
            seconds = time.perf_counter() - started
            used = [after - before for after, before in zip(cpu(), cpu_before, strict=True)]
            span = await one("SELECT MAX(sent_at) - MIN(sent_at) FROM messages"
                             " WHERE campaign_id = ?", campaign_id)
            async with db.reader.execute(
                    "SELECT status, COUNT(*) FROM messages WHERE campaign_id = ?"
                    " GROUP BY status", (campaign_id,)) as cur:
                states = {row[0]: int(row[1]) async for row in cur}
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            codes = [await asyncio.wait_for(proc.wait(), timeout=60) for proc in procs]
            procs = []
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await db.close()
    return {"seconds": seconds, "span": float(span or 0), "states": states, "codes": codes,
            "cpu": used}


def dispatch_part(server: str, messages: int = 20_000, numbers: int = 40,
                  counts: Sequence[int] = (1, 2, 4)) -> None:
    print(f"dispatch: python -m bot worker x N on one PostgreSQL database, a campaign of "
          f"{messages:,} over {numbers} WAHA numbers, pacing off, recipients checked before "
          f"(one request a message), the fake WAHA (httptools, uvloop) in its own process; "
          f"{load()}", flush=True)
    rates: dict[int, float] = {}
    tmp = tempfile.mkdtemp(prefix="qasid-dispatch-")  # the workers' logs: kept on failure
    if True:
        for workers in counts:
            name = f"qasid_scale_dispatch_{workers}_{os.getpid()}"
            url = with_database(server, name)
            waha = subprocess.Popen(
                [sys.executable, __file__, "--fake-waha", str(numbers)], cwd=ROOT,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            try:
                assert waha.stdin is not None and waha.stdout is not None
                waha_url = waha.stdout.readline().strip()
                campaign_id = run_loop(prepare_campaign(url, messages, numbers))
                result = run_loop(one_round(url, waha_url, waha.pid, workers, messages,
                                            numbers, campaign_id, Path(tmp)))
                waha.stdin.close()
                gateway = json.loads(waha.stdout.readline())
                waha.wait(timeout=30)
            finally:
                if waha.poll() is None:
                    waha.kill()
                drop_database(server, name)
            states = result["states"]
            accepted = sum(states.get(s, 0) for s in ACCEPTED)
            rate = messages / result["seconds"]
            rates[workers] = rate
            ratio = f", {rate / rates[counts[0]]:.2f}x {counts[0]} worker" if rates else ""
            print(f"  {workers} worker{'s' if workers > 1 else ' '}: {messages:,} in "
                  f"{result['seconds']:.2f} s = {rate:,.0f} messages/s{ratio} (first to last "
                  f"send {result['span']:.2f} s); states {states}; the gateway got "
                  f"{gateway['sends']:,} sends to {gateway['chats']:,} recipients; {load()}",
                  flush=True)
            per = [c * 1000 / messages for c in result["cpu"]]
            print(f"    CPU s per 1,000 messages: the workers {per[0]:.2f}, PostgreSQL "
                  f"{per[1]:.2f}, the fake WAHA {per[2]:.2f} (= {sum(per):.2f}: "
                  f"{sum(result['cpu']) / result['seconds']:.2f} cores busy of "
                  f"{os.cpu_count()})", flush=True)
            # none sent twice; what is called sent the gateway has; an uncertain one may
            # or may not have reached it (a claim taken over, a connection cut), never both
            uncertain = states.get("uncertain", 0)
            if gateway["twice"] or not accepted <= gateway["sends"] <= accepted + uncertain \
                    or accepted + uncertain != messages:
                raise SystemExit(f"{workers} workers: SENT TWICE or lost: {gateway}, {states}")
            if uncertain:
                print(f"    ({uncertain:,} uncertain: a worker's claims taken over or a send cut "
                      f"off; the gateway got {gateway['sends'] - accepted:,} of them)")
            if any(result["codes"]):
                raise SystemExit(f"{workers} workers: exit codes {result['codes']}")
    shutil.rmtree(tmp, ignore_errors=True)
    print("  none sent twice (each recipient at most once at the gateway, every sent one)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--fake-waha"]:
        fake_waha(int(sys.argv[2]))
