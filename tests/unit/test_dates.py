"""Dates in contacts' attributes (``bot/services/dates.py``): what reads as a date and what
is invalid (never guessed), 29 February, and which day a message before / on / after is
for, across month and year ends."""

from __future__ import annotations

from datetime import date

import pytest

from bot.services.dates import ContactDate, When, event_date, key_of, occurs_on, parse
from bot.services.dates import send_date as first_send


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-03-05", ContactDate(3, 5, 2024)),
    ("2024-03-05T10:30:00", ContactDate(3, 5, 2024)),
    ("2024-03-05 00:00:00", ContactDate(3, 5, 2024)),
    ("2024-03-05T10:30:00.000+04:00", ContactDate(3, 5, 2024)),
    ("2024/3/5", ContactDate(3, 5, 2024)),
    ("05.03.2024", ContactDate(3, 5, 2024)),
    ("05/03/2024", ContactDate(3, 5, 2024)),
    ("5-3-2024", ContactDate(3, 5, 2024)),
    (" 5.3.2024 ", ContactDate(3, 5, 2024)),
    ("05.03", ContactDate(3, 5)),
    ("5/3", ContactDate(3, 5)),
    ("--03-05", ContactDate(3, 5)),
    ("03-25", ContactDate(3, 25)),   # only month-day makes a date
    ("25-03", ContactDate(3, 25)),   # only day-month makes a date
    ("03-03", ContactDate(3, 3)),    # both readings are the same day
    ("29.02", ContactDate(2, 29)),
    ("29.02.2024", ContactDate(2, 29, 2024)),
])
def test_day_first_and_iso_dates_with_or_without_year(value: str, expected: ContactDate) -> None:
    assert parse(value) == expected


@pytest.mark.parametrize("value", [
    "03-05",        # 5 March or 3 May: ambiguous, never guessed
    "29.02.2023",   # 2023 has no 29 February
    "31.04.2024", "32.01", "00.01", "13/13", "2024-13-01",
    "05.03.24",     # two-digit year
    "01.01.1850", "45356", "2024-03-05 or so",
    "tomorrow", "", "   ", "5 March", "2024-03", None, 20240305,
])
def test_what_is_not_a_date_is_invalid(value: object) -> None:
    assert parse(value) is None
    assert key_of(value) == (0, None)


def test_day_first_is_not_month_first() -> None:
    # 05/03/2024 is 5 March (as Azerbaijan and Russia write it), never 3 May
    assert parse("05/03/2024") == ContactDate(3, 5, 2024)
    assert parse("13/01/2024") == ContactDate(1, 13, 2024)
    assert parse("01/13/2024") is None


def test_birthdays_with_and_without_year_come_every_year() -> None:
    with_year, without = parse("05.12.1990"), parse("05.12")
    assert with_year and without
    for year in (2026, 2027, 2030):
        assert occurs_on(with_year, date(year, 12, 5), yearly=True)
        assert occurs_on(without, date(year, 12, 5), yearly=True)
        assert not occurs_on(with_year, date(year, 12, 6), yearly=True)
    # not before the year it is from
    assert not occurs_on(with_year, date(1989, 12, 5), yearly=True)
    # a yearless date repeats even when the message is not yearly
    assert occurs_on(without, date(2031, 12, 5), yearly=False)


def test_a_one_off_date_is_for_its_day_only() -> None:
    appointment = parse("2026-12-07")
    assert appointment
    assert occurs_on(appointment, date(2026, 12, 7), yearly=False)
    assert not occurs_on(appointment, date(2027, 12, 7), yearly=False)
    assert first_send(appointment, date(2026, 12, 1), 2, When.BEFORE, False) == date(2026, 12, 5)
    assert first_send(appointment, date(2026, 12, 6), 2, When.BEFORE, False) is None


def test_29_february_comes_on_the_28th_in_years_without_it() -> None:
    leap_day = parse("29.02.2000")
    assert leap_day
    assert occurs_on(leap_day, date(2028, 2, 29), yearly=True)      # a leap year: the 29th
    assert not occurs_on(leap_day, date(2028, 2, 28), yearly=True)
    assert occurs_on(leap_day, date(2027, 2, 28), yearly=True)      # not a leap year: the 28th
    assert not occurs_on(leap_day, date(2027, 3, 1), yearly=True)
    assert first_send(leap_day, date(2027, 1, 1), 0, When.ON, True) == date(2027, 2, 28)
    assert first_send(leap_day, date(2027, 3, 1), 0, When.ON, True) == date(2028, 2, 29)
    # a yearless 29.02 too; and 28 February's own dates still come on the 28th
    assert occurs_on(ContactDate(2, 29), date(2027, 2, 28), yearly=True)
    assert occurs_on(ContactDate(2, 28), date(2027, 2, 28), yearly=True)
    assert occurs_on(ContactDate(2, 28), date(2028, 2, 28), yearly=True)


def test_days_before_cross_month_and_year_ends() -> None:
    assert event_date(date(2026, 12, 29), 3, When.BEFORE) == date(2027, 1, 1)
    assert event_date(date(2026, 11, 28), 3, When.BEFORE) == date(2026, 12, 1)
    assert event_date(date(2027, 1, 2), 3, When.AFTER) == date(2026, 12, 30)
    assert event_date(date(2026, 12, 5), 9, When.ON) == date(2026, 12, 5)
    new_year = parse("01.01")
    assert new_year
    # 3 days before 1 January is sent on 29 December of the year before
    assert first_send(new_year, date(2026, 12, 4), 3, When.BEFORE, True) == date(2026, 12, 29)
    assert first_send(new_year, date(2026, 12, 30), 3, When.BEFORE, True) == date(2027, 12, 29)
    # 2 days after 30 December is sent on 1 January
    after_30th = first_send(ContactDate(12, 30), date(2026, 12, 31), 2, When.AFTER, True)
    assert after_30th == date(2027, 1, 1)
    # a month end: 1 day before 1 March in a leap year is 29 February
    before_march = first_send(ContactDate(3, 1), date(2028, 2, 1), 1, When.BEFORE, True)
    assert before_march == date(2028, 2, 29)
