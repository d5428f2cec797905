"""Dates in contacts' attributes, and when a date-based message is for (issue 21, pure).

A date message (``bot/services/automations_dates.py``) reads a contact attribute
(``birthday``, ``appointment``, any imported column) as a date and sends a template N days
before, on or after it. This module is its arithmetic, with no I/O and no clock.

How a value is read (``parse``), never guessed:

- ISO: ``2024-03-05`` (also ``2024/03/05``, ``2024.03.05`` and an ISO date-time's date part,
  ``2024-03-05T10:00``); without a year ``--03-05`` (ISO 8601's yearless form).
- Day first, as Azerbaijan and Russia write them: ``05.03.2024``, ``05/03/2024``,
  ``5-3-2024``; without a year ``05.03`` and ``05/03``.
- A yearless pair with a dash (``03-25``, ``25-03``) is read the one way that makes a
  date (month-day or day-month); when both ways make one (``03-05``: 5 March or 3 May)
  it is ambiguous and counts as invalid.
- Two-digit years (``05.03.24``), years outside 1900-2100, impossible days (``31.04``,
  ``29.02.2023``), spreadsheet serial numbers and anything else: invalid.

29 February: a yearly date on 29 February comes on 28 February in the years that have no
29 February (``occurs_on``). Dates without a year always repeat every year (they can only
be anniversaries); a one-off (not yearly) date with a year is for that one day only.

A message is planned on its *send date* S: the event date D is S + N days for "before",
S for "on", S - N days for "after" (``event_date``). The occurrence produced is D's ISO
date, so a date is messaged once per year (once in all for a one-off).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Final

MIN_YEAR: Final = 1900
MAX_YEAR: Final = 2100
MAX_DAYS: Final = 365  # the largest offset before or after

# month * 100 + day: the key a date is indexed by (``contact_dates.md``); 0: invalid
INVALID: Final = 0
LEAP_DAY: Final = 229
FEB_28: Final = 228

_YEAR_FIRST = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})"
                         r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
_DAY_FIRST = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4})")
_YEARLESS_ISO = re.compile(r"--(\d{2})-?(\d{2})")
_YEARLESS_DAY_FIRST = re.compile(r"(\d{1,2})[./](\d{1,2})\.?")
_YEARLESS_DASH = re.compile(r"(\d{1,2})-(\d{1,2})")


class When(StrEnum):
    BEFORE = "before"
    ON = "on"
    AFTER = "after"


@dataclass(frozen=True, slots=True)
class ContactDate:
    """A date read from a value: its month and day, and its year when it has one."""

    month: int
    day: int
    year: int | None = None

    @property
    def key(self) -> int:
        return self.month * 100 + self.day


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _real(month: int, day: int, year: int | None) -> bool:
    """A real date: with a year, of that year; without, of some year (29 Feb counts)."""
    if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
        return False
    if not 1 <= month <= 12 or day < 1:
        return False
    if month == 2:
        return day <= (29 if year is None or _is_leap(year) else 28)
    return day <= (30 if month in (4, 6, 9, 11) else 31)


def _made(month: int, day: int, year: int | None) -> ContactDate | None:
    return ContactDate(month, day, year) if _real(month, day, year) else None


def parse(value: object) -> ContactDate | None:
    """A contact attribute's value as a date, or None when it is not one we can read
    without guessing (the module docstring says which are)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 40:
        return None
    if m := _YEAR_FIRST.fullmatch(text):
        return _made(int(m[3]), int(m[4]), int(m[1]))
    if m := _DAY_FIRST.fullmatch(text):
        return _made(int(m[3]), int(m[1]), int(m[4]))
    if m := _YEARLESS_ISO.fullmatch(text):
        return _made(int(m[1]), int(m[2]), None)
    if m := _YEARLESS_DAY_FIRST.fullmatch(text):
        return _made(int(m[2]), int(m[1]), None)
    if m := _YEARLESS_DASH.fullmatch(text):
        a, b = int(m[1]), int(m[2])
        month_day, day_month = _made(a, b, None), _made(b, a, None)
        if month_day and day_month and month_day != day_month:
            return None  # ambiguous: never guessed
        return month_day or day_month
    return None


def key_of(value: object) -> tuple[int, int | None]:
    """``(month * 100 + day, year)`` of a value, ``(INVALID, None)`` when it is none."""
    return _key_of_text(value) if isinstance(value, str) else (INVALID, None)


@lru_cache(maxsize=65_536)  # a column's values repeat (a million birthdays: ~40,000 texts)
def _key_of_text(value: str) -> tuple[int, int | None]:
    found = parse(value)
    return (INVALID, None) if found is None else (found.key, found.year)


def shift(days: int, when: When) -> int:
    """Days from the send date to the event date."""
    return {When.BEFORE: days, When.ON: 0, When.AFTER: -days}[when]


def event_date(send: date, days: int, when: When) -> date:
    """The date a message sent on ``send`` is for."""
    return send + timedelta(days=shift(days, when))


def keys_on(event: date) -> tuple[int, ...]:
    """The month-day keys whose yearly date falls on ``event`` (28 February of a year
    without a 29th also takes the 29th's)."""
    own = event.month * 100 + event.day
    if own == FEB_28 and not _is_leap(event.year):
        return (own, LEAP_DAY)
    return (own,)


def occurs_on(found: ContactDate, event: date, yearly: bool) -> bool:
    """Whether a contact's date falls on ``event``: yearly (or yearless) on each of its
    anniversaries from its year on; a one-off only on the very day."""
    if found.year is not None and not yearly:
        return (found.year, found.month, found.day) == (event.year, event.month, event.day)
    if found.year is not None and found.year > event.year:
        return False
    return found.key in keys_on(event)


def send_date(found: ContactDate, on_or_after: date, days: int, when: When,
              yearly: bool) -> date | None:
    """The first send date on or after ``on_or_after`` for a contact's date (None: a
    one-off whose day has passed)."""
    first_event = on_or_after + timedelta(days=shift(days, when))
    if found.year is not None and not yearly:
        event = date(found.year, found.month, found.day)
        return None if event < first_event else event - timedelta(days=shift(days, when))
    year = max(first_event.year, found.year or first_event.year)
    for candidate_year in (year, year + 1):
        day = found.day
        if (found.month, day) == (2, 29) and not _is_leap(candidate_year):
            day = 28
        event = date(candidate_year, found.month, day)
        if event >= first_event:
            return event - timedelta(days=shift(days, when))
    return None  # unreachable: next year always comes
