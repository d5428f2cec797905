"""When a campaign starts: dates and times typed by people, and recurring schedules.

Pure functions of their arguments (no clock, no I/O). Everything that comes in or goes out
is an aware datetime in UTC; the owner's zone is only used to read what they typed and to
place local times of day on the calendar.

``parse_when`` hands the text to dateparser (imported on first use: the import alone costs
about 0.15 s and the bot's start-up is measured), after a small pre-normalisation for
quirks found while testing dateparser 1.5 with ``languages=("az", "ru", "en")``:

- ``D.M HH:MM`` with a day and month that also read as a clock time (``12.03 10:00``,
  ``01.07 10:00``) is not parsed at all, and a date without a year (``D.M`` or ``D/M``)
  whose time is past today is moved a whole year ahead (``25.11 10:00`` at 13:00 on
  25 November becomes 2027). Such dates are therefore rewritten to ISO ``YYYY-MM-DD``
  here, with the year of the next such day (today included), and a past time today is
  reported as ``in_past`` instead of silently meaning next year. Dates with a year
  (``25.12.2026``, ``25.12.26``) are read correctly by dateparser and left alone.
- ``H.MM`` as a clock time (``sabah 9.30``) is not understood; a lone dotted pair that is a
  valid time of day becomes ``H:MM``, anything else dotted is a date (``25.12``). With a
  ``HH:MM`` time elsewhere, a dotted pair is always a date; of two dotted pairs, the first
  is the date and the second the time (``25.12 18.30``).
- Azerbaijani: ``saat`` ("o'clock") before a time makes dateparser drop the time
  (``sabah saat 10:00`` came back as tomorrow at the current time of day), so it is
  removed; ``bugün`` (the common one-word spelling of ``bu gün``, "today") is unknown;
  ``2 saat sonra`` / ``30 dəqiqə sonra`` ("in 2 hours / 30 minutes") are unknown. Note
  that ``sabah`` reads as "tomorrow" (its other sense, "morning", is not used).
- The UTC offset dateparser attaches is not reliable across a DST change (it returned
  ``+01:00`` for 03:30 on 29 March 2026 in Europe/Berlin, which is CEST); only its wall
  time in the owner's zone is used, and it is placed on the calendar with zoneinfo.
- Durations ("in 2 hours", "через 2 часа") are computed by dateparser on the naive local
  wall clock, which is an hour off across a DST change; they are applied as elapsed time
  instead. They are recognised by a marker microsecond in ``RELATIVE_BASE`` that survives
  only in results computed from the base.
- A bare time (``18:30``, ``в 18:30``, ``10pm``) is read here, not by dateparser, so that
  a time typed in the minute just gone means now-ish today rather than tomorrow (and
  dateparser reads ``2 pm`` at noon as tomorrow).
- Times of day are written several ways, in dates and in recurring times alike
  (``parse_time_of_day``): ``10:00``, ``10.00``, ``22:00``, ``10am``, ``10 pm``, ``10 p.m.``,
  Russian ``10 утра`` / ``10 вечера`` / ``2 ночи``, a whole hour after "at" (``saat 10``,
  ``в 10``, ``at 10``). They are rewritten to ``HH:MM`` first.
- ``D/M`` or ``M/D``? English screens write ``12/25``, Azerbaijani and Russian ``25.12`` and
  ``25/12``: with ``month_first`` (an English owner) a slash date is month first, otherwise
  day first, and the other order is taken when the first is impossible (``25/12`` in
  English, ``12/25`` in Russian). Dotted dates are always day first.

Errors are ``ValidationError`` with ``where="when"`` (``unparseable``, ``no_time``,
``in_past``), ``where="time"`` (``bad_time``) or ``where="recurrence"`` (``bad_every``,
``no_weekdays``, ``bad_weekday``, ``unreadable``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from bot.errors import ValidationError

# A time this much before ``now`` still counts as "now" (typing takes a moment).
PAST_GRACE = timedelta(seconds=60)

# Marker put into RELATIVE_BASE's microseconds; a result that kept it was computed from
# the base, i.e. it is a duration from now.
_RELATIVE_MARK = 314_159

_SEP_BEFORE = r"(?<![\w.:/-])"
_SEP_AFTER = r"(?![\w.:/-])"
_DM_SLASH = re.compile(_SEP_BEFORE + r"(\d{1,2})/(\d{1,2})" + _SEP_AFTER)
_DMY_SLASH = re.compile(_SEP_BEFORE + r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})" + _SEP_AFTER)
# 10am, 10:30 pm, 10 p.m., 10 утра / 10 вечера / 2 ночи ("дня" is left out: "через 2 дня")
_MERIDIEM = re.compile(r"(?<![\w.:/-])(\d{1,2})(?:[:.](\d{2}))?\s*"
                       r"(a\.?\s?m\.?|p\.?\s?m\.?|утра|вечера|ночи)(?![\w])", re.IGNORECASE)
# a whole hour after "at": saat 10, в 10, at 10 (not "в 5 часов", "at 10 minutes")
_AT_HOUR = re.compile(r"\b(saat|в|во|at)\s+(\d{1,2})(?![\d:./])(?!\s*(?:час|мин|h|min))",
                      re.IGNORECASE)
_AT = re.compile(r"^(?:at|в|во|saat)\s+", re.IGNORECASE)
_DOTTED = re.compile(_SEP_BEFORE + r"(\d{1,2})\.(\d{2})" + _SEP_AFTER)
_CLOCK = re.compile(_SEP_BEFORE + r"\d{1,2}:\d{2}" + _SEP_AFTER)
_BARE_TIME = re.compile(r"(?:(?:at|в|во|saat)\s+)?(\d{1,2}):(\d{2})", re.IGNORECASE)
_AZ_SAAT = re.compile(r"\bsaat\s+(?=\d)", re.IGNORECASE)
_AZ_BUGUN = re.compile(r"\bbugün\b", re.IGNORECASE)
_AZ_IN = re.compile(r"\b(\d+)\s*(saat|dəqiqə|deqiqe)(?:\s*(?:dan|dən|den))?\s+sonra\b",
                    re.IGNORECASE)
_TIME_OF_DAY = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?")


def parse_when(text: str, tz: ZoneInfo, now: datetime, *,
               languages: Sequence[str] = ("az", "ru", "en"),
               month_first: bool = False) -> datetime:
    """A date and time typed the way people type it, in the owner's zone -> aware UTC.

    ``now`` is the current instant (aware). A bare time already past today means
    tomorrow; any other time more than a minute before ``now`` is ``in_past``; a date
    without a time is ``no_time`` rather than a guess of midnight. ``month_first``: a
    slash date is ``M/D`` (English), else ``D/M``.
    """
    _require_aware(now, "now")
    now = now.astimezone(UTC)
    local_now = now.astimezone(tz)
    cleaned = _normalise(text, local_now.date(), month_first=month_first)
    if not cleaned:
        raise ValidationError("unparseable", where="when")

    bare = _BARE_TIME.fullmatch(cleaned)
    if bare:
        clock = _clock(int(bare[1]), int(bare[2]))
        result = local_to_utc(datetime.combine(local_now.date(), clock), tz)
        if result < now - PAST_GRACE:
            result = local_to_utc(datetime.combine(local_now.date() + timedelta(days=1),
                                                   clock), tz)
        return result

    base = local_now.replace(tzinfo=None, microsecond=_RELATIVE_MARK)
    found = _dateparser(cleaned, tz, base, languages)
    if found is None:
        raise ValidationError("unparseable", where="when")
    wall, period = found
    if period != "time":
        raise ValidationError("no_time", where="when")
    if wall.microsecond == _RELATIVE_MARK:
        result = now + (wall - base)
    else:
        result = local_to_utc(wall, tz)
    if result < now - PAST_GRACE:
        raise ValidationError("in_past", where="when")
    return result


def parse_time_of_day(text: str) -> time:
    """``"10:00"``, ``"9.30"``, ``"18:30"``, ``"7"`` (07:00), ``"10am"``, ``"10 pm"``,
    ``"saat 10"``, ``"в 10 утра"`` -> a local time of day."""
    text = " ".join(text.split())
    text = _MERIDIEM.sub(lambda m: _meridiem(m, where="time", reason="bad_time"), text)
    match = _TIME_OF_DAY.fullmatch(_AT.sub("", text, count=1))
    if not match:
        raise ValidationError("bad_time", where="time")
    hour, minute = int(match[1]), int(match[2] or 0)
    if hour > 23 or minute > 59:
        raise ValidationError("bad_time", where="time")
    return time(hour, minute)


def local_to_utc(wall: datetime, tz: tzinfo, *, latest: bool = False) -> datetime:
    """A naive wall-clock time in ``tz`` -> the aware UTC instant it stands for.

    A wall time skipped by a DST change (02:30 when clocks jump from 02:00 to 03:00)
    becomes the first valid instant after it: the moment of the change. A wall time shown
    twice (clocks going back) is its first occurrence, or its last with ``latest=True``.
    """
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return first
    if first < second:  # shown twice
        return second if latest else first
    # Skipped: fold=1 read it with the later offset (an instant before the change),
    # fold=0 with the earlier one (an instant after it). Find the change itself.
    after_offset = first.astimezone(tz).utcoffset()
    low, high = int(second.timestamp()), int(first.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


@dataclass(frozen=True, slots=True)
class Recurrence:
    """A campaign that runs again every day, or on some weekdays, at a local time of day."""

    every: str  # "day" | "week"
    at: time  # local time of day, minute precision
    weekdays: tuple[int, ...] = ()  # 0 = Monday .. 6 = Sunday; required for "week"

    def __post_init__(self) -> None:
        if self.every not in ("day", "week"):
            raise ValidationError("bad_every", where="recurrence")
        if (not isinstance(self.at, time) or self.at.tzinfo is not None
                or self.at.second or self.at.microsecond):
            raise ValidationError("bad_time", where="time")
        if any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6
               for d in self.weekdays):
            raise ValidationError("bad_weekday", where="recurrence")
        days = tuple(sorted(set(self.weekdays)))
        if self.every == "week" and not days:
            raise ValidationError("no_weekdays", where="recurrence")
        if self.every == "day" and days:
            raise ValidationError("bad_weekday", where="recurrence")
        object.__setattr__(self, "weekdays", days)

    def to_json(self) -> dict[str, Any]:
        return {"every": self.every, "at": self.at.strftime("%H:%M"),
                "weekdays": list(self.weekdays)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Recurrence:
        try:
            every, at, weekdays = data["every"], data["at"], data.get("weekdays") or ()
            return cls(every=every, at=parse_time_of_day(at), weekdays=tuple(weekdays))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValidationError("unreadable", where="recurrence") from exc

    def next_after(self, after: datetime, tz: ZoneInfo) -> datetime:
        """The next run strictly after ``after`` (aware), as aware UTC; DST-correct."""
        _require_aware(after, "after")
        after = after.astimezone(UTC)
        day = after.astimezone(tz).date()
        for offset in range(9):
            candidate_day = day + timedelta(days=offset)
            if self.every == "week" and candidate_day.weekday() not in self.weekdays:
                continue
            candidate = local_to_utc(datetime.combine(candidate_day, self.at), tz)
            if candidate > after:
                return candidate
        raise AssertionError("a weekly recurrence always has a run within 8 days")


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _clock(hour: int, minute: int) -> time:
    if hour > 23 or minute > 59:
        raise ValidationError("unparseable", where="when")
    return time(hour, minute)


def _meridiem(match: re.Match[str], *, where: str, reason: str) -> str:
    """``10pm``, ``10:30 a.m.``, ``10 вечера`` -> ``22:00`` style (12-hour clock read)."""
    hour, minute, word = int(match[1]), int(match[2] or 0), match[3].lower()
    if not 1 <= hour <= 12 or minute > 59:
        raise ValidationError(reason, where=where)
    if word.startswith("p") or word == "вечера" or (word == "ночи" and hour >= 9):
        hour = hour % 12 + 12
    elif word == "ночи" and hour > 5:
        raise ValidationError(reason, where=where)
    else:
        hour %= 12
    return f"{hour:02d}:{minute:02d}"


def _normalise(text: str, today: date, *, month_first: bool = False) -> str:
    """Rewrite what dateparser misreads (see the module docstring); may raise."""
    text = " ".join(text.split()).rstrip(",;!")
    text = _MERIDIEM.sub(lambda m: _meridiem(m, where="when", reason="unparseable"), text)
    text = text.rstrip(".,;!")
    text = _AZ_BUGUN.sub("bu gün", text)
    text = _AZ_IN.sub(lambda m: f"in {m[1]} {_az_unit(m[2])}", text)
    text = _AT_HOUR.sub(lambda m: f"{m[1]} {m[2]}:00", text)
    text = _AZ_SAAT.sub("", text)
    text = _DMY_SLASH.sub(lambda m: _slash_date(int(m[1]), int(m[2]), today, month_first,
                                                year=_year(m[3])), text)
    text = _DM_SLASH.sub(lambda m: _slash_date(int(m[1]), int(m[2]), today, month_first),
                         text)

    dotted = list(_DOTTED.finditer(text))
    if not dotted:
        return text
    has_clock = _CLOCK.search(text) is not None
    pieces, last = [], 0
    for index, match in enumerate(dotted):
        first, second = int(match[1]), int(match[2])
        if has_clock or (len(dotted) > 1 and index == 0):
            as_date = True
        elif len(dotted) > 1:
            as_date = False
        else:
            as_date = not (first <= 23 and second <= 59)
        pieces.append(text[last:match.start()])
        pieces.append(_iso(first, second, today) if as_date
                      else f"{first}:{second:02d}")
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces)


def _az_unit(word: str) -> str:
    return "hours" if word[0] in "sS" else "minutes"  # saat | dəqiqə (any case)


def _year(text: str) -> int:
    return int(text) + 2000 if len(text) == 2 else int(text)


def _slash_date(first: int, second: int, today: date, month_first: bool, *,
                year: int | None = None) -> str:
    """``first/second``: the language's order, or the other one when that is impossible."""
    orders = [(second, first), (first, second)] if month_first else [(first, second),
                                                                      (second, first)]
    for day, month in orders:
        if 1 <= month <= 12 and 1 <= day <= 31:
            if year is None:
                return _iso(day, month, today)
            try:
                return date(year, month, day).isoformat()
            except ValueError:
                break
    raise ValidationError("unparseable", where="when")


