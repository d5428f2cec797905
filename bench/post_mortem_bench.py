"""The ban post-mortem's cost for a busy number (``bot/services/post_mortem.py``).

    python bench/post_mortem_bench.py [IN_WINDOW] [BEFORE]
    (defaults 10,000 sends in the last 48 hours and 50,000 in the weeks before)

One owner's number, linked 60 days ago, on a temp SQLite file: BEFORE sends spread over
the 50 days before the window and IN_WINDOW in its 48 hours, to contacts of whom about
half are new chats; some failures, replies and opt-outs. Timed: ``PostMortems.record``
(gather the facts, build, keep), five times; prints the best and the worst. Target: well
under a second, so the post-mortem never holds up the ban's alert.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.clock import utcnow  # noqa: E402
from bot.domain import Language, SenderStatus  # noqa: E402
from bot.services.post_mortem import PostMortems  # noqa: E402
from bot.storage import contacts, owners, senders  # noqa: E402
from bot.storage.db import Database  # noqa: E402

HOUR = 3600.0


async def main(in_window: int, before: int) -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "bench.sqlite3")
        await db.connect()
        now = utcnow()
        ts = now.timestamp()
        async with db.transaction() as tx:
            owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN,
                                     now=now - timedelta(days=60))
            sender = await senders.add(tx, owner_id=owner.id, gateway="sandbox",
                                       phone="+994550000001", status=SenderStatus.ACTIVE,
                                       now=now - timedelta(days=60))
            phones = [f"+99450{n:07d}" for n in range(before + in_window // 2)]
            await contacts.upsert(tx, owner.id, [(p, None, "{}") for p in phones], now)
            async with tx.execute("SELECT id, phone FROM contacts WHERE owner_id = ?",
                                  (owner.id,)) as cur:
                ids = {phone: cid async for cid, phone in cur}
            rows = []
            for n in range(before):  # the weeks before: the old chats
                at = ts - 48 * HOUR - rng.uniform(0, 50 * 24 * HOUR)
                rows.append((owner.id, sender.id, ids[phones[n]], phones[n], at, "delivered",
                             None, at, at))
            for n in range(in_window):  # the window: half old chats, half new ones
                phone = phones[rng.randrange(before)] if n % 2 else phones[before + n // 2]
                at = ts - rng.uniform(0, 48 * HOUR)
                failed = n % 20 == 0
                rows.append((owner.id, sender.id, ids[phone], phone, at,
                             "failed" if failed else "delivered",
                             "transient" if failed else None, None if failed else at, at))
            await tx.executemany(
                "INSERT INTO messages (owner_id, sender_id, contact_id, phone, planned_at,"
                " status, error_category, sent_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            replies = [(owner.id, sender.id, phones[rng.randrange(len(phones))],
                        ts - rng.uniform(0, 48 * HOUR), "text", "thanks")
                       for _ in range(in_window // 20)]
            await tx.executemany(
                "INSERT INTO inbound_messages (owner_id, sender_id, phone, received_at, kind,"
                " text) VALUES (?, ?, ?, ?, ?, ?)", replies)
        service = PostMortems(db)
        times = []
        for _ in range(5):
            started = time.perf_counter()
            report = await service.record(owner.id, sender.id, "banned")
            times.append(time.perf_counter() - started)
        assert report is not None
        await db.close()
    print(f"post-mortem of a number with {in_window:,} sends in 48 h and {before:,} before:"
          f" {min(times) * 1000:.0f}-{max(times) * 1000:.0f} ms (5 runs; target < 1 s)")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args + [10_000, 50_000][len(args):])))
