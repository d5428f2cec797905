"""Automations: a big list join that starts a sequence.

    python bench/automations_bench.py [CONTACTS]     (default 100,000)

A fresh database with one owner, a number, credits, a template, a list and a sequence
on it whose first step goes the next day at 10:00 in each recipient's zone (the slowest
plan: a zone per number); then CONTACTS contacts join the list in one transaction (as a
file import does, not timed) from four countries. Timed: the sequence engine's
``enrol``, which finds the joins and plans every joiner's first step in one
transaction. Target: at most 2 s for 100,000 contacts. Then the first engine round that
produces those steps (messages, sends and credits) is timed too, for the record.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PREFIXES = ("+99450", "+7495", "+4420", "+90212")  # Baku, Moscow, London, Istanbul


async def join_bench(size: int) -> dict[str, float]:
    from bot.domain import Language, LedgerKind, SenderStatus
    from bot.services.automations import AutomationsService
    from bot.services.automations_sequences import SequenceEngine
    from bot.services.messages import MessagesService
    from bot.services.templates import TemplatesService
    from bot.storage import automations as repo
    from bot.storage import contacts, ledger, lists, owners, senders, templates
    from bot.storage.db import Database

    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "automations.sqlite3")
        await db.connect()
        clock = lambda: now  # noqa: E731  # the bench's fixed time
        service_templates = TemplatesService(db, clock)
        automations = AutomationsService(db, service_templates,
                                         MessagesService(db, service_templates, clock=clock),
                                         clock=clock)
        engine = SequenceEngine(db, automations, clock)
        async with db.transaction() as tx:
            owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN,
                                     now=now)
            await senders.add(tx, owner_id=owner.id, gateway="sandbox", phone="+994500000000",
                              status=SenderStatus.ACTIVE, now=now)
            await ledger.add(tx, owner.id, LedgerKind.CREDIT, size, now)
            template = await templates.add(tx, owner.id, "Welcome", ["Salam {{name|dost}}"],
                                           None, None, now)
            target = await lists.create(tx, owner.id, "Joiners", now)
        sequence = await automations.create(owner.id, "sequence", "Welcome", {
            "list_id": target.id, "steps": [
                {"template_id": template.id, "delay": 1, "unit": "days", "at": "10:00"},
                {"template_id": template.id, "delay": 2, "unit": "days"}]})
        phones = [f"{PREFIXES[n % 4]}{n:07d}" for n in range(size)]
        now += timedelta(minutes=1)
        async with db.transaction() as tx:  # the join, as an import writes it
            for start in range(0, size, 20_000):
                chunk = phones[start:start + 20_000]
                await contacts.upsert(tx, owner.id, [(p, None, {}) for p in chunk], now)
                await contacts.add_to_list(tx, owner.id, target.id, chunk, now)
        now += timedelta(seconds=30)
        started = time.perf_counter()
        enrolled = await engine.enrol(sequence, now.timestamp())
        seconds = time.perf_counter() - started
        planned = await repo.next_planned(db.reader, sequence.id, 1)
        now += timedelta(days=1, hours=3)  # past every zone's 10:00
        started = time.perf_counter()
        made = await engine.run_due(sequence, now.timestamp())
        produce_seconds = time.perf_counter() - started
        await db.close()
    return {"seconds": seconds, "enrolled": enrolled, "first_at": planned[0][2],
            "made": made, "produce_seconds": produce_seconds}


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    result = asyncio.run(join_bench(size))
    first = datetime.fromtimestamp(result["first_at"], UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"sequence join: {int(result['enrolled']):,} contacts enrolled, first step planned"
          f" in {result['seconds']:.2f} s (target <= 2 s); earliest first step {first}")
    print(f"first round producing them: {int(result['made']):,} messages in"
          f" {result['produce_seconds']:.2f} s")


if __name__ == "__main__":
    main()
