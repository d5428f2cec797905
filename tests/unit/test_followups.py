"""A campaign's follow-ups on a real SQLite file: each audience has exactly its members,
*New campaign to...* saves it as a list and opens the wizard at the template, *Retry
failed* queues again only what may pass later (never an invalid number or an opted-out
contact) with its credits reserved, *Run again* copies the campaign into the wizard."""

from __future__ import annotations

import pytest

from bot.domain import CampaignStatus, LedgerKind, SenderStatus, WizardStep
from bot.errors import NotFound, ValidationError
from bot.gateways import cloud
from bot.gateways.base import ErrorCategory
from bot.services.followups import (
    RETRY_CODES,
    Audience,
    FollowUpsService,
    may_pass_later,
)
from bot.services.replies import RepliesService
from bot.storage import contacts, ledger, lists, senders
from bot.storage.db import Database
from tests.unit.test_campaigns_service import make_service, ready_draft, seed

# (status, category, detail) of the messages to the people in the list, in order
FATES = [
    ("read", None, None),                                         # 0 read, replies
    ("read", None, None),                                         # 1 read
    ("delivered", None, None),                                    # 2 not read, replies
    ("delivered", None, None),                                    # 3 not read
    ("sent", None, None),                                         # 4 not read
    ("failed", "rate_limited", "slow down"),                      # 5 may pass
    ("failed", "transient", "503"),                               # 6 may pass
    ("failed", "rejected", "code 131049: healthy ecosystem"),     # 7 Meta's cap: may pass
    ("failed", "recipient_invalid", "code 131026: not on WhatsApp"),  # 8 never
    ("failed", "not_on_whatsapp", "not on WhatsApp (checked)"),   # 9 never
    ("failed", "rejected", "code 131047: re-engagement"),         # 10 refused: never
    ("failed", "rejected", "WhatsApp reported an error (ack -1)"),  # 11 unknown: never
    ("uncertain", "uncertain", "read timeout"),                   # 12 none of them
    ("queued", None, None),                                       # 13 none of them
    ("delivered", None, None),                                    # 14 opted out since
    ("failed", "rate_limited", "slow down"),                      # 15 opted out since
]


async def gone_out(db: Database, clock, telegram_id: int, *, credits: int = 100):
    """A campaign whose messages met their ``FATES``, two recipients answering it and two
    opting out since. (owner, campaign, contact ids in list order, campaigns service)"""
    service = make_service(db, clock)
    oid, list_id, template_id = await seed(db, clock, telegram_id, people=len(FATES),
                                           credits=credits)
    await ready_draft(service, oid, list_id, template_id, preset="fast")
    summary = await service.confirm(oid)
    assert summary.campaign is not None
    cid = summary.campaign.id
    async with db.reader.execute("SELECT id, contact_id, phone, sender_id FROM messages"
                                 " WHERE campaign_id = ? ORDER BY contact_id", (cid,)) as cur:
        rows = list(await cur.fetchall())
    async with db.transaction() as tx:
        for (mid, *_), (status, category, detail) in zip(rows, FATES, strict=True):
            await tx.execute(
                "UPDATE messages SET status = ?, error_category = ?, error_detail = ?,"
                " sent_at = CASE WHEN ? IN ('sent', 'delivered', 'read') THEN 1 END"
                " WHERE id = ?", (status, category, detail, status, mid))
        for _, _, phone, _ in (rows[14], rows[15]):
            await contacts.opt_out(tx, oid, phone, "asked", clock())
    replies = RepliesService(db, clock=clock)
    for _, _, phone, sender_id in (rows[0], rows[2]):
        await replies.handle(sender_id, phone, "Thank you!")
    return oid, cid, [row[1] for row in rows], service


def at(ids: list[int], *places: int) -> list[int]:
    return [ids[p] for p in places]


async def test_each_audience_has_exactly_its_members(db: Database, clock) -> None:
    oid, cid, ids, campaigns = await gone_out(db, clock, 601)
    followups = FollowUpsService(db, campaigns, clock)
    assert await followups.members(oid, cid, Audience.NOT_READ) == at(ids, 2, 3, 4)
    assert await followups.members(oid, cid, Audience.FAILED) == at(ids, 5, 6, 7)
    assert await followups.members(oid, cid, Audience.REPLIED) == at(ids, 0, 2)
    assert await followups.members(oid, cid, Audience.NOT_REPLIED) == at(ids, 1, 3, 4)
    found = await followups.audiences(oid, cid)
    assert found.sizes == {Audience.NOT_READ: 3, Audience.FAILED: 3, Audience.REPLIED: 2,
                           Audience.NOT_REPLIED: 3}
    assert found.retryable == 3


