"""The send plan: batches, spacing, quiet hours, senders, variants, determinism."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import ValidationError
from bot.services.planning import (
    DAY,
    PRESETS,
    DailyCap,
    Pacing,
    Plan,
    QuietHours,
    assign,
    estimate,
    plan,
)

BAKU = ZoneInfo("Asia/Baku")  # +04:00 all year
BERLIN = ZoneInfo("Europe/Berlin")  # clocks forward 29 Mar 2026, back 25 Oct 2026
NEW_YORK = ZoneInfo("America/New_York")  # forward 8 Mar 2026, back 1 Nov 2026
START = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 10:00 in Baku, a Wednesday

STEADY = Pacing(10.0, 20.0, 100, 300.0, 600.0)  # no quiet hours
# Epoch seconds near 1.8e9 carry about 2e-7 s of rounding; a gap is checked within this.
SLACK = 1e-3


def local(epoch: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(epoch, tz)


def per_sender(result: Plan) -> dict[int, list[int]]:
    """Recipient indexes of each sender, in timeline order."""
    timelines: dict[int, list[int]] = {}
    for i, who in enumerate(result.sender):
        timelines.setdefault(who, []).append(i)
    return timelines


def gaps(result: Plan) -> list[tuple[float, bool, float]]:
    """(gap to the previous message of the same sender, a new batch?, the later time)."""
    found = []
    for indexes in per_sender(result).values():
        for before, after in pairwise(indexes):
            found.append((result.at[after] - result.at[before],
                          result.batch[after] != result.batch[before], result.at[after]))
    return found


# --- batches, spacing -------------------------------------------------------------------

def test_recipients_are_cut_into_batches_of_the_chosen_size_in_order() -> None:
    result = plan(250, STEADY, START, seed=1, tz=BAKU)
    assert len(result) == 250
    assert result.batches == 3
    assert [result.batch.count(b) for b in range(3)] == [100, 100, 50]
    assert result.batch == sorted(result.batch)
    assert result.batch[99] == 0 and result.batch[100] == 1 and result.batch[200] == 2


def test_the_first_message_goes_out_at_the_start() -> None:
    result = plan(5, STEADY, START, seed=1, tz=BAKU)
    assert local(result.at[0], BAKU) == START


def test_every_delay_and_every_batch_pause_stay_within_their_bounds() -> None:
    pacing = Pacing(8.0, 20.0, 30, 300.0, 600.0)
    result = plan(400, pacing, START, seed=7, tz=BAKU, senders=2)
    delays = [gap for gap, new_batch, _ in gaps(result) if not new_batch]
    pauses = [gap for gap, new_batch, _ in gaps(result) if new_batch]
    assert len(delays) == 400 - 14 and len(pauses) == 14 - 2
    assert all(8.0 - SLACK <= d <= 20.0 + SLACK for d in delays)
    assert all(300.0 - SLACK <= p <= 600.0 + SLACK for p in pauses)
    # Uniform draws really spread over the range rather than sitting at one end.
    assert min(delays) < 10.0 and max(delays) > 18.0


def test_a_fixed_delay_spaces_messages_exactly() -> None:
    result = plan(4, Pacing(15.0, 15.0, 10, 60.0, 60.0), START, seed=3, tz=BAKU)
    assert [t - result.at[0] for t in result.at] == [0.0, 15.0, 30.0, 45.0]


def test_an_empty_campaign_finishes_when_it_starts() -> None:
    result = plan(0, STEADY, START, seed=1, tz=BAKU)
    assert len(result) == 0 and result.batches == 0
    assert result.finish == START


def test_finish_is_the_last_planned_time_in_utc() -> None:
    result = plan(150, STEADY, START, seed=5, tz=BAKU, senders=2)
    assert result.finish == datetime.fromtimestamp(max(result.at), UTC)
    assert result.finish.tzinfo is UTC


# --- determinism ------------------------------------------------------------------------

def test_the_same_seed_gives_the_same_plan() -> None:
    first = plan(500, PRESETS["normal"], START, seed=42, tz=BAKU, senders=3, variants=2)
    again = plan(500, PRESETS["normal"], START, seed=42, tz=BAKU, senders=3, variants=2)
    assert first == again


def test_a_different_seed_gives_a_different_plan() -> None:
    first = plan(50, STEADY, START, seed=1, tz=BAKU)
    other = plan(50, STEADY, START, seed=2, tz=BAKU)
    assert first.at != other.at
    assert first.batch == other.batch  # only the timing is random


# --- senders and variants ---------------------------------------------------------------

def test_batches_alternate_between_senders() -> None:
    result = plan(500, STEADY, START, seed=1, tz=BAKU, senders=2)
    assert result.sender == [0] * 100 + [1] * 100 + [0] * 100 + [1] * 100 + [0] * 100


WARMING = [20, 40, 80, 160, 320, 640, 1000]  # a number linked today, day by day


def sent_by(owners: list[int], size: int, count: int) -> list[int]:
    totals = [0] * (max(owners) + 1)
    for b, who in enumerate(owners):
        totals[who] += min(size, count - b * size)
    return totals


def test_senders_with_equal_room_still_take_turns() -> None:
    assert assign(1000, 100, 3, [[500]] * 3) == [b % 3 for b in range(10)]
    assert assign(1000, 100, 3, [[500]] * 3, load=[7, 7, 7]) == [b % 3 for b in range(10)]


def test_a_number_in_its_warm_up_gets_the_share_its_cap_allows() -> None:
    # a seasoned number (1,000 a day) and one linked today (20): in turn, the new one would
    # get 510 of 1,020 and hold most of them back for days; by room, it gets its 20
    owners = assign(1020, 10, 2, [[1000], WARMING])
    assert sent_by(owners, 10, 1020) == [1000, 20]
    # and a batch bigger than a number's room goes where it fits
    assert sent_by(assign(1020, 100, 2, [[1000], WARMING]), 100, 1020) == [1000, 20]


def test_room_taken_by_other_campaigns_counts_and_the_next_day_refills() -> None:
    # the seasoned number is full today (sent + queued): the new one takes what it can
    # today (20), then the next day's caps (1,000 and 40) share the rest by room
    owners = assign(100, 10, 2, [[1000], WARMING], load=[1000, 0])
    assert owners[:4] == [1, 1, 0, 1]
    assert sent_by(owners, 10, 100) == [70, 30]
    owners = assign(1100, 10, 2, [[1000], WARMING], load=[1000, 0])
    # day 2 takes 1,000 + 40, day 3 the last 40 (30 + 10)
    assert sent_by(owners, 10, 1100) == [1030, 70]


def test_a_plan_by_room_keeps_each_numbers_pace() -> None:
    result = plan(1020, STEADY, START, seed=3, tz=BAKU, senders=2, capacity=[[1000], WARMING])
    assert result.sender.count(1) == 20
    for _gap, new_batch, _t in gaps(result):
        assert _gap >= (STEADY.batch_pause_min if new_batch else STEADY.delay_min) - SLACK
    assert plan(1020, STEADY, START, seed=3, tz=BAKU, senders=2,
                capacity=[[1000], WARMING]) == result  # still a function of its arguments


def test_senders_work_in_parallel_from_the_same_start() -> None:
    alone = plan(400, STEADY, START, seed=1, tz=BAKU)
    pair = plan(400, STEADY, START, seed=1, tz=BAKU, senders=2)
    assert local(pair.at[0], BAKU) == START and local(pair.at[100], BAKU) == START
    one_sender = (alone.finish - START).total_seconds()
    two_senders = (pair.finish - START).total_seconds()
    assert two_senders < one_sender * 0.6


def test_batch_i_uses_template_variant_i_mod_n() -> None:
    result = plan(700, STEADY, START, seed=1, tz=BAKU, senders=2, variants=3)
    assert result.variant == [b % 3 for b in result.batch]
    assert sorted(set(result.variant)) == [0, 1, 2]
    assert plan(300, STEADY, START, seed=1, tz=BAKU).variant == [0] * 300


# --- quiet hours ------------------------------------------------------------------------

def test_quiet_hours_contain_local_times_and_may_wrap_past_midnight() -> None:
    night = QuietHours(time(21), time(9))
    assert night.contains(time(23, 30)) and night.contains(time(3)) and night.contains(time(21))
    assert not night.contains(time(9)) and not night.contains(time(15))
    lunch = QuietHours(time(12), time(14))
    assert lunch.contains(time(12)) and lunch.contains(time(13, 59))
    assert not lunch.contains(time(14)) and not lunch.contains(time(11, 59))


def test_no_message_is_planned_at_night_and_sending_resumes_when_quiet_hours_end() -> None:
    night = QuietHours(time(21), time(9))
    pacing = Pacing(60.0, 120.0, 100, 600.0, 900.0, night)
    result = plan(2000, pacing, START, seed=11, tz=BAKU)
    assert not any(night.contains(local(t, BAKU).time()) for t in result.at)
    mornings = [local(t, BAKU) for t in result.at if local(t, BAKU).time() == time(9)]
    assert len(mornings) >= 2  # it ran over several nights, resuming at 09:00 each time
    assert result.finish - START > timedelta(days=2)


def test_after_quiet_hours_the_timeline_continues_from_their_end() -> None:
    night = QuietHours(time(21), time(9))
    pacing = Pacing(60.0, 120.0, 1000, 600.0, 900.0, night)
    result = plan(1000, pacing, START, seed=4, tz=BAKU)
    resumed = next(i for i, t in enumerate(result.at) if local(t, BAKU).time() == time(9))
    assert 60.0 - SLACK <= result.at[resumed + 1] - result.at[resumed] <= 120.0 + SLACK


def test_quiet_hours_in_the_middle_of_the_day() -> None:
    lunch = QuietHours(time(12), time(14))
    result = plan(300, Pacing(30.0, 60.0, 100, 60.0, 120.0, lunch), START, seed=2, tz=BAKU)
    times = [local(t, BAKU).time() for t in result.at]
    assert not any(lunch.contains(t) for t in times)
    assert time(14) in times and any(t < time(12) for t in times)


def test_a_start_inside_quiet_hours_waits_for_their_end() -> None:
    late_evening = datetime(2026, 11, 25, 23, 0, tzinfo=BAKU)
    result = plan(3, PRESETS["safe"], late_evening, seed=1, tz=BAKU)
    assert local(result.at[0], BAKU) == datetime(2026, 11, 26, 9, 0, tzinfo=BAKU)


def test_a_start_just_after_midnight_inside_wrapping_quiet_hours_waits_until_morning() -> None:
    after_midnight = datetime(2026, 11, 26, 0, 30, tzinfo=BAKU)
    result = plan(1, PRESETS["safe"], after_midnight, seed=1, tz=BAKU)
    assert local(result.at[0], BAKU) == datetime(2026, 11, 26, 9, 0, tzinfo=BAKU)


def test_quiet_hours_follow_the_owners_time_zone() -> None:
    # 17:30 UTC is 21:30 in Baku (quiet) but 18:30 in Berlin (not yet).
    evening = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)
    in_baku = plan(1, PRESETS["safe"], evening, seed=1, tz=BAKU)
    in_berlin = plan(1, PRESETS["safe"], evening, seed=1, tz=BERLIN)
    assert in_baku.finish == datetime(2026, 11, 26, 5, 0, tzinfo=UTC)  # 09:00 in Baku
    assert in_berlin.finish == evening


def test_quiet_hours_end_at_local_time_across_a_dst_change() -> None:
    # Night of 28 -> 29 March 2026 in Berlin: 09:00 is CEST (+2) the next morning.
    saturday_night = datetime(2026, 3, 28, 22, 0, tzinfo=BERLIN)
    result = plan(1, PRESETS["safe"], saturday_night, seed=1, tz=BERLIN)
    assert result.finish == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    # ... and back to CET (+1) in autumn.
    autumn_night = datetime(2026, 10, 24, 22, 0, tzinfo=BERLIN)
    assert plan(1, PRESETS["safe"], autumn_night, seed=1, tz=BERLIN).finish == datetime(
        2026, 10, 25, 8, 0, tzinfo=UTC)


def test_quiet_hours_ending_in_the_repeated_autumn_hour_cover_both_occurrences() -> None:
    # Berlin shows 02:00-03:00 twice on 25 October 2026; quiet until 02:30 means the
    # second 02:30 (CET), or messages would go out at 02:00-02:30 local after all.
    quiet = QuietHours(time(23), time(2, 30))
    pacing = Pacing(300.0, 300.0, 1000, 60.0, 60.0, quiet)
    start = datetime(2026, 10, 24, 22, 0, tzinfo=BERLIN)
    result = plan(30, pacing, start, seed=1, tz=BERLIN)
    assert not any(quiet.contains(local(t, BERLIN).time()) for t in result.at)
    assert datetime.fromtimestamp(result.at[12], UTC) == datetime(2026, 10, 25, 1, 30,
                                                                  tzinfo=UTC)


def test_quiet_hours_starting_in_the_skipped_dst_hour_begin_when_clocks_jump() -> None:
    # New York skips 02:00-03:00 on 8 March 2026; quiet from 02:30 starts at 03:00 EDT.
    quiet = QuietHours(time(2, 30), time(6))
    pacing = Pacing(600.0, 600.0, 1000, 60.0, 60.0, quiet)
    start = datetime(2026, 3, 8, 1, 0, tzinfo=NEW_YORK)
    result = plan(20, pacing, start, seed=1, tz=NEW_YORK)
    times = [local(t, NEW_YORK) for t in result.at]
    assert not any(quiet.contains(t.time()) for t in times)
    assert times[6] == datetime(2026, 3, 8, 6, 0, tzinfo=NEW_YORK)  # 01:00..01:50, then 06:00


# --- presets, estimate, speed -----------------------------------------------------------

def test_presets_are_valid_and_safer_ones_are_slower() -> None:
    for pacing in PRESETS.values():
        pacing.validate()
    finish = {name: estimate(1000, pacing, START, BAKU).finish
              for name, pacing in PRESETS.items()}
    assert finish["safe"] > finish["normal"] > finish["fast"]
    assert all(p.batch_size <= 100 for p in PRESETS.values())
    assert PRESETS["safe"].quiet == QuietHours(time(21), time(9))
    assert PRESETS["fast"].quiet is None


def test_estimate_is_stable_and_close_to_a_real_plan() -> None:
    finish = estimate(3000, PRESETS["normal"], START, BAKU, senders=2).finish
    assert finish == estimate(3000, PRESETS["normal"], START, BAKU, senders=2).finish
    planned = plan(3000, PRESETS["normal"], START, seed=9, tz=BAKU, senders=2).finish
    assert abs((planned - finish).total_seconds()) < 3600
    assert estimate(0, PRESETS["normal"], START, BAKU).finish == START


def test_planning_a_hundred_thousand_recipients_gives_each_a_slot() -> None:
    # its speed is measured by bench/, not asserted here (timed tests flake)
    result = plan(100_000, PRESETS["normal"], START, seed=1, tz=BAKU, senders=2)
    assert len(result) == 100_000


# --- validation and storage -------------------------------------------------------------

@pytest.mark.parametrize(("pacing", "where", "reason"), [
    (Pacing(20.0, 10.0, 100, 60.0, 120.0), "delay", "range"),
    (Pacing(-1.0, 10.0, 100, 60.0, 120.0), "delay", "range"),
    (Pacing(float("nan"), 10.0, 100, 60.0, 120.0), "delay", "range"),
    (Pacing(10.0, 3601.0, 100, 60.0, 120.0), "delay", "too_long"),
    (Pacing(10.0, 20.0, 0, 60.0, 120.0), "batch_size", "range"),
    (Pacing(10.0, 20.0, 1001, 60.0, 120.0), "batch_size", "range"),
    (Pacing(10.0, 20.0, 100, 600.0, 60.0), "pause", "range"),
    (Pacing(10.0, 20.0, 100, -5.0, 60.0), "pause", "range"),
    (Pacing(10.0, 20.0, 100, 60.0, 86401.0), "pause", "too_long"),
    (Pacing(10.0, 20.0, 100, 60.0, 120.0, QuietHours(time(9), time(9))), "quiet", "empty"),
])
def test_an_impossible_pacing_says_which_field_is_wrong(pacing, where, reason) -> None:
    with pytest.raises(ValidationError) as caught:
        pacing.validate()
    assert (caught.value.where, caught.value.reason) == (where, reason)
    with pytest.raises(ValidationError):
        plan(10, pacing, START, seed=1, tz=BAKU)


def test_the_limits_themselves_are_allowed() -> None:
    Pacing(0.0, 3600.0, 1, 0.0, 86400.0).validate()
    Pacing(5.0, 5.0, 1000, 60.0, 60.0).validate()


@pytest.mark.parametrize(("kwargs", "where"), [
    ({"count": -1}, "count"), ({"senders": 0}, "senders"), ({"variants": 0}, "variants"),
])
def test_impossible_plan_arguments_are_refused(kwargs, where) -> None:
    arguments = {"count": 10, "senders": 1, "variants": 1} | kwargs
    with pytest.raises(ValidationError) as caught:
        plan(arguments.pop("count"), STEADY, START, 1, BAKU, **arguments)
    assert (caught.value.where, caught.value.reason) == (where, "range")


def test_a_naive_start_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan(1, STEADY, datetime(2026, 11, 25, 10, 0), seed=1, tz=BAKU)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_pacing_survives_storage_as_json(name) -> None:
    stored = PRESETS[name].to_json()
    assert Pacing.from_json(stored) == PRESETS[name]
    if PRESETS[name].quiet:
        assert stored["quiet"] == PRESETS[name].quiet.to_json()
        assert stored["quiet"]["start"].count(":") == 1


def test_pacing_json_as_typed_by_the_custom_wizard_is_read() -> None:
    stored = {"delay_min": 5, "delay_max": 9, "batch_size": 40, "batch_pause_min": 120,
              "batch_pause_max": 180, "quiet": {"start": "22:30", "end": "07:45"}}
    pacing = Pacing.from_json(stored)
    assert pacing == Pacing(5.0, 9.0, 40, 120.0, 180.0,
                            QuietHours(time(22, 30), time(7, 45)))
    assert Pacing.from_json(pacing.to_json()) == pacing
    assert Pacing.from_json(stored | {"quiet": None}).quiet is None


@pytest.mark.parametrize("stored", [
    {}, {"delay_min": "fast"}, None,
    {"delay_min": 1, "delay_max": 2, "batch_size": 3, "batch_pause_min": 4,
     "batch_pause_max": 5, "quiet": "night"},
])
def test_unreadable_stored_pacing_is_reported(stored) -> None:
    with pytest.raises(ValidationError) as caught:
        Pacing.from_json(stored)
    assert caught.value.where == "pacing"


# --- properties over random pacings -----------------------------------------------------

ZONES = [BAKU, BERLIN, NEW_YORK, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("UTC")]
clock_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


@st.composite
def pacings(draw) -> Pacing:
    delay_min = draw(st.floats(0, 600))
    delay_max = draw(st.floats(delay_min, delay_min + 1200))
    pause_min = draw(st.floats(0, 3600))
    pause_max = draw(st.floats(pause_min, pause_min + 7200))
    quiet = None
    if draw(st.booleans()):
        start = draw(clock_times)
        end = draw(clock_times.filter(lambda t: t != start))
        quiet = QuietHours(start, end)
    return Pacing(delay_min, delay_max, draw(st.integers(1, 60)), pause_min, pause_max, quiet)


@settings(max_examples=150, deadline=None)
@given(
    pacing=pacings(),
    count=st.integers(0, 400),
    senders=st.integers(1, 3),
    variants=st.integers(1, 4),
    seed=st.integers(0, 2**32),
    tz=st.sampled_from(ZONES),
    start=st.datetimes(datetime(2026, 1, 1), datetime(2027, 1, 1), timezones=st.just(UTC)),
)
def test_any_valid_pacing_gives_a_plan_that_keeps_its_promises(
        pacing, count, senders, variants, seed, tz, start) -> None:
    result = plan(count, pacing, start, seed, tz, senders=senders, variants=variants)
    assert plan(count, pacing, start, seed, tz, senders=senders, variants=variants) == result
    assert len(result.at) == len(result.sender) == len(result.batch) == count
    assert result.batch == [i // pacing.batch_size for i in range(count)]
    assert result.sender == [b % senders for b in result.batch]
    assert result.variant == [b % variants for b in result.batch]
    quiet = pacing.quiet
    begin = start.timestamp()
    for indexes in per_sender(result).values():
        first = result.at[indexes[0]]
        assert first >= begin
        if quiet is None or not quiet.contains(local(begin, tz).time()):
            assert first == begin
    for gap, new_batch, later in gaps(result):
        low, high = ((pacing.batch_pause_min, pacing.batch_pause_max) if new_batch
                     else (pacing.delay_min, pacing.delay_max))
        assert gap >= low - SLACK
        if gap > high + SLACK:  # only ever because quiet hours held the message back ...
            assert quiet is not None
            # ... to the very end of a quiet period: a moment earlier was still quiet.
            assert quiet.contains(local(later - 0.5, tz).time())
    if quiet is not None:
        assert not any(quiet.contains(local(t, tz).time()) for t in result.at)


# --- daily caps on the timeline -----------------------------------------------------------

RAMP = (20, 40, 80, 160, 320, 640)


def most_in_a_day(times: list[float]) -> int:
    """The most messages in any 24 hours (a window ending at each message)."""
    times = sorted(times)
    low, most = 0, 0
    for high, t in enumerate(times):
        while times[low] < t - DAY:
            low += 1
        most = max(most, high - low + 1)
    return most


def test_a_new_number_sends_its_warm_up_and_the_plan_ends_when_it_really_can() -> None:
    # 36 recipients, one number linked just now (20 on its first day): not "today, in one
    # batch", but 20 today and 16 a day later
    new = DailyCap(1000, START.timestamp(), RAMP)
    result = plan(36, PRESETS["fast"], START, seed=1, tz=BAKU, caps=[new])
    assert result.cap_waits > 0
    assert most_in_a_day(result.at) == 20
    assert result.at[20] >= result.at[0] + DAY
    guess = estimate(36, PRESETS["fast"], START, BAKU, caps=[new])
    assert guess.finish - START > timedelta(days=1) and guess.cap_waits > 0
    # without the cap the same campaign is over within the hour
    assert estimate(36, PRESETS["fast"], START, BAKU).finish - START < timedelta(hours=1)


def test_a_big_list_from_one_new_number_takes_months_not_weeks() -> None:
    new = DailyCap(1000, START.timestamp(), RAMP)
    finish = estimate(100_000, PRESETS["normal"], START, BAKU, caps=[new]).finish
    # 1,260 in the warm-up's six days, then 1,000 a day: about 105 days
    assert timedelta(days=100) < finish - START < timedelta(days=110)


def test_what_a_number_already_sent_and_has_queued_counts_against_its_cap() -> None:
    # sent 990 in the last 24 hours: 10 more today, the rest when those are a day old
    recent = tuple(START.timestamp() - DAY + 3600 + i for i in range(990))
    busy = DailyCap(1000, START.timestamp() - 30 * DAY, RAMP, recent)
    result = plan(50, STEADY, START, seed=2, tz=BAKU, caps=[busy])
    assert most_in_a_day(list(recent) + result.at) <= 1000
    assert result.at[9] < START.timestamp() + 3600 < result.at[10]


def test_daily_caps_hold_on_every_number_of_a_plan(  # and batches go by room, as before
) -> None:
    caps = [DailyCap(1000, START.timestamp() - 30 * DAY), DailyCap(1000, START.timestamp(),
                                                                    RAMP)]
    result = plan(3000, STEADY, START, seed=4, tz=BAKU, senders=2, caps=caps)
    for who in (0, 1):
        mine = [t for t, s in zip(result.at, result.sender, strict=True) if s == who]
        assert most_in_a_day(mine) <= (1000 if who == 0 else 640)
    assert plan(3000, STEADY, START, seed=4, tz=BAKU, senders=2, caps=caps) == result


def test_a_cap_wait_that_ends_in_quiet_hours_waits_for_the_morning() -> None:
    night = Pacing(10.0, 20.0, 100, 300.0, 600.0, QuietHours(time(22), time(8)))
    # linked at 21:30 Baku time: its first day's 20 cannot all go before 22:00 anyway
    linked = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)
    result = plan(30, night, linked, seed=5, tz=BAKU, caps=[DailyCap(1000, linked.timestamp(),
                                                                       RAMP)])
    for t in result.at:
        assert not night.quiet.contains(local(t, BAKU).time())
    assert most_in_a_day(result.at) <= 40
