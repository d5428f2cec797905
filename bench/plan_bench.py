"""Confirming a big campaign, and rendering its messages.

    python bench/plan_bench.py [RECIPIENTS] [MESSAGES]     (defaults 100,000 and 1,000,000)

1. A fresh database with one owner, a list of RECIPIENTS contacts, a template and credits;
   the campaign wizard's answers filled in; the summary (its pre-flight check's facts:
   one aggregate query each, bot/storage/risk.py); then ``CampaignsService.confirm``
   (which checks the risk again): reading the recipients, planning (pacing "normal", one
   sender), writing the outbox and reserving the credits in one transaction. Target:
   under 2 s for 100,000 recipients.
2. Rendering MESSAGES messages from one compiled template (3 variables, spintax); see
   ``render_bench.py``. Target: at least 300,000 renders/s.
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


async def confirm_campaign(recipients: int) -> dict[str, float]:
    from bot.storage.db import Database

    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "plan.sqlite3")
        await db.connect()
        ready = await campaign_ready_to_confirm(
            db, size=recipients, now=now, text="{Salam|Hello} {{name}} from {{city}}")
        started = time.perf_counter()
        shown = await ready.service.summary(ready.owner_id)  # with its pre-flight check
        summary_seconds = time.perf_counter() - started
        started = time.perf_counter()
        # a list this big on one number is high risk: the owner's second yes is given
        summary = await ready.service.confirm(ready.owner_id, big_ok=True)
        seconds = time.perf_counter() - started
        await db.close()
    return {"seconds": seconds, "messages": summary.recipients, "batches": summary.batches,
            "summary": summary_seconds, "risk": shown.risk.level.label,
            "reasons": len(shown.risk.reasons)}


def main() -> None:
    recipients = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    messages = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    figures = asyncio.run(confirm_campaign(recipients))
    print(f"the summary of {figures['messages']:,} recipients with its pre-flight check: "
          f"{figures['summary']:.2f} s  (risk {figures['risk']}, "
          f"{figures['reasons']:.0f} reasons)")
    print(f"confirm a campaign of {figures['messages']:,} recipients (plan + outbox + credits, "
          f"one transaction): {figures['seconds']:.2f} s  (target < 2 s; "
          f"{figures['batches']:,} batches)")
    from render_bench import TEMPLATE, baseline, measure

    rate, example = measure(TEMPLATE, messages)
    print(f"render {messages:,} messages from one compiled template (3 variables, spintax): "
          f"{rate:,.0f} renders/s  (target >= 300,000; e.g. {example!r})")
    print(f"  str.format_map on a fixed text, for comparing machines: "
          f"{baseline(messages):,.0f} renders/s")


if __name__ == "__main__":
    main()
