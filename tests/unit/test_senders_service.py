"""The numbers service with a real database, a fake clock and hand-written fakes of what
linking needs of WAHA and of Meta's Cloud API."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from bot.domain import CampaignStatus, Language, LedgerKind, Sender, SenderStatus
from bot.errors import GatewayFailed, NotFound, ValidationError
from bot.gateways.base import ErrorCategory, GatewayError, SenderHealth, SenderRef, SenderState
from bot.services import senders as senders_module
from bot.services.campaigns import CampaignsConfig, CampaignsService
from bot.services.senders import SendersConfig, SendersService
from bot.services.sending import Allowance
from bot.storage import campaigns as campaigns_repo
from bot.storage import contacts, ledger, lists, owners, templates
from bot.storage import senders as senders_repo
from bot.storage.db import Database
from tests.fakes import FakeClock

PHONE = "+994501110000"
OTHER_PHONE = "+994552220000"
CLOUD_ID = "123456789012345"
TOKEN = "EAAG" + "x" * 40


@dataclass(frozen=True, slots=True)
class LinkStatus:
    state: SenderState
    phone: str | None = None
    detail: str = ""


class FakeWaha:
    """Sessions in memory; ``scan`` is the phone scanning the QR code."""

    kind = "waha"

    def __init__(self) -> None:
        self.sessions: dict[str, tuple[str | None, str | None]] = {}
        self.states: dict[str, LinkStatus] = {}
        self.deleted: list[str] = []
        self.codes: list[tuple[str, str]] = []
        self.fail_start: GatewayError | None = None
        self.fail_delete: GatewayError | None = None

    async def start_session(self, session: str, *, webhook_url: str | None = None,
                            webhook_key: str | None = None) -> None:
        if self.fail_start is not None:
            raise self.fail_start
        self.sessions[session] = (webhook_url, webhook_key)

    async def link_status(self, session: str) -> LinkStatus:
        return self.states.get(session, LinkStatus(SenderState.LINKING, None, "SCAN_QR_CODE"))

    async def qr_code(self, session: str) -> bytes:
        return b"\x89PNG " + session.encode()

    async def request_code(self, session: str, phone: str) -> str:
        self.codes.append((session, phone))
        return "ABCD-1234"

    async def delete_session(self, session: str) -> None:
        self.deleted.append(session)
        if self.fail_delete is not None:
            raise self.fail_delete

    def scan(self, session: str, phone: str) -> None:
        self.states[session] = LinkStatus(SenderState.WORKING, phone)


@dataclass
class FakeCloud:
    kind = "cloud"
    health: SenderHealth = field(default_factory=lambda: SenderHealth(SenderState.WORKING))
    phone: str | None = "+994709998877"
    error: GatewayError | None = None
    asked: list[SenderRef] = field(default_factory=list)

    async def sender_status(self, sender: SenderRef) -> SenderHealth:
        self.asked.append(sender)
        if self.error is not None:
            raise self.error
        return self.health

    async def phone_number(self, sender: SenderRef) -> str | None:
        return self.phone


async def new_owner(db: Database, clock: FakeClock, telegram_id: int) -> int:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
    return owner.id


async def confirmed_campaign(db: Database, clock: FakeClock, owner_id: int, recipients: int,
                             tag: str = "a") -> int:
    """A confirmed campaign (scheduled, messages queued) on the owner's active numbers."""
    now = clock()
    async with db.transaction() as tx:
        people = await lists.create(tx, owner_id, f"list {tag}", now)
        rows = [(f"+99450{n:07d}", f"Name {n}", "{}") for n in range(recipients)]
        await contacts.upsert(tx, owner_id, rows, now)
        await contacts.add_to_list(tx, owner_id, people.id, [r[0] for r in rows], now)
        template = await templates.add(tx, owner_id, f"t {tag}", ["Salam {{name}}"], None,
                                       None, now)
        await ledger.add(tx, owner_id, LedgerKind.CREDIT, 1000, now)
    service = CampaignsService(db, CampaignsConfig(advice_max=10_000), clock)
    await service.begin(owner_id)
    await service.choose_list(owner_id, people.id)
    await service.choose_template(owner_id, template.id)
    await service.senders_chosen(owner_id)
    await service.start_now(owner_id)
    await service.use_preset(owner_id, "fast")
    return (await service.confirm(owner_id)).campaign.id


