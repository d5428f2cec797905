"""Follow-ups of a campaign in one tap, from its stats.

- **New campaign to...** those who did not read it, those whose message failed for a
  reason that may pass later, those who replied, those who did not: the audience is saved
  as a new list ("<campaign> - not read"), and the wizard opens at the template step with
  that list chosen (``CampaignsService.draft_for_list``).
- **Retry failed**: the failed messages of the campaign's current run whose reason may
  pass later (``may_pass_later``: rate limits, Meta's per-user marketing cap 131049,
  temporary errors) are queued again, due now, in one transaction with their credits
  reserved (``billing.reserve``); a completed campaign runs again for them. Never an
  invalid number, a refused message or an opted-out contact.

A recipient is judged by its latest message in the campaign (a recurring campaign's last
run): *not read* was sent or delivered but not read; *failed* failed, for a reason that may
pass; *replied* answered any of the campaign's messages (``inbound_messages``, kept by
``bot/services/replies.py``); *did not reply* was sent it (delivered and read included)
and answered none. Contacts since deleted or opted out are in no audience.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.clock import Clock, utcnow
from bot.domain import (
    SENT_STATUSES,
    Campaign,
    CampaignDraft,
    CampaignStatus,
    ContactList,
    MessageStatus,
    SenderStatus,
)
from bot.errors import NotFound, ValidationError
from bot.gateways.base import ErrorCategory
from bot.services import billing
from bot.services.billing import CREDITS_PER_MESSAGE
from bot.services.campaigns import CampaignsService
from bot.services.contacts import LIST_NAME_MAX
from bot.services.dispatcher import NOT_ON_WHATSAPP
from bot.storage import campaigns as campaigns_repo
from bot.storage import contacts, ledger, lists, senders
from bot.storage import followups as repo
from bot.storage.db import Connection, Database
from bot.storage.followups import Recipient


class Audience(StrEnum):
    """Who a follow-up goes to. The values are in buttons: never rename one."""

    NOT_READ = "unread"
    FAILED = "failed"
    REPLIED = "replied"
    NOT_REPLIED = "silent"


# Failures that may pass later: the gateway's category says so, or Meta's code does (the
# Cloud API's codes that ``bot/gateways/cloud.py`` maps to ``rate_limited`` or
# ``transient``: rate limits 130429, 131056, 4, 80007, 133016; per-user limits, Meta's
# marketing message cap among them, 131049 and 131064; temporary errors 1, 2, 131000,
# 131016). A failed receipt says only ``code <n>: <title>``, so the code decides there.
RETRY_CATEGORIES = frozenset({ErrorCategory.RATE_LIMITED.value, ErrorCategory.TRANSIENT.value})
RETRY_CODES = frozenset({130429, 131056, 4, 80007, 133016, 131049, 131064, 1, 2, 131000,
                         131016})
NEVER_RETRIED = frozenset({ErrorCategory.RECIPIENT_INVALID.value, NOT_ON_WHATSAPP})
_CODE = re.compile(r"code (\d+)\b")
_UNREAD = frozenset({MessageStatus.SENT.value, MessageStatus.DELIVERED.value})
_SENT = frozenset(s.value for s in SENT_STATUSES)


def may_pass_later(category: str | None, detail: str | None) -> bool:
    """Whether a failure's reason may pass if the message is sent again later: a rate
    limit, Meta's per-user (marketing) cap, a temporary error; never an invalid number."""
    if category in NEVER_RETRIED:
        return False
    if category in RETRY_CATEGORIES:
        return True
    found = _CODE.match(detail or "")
    return found is not None and int(found[1]) in RETRY_CODES


def _in(audience: Audience, r: Recipient) -> bool:
    if audience is Audience.NOT_READ:
        return r.status in _UNREAD
    if audience is Audience.FAILED:
        return r.status == MessageStatus.FAILED and may_pass_later(r.error_category,
                                                                   r.error_detail)
    if audience is Audience.REPLIED:
        return r.replied
    return r.status in _SENT and not r.replied


