"""Deleting a list that a campaign used.

    python bench/delete_bench.py [CONTACTS ...]     (default 10,000 and 100,000)

For each size: a fresh database with two owners. The first has a list of CONTACTS
contacts (in no other list) and a confirmed campaign to it (one outbox row per contact);
the second has a list and a campaign of 1,000. Then ``ContactsService.delete_list`` deletes
the first owner's list (its contacts go, the campaign's messages keep their rows with
``contact_id`` NULL), while the second owner writes a small transaction every 10 ms: how
long the delete takes, and the longest the second owner waited for the writer. Target: about
a second for 100,000, and no owner waiting long.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from campaign_setup import campaign_ready_to_confirm  # noqa: E402


async def _owner_with_campaign(db, telegram_id: int, size: int, now: datetime,
                               first_phone: int) -> tuple[int, int]:
    """(owner id, list id): a list of ``size`` contacts and a confirmed campaign to it."""
    ready = await campaign_ready_to_confirm(db, size=size, now=now, telegram_id=telegram_id,
                                            first_phone=first_phone)
    await ready.service.confirm(ready.owner_id, big_ok=True)
    return ready.owner_id, ready.list_id


async def measure(size: int) -> dict[str, float]:
    from bot.services.contacts import ContactsConfig, ContactsService
    from bot.storage.db import Database

    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "delete.sqlite3")
        await db.connect()
        owner_id, list_id = await _owner_with_campaign(db, 1, size, now, 0)
        other_id, _ = await _owner_with_campaign(db, 2, 1_000, now, 5_000_000)
        service = ContactsService(db, ContactsConfig(default_region="AZ"))

        waits: list[float] = []
        done = asyncio.Event()

        async def other_owner() -> None:
            while not done.is_set():
                asked = time.perf_counter()
                async with db.transaction() as tx:
                    await tx.execute("UPDATE owners SET updated_at = ? WHERE id = ?",
                                     (time.time(), other_id))
                waits.append(time.perf_counter() - asked)
                await asyncio.sleep(0.01)

        writer = asyncio.create_task(other_owner())
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        removed = await service.delete_list(owner_id, list_id)
        seconds = time.perf_counter() - started
        done.set()
        await writer
        async with db.reader.execute(
            "SELECT COUNT(*), COUNT(contact_id) FROM messages WHERE owner_id = ?", (owner_id,)
        ) as cur:
            messages, linked = await cur.fetchone()
        await db.close()
    assert removed == size and messages == size and linked == 0, (removed, messages, linked)
    return {"seconds": seconds, "removed": removed, "longest_wait": max(waits),
            "writes": len(waits)}


def main() -> None:
    sizes = [int(a.replace("_", "").replace(",", "")) for a in sys.argv[1:]] or [10_000,
                                                                                   100_000]
    for size in sizes:
        figures = asyncio.run(measure(size))
        print(f"delete a list of {figures['removed']:,} contacts used by a campaign: "
              f"{figures['seconds']:.2f} s  (target about 1 s for 100,000); another owner's "
              f"{figures['writes']:.0f} writes meanwhile waited at most "
              f"{figures['longest_wait'] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
