"""What a Prometheus scrape of ``/metrics`` costs with a big outbox (``bot/web/metrics.py``).

    python bench/metrics_bench.py [MESSAGES] [SENDERS]   (defaults 1,000,000 and 50)

A SQLite file with MESSAGES messages over SENDERS numbers of three gateways (a running
campaign; 25% queued, half of those due now, the rest sent, delivered, read, failed,
skipped), then, each the median of 5 runs:

1. each query of ``bot/storage/metrics.py`` alone (ms);
2. a whole scrape (``PrometheusMetrics.scrape``: the queries and the text) that starts an
   outbox count (it waits for it at most ``OUTBOX_WAIT``), and one within the time that
   count is kept (ms per scrape);
3. the outbox count again on a copy with an index on ``messages (status, sender_id)``,
   which no migration adds (yet): what it would buy.
"""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.__main__ import run_loop  # noqa: E402
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
    rows = ((i, 1 if i % 10 else None, (i % n_senders) + 1, f"+99455{i:07d}",
             now - 86400 + (i % 172800), STATES[i % 8], now)
            for i in range(1, messages + 1))
    conn.executemany("INSERT INTO messages (id, campaign_id, owner_id, sender_id, phone,"
                     " planned_at, status, updated_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    return now


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


async def measure(path: Path, now: float, label: str) -> None:
    db = Database(path)
    await db.connect()
    metrics = PrometheusMetrics(db)
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


async def main(messages: int, n_senders: int) -> None:
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


if __name__ == "__main__":
    args = [int(a.replace(",", "").replace("_", "")) for a in sys.argv[1:3]]
    run_loop(main(*(args + [1_000_000, 50][len(args):])))
