"""Date-based messages over a million contacts (issue 21: the day's evaluation <= 2 s).

    python bench/dates_bench.py [CONTACTS]     (default 1,000,000)

A fresh SQLite file with one owner, a number, credits, a template and CONTACTS contacts
whose ``birthday`` is written in each way the contacts have it (day-first with a year,
ISO, day-first without a year, ``--MM-DD``), one in ten invalid (31.02) and one in ten
without one; the birthdays spread over the year. A date message "on the day at 10:00,
yearly" over it (``bot/services/automations_dates.py``):

1. reading the column the first time (every contact's value parsed into
   ``contact_dates``; once per column, then only contacts updated since);
2. the first tick (the send dates that have begun somewhere: two or three days);
3. the day's evaluation: a day later, the tick that evaluates the new send date and
   produces its messages through ``AutomationsService.produce`` (opt-outs, credits,
   outbox), the figure the issue asks for;
4. the same tick again (nothing new: the cost of every other tick that day);
5. the card's figures (valid / invalid / missing, the next sends).
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

# the contacts, written by SQLite itself (a million upserts through the import writer
# would take longer than everything measured here)
_CONTACTS = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?),
d(i, day) AS (SELECT i, date('2001-01-01', '+' || (i % 365) || ' days') FROM n)
INSERT INTO contacts (owner_id, phone, name, attributes, created_at, updated_at)
SELECT ?, '+99450' || printf('%07d', i), 'Name ' || i,
  CASE i % 10
    WHEN 8 THEN json_object('birthday', '31.02.1990')
    WHEN 9 THEN json_object('city', 'Baku')
    WHEN 4 THEN json_object('birthday', (1960 + i % 50) || substr(day, 5))
    WHEN 5 THEN json_object('birthday', (1960 + i % 50) || substr(day, 5))
    WHEN 6 THEN json_object('birthday', strftime('%d.%m', day))
    WHEN 7 THEN json_object('birthday', '--' || strftime('%m-%d', day))
    ELSE json_object('birthday', strftime('%d.%m.', day) || (1960 + i % 50)) END,
  ?, ? FROM d
"""


async def run(size: int) -> dict[str, float]:
    from bot.domain import Language, LedgerKind, SenderStatus
    from bot.services.automations import AutomationsService
    from bot.services.automations_dates import DatesEngine
    from bot.services.messages import MessagesConfig, MessagesService
    from bot.services.templates import TemplatesService
    from bot.storage import ledger, owners, senders, templates
    from bot.storage.db import Database

    now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)

    def clock() -> datetime:
        return now

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "dates.sqlite3")
        await db.connect()
        async with db.transaction() as tx:
            owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN,
                                     now=now)
            await senders.add(tx, owner_id=owner.id, gateway="sandbox", phone="+994500000000",
                              status=SenderStatus.ACTIVE, now=now)
            await ledger.add(tx, owner.id, LedgerKind.CREDIT, size, now)
            template = await templates.add(tx, owner.id, "Birthday",
                                           ["Happy birthday, {{name}}!"], None, None, now)
            old = (now - timedelta(days=30)).timestamp()
            await tx.execute(_CONTACTS, (size, owner.id, old, old))
        templates_service = TemplatesService(db, clock)
        automations = AutomationsService(
            db, templates_service, MessagesService(db, templates_service, MessagesConfig(),
                                                   clock), None, clock)
        engine = DatesEngine(db, automations, clock)
        rule = await automations.create(owner.id, "date", "Birthdays", {
            "attribute": "birthday", "when": "on", "at": "10:00", "yearly": True,
            "template_id": template.id})

        started = time.perf_counter()
        figures["read"] = await engine.read_column(owner.id, "birthday", now)
        figures["read_s"] = time.perf_counter() - started

        started = time.perf_counter()
        figures["first_made"] = await engine.tick(now)
        figures["first_s"] = time.perf_counter() - started

        now += timedelta(days=1)
        started = time.perf_counter()
        figures["day_made"] = await engine.tick(now)
        figures["day_s"] = time.perf_counter() - started

        started = time.perf_counter()
        figures["again_made"] = await engine.tick(now + timedelta(minutes=1))
        figures["again_s"] = time.perf_counter() - started

        started = time.perf_counter()
        card = await engine.figures(owner.id, rule.id)
        figures["card_s"] = time.perf_counter() - started
        figures["valid"], figures["invalid"], figures["missing"] = (
            card.valid, card.invalid, card.missing)
        await db.close()
    return figures


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    f = asyncio.run(run(size))
    print(f"date messages over {size:,} contacts (birthdays in 4 ways, 10% invalid,"
          f" 10% without)")
    print(f"  reading the column the first time: {f['read']:,.0f} contacts in"
          f" {f['read_s']:.2f} s (once per column; then only contacts updated since)")
    print(f"  first tick (the send dates begun somewhere): {f['first_made']:,.0f} messages"
          f" in {f['first_s']:.2f} s")
    print(f"  the day's evaluation: {f['day_made']:,.0f} messages produced in"
          f" {f['day_s']:.2f} s (target <= 2 s)")
    print(f"  the same day again: {f['again_made']:,.0f} messages in {f['again_s']:.3f} s")
    print(f"  the card: {f['valid']:,.0f} valid, {f['invalid']:,.0f} invalid,"
          f" {f['missing']:,.0f} without, in {f['card_s']:.2f} s")


if __name__ == "__main__":
    main()
