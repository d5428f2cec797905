"""What admins see of the money: ``/sales`` (revenue per day and per month by way of
paying, the transfers waiting for a confirmation, the owners who bought most) and
``/owner <n>`` (one owner's status, balance, credits with their expiry, orders and
campaigns). Admins only: anyone else is refused (``NotAllowed("not_admin")``).

Days and months are the platform's (``DEFAULT_TIMEZONE``). Stars and money are never
added together: each way of paying has its own figures (Stars in Stars, transfers in
their currency), and the top owners are ranked by the credits they bought, the one
measure both share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock, utcnow
from bot.domain import Balance, Owner
from bot.errors import NotFound, ValidationError
from bot.i18n import STARS
from bot.services import guards, zones
from bot.services.accounts import normalise_phone
from bot.services.billing import BillingService
from bot.storage import ledger, owners, sales
from bot.storage.db import Database
from bot.storage.lots import Lot
from bot.storage.sales import CampaignLine, OrderView, Revenue, Spender

DAYS = 14
MONTHS = 6
TOP = 10
WAITING_SHOWN = 10
OWNER_ORDERS = 8
OWNER_CAMPAIGNS = 5


@dataclass(frozen=True, slots=True)
class Period:
    """A day or a month (``start``: its first moment, in the platform's zone) and what its
    paid orders brought, per method and currency."""

    start: datetime
    totals: tuple[Revenue, ...] = ()


@dataclass(frozen=True, slots=True)
class SalesOverview:
    zone: str
    days: list[Period]  # the latest first
    months: list[Period]  # the latest first
    waiting: list[OrderView]  # the oldest first
    waiting_count: int
    top: list[Spender]


@dataclass(frozen=True, slots=True)
class LotLine:
    lot: Lot
    package_name: str | None


@dataclass(frozen=True, slots=True)
class OwnerCard:
    owner: Owner
    zone: str  # the owner's
    balance: Balance
    lots: list[LotLine] = field(default_factory=list)  # the order they are spent in
    orders: list[OrderView] = field(default_factory=list)  # the latest first
    campaigns: list[CampaignLine] = field(default_factory=list)  # the latest first


class SalesService:
    def __init__(self, db: Database, billing: BillingService, admin_ids: frozenset[int], *,
                 default_timezone: str, default_region: str, clock: Clock = utcnow) -> None:
        self._db = db
        self._billing = billing
        self._admin_ids = admin_ids
        self._zone = default_timezone
        self._region = default_region
        self._clock = clock


    async def overview(self, admin_id: int) -> SalesOverview:
        guards.require_admin(self._admin_ids, admin_id)
        tz = ZoneInfo(self._zone)
        today = self._clock().astimezone(tz).date()
        day_starts = [datetime(d.year, d.month, d.day, tzinfo=tz)
                      for d in (today - timedelta(days=n) for n in range(DAYS))]
        day_spans = [(start, _next_day(start)) for start in day_starts]
        month_starts = [datetime(today.year, today.month, 1, tzinfo=tz)]
        for _ in range(MONTHS - 1):
            month_starts.append(_month_before(month_starts[-1]))
        month_spans = [(start, _month_after(start)) for start in month_starts]
        reader = self._db.reader
        found = await sales.revenue(reader, [*day_spans, *month_spans])
        periods = [Period(start, tuple(r for r in found if r.span == n))
                   for n, (start, _end) in enumerate([*day_spans, *month_spans])]
        waiting, count = await sales.waiting(reader, WAITING_SHOWN)
        return SalesOverview(self._zone, periods[:DAYS], periods[DAYS:], waiting, count,
                             await sales.top_spenders(reader, TOP))

    async def find_owner(self, admin_id: int, query: str) -> Owner:
        """The owner an admin means: ``12`` or ``#12`` (the owner number), a Telegram id,
        or a phone number (``+994501234567``, or as the owner's region writes it)."""
        guards.require_admin(self._admin_ids, admin_id)
        text = query.strip()
        reader = self._db.reader
        digits = text.lstrip("#")
        if digits.isdigit() and not text.startswith("+"):
            found = (await owners.get(reader, int(digits))
                     or await owners.get_by_telegram(reader, int(digits)))
            if found is not None or text.startswith("#"):
                if found is None:
                    raise NotFound("owner", owner_id=int(digits))
                return found
        try:
            phone = normalise_phone(text, self._region)
        except ValidationError:  # no phone number either
            phone = None
        owner_id = await sales.owner_id_by_phone(reader, phone) if phone else None
        owner = await owners.get(reader, owner_id) if owner_id is not None else None
        if owner is None:
            raise NotFound("owner_query", query=text)
        return owner

    async def owner_card(self, admin_id: int, query: str) -> OwnerCard:
        owner = await self.find_owner(admin_id, query)
        reader = self._db.reader
        lots = await self._billing.credit_lots(owner.id)
        names = await sales.package_names(
            reader, sorted({lot.package_id for lot in lots if lot.package_id is not None}))
        return OwnerCard(
            owner=owner, zone=zones.owner_zone(owner, self._zone),
            balance=await ledger.balance(reader, owner.id),
            lots=[LotLine(lot, names.get(lot.package_id) if lot.package_id else None)
                  for lot in lots],
            orders=await sales.owner_orders(reader, owner.id, OWNER_ORDERS),
            campaigns=await sales.owner_campaigns(reader, owner.id, OWNER_CAMPAIGNS))


def _next_day(start: datetime) -> datetime:
    """Midnight of the next day in the same zone (23 or 25 hours later across a change of
    the clocks)."""
    day = (start + timedelta(days=1)).date()
    return datetime(day.year, day.month, day.day, tzinfo=start.tzinfo)


def _month_after(start: datetime) -> datetime:
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return datetime(year, month, 1, tzinfo=start.tzinfo)


def _month_before(start: datetime) -> datetime:
    year, month = (start.year - 1, 12) if start.month == 1 else (start.year, start.month - 1)
    return datetime(year, month, 1, tzinfo=start.tzinfo)


@dataclass(frozen=True, slots=True)
class ChartText:
    """The chart's words (plain text, filled from the catalogs by the caller)."""

    title: str
    transfers: str  # the left axis and its bars: money (transfers)
    stars: str  # the right axis and its bars: Telegram Stars
    labels: tuple[str, ...]  # one per day, in the order of the days


def revenue_chart(days: list[Period], text: ChartText) -> bytes:
    """Revenue per day as a PNG: transfers (money, in major units) and Stars side by side,
    each on its own axis (they are never added up). ``days`` the latest first, as
    ``SalesOverview.days``. CPU work: call it in a worker thread."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ordered = list(reversed(days))
    money = [sum(t.amount_minor for t in p.totals if t.currency != STARS) / 100
             for p in ordered]
    stars = [sum(t.amount_minor for t in p.totals if t.currency == STARS) for p in ordered]
    x = list(range(len(ordered)))
    figure = Figure(figsize=(9.0, 4.2), dpi=110, layout="constrained")
    left = figure.subplots(1, 1)
    right = left.twinx()
    left.bar([i - 0.2 for i in x], money, width=0.4, color="#4C78A8", label=text.transfers)
    right.bar([i + 0.2 for i in x], stars, width=0.4, color="#F2A900", label=text.stars)
    left.set_xticks(x, list(reversed(text.labels)), fontsize=8)
    left.set_ylabel(text.transfers)
    right.set_ylabel(text.stars)
    left.set_ylim(0, max((*money, 1)) * 1.25)
    right.set_ylim(0, max((*stars, 1)) * 1.25)
    left.set_title(text.title, loc="left", fontsize=12, fontweight="bold")
    left.grid(axis="y", alpha=0.3)
    handles = [*left.get_legend_handles_labels()[0], *right.get_legend_handles_labels()[0]]
    left.legend(handles, [text.transfers, text.stars], loc="upper left", fontsize=8,
                frameon=False, ncols=2)
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()
