"""Ban post-mortems: when a number is banned or restricted, a short account of its last
48 hours, sent to its owner and kept for /numbers.

``build(facts, now)`` is a pure function of what the number did (``Facts``: its sends with
their recipients, failures by reason, replies, opt-outs, its warm-up, the health guard's
warnings) and the clock. It returns a ``PostMortem``: the figures (messages sent and to how
many new chats, pace: median and shortest gap and the most sends in any hour, failures and
their reasons, numbers not on WhatsApp hit, replies and opt-outs, warm-up day, warnings)
and what the safe plan (``bot/services/risk.py``: random 30-60 s gaps, batches of at most
50 with 15-minute rests, no messages at night in the recipient's own zone, the warm-up's
caps) would have done differently, each a code and its figures (catalog keys
``postmortem.diff.<code>``).

``PostMortems`` gathers the facts (``bot/storage/post_mortems.py``, one aggregate query
each; the warnings from ``bot/storage/health.py``), builds and keeps the report; the
sender events (``bot/services/sender_events.py``) call it after a loss.
"""

from __future__ import annotations

import itertools
import logging
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock, utcnow
from bot.services import risk, zones
from bot.services.planning import DailyCap
from bot.services.sending import SendingPolicy
from bot.storage import health, owners, senders
from bot.storage import post_mortems as repo
from bot.storage.db import Database
from bot.storage.post_mortems import StoredPostMortem

log = logging.getLogger(__name__)

WINDOW = 48 * 3600.0  # the hours before the loss a post-mortem looks at
HOUR = 3600.0
# What the safe plan keeps to (risk.py's): the shortest gap, a batch's size and the rest
# that ends a batch (a gap this long or longer counts as a rest).
SAFE_GAP = risk.SAFE_PLAN_DELAY[0]
SAFE_BATCH = risk.SAFE_PLAN_BATCH
SAFE_REST = risk.SAFE_PLAN_PAUSE[0]
NIGHT_ZONES_SHOWN = 3
# Failures that mean the recipient is not on WhatsApp although a message went to it (the
# dispatcher's own check, "not_on_whatsapp", fails a message without sending it).
NOT_ON_WHATSAPP_HIT = "recipient_invalid"
# Every difference's code (``postmortem.diff.<code>``), in the order they are listed.
DIFFERENCES = ("short_gaps", "no_rests", "night", "warmup_new_chats", "warmup_sends",
               "not_on_whatsapp")


@dataclass(frozen=True, slots=True)
class Send:
    at: float  # UTC epoch seconds
    phone: str  # the recipient's, E.164
    new_chat: bool  # the number never sent to this phone before the window


@dataclass(frozen=True, slots=True)
class Facts:
    state: str  # banned | restricted
    sends: Sequence[Send]  # the window's, ascending by ``at``
    cap: DailyCap  # the number's cap and warm-up (``recent`` unused)
    failures: Mapping[str, int] = field(default_factory=dict)  # reason -> messages
    replies: int = 0
    repliers: int = 0
    opt_outs: int = 0
    warnings: Sequence[tuple[float, str]] = ()  # (at, kind), ascending
    zone: str = "UTC"  # the owner's: a recipient whose zone is unknown is judged by it


