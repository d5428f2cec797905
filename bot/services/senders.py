"""The owner's WhatsApp numbers, as far as sending needs them: after a ban or restriction,
move the campaigns to another number, remove the lost one, or link a new one.

Linking real numbers (WAHA's QR code, Cloud API ids) is the gateways' part; in the sandbox a
new number is simply there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from bot.domain import CampaignStatus, Sender, SenderStatus
from bot.errors import NotFound, ValidationError
from bot.storage import campaigns as campaigns_repo
from bot.storage import outbox, senders
from bot.storage.db import Database


def utcnow() -> datetime:
    return datetime.now(UTC)


class SendersService:
    def __init__(self, db: Database, gateway: str,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._gateway = gateway
        self._clock = clock

    async def list(self, owner_id: int) -> list[Sender]:
        return await senders.list_for_owner(self._db.reader, owner_id)

    async def get(self, owner_id: int, sender_id: int) -> Sender:
        sender = await senders.get(self._db.reader, owner_id, sender_id)
        if sender is None or sender.status is SenderStatus.REMOVED:
            raise NotFound("sender", sender_id=sender_id)
        return sender

    async def add_sandbox(self, owner_id: int) -> Sender:
        """A new simulated number (sandbox only)."""
        if self._gateway != "sandbox":
            raise ValidationError("link_in_numbers", where="sender")
        async with self._db.transaction() as tx:
            existing = await senders.list_for_owner(tx, owner_id, include_removed=True)
            n = len(existing) + 1
            return await senders.add(tx, owner_id=owner_id, gateway="sandbox",
                                     phone=f"sandbox-{owner_id}-{n}", status=SenderStatus.ACTIVE,
                                     now=self._clock(), label=f"Sandbox {n}")

    async def move_campaigns(self, owner_id: int, sender_id: int) -> tuple[Sender, list[int]]:
        """The queued messages of a (lost) number go to another working number, and the
        campaigns paused for its loss go on. Returns the new number and the campaigns."""
        lost = await self.get(owner_id, sender_id)
        now = self._clock()
        async with self._db.transaction() as tx:
            others = [s for s in await senders.list_for_owner(tx, owner_id)
                      if s.id != lost.id and s.status is SenderStatus.ACTIVE]
            if not others:
                raise ValidationError("no_other_sender", where="sender")
            target = others[0]
            affected = await campaigns_repo.using_sender(tx, lost.id, include_paused=True)
            await outbox.move_sender(tx, lost.id, target.id, now.timestamp())
            await campaigns_repo.replace_sender(tx, lost.id, target.id)
            resumed = []
            for campaign_owner, campaign_id in affected:
                campaign = await campaigns_repo.get(tx, campaign_owner, campaign_id)
                if campaign is not None and campaign.status is CampaignStatus.PAUSED \
                        and (campaign.status_reason or "").startswith("sender_"):
                    campaign.resume()
                    await campaigns_repo.save(tx, campaign, now)
                    resumed.append(campaign_id)
        return target, resumed

    async def remove(self, owner_id: int, sender_id: int) -> Sender:
        """The number is no longer used; campaigns still on it stay paused until moved."""
        sender = await self.get(owner_id, sender_id)
        async with self._db.transaction() as tx:
            await senders.set_status(tx, sender.id, SenderStatus.REMOVED, self._clock())
        return sender
