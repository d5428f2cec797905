"""The pre-flight check: how likely a campaign is to get its numbers restricted or banned.

``assess`` is a pure function of the campaign's facts (``CampaignFacts``: its recipients,
texts, pace and planned window), its numbers' history (``NumberFacts``) and the clock. It
returns a ``Risk``: a level (low, medium, high) and the reasons that raised it, each a code
and its figures; the chat and the API say them in words (catalog keys
``risk.reason.<code>``). The facts are gathered by ``CampaignsService`` (one aggregate
query each, ``bot/storage/risk.py``).

What raises the risk comes from the platform's advice and the public evidence on bans: more
recipients than the numbers may send today (their warm-up and daily cap), lists of people
never messaged before or not known to be on WhatsApp, the same text to a whole batch,
links, gaps shorter than WAHA's 30-60 s guidance, messages that arrive at night in the
recipient's own time zone, young numbers and numbers whose recent messages fail or get
them restricted; for Cloud API numbers, Meta's messaging-limit tier and quality rating.
Every threshold is a named constant below.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import IntEnum
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers.timezone import time_zones_for_number

from bot.errors import Conflict
from bot.services.planning import DAY, NIGHT, DailyCap, Pacing, QuietHours

# --- thresholds --------------------------------------------------------------------------
# More recipients than the numbers may send in the 24 hours from the start: the plan
# spreads it over days (medium); this many times over: a list far beyond what the numbers
# have earned (high).
ROOM_HIGH_FACTOR = 3
# Share of recipients the owner never messaged from any number: cold outreach is what
# people report as spam. Medium from this share; high from the second one when there are
# also more than NEW_HIGH_MIN of them (a handful of new customers is normal business).
NEW_SHARE_MEDIUM = 0.5
NEW_SHARE_HIGH = 0.9
NEW_HIGH_MIN = 100
# Share of recipients not known (checked in the last 30 days) to be on WhatsApp: bursts to
# numbers that are not on it are a ban signal. Same shape as above.
UNCHECKED_SHARE_MEDIUM = 0.5
UNCHECKED_SHARE_HIGH = 0.9
UNCHECKED_HIGH_MIN = 100
# Distinct texts a batch can carry (variants x spintax, at most the batch's size): fewer
# than this and many recipients of a batch read the very same words (medium); a single
# text for more than SAME_TEXT_HIGH_MIN recipients: high.
TEXTS_MIN = 5
SAME_TEXT_HIGH_MIN = 100
# WAHA's guidance: random gaps of 30-60 s between two messages of a number. Shorter than
# this: medium; shorter than PACE_HIGH_DELAY or batches over PACE_HIGH_BATCH (the
# platform's advice; the wizard's own "risky pace"): high.
PACE_SAFE_DELAY = 30.0
PACE_HIGH_DELAY = 3.0
PACE_HIGH_BATCH = 100
# Night in the recipient's own zone (local time), and the share of the messages planned in
# it that raises the risk to medium, and to high when that is also more than
# NIGHT_HIGH_MIN messages (a few late notices annoy; many are a spam pattern).
NIGHT_START, NIGHT_END = NIGHT.start, NIGHT.end  # 22:00-08:00 (planning.NIGHT)
NIGHT_SHARE_MEDIUM = 0.05
NIGHT_SHARE_HIGH = 0.5
NIGHT_HIGH_MIN = 50
NIGHT_SAMPLES = 96  # instants of the planned window looked at (every 15 min of a day)
# A number younger than this (days since linked) is still earning its reputation: medium.
YOUNG_DAYS = 7
# A number's messages of the last RECENT_DAYS: failures (any reason) and refusals that
# restrict it (blocked, banned, rejected). Looked at from RATE_MIN_ATTEMPTS messages on.
RECENT_DAYS = 7
RATE_MIN_ATTEMPTS = 20
FAILURE_RATE_MEDIUM = 0.1
FAILURE_RATE_HIGH = 0.25
BLOCK_RATE_MEDIUM = 0.02
BLOCK_RATE_HIGH = 0.05
# Cloud API numbers: Meta's quality rating.
QUALITY_MEDIUM = "YELLOW"
QUALITY_HIGH = "RED"
# The live health guard's mode of a number (bot/services/health_guard.py, stored in
# sender_guard): slowed after a warning (medium); no new chats (high when the campaign has
# recipients the owner never messaged: the dispatcher holds their messages); paused (high).
MODE_NORMAL = "normal"
MODE_SLOWED = "slowed"
MODE_NO_NEW_CHATS = "no_new_chats"
MODE_PAUSED = "paused"


class Level(IntEnum):
    LOW = 0
    MEDIUM = 1
    HIGH = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Reason:
    """What raised the risk: ``code`` (``risk.reason.<code>`` in the catalogs), the level it
    raises it to, and its figures (``params``, as the catalog text names them)."""

    code: str
    level: Level
    params: Mapping[str, int | str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Risk:
    level: Level
    reasons: tuple[Reason, ...] = ()

    @property
    def high(self) -> bool:
        return self.level is Level.HIGH


class HighRisk(Conflict):
    """A campaign asked for in one go (the HTTP API) whose risk is high, without the
    owner's explicit yes (the chat's second confirmation): nothing was written."""

    code = "high_risk"

    def __init__(self, risk: Risk) -> None:
        super().__init__("high_risk")
        self.risk = risk


@dataclass(frozen=True, slots=True)
class NumberFacts:
    """One of the campaign's numbers and its history."""

    label: str
    cap: DailyCap  # its cap, warm-up and what already counts against it
    attempts: int = 0  # messages it tried in the last RECENT_DAYS (sent or failed)
    failed: int = 0  # of them, failed
    blocked: int = 0  # of them, refused in a way that restricts the number
    tier: int | None = None  # Cloud API: unique users a day Meta allows, if known
    quality: str | None = None  # Cloud API: GREEN / YELLOW / RED, if known
    mode: str = MODE_NORMAL  # the health guard's: normal, slowed, no_new_chats, paused


