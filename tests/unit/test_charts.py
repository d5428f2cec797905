"""Delivery charts: what the chart shows (on a real SQLite file), in whose time zone, for
whom; and that the drawing is a PNG of the expected shape."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import Language, SenderStatus
from bot.errors import NotFound
from bot.handlers.stats import chart_caption, chart_text
from bot.i18n import Translator
from bot.services.analytics import AnalyticsService
from bot.services.charts import render
from bot.storage import owners, senders
from bot.storage.db import Database
from tests.unit.seeding import Seeded, seed_owner

# 09:00 UTC is 13:00 in Baku (+04:00, the owners' default zone here)
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def service(db: Database) -> AnalyticsService:
    return AnalyticsService(db, "Asia/Baku")


async def add_number(db: Database, owner_id: int, phone: str, label: str | None = None) -> int:
    async with db.transaction() as tx:
        sender = await senders.add(tx, owner_id=owner_id, gateway="sandbox", phone=phone,
                                   status=SenderStatus.ACTIVE, now=T0, label=label)
    return sender.id


async def sent(db: Database, seeded: Seeded, campaign_id: int | None, sender_id: int,
               status: str, at: datetime, *, delivered: datetime | None = None,
               read: datetime | None = None) -> None:
    """One message as the dispatcher and the receipts leave it."""
    seeded._phones += 1
    accepted = status != "failed"
    ts = at.timestamp()
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO messages (campaign_id, owner_id, sender_id, phone, planned_at, status,"
            " gateway_message_id, sent_at, delivered_at, read_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (campaign_id, seeded.owner_id, sender_id,
             f"+99470{seeded.owner_id:02d}{seeded._phones:05d}", ts, status,
             f"gw-{seeded.owner_id}-{seeded._phones}" if accepted else None,
             ts if accepted else None, delivered.timestamp() if delivered else None,
             read.timestamp() if read else None,
             (read or delivered or at).timestamp()))


async def test_nothing_sent_means_no_chart(service, alice) -> None:
    assert await service.chart(alice.owner_id) is None
    campaign = await alice.campaign()
    await alice.messages(campaign, "queued", 3)  # planned, not sent
    assert await service.chart(alice.owner_id, campaign) is None


async def test_a_day_of_sending_is_drawn_by_the_owners_hour(service, db, alice, bob) -> None:
    campaign = await alice.campaign()
    one = await add_number(db, alice.owner_id, "+994500000001", "Shop")
    two = await add_number(db, alice.owner_id, "+994500000002")
    await sent(db, alice, campaign, one, "read", T0, delivered=T0 + timedelta(minutes=1),
               read=T0 + timedelta(hours=2, minutes=5))
    await sent(db, alice, campaign, one, "delivered", T0 + timedelta(minutes=50),
               delivered=T0 + timedelta(hours=1, minutes=10))
    await sent(db, alice, campaign, two, "sent", T0 + timedelta(hours=1, minutes=30))
    await sent(db, alice, campaign, two, "failed", T0 + timedelta(hours=2, minutes=59))
    # Bob's messages at the same hours are not Alice's
    bobs = await add_number(db, bob.owner_id, "+994500000009")
    await sent(db, bob, None, bobs, "delivered", T0, delivered=T0)

    chart = await service.chart(alice.owner_id, campaign)
    assert chart is not None
    series = chart.series
    assert series.hourly
    assert [s.strftime("%H:%M %z") for s in series.starts] == [
        "13:00 +0400", "14:00 +0400", "15:00 +0400"]
    assert series.sent == (2, 1, 0)
    assert series.delivered == (1, 1, 0)
    assert series.read == (0, 0, 1)
    assert series.failed == (0, 0, 1)
    assert [(n.label, n.sent, n.delivered, n.read, n.failed) for n in chart.numbers] == [
        ("Shop", 2, 2, 1, 0), ("+994500000002", 1, 0, 0, 1)]
    assert chart.stats.sent == 3 and chart.stats.campaign is not None

    overall = await service.chart(alice.owner_id)
    assert overall is not None and overall.series.sent == (2, 1, 0)


async def test_a_longer_span_is_drawn_by_the_owners_day_in_their_zone(
    service, db, alice,
) -> None:
    async with db.transaction() as tx:
        owner = await owners.get(tx, alice.owner_id)
        owner.timezone = "Europe/Berlin"  # 09:00 UTC is 10:00 there
        await owners.save(tx, owner, T0)
    number = await add_number(db, alice.owner_id, "+994500000001")
    await sent(db, alice, None, number, "sent", T0)
    await sent(db, alice, None, number, "sent", T0 + timedelta(hours=14))  # 00:00 next day
    await sent(db, alice, None, number, "sent", T0 + timedelta(days=3))
    chart = await service.chart(alice.owner_id)
    assert chart is not None
    assert not chart.series.hourly
    assert [s.strftime("%d.%m %H:%M") for s in chart.series.starts] == [
        "25.11 00:00", "26.11 00:00", "27.11 00:00", "28.11 00:00"]
    assert chart.series.sent == (1, 1, 0, 1)


async def test_another_owners_campaign_has_no_chart(service, alice, bob) -> None:
    campaign = await alice.campaign()
    with pytest.raises(NotFound):
        await service.chart(bob.owner_id, campaign)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_the_chart_is_a_png_with_a_panel_per_number(service, db, clock) -> None:
    seeded = await seed_owner(db, clock, 103)
    number = await add_number(db, seeded.owner_id, "+994500000001")
    await sent(db, seeded, None, number, "delivered", T0, delivered=T0)
    chart = await service.chart(seeded.owner_id)
    assert chart is not None
    tr = Translator(Language.AZ)
    with_numbers = png_size(render(chart, chart_text(tr, chart)))
    assert with_numbers[0] == 990  # 9 inches at 110 dpi
    alone = png_size(render(chart.__class__(chart.stats, chart.series, ()),
                            chart_text(tr, chart)))
    assert alone[0] == 990 and alone[1] < with_numbers[1]
    caption = chart_caption(tr, chart)
    assert "Çatdırılma: bütün mesajlarınız" in caption and "Asia/Baku" in caption


def test_chart_words_are_plain_text() -> None:
    """A campaign named with HTML's special characters reads as typed on the chart."""
    from bot.domain import Campaign, CampaignStatus
    from bot.services.analytics import Chart, Series, Stats

    campaign = Campaign(id=7, owner_id=1, name="Tom & Jerry <sale>",
                        status=CampaignStatus.RUNNING, created_at=T0)
    chart = Chart(Stats(campaign=campaign), Series((), True, (), (), (), ()), ())
    text = chart_text(Translator(Language.EN), chart)
    assert text.title == "Delivery: #7 Tom & Jerry <sale>"
    assert text.delivered_share.format(rate="90%") == "90% delivered"


