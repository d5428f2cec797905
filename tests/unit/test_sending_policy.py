"""The sending policy: a number's daily cap and its warm-up, the one rule the dispatcher,
the plan and /numbers apply."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import Sender, SenderStatus
from bot.services.sending import Allowance, SendingPolicy
from tests.fakes import FakeClock

DAY = 86_400


def _sender(clock: FakeClock, daily_cap: int | None = None, linked: bool = True) -> Sender:
    return Sender(id=1, owner_id=1, gateway="waha", phone="+994501234567",
                  status=SenderStatus.ACTIVE, created_at=clock() - timedelta(days=30),
                  daily_cap=daily_cap, linked_at=clock() if linked else None)


def test_a_new_number_warms_up_day_by_day(clock) -> None:
    policy, sender, at = SendingPolicy(1000, (20, 40, 80)), _sender(clock), clock().timestamp()
    assert policy.allowance(sender, at + 3600) == Allowance(20, 1)
    assert policy.allowance(sender, at + DAY + 1) == Allowance(40, 2)
    assert policy.allowance(sender, at + 2 * DAY + 1) == Allowance(80, 3)
    assert policy.allowance(sender, at + 3 * DAY + 1) == Allowance(1000, None)


def test_a_number_with_its_own_cap_is_held_to_it(clock) -> None:
    policy, at = SendingPolicy(1000, (20, 40)), clock().timestamp()
    # its own cap under the ramp's step: the cap holds, the ramp no longer does
    assert policy.allowance(_sender(clock, daily_cap=30), at + DAY + 1) == Allowance(30, None)
    assert policy.allowance(_sender(clock, daily_cap=30), at + 10) == Allowance(20, 1)
    assert policy.allowance(_sender(clock, daily_cap=500), at + 9 * DAY) == \
        Allowance(500, None)


def test_a_number_never_linked_warms_up_from_when_it_was_added(clock) -> None:
    sender = _sender(clock, linked=False)  # added 30 days ago
    assert SendingPolicy(1000, (20, 40)).allowance(sender, clock().timestamp()) == \
        Allowance(1000, None)


def test_the_room_left_is_the_cap_less_what_already_counts(clock) -> None:
    policy, sender, at = SendingPolicy(1000, (20, 40)), _sender(clock), clock().timestamp()
    assert policy.room(sender, at + 10, used=15) == 5
    assert policy.room(sender, at + 10, used=25) == -5  # over: nothing more today
    # the plan sees the same cap, and the same day's end, as the dispatcher
    assert policy.cap_of(sender).at(at + 10)[:2] == (20, 1)


def test_the_defaults_are_the_settings_defaults() -> None:
    from bot.config import Settings

    fields = Settings.model_fields
    assert (SendingPolicy().daily_cap, SendingPolicy().warmup) == \
        (fields["sender_daily_cap"].default, fields["sender_warmup"].default)