async def campaign_status(db: Database, owner_id: int, campaign_id: int):
    campaign = await campaigns_repo.get(db.reader, owner_id, campaign_id)
    assert campaign is not None
    return campaign.status, campaign.status_reason


async def set_campaign(db: Database, clock: FakeClock, owner_id: int, campaign_id: int,
                       *, start: bool = False, pause: str | None = None,
                       owner_pause: bool = False) -> None:
    async with db.transaction() as tx:
        campaign = await campaigns_repo.get(tx, owner_id, campaign_id)
        assert campaign is not None
        if start:
            campaign.start(clock())
        if pause is not None or owner_pause:
            campaign.pause(pause)
        await campaigns_repo.save(tx, campaign, clock())


async def queue(db: Database, campaign_id: int) -> dict[int, int]:
    """Queued messages of a campaign by the sender they go from."""
    async with db.reader.execute(
        "SELECT sender_id, COUNT(*) FROM messages WHERE campaign_id = ? AND status = 'queued'"
        " GROUP BY sender_id", (campaign_id,),
    ) as cur:
        return {row[0]: row[1] async for row in cur}


async def using(db: Database, sender_id: int) -> list[int]:
    return [c for _, c in await campaigns_repo.using_sender(db.reader, sender_id,
                                                            include_paused=True)]


def waha_service(db: Database, clock: FakeClock, waha: FakeWaha, **config) -> SendersService:
    return SendersService(db, SendersConfig(default_gateway="waha", webhook_url="https://q/w",
                                            webhook_key="k", **config), clock, waha=waha)


async def linked_waha(service: SendersService, waha: FakeWaha, owner_id: int, phone: str,
                      replaces: int | None = None) -> Sender:
    sender = await service.start_waha(owner_id, replaces=replaces)
    waha.scan(sender.external_id or "", phone)
    linked, state = await service.waha_poll(owner_id, sender.id)
    assert state is SenderState.WORKING
    return linked


# --- allowance (its rule: test_sending_policy.py) and kinds --------------------------------

async def test_overview_counts_todays_sends_against_the_warm_up(db, clock) -> None:
    owner = await new_owner(db, clock, 1)
    service = SendersService(db, "sandbox", clock)
    number = await service.add_sandbox(owner)
    campaign = await confirmed_campaign(db, clock, owner, 3)
    async with db.transaction() as tx:  # one of them went out an hour ago
        await tx.execute("UPDATE messages SET status = 'sent', sent_at = ? WHERE id ="
                         " (SELECT MIN(id) FROM messages WHERE campaign_id = ?)",
                         (clock().timestamp() - 3600, campaign))
    [view] = await service.overview(owner)
    assert view.sender.id == number.id
    assert (view.sent_today, view.queued, view.allowance) == (1, 2, Allowance(20, 1))
    clock.advance(days=1)
    [view] = await service.overview(owner)
    assert (view.sent_today, view.allowance) == (0, Allowance(20, 2))  # 20 a day for 3 days
    clock.advance(days=2)
    [view] = await service.overview(owner)
    assert (view.sent_today, view.allowance) == (0, Allowance(40, 4))


async def test_overview_shows_a_number_whose_gateway_does_not_answer(
        db, clock, monkeypatch) -> None:
    monkeypatch.setattr(senders_module, "HEALTH_TIMEOUT", 0.05)

    class Gateway:
        def __init__(self) -> None:
            self.asked: list[int] = []

        async def sender_status(self, sender: SenderRef) -> SenderHealth:
            self.asked.append(sender.sender_id)
            if sender.sender_id == hanging.id:
                await asyncio.sleep(10)
            if sender.sender_id == failing.id:
                raise GatewayError(ErrorCategory.TRANSIENT, "connection refused")
            return SenderHealth(SenderState.RESTRICTED, "slow down")

    owner = await new_owner(db, clock, 1)
    service = SendersService(db, "sandbox", clock)
    answering = await service.add_sandbox(owner)
    hanging = await service.add_sandbox(owner)
    failing = await service.add_sandbox(owner)
    gateway = Gateway()
    live = SendersService(db, "sandbox", clock, gateway=gateway)  # type: ignore[arg-type]
    views = {v.sender.id: v for v in await live.overview(owner)}
    assert set(views) == {answering.id, hanging.id, failing.id}  # none hidden
    assert views[answering.id].health == SenderHealth(SenderState.RESTRICTED, "slow down")
    assert views[hanging.id].health is None and views[failing.id].health is None