@dataclass(frozen=True, slots=True)
class Audiences:
    """How many recipients each follow-up would reach, and the failures a retry sends."""

    campaign: Campaign
    sizes: dict[Audience, int]
    retryable: int  # failed messages of the current run that *Retry failed* sends


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A follow-up begun: its audience saved as a list, the wizard at the template."""

    contact_list: ContactList
    draft: CampaignDraft


class FollowUpsService:
    def __init__(self, db: Database, campaigns: CampaignsService,
                 clock: Clock = utcnow) -> None:
        self._db = db
        self._campaigns = campaigns
        self._clock = clock

    async def audiences(self, owner_id: int, campaign_id: int) -> Audiences:
        """Each audience's size; NotFound for anyone else's campaign (or a draft)."""
        campaign = await self._campaign(owner_id, campaign_id)
        everyone = await repo.recipients(self._db.reader, owner_id, campaign_id)
        failed = await repo.failed(self._db.reader, owner_id, campaign_id, campaign.run)
        return Audiences(
            campaign, {a: sum(1 for r in everyone if _in(a, r)) for a in Audience},
            sum(1 for f in failed if may_pass_later(f.error_category, f.error_detail)))

    async def members(self, owner_id: int, campaign_id: int,
                      audience: Audience) -> list[int]:
        """The contact ids of an audience, in contact order."""
        await self._campaign(owner_id, campaign_id)
        return [r.contact_id for r in await repo.recipients(self._db.reader, owner_id,
                                                             campaign_id) if _in(audience, r)]

    async def new_campaign_to(self, owner_id: int, campaign_id: int, audience: Audience,
                              label: str) -> FollowUp:
        """*New campaign to...*: the audience saved as a new list, named "<campaign> -
        <label>" (the owner's word for the audience; a number added while the name is
        taken), and the wizard (in place of the one in progress) at the template step
        with it chosen. ``audience_empty`` when nobody is in it."""
        campaign = await self._campaign(owner_id, campaign_id)
        ids = await self.members(owner_id, campaign_id, audience)
        if not ids:
            raise ValidationError("audience_empty", where="audience")
        now = self._clock()
        async with self._db.transaction() as tx:
            name = await _free_name(tx, owner_id, f"{campaign.name} - {label}")
            made = await lists.create(tx, owner_id, name, now)
            await contacts.add_ids_to_list(tx, made.id, ids, now)
            await lists.add_variables(tx, owner_id, made.id,
                                      await contacts.attribute_names(tx, owner_id, made.id))
        draft = await self._campaigns.draft_for_list(owner_id, made.id)
        found = await lists.get(self._db.reader, owner_id, made.id)
        assert found is not None  # made above, and the owner's
        return FollowUp(found, draft)

    async def retry_failed(self, owner_id: int, campaign_id: int) -> int:
        """*Retry failed*: the current run's failed messages whose reason may pass later
        queued again now (from their number, or another of the campaign's that works),
        their credits reserved, all in one transaction; how many (0: none may pass).
        ``insufficient`` when the credits do not cover them (nothing queued)."""
        now = self._clock()
        async with self._db.transaction() as tx:
            campaign = await campaigns_repo.get(tx, owner_id, campaign_id)
            if campaign is None or campaign.status is CampaignStatus.DRAFT:
                raise NotFound("campaign", campaign_id=campaign_id)
            if campaign.status is CampaignStatus.CANCELLED:
                raise ValidationError("campaign_cancelled", where="campaign")
            chosen = [f for f in await repo.failed(tx, owner_id, campaign_id, campaign.run)
                      if may_pass_later(f.error_category, f.error_detail)]
            if not chosen:
                return 0
            working = {s.id for s in await senders.list_for_owner(tx, owner_id)
                       if s.status is SenderStatus.ACTIVE}
            plan = _numbers(chosen, working, [s for s in campaign.sender_ids if s in working])
            cost = len(plan) * CREDITS_PER_MESSAGE
            available = (await ledger.balance(tx, owner_id)).available
            if cost > available:
                raise ValidationError("insufficient", where="balance", cost=cost,
                                      available=available, missing=cost - available)
            await repo.requeue(tx, owner_id, plan, now.timestamp())
            await billing.reserve(tx, owner_id, cost, now, campaign_id=campaign_id,
                                  note="retry")
            if campaign.status is CampaignStatus.COMPLETED:
                campaign.reopen()
                await campaigns_repo.save(tx, campaign, now)
        return len(plan)

    async def _campaign(self, owner_id: int, campaign_id: int) -> Campaign:
        found = await campaigns_repo.get(self._db.reader, owner_id, campaign_id)
        if found is None or found.status is CampaignStatus.DRAFT:
            raise NotFound("campaign", campaign_id=campaign_id)
        return found


def _numbers(chosen: Sequence[repo.Failed], working: set[int],
             fallback: Sequence[int]) -> list[tuple[int, int]]:
    """(message, the number it goes from): its own while it works, else the campaign's
    working numbers in turn; ``retry_no_number`` when a message has none."""
    plan, turn = [], 0
    for failed in chosen:
        if failed.sender_id is not None and failed.sender_id in working:
            plan.append((failed.id, failed.sender_id))
            continue
        if not fallback:
            raise ValidationError("retry_no_number", where="senders")
        plan.append((failed.id, fallback[turn % len(fallback)]))
        turn += 1
    return plan


async def _free_name(conn: Connection, owner_id: int, wanted: str) -> str:
    """``wanted`` (cut to a list name's length), or with " (2)", " (3)", ... while the
    owner has a list of that name."""
    base = " ".join(wanted.split())[:LIST_NAME_MAX]
    name, n = base, 1
    while await lists.name_taken(conn, owner_id, name):
        n += 1
        suffix = f" ({n})"
        name = base[:LIST_NAME_MAX - len(suffix)] + suffix
    return name
