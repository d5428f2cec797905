"""Number checks ahead of the send (bot/services/number_checks.py): small batches on each
number, random gaps between checks, a rest between batches, never two checks of a number at
once; cached answers skipped; phones not on WhatsApp fail ahead with their credits back;
a check the gateway fails is asked again later. The clock only moves when the code sleeps
or the test says so."""

from __future__ import annotations

import asyncio
import itertools
import random

from bot.domain import Language
from bot.gateways.base import Capabilities, ErrorCategory, GatewayError, NumberCheck, SenderRef
from bot.handlers import render_campaigns as rc
from bot.i18n import Translator
from bot.services.number_checks import NumberChecks, NumberChecksConfig
from bot.storage import contacts, ledger
from tests.fakes import FakeClock
from tests.fakes.gateway import RecordingGateway
from tests.unit.test_dispatcher import Harness


def phone(n: int) -> str:
    return f"+99450{n:07d}"  # the Harness's n-th contact


class CheckingGateway(RecordingGateway):
    """A gateway that checks numbers (as WAHA does): each check recorded with the clock's
    time; ``absent`` phones are not on WhatsApp, ``errors`` fail once each."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.checks: list[tuple[float, int, str]] = []  # (when, number, phone)
        self.absent: set[str] = set()
        self.errors: set[str] = set()
        self.busy: dict[int, int] = {}
        self.most_at_once = 0

    def capabilities(self, sender: SenderRef) -> Capabilities:
        return Capabilities(checks_numbers=True)

    async def check_number(self, sender: SenderRef, phone: str) -> NumberCheck:
        self.busy[sender.sender_id] = self.busy.get(sender.sender_id, 0) + 1
        self.most_at_once = max(self.most_at_once, self.busy[sender.sender_id])
        try:
            self.checks.append((self.clock().timestamp(), sender.sender_id, phone))
            for _ in range(3):  # a request in flight: others may run meanwhile
                await asyncio.sleep(0)
            if phone in self.errors:
                self.errors.discard(phone)
                raise GatewayError(ErrorCategory.TRANSIENT, "timeout")
            return NumberCheck(phone=phone, on_whatsapp=phone not in self.absent)
        finally:
            self.busy[sender.sender_id] -= 1


def checker(h: Harness, clock: FakeClock, **config: float) -> NumberChecks:
    async def sleep(seconds: float) -> None:  # time passes only while the code waits
        clock.advance(seconds=seconds)
        await asyncio.sleep(0)

    return NumberChecks(h.db, h.gateway, NumberChecksConfig(**config), clock,  # type: ignore[arg-type]
                        sleep=sleep, rng=random.Random(7))


async def run_for(checks: NumberChecks, clock: FakeClock, seconds: float,
                  step: float = 10.0) -> None:
    """The repeating job every ``step`` seconds for ``seconds`` (the clock moving)."""
    start = clock().timestamp()
    while clock().timestamp() - start < seconds:
        await checks.run()
        clock.advance(seconds=step)


async def statuses(h: Harness) -> dict[str, tuple[str, str | None]]:
    async with h.db.reader.execute("SELECT phone, status, error_category FROM messages") as cur:
        return {r[0]: (r[1], r[2]) async for r in cur}


async def test_checks_go_in_small_paced_batches(db, clock: FakeClock) -> None:
    gateway = CheckingGateway(clock)
    h = Harness(db, clock, gateway)
    await h.campaign(25)  # 20 today (the warm-up), 5 tomorrow: all within 3 days
    checks = checker(h, clock, horizon=3 * 86400.0)
    await run_for(checks, clock, 600)

    assert sorted(p for _, _, p in gateway.checks) == sorted(phone(n) for n in range(25))
    times = [t for t, _, _ in gateway.checks]
    batches: list[list[float]] = [[times[0]]]
    for before, after in itertools.pairwise(times):
        gap = after - before
        if gap >= 60:  # a rest: the next batch
            batches.append([after])
        else:
            assert 2.0 <= gap <= 5.0, gap  # within a batch: a random gap in the range
            batches[-1].append(after)
    assert [len(b) for b in batches] == [10, 10, 5]
    rests = [b[0] - a[-1] for a, b in itertools.pairwise(batches)]
    assert all(60 <= r <= 130 for r in rests), rests
    assert len({round(t2 - t1, 3) for t1, t2 in itertools.pairwise(times)}) > 3
    assert gateway.most_at_once == 1


async def test_the_inline_check_waits_its_turn_on_the_number(db, clock: FakeClock) -> None:
    gateway = CheckingGateway(clock)
    h = Harness(db, clock, gateway)
    await h.campaign(6)
    checks = checker(h, clock)
    [sender_id] = {s.sender_id for s in await _dues(h)}
    ref = SenderRef(sender_id=sender_id, phone="+994509990000", external_id=None,
                    gateway="sandbox")
    # the batch and the dispatcher's fallback at the same moment, on the same number
    await asyncio.gather(checks.run(), checks.check(ref, h.owner_id, "+994557777777"))
    assert gateway.most_at_once == 1
    times = sorted(t for t, _, _ in gateway.checks)
    assert len(times) == 7
    assert all(t2 - t1 >= 2.0 for t1, t2 in itertools.pairwise(times))


async def test_cached_answers_are_not_asked_again(db, clock: FakeClock) -> None:
    gateway = CheckingGateway(clock)
    h = Harness(db, clock, gateway)
    await h.campaign(4)
    now = clock().timestamp()
    async with db.transaction() as tx:
        await contacts.remember_whatsapp(tx, [
            (h.owner_id, phone(0), True, now - 86400),  # yesterday: trusted
            (h.owner_id, phone(1), False, now - 29 * 86400),  # 29 days: trusted
            (h.owner_id, phone(2), True, now - 31 * 86400),  # too old: asked again
        ])
    await run_for(checker(h, clock), clock, 60)
    assert sorted(p for _, _, p in gateway.checks) == [phone(2), phone(3)]


async def test_a_phone_not_on_whatsapp_fails_ahead_with_its_credit_back(
        db, clock: FakeClock) -> None:
    gateway = CheckingGateway(clock)
    gateway.absent.add(phone(1))
    h = Harness(db, clock, gateway)
    campaign_id = await h.campaign(3)
    held = await ledger.held_for(db.reader, h.owner_id, campaign_id)
    checks = checker(h, clock)
    await checks.run()

    assert (await statuses(h))[phone(1)] == ("failed", "not_on_whatsapp")
    assert await ledger.held_for(db.reader, h.owner_id, campaign_id) == held - 1
    figures = await checks.campaign(campaign_id)
    assert (figures.queued, figures.checked, figures.not_on_whatsapp) == (2, 2, 1)
    card = rc.campaign_card(Translator(Language.EN), await h.campaigns.view(
        h.owner_id, campaign_id), "Asia/Baku", figures).text
    assert "On WhatsApp, checked ahead: 2 of 2 still to send" in card
    assert "not on WhatsApp: 1 (failed, credits back)" in card
    asked = len(gateway.checks)
    await h.run(120)  # the dispatcher sends the rest, asks nothing more
    assert sorted(s.to for s in gateway.sends) == [phone(0), phone(2)]
    assert len(gateway.checks) == asked
    assert await ledger.held_for(db.reader, h.owner_id, campaign_id) == 0


async def test_a_check_the_gateway_fails_is_asked_again_later(db, clock: FakeClock) -> None:
    gateway = CheckingGateway(clock)
    gateway.errors.add(phone(0))
    h = Harness(db, clock, gateway)
    await h.campaign(2)
    checks = checker(h, clock)
    await checks.run()
    assert [p for _, _, p in gateway.checks] == [phone(0), phone(1)]
    known = await contacts.whatsapp_known(db.reader, h.owner_id, [phone(0), phone(1)], 0)
    assert known == {phone(1): True}  # the failed check says nothing
    assert (await statuses(h))[phone(0)] == ("queued", None)
    await checks.run()  # the number rests after its batch: nothing asked yet
    assert len(gateway.checks) == 2
    clock.advance(seconds=130)
    await checks.run()
    assert [p for _, _, p in gateway.checks] == [phone(0), phone(1), phone(0)]
    assert await contacts.whatsapp_known(db.reader, h.owner_id, [phone(0)], 0) == {
        phone(0): True}


async def test_only_messages_within_the_horizon_are_checked(db, clock: FakeClock) -> None:
    gateway = CheckingGateway(clock)
    h = Harness(db, clock, gateway)
    campaign_id = await h.campaign(3)
    async with db.transaction() as tx:  # the last one planned for tomorrow
        await tx.execute("UPDATE messages SET planned_at = planned_at + 86400"
                         " WHERE campaign_id = ? AND phone = ?", (campaign_id, phone(2)))
    await checker(h, clock).run()
    assert sorted(p for _, _, p in gateway.checks) == [phone(0), phone(1)]


async def _dues(h: Harness) -> list[SenderRef]:
    async with h.db.reader.execute("SELECT DISTINCT sender_id FROM messages") as cur:
        return [SenderRef(sender_id=r[0], phone="", external_id=None, gateway="sandbox")
                async for r in cur]
