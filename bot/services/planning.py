"""Campaign pacing and the send plan: when each recipient's message is due, from whom.

Pure and deterministic: ``plan`` is a function of its arguments only (the randomness is a
``random.Random(seed)`` drawn in a fixed order), so a campaign's outbox can be planned
again from its stored seed and always comes out the same.

How a plan is laid out:

- recipients are cut, in order, into batches of ``batch_size``; batch ``b`` uses template
  variant ``b % variants`` and goes to sender ``b % senders``, or, when the senders'
  ``capacity`` is given, to the one with the most room left (below);
- every sender has its own timeline starting at ``start`` (senders work in parallel);
- on one timeline the first message is at ``start``, each next message of the same batch
  follows after a random delay in ``[delay_min, delay_max]``, and the first message of
  the sender's next batch after a random pause in ``[batch_pause_min, batch_pause_max]``
  (instead of the delay);
- a time that falls inside quiet hours (the owner's local time, DST-aware) moves to the
  end of that quiet period, and the timeline continues from there.

``Pacing.recipient_night``: no message arrives at night (``NIGHT``, 22:00-08:00) in the
recipient's own zone. The plan does not know the recipients' zones, so it does not move
those times: the dispatcher holds such a message when it falls due (``night_end``), to the
recipient's next local morning plus a random spread; the estimate's end does not count it.

Capacity: per sender, its daily cap (warm-up included) on the campaign's first day, the
next, ... (the last figure repeats), and its ``load``: what it sent in the 24 hours before
the start plus what other campaigns have queued on it. Each batch goes, of the senders
with room for all of it, to the one with the largest share of its day's cap still free,
so senders take turns in proportion to their room: a number in its warm-up gets the
share its caps can carry instead of an equal one, and the campaign is not held back to
later days by its slowest number. When no sender has room for the whole batch, the next
day's caps are added (what is left, or overdrawn, carries over). Equal shares: the lower
index, so equal senders still alternate batch by batch.

Daily caps (``caps``, one ``DailyCap`` per sender): the dispatcher never lets a number send
more than its cap in any 24 hours (its warm-up figure during its first days after
linking), counting what it already sent and what is queued on it. The plan follows the
same rule: a message that would be one too many waits until the oldest message of the
window is 24 hours old (plus ``CAP_MARGIN``), and the timeline goes on from there, so the
planned end is the real one even for a new number and a large list.

Draw order: one draw per recipient except each sender's very first, in recipient order.

Speed: quiet periods are turned into UTC epoch windows once per local day (lazily, a few
hundred zoneinfo conversions even for a long campaign), and every sender walks them with
its own cursor, so placing a message is a random draw and two comparisons. 100,000
recipients plan in well under half a second.

Validation errors (``Pacing.validate`` and ``plan``) are ``ValidationError(reason,
where=...)``: ``where="delay"`` / ``"pause"`` with ``range`` (negative, not a number, or
min > max) or ``too_long`` (delay over an hour, pause over a day); ``where="batch_size"``
with ``range`` (not 1..1000); ``where="quiet"`` with ``empty`` (start == end);
``where="pacing"`` with ``unreadable`` (``from_json`` given something else); and
``where="count"`` / ``"senders"`` / ``"variants"`` with ``range``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.errors import ValidationError
from bot.services.when import local_to_utc, parse_time_of_day

MAX_DELAY = 3600.0  # one hour between two messages is already very slow
MAX_PAUSE = 86400.0  # a day between two batches
MAX_BATCH = 1000
DAY = 86_400.0
CAP_MARGIN = 60.0  # seconds past the 24 hours: a send is a little later than planned


@dataclass(frozen=True, slots=True)
class QuietHours:
    """No messages between ``start`` and ``end``, local time; may wrap past midnight."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def validate(self) -> None:
        if self.start == self.end:
            raise ValidationError("empty", where="quiet")

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M")}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuietHours:
        return cls(parse_time_of_day(data["start"]), parse_time_of_day(data["end"]))


