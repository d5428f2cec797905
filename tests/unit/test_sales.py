"""The admins' sales figures: revenue per day and month of the platform's zone, by way of
paying (Stars and money never added up), refunds not counted, the waiting transfers, the
top owners; an owner found by number, Telegram id or phone; anyone else refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain import Language
from bot.errors import NotAllowed, NotFound
from bot.services.billing import BillingService
from bot.services.sales import SalesService
from bot.storage import owners
from bot.storage.db import Database, to_ts
from tests.fakes import RecordingNotifier

ADMIN = 77
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 13:00 in Baku


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def add_owner(db: Database, telegram_id: int, name: str, phone: str) -> int:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=NOW)
        owner.name, owner.phone = name, phone
        await owners.save(tx, owner, NOW)
    return owner.id


async def add_order(db: Database, owner_id: int, reference: str, *, status: str = "paid",
                    method: str = "transfer", amount: int = 1500, currency: str = "AZN",
                    credits: int = 1000, paid: datetime | None = None) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT OR IGNORE INTO packages (id, name, credits, validity_days, price_minor,"
            " created_at) VALUES (1, 'Start', 1000, 30, 1500, ?)", (to_ts(NOW),))
        await tx.execute(
            "INSERT INTO orders (owner_id, package_id, method, status, reference, credits,"
            " validity_days, amount_minor, currency, created_at, paid_at)"
            " VALUES (?, 1, ?, ?, ?, ?, 30, ?, ?, ?, ?)",
            (owner_id, method, status, reference, credits, amount, currency,
             to_ts(paid or NOW), to_ts(paid) if paid else None))


@pytest.fixture
def service(db, clock) -> SalesService:
    clock.now = NOW
    billing = BillingService(db, frozenset({ADMIN}), RecordingNotifier(), clock)
    return SalesService(db, billing, frozenset({ADMIN}), default_timezone="Asia/Baku",
                        default_region="AZ", clock=clock)


async def test_revenue_per_day_and_month_by_method_in_the_platforms_zone(db, service) -> None:
    alice = await add_owner(db, 1, "Alice", "+994501112233")
    bob = await add_owner(db, 2, "Bob", "+994502223344")
    await add_order(db, alice, "A1", paid=at("2026-11-25 08:00"))  # today
    await add_order(db, alice, "A2", method="stars", amount=250, currency="XTR",
                    paid=at("2026-11-24 20:30"))  # already 25 Nov in Baku
    await add_order(db, bob, "B1", amount=4000, credits=5000, paid=at("2026-11-24 19:59"))
    await add_order(db, bob, "B2", status="refunded", method="stars", amount=999,
                    currency="XTR", paid=at("2026-11-25 07:00"))  # given back: no revenue
    await add_order(db, bob, "B3", paid=at("2026-10-31 20:30"))  # 1 Nov in Baku
    await add_order(db, bob, "B4", paid=at("2026-10-31 19:30"))  # still October
    await add_order(db, alice, "A3", status="submitted")
    await add_order(db, alice, "A4", status="open")

    overview = await service.overview(ADMIN)
    assert len(overview.days) == 14 and len(overview.months) == 6
    today, yesterday = overview.days[0], overview.days[1]
    assert today.start == datetime(2026, 11, 25, tzinfo=today.start.tzinfo)
    assert [(t.method, t.currency, t.orders, t.amount_minor) for t in today.totals] == [
        ("stars", "XTR", 1, 250), ("transfer", "AZN", 1, 1500)]
    assert [(t.orders, t.amount_minor) for t in yesterday.totals] == [(1, 4000)]
    november, october = overview.months[0], overview.months[1]
    assert [(t.currency, t.orders, t.amount_minor) for t in november.totals] == [
        ("XTR", 1, 250), ("AZN", 3, 7000)]
    assert [(t.orders, t.amount_minor) for t in october.totals] == [(1, 1500)]
    assert [o.reference for o in overview.waiting] == ["A3"] and overview.waiting_count == 1
    assert [(s.owner_id, s.credits, s.amounts) for s in overview.top] == [
        (bob, 7000, {"AZN": 7000}), (alice, 2000, {"AZN": 1500, "XTR": 250})]


async def test_an_owner_is_found_by_number_telegram_id_or_phone(db, service) -> None:
    alice = await add_owner(db, 5001, "Alice", "+994501112233")
    for query in (str(alice), f"#{alice}", "5001", "+994501112233", "0501112233",
                  "994501112233", " +994 50 111 22 33 "):
        assert (await service.find_owner(ADMIN, query)).id == alice, query
    for query in ("#999", "+994559998877", "nobody"):
        with pytest.raises(NotFound):
            await service.find_owner(ADMIN, query)
    card = await service.owner_card(ADMIN, "5001")
    assert card.owner.name == "Alice" and card.balance.total == 0 and card.zone == "Asia/Baku"


async def test_only_admins_see_the_figures(db, service) -> None:
    alice = await add_owner(db, 1, "Alice", "+994501112233")
    with pytest.raises(NotAllowed):
        await service.overview(1)
    with pytest.raises(NotAllowed):
        await service.owner_card(1, str(alice))
