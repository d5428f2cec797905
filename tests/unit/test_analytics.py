"""Delivery statistics on a real SQLite file: what counts as sent, the rates, the top
failure reasons, the recent campaigns, and that an owner only ever sees their own."""

from __future__ import annotations

import pytest

from bot.domain import Language
from bot.errors import NotFound
from bot.handlers import stats as render
from bot.i18n import Translator, catalog
from bot.services.analytics import REASONS, AnalyticsService, Stats
from bot.storage.db import Database
from tests.unit.seeding import seed_owner


@pytest.fixture
def service(db: Database) -> AnalyticsService:
    return AnalyticsService(db)


# --- counts and rates ------------------------------------------------------------------

async def test_sent_counts_everything_the_gateway_accepted(service, alice) -> None:
    cid = await alice.campaign()
    for status, n in (("queued", 2), ("sending", 1), ("sent", 3), ("delivered", 4),
                      ("read", 5), ("failed", 2), ("uncertain", 1), ("skipped", 1)):
        await alice.messages(cid, status, n)

    stats = await service.campaign(alice.owner_id, cid)

    assert (stats.total, stats.queued, stats.sent, stats.delivered, stats.read,
            stats.failed, stats.uncertain, stats.skipped) == (19, 3, 12, 9, 5, 2, 1, 1)
    assert stats.delivered_rate == pytest.approx(9 / 12)
    assert stats.read_rate == pytest.approx(5 / 12)
    assert stats.failed_rate == pytest.approx(2 / 14)


async def test_rates_are_absent_when_there_is_nothing_to_divide_by(service, alice) -> None:
    cid = await alice.campaign()
    await alice.messages(cid, "queued", 3)

    waiting = await service.campaign(alice.owner_id, cid)
    assert (waiting.total, waiting.queued, waiting.sent) == (3, 3, 0)
    assert (waiting.delivered_rate, waiting.read_rate, waiting.failed_rate) == (None,) * 3

    await alice.messages(cid, "failed", 2, category="recipient_invalid")
    all_failed = await service.campaign(alice.owner_id, cid)
    assert all_failed.delivered_rate is None and all_failed.read_rate is None
    assert all_failed.failed_rate == 1.0

    nothing = await service.overall((await seed_owner(alice.db, alice.clock, 103)).owner_id)
    assert nothing == Stats()
    assert nothing.failed_rate is None


async def test_overall_adds_up_every_campaign_and_single_sends(service, alice) -> None:
    first, second = await alice.campaign("First"), await alice.campaign("Second")
    await alice.messages(first, "read", 2)
    await alice.messages(second, "delivered", 1)
    await alice.messages(second, "failed", 1, category="rejected")
    await alice.messages(None, "sent", 1)  # one message sent through the API, no campaign

    stats = await service.overall(alice.owner_id)

    assert (stats.total, stats.sent, stats.delivered, stats.read, stats.failed) == (5, 4, 3, 2, 1)
    assert stats.campaign is None


# --- failure reasons -------------------------------------------------------------------

async def test_top_three_reasons_most_first_with_their_commonest_detail(service, alice) -> None:
    cid = await alice.campaign()
    await alice.messages(cid, "failed", 3, category="recipient_invalid", detail="not on WhatsApp")
    await alice.messages(cid, "failed", 2, category="recipient_invalid", detail="bad number")
    await alice.messages(cid, "failed", 3, category="sender_banned")
    await alice.messages(cid, "failed", 3, category="rejected", detail="policy")
    await alice.messages(cid, "failed", 1, category="rate_limited", detail="429")
    # not failures: a retry waiting, and an unknown outcome
    await alice.messages(cid, "queued", 4, category="rate_limited", detail="429")
    await alice.messages(cid, "uncertain", 4, category="uncertain", detail="timeout")

    reasons = (await service.campaign(alice.owner_id, cid)).reasons

    assert [(r.category, r.count, r.detail, r.detail_count) for r in reasons] == [
        ("recipient_invalid", 5, "not on WhatsApp", 3),
        ("rejected", 3, "policy", 3),  # a tie is broken by name, the same every time
        ("sender_banned", 3, None, 3),
    ]


async def test_a_failure_without_a_known_category_counts_as_other(service, alice) -> None:
    cid = await alice.campaign()
    await alice.messages(cid, "failed", 2)  # no category at all
    await alice.messages(cid, "failed", 2, category="something_new", detail="code 77")
    await alice.messages(cid, "failed", 3, category="transient")
    await alice.messages(cid, "failed", 1, category="transient", detail="502 from upstream")

    reasons = (await service.campaign(alice.owner_id, cid)).reasons

    assert [(r.category, r.count) for r in reasons] == [("other", 4), ("transient", 4)]
    # a detail says more than none, even when fewer messages came with one
    assert [r.detail for r in reasons] == ["code 77", "502 from upstream"]