@dataclass(frozen=True, slots=True)
class Pacing:
    """How fast one sender sends: seconds between messages and between batches."""

    delay_min: float
    delay_max: float
    batch_size: int
    batch_pause_min: float
    batch_pause_max: float
    quiet: QuietHours | None = None
    # no message arrives at night (NIGHT_START-NIGHT_END) in the recipient's own zone (from
    # the phone's country): the dispatcher holds it to the next local morning
    recipient_night: bool = False

    def validate(self) -> None:
        _check_range(self.delay_min, self.delay_max, MAX_DELAY, "delay")
        if (isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int)
                or not 1 <= self.batch_size <= MAX_BATCH):
            raise ValidationError("range", where="batch_size", low=1, high=MAX_BATCH)
        _check_range(self.batch_pause_min, self.batch_pause_max, MAX_PAUSE, "pause")
        if self.quiet is not None:
            self.quiet.validate()

    def to_json(self) -> dict[str, Any]:
        return {
            "delay_min": self.delay_min,
            "delay_max": self.delay_max,
            "batch_size": self.batch_size,
            "batch_pause_min": self.batch_pause_min,
            "batch_pause_max": self.batch_pause_max,
            "quiet": self.quiet.to_json() if self.quiet else None,
            "recipient_night": self.recipient_night,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pacing:
        """The stored form back (not validated: call ``validate`` for new input)."""
        try:
            quiet = data.get("quiet")
            return cls(
                delay_min=float(data["delay_min"]),
                delay_max=float(data["delay_max"]),
                batch_size=int(data["batch_size"]),
                batch_pause_min=float(data["batch_pause_min"]),
                batch_pause_max=float(data["batch_pause_max"]),
                quiet=QuietHours.from_json(quiet) if quiet else None,
                # paces stored before it existed: off
                recipient_night=bool(data.get("recipient_night", False)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValidationError("unreadable", where="pacing") from exc


@dataclass(frozen=True, slots=True)
class DailyCap:
    """How many messages a number may send in any 24 hours: ``cap``, held lower by the
    ``warmup`` ramp (one figure a day) during its first days after ``linked`` (UTC epoch
    seconds). ``recent``: its messages that already count (sent in the last 24 hours,
    sending, queued), as ascending UTC epoch seconds. The one rule the dispatcher, the
    plan and the numbers' screens apply."""

    cap: int
    linked: float
    warmup: tuple[int, ...] = ()
    recent: tuple[float, ...] = ()

    def at(self, ts: float) -> tuple[int, int | None, float]:
        """The cap for the 24 hours ending at ``ts``; the warm-up day (1-based) or
        ``None``; and until when both hold."""
        day = max(0, int((ts - self.linked) // DAY))
        if day < len(self.warmup) and self.warmup[day] < self.cap:
            return self.warmup[day], day + 1, self.linked + (day + 1) * DAY
        return self.cap, None, math.inf

    def days(self, start: float) -> list[int]:
        """The cap on the day starting at ``start`` and on each next one until the warm-up
        is over (``assign``'s capacity)."""
        return [max(1, self.at(start + d * DAY)[0]) for d in range(len(self.warmup) + 1)]


# Presets, chosen for the safety of a WhatsApp number rather than speed. Bans come from
# bursts, identical texts and messages at odd hours, so every preset spaces messages
# irregularly and rests between batches; the slower ones keep quiet at night in the
# owner's zone and hold the night in each recipient's own zone (``recipient_night``).
# "safe" and "normal" (the API's and the wizard's custom default) keep WAHA's guidance of
# random 30-60 s gaps. Approximate throughput per sender (mean delay x batch + mean pause):
PRESETS: dict[str, Pacing] = {
    # New or recently banned numbers, cold lists: ~50 messages an hour (50 in ~38 min,
    # then a 15-30 min rest), never between 21:00 and 09:00.
    "safe": Pacing(30.0, 60.0, 50, 15 * 60.0, 30 * 60.0, QuietHours(time(21), time(9)),
                   recipient_night=True),
    # Warmed-up numbers, customers who know the business: ~70 an hour (100 in ~75 min,
    # then 5-10 min; ~1,000 in a 14-hour day, the default daily cap), quiet 22:00-08:00.
    "normal": Pacing(30.0, 60.0, 100, 5 * 60.0, 10 * 60.0, QuietHours(time(22), time(8)),
                     recipient_night=True),
    # Established numbers and time-critical notices: ~500 an hour (100 in ~9 min, then
    # 2-4 min), no quiet hours; the riskiest choice.
    "fast": Pacing(3.0, 8.0, 100, 2 * 60.0, 4 * 60.0, None),
}

# Night in the recipient's own zone (local time): what ``recipient_night`` holds (and what
# the pre-flight check, ``bot/services/risk.py``, counts as night).
NIGHT = QuietHours(time(22), time(8))
# A message held for the night becomes due at the local morning plus a random spread up
# to this, so a zone's held messages do not all fall due at 08:00 (each number's gap
# still spaces them at send time).
NIGHT_SPREAD = 3600.0


def night_end(zone: ZoneInfo, at: float, night: QuietHours = NIGHT) -> float | None:
    """When the night holding ``at`` (UTC epoch seconds) ends in ``zone`` (its local
    morning, DST-aware; the later reading of an ambiguous wall time); ``None`` at day.
    One zoneinfo conversion in the common case (daytime)."""
    local = datetime.fromtimestamp(at, zone)
    if not night.contains(local.time()):
        return None
    day = local.date()
    if night.end <= night.start and local.time() >= night.start:  # evening: tomorrow's
        day += timedelta(days=1)
    end = local_to_utc(datetime.combine(day, night.end), zone, latest=True).timestamp()
    return end if end > at else None


@dataclass(slots=True)
class Plan:
    """The plan of a campaign's run: one entry per recipient, in recipient order."""

    start: datetime
    at: list[float] = field(default_factory=list)  # planned send time, UTC epoch seconds
    sender: list[int] = field(default_factory=list)  # index into the campaign's senders
    batch: list[int] = field(default_factory=list)  # batch number, campaign-wide, 0-based
    variant: list[int] = field(default_factory=list)  # template variant: batch % variants
    cap_waits: int = 0  # times a number's daily cap held the timeline back

    def __len__(self) -> int:
        return len(self.at)

    @property
    def batches(self) -> int:
        return self.batch[-1] + 1 if self.batch else 0

    @property
    def finish(self) -> datetime:
        """When the last message is planned (aware UTC); ``start`` for an empty plan."""
        return datetime.fromtimestamp(max(self.at), UTC) if self.at else self.start


@dataclass(frozen=True, slots=True)
class Estimate:
    """What the summary shows before confirming (aware UTC datetimes)."""

    first: datetime  # the first message
    finish: datetime  # the last one
    cap_waits: int  # times a daily cap held the timeline back (0: pace and quiet hours only)


def plan(count: int, pacing: Pacing, start: datetime, seed: int, tz: ZoneInfo, *,
         senders: int = 1, variants: int = 1,
         busy_until: Sequence[float | None] | None = None,
         capacity: Sequence[Sequence[int]] | None = None,
         load: Sequence[int] | None = None,
         caps: Sequence[DailyCap] | None = None) -> Plan:
    """Plan ``count`` recipients from ``start`` (aware); see the module docstring.

    ``busy_until`` (per sender, UTC epoch seconds or ``None``): a sender already has other
    campaigns' messages planned until then, so this campaign's timeline on it starts after
    (the sender's pace holds across campaigns, and the plan stays what will happen).
    ``capacity`` (per sender, its cap on the first day, the next, ...) and ``load`` (per
    sender, messages already counting against the first day): batches go where there is
    room (module docstring); ``None``: in turn. ``caps`` (per sender): its daily cap and
    what already counts against it; batches go by the room they leave (as ``capacity``
    and ``load``) and no number is planned past its cap (module docstring)."""
    _check_counts(count, senders, variants)
    pacing.validate()
    rng = random.Random(seed)
    start = _utc(start)
    size = pacing.batch_size
    capacity, load = _room(caps, start, senders, capacity, load)
    owners = assign(count, size, senders, capacity, load)
    at, waits = _timeline(count, pacing, start, tz, senders, rng.uniform, busy_until, owners,
                          caps)
    batch = [i // size for i in range(count)]
    return Plan(start=start, at=at, sender=[owners[b] for b in batch], batch=batch,
                variant=[b % variants for b in batch], cap_waits=waits)


def _room(caps: Sequence[DailyCap] | None, start: datetime, senders: int,
          capacity: Sequence[Sequence[int]] | None, load: Sequence[int] | None,
          ) -> tuple[Sequence[Sequence[int]] | None, Sequence[int] | None]:
    if caps is None:
        return capacity, load
    if len(caps) != senders:
        raise ValueError("caps needs one DailyCap per sender")
    ts = start.timestamp()
    return ([c.days(ts) for c in caps],
            [sum(1 for t in c.recent if t >= ts - DAY) for c in caps])


def assign(count: int, size: int, senders: int,
           capacity: Sequence[Sequence[int]] | None = None,
           load: Sequence[int] | None = None) -> list[int]:
    """The sender of each batch: in turn, or by room left (module docstring)."""
    batches = -(-count // size) if count else 0
    if capacity is None or senders == 1:
        return [b % senders for b in range(batches)]
    if len(capacity) != senders or any(not days or min(days) < 1 for days in capacity):
        raise ValueError("capacity needs, per sender, a non-empty list of caps of 1 or more")
    day = 0
    caps = [days[0] for days in capacity]
    room = [c - (load[i] if load else 0) for i, c in enumerate(caps)]
    owners: list[int] = []
    for b in range(batches):
        n = min(size, count - b * size)
        while max(room) < n:  # nobody has room for the batch today: the next day's caps
            day += 1
            caps = [days[min(day, len(days) - 1)] for days in capacity]
            room = [r + c for r, c in zip(room, caps, strict=True)]
        # of those with room for it, the largest share of its day's cap still free; the
        # first of equals
        best = max((s for s in range(senders) if room[s] >= n), key=lambda s: room[s] / caps[s])
        owners.append(best)
        room[best] -= n
    return owners


def estimate(count: int, pacing: Pacing, start: datetime, tz: ZoneInfo, *,
             senders: int = 1,
             busy_until: Sequence[float | None] | None = None,
             capacity: Sequence[Sequence[int]] | None = None,
             load: Sequence[int] | None = None,
             caps: Sequence[DailyCap] | None = None) -> Estimate:
    """When a campaign would begin and end, for the summary before confirming.

    The same timeline as ``plan`` with every delay and pause at the middle of its range
    (the mean of the uniform draw) instead of random: no seed needed, and the estimate
    does not jump when the owner looks again. Quiet hours and daily caps apply as in
    ``plan``.
    """
    _check_counts(count, senders, 1)
    pacing.validate()
    start = _utc(start)
    capacity, load = _room(caps, start, senders, capacity, load)
    owners = assign(count, pacing.batch_size, senders, capacity, load)
    at, waits = _timeline(count, pacing, start, tz, senders, _middle, busy_until, owners,
                          caps)
    if not at:
        return Estimate(start, start, 0)
    return Estimate(datetime.fromtimestamp(min(at), UTC), datetime.fromtimestamp(max(at), UTC),
                    waits)


class _Window:
    """One number's last 24 hours of messages on the timeline, against its daily cap."""

    __slots__ = ("cap", "limit", "low", "times", "until")

    def __init__(self, cap: DailyCap) -> None:
        self.cap = cap
        self.times = list(cap.recent)
        self.low = 0  # times before it are more than 24 hours older than the last look
        self.limit, self.until = 0, -math.inf

    def wait(self, t: float) -> float | None:
        """``None`` when a message may go at ``t``; else the earliest time it may."""
        if t >= self.until:
            self.limit, _, self.until = self.cap.at(t)
        times, low = self.times, self.low
        while low < len(times) and times[low] < t - DAY:
            low += 1
        self.low = low
        if len(times) - low < self.limit:
            return None
        return times[len(times) - self.limit] + DAY + CAP_MARGIN


def _timeline(count: int, pacing: Pacing, start: datetime, tz: ZoneInfo, senders: int,
              draw: Callable[[float, float], float],
              busy_until: Sequence[float | None] | None,
              owners: Sequence[int],
              caps: Sequence[DailyCap] | None = None) -> tuple[list[float], int]:
    quiet = _QuietWindows(pacing.quiet, tz, start) if pacing.quiet else None
    windows = [_Window(c) for c in caps] if caps is not None else None
    waits = 0
    size = pacing.batch_size
    d_lo, d_hi = pacing.delay_min, pacing.delay_max
    p_lo, p_hi = pacing.batch_pause_min, pacing.batch_pause_max
    begin = start.timestamp()
    last: list[float | None] = [None] * senders
    cursor = [0] * senders
    at: list[float] = []
    for first in range(0, count, size):
        who = owners[first // size]
        previous = last[who]
        if previous is None:
            busy = busy_until[who] if busy_until else None
            # after the sender's other planned messages, at this campaign's pace
            t = begin if busy is None else max(begin, busy + d_lo)
        else:
            t = previous + draw(p_lo, p_hi)
        for i in range(first, min(first + size, count)):
            if i != first:
                t += draw(d_lo, d_hi)
            if quiet is not None:
                t, cursor[who] = quiet.leave(t, cursor[who])
            if windows is not None:
                window = windows[who]
                while (later := window.wait(t)) is not None:  # the cap: when one is 24 h old
                    waits += 1
                    t = later
                    if quiet is not None:
                        t, cursor[who] = quiet.leave(t, cursor[who])
                window.times.append(t)
            at.append(t)
        last[who] = t
    return at, waits


class _QuietWindows:
    """Quiet periods as ``[begin, end)`` UTC epoch windows, built one local day at a time.

    Windows are sorted and disjoint (overlaps, possible only around a DST change, are
    merged); a sender's times only grow, so each sender keeps an index of the first window
    that may still matter to it. Where a DST change makes a
    boundary ambiguous, the window is the widest reading (first occurrence of the start,
    last of the end): quiet a little longer rather than a message at night.
    """

    __slots__ = ("_begins", "_day", "_ends", "_quiet", "_tz")

    def __init__(self, quiet: QuietHours, tz: ZoneInfo, start: datetime) -> None:
        self._quiet = quiet
        self._tz = tz
        # The day before: a window that wraps past midnight may still be running.
        self._day: date = start.astimezone(tz).date() - timedelta(days=1)
        self._begins: list[float] = []
        self._ends: list[float] = []

    def _add_day(self) -> None:
        day, quiet = self._day, self._quiet
        self._day = day + timedelta(days=1)
        end_day = day + timedelta(days=1) if quiet.end <= quiet.start else day
        begin = local_to_utc(datetime.combine(day, quiet.start), self._tz).timestamp()
        end = local_to_utc(datetime.combine(end_day, quiet.end), self._tz,
                           latest=True).timestamp()
        if end <= begin:
            return
        if self._ends and begin <= self._ends[-1]:  # only around odd DST changes
            self._ends[-1] = max(self._ends[-1], end)
        else:
            self._begins.append(begin)
            self._ends.append(end)

    def leave(self, t: float, index: int) -> tuple[float, int]:
        """``t``, or the end of the quiet window holding it; and the sender's new index."""
        begins, ends = self._begins, self._ends
        # Build until a window begins after t: every window that could hold t is final.
        while not begins or begins[-1] <= t:
            self._add_day()
        while ends[index] <= t:
            index += 1
        if begins[index] <= t:
            return ends[index], index + 1
        return t, index


def _middle(low: float, high: float) -> float:
    return (low + high) / 2


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    return value.astimezone(UTC)


def _check_range(low: float, high: float, limit: float, where: str) -> None:
    if not (math.isfinite(low) and math.isfinite(high)) or low < 0 or low > high:
        raise ValidationError("range", where=where)
    if high > limit:
        raise ValidationError("too_long", where=where, limit=limit)


def _check_counts(count: int, senders: int, variants: int) -> None:
    if count < 0:
        raise ValidationError("range", where="count")
    if senders < 1:
        raise ValidationError("range", where="senders")
    if variants < 1:
        raise ValidationError("range", where="variants")


def quiet_end(quiet: QuietHours, tz: ZoneInfo, at: float) -> float | None:
    """When the quiet period holding ``at`` (UTC epoch seconds) ends; ``None`` outside one."""
    windows = _QuietWindows(quiet, tz, datetime.fromtimestamp(at, UTC))
    end, _ = windows.leave(at, 0)
    return end if end != at else None
