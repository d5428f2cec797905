"""The dispatcher with the sandbox gateway, a real database and a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, time
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from bot.domain import Language, LedgerKind
from bot.gateways.base import ErrorCategory, GatewayError, ReceiptStatus
from bot.gateways.sandbox import SandboxConfig, SandboxGateway
from bot.services.campaigns import CampaignsConfig, CampaignsService
from bot.services.dispatcher import Dispatcher, DispatcherConfig
from bot.services.notify import CampaignUpdate, SenderLost
from bot.services.sender_events import ReplyHandler
from bot.services.templates import TemplatesService
from bot.storage import contacts, ledger, lists, owners, templates
from bot.storage.db import Database
from tests.fakes import FakeClock, RecordingGateway, RecordingNotifier


class Harness:
    """An owner with a list, a template, credits and a confirmed campaign."""

    def __init__(self, db: Database, clock: FakeClock, gateway, *,
                 replies: ReplyHandler | None = None, **config) -> None:
        self.db, self.clock, self.gateway = db, clock, gateway
        self.notifier = RecordingNotifier()
        self.templates = TemplatesService(db, clock)
        self.campaigns = CampaignsService(db, CampaignsConfig(advice_max=10_000), clock)
        self.dispatcher = Dispatcher(db, gateway, self.templates, self.notifier,
                                     DispatcherConfig(progress_every=0, **config), clock,
                                     campaigns_service=self.campaigns, replies=replies)
        gateway.set_event_handler(self.dispatcher.events.on_event)

    async def campaign(self, recipients: int, *, preset: str = "fast", credits: int = 10_000,
                       telegram_id: int = 1, text: str = "Salam {{name|dostum}}",
                       again: bool = False) -> int:
        now = self.clock()
        async with self.db.transaction() as tx:
            owner = (await owners.get(tx, self.owner_id) if again else
                     await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                      language=Language.EN, now=now))
            people = await lists.create(tx, owner.id, f"all {recipients} {again}", now)
            rows = [(f"+99450{n:07d}", f"Name {n}", "{}") for n in range(recipients)]
            await contacts.upsert(tx, owner.id, rows, now)
            await contacts.add_to_list(tx, owner.id, people.id, [r[0] for r in rows], now)
            template = await templates.add(tx, owner.id, f"t{again}", [text], None, None, now)
            await ledger.add(tx, owner.id, LedgerKind.CREDIT, credits, now)
        self.owner_id = owner.id
        await self.campaigns.begin(owner.id)
        await self.campaigns.choose_list(owner.id, people.id)
        await self.campaigns.choose_template(owner.id, template.id)
        await self.campaigns.senders_chosen(owner.id)
        await self.campaigns.start_now(owner.id)
        await self.campaigns.use_preset(owner.id, preset)
        # the owner's second yes given: a list over a tight cap is a high-risk campaign
        summary = await self.campaigns.confirm(owner.id, big_ok=True)
        return summary.campaign.id

    async def statuses(self, campaign_id: int) -> dict[str, int]:
        view = await self.campaigns.view(self.owner_id, campaign_id)
        return {k: v for k, v in (("queued", view.progress.queued),
                                  ("sending", view.progress.sending),
                                  ("sent", view.progress.sent),
                                  ("delivered", view.progress.delivered),
                                  ("read", view.progress.read),
                                  ("failed", view.progress.failed),
                                  ("uncertain", view.progress.uncertain)) if v}

    async def run(self, seconds: float, step: float = 1.0) -> None:
        elapsed = 0.0
        while elapsed < seconds:
            await self.dispatcher.tick()
            self.clock.advance(seconds=step)
            elapsed += step


@pytest.fixture
async def sandbox():
    gateway = SandboxGateway(SandboxConfig(delivery_delay=0, read_delay=0, invalid_share=0))
    yield gateway
    await gateway.close()


async def test_a_campaign_goes_out_on_its_plan_and_completes(db, clock, sandbox) -> None:
    h = Harness(db, clock, sandbox)
    campaign_id = await h.campaign(5)
    await h.dispatcher.tick()
    assert await h.statuses(campaign_id) == {"queued": 5}  # starts 5 s after confirming
    clock.advance(seconds=6)
    await h.dispatcher.tick()
    view = await h.campaigns.view(h.owner_id, campaign_id)
    assert view.campaign.status.value == "running" and view.progress.done == 1
    await h.run(120)
    view = await h.campaigns.view(h.owner_id, campaign_id)
    assert view.campaign.status.value == "completed"
    assert view.progress.done == 5 and view.progress.unsent == 0
    balance = await ledger.balance(db.reader, h.owner_id)
    assert (balance.total, balance.reserved) == (10_000 - 5, 0)
    kinds = [n.kind for n in h.notifier.notices if isinstance(n, CampaignUpdate)]
    assert kinds[0] == "started" and "finished" in kinds
    assert set(kinds[kinds.index("finished") + 1:]) <= {"progress"}  # late receipts


async def test_no_two_sends_of_a_sender_closer_than_the_minimum_delay(db, clock) -> None:
    gateway = RecordingGateway(clock)
    try:
        h = Harness(db, clock, gateway)
        await h.campaign(6, preset="fast")  # 3-8 s between messages
        await h.run(300, step=0.5)
    finally:
        await gateway.close()
    gaps = [(b - a).total_seconds() for a, b in pairwise(gateway.times)]
    assert len(gateway.sends) == 6 and min(gaps) >= 3


async def test_two_campaigns_sharing_a_number_keep_its_pace(db, clock) -> None:
    gateway = RecordingGateway(clock)
    try:
        h = Harness(db, clock, gateway)
        await h.campaign(5, preset="fast")
        async with db.transaction() as tx:  # the second list: other numbers
            await tx.execute("UPDATE contacts SET phone = '+99455' || substr(phone, 7)")
        await h.campaign(5, preset="fast", again=True)
        await h.run(300, step=0.25)
    finally:
        await gateway.close()
    gaps = [(b - a).total_seconds() for a, b in pairwise(gateway.times)]
    assert len(gateway.sends) == 10 and min(gaps) >= 3  # both plans start at once: never closer


async def test_outcomes_land_in_the_right_state(db, clock) -> None:
    script = {1: GatewayError(ErrorCategory.RECIPIENT_INVALID, "not on WhatsApp"),
              2: GatewayError(ErrorCategory.RATE_LIMITED, "slow down", retry_after=60),
              3: GatewayError(ErrorCategory.UNCERTAIN, "read timeout")}
    gateway = RecordingGateway(clock, fail=script)
    try:
        h = Harness(db, clock, gateway)
        campaign_id = await h.campaign(4)
        await h.run(200)
        states = await h.statuses(campaign_id)
    finally:
        await gateway.close()
    # invalid -> failed; rate limited -> retried and sent; uncertain -> left for the owner
    assert states.get("failed") == 1 and states.get("uncertain") == 1
    assert states.get("sent", 0) + states.get("delivered", 0) + states.get("read", 0) == 2
    assert len(gateway.sends) == 5  # the rate-limited one twice, the uncertain one never again
    balance = await ledger.balance(db.reader, h.owner_id)
    assert balance.total == 10_000 - 2  # charged = sent
    assert balance.reserved == 1  # the uncertain one holds its credit


async def test_a_receipt_resolves_an_uncertain_message_and_is_forward_only(db, clock) -> None:
    gateway = RecordingGateway(
        clock, SandboxConfig(delivery_delay=3600, read_delay=0, invalid_share=0),
        lose_answers=GatewayError(ErrorCategory.UNCERTAIN, "read timeout"))
    accepted = gateway.accepted
    try:
        h = Harness(db, clock, gateway)
        campaign_id = await h.campaign(1)
        await h.run(20)
        assert await h.statuses(campaign_id) == {"uncertain": 1}
        # the gateway had it: its receipt arrives later, matched by the id it gave
        from bot.gateways.base import Receipt

        async with db.transaction() as tx:
            await tx.execute("UPDATE messages SET gateway_message_id = ?",
                             (accepted[0].message_id,))
        async with db.reader.execute("SELECT sender_id FROM messages") as cur:
            [(sender_id,)] = await cur.fetchall()
        read = Receipt(accepted[0].message_id, ReceiptStatus.READ, clock(), sender_id=sender_id)
        delivered = Receipt(accepted[0].message_id, ReceiptStatus.DELIVERED, clock(),
                            sender_id=sender_id)
        assert await h.dispatcher.receipts.apply_one(read)
        assert not await h.dispatcher.receipts.apply_one(delivered)  # late: ignored
        assert not await h.dispatcher.receipts.apply_one(read)  # duplicate: ignored
        assert await h.statuses(campaign_id) == {"read": 1}
        balance = await ledger.balance(db.reader, h.owner_id)
        assert (balance.total, balance.reserved) == (10_000 - 1, 0)
    finally:
        await gateway.close()


async def test_a_crash_mid_send_leaves_uncertain_never_resent(db, clock, sandbox) -> None:
    h = Harness(db, clock, sandbox)
    campaign_id = await h.campaign(3)
    clock.advance(seconds=6)
    await h.dispatcher.tick()
    # a claim left behind by a process that died after the claim was committed
    async with db.transaction() as tx:
        await tx.execute("UPDATE messages SET status = 'sending' WHERE status = 'queued'"
                         " AND id = (SELECT MIN(id) FROM messages WHERE status = 'queued')")
    restarted = Dispatcher(db, sandbox, h.templates, h.notifier, DispatcherConfig(), clock)
    assert await restarted.recover() == 1
    h.dispatcher = restarted
    await h.run(200)
    states = await h.statuses(campaign_id)
    assert states.get("uncertain") == 1
    assert sum(states.values()) == 3


async def test_a_ban_pauses_the_campaign_and_alerts_the_owner(db, clock) -> None:
    gateway = SandboxGateway(SandboxConfig(delivery_delay=0, read_delay=0, invalid_share=0,
                                           ban_after=2))
    try:
        h = Harness(db, clock, gateway)
        campaign_id = await h.campaign(5)
        await h.run(200)
        view = await h.campaigns.view(h.owner_id, campaign_id)
        assert view.campaign.status.value == "paused"
        assert view.progress.done == 2 and view.progress.queued == 3
        lost = [n for n in h.notifier.notices if isinstance(n, SenderLost)]
        assert len(lost) == 1 and lost[0].state == "banned"
        assert lost[0].campaign_ids == (campaign_id,)
        balance = await ledger.balance(db.reader, h.owner_id)
        assert balance.reserved == 3  # the unsent keep their reservation until cancelled
    finally:
        await gateway.close()


async def test_a_failure_spike_pauses_the_campaign(db, clock) -> None:
    gateway = SandboxGateway(SandboxConfig(delivery_delay=0, read_delay=0, invalid_share=1.0))
    try:
        h = Harness(db, clock, gateway, spike_window=5, spike_share=0.5)
        campaign_id = await h.campaign(20)
        await h.run(300)
        view = await h.campaigns.view(h.owner_id, campaign_id)
        assert view.campaign.status.value == "paused"
        assert view.campaign.status_reason == "failure_spike"
        assert view.progress.failed == 5 and view.progress.queued == 15
    finally:
        await gateway.close()


async def test_the_daily_cap_of_a_new_sender_warms_up(db, clock, sandbox) -> None:
    h = Harness(db, clock, sandbox, warmup=(3, 6))
    campaign_id = await h.campaign(10)
    await h.run(600)
    assert (await h.campaigns.view(h.owner_id, campaign_id)).progress.done == 3
    clock.advance(days=1)
    await h.run(600)
    assert (await h.campaigns.view(h.owner_id, campaign_id)).progress.done == 9


async def test_messages_claimed_ahead_count_against_the_daily_cap(db, clock, sandbox) -> None:
    # a new number may send 3 today; 2 went out and 1 is claimed, on its way (a tick
    # claims messages a little ahead of their time): nothing more may go out today
    h = Harness(db, clock, sandbox, warmup=(3, 6))
    campaign_id = await h.campaign(10)
    while (await h.campaigns.view(h.owner_id, campaign_id)).progress.done < 2:
        await h.run(1)
    async with db.transaction() as tx:
        await tx.execute("UPDATE messages SET status = 'sending', lease_until = ? WHERE id ="
                         " (SELECT MIN(id) FROM messages WHERE status = 'queued')",
                         (clock().timestamp() + 300,))
    await h.run(600)
    statuses = await h.statuses(campaign_id)
    assert statuses.get("sending") == 1
    assert statuses.get("sent", 0) + statuses.get("delivered", 0) + statuses.get("read", 0) == 2


async def test_messages_are_rendered_per_contact(db, clock) -> None:
    gateway = RecordingGateway(clock)
    try:
        h = Harness(db, clock, gateway)
        await h.campaign(3, text="{Salam|Hello} {{name}}")
        await h.run(120)
    finally:
        await gateway.close()
    texts = gateway.texts
    assert sorted(t.split()[1] + " " + t.split()[2] for t in texts) == [
        "Name 0", "Name 1", "Name 2"]
    assert all(t.split()[0] in ("Salam", "Hello") for t in texts)


async def test_quiet_hours_hold_messages_and_the_owner_gets_the_new_end(db) -> None:
    # 20:59 in Baku (UTC+4): the "safe" preset is quiet from 21:00 to 09:00
    clock = FakeClock(datetime(2026, 11, 25, 16, 59, tzinfo=UTC))
    gateway = RecordingGateway(clock)
    try:
        h = Harness(db, clock, gateway)
        campaign_id = await h.campaign(4, preset="safe")
        # the plan itself skips quiet hours: first message now, the rest from 09:00
        await h.run(120)
        async with db.transaction() as tx:  # a retry pushed one into the quiet hours
            await tx.execute("UPDATE messages SET planned_at = ? WHERE status = 'queued'"
                             " AND id = (SELECT MIN(id) FROM messages WHERE status = 'queued')",
                             (clock().timestamp(),))
        await h.run(30)
        local = [t.astimezone(ZoneInfo("Asia/Baku")).time() for t in gateway.times]
        assert all(not (t >= time(21) or t < time(9)) for t in local), local
        replanned = [n for n in h.notifier.notices
                     if isinstance(n, CampaignUpdate) and n.kind == "replanned"]
        assert replanned and replanned[0].campaign_id == campaign_id
        assert replanned[0].finish is not None
        assert replanned[0].finish.astimezone(ZoneInfo("Asia/Baku")).time() >= time(9)
        clock.advance(hours=13)
        await h.run(600, step=5)
        assert (await h.campaigns.view(h.owner_id, campaign_id)).progress.done == 4
    finally:
        await gateway.close()