def test_kinds_follow_what_the_server_has(db) -> None:
    assert SendersService(db, "sandbox").kinds == ("sandbox",)
    assert SendersService(db, "waha").kinds == ()
    assert SendersService(db, "waha", waha=FakeWaha()).kinds == ("waha",)
    assert SendersService(db, "cloud", cloud=FakeCloud()).kinds == ("cloud",)
    assert SendersService(db, "sandbox", waha=FakeWaha(), cloud=FakeCloud()).kinds == (
        "waha", "cloud", "sandbox")


async def test_no_sandbox_number_on_a_real_gateway(db, clock) -> None:
    owner = await new_owner(db, clock, 1)
    with pytest.raises(ValidationError) as refused:
        await SendersService(db, "waha", clock, waha=FakeWaha()).add_sandbox(owner)
    assert refused.value.reason == "link_in_numbers"
    with pytest.raises(ValidationError) as refused:
        await SendersService(db, "sandbox", clock).start_waha(owner)
    assert refused.value.reason == "waha_not_configured"
    assert await SendersService(db, "sandbox", clock).list(owner) == []


# --- linking through WAHA -------------------------------------------------------------------

async def test_a_waha_that_cannot_start_the_session_leaves_no_number(db, clock) -> None:
    owner = await new_owner(db, clock, 1)
    waha = FakeWaha()
    waha.fail_start = GatewayError(ErrorCategory.TRANSIENT, "connection refused")
    service = waha_service(db, clock, waha)
    with pytest.raises(GatewayFailed) as failed:
        await service.start_waha(owner)
    assert failed.value.reason == "transient"  # a domain error the handler renders
    assert await service.list(owner) == []
    assert [v for v in await service.overview(owner)] == []
    campaigns = CampaignsService(db, CampaignsConfig(gateway="waha"), clock)
    assert await campaigns.usable_senders(owner) == []
    # the next try works and is not blocked by the first
    waha.fail_start = None
    sender = await service.start_waha(owner)
    assert [s.id for s in await service.list(owner)] == [sender.id]


async def test_a_scanned_session_becomes_an_active_number_with_its_phone(db, clock) -> None:
    owner = await new_owner(db, clock, 1)
    waha = FakeWaha()
    service = waha_service(db, clock, waha)
    sender = await service.start_waha(owner)
    assert sender.status is SenderStatus.LINKING and sender.linked_at is None
    assert sender.external_id == f"qasid-{owner}-{sender.id}"
    assert waha.sessions[sender.external_id] == ("https://q/w", "k")
    assert (await service.waha_qr(owner, sender.id)).startswith(b"\x89PNG")
    assert await service.linked_sessions() == []

    clock.advance(seconds=30)
    polled, state = await service.waha_poll(owner, sender.id)
    assert state is SenderState.LINKING
    assert polled.status is SenderStatus.LINKING and polled.linked_at is None

    waha.scan(sender.external_id, PHONE)
    clock.advance(seconds=5)
    polled, state = await service.waha_poll(owner, sender.id)
    assert state is SenderState.WORKING
    assert (polled.phone, polled.status, polled.linked_at) == (PHONE, SenderStatus.ACTIVE,
                                                               clock())
    assert polled.external_id == sender.external_id
    assert await service.linked_sessions() == [sender.external_id]
    [view] = await service.overview(owner)
    assert view.allowance == Allowance(20, 1)  # the warm-up starts at the scan
    with pytest.raises(ValidationError) as refused:  # no QR code for a linked number
        await service.waha_qr(owner, sender.id)
    assert refused.value.reason == "not_linking"


