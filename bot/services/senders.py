"""The owner's WhatsApp numbers: link, watch, move away from, remove.

Numbers come from three gateways, side by side (``senders.gateway``):

* ``sandbox``: simulated; a new one is simply there (only when ``GATEWAY=sandbox``).
* ``waha``: a WAHA session per number, named ``qasid-<owner>-<sender>``. ``start_waha``
  creates the sender (``linking``) and its session (webhooks to ``PUBLIC_URL``);
  ``waha_qr`` gives the QR code to scan, ``waha_pairing_code`` the code to type instead;
  ``waha_poll`` asks WAHA and, once the session is ``WORKING``, records the number's
  phone and makes the sender ``active``. Re-linking a number the owner already had (a
  banned one, say) takes over the old sender's queued messages and paused campaigns.
* ``cloud``: Meta's Cloud API; ``add_cloud`` takes the phone-number id and its access
  token, asks Meta for the number (a wrong id or token is refused, nothing kept), and
  keeps the token in the sender's ``config`` (never shown, never logged).

``remove`` ends a number: its queued messages move to another working number, or their
campaigns pause, as the owner chooses; a WAHA session is logged out and deleted.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime

from bot.clock import Clock, utcnow
from bot.domain import CampaignStatus, Sender, SenderGuard, SenderStatus, SenderWarning
from bot.errors import GatewayFailed, NotFound, ValidationError
from bot.gateways.base import (
    CloudNumbers,
    ErrorCategory,
    GatewayError,
    Linker,
    SenderHealth,
    SenderRef,
    SenderState,
    WhatsAppGateway,
)
from bot.services.accounts import normalise_phone
from bot.services.gateway_calls import gateway_call
from bot.services.sending import DAILY_CAP, WARMUP, Allowance, SendingPolicy
from bot.storage import campaigns as campaigns_repo
from bot.storage import health as health_repo
from bot.storage import outbox, senders
from bot.storage.db import Connection, Database

log = logging.getLogger(__name__)

DAY = 86_400.0
HEALTH_TIMEOUT = 5.0
_CLOUD_ID = re.compile(r"\d{6,20}")
_TOKEN = re.compile(r"[A-Za-z0-9_\-|.]{20,600}")


@dataclass(frozen=True, slots=True)
class SendersConfig:
    default_gateway: str = "sandbox"
    daily_cap: int = DAILY_CAP  # the sending policy's (bot/services/sending.py)
    warmup: tuple[int, ...] = WARMUP
    webhook_url: str | None = None  # where new WAHA sessions send their webhooks
    webhook_key: str | None = None  # and the HMAC key they sign them with
    default_region: str = "AZ"  # for a phone typed without its country code
    link_poll: float = 3.0  # seconds between looks at a linking WAHA session
    link_timeout: float = 300.0  # a QR code shown this long without a scan expires


@dataclass(frozen=True, slots=True)
class NumberView:
    sender: Sender
    sent_today: int
    allowance: Allowance
    health: SenderHealth | None  # None: the gateway did not answer in time
    queued: int
    guard: SenderGuard | None = None  # the live health guard's standing (bot/storage/health)
    warnings: tuple[SenderWarning, ...] = ()  # its latest warnings, newest first


WARNINGS_KEPT = 3  # a number's latest health-guard warnings in its view
SANDBOX_LABEL = "Sandbox"  # the number the sandbox gives an owner who has none


async def sandbox_default(db: Database, owner_id: int, now: datetime) -> Sender | None:
    """In the sandbox, the number an owner sends from until they add others: "Sandbox",
    made the first time the campaign wizard or /numbers looks (whichever comes first, the
    same number for both). Not made for an owner who has a working number, or had a
    sandbox number (one they removed stays removed). Returns the number it made."""
    def needed(existing: list[Sender]) -> bool:
        return not any(s.status is SenderStatus.ACTIVE or s.gateway == "sandbox"
                       for s in existing)

    if not needed(await senders.list_for_owner(db.reader, owner_id, include_removed=True)):
        return None
    async with db.transaction() as tx:  # again under the writer's lock: made once
        if not needed(await senders.list_for_owner(tx, owner_id, include_removed=True)):
            return None
        return await senders.add(tx, owner_id=owner_id, gateway="sandbox",
                                 phone=f"sandbox-{owner_id}", status=SenderStatus.ACTIVE,
                                 now=now, label=SANDBOX_LABEL)


def sender_ref(sender: Sender) -> SenderRef:
    """What a gateway needs to know of the number: its ids and which gateway serves it."""
    return SenderRef(sender_id=sender.id, phone=sender.phone,
                     external_id=sender.external_id, gateway=sender.gateway)


def session_name(owner_id: int, sender_id: int) -> str:
    return f"qasid-{owner_id}-{sender_id}"


class SendersService:
    def __init__(
        self, db: Database, config: SendersConfig | str = "sandbox",
        clock: Clock = utcnow, *,
        gateway: WhatsAppGateway | None = None, waha: Linker | None = None,
        cloud: CloudNumbers | None = None, tokens: MutableMapping[int, str] | None = None,
    ) -> None:
        self._db = db
        self._config = (config if isinstance(config, SendersConfig)
                        else SendersConfig(default_gateway=config))
        self._sending = SendingPolicy(self._config.daily_cap, self._config.warmup)
        self._clock = clock
        self._gateway = gateway
        self._waha = waha
        self._cloud = cloud
        self._tokens = tokens if tokens is not None else {}

    @property
    def config(self) -> SendersConfig:
        return self._config

    # --- what can be linked ---------------------------------------------------------------

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of number an owner can add here, in the order offered."""
        kinds = []
        if self._waha is not None:
            kinds.append(self._waha.kind)
        if self._cloud is not None:
            kinds.append(self._cloud.kind)
        if self._config.default_gateway == "sandbox":
            kinds.append("sandbox")
        return tuple(kinds)

    # --- reading --------------------------------------------------------------------------

    async def list(self, owner_id: int) -> list[Sender]:
        return await senders.list_for_owner(self._db.reader, owner_id)

    async def provide_default(self, owner_id: int) -> None:
        """In the sandbox, the default number the campaign wizard would send from, made now
        if the owner has none yet (``sandbox_default``), so /numbers shows it."""
        if self._config.default_gateway == "sandbox":
            await sandbox_default(self._db, owner_id, self._clock())

    async def get(self, owner_id: int, sender_id: int) -> Sender:
        sender = await senders.get(self._db.reader, owner_id, sender_id)
        if sender is None or sender.status is SenderStatus.REMOVED:
            raise NotFound("sender", sender_id=sender_id)
        return sender

    async def overview(self, owner_id: int, *, live: bool = True) -> builtins.list[NumberView]:
        """Each number with today's sends against its cap, its queue and, when ``live``,
        its health as the gateway reports it now (all asked at once, 5 s at most)."""
        found = await self.list(owner_id)
        now = self._clock().timestamp()
        healths: list[SenderHealth | None] = [None] * len(found)
        if live and self._gateway is not None:
            asked = [i for i, s in enumerate(found) if s.status is not SenderStatus.LINKING]
            results = await asyncio.gather(
                *(self._health(found[i]) for i in asked), return_exceptions=True)
            for i, result in zip(asked, results, strict=True):
                healths[i] = result if isinstance(result, SenderHealth) else None
        ids = [s.id for s in found]  # the health guard's standing and warnings: 2 queries
        guards = await health_repo.guards(self._db.reader, ids)
        warned = await health_repo.last_warnings(self._db.reader, ids, WARNINGS_KEPT)
        views = []
        for sender, health in zip(found, healths, strict=True):
            sent = await outbox.sent_since(self._db.reader, sender.id, now - DAY)
            queued = await outbox.queued_for_sender(self._db.reader, sender.id)
            views.append(NumberView(
                sender, sent, self._sending.allowance(sender, now), health, queued,
                guards.get(sender.id), tuple(warned.get(sender.id, ()))))
        return views

    async def _health(self, sender: Sender) -> SenderHealth:
        assert self._gateway is not None
        ref = self.ref(sender)
        return await asyncio.wait_for(self._gateway.sender_status(ref), HEALTH_TIMEOUT)

    @staticmethod
    def ref(sender: Sender) -> SenderRef:
        return sender_ref(sender)

    # --- sandbox --------------------------------------------------------------------------

    async def add_sandbox(self, owner_id: int) -> Sender:
        """A new simulated number (sandbox only)."""
        if "sandbox" not in self.kinds:
            raise ValidationError("link_in_numbers", where="sender")
        async with self._db.transaction() as tx:
            existing = await senders.list_for_owner(tx, owner_id, include_removed=True)
            n = len(existing) + 1
            return await senders.add(tx, owner_id=owner_id, gateway="sandbox",
                                     phone=f"sandbox-{owner_id}-{n}", status=SenderStatus.ACTIVE,
                                     now=self._clock(), label=f"Sandbox {n}")

    # --- WAHA -----------------------------------------------------------------------------

    async def start_waha(self, owner_id: int, *, replaces: int | None = None) -> Sender:
        """A new number waiting to be linked, and its WAHA session started (it shows a QR
        code next). A WAHA that cannot be reached leaves nothing behind (``GatewayFailed``).
        With ``replaces`` (a lost number), the new one takes over its queue and campaigns
        once linked."""
        waha = self._need_waha()
        now = self._clock()
        if replaces is not None:
            await self.get(owner_id, replaces)  # the owner's own, or NotFound
        async with self._db.transaction() as tx:
            sender = await senders.add(tx, owner_id=owner_id, gateway=waha.kind,
                                       phone=f"linking-{now.timestamp():.6f}",
                                       status=SenderStatus.LINKING, now=now)
            session = session_name(owner_id, sender.id)
            await senders.link(tx, sender.id, phone=session, external_id=session, now=now,
                               status=SenderStatus.LINKING)
            if replaces is not None:
                await senders.set_replaces(tx, sender.id, replaces)
        try:
            await waha.start_session(session, webhook_url=self._config.webhook_url,
                                     webhook_key=self._config.webhook_key)
        except GatewayError as exc:
            async with self._db.transaction() as tx:
                await senders.set_status(tx, sender.id, SenderStatus.REMOVED, self._clock(),
                                         detail="WAHA could not start the session")
            raise GatewayFailed(exc.category.value, exc.detail) from exc
        return await self.get(owner_id, sender.id)

    async def waha_qr(self, owner_id: int, sender_id: int) -> bytes:
        """The QR code to scan now; ``GatewayFailed`` when WAHA has none (scanned already,
        between states) or does not answer."""
        sender = await self._linking(owner_id, sender_id)
        with gateway_call():
            return await self._need_waha().qr_code(sender.external_id or "")

    async def waha_pairing_code(self, owner_id: int, sender_id: int, phone: str,
                                region: str | None = None) -> str:
        """The code to type on the phone (WhatsApp > Linked devices > Link with phone
        number instead). ``phone`` is the number being linked, as typed."""
        sender = await self._linking(owner_id, sender_id)
        e164 = normalise_phone(phone, region or self._config.default_region)
        with gateway_call():
            return await self._need_waha().request_code(sender.external_id or "", e164)

    async def waha_poll(self, owner_id: int, sender_id: int) -> tuple[Sender, SenderState]:
        """Ask WAHA how the linking goes. Once ``WORKING`` the sender is ``active`` with its
        phone; a number the owner already had hands over its queue to it."""
        sender = await self.get(owner_id, sender_id)
        if sender.status is not SenderStatus.LINKING:
            return sender, SenderState.WORKING if sender.status is SenderStatus.ACTIVE \
                else SenderState.BANNED
        with gateway_call():
            status = await self._need_waha().link_status(sender.external_id or "")
        if status.state is not SenderState.WORKING:
            return sender, status.state
        return await self._linked(sender, status.phone), SenderState.WORKING

    async def _linked(self, sender: Sender, phone: str | None) -> Sender:
        now = self._clock()
        async with self._db.transaction() as tx:
            replaces = await senders.replaces(tx, sender.id)
            for old in await senders.list_for_owner(tx, sender.owner_id):
                if old.id != sender.id and (old.id == replaces or (
                        phone and old.gateway == sender.gateway and old.phone == phone)):
                    await self._hand_over(tx, old, sender, now)
            await senders.link(tx, sender.id, phone=phone or sender.phone,
                               external_id=sender.external_id, now=now,
                               status=SenderStatus.ACTIVE)
        return await self.get(sender.owner_id, sender.id)

    async def _hand_over(self, tx, old: Sender, new: Sender, now: datetime) -> None:
        """The same number linked again: the old sender's work goes to the new one."""
        await senders.set_status(tx, old.id, SenderStatus.REMOVED, now,
                                 detail="linked again")
        affected = await campaigns_repo.using_sender(tx, old.id, include_paused=True)
        await outbox.move_sender(tx, old.id, new.id, now.timestamp())
        await campaigns_repo.replace_sender(tx, old.id, new.id)
        await self._resume_lost(tx, affected, now)

    async def _linking(self, owner_id: int, sender_id: int) -> Sender:
        sender = await self.get(owner_id, sender_id)
        if sender.gateway != self._need_waha().kind or sender.status is not SenderStatus.LINKING:
            raise ValidationError("not_linking", where="sender")
        return sender

    def _need_waha(self) -> Linker:
        if self._waha is None:
            raise ValidationError("waha_not_configured", where="sender")
        return self._waha

    # --- Cloud API ------------------------------------------------------------------------

    async def add_cloud(self, owner_id: int, phone_number_id: str, token: str) -> Sender:
        """A Cloud API number by its phone-number id and access token, checked with Meta
        first: a wrong id or token is refused and nothing is kept."""
        cloud = self._cloud
        if cloud is None:
            raise ValidationError("cloud_not_configured", where="sender")
        phone_number_id, token = phone_number_id.strip(), token.strip()
        if not _CLOUD_ID.fullmatch(phone_number_id):
            raise ValidationError("cloud_bad_id", where="phone_number_id")
        if not _TOKEN.fullmatch(token):
            raise ValidationError("cloud_bad_token", where="token")
        now = self._clock()
        async with self._db.transaction() as tx:
            for old in await senders.list_for_owner(tx, owner_id):
                if old.gateway == cloud.kind and old.external_id == phone_number_id:
                    raise ValidationError("cloud_already_added", where="phone_number_id",
                                          number=old.label or old.phone)
            sender = await senders.add(tx, owner_id=owner_id, gateway=cloud.kind,
                                       phone=f"cloud-{phone_number_id}",
                                       status=SenderStatus.LINKING, now=now,
                                       external_id=phone_number_id)
            await senders.set_secret(tx, sender.id, token)
        self._tokens[sender.id] = token
        ref = SenderRef(sender.id, sender.phone, phone_number_id, cloud.kind)
        try:
            health = await cloud.sender_status(ref)
            phone = await cloud.phone_number(ref)
        except GatewayError as exc:  # refused (a wrong id or token: ``auth``), or no answer
            await self._forget(sender.id)
            reason = ("cloud_auth" if exc.category is ErrorCategory.REJECTED
                      else "cloud_unreachable")
            raise ValidationError(reason, where="token") from exc
        if health.state is SenderState.BANNED:
            await self._forget(sender.id)
            raise ValidationError("cloud_banned", where="phone_number_id")
        linked = await self._linked(sender, phone)
        if health.state is SenderState.RESTRICTED:
            async with self._db.transaction() as tx:
                await senders.set_status(tx, sender.id, SenderStatus.RESTRICTED, self._clock(),
                                         detail=health.detail, until=health.until)
            linked = await self.get(owner_id, sender.id)
        return linked

    async def _forget(self, sender_id: int) -> None:
        self._tokens.pop(sender_id, None)
        async with self._db.transaction() as tx:
            await senders.set_secret(tx, sender_id, None)
            await senders.set_status(tx, sender_id, SenderStatus.REMOVED, self._clock(),
                                     detail="not added")

    async def resume_linking(self) -> int:
        """At start-up: numbers whose QR code was scanned while the bot was down become
        active now (the chat's refresh job died with the process). How many did."""
        if self._waha is None:
            return 0
        linked = 0
        for sender in await senders.linking(self._db.reader, self._waha.kind):
            try:
                _, state = await self.waha_poll(sender.owner_id, sender.id)
            except GatewayFailed as exc:
                log.info("linking sender %d not resumed: %s", sender.id, exc.reason)
                continue
            linked += state is SenderState.WORKING
        return linked

    async def load_tokens(self) -> int:
        """At start-up: the Cloud API tokens of the numbers in use, for the adapter."""
        if self._cloud is None:
            return 0
        found = await senders.secrets(self._db.reader, self._cloud.kind)
        self._tokens.update(found)
        return len(found)

    async def linked_sessions(self) -> builtins.list[str]:
        """WAHA sessions that were linked (so a later QR request reads as logged out)."""
        if self._waha is None:
            return []
        return await senders.linked_external_ids(self._db.reader, self._waha.kind)

    # --- moving away and removing ---------------------------------------------------------

    async def move_campaigns(self, owner_id: int,
                             sender_id: int) -> tuple[Sender, builtins.list[int]]:
        """The queued messages of a (lost) number go to another working number, and the
        campaigns paused for its loss go on. Returns the new number and the campaigns."""
        lost = await self.get(owner_id, sender_id)
        now = self._clock()
        async with self._db.transaction() as tx:
            target = await self._other(tx, lost)
            affected = await campaigns_repo.using_sender(tx, lost.id, include_paused=True)
            await outbox.move_sender(tx, lost.id, target.id, now.timestamp())
            await campaigns_repo.replace_sender(tx, lost.id, target.id)
            resumed = await self._resume_lost(tx, affected, now)
        return target, resumed

    async def _other(self, tx, lost: Sender) -> Sender:
        others = [s for s in await senders.list_for_owner(tx, lost.owner_id)
                  if s.id != lost.id and s.status is SenderStatus.ACTIVE]
        if not others:
            raise ValidationError("no_other_sender", where="sender")
        return others[0]

    async def _resume_lost(self, tx: Connection, affected: builtins.list[tuple[int, int]],
                           now: datetime) -> builtins.list[int]:
        resumed = []
        for campaign_owner, campaign_id in affected:
            campaign = await campaigns_repo.get(tx, campaign_owner, campaign_id)
            if campaign is not None and campaign.status is CampaignStatus.PAUSED \
                    and (campaign.status_reason or "").startswith("sender_"):
                campaign.resume()
                await campaigns_repo.save(tx, campaign, now)
                resumed.append(campaign_id)
        return resumed

    async def remove(self, owner_id: int, sender_id: int, *,
                     move: bool = False) -> tuple[Sender, Sender | None, builtins.list[int]]:
        """The number is no longer used. With ``move`` its queued messages go to another
        working number (returned); otherwise the campaigns still sending on it pause
        (returned) until the owner moves them. A WAHA session is logged out and deleted
        (best effort: a WAHA that is down does not keep the number)."""
        sender = await self.get(owner_id, sender_id)
        now = self._clock()
        target: Sender | None = None
        async with self._db.transaction() as tx:
            affected = await campaigns_repo.using_sender(tx, sender.id, include_paused=True)
            if move and affected:
                target = await self._other(tx, sender)
                await outbox.move_sender(tx, sender.id, target.id, now.timestamp())
                await campaigns_repo.replace_sender(tx, sender.id, target.id)
                changed = await self._resume_lost(tx, affected, now)
            else:
                changed = []
                for campaign_owner, campaign_id in affected:
                    campaign = await campaigns_repo.get(tx, campaign_owner, campaign_id)
                    if campaign is not None and campaign.status in (
                            CampaignStatus.RUNNING, CampaignStatus.SCHEDULED):
                        campaign.pause("sender_removed")
                        await campaigns_repo.save(tx, campaign, now)
                        changed.append(campaign_id)
            await senders.set_status(tx, sender.id, SenderStatus.REMOVED, now)
            await senders.set_secret(tx, sender.id, None)
        self._tokens.pop(sender.id, None)
        if self._waha is not None and sender.gateway == self._waha.kind and sender.external_id:
            try:
                await self._waha.delete_session(sender.external_id)
            except GatewayError as exc:
                log.warning("WAHA session of sender %d not deleted: %s", sender.id,
                            exc.category)
        return sender, target, changed
