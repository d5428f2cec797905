"""The pre-flight check's rules (bot/services/risk.py): a pure function of the campaign's
facts, its numbers' history and the clock. Each rule alone can raise the level."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.services import risk
from bot.services.planning import PRESETS, DailyCap, Pacing, QuietHours
from bot.services.risk import CampaignFacts, Level, NumberFacts, assess

BAKU = ZoneInfo("Asia/Baku")
# 10:00 in Baku, a Thursday; the campaign sends from 10:00 to 14:00 Baku time
NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
SAFE = Pacing(30.0, 60.0, 50, 15 * 60.0, 30 * 60.0, QuietHours(time(21), time(9)))
OLD_NUMBER = NumberFacts("Shop", DailyCap(1000, (NOW - timedelta(days=90)).timestamp()))


def facts(**changes) -> CampaignFacts:
    """A campaign that is low risk in every respect; ``changes`` spoil one of them."""
    base = CampaignFacts(
        recipients=80, never_messaged=10, unchecked=5, distinct_texts=12, texts_with_links=0,
        pacing=SAFE, first=NOW, finish=NOW + timedelta(hours=4), owner_zone=BAKU,
        zones=(("Asia/Baku", 80),), numbers=(OLD_NUMBER,))
    return replace(base, **changes)


def codes(result: risk.Risk) -> dict[str, Level]:
    return {r.code: r.level for r in result.reasons}


def test_a_careful_campaign_is_low_risk() -> None:
    result = assess(facts(), NOW)
    assert result.level is Level.LOW and result.reasons == ()


def test_more_recipients_than_the_numbers_room_spreads_and_far_more_is_high() -> None:
    warming = NumberFacts("New", DailyCap(1000, (NOW - timedelta(days=1)).timestamp(),
                                          (20, 40, 80)))  # day 2: 40 a day
    medium = assess(facts(recipients=100, numbers=(warming,)), NOW)
    assert codes(medium)["room"] is Level.MEDIUM
    reason = next(r for r in medium.reasons if r.code == "room")
    assert reason.params == {"count": 100, "room": 40, "warming": 1}
    assert codes(assess(facts(recipients=121, numbers=(warming,)), NOW))["room"] is Level.HIGH
    # what the number sent in the last 24 hours takes from its room
    busy = NumberFacts("Shop", replace(OLD_NUMBER.cap, recent=tuple(
        NOW.timestamp() - 60 * i for i in range(1, 990))))
    assert codes(assess(facts(numbers=(busy,)), NOW))["room"] is Level.HIGH


def test_contacts_never_messaged_and_not_known_on_whatsapp() -> None:
    assert codes(assess(facts(never_messaged=40), NOW))["new_contacts"] is Level.MEDIUM
    # nearly all new, but a handful: medium; nearly all of many: high
    assert codes(assess(facts(never_messaged=78), NOW))["new_contacts"] is Level.MEDIUM
    many = assess(facts(recipients=500, never_messaged=480, numbers=()), NOW)
    assert many.level is Level.HIGH and codes(many)["new_contacts"] is Level.HIGH
    assert next(r for r in many.reasons if r.code == "new_contacts").params == {
        "count": 480, "percent": 96}
    assert codes(assess(facts(unchecked=40), NOW))["unchecked"] is Level.MEDIUM
    assert codes(assess(facts(recipients=500, unchecked=500, numbers=()),
                        NOW))["unchecked"] is Level.HIGH


def test_few_distinct_texts_per_batch_and_links() -> None:
    assert codes(assess(facts(distinct_texts=2), NOW))["same_texts"] is Level.MEDIUM
    one_text = assess(facts(recipients=200, distinct_texts=1, numbers=()), NOW)
    assert codes(one_text)["same_texts"] is Level.HIGH
    assert next(r for r in one_text.reasons if r.code == "same_texts").params == {
        "count": 1, "batch": 50}
    # a text that cannot vary is fine for a campaign of one
    assert "same_texts" not in codes(assess(facts(recipients=1, distinct_texts=1,
                                                  zones=(("Asia/Baku", 1),)), NOW))
    assert codes(assess(facts(texts_with_links=1), NOW))["links"] is Level.MEDIUM
    assert risk.has_link("See https://shop.az/sale") and risk.has_link("www.shop.az")
    assert not risk.has_link("Hello {{name}}, see you at 10.30")


def test_pace_against_the_30_to_60_seconds_guidance() -> None:
    eager = replace(PRESETS["normal"], delay_min=8.0, delay_max=20.0)
    assert codes(assess(facts(pacing=eager), NOW))["pace"] is Level.MEDIUM
    # the defaults keep the guidance (the envelope)
    assert "pace" not in codes(assess(facts(pacing=PRESETS["normal"]), NOW))
    assert "pace" not in codes(assess(facts(pacing=PRESETS["safe"]), NOW))
    fast = replace(PRESETS["fast"], delay_min=1.0)
    assert codes(assess(facts(pacing=fast), NOW))["pace"] is Level.HIGH
    big_batches = replace(SAFE, batch_size=200)
    assert codes(assess(facts(pacing=big_batches), NOW))["pace"] is Level.HIGH


def test_night_in_each_recipients_own_zone() -> None:
    # 10:00-14:00 in Baku is 01:00-05:00 in New York and 15:00-19:00 in Tokyo
    mixed = facts(recipients=300, zones=(("Asia/Baku", 100), ("America/New_York", 150),
                                         ("Asia/Tokyo", 50)))
    result = assess(mixed, NOW)
    night = next(r for r in result.reasons if r.code == "night")
    assert night.level is Level.HIGH and night.params["percent"] == 50
    assert night.params["zones"] == "America/New_York" and night.params["count"] == 150
    # the same recipients, mostly in Baku: medium
    some = facts(zones=(("Asia/Baku", 70), ("America/New_York", 10)))
    assert codes(assess(some, NOW))["night"] is Level.MEDIUM
    # all in Baku, in daytime: nothing
    assert "night" not in codes(assess(facts(), NOW))


def test_quiet_hours_in_the_owners_zone_are_not_counted_as_sending() -> None:
    # a window over three days; the pace's quiet hours (21:00-09:00 Baku) hold the night,
    # so Baku recipients get nothing at night
    long = facts(finish=NOW + timedelta(days=3))
    assert "night" not in codes(assess(long, NOW))
    # without quiet hours, the same window sends at night too
    no_quiet = facts(finish=NOW + timedelta(days=3), pacing=replace(SAFE, quiet=None))
    assert codes(assess(no_quiet, NOW))["night"] is Level.MEDIUM


def test_an_unknown_zone_counts_as_the_owners() -> None:
    assert "night" not in codes(assess(facts(zones=(("Etc/Unknown", 80),)), NOW))
    assert risk.phone_zone("+994501234567") == "Asia/Baku"
    assert risk.phone_zone("+12125550100") == "America/New_York"
    assert risk.phone_zone("not a phone") == "Etc/Unknown"


def test_a_young_number_and_its_recent_failures_and_blocks() -> None:
    young = NumberFacts("New", DailyCap(1000, (NOW - timedelta(days=2)).timestamp()))
    result = assess(facts(numbers=(young,)), NOW)
    assert codes(result) == {"young": Level.MEDIUM}
    assert result.reasons[0].params == {"number": "New", "count": 3}
    failing = replace(OLD_NUMBER, attempts=100, failed=12)
    assert codes(assess(facts(numbers=(failing,)), NOW))["failures"] is Level.MEDIUM
    assert codes(assess(facts(numbers=(replace(failing, failed=30),)),
                        NOW))["failures"] is Level.HIGH
    blocked = replace(OLD_NUMBER, attempts=100, failed=6, blocked=6)
    assert codes(assess(facts(numbers=(blocked,)), NOW))["blocks"] is Level.HIGH
    # too few messages to judge a rate
    assert assess(facts(numbers=(replace(OLD_NUMBER, attempts=5, failed=5),)),
                  NOW).level is Level.LOW


def test_cloud_numbers_tier_and_quality() -> None:
    cloud = replace(OLD_NUMBER, tier=250, quality="GREEN")
    assert assess(facts(numbers=(cloud,)), NOW).level is Level.LOW
    assert codes(assess(facts(recipients=300, zones=(("Asia/Baku", 300),),
                              numbers=(cloud,)), NOW))["tier"] is Level.HIGH
    assert codes(assess(facts(numbers=(replace(cloud, quality="YELLOW"),)),
                        NOW))["quality"] is Level.MEDIUM
    assert codes(assess(facts(numbers=(replace(cloud, quality="RED"),)),
                        NOW))["quality"] is Level.HIGH


def test_the_level_is_the_highest_reason_and_reasons_come_highest_first() -> None:
    result = assess(facts(distinct_texts=2, pacing=replace(SAFE, delay_min=1.0)), NOW)
    assert result.level is Level.HIGH and result.high
    assert [r.code for r in result.reasons] == ["pace", "same_texts"]


def test_the_safe_plan_of_a_high_risk_pace_assesses_lower_and_keeps_the_original() -> None:
    burst = Pacing(1.0, 2.0, 200, 60.0, 120.0, None)  # bursts, day and night
    night = facts(pacing=burst, first=NOW + timedelta(hours=10),
                  finish=NOW + timedelta(hours=16))  # 20:00-02:00 in Baku
    before = assess(night, NOW)
    assert before.level is Level.HIGH and codes(before)["pace"] is Level.HIGH
    safe = risk.safe_pacing(burst)
    assert (safe.delay_min, safe.delay_max, safe.batch_size) == (30.0, 60.0, 50)
    assert safe.quiet == QuietHours(time(22), time(8))
    assert burst == Pacing(1.0, 2.0, 200, 60.0, 120.0, None)  # the original is kept
    # quiet hours held: nothing of the window goes out after 22:00
    after = assess(replace(night, pacing=safe), NOW)
    assert after.level < Level.HIGH
    assert "pace" not in codes(after) and "night" not in codes(after)
    # a pace already slower than the guidance stays as slow; the owner's night is kept
    slow = Pacing(90.0, 120.0, 20, 3600.0, 7200.0, QuietHours(time(20), time(10)),
                  recipient_night=True)
    assert risk.safe_pacing(slow) == slow
    # and the recipients' night is held in their own zones
    assert safe.recipient_night and risk.safe_pacing(replace(slow, recipient_night=False)) == slow


def _young(label: str, days: int = 1, *, sent: int = 0) -> NumberFacts:
    """A number linked ``days`` ago, on the warm-up 20, 40, 80 a day; ``sent`` in the last
    hours count against its day."""
    return NumberFacts(label, DailyCap(1000, (NOW - timedelta(days=days)).timestamp() + 60,
                                       (20, 40, 80),
                                       tuple(NOW.timestamp() - 60 * i for i in range(sent))))


def test_the_safe_plan_adds_every_healthy_older_number_and_no_unhealthy_one() -> None:
    others = (
        replace(OLD_NUMBER, label="Old 2"),
        replace(OLD_NUMBER, label="Failing", attempts=100, failed=30),
        replace(OLD_NUMBER, label="Blocked", attempts=100, blocked=3),
        replace(OLD_NUMBER, label="Slowed", mode="slowed"),
        replace(OLD_NUMBER, label="No new chats", mode="no_new_chats"),
        replace(OLD_NUMBER, label="Guard paused", mode="paused"),
        replace(OLD_NUMBER, label="Yellow", tier=10000, quality="YELLOW"),
        replace(OLD_NUMBER, label="Small tier", tier=250, quality="GREEN"),
        replace(OLD_NUMBER, label="Cloud", tier=2000, quality="GREEN"),
    )
    picked = risk.safe_numbers(500, 400, (OLD_NUMBER,), others, NOW, NOW)
    assert [others[i].label for i in picked] == ["Old 2", "Cloud"]
    # nothing else to add: nothing added
    assert risk.safe_numbers(500, 400, (OLD_NUMBER,), (), NOW, NOW) == ()


def test_the_safe_plan_adds_young_numbers_only_for_the_room_it_lacks_most_room_first() -> None:
    chosen = (_young("Mine"),)  # day 1 of its warm-up: 20 a day
    others = (_young("Busy", sent=10), _young("Fresh", days=2), _young("Day 1"))
    # 60 recipients: 20 of its own, the one with most room (day 2: 40) covers the rest
    picked = risk.safe_numbers(60, 0, chosen, others, NOW, NOW)
    assert [others[i].label for i in picked] == ["Fresh"]
    # 150: every young one with room left
    picked = risk.safe_numbers(150, 0, chosen, others, NOW, NOW)
    assert [others[i].label for i in picked] == ["Busy", "Fresh", "Day 1"]
    # 20: its own room is enough, no young number joins
    assert risk.safe_numbers(20, 0, chosen, others, NOW, NOW) == ()
    # one whose day is used up adds nothing and is left out
    spent = (_young("Spent", sent=20),)
    assert risk.safe_numbers(150, 0, chosen, spent, NOW, NOW) == ()


def test_the_numbers_guard_mode_raises_the_risk() -> None:
    slowed = assess(facts(numbers=(replace(OLD_NUMBER, mode="slowed"),)), NOW)
    assert codes(slowed) == {"slowed": Level.MEDIUM}
    assert slowed.reasons[0].params == {"number": "Shop"}
    # no new chats: the recipients never messaged wait; none of them: medium only
    held = assess(facts(numbers=(replace(OLD_NUMBER, mode="no_new_chats"),)), NOW)
    assert codes(held) == {"no_new_chats": Level.HIGH}
    assert held.reasons[0].params == {"number": "Shop", "count": 10}
    assert codes(assess(facts(never_messaged=0, numbers=(
        replace(OLD_NUMBER, mode="no_new_chats"),)), NOW)) == {"no_new_chats": Level.MEDIUM}
    assert codes(assess(facts(numbers=(replace(OLD_NUMBER, mode="paused"),)),
                        NOW)) == {"paused": Level.HIGH}
