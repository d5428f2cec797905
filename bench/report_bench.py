"""A campaign's per-recipient report (``bot/services/reports.py``), CSV and XLSX.

    python bench/report_bench.py [RECIPIENTS]     (default 100,000)

A fresh database with one owner, a campaign of RECIPIENTS confirmed through the wizard's
service, and its messages moved as a real campaign's end: most read or delivered, some
sent, failed (several reasons), uncertain or still queued, one in twenty answered (the
answer kept as the replies service keeps it). Then, each in a fresh process (so its peak
RSS is the report's, not the set-up's): the report written as CSV, then as XLSX, through
``ReportsService.write`` exactly as the chat asks for it (pages read by id, rendered and
written in a worker thread). Printed: seconds and peak RSS of each.
Target: a 100,000-row report in at most 3 s, with RSS at most 150 MB.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from campaign_setup import campaign_ready_to_confirm  # noqa: E402

TEXT = ("{Salam|Hello|Hi} {{name}} from {{city}}! Our spring sale starts tomorrow: "
        "{20%|a fifth} off everything in the shop.")
TARGET_SECONDS, TARGET_MB = 3.0, 150


async def set_up(path: Path, recipients: int) -> tuple[int, int]:
    """The database of a campaign that went out; (owner, campaign)."""
    from bot.storage.db import Database

    now = datetime.now(UTC)
    db = Database(path)
    await db.connect()
    ready = await campaign_ready_to_confirm(db, size=recipients, now=now, text=TEXT)
    summary = await ready.service.confirm(ready.owner_id, big_ok=True)  # high risk: the second yes
    assert summary.campaign is not None
    cid = summary.campaign.id
    at = now.timestamp()
    async with db.transaction() as tx:
        # by the message's place: 60% read, 20% delivered, 10% sent, 6% failed, 2% uncertain,
        # 2% still queued
        await tx.execute(
            "UPDATE messages SET"
            " status = CASE WHEN id % 100 < 60 THEN 'read' WHEN id % 100 < 80 THEN 'delivered'"
            "  WHEN id % 100 < 90 THEN 'sent' WHEN id % 100 < 96 THEN 'failed'"
            "  WHEN id % 100 < 98 THEN 'uncertain' ELSE 'queued' END,"
            " sent_at = CASE WHEN id % 100 < 90 THEN ? + id END,"
            " delivered_at = CASE WHEN id % 100 < 80 THEN ? + id + 2 END,"
            " read_at = CASE WHEN id % 100 < 60 THEN ? + id + 60 END,"
            " error_category = CASE WHEN id % 100 BETWEEN 90 AND 91 THEN 'recipient_invalid'"
            "  WHEN id % 100 BETWEEN 92 AND 93 THEN 'rate_limited'"
            "  WHEN id % 100 = 94 THEN 'rejected' WHEN id % 100 = 95 THEN 'not_on_whatsapp'"
            "  WHEN id % 100 BETWEEN 96 AND 97 THEN 'uncertain' END,"
            " error_detail = CASE WHEN id % 100 = 94 THEN"
            "  'code 131049: This message was not delivered to maintain healthy ecosystem"
            " engagement.' WHEN id % 100 BETWEEN 90 AND 97 THEN 'gateway said no' END"
            " WHERE campaign_id = ?", (at, at, at, cid))
        async with tx.execute(
                "SELECT id, owner_id, sender_id, phone, contact_id FROM messages"
                " WHERE campaign_id = ? AND id % 20 = 3", (cid,)) as cur:
            answered = list(await cur.fetchall())
        await tx.executemany(
            "INSERT INTO inbound_messages (owner_id, sender_id, phone, received_at, kind,"
            " text, gateway_message_id, contact_id, message_id, campaign_id)"
            " VALUES (?, ?, ?, ?, 'text', ?, ?, ?, ?, ?)",
            [(owner, sender, phone, at + mid + 600, "Thanks! Is it also at the Gəncə shop?",
              f"wamid.{mid}", contact, mid, cid)
             for mid, owner, sender, phone, contact in answered])
        await tx.executemany("UPDATE messages SET replied_at = ? WHERE id = ?",
                             [(at + row[0] + 600, row[0]) for row in answered])
    await db.close()
    return ready.owner_id, cid


async def report(path: Path, owner_id: int, campaign_id: int, fmt: str) -> dict[str, float]:
    from bot.services.reports import ReportsService, ReportText
    from bot.services.templates import TemplatesService
    from bot.storage.db import Database

    db = Database(path)
    await db.connect()
    text = ReportText(columns=tuple(f"column {n}" for n in range(13)),
                      statuses={}, reasons={})
    service = ReportsService(db, TemplatesService(db))
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        done = await service.write(owner_id, campaign_id, fmt, text,  # type: ignore[arg-type]  # csv or xlsx from the command line
                                   Path(folder))
        seconds = time.perf_counter() - started
        size = done.path.stat().st_size
    await db.close()
    return {"seconds": seconds, "rows": done.rows, "bytes": size,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    if sys.argv[1:2] == ["--report"]:  # the measuring child: one report, figures as JSON
        path, owner, campaign, fmt = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        print(json.dumps(asyncio.run(report(Path(path), owner, campaign, fmt))))
        return
    recipients = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.sqlite3"
        started = time.perf_counter()
        owner, campaign = asyncio.run(set_up(path, recipients))
        print(f"set up: a campaign of {recipients:,} recipients that went out "
              f"({time.perf_counter() - started:.1f} s)")
        for fmt in ("csv", "xlsx"):
            out = subprocess.run(
                [sys.executable, __file__, "--report", str(path), str(owner), str(campaign),
                 fmt], check=True, capture_output=True, text=True)
            f = json.loads(out.stdout)
            verdict = ("ok" if f["seconds"] <= TARGET_SECONDS and f["rss_mb"] <= TARGET_MB
                       else "OVER TARGET")
            print(f"report {fmt.upper():4} {int(f['rows']):,} rows: {f['seconds']:.2f} s, "
                  f"peak RSS {f['rss_mb']:.0f} MB, {f['bytes'] / 1e6:.1f} MB file  "
                  f"(target <= {TARGET_SECONDS:.0f} s and <= {TARGET_MB} MB: {verdict})")


if __name__ == "__main__":
    main()