async def test_new_campaign_to_those_who_failed_saves_a_list_and_opens_the_template_step(
        db: Database, clock) -> None:
    oid, cid, ids, campaigns = await gone_out(db, clock, 602)
    followups = FollowUpsService(db, campaigns, clock)
    await campaigns.begin(oid)  # a wizard in progress: replaced
    follow = await followups.new_campaign_to(oid, cid, Audience.FAILED, "failed")
    assert follow.contact_list.name == "Promo · Customers - failed"
    assert (follow.contact_list.size, follow.contact_list.opted_out) == (3, 0)
    async with db.reader.execute("SELECT contact_id FROM list_members WHERE list_id = ?"
                                 " ORDER BY contact_id", (follow.contact_list.id,)) as cur:
        assert [row[0] for row in await cur.fetchall()] == at(ids, 5, 6, 7)
    draft = await campaigns.draft(oid)
    assert draft is not None and draft.step is WizardStep.TEMPLATE
    assert (draft.list_id, draft.template_id) == (follow.contact_list.id, None)

    again = await followups.new_campaign_to(oid, cid, Audience.FAILED, "failed")
    assert again.contact_list.name == "Promo · Customers - failed (2)"  # the name was taken


async def test_nobody_in_an_audience_makes_no_list(db: Database, clock) -> None:
    oid, cid, _ids, campaigns = await gone_out(db, clock, 603)
    async with db.transaction() as tx:
        await tx.execute("UPDATE messages SET replied_at = NULL WHERE campaign_id = ?", (cid,))
    followups = FollowUpsService(db, campaigns, clock)
    lists_before = await lists.for_owner(db.reader, oid)
    with pytest.raises(ValidationError) as refused:
        await followups.new_campaign_to(oid, cid, Audience.REPLIED, "replied")
    assert refused.value.reason == "audience_empty"
    assert await lists.for_owner(db.reader, oid) == lists_before


async def test_retry_queues_only_what_may_pass_and_reserves_its_credits(db: Database,
                                                                        clock) -> None:
    oid, cid, ids, campaigns = await gone_out(db, clock, 604)
    async with db.transaction() as tx:  # the campaign is over; one number banned since
        await tx.execute("UPDATE campaigns SET status = 'completed' WHERE id = ?", (cid,))
        await tx.execute("UPDATE messages SET status = 'read' WHERE campaign_id = ?"
                         " AND status = 'queued'", (cid,))
    mine = await senders.list_for_owner(db.reader, oid)
    async with db.transaction() as tx:
        await senders.set_status(tx, mine[0].id, SenderStatus.BANNED, clock())
    before = await ledger.balance(db.reader, oid)
    held = (await campaigns.view(oid, cid)).held  # the messages set by hand kept theirs
    followups = FollowUpsService(db, campaigns, clock)

    assert await followups.retry_failed(oid, cid) == 3
    async with db.reader.execute(
            "SELECT contact_id, status, sender_id, attempts, error_category, planned_at"
            " FROM messages WHERE campaign_id = ? ORDER BY contact_id", (cid,)) as cur:
        rows = {row[0]: tuple(row[1:]) for row in await cur.fetchall()}
    queued = [c for c, row in rows.items() if row[0] == "queued"]
    assert queued == at(ids, 5, 6, 7)
    assert all(rows[c][1] == mine[1].id for c in queued)  # the banned number's moved over
    assert all(rows[c][2:5] == (0, None, clock().timestamp()) for c in queued)
    for never in at(ids, 8, 9, 10, 11, 15):  # invalid, refused, unknown, opted out
        assert rows[never][0] == "failed"
    after = await ledger.balance(db.reader, oid)
    assert (after.total, after.available, after.reserved) == (
        before.total, before.available - 3, before.reserved + 3)
    view = await campaigns.view(oid, cid)
    assert view.campaign.status is CampaignStatus.RUNNING and view.held == held + 3
    assert await followups.retry_failed(oid, cid) == 0  # nothing failed is left to retry


