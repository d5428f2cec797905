"""What an opt-out does to what is already queued: a customer who said STOP (or was opted
out in the chat or by API) gets nothing more, not even the messages queued before. Those
messages are skipped and their held credits released, in the opt-out's own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.services import billing
from bot.storage import outbox
from bot.storage.db import Connection


async def skip_queued(tx: Connection, owner_id: int, phones: Sequence[str],
                      now: datetime) -> int:
    """Skip the owner's queued messages to ``phones`` and give back their credits; how many
    were skipped."""
    if not phones:
        return 0
    skipped = await outbox.skip_queued_to(tx, owner_id, phones, now.timestamp())
    for campaign_id, n in skipped.items():
        await billing.release(tx, owner_id, n * billing.CREDITS_PER_MESSAGE, now,
                              campaign_id=campaign_id, note="opted out")
    return sum(skipped.values())
