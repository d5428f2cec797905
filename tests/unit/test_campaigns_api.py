"""Campaigns asked for in one go (``POST /campaigns``'s services) on a real SQLite file:
the wizard's checks and plan, inline recipients saved as a list, credits checked first."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import timedelta

import pytest

from bot.domain import CampaignStatus, LedgerKind, MessageStatus
from bot.errors import InsufficientCredits, NotFound, ValidationError
from bot.services import risk
from bot.services.campaigns import CampaignOrder, CampaignsConfig, CampaignsService
from bot.services.campaigns_api import CampaignsApiService, Recipient
from bot.services.contacts import ContactsConfig, ContactsService
from bot.services.contacts_api import ContactsApiService
from bot.services.planning import Pacing
from bot.services.risk import HighRisk
from bot.storage import contacts, ledger, lists, templates
from bot.storage.db import Database
from tests.fakes import FakeClock
from tests.fakes.owners import add_active_owner


class World:
    def __init__(self, db: Database, clock: FakeClock) -> None:
        self.db, self.clock = db, clock
        self.campaigns = CampaignsService(db, CampaignsConfig(advice_max=100, warmup=()), clock)
        contacts_service = ContactsService(db, ContactsConfig(default_region="AZ"), clock)
        self.api = CampaignsApiService(db, self.campaigns,
                                       ContactsApiService(db, contacts_service, clock),
                                       clock=clock)

    async def owner(self, telegram_id: int, credits: int,
                    text: str = "Salam {{name|dostum}}") -> tuple[int, int]:
        now = self.clock()
        async with self.db.transaction() as tx:
            owner = await add_active_owner(tx, telegram_id, now)
            if credits:
                await ledger.add(tx, owner.id, LedgerKind.CREDIT, credits, now)
            template = await templates.add(tx, owner.id, "Promo", [text, text + "!"], None,
                                           None, now)
        return owner.id, template.id

    async def rows(self, owner_id: int) -> list[tuple]:
        async with self.db.reader.execute(
            "SELECT phone, client_ref, batch, variant, sender_id, planned_at, status"
            " FROM messages WHERE owner_id = ? ORDER BY id", (owner_id,)) as cur:
            return [tuple(row) async for row in cur]

    async def count(self, table: str, owner_id: int) -> int:
        async with self.db.reader.execute(
                f"SELECT COUNT(*) FROM {table} WHERE owner_id = ?", (owner_id,)) as cur:
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])


@pytest.fixture
def world(db: Database, clock: FakeClock) -> World:
    return World(db, clock)


def people(n: int) -> list[Recipient]:
    return [Recipient(f"+99450{n:07d}", {"City": "Baku"}, name=f"Name {n}",
                      client_ref=f"crm-{n}") for n in range(n)]


async def test_inline_recipients_are_planned_as_the_wizard_plans_their_list(
        world: World) -> None:
    owner, template = await world.owner(1, credits=1000)
    recipients = [*people(250), Recipient("12"), Recipient("+994500000003", client_ref="again")]
    async with world.db.transaction() as tx:  # a customer who said STOP earlier
        await contacts.opt_out(tx, owner, "+994500000007", "STOP", world.clock())

    # 249 never messaged: a high risk, confirmed as the wizard's second yes below
    created = await world.api.create(owner, CampaignOrder(0, template, preset="fast",
                                                          accept_risk=True), recipients)

    summary = created.summary
    assert summary.campaign is not None and summary.campaign.status is CampaignStatus.SCHEDULED
    assert [(r.index, r.reason) for r in created.rejected] == [(250, "too_short")]
    assert created.duplicates == 1
    assert (summary.recipients, summary.opted_out, summary.cost) == (249, 1, 249)
    assert summary.starts_at == world.clock() + timedelta(seconds=5)
    api_rows = await world.rows(owner)
    assert len(api_rows) == 249 and {r[6] for r in api_rows} == {"queued"}
    refs = {phone: ref for phone, ref, *_ in api_rows}
    assert refs["+994500000003"] == "again" and refs["+994500000100"] == "crm-100"
    assert "+994500000007" not in refs
    balance = await ledger.balance(world.db.reader, owner)
    assert (balance.total, balance.reserved) == (1000, 249)
    made = await lists.get(world.db.reader, owner, created.list_id)
    assert made is not None and made.name == "API 2026-11-25 09:00:00 UTC"
    assert made.variables == ["city"]

    # the same list through the chat's wizard: the same batches, variants and numbers
    c = world.campaigns
    await c.begin(owner)
    await c.choose_list(owner, created.list_id)
    await c.choose_template(owner, template)
    await c.senders_chosen(owner)
    await c.start_now(owner)
    await c.use_preset(owner, "fast")
    wizard = await c.confirm(owner, big_ok=True)
    assert wizard.campaign is not None
    wizard_rows = (await world.rows(owner))[249:]
    assert [r[2:5] for r in wizard_rows] == [r[2:5] for r in api_rows]
    assert [r[0] for r in wizard_rows] == [r[0] for r in api_rows]
    gaps = [b[5] - a[5] for a, b in itertools.pairwise(api_rows) if a[2] == b[2]]
    assert min(gaps) >= 3 and max(gaps) <= 8  # the fast pace's delays within a batch


async def test_credits_short_refuse_the_order_and_nothing_is_written(world: World) -> None:
    owner, template = await world.owner(1, credits=10)
    with pytest.raises(InsufficientCredits) as short:
        await world.api.create(owner, CampaignOrder(0, template), people(12))
    assert (short.value.needed, short.value.available) == (12, 10)
    assert await world.count("messages", owner) == 0
    assert await world.count("contacts", owner) == 0
    assert await world.count("contact_lists", owner) == 0
    assert await world.count("campaigns", owner) == 0
    # a list of the owner's: the same answer
    async with world.db.transaction() as tx:
        target = await lists.create(tx, owner, "All", world.clock())
        rows = [(r.phone, None, "{}") for r in people(11)]
        await contacts.upsert(tx, owner, rows, world.clock())
        await contacts.add_to_list(tx, owner, target.id, [r[0] for r in rows], world.clock())
    with pytest.raises(InsufficientCredits) as short:
        await world.api.create(owner, CampaignOrder(target.id, template))
    assert (short.value.needed, short.value.available) == (11, 10)
    assert await world.count("messages", owner) == 0
    assert (await ledger.balance(world.db.reader, owner)).reserved == 0


async def test_a_variable_nobody_has_a_value_for_is_refused_unless_allowed(
        world: World) -> None:
    owner, template = await world.owner(1, credits=100, text="Salam {{name}}, {{code}}")
    with pytest.raises(ValidationError) as refused:
        await world.api.create(owner, CampaignOrder(0, template), people(3))
    assert (refused.value.reason, refused.value.where) == ("missing_values", "template_id")
    assert refused.value.params["missing"] == "code"
    assert await world.count("contact_lists", owner) == 0  # its list went again
    assert await world.count("contacts", owner) == 3  # the contacts stay the owner's
    created = await world.api.create(owner, CampaignOrder(0, template, allow_missing=True),
                                     people(3))
    assert created.summary.recipients == 3


async def test_another_owners_list_template_and_number_are_not_found(world: World) -> None:
    alice, alices_template = await world.owner(1, credits=100)
    bob, bobs_template = await world.owner(2, credits=100)
    created = await world.api.create(alice, CampaignOrder(0, alices_template), people(2))
    alices_number = created.summary.senders[0].id
    for order in (CampaignOrder(created.list_id, bobs_template),
                  CampaignOrder(0, alices_template)):
        with pytest.raises(NotFound):
            await world.api.create(bob, order, None if order.list_id else people(2))
    with pytest.raises(NotFound):
        await world.api.create(bob, CampaignOrder(0, bobs_template,
                                                  sender_ids=[alices_number]), people(2))
    assert created.summary.campaign is not None
    with pytest.raises(NotFound):
        await world.campaigns.view(bob, created.summary.campaign.id)
    with pytest.raises(NotFound):
        await world.campaigns.messages(bob, created.summary.campaign.id)
    assert await world.count("messages", bob) == 0


async def test_pause_resume_cancel_and_the_recipients_page_by_page(world: World) -> None:
    owner, template = await world.owner(1, credits=100)
    created = await world.api.create(owner, CampaignOrder(0, template, name="Spring"),
                                     people(25))
    campaign = created.summary.campaign
    assert campaign is not None and campaign.name == "Spring"
    assert (await world.campaigns.pause(owner, campaign.id)).campaign.status \
        is CampaignStatus.PAUSED
    assert (await world.campaigns.resume(owner, campaign.id)).campaign.status \
        is CampaignStatus.SCHEDULED
    seen, after = [], 0
    while page := await world.campaigns.messages(owner, campaign.id, after, limit=10):
        seen += page
        after = page[-1].id
    assert len(seen) == 25 and {m.status for m in seen} == {MessageStatus.QUEUED}
    assert [m.client_ref for m in seen] == [f"crm-{n}" for n in range(25)]
    view, released = await world.campaigns.cancel(owner, campaign.id)
    assert view.campaign.status is CampaignStatus.CANCELLED and released == 25
    assert (await ledger.balance(world.db.reader, owner)).available == 100
    later = await world.api.create(owner, CampaignOrder(0, template), people(1))
    assert later.summary.campaign is not None
    newest = await world.campaigns.list(owner, limit=1)
    assert [v.campaign.id for v in newest] == [later.summary.campaign.id]
    older = await world.campaigns.list(owner, limit=5, before=newest[0].campaign.id)
    assert [v.campaign.id for v in older] == [campaign.id]


async def test_the_safe_plan_and_the_high_risk_yes_are_the_wizards(world: World) -> None:
    owner, template = await world.owner(7, credits=1000)
    # all 120 never messaged: refused without its yes, as the chat asks twice; the list
    # it made taken away again
    with pytest.raises(HighRisk):
        await world.api.create(owner, CampaignOrder(0, template, preset="fast"),
                               people(120), "Many")
    assert await world.count("contact_lists", owner) == 0 and await world.rows(owner) == []
    made = await world.api.create(owner, CampaignOrder(0, template, preset="fast",
                                                       accept_risk=True), people(120), "Many")
    assert made.summary.risk.high
    sent = await world.rows(owner)
    burst = Pacing(1.0, 2.0, 200, 60.0, 120.0, None)
    with pytest.raises(HighRisk) as refused:
        await world.api.create(owner, CampaignOrder(made.list_id, template, pacing=burst))
    assert {r.code for r in refused.value.risk.reasons} >= {"pace", "new_contacts"}
    assert await world.rows(owner) == sent
    # plan safe: the chat's very rewrite of the same order
    safe = await world.api.create(owner, CampaignOrder(made.list_id, template, pacing=burst,
                                                       safe_plan=True, accept_risk=True))
    c = world.campaigns
    await c.begin(owner)
    await c.choose_list(owner, made.list_id)
    await c.choose_template(owner, template)
    await c.senders_chosen(owner)
    await c.start_now(owner)
    await c.custom_pacing(owner)
    for answer in ("1-2", "200", "1-2", None):
        await c.custom_value(owner, answer)
    wizard = await c.summary(owner)
    # the chat's custom pace starts from the default's, which holds the recipients' night
    assert wizard.pacing == dataclasses.replace(burst, recipient_night=True)
    await c.safe_plan(owner)
    wizard = await c.summary(owner)
    assert safe.summary.pacing == wizard.pacing == risk.safe_pacing(burst)
    assert safe.summary.safe_plan_on and wizard.safe_plan_on
    assert [r.code for r in safe.summary.risk.reasons] == [r.code for r in wizard.risk.reasons]