async def test_retry_without_the_credits_queues_nothing(db: Database, clock) -> None:
    oid, cid, _ids, campaigns = await gone_out(db, clock, 605, credits=len(FATES) + 2)
    followups = FollowUpsService(db, campaigns, clock)
    with pytest.raises(ValidationError) as refused:
        await followups.retry_failed(oid, cid)
    assert refused.value.reason == "insufficient"
    assert refused.value.params == {"cost": 3, "available": 2, "missing": 1}
    async with db.reader.execute("SELECT COUNT(*) FROM messages WHERE campaign_id = ?"
                                 " AND status = 'failed'", (cid,)) as cur:
        assert (await cur.fetchone())[0] == 8
    async with db.transaction() as tx:
        await ledger.add(tx, oid, LedgerKind.CREDIT, 1, clock())
    assert await followups.retry_failed(oid, cid) == 3


async def test_another_owners_campaign_has_no_follow_ups(db: Database, clock) -> None:
    alice, cid, _ids, campaigns = await gone_out(db, clock, 606)
    bob, _bob_cid, _bob_ids, _ = await gone_out(db, clock, 607)
    followups = FollowUpsService(db, campaigns, clock)
    for call in (followups.audiences(bob, cid), followups.retry_failed(bob, cid),
                 followups.new_campaign_to(bob, cid, Audience.FAILED, "x"),
                 followups.members(bob, cid, Audience.REPLIED), campaigns.run_again(bob, cid)):
        with pytest.raises(NotFound):
            await call
    assert [x.name for x in await lists.for_owner(db.reader, bob)] == ["Customers"]
    assert (await followups.audiences(alice, cid)).retryable == 3


async def test_run_again_opens_the_wizard_at_when_with_everything_else_copied(
        db: Database, clock) -> None:
    oid, cid, _ids, campaigns = await gone_out(db, clock, 608)
    original = (await campaigns.view(oid, cid)).campaign
    draft = await campaigns.run_again(oid, cid)
    assert draft.step is WizardStep.WHEN and draft.again == cid
    assert (draft.list_id, draft.template_id, draft.senders) == (
        original.list_id, original.template_id, original.sender_ids)
    assert (draft.preset, draft.pacing, draft.name) == ("fast", original.pacing, original.name)
    draft = await campaigns.start_now(oid)
    assert draft.step is WizardStep.SUMMARY  # the pace is the original's: no question
    summary = await campaigns.confirm(oid)
    assert summary.campaign is not None and summary.campaign.id != cid
    assert summary.campaign.name == original.name
    assert summary.campaign.pacing == original.pacing


async def test_a_campaign_can_be_named_in_the_wizard(db: Database, clock) -> None:
    service = make_service(db, clock)
    oid, list_id, template_id = await seed(db, clock, 609)
    await ready_draft(service, oid, list_id, template_id, preset="normal")
    assert (await service.summary(oid)).name == "Promo · Customers"  # the default
    assert (await service.ask_name(oid)).step is WizardStep.NAME
    with pytest.raises(ValidationError):
        await service.name_draft(oid, "x" * 65)
    draft = await service.name_draft(oid, "  Spring   sale ")
    assert (draft.step, draft.name) == (WizardStep.SUMMARY, "Spring sale")
    assert (await service.summary(oid)).name == "Spring sale"
    summary = await service.confirm(oid)
    assert summary.campaign is not None and summary.campaign.name == "Spring sale"


def test_what_may_pass_later() -> None:
    assert may_pass_later("rate_limited", "slow down")
    assert may_pass_later("transient", None)
    assert may_pass_later("rejected", "code 131049: This message was not delivered")
    assert may_pass_later("rejected", "code 130429: rate limit hit")
    assert not may_pass_later("rejected", "code 131026: undeliverable")
    assert not may_pass_later("recipient_invalid", "code 131049: cap")  # invalid wins
    assert not may_pass_later("not_on_whatsapp", None)
    assert not may_pass_later("rejected", "code 1310490: not that one")
    assert not may_pass_later(None, None)


def test_the_retryable_codes_are_the_ones_the_cloud_adapter_says_may_pass() -> None:
    passing = {ErrorCategory.RATE_LIMITED, ErrorCategory.TRANSIENT}
    assert {c for c in RETRY_CODES if cloud._category(c, 400, False) in passing} == RETRY_CODES
    known = cloud._RATE | cloud._RATE_DAY | cloud._TRANSIENT
    assert known == RETRY_CODES
