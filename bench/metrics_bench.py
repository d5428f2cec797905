"""What a Prometheus scrape of ``/metrics`` costs with a big outbox (``bot/web/metrics.py``).

    python bench/metrics_bench.py [MESSAGES] [SENDERS] [--pg URL]
    (defaults 1,000,000 and 50; --pg: PostgreSQL too, a libpq URL of a server where the
    bench may create a database, e.g. the one ``scripts/pg-test-cluster start`` prints)

A SQLite file (and with --pg a PostgreSQL database, written with COPY) with MESSAGES
messages over SENDERS numbers of three gateways (a running campaign; 25% queued, half of
those due now, the rest sent, delivered, read, failed, skipped), then, each the median of 5 runs:

1. each query of ``bot/storage/metrics.py`` alone (ms);
2. a whole scrape (``PrometheusMetrics.scrape``: the queries and the text) that starts an
   outbox count (it waits for it at most ``OUTBOX_WAIT``), and one within the time that
   count is kept (ms per scrape);
3. the same on a copy with an index on ``messages (status, sender_id)``, which no migration
   adds (yet): what it would buy.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.__main__ import run_loop  # noqa: E402
from bot.services.metrics import DatabaseFigures  # noqa: E402
from bot.storage import metrics as figures  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from bot.web.metrics import OUTBOX_WAIT, PrometheusMetrics  # noqa: E402

STATES = ["queued", "queued", "sent", "delivered", "read", "read", "failed", "skipped"]
GATEWAYS = ["sandbox", "waha", "cloud"]
RUNS = 5


async def build(path: Path, messages: int, n_senders: int) -> float:
    db = Database(path)
    await db.connect()  # migrated as the bot does
    await db.close()
    now = time.time()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO owners (id, telegram_id, chat_id, status, created_at, updated_at)"
                 " VALUES (1, 1, 1, 'active', ?, ?)", (now, now))
    for i in range(1, n_senders + 1):
        conn.execute("INSERT INTO senders (id, owner_id, gateway, phone, status, created_at,"
                     " updated_at) VALUES (?, 1, ?, ?, 'active', ?, ?)",
                     (i, GATEWAYS[i % 3], f"+99450{i:07d}", now, now))
        if i % 5 == 0:
            conn.execute("INSERT INTO sender_guard (sender_id, owner_id, mode, gap_factor,"
                         " updated_at) VALUES (?, 1, 'slowed', 2.0, ?)", (i, now))
    conn.execute("INSERT INTO campaigns (id, owner_id, name, status, created_at, updated_at)"
                 " VALUES (1, 1, 'Spring', 'running', ?, ?)", (now, now))
    conn.executemany("INSERT INTO messages (id, campaign_id, owner_id, sender_id, phone,"
                     " planned_at, status, updated_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?)",
                     rows(messages, n_senders, now))
    conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    return now


def rows(messages: int, n_senders: int, now: float):  # type: ignore[no-untyped-def]
    return ((i, 1 if i % 10 else None, (i % n_senders) + 1, f"+99455{i:07d}",
             now - 86400 + (i % 172800), STATES[i % 8], now)
            for i in range(1, messages + 1))


async def build_pg(admin_url: str, messages: int, n_senders: int) -> tuple[str, str, float]:
    """A fresh database on ``admin_url``'s server, migrated by Qasid, filled with COPY:
    (its URL, its name, the time its messages were planned around)."""
    import psycopg

    name = f"qasid_metrics_bench_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlsplit(admin_url)._replace(path=f"/{name}").geturl()
    db = Database(url)
    await db.connect()
    await db.close()
    now = time.time()
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO owners (id, telegram_id, chat_id, status, created_at,"
                     " updated_at) VALUES (1, 1, 1, 'active', %s, %s)", (now, now))
        for i in range(1, n_senders + 1):
            conn.execute("INSERT INTO senders (id, owner_id, gateway, phone, status,"
                         " created_at, updated_at) VALUES (%s, 1, %s, %s, 'active', %s, %s)",
                         (i, GATEWAYS[i % 3], f"+99450{i:07d}", now, now))
            if i % 5 == 0:
                conn.execute("INSERT INTO sender_guard (sender_id, owner_id, mode, gap_factor,"
                             " updated_at) VALUES (%s, 1, 'slowed', 2.0, %s)", (i, now))
        conn.execute("INSERT INTO campaigns (id, owner_id, name, status, created_at,"
                     " updated_at) VALUES (1, 1, 'Spring', 'running', %s, %s)", (now, now))
        with conn.cursor().copy("COPY messages (id, campaign_id, sender_id, phone, planned_at,"
                                " status, updated_at, owner_id) FROM STDIN") as copy:
            for row in rows(messages, n_senders, now):
                copy.write_row((*row, 1))
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
    return url, name, now


def drop_pg(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def median_ms(call: Callable[[], Awaitable[Any]],
                    before: Callable[[], Awaitable[None]] | None = None) -> float:
    times = []
    for _ in range(RUNS):
        if before is not None:
            await before()
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def measure(target: Path | str, now: float, label: str) -> None:
    db = Database(target)
    await db.connect()
    metrics = PrometheusMetrics(DatabaseFigures(db))
    try:
        conn = db.reader
        print(f"{label}:")
        for name, call in (("outbox by state and number", lambda: figures.outbox(conn)),
                           ("queue depth and lag", lambda: figures.queue(conn, now)),
                           ("numbers' health", lambda: figures.senders(conn)),
                           ("numbers' gateways", lambda: figures.gateways(conn))):
            print(f"  {name:<28} {await median_ms(call):8.1f} ms")

        async def counted() -> None:  # the outbox count started by a scrape, finished
            task = metrics._counting
            if task is not None:
                await task

        async def settled() -> None:  # no count running, the next scrape starts one
            await counted()
            metrics._kept_until = 0.0

        text = await metrics.scrape()
        await settled()
        print(f"  scrape starting a count     {await median_ms(metrics.scrape, settled):8.1f} ms"
              f" (answers within {OUTBOX_WAIT:.0f} s, {len(text):,} bytes)")
        await settled()
        await metrics.scrape()
        await counted()
        kept = metrics._kept_until - time.monotonic()
        if kept > 0:
            print(f"  scrape, outbox count kept   {await median_ms(metrics.scrape):8.1f} ms"
                  f" (kept {kept:.0f} s)")
        else:
            print("  (the outbox count is cheap here: read at every scrape)")
    finally:
        await metrics.close()
        await db.close()


async def main(messages: int, n_senders: int, pg: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "metrics.sqlite3"
        started = time.perf_counter()
        now = await build(path, messages, n_senders)
        print(f"{messages:,} messages over {n_senders} numbers written in "
              f"{time.perf_counter() - started:.1f} s")
        await measure(path, now, "SQLite, the schema as migrated")
        indexed = Path(tmp) / "indexed.sqlite3"
        shutil.copy(path, indexed)
        conn = sqlite3.connect(indexed)
        conn.execute("CREATE INDEX messages_status_sender ON messages (status, sender_id)")
        conn.commit()
        conn.close()
        await measure(indexed, now, "SQLite with an index on messages (status, sender_id)")
    if pg is None:
        return
    started = time.perf_counter()
    url, name, now = await build_pg(pg, messages, n_senders)
    try:
        print(f"PostgreSQL: written with COPY in {time.perf_counter() - started:.1f} s")
        await measure(url, now, "PostgreSQL, the schema as migrated")
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE INDEX messages_status_sender ON messages (status, sender_id)")
            conn.execute("ANALYZE messages")
        await measure(url, now, "PostgreSQL with an index on messages (status, sender_id)")
    finally:
        drop_pg(pg, name)


if __name__ == "__main__":
    argv = sys.argv[1:]
    pg_url = None
    if "--pg" in argv:
        at = argv.index("--pg")
        pg_url = argv[at + 1]
        del argv[at:at + 2]
    args = [int(a.replace(",", "").replace("_", "")) for a in argv[:2]]
    numbers = args + [1_000_000, 50][len(args):]
    run_loop(main(numbers[0], numbers[1], pg_url))