async def test_a_new_number_takes_over_the_lost_ones_queue_and_campaigns(db, clock) -> None:
    owner = await new_owner(db, clock, 1)
    waha = FakeWaha()
    service = waha_service(db, clock, waha)
    lost = await linked_waha(service, waha, owner, PHONE)
    banned = await confirmed_campaign(db, clock, owner, 3, "banned")
    held = await confirmed_campaign(db, clock, owner, 2, "held")
    await set_campaign(db, clock, owner, banned, pause="sender_banned")
    await set_campaign(db, clock, owner, held, owner_pause=True)  # paused by the owner
    async with db.transaction() as tx:
        await senders_repo.set_status(tx, lost.id, SenderStatus.BANNED, clock())

    new = await service.start_waha(owner, replaces=lost.id)
    polled, state = await service.waha_poll(owner, new.id)
    assert state is SenderState.LINKING and polled.status is SenderStatus.LINKING
    # not linked yet: nothing moved
    assert await queue(db, banned) == {lost.id: 3}
    assert (await service.get(owner, lost.id)).status is SenderStatus.BANNED

    waha.scan(new.external_id or "", OTHER_PHONE)
    linked, state = await service.waha_poll(owner, new.id)
    assert state is SenderState.WORKING and linked.phone == OTHER_PHONE
    assert await queue(db, banned) == {new.id: 3}
    assert await queue(db, held) == {new.id: 2}
    assert await campaign_status(db, owner, banned) == (CampaignStatus.SCHEDULED, None)
    assert await campaign_status(db, owner, held) == (CampaignStatus.PAUSED, None)
    assert sorted(await using(db, new.id)) == sorted([banned, held])
    assert await using(db, lost.id) == []
    assert [s.id for s in await service.list(owner)] == [new.id]
    with pytest.raises(NotFound):
        await service.get(owner, lost.id)


async def test_linking_the_same_phone_again_takes_over_its_work(db, clock) -> None:
    owner = await new_owner(db, clock, 1)
    waha = FakeWaha()
    service = waha_service(db, clock, waha)
    lost = await linked_waha(service, waha, owner, PHONE)
    campaign = await confirmed_campaign(db, clock, owner, 3)
    await set_campaign(db, clock, owner, campaign, start=True, pause="sender_banned")
    async with db.transaction() as tx:
        await senders_repo.set_status(tx, lost.id, SenderStatus.BANNED, clock())

    other = await linked_waha(service, waha, owner, OTHER_PHONE)  # another phone: no
    assert await queue(db, campaign) == {lost.id: 3}
    again = await linked_waha(service, waha, owner, PHONE)  # the same phone: yes
    assert await queue(db, campaign) == {again.id: 3}
    assert await campaign_status(db, owner, campaign) == (CampaignStatus.RUNNING, None)
    assert [s.id for s in await service.list(owner)] == [other.id, again.id]
    assert again.phone == PHONE and again.status is SenderStatus.ACTIVE


async def test_a_pairing_code_for_a_local_number_uses_the_owners_region(db, clock) -> None:
    owner = await new_owner(db, clock, 1)
    waha = FakeWaha()
    service = waha_service(db, clock, waha)
    sender = await service.start_waha(owner)
    session = sender.external_id
    assert await service.waha_pairing_code(owner, sender.id, "050 111 00 00") == "ABCD-1234"
    assert await service.waha_pairing_code(owner, sender.id, "0532 123 45 67", "TR")
    assert await service.waha_pairing_code(owner, sender.id, "+994 55 222 00 00", "TR")
    assert waha.codes == [(session, "+994501110000"), (session, "+905321234567"),
                          (session, "+994552220000")]
    for garbage in ("hello", "123", ""):
        with pytest.raises(ValidationError) as refused:
            await service.waha_pairing_code(owner, sender.id, garbage, "AZ")
        assert refused.value.reason == "not_a_phone_number"
    assert len(waha.codes) == 3  # WAHA was not asked for garbage


# --- Cloud API numbers ----------------------------------------------------------------------

def cloud_service(db: Database, clock: FakeClock, cloud: FakeCloud,
                  tokens: dict[int, str]) -> SendersService:
    return SendersService(db, "cloud", clock, cloud=cloud, tokens=tokens)


async def nothing_kept(db: Database, service: SendersService, owner: int,
                       tokens: dict[int, str]) -> None:
    assert await service.list(owner) == []
    assert tokens == {}
    assert await senders_repo.secrets(db.reader, "cloud") == {}
    assert await service.load_tokens() == 0 and tokens == {}


