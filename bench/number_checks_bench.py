"""What the ahead-of-send number checks' query costs with 100,000 queued messages
(``bot/storage/number_checks.unchecked``: the phones of messages planned in the next 12 h
without a check in 30 days, at most 10 per number), and a campaign's checked figures
(``campaign_checks``, the campaign card's line).

Five numbers of one owner, 20,000 queued single messages each, spread over the next day
(the worst case: 50,000 of them inside the 12-hour horizon) or over the next 10 days
(5,000 inside); each with none checked, then with 9 in 10 checked (the checker well under
way: the query walks past the checked ones).

    .venv/bin/python -m bench.number_checks_bench [--messages 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


async def main(count: int, repeat: int) -> None:
    from bot.clock import utcnow
    from bot.domain import Language, SenderStatus
    from bot.storage import number_checks, owners, senders
    from bot.storage.db import Database

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "checks.sqlite3")
        await db.connect()
        now = utcnow()
        ts = now.timestamp()
        async with db.transaction() as tx:
            owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN,
                                     now=now)
            numbers = [await senders.add(tx, owner_id=owner.id, gateway="waha",
                                         phone=f"+99455000000{n}", status=SenderStatus.ACTIVE,
                                         now=now) for n in range(5)]
        for days, checked in ((1, False), (1, True), (10, False), (10, True)):
            async with db.transaction() as tx:
                await tx.execute("DELETE FROM messages")
                await tx.execute("DELETE FROM whatsapp_checks")
                await tx.executemany(
                    "INSERT INTO messages (owner_id, sender_id, phone, planned_at, status,"
                    " updated_at) VALUES (?, ?, ?, ?, 'queued', ?)",
                    [(owner.id, numbers[i % 5].id, f"+99450{i:07d}",
                      ts + i * days * 86400 / count, ts) for i in range(count)])
                if checked:
                    await tx.executemany(
                        "INSERT INTO whatsapp_checks (owner_id, phone, on_whatsapp,"
                        " checked_at) VALUES (?, ?, 1, ?)",
                        [(owner.id, f"+99450{i:07d}", ts) for i in range(count) if i % 10])
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                rows = await number_checks.unchecked(db.reader, ts + 12 * 3600,
                                                     ts - 30 * 86400, 10)
                times.append(time.perf_counter() - started)
            print(f"unchecked, {count:,} queued over {days} day(s),"
                  f" {'9 in 10' if checked else 'none'} checked: {len(rows)} phones,"
                  f" best {min(times) * 1000:.0f} ms, worst {max(times) * 1000:.0f} ms")
        await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.repeat))
