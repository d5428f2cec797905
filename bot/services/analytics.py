"""Delivery statistics for an owner: overall and per campaign.

What the numbers mean (the owner's view, not the outbox's statuses):

- ``sent``: accepted by the gateway, whatever came after: sent + delivered + read;
- ``delivered``: delivered + read; ``read``: read;
- ``queued``: not sent yet (queued, or being sent right now);
- ``failed``, ``uncertain`` (may or may not have gone out), ``skipped`` (never sent:
  cancelled or opted out).

Rates are fractions (0..1), ``None`` when there is nothing to divide by: delivered / sent,
read / sent, failed / (sent + failed). The top failure reasons are the commonest error
categories of the failed messages, each with the commonest detail the gateway gave.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import Campaign, CampaignStatus
from bot.errors import NotFound
from bot.gateways.base import ErrorCategory
from bot.storage import campaigns as campaigns_repo
from bot.storage import stats as repo
from bot.storage.db import Database

TOP_REASONS = 3
RECENT_CAMPAIGNS = 10
OTHER_REASON = "other"  # a failure without a category we know
CATEGORIES: tuple[str, ...] = tuple(c.value for c in ErrorCategory)
REASONS: tuple[str, ...] = (*CATEGORIES, OTHER_REASON)  # each has a stats.reason.* text


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class FailureReason:
    category: str  # one of REASONS
    count: int
    detail: str | None = None  # the commonest detail the gateway gave, if any
    detail_count: int = 0


@dataclass(frozen=True, slots=True)
class CampaignLine:
    """One of the recent campaigns, in the overall stats."""

    id: int
    name: str
    total: int
    sent: int
    delivered: int

    @property
    def delivered_rate(self) -> float | None:
        return _rate(self.delivered, self.sent)


@dataclass(frozen=True, slots=True)
class Stats:
    total: int = 0
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    uncertain: int = 0
    skipped: int = 0
    reasons: tuple[FailureReason, ...] = ()
    campaigns: tuple[CampaignLine, ...] = ()  # overall only: the latest campaigns
    campaign: Campaign | None = None  # whose stats these are; None: all the owner's

    @property
    def delivered_rate(self) -> float | None:
        return _rate(self.delivered, self.sent)

    @property
    def read_rate(self) -> float | None:
        return _rate(self.read, self.sent)

    @property
    def failed_rate(self) -> float | None:
        return _rate(self.failed, self.sent + self.failed)


def _stats(counts: dict[str, int], reasons: list[tuple[str, int, str | None, int]],
           **extra: object) -> Stats:
    return Stats(
        total=sum(counts.values()),
        queued=counts.get("queued", 0) + counts.get("sending", 0),
        sent=counts.get("sent", 0) + counts.get("delivered", 0) + counts.get("read", 0),
        delivered=counts.get("delivered", 0) + counts.get("read", 0),
        read=counts.get("read", 0),
        failed=counts.get("failed", 0),
        uncertain=counts.get("uncertain", 0),
        skipped=counts.get("skipped", 0),
        reasons=tuple(FailureReason(*row) for row in reasons),
        **extra,  # type: ignore[arg-type]
    )


class AnalyticsService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def overall(self, owner_id: int) -> Stats:
        """Every message of the owner, and a line per recent campaign."""
        conn = self._db.reader
        counts = await repo.status_counts(conn, owner_id)
        reasons = await repo.failure_reasons(conn, owner_id, known=CATEGORIES,
                                             other=OTHER_REASON, limit=TOP_REASONS)
        lines = tuple(CampaignLine(*row) for row in
                      await repo.recent_campaigns(conn, owner_id, RECENT_CAMPAIGNS))
        return _stats(counts, reasons, campaigns=lines)

    async def campaign(self, owner_id: int, campaign_id: int) -> Stats:
        """One campaign of the owner's (all its runs); NotFound for anyone else's."""
        conn = self._db.reader
        found = await campaigns_repo.get(conn, owner_id, campaign_id)
        if found is None or found.status is CampaignStatus.DRAFT:
            raise NotFound("campaign", campaign_id=campaign_id)
        counts = await repo.status_counts(conn, owner_id, campaign_id)
        reasons = await repo.failure_reasons(conn, owner_id, campaign_id, known=CATEGORIES,
                                             other=OTHER_REASON, limit=TOP_REASONS)
        return _stats(counts, reasons, campaign=found)