@dataclass(frozen=True, slots=True)
class Difference:
    """One thing the safe plan would have done otherwise: ``code`` and its figures."""

    code: str
    params: Mapping[str, int | str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PostMortem:
    state: str
    at: float  # when it was lost
    hours: int  # the window looked at
    sent: int
    recipients: int
    new_chats: int
    gap_median: float | None  # seconds; None with fewer than two sends
    gap_min: float | None
    peak_hour: int  # the most sends in any 60 minutes
    failed: int
    failures: tuple[tuple[str, int], ...]  # reason, messages; most first
    not_on_whatsapp: int  # messages sent to numbers that turned out not to be on WhatsApp
    replies: int
    repliers: int
    opt_outs: int
    warmup_day: int | None  # at the loss; None: warmed up
    age_days: int  # days since it was linked, 1-based
    warnings: tuple[tuple[float, str], ...]
    differences: tuple[Difference, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state, "at": self.at, "hours": self.hours, "sent": self.sent,
            "recipients": self.recipients, "new_chats": self.new_chats,
            "gap_median": self.gap_median, "gap_min": self.gap_min,
            "peak_hour": self.peak_hour, "failed": self.failed,
            "failures": [list(f) for f in self.failures],
            "not_on_whatsapp": self.not_on_whatsapp, "replies": self.replies,
            "repliers": self.repliers, "opt_outs": self.opt_outs,
            "warmup_day": self.warmup_day, "age_days": self.age_days,
            "warnings": [list(w) for w in self.warnings],
            "differences": [{"code": d.code, "params": dict(d.params)}
                            for d in self.differences],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PostMortem:
        return cls(
            state=str(data["state"]), at=float(data["at"]), hours=int(data["hours"]),
            sent=int(data["sent"]), recipients=int(data["recipients"]),
            new_chats=int(data["new_chats"]), gap_median=data.get("gap_median"),
            gap_min=data.get("gap_min"), peak_hour=int(data["peak_hour"]),
            failed=int(data["failed"]),
            failures=tuple((str(c), int(n)) for c, n in data.get("failures", ())),
            not_on_whatsapp=int(data.get("not_on_whatsapp", 0)),
            replies=int(data.get("replies", 0)), repliers=int(data.get("repliers", 0)),
            opt_outs=int(data.get("opt_outs", 0)), warmup_day=data.get("warmup_day"),
            age_days=int(data.get("age_days", 1)),
            warnings=tuple((float(a), str(k)) for a, k in data.get("warnings", ())),
            differences=tuple(Difference(str(d["code"]), dict(d.get("params", {})))
                              for d in data.get("differences", ())),
        )


def build(facts: Facts, now: datetime) -> PostMortem:
    """The account of the number's last ``WINDOW`` before ``now`` (see the module
    docstring)."""
    ts = now.timestamp()
    times = [s.at for s in facts.sends]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    phones = {s.phone for s in facts.sends}
    new = {s.phone for s in facts.sends if s.new_chat}
    failures = tuple(sorted(facts.failures.items(), key=lambda f: (-f[1], f[0])))
    _cap, warmup_day, _until = facts.cap.at(ts)
    return PostMortem(
        state=facts.state, at=ts, hours=round(WINDOW / HOUR), sent=len(times),
        recipients=len(phones), new_chats=len(new),
        gap_median=float(statistics.median(gaps)) if gaps else None,
        gap_min=min(gaps) if gaps else None, peak_hour=_peak(times, HOUR),
        failed=sum(facts.failures.values()), failures=failures,
        not_on_whatsapp=facts.failures.get(NOT_ON_WHATSAPP_HIT, 0),
        replies=facts.replies, repliers=facts.repliers, opt_outs=facts.opt_outs,
        warmup_day=warmup_day, age_days=max(0, int((ts - facts.cap.linked) // 86400)) + 1,
        warnings=tuple(facts.warnings), differences=tuple(differences(facts, gaps)))


def _peak(times: Sequence[float], width: float) -> int:
    """The most of ``times`` (ascending) inside any window of ``width`` seconds."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= width:
            start += 1
        best = max(best, end - start + 1)
    return best


def _is_night(local: time) -> bool:
    return local >= risk.NIGHT_START or local < risk.NIGHT_END


def _zone(phone: str, fallback: ZoneInfo, known: dict[str, ZoneInfo]) -> ZoneInfo:
    """The recipient's zone from its phone (cached by its first digits, as the pre-flight
    check groups them)."""
    key = phone[:6]
    zone = known.get(key)
    if zone is None:
        name = risk.phone_zone(phone)
        try:
            zone = fallback if name == risk.UNKNOWN_ZONE else ZoneInfo(name)
        except (ValueError, KeyError):
            zone = fallback
        known[key] = zone
    return zone


def differences(facts: Facts, gaps: Sequence[float]) -> list[Difference]:
    """What the safe plan would have done otherwise, in the order the owner reads them."""
    found: list[Difference] = []
    short = sum(1 for g in gaps if g < SAFE_GAP)
    if short:
        found.append(Difference("short_gaps", {"count": short, "safe": f"{SAFE_GAP:g}"}))
    runs, run = [], 1
    for g in gaps:
        if g >= SAFE_REST:
            runs.append(run)
            run = 1
        else:
            run += 1
    if facts.sends:
        runs.append(run)
    long_runs = [r for r in runs if r > SAFE_BATCH]
    if long_runs:
        found.append(Difference("no_rests", {"count": len(long_runs), "longest": max(long_runs),
                                             "batch": SAFE_BATCH,
                                             "rest": round(SAFE_REST / 60)}))
    fallback = _fallback(facts.zone)
    known: dict[str, ZoneInfo] = {}
    night: Counter[str] = Counter()
    for s in facts.sends:
        zone = _zone(s.phone, fallback, known)
        if _is_night(datetime.fromtimestamp(s.at, zone).time()):
            night[zone.key] += 1
    if night:
        zones = ", ".join(z for z, _n in night.most_common(NIGHT_ZONES_SHOWN))
        found.append(Difference("night", {"count": sum(night.values()), "zones": zones}))
    per_day: Counter[int] = Counter()
    new_per_day: Counter[int] = Counter()
    caps: dict[int, int] = {}
    for s in facts.sends:
        cap, day, _until = facts.cap.at(s.at)
        if day is None:
            continue
        caps[day] = cap
        per_day[day] += 1
        new_per_day[day] += s.new_chat
    for day in sorted(caps):
        if new_per_day[day] > caps[day]:
            found.append(Difference("warmup_new_chats", {"count": new_per_day[day],
                                                         "day": day, "cap": caps[day]}))
        elif per_day[day] > caps[day]:
            found.append(Difference("warmup_sends", {"count": per_day[day], "day": day,
                                                     "cap": caps[day]}))
    hit = facts.failures.get(NOT_ON_WHATSAPP_HIT, 0)
    if hit:
        found.append(Difference("not_on_whatsapp", {"count": hit}))
    return found


def _fallback(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


class PostMortems:
    """Gathers a lost number's facts, builds its post-mortem and keeps it."""

    def __init__(self, db: Database, sending: SendingPolicy | None = None,
                 clock: Clock = utcnow, default_zone: str = "UTC") -> None:
        self._db = db
        self._sending = sending or SendingPolicy()
        self._clock = clock
        self._default_zone = default_zone

    async def facts(self, owner_id: int, sender_id: int, state: str) -> Facts | None:
        conn = self._db.reader
        sender = await senders.get_any(conn, sender_id)
        if sender is None or sender.owner_id != owner_id:
            return None
        since = self._clock().timestamp() - WINDOW
        sent = await repo.sends(conn, sender_id, since)
        replies, repliers = await repo.replies(conn, sender_id, since)
        warnings = await health.warnings(conn, sender_id, since)
        owner = await owners.get(conn, owner_id)
        zone = zones.owner_zone(owner, self._default_zone)
        return Facts(
            state=state, sends=[Send(at, phone, new) for at, phone, new in sent],
            cap=self._sending.cap_of(sender), failures=await repo.failures(conn, sender_id,
                                                                           since),
            replies=replies, repliers=repliers,
            opt_outs=await repo.opt_outs(conn, owner_id, sender_id, since),
            warnings=[(w.at.timestamp(), w.kind) for w in warnings], zone=zone)

    async def record(self, owner_id: int, sender_id: int, state: str) -> PostMortem | None:
        """Build and keep the number's post-mortem (``None``: not the owner's number)."""
        facts = await self.facts(owner_id, sender_id, state)
        if facts is None:
            return None
        report = build(facts, self._clock())
        async with self._db.transaction() as tx:
            await repo.save(tx, owner_id, sender_id, state, report.at, report.to_json())
        return report

    async def latest(self, owner_id: int, sender_id: int) -> PostMortem | None:
        """The owner's latest post-mortem of the number (another owner's: ``None``)."""
        found = await repo.list_for(self._db.reader, owner_id, sender_id, limit=1)
        return PostMortem.from_json(found[0].report) if found else None

    async def list(self, owner_id: int, sender_id: int) -> list[StoredPostMortem]:
        return await repo.list_for(self._db.reader, owner_id, sender_id)

    async def senders_with(self, owner_id: int) -> set[int]:
        return await repo.senders_with(self._db.reader, owner_id)