@dataclass(frozen=True, slots=True)
class CampaignFacts:
    recipients: int
    never_messaged: int  # recipients the owner never sent a message to
    unchecked: int  # recipients not known to be on WhatsApp
    distinct_texts: int  # texts the template can make (variants x spintax)
    texts_with_links: int  # variants with a link
    pacing: Pacing
    first: datetime  # the planned window: the first and the last message (estimated)
    finish: datetime
    owner_zone: ZoneInfo  # where the pace's quiet hours are held
    zones: Sequence[tuple[str, int]] = ()  # (a recipient zone, its recipients)
    numbers: Sequence[NumberFacts] = ()


def assess(facts: CampaignFacts, now: datetime) -> Risk:
    """The campaign's risk level and every reason that raised it (highest first)."""
    reasons = [r for rule in _RULES for r in rule(facts, now)]
    reasons.sort(key=lambda r: -r.level)
    level = max((r.level for r in reasons), default=Level.LOW)
    return Risk(level, tuple(reasons))


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _percent(share: float) -> int:
    return round(share * 100)


def room_of(number: NumberFacts, start: float) -> int:
    """What a number may still send in the 24 hours from ``start`` (its cap or warm-up
    figure, less what already counts against it then)."""
    cap, _day, _until = number.cap.at(start)
    used = sum(1 for t in number.cap.recent if start - DAY < t <= start + DAY)
    return max(0, cap - used)


def _room(facts: CampaignFacts, now: datetime) -> list[Reason]:
    start = max(facts.first, now).timestamp()
    room = sum(room_of(n, start) for n in facts.numbers)
    warming = sum(n.cap.at(start)[1] is not None for n in facts.numbers)
    if not facts.numbers or facts.recipients <= room:
        return []
    level = Level.HIGH if facts.recipients > ROOM_HIGH_FACTOR * room else Level.MEDIUM
    return [Reason("room", level, {"count": facts.recipients, "room": room,
                                   "warming": warming})]


def _cold(part: int, code: str, medium: float, high: float, high_min: int,
          recipients: int) -> list[Reason]:
    share = _share(part, recipients)
    if share < medium:
        return []
    level = Level.HIGH if share >= high and part > high_min else Level.MEDIUM
    return [Reason(code, level, {"count": part, "percent": _percent(share)})]


def _new_contacts(facts: CampaignFacts, now: datetime) -> list[Reason]:
    return _cold(facts.never_messaged, "new_contacts", NEW_SHARE_MEDIUM, NEW_SHARE_HIGH,
                 NEW_HIGH_MIN, facts.recipients)


def _unchecked(facts: CampaignFacts, now: datetime) -> list[Reason]:
    return _cold(facts.unchecked, "unchecked", UNCHECKED_SHARE_MEDIUM, UNCHECKED_SHARE_HIGH,
                 UNCHECKED_HIGH_MIN, facts.recipients)


def _texts(facts: CampaignFacts, now: datetime) -> list[Reason]:
    batch = min(facts.pacing.batch_size, facts.recipients)
    per_batch = min(facts.distinct_texts, batch)
    found: list[Reason] = []
    if per_batch < min(TEXTS_MIN, batch):
        level = (Level.HIGH if per_batch <= 1 and facts.recipients > SAME_TEXT_HIGH_MIN
                 else Level.MEDIUM)
        found.append(Reason("same_texts", level, {"count": per_batch, "batch": batch}))
    if facts.texts_with_links and facts.recipients:
        found.append(Reason("links", Level.MEDIUM, {"count": facts.texts_with_links}))
    return found


