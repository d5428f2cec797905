"""The pre-flight check's facts from storage (``CampaignsService``, a real SQLite file):
the health guard's stored tier, quality and mode of a number (``bot/storage/health.py``)
reach the summary's risk, and *Safe plan* adds only the owner's healthy numbers."""

from __future__ import annotations

from bot.services.campaigns import CampaignsService
from bot.services.risk import Level
from bot.storage import health, senders
from bot.storage.db import Database
from tests.fakes import FakeClock
from tests.unit.test_campaigns_service import make_service, seed


async def first_number_only(service: CampaignsService, oid: int, list_id: int,
                            template_id: int, other: int) -> None:
    """A draft at the summary from the first number only, now, the safe preset."""
    await service.begin(oid)
    await service.choose_list(oid, list_id)
    await service.choose_template(oid, template_id)
    await service.toggle_sender(oid, other)
    await service.senders_chosen(oid)
    await service.start_now(oid)
    await service.use_preset(oid, "safe")


async def test_a_yellow_cloud_number_with_a_tier_below_the_recipients(
        db: Database, clock: FakeClock) -> None:
    service = make_service(db, clock)
    oid, list_id, template_id = await seed(db, clock, 41, people=300, credits=1000)
    first, second = await senders.list_for_owner(db.reader, oid)
    clock.advance(days=30)  # both numbers past their warm-up
    async with db.transaction() as tx:  # the first a Cloud API number, as Meta rates it
        await tx.execute("UPDATE senders SET gateway = 'cloud' WHERE id = ?", (first.id,))
        await health.set_guard(tx, oid, first.id, clock().timestamp(), quality="YELLOW",
                               tier=250)
        await health.set_guard(tx, oid, second.id, clock().timestamp(), mode="slowed",
                               gap_factor=2.0)
    await first_number_only(service, oid, list_id, template_id, second.id)

    summary = await service.summary(oid)
    reasons = {r.code: r for r in summary.risk.reasons}
    assert summary.risk.level is Level.HIGH
    assert reasons["tier"].level is Level.HIGH
    assert reasons["tier"].params == {"number": first.phone, "tier": 250, "count": 300}
    assert reasons["quality"].level is Level.MEDIUM
    assert reasons["quality"].params == {"number": first.phone, "quality": "YELLOW"}
    # the slowed number is not the campaign's: it raises nothing here, and Safe plan
    # does not add it
    assert "slowed" not in reasons
    await service.safe_plan(oid)
    assert [s.id for s in (await service.summary(oid)).senders] == [first.id]

    # slowed no more: Safe plan spreads over it; Original plan takes it away again
    await service.original_plan(oid)
    async with db.transaction() as tx:
        await health.set_guard(tx, oid, second.id, clock().timestamp(), mode="normal",
                               gap_factor=1.0)
    await service.safe_plan(oid)
    safe = await service.summary(oid)
    assert [s.id for s in safe.senders] == [first.id, second.id]
    assert [s.id for s in safe.added] == [second.id]
    await service.original_plan(oid)
    assert [s.id for s in (await service.summary(oid)).senders] == [first.id]


async def test_a_slowed_number_of_the_campaign_raises_its_risk(
        db: Database, clock: FakeClock) -> None:
    service = make_service(db, clock)
    oid, list_id, template_id = await seed(db, clock, 42, people=30, credits=100)
    first, second = await senders.list_for_owner(db.reader, oid)
    clock.advance(days=30)
    async with db.transaction() as tx:
        await health.set_guard(tx, oid, first.id, clock().timestamp(), mode="no_new_chats")
    await first_number_only(service, oid, list_id, template_id, second.id)
    reasons = {r.code: r for r in (await service.summary(oid)).risk.reasons}
    # all 30 never messaged: they wait while the number may not start chats
    assert reasons["no_new_chats"].level is Level.HIGH
    assert reasons["no_new_chats"].params == {"number": first.phone, "count": 30}
