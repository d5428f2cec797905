"""When a campaign starts: typed dates and times, times of day, recurring schedules."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.errors import ValidationError
from bot.services.when import Recurrence, local_to_utc, parse_time_of_day, parse_when

BAKU = ZoneInfo("Asia/Baku")  # +04:00, no DST
BERLIN = ZoneInfo("Europe/Berlin")  # forward 29 Mar 2026 02:00, back 25 Oct 2026 03:00
NEW_YORK = ZoneInfo("America/New_York")  # forward 8 Mar 2026 02:00, back 1 Nov 2026 02:00

# Wednesday 25 November 2026, 13:00 in Baku.
NOW = datetime(2026, 11, 25, 13, 0, tzinfo=BAKU).astimezone(UTC)


def baku(*args: int) -> datetime:
    return datetime(*args, tzinfo=BAKU).astimezone(UTC)


def reason_of(text: str, tz: ZoneInfo = BAKU, now: datetime = NOW) -> tuple[str, str]:
    with pytest.raises(ValidationError) as caught:
        parse_when(text, tz, now)
    return caught.value.where, caught.value.reason


# --- parse_when: the examples, owner in Baku --------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("tomorrow 10:00", baku(2026, 11, 26, 10, 0)),
    ("sabah 10:00", baku(2026, 11, 26, 10, 0)),
    ("sabah saat 10:00", baku(2026, 11, 26, 10, 0)),
    ("Sabah saat 10:00", baku(2026, 11, 26, 10, 0)),
    ("завтра в 10:00", baku(2026, 11, 26, 10, 0)),
    ("25.12 18:30", baku(2026, 12, 25, 18, 30)),
    ("25.12.2026 18:30", baku(2026, 12, 25, 18, 30)),
    ("2026-12-25 18:30", baku(2026, 12, 25, 18, 30)),
    ("today 18:00", baku(2026, 11, 25, 18, 0)),
    ("bu gün 18:00", baku(2026, 11, 25, 18, 0)),
    ("bugün 18:00", baku(2026, 11, 25, 18, 0)),
    ("сегодня 18:00", baku(2026, 11, 25, 18, 0)),
    ("сегодня в 18:00", baku(2026, 11, 25, 18, 0)),
    ("in 2 hours", baku(2026, 11, 25, 15, 0)),
    ("через 2 часа", baku(2026, 11, 25, 15, 0)),
    ("2 saat sonra", baku(2026, 11, 25, 15, 0)),
    ("30 dəqiqə sonra", baku(2026, 11, 25, 13, 30)),
    ("30 DƏQİQƏ SONRA", baku(2026, 11, 25, 13, 30)),
    ("3 saatdan sonra", baku(2026, 11, 25, 16, 0)),
    ("BU GÜN SAAT 18:00", baku(2026, 11, 25, 18, 0)),
    ("18:30", baku(2026, 11, 25, 18, 30)),
    ("в 18:30", baku(2026, 11, 25, 18, 30)),
    ("saat 18:30", baku(2026, 11, 25, 18, 30)),
    ("  18:30  ", baku(2026, 11, 25, 18, 30)),
])
def test_what_owners_type_is_read_in_their_zone(text, expected) -> None:
    assert parse_when(text, BAKU, NOW) == expected


def test_the_answer_is_aware_utc() -> None:
    result = parse_when("tomorrow 10:00", BAKU, NOW)
    assert result.tzinfo is UTC
    assert result == datetime(2026, 11, 26, 6, 0, tzinfo=UTC)


def test_a_bare_time_already_past_today_means_tomorrow() -> None:
    assert parse_when("10:00", BAKU, NOW) == baku(2026, 11, 26, 10, 0)
    assert parse_when("12:58", BAKU, NOW) == baku(2026, 11, 26, 12, 58)


def test_a_bare_time_typed_in_the_minute_just_gone_means_now_not_tomorrow() -> None:
    now = NOW + timedelta(seconds=30)  # 13:00:30
    assert parse_when("13:00", BAKU, now) == baku(2026, 11, 25, 13, 0)


@pytest.mark.parametrize(("text", "expected"), [
    ("12.03 10:00", baku(2027, 3, 12, 10, 0)),  # dateparser alone reads nothing here
    ("01.07 10:00", baku(2027, 7, 1, 10, 0)),
    ("05.01 10:00", baku(2027, 1, 5, 10, 0)),  # January is next year's
    ("25/12 18:30", baku(2026, 12, 25, 18, 30)),
    ("25.12 18.30", baku(2026, 12, 25, 18, 30)),
    ("25.12 в 18:30", baku(2026, 12, 25, 18, 30)),
    ("25.12.26 18:30", baku(2026, 12, 25, 18, 30)),
    ("12.03.2027 10:00", baku(2027, 3, 12, 10, 0)),
    ("29.02 10:00", baku(2028, 2, 29, 10, 0)),  # the next 29 February there is
    ("sabah 9.30", baku(2026, 11, 26, 9, 30)),
    ("25 декабря 18:30", baku(2026, 12, 25, 18, 30)),
    ("25 dekabr 18:30", baku(2026, 12, 25, 18, 30)),
    ("December 25 18:30", baku(2026, 12, 25, 18, 30)),
    ("через 2 дня в 10:00", baku(2026, 11, 27, 10, 0)),
    ("25.11 18:00", baku(2026, 11, 25, 18, 0)),  # today's date, later today
])
def test_day_month_dates_and_dotted_times(text, expected) -> None:
    assert parse_when(text, BAKU, NOW) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("10am", baku(2026, 11, 26, 10, 0)),  # already past today: tomorrow
    ("2 pm", baku(2026, 11, 25, 14, 0)),  # (dateparser alone says tomorrow)
    ("10:30 PM", baku(2026, 11, 25, 22, 30)),
    ("10 p.m.", baku(2026, 11, 25, 22, 0)),
    ("tomorrow 10am", baku(2026, 11, 26, 10, 0)),
    ("friday 9am", baku(2026, 11, 27, 9, 0)),
    ("12/25 6:30 pm", baku(2026, 12, 25, 18, 30)),
    ("завтра в 10 утра", baku(2026, 11, 26, 10, 0)),
    ("завтра в 10 вечера", baku(2026, 11, 26, 22, 0)),
    ("завтра в 22", baku(2026, 11, 26, 22, 0)),
    ("через 2 дня в 10", baku(2026, 11, 27, 10, 0)),
    ("sabah saat 10", baku(2026, 11, 26, 10, 0)),
])
def test_times_written_with_am_pm_or_a_whole_hour(text, expected) -> None:
    assert parse_when(text, BAKU, NOW) == expected


@pytest.mark.parametrize(("text", "month_first", "expected"), [
    ("12/25 18:30", True, baku(2026, 12, 25, 18, 30)),  # as English screens write it
    ("05/06 10:00", True, baku(2027, 5, 6, 10, 0)),
    ("05/06 10:00", False, baku(2027, 6, 5, 10, 0)),  # az, ru: day first
    ("05/06/2027 10:00", True, baku(2027, 5, 6, 10, 0)),
    ("05/06/27 10:00", False, baku(2027, 6, 5, 10, 0)),
    ("25/12 18:30", True, baku(2026, 12, 25, 18, 30)),  # no 25th month: the other order
    ("12/25 18:30", False, baku(2026, 12, 25, 18, 30)),
    ("25.12 18:30", True, baku(2026, 12, 25, 18, 30)),  # dotted: always day first
])
def test_slash_dates_follow_the_owners_language(text, month_first, expected) -> None:
    assert parse_when(text, BAKU, NOW, month_first=month_first) == expected


def test_an_impossible_slash_date_is_refused_either_way() -> None:
    for month_first in (True, False):
        with pytest.raises(ValidationError) as caught:
            parse_when("13/25 10:00", BAKU, NOW, month_first=month_first)
        assert caught.value.reason == "unparseable"


def test_an_explicit_zone_in_the_text_is_respected() -> None:
    assert parse_when("18:00 UTC", BAKU, NOW) == datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


# --- parse_when: refusals -----------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "today 12:00", "сегодня в 12:00", "bu gün 12:58",
    "25.12.2025 18:30", "2026-11-24 18:00",
    "25.11 10:00",  # today's date, an hour already gone: not next year's 25 November
    "25/11 10:00", "yesterday 10:00", "вчера в 10:00", "today 9am",
])
def test_a_time_in_the_past_is_refused(text) -> None:
    assert reason_of(text) == ("when", "in_past")


def test_a_time_within_the_last_minute_still_counts_as_now() -> None:
    now = NOW + timedelta(seconds=50)
    assert parse_when("today 13:00", BAKU, now) == baku(2026, 11, 25, 13, 0)
    assert reason_of("today 12:59", now=now) == ("when", "in_past")


@pytest.mark.parametrize("text", [
    "25.12", "25.12.2026", "2026-12-25", "tomorrow", "завтра", "sabah", "in 2 days", "10",
])
def test_a_date_without_a_time_is_not_guessed_as_midnight(text) -> None:
    assert reason_of(text) == ("when", "no_time")


@pytest.mark.parametrize("text", [
    "", "   ", "garbage", "hello 10:00", "25:00", "31.02 10:00", "когда-нибудь", "13pm",
    "tomorrow 0am",
])
def test_garbage_is_refused(text) -> None:
    assert reason_of(text) == ("when", "unparseable")


def test_a_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_when("18:00", BAKU, datetime(2026, 11, 25, 13, 0))


# --- parse_when: zones with DST -------------------------------------------------------------

def test_tomorrow_morning_after_clocks_go_forward_in_berlin() -> None:
    saturday_evening = datetime(2026, 3, 28, 20, 0, tzinfo=BERLIN)  # CET, +01:00
    assert parse_when("tomorrow 10:00", BERLIN, saturday_evening) == datetime(
        2026, 3, 29, 8, 0, tzinfo=UTC)  # CEST, +02:00
    assert parse_when("завтра в 10:00", BERLIN, saturday_evening) == datetime(
        2026, 3, 29, 8, 0, tzinfo=UTC)
    assert parse_when("29.03 18:30", BERLIN, saturday_evening) == datetime(
        2026, 3, 29, 16, 30, tzinfo=UTC)


def test_a_time_skipped_by_the_dst_change_means_the_moment_clocks_jump() -> None:
    saturday_evening = datetime(2026, 3, 28, 20, 0, tzinfo=BERLIN)
    jump = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 CET = 03:00 CEST
    assert parse_when("sabah 02:30", BERLIN, saturday_evening) == jump
    assert parse_when("29.03 02:30", BERLIN, saturday_evening) == jump


def test_in_two_hours_is_two_real_hours_across_a_dst_change() -> None:
    # (Adding to a datetime in a ZoneInfo adds wall-clock time, so add in UTC.)
    spring = datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN).astimezone(UTC)  # 00:30 UTC
    assert parse_when("in 2 hours", BERLIN, spring) == spring + timedelta(hours=2)
    assert parse_when("через 2 часа", BERLIN, spring).astimezone(BERLIN).hour == 4  # CEST
    autumn = datetime(2026, 10, 25, 1, 30, tzinfo=BERLIN).astimezone(UTC)  # still CEST
    assert parse_when("in 2 hours", BERLIN, autumn) == autumn + timedelta(hours=2)
    assert parse_when("in 2 hours", BERLIN, autumn).astimezone(BERLIN).hour == 2  # CET


def test_a_time_shown_twice_when_clocks_go_back_is_its_first_occurrence() -> None:
    autumn = datetime(2026, 10, 25, 1, 30, tzinfo=BERLIN)
    assert parse_when("02:30", BERLIN, autumn) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_new_york_across_its_dst_change() -> None:
    saturday_evening = datetime(2026, 3, 7, 20, 0, tzinfo=NEW_YORK)  # EST, -05:00
    assert parse_when("tomorrow 10:00", NEW_YORK, saturday_evening) == datetime(
        2026, 3, 8, 14, 0, tzinfo=UTC)  # EDT, -04:00
    assert parse_when("in 12 hours", NEW_YORK, saturday_evening) == datetime(
        2026, 3, 8, 13, 0, tzinfo=UTC)
    assert parse_when("today 21:00", NEW_YORK, saturday_evening) == datetime(
        2026, 3, 8, 2, 0, tzinfo=UTC)


def test_the_same_words_mean_different_instants_in_different_zones() -> None:
    in_baku = parse_when("tomorrow 10:00", BAKU, NOW)
    in_new_york = parse_when("tomorrow 10:00", NEW_YORK, NOW)
    assert in_new_york - in_baku == timedelta(hours=9)


# --- parse_when: how dateparser is used ---------------------------------------------------

def test_importing_the_module_does_not_import_dateparser() -> None:
    root = Path(__file__).resolve().parents[2]
    code = ("import sys, bot.services.when, bot.services.planning; "
            "print('dateparser' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"


def test_parsing_works_when_the_servers_own_zone_is_unknown(monkeypatch) -> None:
    import dateparser.utils

    def unknown() -> None:
        raise ValueError("no local zone")

    # dateparser warns and fails when it needs that zone; our settings never make it ask.
    monkeypatch.setattr(dateparser.utils, "get_localzone", unknown)
    assert parse_when("tomorrow 10:00", BAKU, NOW) == baku(2026, 11, 26, 10, 0)


# --- parse_time_of_day ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("10:00", time(10, 0)), ("9.30", time(9, 30)), ("18:30", time(18, 30)),
    ("7", time(7, 0)), (" 07:05 ", time(7, 5)), ("0", time(0, 0)), ("23:59", time(23, 59)),
    ("10.00", time(10, 0)), ("22:00", time(22, 0)),
    ("10am", time(10, 0)), ("10 am", time(10, 0)), ("10 AM", time(10, 0)),
    ("10pm", time(22, 0)), ("10:30 pm", time(22, 30)), ("10 p.m.", time(22, 0)),
    ("12am", time(0, 0)), ("12pm", time(12, 0)), ("at 9 pm", time(21, 0)),
    ("saat 10", time(10, 0)), ("saat 10:00", time(10, 0)), ("в 10", time(10, 0)),
    ("в 10:00", time(10, 0)), ("в 10 утра", time(10, 0)), ("10 вечера", time(22, 0)),
    ("2 ночи", time(2, 0)), ("11 ночи", time(23, 0)),
])
def test_a_time_of_day(text, expected) -> None:
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize("text", [
    "", "24:00", "10:60", "10:5", "abc", "1000", "-1", "10:00:00", "7h", "13pm", "0am",
    "22 вечера", "7 ночи", "10 am pm", "saat",
])
def test_a_bad_time_of_day_is_refused(text) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_time_of_day(text)
    assert (caught.value.where, caught.value.reason) == ("time", "bad_time")


# --- local_to_utc -----------------------------------------------------------------------------

def test_local_wall_times_around_dst_changes() -> None:
    skipped = datetime(2026, 3, 29, 2, 30)
    assert local_to_utc(skipped, BERLIN) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    twice = datetime(2026, 10, 25, 2, 30)
    assert local_to_utc(twice, BERLIN) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert local_to_utc(twice, BERLIN, latest=True) == datetime(2026, 10, 25, 1, 30,
                                                                tzinfo=UTC)
    assert local_to_utc(datetime(2026, 7, 1, 12, 0), BERLIN) == datetime(2026, 7, 1, 10, 0,
                                                                         tzinfo=UTC)


# --- Recurrence -------------------------------------------------------------------------------

def test_daily_runs_today_if_the_time_is_still_ahead_else_tomorrow() -> None:
    at_two = Recurrence(every="day", at=time(14, 0))
    assert at_two.next_after(NOW, BAKU) == baku(2026, 11, 25, 14, 0)
    at_ten = Recurrence(every="day", at=time(10, 0))
    assert at_ten.next_after(NOW, BAKU) == baku(2026, 11, 26, 10, 0)


def test_the_next_run_is_strictly_after_the_given_instant() -> None:
    daily = Recurrence(every="day", at=time(13, 0))
    assert daily.next_after(NOW, BAKU) == baku(2026, 11, 26, 13, 0)
    assert daily.next_after(NOW - timedelta(seconds=1), BAKU) == NOW


def test_weekly_runs_on_the_chosen_weekdays_only() -> None:
    mondays_and_fridays = Recurrence(every="week", at=time(10, 0), weekdays=(0, 4))
    first = mondays_and_fridays.next_after(NOW, BAKU)  # Wednesday -> Friday
    assert first == baku(2026, 11, 27, 10, 0)
    second = mondays_and_fridays.next_after(first, BAKU)
    assert second == baku(2026, 11, 30, 10, 0)
    assert second.astimezone(BAKU).weekday() == 0


def test_weekly_on_a_day_already_gone_this_week_waits_for_next_week() -> None:
    tuesdays = Recurrence(every="week", at=time(9, 0), weekdays=(1,))
    assert tuesdays.next_after(NOW, BAKU) == baku(2026, 12, 1, 9, 0)
    wednesdays = Recurrence(every="week", at=time(12, 0), weekdays=(2,))
    assert wednesdays.next_after(NOW, BAKU) == baku(2026, 12, 2, 12, 0)


def test_a_daily_run_keeps_its_local_time_across_dst_changes() -> None:
    daily = Recurrence(every="day", at=time(10, 0))
    saturday = datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN)
    sunday = daily.next_after(saturday, BERLIN)
    assert sunday == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)  # 10:00 CEST
    assert sunday - saturday == timedelta(hours=23)
    autumn = daily.next_after(datetime(2026, 10, 24, 10, 0, tzinfo=BERLIN), BERLIN)
    assert autumn == datetime(2026, 10, 25, 9, 0, tzinfo=UTC)  # 10:00 CET


def test_a_run_at_a_skipped_local_time_happens_when_clocks_jump() -> None:
    night = Recurrence(every="day", at=time(2, 30))
    runs = [datetime(2026, 3, 28, 12, 0, tzinfo=UTC)]
    for _ in range(3):
        runs.append(night.next_after(runs[-1], BERLIN))
    assert runs[1:] == [
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # 02:30 does not exist: 03:00 CEST
        datetime(2026, 3, 30, 0, 30, tzinfo=UTC),  # 02:30 CEST
        datetime(2026, 3, 31, 0, 30, tzinfo=UTC),
    ]
    sundays = Recurrence(every="week", at=time(2, 30), weekdays=(6,))
    assert sundays.next_after(datetime(2026, 3, 5, tzinfo=UTC), NEW_YORK) == datetime(
        2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT


def test_a_local_time_shown_twice_runs_once_that_day() -> None:
    night = Recurrence(every="day", at=time(2, 30))
    first = night.next_after(datetime(2026, 10, 24, 12, 0, tzinfo=UTC), BERLIN)
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert night.next_after(first, BERLIN) == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(("kwargs", "where", "reason"), [
    ({"every": "month", "at": time(10)}, "recurrence", "bad_every"),
    ({"every": "week", "at": time(10)}, "recurrence", "no_weekdays"),
    ({"every": "week", "at": time(10), "weekdays": (7,)}, "recurrence", "bad_weekday"),
    ({"every": "week", "at": time(10), "weekdays": (-1,)}, "recurrence", "bad_weekday"),
    ({"every": "day", "at": time(10), "weekdays": (1,)}, "recurrence", "bad_weekday"),
    ({"every": "day", "at": time(10, 0, 30)}, "time", "bad_time"),
])
def test_an_impossible_recurrence_is_refused(kwargs, where, reason) -> None:
    with pytest.raises(ValidationError) as caught:
        Recurrence(**kwargs)
    assert (caught.value.where, caught.value.reason) == (where, reason)


def test_weekdays_are_kept_in_order_without_repeats() -> None:
    assert Recurrence(every="week", at=time(9), weekdays=(4, 0, 4)).weekdays == (0, 4)


@pytest.mark.parametrize("recurrence", [
    Recurrence(every="day", at=time(9, 30)),
    Recurrence(every="week", at=time(18, 0), weekdays=(0, 2, 4)),
])
def test_a_recurrence_survives_storage_as_json(recurrence) -> None:
    stored = recurrence.to_json()
    assert Recurrence.from_json(stored) == recurrence
    assert stored["at"] == recurrence.at.strftime("%H:%M")


@pytest.mark.parametrize("stored", [{}, {"every": "day"}, {"every": "day", "at": 10}, None])
def test_unreadable_stored_recurrence_is_reported(stored) -> None:
    with pytest.raises(ValidationError) as caught:
        Recurrence.from_json(stored)
    assert caught.value.where == "recurrence"
