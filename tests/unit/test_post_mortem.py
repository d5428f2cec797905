"""The ban post-mortem as a pure function (``post_mortem.build``): the pace of the last 48
hours, its new chats, night sends judged in each recipient's own zone, and what the safe
plan would have done otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.services.planning import DailyCap
from bot.services.post_mortem import Facts, PostMortem, Send, build

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
T0 = NOW.timestamp() - 40 * 3600  # inside the window
BAKU, NEW_YORK, TOKYO = "+994501234567", "+12125550123", "+81312345678"
OLD = DailyCap(1000, NOW.timestamp() - 90 * 86400)  # warmed up long ago
WARMUP = (20, 20, 20, 40, 60)


def facts(sends: list[Send], cap: DailyCap = OLD, **more) -> Facts:
    return Facts(state="banned", sends=sends, cap=cap, **more)


def spaced(gaps: list[float], start: float = T0, phone: str = BAKU,
           new: bool = False) -> list[Send]:
    at, out = start, [Send(start, phone, new)]
    for gap in gaps:
        at += gap
        out.append(Send(at, phone, new))
    return out


def codes(report: PostMortem) -> dict[str, dict]:
    return {d.code: dict(d.params) for d in report.differences}


def test_pace_is_the_median_and_shortest_gap_and_the_busiest_hour() -> None:
    start = datetime(2026, 3, 9, 8, 0, tzinfo=UTC).timestamp()  # 12:00 in Baku
    report = build(facts(spaced([10, 20, 40, 3700, 5], start=start)), NOW)
    assert report.sent == 6
    assert report.gap_median == 20 and report.gap_min == 5
    assert report.peak_hour == 4  # the first four inside an hour; the last two after it
    assert codes(report)["short_gaps"] == {"count": 3, "safe": "30"}


def test_one_send_has_no_gaps_and_nothing_sent_is_all_zero() -> None:
    one = build(facts([Send(T0, BAKU, True)]), NOW)
    assert (one.sent, one.gap_median, one.gap_min, one.peak_hour) == (1, None, None, 1)
    empty = build(facts([]), NOW)
    assert (empty.sent, empty.recipients, empty.new_chats, empty.peak_hour) == (0, 0, 0, 0)


def test_new_chats_are_the_recipients_never_messaged_before_the_window() -> None:
    sends = [Send(T0, "+994500000001", True), Send(T0 + 60, "+994500000001", True),
             Send(T0 + 120, "+994500000002", False), Send(T0 + 180, "+994500000003", True)]
    report = build(facts(sends), NOW)
    assert (report.sent, report.recipients, report.new_chats) == (4, 3, 2)


def test_night_is_judged_in_each_recipients_own_zone() -> None:
    at = datetime(2026, 3, 9, 20, 0, tzinfo=UTC).timestamp()  # Baku 00:00, NY 16:00, Tokyo 05:00
    sends = [Send(at, BAKU, False), Send(at + 60, NEW_YORK, False),
             Send(at + 120, TOKYO, False), Send(at + 180, TOKYO, False)]
    night = codes(build(facts(sends, zone="America/New_York"), NOW))["night"]
    assert night["count"] == 3  # New York's afternoon is no night
    assert night["zones"] == "Asia/Tokyo, Asia/Baku"  # most first
    day = datetime(2026, 3, 9, 15, 0, tzinfo=UTC).timestamp()  # 19:00 Baku, 10:00 NY
    assert "night" not in codes(build(facts([Send(day, BAKU, False),
                                             Send(day + 60, NEW_YORK, False)]), NOW))


def test_an_unknown_zone_is_judged_by_the_owners() -> None:
    at = datetime(2026, 3, 9, 23, 0, tzinfo=UTC).timestamp()
    unknown = "+999123456789"  # no country
    assert codes(build(facts([Send(at, unknown, False)], zone="UTC"), NOW))["night"][
        "count"] == 1
    assert "night" not in codes(build(facts([Send(at, unknown, False)],
                                            zone="America/New_York"), NOW))


def test_runs_without_a_rest_longer_than_the_safe_batch() -> None:
    day = datetime(2026, 3, 9, 6, 0, tzinfo=UTC).timestamp()  # 10:00 in Baku
    sends = spaced([40] * 119 + [20 * 60] + [40] * 30, start=day)  # 120, a rest, 31
    report = build(facts(sends), NOW)
    assert codes(report)["no_rests"] == {"count": 1, "longest": 120, "batch": 50, "rest": 15}
    assert "short_gaps" not in codes(report)  # 40 s gaps keep the guidance


def test_warm_up_new_chats_over_the_days_cap() -> None:
    linked = NOW.timestamp() - 1.5 * 86400  # day 2 of its warm-up now
    cap = DailyCap(1000, linked, WARMUP)
    day2 = linked + 86400 + 3600
    sends = [Send(day2 + i * 45, f"+9945010{i:05d}", True) for i in range(35)]
    sends += [Send(day2 + 35 * 45 + i * 45, "+994500000001", False) for i in range(5)]
    report = build(facts(sends, cap=cap), NOW)
    assert report.warmup_day == 2
    assert codes(report)["warmup_new_chats"] == {"count": 35, "day": 2, "cap": 20}
    assert "warmup_sends" not in codes(report)  # said once, by the new chats


def test_warm_up_sends_over_the_cap_to_known_chats() -> None:
    linked = NOW.timestamp() - 0.5 * 86400  # day 1
    cap = DailyCap(1000, linked, WARMUP)
    sends = spaced([45] * 29, start=linked + 600, phone=BAKU, new=False)  # 30 sends
    report = build(facts(sends, cap=cap), NOW)
    assert codes(report)["warmup_sends"] == {"count": 30, "day": 1, "cap": 20}
    assert report.age_days == 1


def test_failures_replies_warnings_and_numbers_not_on_whatsapp() -> None:
    report = build(facts([], failures={"recipient_invalid": 4, "transient": 6,
                                       "not_on_whatsapp": 2},
                         replies=5, repliers=3, opt_outs=1,
                         warnings=[(T0, "capping_first_warning"), (T0 + 60, "banned")]), NOW)
    assert report.failed == 12
    assert report.failures == (("transient", 6), ("recipient_invalid", 4),
                               ("not_on_whatsapp", 2))
    assert report.not_on_whatsapp == 4  # sent to them; the checked ones never went out
    assert codes(report)["not_on_whatsapp"] == {"count": 4}
    assert (report.replies, report.repliers, report.opt_outs) == (5, 3, 1)
    assert [k for _at, k in report.warnings] == ["capping_first_warning", "banned"]
    assert report.warmup_day is None and report.age_days == 91


def test_a_history_inside_the_safe_plan_shows_no_difference_and_round_trips() -> None:
    day = datetime(2026, 3, 9, 6, 0, tzinfo=UTC).timestamp()  # 10:00 in Baku
    sends = spaced(([45] * 49 + [20 * 60]) * 3, start=day)
    report = build(facts(sends), NOW)
    assert report.differences == ()
    assert PostMortem.from_json(report.to_json()) == report
    bad = build(facts(spaced([1] * 5, start=day), warnings=[(T0, "capped")]), NOW)
    assert PostMortem.from_json(bad.to_json()) == bad