def _pace(facts: CampaignFacts, now: datetime) -> list[Reason]:
    pacing = facts.pacing
    if pacing.delay_min >= PACE_SAFE_DELAY and pacing.batch_size <= PACE_HIGH_BATCH:
        return []
    high = pacing.delay_min < PACE_HIGH_DELAY or pacing.batch_size > PACE_HIGH_BATCH
    return [Reason("pace", Level.HIGH if high else Level.MEDIUM,
                   {"low": _seconds(pacing.delay_min), "high": _seconds(pacing.delay_max),
                    "safe_low": _seconds(PACE_SAFE_DELAY), "safe_high": "60"})]


def _seconds(value: float) -> str:
    return f"{value:g}"


def _is_night(local: time) -> bool:
    return local >= NIGHT_START or local < NIGHT_END


def _sending_instants(facts: CampaignFacts) -> list[datetime]:
    """Instants of the planned window when the numbers send: evenly spread, those inside
    the pace's quiet hours (the owner's zone, when nothing goes out) left out."""
    first, finish = facts.first, facts.finish
    if finish <= first:
        return [first]
    step = (finish - first) / NIGHT_SAMPLES
    instants = [first + step * (i + 0.5) for i in range(NIGHT_SAMPLES)]
    quiet = facts.pacing.quiet
    if quiet is None:
        return instants
    sending = [t for t in instants
               if not quiet.contains(t.astimezone(facts.owner_zone).time())]
    return sending or [first]


def _night(facts: CampaignFacts, now: datetime) -> list[Reason]:
    total = sum(n for _zone, n in facts.zones)
    if not total or facts.pacing.recipient_night:  # the dispatcher holds them till morning
        return []
    instants = _sending_instants(facts)
    at_night = 0.0
    zones_at_night: list[str] = []
    for key, count in facts.zones:
        zone = _zone(key, facts.owner_zone)
        share = sum(_is_night(t.astimezone(zone).time()) for t in instants) / len(instants)
        at_night += share * count
        if share:
            zones_at_night.append(zone.key)
    share = at_night / total
    if share < NIGHT_SHARE_MEDIUM:
        return []
    level = (Level.HIGH if share >= NIGHT_SHARE_HIGH and at_night > NIGHT_HIGH_MIN
             else Level.MEDIUM)
    return [Reason("night", level, {"count": round(at_night), "percent": _percent(share),
                                    "zones": ", ".join(sorted(set(zones_at_night))[:3])})]


def _zone(key: str, fallback: ZoneInfo) -> ZoneInfo:
    try:
        return ZoneInfo(key)
    except (ValueError, KeyError):  # "Etc/Unknown" and the like: the owner's
        return fallback


def _numbers(facts: CampaignFacts, now: datetime) -> list[Reason]:
    return [r for number in facts.numbers
            for r in number_reasons(number, facts.recipients, facts.never_messaged, now)]