# --- recent campaigns ------------------------------------------------------------------

async def test_overall_lists_the_latest_ten_campaigns_newest_first(service, alice) -> None:
    ids = [await alice.campaign(f"Campaign {n}") for n in range(12)]
    await alice.campaign("Being written", draft=True)
    await alice.messages(ids[-1], "read", 3)
    await alice.messages(ids[-1], "sent", 1)
    await alice.messages(ids[-1], "queued", 4)

    lines = (await service.overall(alice.owner_id)).campaigns

    assert [line.id for line in lines] == ids[::-1][:10]
    newest = lines[0]
    assert (newest.name, newest.total, newest.sent, newest.delivered) == ("Campaign 11", 8, 4, 3)
    assert newest.delivered_rate == pytest.approx(0.75)
    assert lines[1].total == 0 and lines[1].delivered_rate is None


# --- owners ----------------------------------------------------------------------------

async def test_an_owner_sees_only_their_own_messages_and_campaigns(service, alice, bob) -> None:
    mine = await alice.campaign("Alice's")
    await alice.messages(mine, "read", 2)
    await alice.messages(mine, "failed", 1, category="sender_banned")
    theirs = await bob.campaign("Bob's")
    await bob.messages(theirs, "delivered", 5)
    await bob.messages(theirs, "failed", 3, category="rejected")

    alice_stats = await service.overall(alice.owner_id)
    assert (alice_stats.total, alice_stats.sent, alice_stats.failed) == (3, 2, 1)
    assert [r.category for r in alice_stats.reasons] == ["sender_banned"]
    assert [line.id for line in alice_stats.campaigns] == [mine]

    with pytest.raises(NotFound):
        await service.campaign(bob.owner_id, mine)
    with pytest.raises(NotFound):
        await service.campaign(alice.owner_id, theirs)
    assert (await service.campaign(bob.owner_id, theirs)).total == 8


async def test_a_draft_or_a_missing_campaign_has_no_stats(service, alice) -> None:
    draft = await alice.campaign(draft=True)
    with pytest.raises(NotFound):
        await service.campaign(alice.owner_id, draft)
    with pytest.raises(NotFound):
        await service.campaign(alice.owner_id, 9999)


# --- what the owner reads --------------------------------------------------------------

EN = Translator(Language.EN)


@pytest.mark.parametrize(("rate", "language", "shown"), [
    (0.875, Language.EN, "87.5%"), (1.0, Language.EN, "100%"), (2 / 3, Language.EN, "66.7%"),
    (0.0, Language.EN, "0%"), (None, Language.EN, "—"), (0.875, Language.RU, "87,5%"),
])
def test_percentages_are_short_and_follow_the_locale(rate, language, shown) -> None:
    assert render.percent(Translator(language), rate) == shown


@pytest.mark.parametrize("language", list(Language))
def test_every_failure_reason_reads_in_every_language(language: Language) -> None:
    texts = catalog(language)
    assert [r for r in REASONS if not texts.get(f"stats.reason.{r}")] == []


async def test_campaign_text_shows_counts_rates_and_reasons(service, alice) -> None:
    cid = await alice.campaign("<Sale> & more")
    await alice.messages(cid, "read", 6)
    await alice.messages(cid, "delivered", 1)
    await alice.messages(cid, "sent", 1)
    await alice.messages(cid, "failed", 2, category="recipient_invalid", detail="<not> found")

    screen = render.campaign(EN, await service.campaign(alice.owner_id, cid))

    assert f"#{cid} &lt;Sale&gt; &amp; more</b>: ▶️ sending" in screen.text
    assert "📤 sent 8" in screen.text
    assert "📬 delivered 7 (87.5% of sent)" in screen.text
    assert "👀 read 6 (75% of sent)" in screen.text
    assert "❌ failed 2 (20% of attempts)" in screen.text
    assert "1. Not on WhatsApp or a wrong number: 2 (most often: &lt;not&gt; found)" \
        in screen.text
    data = [b.callback_data for row in screen.reply_markup.inline_keyboard for b in row]
    assert data == [f"st:c:{cid}", f"st:g:c:{cid}", f"st:rep:xlsx:{cid}", f"st:rep:csv:{cid}",
                    f"st:fu:{cid}", f"st:retry:{cid}", f"wiz:again:{cid}", f"cmp:open:{cid}",
                    "st:all"]


def test_no_messages_means_a_hint_not_a_table_of_zeros() -> None:
    screen = render.overall(EN, Stats())
    assert "No messages yet" in screen.text and "Messages:" not in screen.text
