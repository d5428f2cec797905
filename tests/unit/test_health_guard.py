"""The live health guard's decisions (``bot/services/health_guard.py``): pure reactions to
capping / quality / tier, feedback pacing against the number's usual share, and the
guard's writes and notices on a real SQLite file with a controllable clock."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import Language, SenderGuard, SenderStatus
from bot.gateways.base import SenderHealth, SenderState
from bot.services.health_guard import GuardConfig, HealthGuard, Tried, paced, react
from bot.services.notify import SenderWarned
from bot.storage import health, owners, senders
from bot.storage.db import Database
from tests.fakes import FakeClock, RecordingNotifier

CONFIG = GuardConfig()
WORKING = SenderState.WORKING


def health_of(capping: str | None = None, quality: str | None = None,
              tier: int | None = None) -> SenderHealth:
    return SenderHealth(WORKING, capping=capping, quality=quality, tier=tier)


def test_capping_steps_slow_then_stop_new_chats_then_lift() -> None:
    g = SenderGuard(1)
    first = react(g, health_of("FIRST_WARNING"), CONFIG)
    assert first is not None
    assert (first.guard.mode, first.guard.gap_factor) == ("slowed", 2.0)
    assert [k for k, _ in first.kinds] == ["capping_first_warning"]
    assert react(first.guard, health_of("FIRST_WARNING"), CONFIG) is None  # once
    second = react(first.guard, health_of("SECOND_WARNING"), CONFIG)
    assert second is not None
    assert (second.guard.mode, second.guard.gap_factor) == ("no_new_chats", 2.0)
    capped = react(second.guard, SenderHealth(SenderState.RESTRICTED, capping="CAPPED"),
                   CONFIG)
    assert capped is not None and [k for k, _ in capped.kinds] == ["capped"]
    lifted = react(capped.guard, health_of("NONE"), CONFIG)
    assert lifted is not None
    assert (lifted.guard.mode, lifted.guard.gap_factor) == ("normal", 1.0)
    assert [k for k, _ in lifted.kinds] == ["capping_cleared"]


def test_the_first_none_is_kept_quietly_and_a_wider_factor_is_kept() -> None:
    quiet = react(SenderGuard(1), health_of("NONE"), CONFIG)
    assert quiet is not None and quiet.kinds == () and quiet.guard.mode == "normal"
    widened = react(SenderGuard(1, gap_factor=3.0), health_of("FIRST_WARNING"), CONFIG)
    assert widened is not None and widened.guard.gap_factor == 3.0  # never narrowed by it


def test_quality_and_tier() -> None:
    green = react(SenderGuard(1), health_of(quality="GREEN", tier=1000), CONFIG)
    assert green is not None and green.kinds == ()
    yellow = react(green.guard, health_of(quality="YELLOW", tier=250), CONFIG)
    assert yellow is not None
    assert (yellow.guard.mode, yellow.guard.gap_factor, yellow.guard.tier) == (
        "slowed", 2.0, 250)
    assert yellow.kinds == (("quality_yellow", {"from": "GREEN"}),
                            ("tier_changed", {"from": 1000, "to": 250}))
    red = react(yellow.guard, SenderHealth(SenderState.RESTRICTED, quality="RED"), CONFIG)
    assert red is not None and red.guard.mode == "paused"
    back = react(red.guard, health_of(quality="GREEN"), CONFIG)
    assert back is not None and (back.guard.mode, back.guard.gap_factor) == ("normal", 1.0)
    assert react(back.guard, SenderHealth(WORKING), CONFIG) is None  # nothing structured


def test_feedback_pacing_widens_above_the_usual_share_and_narrows_slowly() -> None:
    assert paced(1.0, 1.0, 20, 2, 0.0, CONFIG) == 1.5  # 10% > the 5% floor
    assert paced(1.0, 1.0, 20, 1, 0.0, CONFIG) == 1.0  # 5%: not above
    assert paced(1.0, 1.0, 20, 3, 0.2, CONFIG) == 1.0  # 15%: this number's usual is 20%
    assert paced(3.0, 1.0, 20, 10, 0.0, CONFIG) == 4.0  # at most 4
    assert paced(4.0, 1.0, 20, 20, 0.0, CONFIG) == 4.0
    assert paced(1.5, 1.0, 20, 0, 0.0, CONFIG) == 1.2  # a clean window: / 1.25
    assert paced(1.2, 1.0, 20, 0, 0.0, CONFIG) == 1.0  # never below 1
    assert paced(2.5, 2.0, 20, 0, 0.0, CONFIG) == 2.0  # nor below a warning's floor
    assert paced(1.5, 1.0, 20, 1, 0.0, CONFIG) == 1.5  # neither clean nor bad: kept


async def _number(db: Database, clock: FakeClock) -> tuple[int, int]:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=5, chat_id=5, language=Language.EN,
                                 now=clock())
        sender = await senders.add(tx, owner_id=owner.id, gateway="waha",
                                   phone="+994500000555", status=SenderStatus.ACTIVE,
                                   now=clock())
    return owner.id, sender.id


async def test_feedback_writes_only_on_a_change_and_tells_once(db: Database,
                                                                clock: FakeClock) -> None:
    owner, number = await _number(db, clock)
    notifier = RecordingNotifier()
    guard = HealthGuard(db, notifier, gateway=None, clock=clock)  # type: ignore[arg-type]  # never polled
    for _ in range(19):  # a window not full yet: nothing judged
        await guard.feedback([Tried(owner, number, 1, 1)])
    assert await health.warnings(db.reader, number, 0) == []
    await guard.feedback([Tried(owner, number, 1, 1)])  # 20 attempts, all bad
    got = (await health.guards(db.reader, [number]))[number]
    assert (got.mode, got.gap_factor) == ("slowed", 1.5)
    clock.advance(seconds=60)
    await guard.feedback([Tried(owner, number, 20, 1)])  # 5%: kept, nothing written
    assert [w.kind for w in await health.warnings(db.reader, number, 0)] == ["slowed"]
    for _ in range(2):  # two clean windows: 1.5 -> 1.2 -> 1.0
        clock.advance(seconds=60)
        await guard.feedback([Tried(owner, number, 20, 0)])
    got = (await health.guards(db.reader, [number]))[number]
    assert (got.mode, got.gap_factor) == ("normal", 1.0)
    warnings = await health.warnings(db.reader, number, 0)
    assert [(w.kind, w.detail["to"]) for w in warnings] == [
        ("slowed", 1.5), ("eased", 1.2), ("eased", 1.0)]
    assert warnings[1].at == warnings[0].at + timedelta(seconds=120)
    assert [n.kind for n in notifier.of(SenderWarned)] == ["slowed", "eased"]  # fully eased


async def test_observe_the_same_report_twice_reacts_once(db: Database, clock: FakeClock
                                                        ) -> None:
    _owner, number = await _number(db, clock)
    notifier = RecordingNotifier()
    guard = HealthGuard(db, notifier, gateway=None, clock=clock)  # type: ignore[arg-type]  # never polled
    assert await guard.observe(number, health_of("FIRST_WARNING"), clock())
    assert not await guard.observe(number, health_of("FIRST_WARNING"), clock())
    assert not await guard.observe(number, SenderHealth(WORKING), clock())
    [told] = notifier.of(SenderWarned)
    assert (told.kind, told.mode, told.gap_factor) == ("capping_first_warning", "slowed", 2.0)