@pytest.mark.parametrize(("phone_number_id", "token", "reason"), [
    ("12ab56789", TOKEN, "cloud_bad_id"),
    ("123", TOKEN, "cloud_bad_id"),
    (CLOUD_ID, "short", "cloud_bad_token"),
    (CLOUD_ID, "EAAG token with spaces and more than twenty", "cloud_bad_token"),
])
async def test_a_malformed_id_or_token_is_refused_before_asking_meta(
        db, clock, phone_number_id, token, reason) -> None:
    owner = await new_owner(db, clock, 1)
    cloud, tokens = FakeCloud(), {}
    service = cloud_service(db, clock, cloud, tokens)
    with pytest.raises(ValidationError) as refused:
        await service.add_cloud(owner, phone_number_id, token)
    assert refused.value.reason == reason
    assert cloud.asked == []
    await nothing_kept(db, service, owner, tokens)


@pytest.mark.parametrize(("error", "reason"), [
    (GatewayError(ErrorCategory.REJECTED, "auth: Invalid OAuth access token"), "cloud_auth"),
    (GatewayError(ErrorCategory.TRANSIENT, "connection refused"), "cloud_unreachable"),
])
async def test_meta_refusing_the_token_keeps_nothing(db, clock, error, reason) -> None:
    owner = await new_owner(db, clock, 1)
    cloud, tokens = FakeCloud(error=error), {}
    service = cloud_service(db, clock, cloud, tokens)
    with pytest.raises(ValidationError) as refused:
        await service.add_cloud(owner, CLOUD_ID, TOKEN)
    assert refused.value.reason == reason
    assert cloud.asked[0].external_id == CLOUD_ID
    await nothing_kept(db, service, owner, tokens)
    cloud.error = None  # the right token, or Meta back: the same id is added now
    sender = await service.add_cloud(owner, CLOUD_ID, TOKEN)
    assert [s.id for s in await service.list(owner)] == [sender.id]
    assert tokens == {sender.id: TOKEN}


async def test_a_banned_cloud_number_is_refused_and_nothing_kept(db, clock) -> None:
    owner = await new_owner(db, clock, 1)
    cloud, tokens = FakeCloud(health=SenderHealth(SenderState.BANNED, "DISABLED")), {}
    service = cloud_service(db, clock, cloud, tokens)
    with pytest.raises(ValidationError) as refused:
        await service.add_cloud(owner, CLOUD_ID, TOKEN)
    assert refused.value.reason == "cloud_banned"
    await nothing_kept(db, service, owner, tokens)


async def test_a_cloud_number_is_added_with_metas_phone_and_its_token_kept(db, clock) -> None:
    owner = await new_owner(db, clock, 1)
    cloud, tokens = FakeCloud(), {}
    service = cloud_service(db, clock, cloud, tokens)
    sender = await service.add_cloud(owner, f" {CLOUD_ID} ", f"{TOKEN}\n")
    assert (sender.gateway, sender.phone, sender.external_id, sender.status) == (
        "cloud", "+994709998877", CLOUD_ID, SenderStatus.ACTIVE)
    assert sender.linked_at == clock()
    assert tokens == {sender.id: TOKEN}
    assert await senders_repo.secrets(db.reader, "cloud") == {sender.id: TOKEN}
    assert TOKEN not in repr(sender) and TOKEN not in repr(await service.list(owner))

    restarted: dict[int, str] = {}  # after a restart, the adapter gets it back
    assert await cloud_service(db, clock, cloud, restarted).load_tokens() == 1
    assert restarted == {sender.id: TOKEN}

    with pytest.raises(ValidationError) as refused:
        await service.add_cloud(owner, CLOUD_ID, "EAAG" + "y" * 40)
    assert refused.value.reason == "cloud_already_added"
    assert [s.id for s in await service.list(owner)] == [sender.id]
    assert tokens == {sender.id: TOKEN}


async def test_a_restricted_cloud_number_is_added_as_restricted(db, clock) -> None:
    owner = await new_owner(db, clock, 1)
    until = clock() + timedelta(hours=6)
    cloud = FakeCloud(health=SenderHealth(SenderState.RESTRICTED, "FLAGGED", until))
    sender = await cloud_service(db, clock, cloud, {}).add_cloud(owner, CLOUD_ID, TOKEN)
    assert (sender.status, sender.restricted_until) == (SenderStatus.RESTRICTED, until)


# --- removing -------------------------------------------------------------------------------