def number_reasons(number: NumberFacts, recipients: int, never_messaged: int,
                   now: datetime) -> list[Reason]:
    """What one number brings to a campaign of ``recipients`` (``never_messaged`` of them
    new): its age, its recent failures and blocks, Meta's tier and quality, the guard's
    mode."""
    found: list[Reason] = []
    label = number.label
    age = int((now.timestamp() - number.cap.linked) // DAY)
    if age < YOUNG_DAYS:
        found.append(Reason("young", Level.MEDIUM, {"number": label, "count": age + 1}))
    if number.attempts >= RATE_MIN_ATTEMPTS:
        found += _rate(number, "failures", number.failed, FAILURE_RATE_MEDIUM,
                       FAILURE_RATE_HIGH)
        found += _rate(number, "blocks", number.blocked, BLOCK_RATE_MEDIUM, BLOCK_RATE_HIGH)
    if number.tier is not None and recipients > number.tier:
        found.append(Reason("tier", Level.HIGH, {"number": label, "tier": number.tier,
                                                 "count": recipients}))
    if number.quality in (QUALITY_MEDIUM, QUALITY_HIGH):
        found.append(Reason("quality", Level.HIGH if number.quality == QUALITY_HIGH
                            else Level.MEDIUM, {"number": label, "quality": number.quality}))
    if number.mode == MODE_SLOWED:
        found.append(Reason("slowed", Level.MEDIUM, {"number": label}))
    elif number.mode == MODE_NO_NEW_CHATS:
        found.append(Reason("no_new_chats", Level.HIGH if never_messaged else Level.MEDIUM,
                            {"number": label, "count": never_messaged}))
    elif number.mode == MODE_PAUSED:
        found.append(Reason("paused", Level.HIGH, {"number": label}))
    return found


def _rate(number: NumberFacts, code: str, part: int, medium: float,
          high: float) -> list[Reason]:
    share = _share(part, number.attempts)
    if share < medium:
        return []
    return [Reason(code, Level.HIGH if share >= high else Level.MEDIUM,
                   {"number": number.label, "percent": _percent(share),
                    "days": RECENT_DAYS})]


_RULES = (_room, _new_contacts, _unchecked, _texts, _pace, _night, _numbers)


# *Safe plan*: the pace that keeps inside the guidance above (random 30-60 s gaps, batches
# of at most SAFE_PLAN_BATCH, rests between them at least this long, no sending at night).
SAFE_PLAN_DELAY = (PACE_SAFE_DELAY, 60.0)
SAFE_PLAN_BATCH = 50
SAFE_PLAN_PAUSE = (15 * 60.0, 30 * 60.0)


def safe_pacing(pacing: Pacing) -> Pacing:
    """``pacing`` rewritten to low risk: gaps of 30-60 s, batches of at most 50, rests of
    at least 15-30 min, and quiet hours that hold the night (the owner's own when they
    already cover it), and the night held in each recipient's own zone
    (``Pacing.recipient_night``). Only ever slower: what is already safer is kept."""
    quiet = pacing.quiet
    night = [NIGHT_START, time(23, 59), time(0), time(NIGHT_END.hour - 1, 59)]
    if quiet is None or not all(quiet.contains(t) for t in night):
        quiet = QuietHours(NIGHT_START, NIGHT_END)
    return Pacing(
        delay_min=max(pacing.delay_min, SAFE_PLAN_DELAY[0]),
        delay_max=max(pacing.delay_max, SAFE_PLAN_DELAY[1]),
        batch_size=min(pacing.batch_size, SAFE_PLAN_BATCH),
        batch_pause_min=max(pacing.batch_pause_min, SAFE_PLAN_PAUSE[0]),
        batch_pause_max=max(pacing.batch_pause_max, SAFE_PLAN_PAUSE[1]),
        quiet=quiet, recipient_night=True)


def safe_numbers(recipients: int, never_messaged: int, chosen: Sequence[NumberFacts],
                 others: Sequence[NumberFacts], start: datetime,
                 now: datetime) -> tuple[int, ...]:
    """Which of the owner's other numbers (``others``: working, not in the campaign) *Safe
    plan* adds to the ``chosen`` ones, as indices into ``others``: spread over more numbers,
    each sends less a day and the list takes fewer days.

    Only a healthy number is added: nothing of its own raises the risk (``number_reasons``:
    no failures or blocks, Meta's quality and tier fine, the guard's mode normal), but for
    its youth. Every such number past its first week is added (it spreads the load at no
    cost); numbers still in their first week only while the room of those taken so far is
    short of the recipients (``room_of``, in the 24 hours from ``start``), the one with
    the most room first. A number with no room left that day is not added."""
    at = max(start, now).timestamp()
    fit: list[int] = []
    young: list[int] = []
    for i, number in enumerate(others):
        own = {r.code for r in number_reasons(number, recipients, never_messaged, now)}
        if own - {"young"} or not room_of(number, at):
            continue
        (young if own else fit).append(i)
    room = sum(room_of(n, at) for n in chosen) + sum(room_of(others[i], at) for i in fit)
    for i in sorted(young, key=lambda i: -room_of(others[i], at)):
        if room >= recipients:
            break
        fit.append(i)
        room += room_of(others[i], at)
    return tuple(sorted(fit))


CHECKS_VALID = 30 * DAY  # a WhatsApp check is trusted this long (the dispatcher's default)
UNKNOWN_ZONE = "Etc/Unknown"  # phonenumbers' answer for a number it cannot place
_LINK = re.compile(r"https?://|\bwww\.|\b[a-z0-9-]+\.(?:com|net|org|az|ru|io|me|ly)/",
                   re.IGNORECASE)


def has_link(text: str) -> bool:
    """Whether a text carries a link (a URL, ``www.`` or a bare ``domain.tld/path``)."""
    return _LINK.search(text) is not None


def phone_zone(phone: str) -> str:
    """A phone's time zone from its number (phonenumbers' data; the first of several, and
    ``Etc/Unknown`` when the number says none)."""
    try:
        found = time_zones_for_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        return UNKNOWN_ZONE
    return found[0] if found else UNKNOWN_ZONE