async def test_the_chart_counts_sent_as_the_stats_do(service, db, alice) -> None:
    """Accepted and then failed is failed, not sent; an uncertain message the owner counted
    as sent is sent: the chart's figures add up to the ones /stats prints."""
    campaign = await alice.campaign()
    number = await add_number(db, alice.owner_id, "+994500000001", "Shop")
    await sent(db, alice, campaign, number, "delivered", T0, delivered=T0 + timedelta(minutes=1))
    rows = [  # (gateway id, status, sent at, updated at)
        ("gw-late-fail-1", "failed", T0 + timedelta(minutes=5), T0 + timedelta(minutes=10)),
        ("gw-late-fail-2", "failed", T0 + timedelta(minutes=6), T0 + timedelta(minutes=11)),
        (None, "sent", T0 + timedelta(minutes=20), T0 + timedelta(minutes=30)),  # counted
    ]
    async with db.transaction() as tx:
        for n, (gateway_id, status, at, updated) in enumerate(rows):
            await tx.execute(
                "INSERT INTO messages (campaign_id, owner_id, sender_id, phone, planned_at,"
                " status, gateway_message_id, sent_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (campaign, alice.owner_id, number, f"+99477000000{n}", at.timestamp(), status,
                 gateway_id, at.timestamp(), updated.timestamp()))

    chart = await service.chart(alice.owner_id, campaign)
    assert chart is not None
    assert (chart.stats.sent, chart.stats.delivered, chart.stats.failed) == (2, 1, 2)
    assert sum(chart.series.sent) == 2 and sum(chart.series.failed) == 2
    assert [(n.sent, n.delivered, n.failed) for n in chart.numbers] == [(2, 1, 2)]
