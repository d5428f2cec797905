"""Delivery statistics for an owner: overall and per campaign.

What the numbers mean (the owner's view, not the outbox's statuses): ``bot.domain.Tally``,
the one rule the campaign screens follow too:

- ``sent``: accepted by the gateway, whatever came after: sent + delivered + read;
- ``delivered``: delivered + read; ``read``: read;
- ``queued``: not sent yet (queued, or being sent right now);
- ``failed``, ``uncertain`` (may or may not have gone out), ``skipped`` (never sent:
  cancelled or opted out);
- ``replied`` (a campaign's): messages a customer answered (``messages.replied_at``).

Rates are fractions (0..1), ``None`` when there is nothing to divide by: delivered / sent,
read / sent, failed / (sent + failed). The top failure reasons are the commonest error
categories of the failed messages, each with the commonest detail the gateway gave.

Charts (``chart``): the same messages, counted by the same rule, over time (sent,
delivered, read and failed per hour of the owner's day for a span up to two days, else per
day, the last ``CHART_DAYS`` at most) and per number (sent, delivered, read, failed); drawn
by ``bot.services.charts``.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain import Campaign, CampaignStatus, Rates, Tally, rate
from bot.errors import NotFound
from bot.gateways.base import ErrorCategory
from bot.services import zones
from bot.storage import campaigns as campaigns_repo
from bot.storage import owners
from bot.storage import stats as repo
from bot.storage.db import Database

TOP_REASONS = 3
RECENT_CAMPAIGNS = 10
OTHER_REASON = "other"  # a failure without a category we know
CATEGORIES: tuple[str, ...] = tuple(c.value for c in ErrorCategory)
REASONS: tuple[str, ...] = (*CATEGORIES, OTHER_REASON)  # each has a stats.reason.* text


HOUR = 3600.0
DAY = 86400.0
SLOT = 900.0  # events are counted by quarter hour, then put in the owner's hours or days
HOURLY_UP_TO = 2 * DAY  # a span up to this long is drawn by the hour, a longer one by day
CHART_DAYS = 60  # the longest span a chart shows: the latest days


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
        return rate(self.delivered, self.sent)


@dataclass(frozen=True, slots=True)
class Stats(Tally):
    """The owner's messages as ``Tally`` counts them, with their rates, the commonest
    failure reasons and (overall only) the latest campaigns."""

    reasons: tuple[FailureReason, ...] = ()
    replied: int = 0  # messages a customer answered (a campaign's only)
    campaigns: tuple[CampaignLine, ...] = ()  # overall only: the latest campaigns
    campaign: Campaign | None = None  # whose stats these are; None: all the owner's


@dataclass(frozen=True, slots=True)
class Series:
    """Events per local hour or day, one point each, gaps included (zeros)."""

    starts: tuple[datetime, ...]  # each point's start, in the owner's time zone
    hourly: bool
    sent: tuple[int, ...]  # sent, as Tally counts it (delivered and read included)
    delivered: tuple[int, ...]
    read: tuple[int, ...]
    failed: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NumberLine(Rates):
    """One number's share of the messages, and its rates."""

    label: str
    sent: int  # sent, as Tally counts it (delivered and read included)
    delivered: int
    read: int
    failed: int


@dataclass(frozen=True, slots=True)
class Chart:
    stats: Stats
    series: Series
    numbers: tuple[NumberLine, ...]


def _stats(counts: dict[str, int], reasons: list[tuple[str, int, str | None, int]],
           **extra: object) -> Stats:
    # the counting rule every campaign screen uses too
    return Stats.of(counts, reasons=tuple(FailureReason(*row) for row in reasons), **extra)


class AnalyticsService:
    def __init__(self, db: Database, default_timezone: str = "Asia/Baku") -> None:
        self._db = db
        self._default_timezone = default_timezone

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
        return _stats(counts, reasons, campaign=found,
                      replied=await repo.replied(conn, owner_id, campaign_id))

    async def chart(self, owner_id: int, campaign_id: int | None = None) -> Chart | None:
        """What a chart of the owner's messages (or one campaign's) shows; None while
        nothing was sent or failed yet. NotFound for anyone else's campaign."""
        stats = (await self.overall(owner_id) if campaign_id is None
                 else await self.campaign(owner_id, campaign_id))
        conn = self._db.reader
        span = await repo.event_span(conn, owner_id, campaign_id)
        if span is None:
            return None
        first, last = span
        owner = await owners.get(conn, owner_id)
        zone = ZoneInfo(zones.owner_zone(owner, self._default_timezone))
        since = max(first, last - CHART_DAYS * DAY)
        hourly = last - since <= HOURLY_UP_TO
        bounds = _points(since, last, zone, hourly)
        points = len(bounds) - 1
        sums = [[0] * points for _ in range(4)]
        for slot, *events in await repo.timeline(conn, owner_id, campaign_id, since=bounds[0],
                                                 until=bounds[-1], step=SLOT):
            at = bisect_right(bounds, bounds[0] + slot * SLOT) - 1
            for kind, n in enumerate(events):
                sums[kind][at] += n
        series = Series(
            starts=tuple(datetime.fromtimestamp(b, zone) for b in bounds[:-1]), hourly=hourly,
            sent=tuple(sums[0]), delivered=tuple(sums[1]), read=tuple(sums[2]),
            failed=tuple(sums[3]))
        numbers = tuple(NumberLine(*row) for row in
                        await repo.by_sender(conn, owner_id, campaign_id))
        return Chart(stats, series, numbers)


def _points(since: float, last: float, zone: ZoneInfo, hourly: bool) -> list[float]:
    """Boundaries (UTC epoch seconds) of the local hours, or days, from the one holding
    ``since`` to the one holding ``last``: one more boundary than points."""
    local = datetime.fromtimestamp(since, zone)
    if hourly:
        start = local.replace(minute=0, second=0, microsecond=0).timestamp()
        count = int((last - start) // HOUR) + 1
        return [start + k * HOUR for k in range(count + 1)]
    day = local.date()
    bounds: list[float] = []
    while not bounds or bounds[-1] <= last:
        bounds.append(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())
        day += timedelta(days=1)
    return bounds
