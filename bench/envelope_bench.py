"""The envelope: DAYS (default 30) of a new number sending on the defaults, simulated.

    python bench/envelope_bench.py [DAYS] [RECIPIENTS] [--preset NAME]
    (defaults 30, 25,000 and "normal", the API's default pace and the chat's custom one)

An owner in Baku links a new sandbox number and, that same morning, confirms one large
campaign (RECIPIENTS people in five zones, in turn: Baku +994, Moscow +7 495, New York
+1 212, Los Angeles +1 213, Tokyo +81 3; nobody ever messaged before, so every first
message is a new chat) on the defaults: the default warm-up and daily cap
(``bot/services/sending.py``), the preset's pace (random 30-60 s gaps, its quiet hours in
the owner's zone, the night held in each recipient's). The real campaigns service plans
it, the real dispatcher sends it through the sandbox gateway on a temporary SQLite file;
the clock is a fake one moved event by event (to the next planned message or the end of
the number's gap, whichever is later), never real time, so a month takes a minute or two.

Printed per day of the number (day 1 = its first 24 hours after linking): its cap that
day, new chats (first messages to a phone), messages, the worst (shortest) gap between two
of its sends, and the sends that arrived at night (22:00-08:00) in the recipient's own
zone (target 0); then the totals, and whether any 24 hours held more than the cap.
``simulate`` is what ``tests/unit/test_envelope.py`` runs for a shorter spell.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.domain import Language, LedgerKind, SenderStatus  # noqa: E402
from bot.gateways.sandbox import SandboxConfig, SandboxGateway  # noqa: E402
from bot.services.campaigns import CampaignsConfig, CampaignsService  # noqa: E402
from bot.services.dispatcher import Dispatcher, DispatcherConfig  # noqa: E402
from bot.services.planning import DAY, NIGHT, PRESETS, DailyCap  # noqa: E402
from bot.services.risk import phone_zone  # noqa: E402
from bot.services.sending import DAILY_CAP, WARMUP  # noqa: E402
from bot.services.templates import TemplatesService  # noqa: E402
from bot.storage import contacts, ledger, lists, owners, senders, templates  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from tests.fakes import FakeClock, RecordingNotifier  # noqa: E402

# 09:00 in Baku: the owner links the number and confirms the campaign
START = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)
ZONES = (  # (what, the phone of the n-th recipient of the zone)
    ("Baku", lambda n: f"+99450{n:07d}"),
    ("Moscow", lambda n: f"+7495{n:07d}"),
    ("New York", lambda n: f"+1212{2_000_000 + n:07d}"),
    ("Los Angeles", lambda n: f"+1213{2_000_000 + n:07d}"),
    ("Tokyo", lambda n: f"+813{10_000_000 + n:08d}"),
)


@dataclass(slots=True)
class Day:
    day: int  # 1-based, since the number was linked
    cap: int
    new_chats: int = 0
    messages: int = 0
    worst_gap: float | None = None  # seconds; None: fewer than two sends so far
    night: int = 0  # arrived at night in the recipient's zone


@dataclass(slots=True)
class Result:
    days: list[Day] = field(default_factory=list)
    over_cap: int = 0  # sends that made some 24 hours hold more than the cap
    ticks: int = 0
    seconds: float = 0.0  # wall time of the simulation

    @property
    def messages(self) -> int:
        return sum(d.messages for d in self.days)

    @property
    def new_chats(self) -> int:
        return sum(d.new_chats for d in self.days)

    @property
    def night(self) -> int:
        return sum(d.night for d in self.days)

    @property
    def worst_gap(self) -> float | None:
        gaps = [d.worst_gap for d in self.days if d.worst_gap is not None]
        return min(gaps) if gaps else None


async def _setup(db: Database, now: datetime, recipients: int) -> tuple[int, int, int]:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN, now=now)
        await senders.add(tx, owner_id=owner.id, gateway="sandbox", phone="+994500000001",
                          status=SenderStatus.ACTIVE, now=now)  # linked now: a new number
        people = await lists.create(tx, owner.id, "everyone", now)
        rows = [(ZONES[n % len(ZONES)][1](n // len(ZONES)), f"Name {n}", "{}")
                for n in range(recipients)]
        await contacts.upsert(tx, owner.id, rows, now)
        await contacts.add_to_list(tx, owner.id, people.id, [r[0] for r in rows], now)
        template = await templates.add(
            tx, owner.id, "news",
            ["{Salam|Hello|Hi} {{name}}, {our news|news from us|this week} {is here|inside}",
             "{Good day|Greetings} {{name}}: {the news|what is new} {is out|for you}"],
            None, None, now)
        await ledger.add(tx, owner.id, LedgerKind.CREDIT, recipients, now)
    return owner.id, people.id, template.id


async def _next_event(db: Database, now: float, gap: float) -> float:
    """The next moment the dispatcher has something to do: the earliest queued message of
    a campaign (its planned time, after any hold or deferral), not before the number's gap
    since its last send."""
    async with db.reader.execute(
            "SELECT MIN(m.planned_at) FROM messages m JOIN campaigns c ON c.id = m.campaign_id"
            " WHERE m.status = 'queued' AND c.status IN ('running', 'scheduled')") as cur:
        row = await cur.fetchone()
    planned = row[0] if row and row[0] is not None else now + DAY
    async with db.reader.execute(  # the one number's: its (sender_id, sent_at) index
            "SELECT MAX(sent_at) FROM messages WHERE sender_id = 1") as cur:
        row = await cur.fetchone()
    last = row[0] if row and row[0] is not None else -1.0
    return max(planned, last + gap)


async def simulate(days: int = 30, recipients: int = 25_000, preset: str = "normal",
                   directory: Path | None = None) -> Result:
    """``days`` of the number on the defaults (module docstring); the figures per day."""
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        db = Database(Path(tmp) / "envelope.sqlite3")
        await db.connect()
        clock = FakeClock(START)
        gateway = SandboxGateway(SandboxConfig(delivery_delay=0, read_delay=0,
                                               invalid_share=0))
        try:
            service = CampaignsService(db, CampaignsConfig(advice_max=100), clock)
            dispatcher = Dispatcher(db, gateway,  # type: ignore[arg-type]  # no Meta templates
                                    TemplatesService(db, clock),
                                    RecordingNotifier(),
                                    DispatcherConfig(progress_every=3600.0), clock,
                                    campaigns_service=service)
            owner_id, list_id, template_id = await _setup(db, clock(), recipients)
            await service.begin(owner_id)
            await service.choose_list(owner_id, list_id)
            await service.choose_template(owner_id, template_id)
            await service.senders_chosen(owner_id)
            await service.start_now(owner_id)
            await service.use_preset(owner_id, preset)
            await service.confirm(owner_id, big_ok=True)  # the owner's second yes
            gap = PRESETS[preset].delay_min
            end = (START + timedelta(days=days)).timestamp()
            started = time.perf_counter()
            ticks, idle = 0, 1.0
            while (now := clock().timestamp()) < end:
                report = await dispatcher.tick()
                ticks += 1
                following = await _next_event(db, now, gap)
                if report.claimed or following > now + 1:
                    idle = 1.0
                else:  # nothing it could do at that moment: look again a little later
                    idle = min(idle * 2, 600.0)
                following = max(following, now + idle)
                clock.now = datetime.fromtimestamp(min(following, end), UTC)
            seconds = time.perf_counter() - started
            await dispatcher.close()
            async with db.reader.execute(
                    "SELECT phone, sent_at FROM messages WHERE sent_at IS NOT NULL"
                    " ORDER BY sent_at") as cur:
                sends = [(r[0], r[1]) async for r in cur]
        finally:
            await gateway.close()
            await db.close()
    result = _figures(sends, days)
    result.ticks, result.seconds = ticks, seconds
    return result


def _figures(sends: list[tuple[str, float]], days: int) -> Result:
    linked = START.timestamp()
    cap = DailyCap(DAILY_CAP, linked, WARMUP)
    result = Result([Day(d + 1, cap.at(linked + d * DAY + 1)[0]) for d in range(days)])
    zones: dict[str, ZoneInfo] = {}
    seen: set[str] = set()
    window: list[float] = []
    low = 0
    previous: float | None = None
    for phone, at in sends:
        day = result.days[min(days - 1, int((at - linked) // DAY))]
        day.messages += 1
        if phone not in seen:
            seen.add(phone)
            day.new_chats += 1
        if previous is not None:
            gap = at - previous
            day.worst_gap = gap if day.worst_gap is None else min(day.worst_gap, gap)
        previous = at
        zone = zones.get(phone[:7])
        if zone is None:
            zone = zones[phone[:7]] = ZoneInfo(phone_zone(phone))
        if NIGHT.contains(datetime.fromtimestamp(at, zone).time()):
            day.night += 1
        window.append(at)  # no 24 hours ending at a send hold more than the cap then
        while window[low] <= at - DAY:
            low += 1
        if len(window) - low > cap.at(at)[0]:
            result.over_cap += 1
    return result


def _report(result: Result, recipients: int, preset: str) -> None:
    print(f"a new number on the defaults: warm-up {','.join(map(str, WARMUP))} then "
          f"{DAILY_CAP:,} a day; preset {preset!r} "
          f"({PRESETS[preset].delay_min:g}-{PRESETS[preset].delay_max:g} s gaps, the night "
          f"held in each recipient's zone: {PRESETS[preset].recipient_night}); one campaign "
          f"of {recipients:,} in 5 zones, confirmed on day 1 at 09:00 Baku")
    print(f"{'day':>4} {'cap':>6} {'new chats':>10} {'messages':>9} {'worst gap':>10} "
          f"{'night sends':>12}")
    for d in result.days:
        gap = f"{d.worst_gap:.1f} s" if d.worst_gap is not None else "-"
        print(f"{d.day:>4} {d.cap:>6} {d.new_chats:>10,} {d.messages:>9,} {gap:>10} "
              f"{d.night:>12}")
    gap = f"{result.worst_gap:.1f} s" if result.worst_gap is not None else "-"
    print(f"total: {result.messages:,} messages, {result.new_chats:,} new chats, worst gap "
          f"{gap}, {result.night} sent at night in the recipient's zone (target 0), "
          f"{result.over_cap} over the 24-hour cap (target 0); {result.ticks:,} ticks "
          f"simulated in {result.seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("days", nargs="?", type=int, default=30)
    parser.add_argument("recipients", nargs="?", type=int, default=25_000)
    parser.add_argument("--preset", default="normal", choices=sorted(PRESETS))
    args = parser.parse_args()
    result = asyncio.run(simulate(args.days, args.recipients, args.preset))
    _report(result, args.recipients, args.preset)


if __name__ == "__main__":
    main()