async def test_removing_and_pausing_keeps_the_queue_and_pauses_its_campaign(db, clock) -> None:
    owner = await new_owner(db, clock, 1)
    service = SendersService(db, "sandbox", clock)
    first = await service.add_sandbox(owner)
    campaign = await confirmed_campaign(db, clock, owner, 3)
    await set_campaign(db, clock, owner, campaign, start=True)
    second = await service.add_sandbox(owner)

    removed, target, paused = await service.remove(owner, first.id, move=False)
    assert (removed.id, target, paused) == (first.id, None, [campaign])
    assert await campaign_status(db, owner, campaign) == (CampaignStatus.PAUSED,
                                                           "sender_removed")
    assert await queue(db, campaign) == {first.id: 3}
    assert [s.id for s in await service.list(owner)] == [second.id]


async def test_removing_and_moving_sends_the_queue_from_the_other_number(db, clock) -> None:
    owner = await new_owner(db, clock, 1)
    service = SendersService(db, "sandbox", clock)
    first = await service.add_sandbox(owner)
    running = await confirmed_campaign(db, clock, owner, 3, "running")
    lost = await confirmed_campaign(db, clock, owner, 2, "lost")
    await set_campaign(db, clock, owner, running, start=True)
    await set_campaign(db, clock, owner, lost, pause="sender_banned")
    async with db.transaction() as tx:  # a number that cannot take it
        await senders_repo.add(tx, owner_id=owner, gateway="sandbox", phone="banned",
                               status=SenderStatus.BANNED, now=clock())
    second = await service.add_sandbox(owner)

    removed, target, resumed = await service.remove(owner, first.id, move=True)
    assert (removed.id, target.id if target else None, resumed) == (first.id, second.id, [lost])
    assert await queue(db, running) == {second.id: 3}
    assert await queue(db, lost) == {second.id: 2}
    assert await campaign_status(db, owner, running) == (CampaignStatus.RUNNING, None)
    assert await campaign_status(db, owner, lost) == (CampaignStatus.SCHEDULED, None)
    assert sorted(await using(db, second.id)) == sorted([running, lost])


async def test_moving_without_another_working_number_changes_nothing(db, clock) -> None:
    owner = await new_owner(db, clock, 1)
    service = SendersService(db, "sandbox", clock)
    only = await service.add_sandbox(owner)
    campaign = await confirmed_campaign(db, clock, owner, 2)
    with pytest.raises(ValidationError) as refused:
        await service.remove(owner, only.id, move=True)
    assert refused.value.reason == "no_other_sender"
    assert [s.id for s in await service.list(owner)] == [only.id]
    assert await queue(db, campaign) == {only.id: 2}
    assert await campaign_status(db, owner, campaign) == (CampaignStatus.SCHEDULED, None)


async def test_removing_a_waha_number_deletes_its_session_even_when_waha_fails(
        db, clock) -> None:
    owner = await new_owner(db, clock, 1)
    waha = FakeWaha()
    service = waha_service(db, clock, waha)
    first = await linked_waha(service, waha, owner, PHONE)
    second = await linked_waha(service, waha, owner, OTHER_PHONE)

    await service.remove(owner, first.id)
    assert waha.deleted == [first.external_id]
    waha.fail_delete = GatewayError(ErrorCategory.TRANSIENT, "connection refused")
    await service.remove(owner, second.id)  # WAHA down: the number goes all the same
    assert waha.deleted == [first.external_id, second.external_id]
    assert await service.list(owner) == []
    assert await service.linked_sessions() == []
    with pytest.raises(NotFound):
        await service.get(owner, second.id)


async def test_another_owners_number_is_not_found(db, clock) -> None:
    mine = await new_owner(db, clock, 1)
    theirs = await new_owner(db, clock, 2)
    waha = FakeWaha()
    service = waha_service(db, clock, waha)
    their_number = await service.start_waha(theirs)
    for call in (lambda: service.get(mine, their_number.id),
                 lambda: service.remove(mine, their_number.id),
                 lambda: service.remove(mine, their_number.id, move=True),
                 lambda: service.waha_qr(mine, their_number.id),
                 lambda: service.waha_poll(mine, their_number.id),
                 lambda: service.waha_pairing_code(mine, their_number.id, PHONE),
                 lambda: service.move_campaigns(mine, their_number.id),
                 lambda: service.start_waha(mine, replaces=their_number.id)):
        with pytest.raises(NotFound):
            await call()
    assert await service.list(mine) == []
    assert [s.id for s in await service.list(theirs)] == [their_number.id]
    assert (await service.get(theirs, their_number.id)).status is SenderStatus.LINKING
    assert waha.deleted == [] and waha.codes == []