def _iso(day: int, month: int, today: date) -> str:
    """``YYYY-MM-DD`` of the next such day from ``today`` (inclusive; 29.02 included)."""
    for year in range(today.year, today.year + 9):
        try:
            found = date(year, month, day)
        except ValueError:
            continue
        if found >= today:
            return found.isoformat()
    raise ValidationError("unparseable", where="when")


def _dateparser(text: str, tz: ZoneInfo, base: datetime,
                languages: Sequence[str]) -> tuple[datetime, str] | None:
    """dateparser's reading: the naive wall time in ``tz`` and its period, or None."""
    settings = {
        "TIMEZONE": tz.key,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "PREFER_DATES_FROM": "future",
        "DATE_ORDER": "DMY",
        "RELATIVE_BASE": base,
        "RETURN_TIME_AS_PERIOD": True,
    }
    # Imported here, not at the top: see the module docstring. With TIMEZONE and
    # RELATIVE_BASE always given, dateparser never consults the server's own zone (whose
    # lookup is what warns or fails on some hosts), and it emits no warnings for any input.
    from dateparser.date import DateDataParser

    data = DateDataParser(languages=list(languages), settings=settings).get_date_data(text)
    if data.date_obj is None:
        return None
    wall = data.date_obj
    if wall.tzinfo is not None:
        wall = wall.replace(tzinfo=None)
    return wall, data.period or ""
