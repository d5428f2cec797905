"""Campaigns: the wizard's draft, the summary, confirming (planning the outbox), and the
owner's controls (pause, resume, cancel).

The wizard's answers are a ``CampaignDraft`` (``bot/domain.py``), stored in the draft
campaign row step included, so a restart or a day away resumes where the owner was. Its
steps, their order, numbers and *Back* are one table, ``bot.domain.WIZARD``. Each wizard
call here checks an answer, writes it with the next step and returns the draft; the
summary only reads (the sandbox's default number is made by ``begin`` and
``choose_template``, which write anyway).

Confirming writes one queued message per recipient with its sender, batch, variant and
planned time (``planning.plan``, a pure function of the recipients, the pacing, the start
and the campaign's seed) and reserves the credits, all in one transaction.
"""

from __future__ import annotations

import builtins
import logging
import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.clock import Clock, utcnow
from bot.domain import (
    WIZARD,
    Balance,
    Campaign,
    CampaignDraft,
    CampaignProgress,
    CampaignStatus,
    ContactList,
    DraftStart,
    Language,
    Message,
    MessageStatus,
    Sender,
    SenderGuard,
    SenderStatus,
    StartKind,
    Template,
    WizardStep,
)
from bot.errors import InsufficientCredits, NotFound, ValidationError
from bot.gateways.base import WhatsAppGateway
from bot.services import billing, zones
from bot.services import risk as preflight
from bot.services.billing import CREDITS_PER_MESSAGE
from bot.services.idempotency import InTransaction
from bot.services.planning import (
    PRESETS,
    DailyCap,
    Estimate,
    Pacing,
    Plan,
    QuietHours,
    estimate,
    plan,
)
from bot.services.senders import DAY, sandbox_default, sender_ref
from bot.services.sending import DAILY_CAP, WARMUP, SendingPolicy
from bot.services.template_engine import compile_template
from bot.services.templates import contact_values
from bot.services.webhooks import EventType, WebhooksService, campaign_data
from bot.services.when import Recurrence, parse_time_of_day, parse_when
from bot.storage import campaigns as repo
from bot.storage import contacts, health, ledger, lists, outbox, owners, senders, templates
from bot.storage import messages as messages_repo
from bot.storage import risk as risk_repo
from bot.storage.db import Connection, Database

log = logging.getLogger(__name__)

NOW_LEAD_SECONDS = 5  # "now" starts this soon after confirming
CAMPAIGN_NAME_MAX = 64  # characters of a name the owner gives a campaign
# The safe envelope: at least this many seconds between two messages of a number, and at
# most this many messages a batch (the platform's advice); a pace outside it is flagged.
SAFE_DELAY_MIN = 3.0
SAFE_BATCH_MAX = 100
NO_RISK = preflight.Risk(preflight.Level.LOW)


@dataclass(frozen=True, slots=True)
class CampaignsConfig:
    advice_max: int = 100  # recipients per campaign above which the owner confirms twice
    gateway: str = "sandbox"
    default_timezone: str = "Asia/Baku"
    daily_cap: int = DAILY_CAP  # per number, unless the number has its own (as the dispatcher)
    warmup: tuple[int, ...] = WARMUP  # a new number's first days (bot/services/sending.py)


@dataclass(frozen=True, slots=True)
class Summary:
    draft: CampaignDraft
    contact_list: ContactList
    template: Template
    senders: list[Sender]
    members: int
    opted_out: int
    recipients: int
    batches: int
    starts_at: datetime  # the first (or only) run
    finish: datetime  # estimated, of that run
    recurrence: Recurrence | None
    pacing: Pacing
    preset: str  # a preset's name or "custom"
    cost: int  # credits, per run
    balance: Balance
    advice_max: int
    timezone: ZoneInfo
    first_send: datetime | None = None  # estimated: after quiet hours and caps
    cap_waits: int = 0  # times the numbers' daily caps held the plan back
    per_day: int = 0  # what the chosen numbers may send a day between them, at the start
    lacking: dict[str, int] = field(default_factory=dict)  # variable -> recipients without
    campaign: Campaign | None = None  # once confirmed: the scheduled campaign
    risk: preflight.Risk = NO_RISK  # the pre-flight check (bot/services/risk.py)
    added: list[Sender] = field(default_factory=list)  # numbers *Safe plan* added

    @property
    def name(self) -> str:
        """The campaign's name: the owner's, else its template's and list's."""
        return self.draft.name or f"{self.template.name} · {self.contact_list.name}"

    @property
    def over_advice(self) -> bool:
        return self.recipients > self.advice_max

    @property
    def risky_pace(self) -> bool:
        """Faster than the safe envelope: bursts are what gets numbers banned."""
        return (self.pacing.delay_min < SAFE_DELAY_MIN
                or self.pacing.batch_size > SAFE_BATCH_MAX)

    @property
    def starts_quiet(self) -> bool:
        """The start falls inside the quiet hours: nothing goes out until they end."""
        quiet = self.pacing.quiet
        return quiet is not None and quiet.contains(
            self.starts_at.astimezone(self.timezone).time())

    @property
    def days(self) -> int:
        """Calendar days (the owner's) from the first to the last message, both counted."""
        first = (self.first_send or self.starts_at).astimezone(self.timezone).date()
        return (self.finish.astimezone(self.timezone).date() - first).days + 1

    @property
    def asks_twice(self) -> bool:
        """Confirming asks once more: a big list, a risky pace, recipients without a
        value the template needs or a high risk."""
        return self.over_advice or self.risky_pace or bool(self.lacking) or self.risk.high

    @property
    def offers_safe_plan(self) -> bool:
        """*Safe plan* is offered: the risk is medium or high and the pace is the owner's."""
        return self.risk.level >= preflight.Level.MEDIUM and self.draft.original is None

    @property
    def safe_plan_on(self) -> bool:
        """The pace is *Safe plan*'s; *Original plan* brings the owner's back."""
        return self.draft.original is not None

    @property
    def missing(self) -> int:
        return max(0, self.cost - self.balance.available)

    @property
    def balance_after(self) -> int:
        return self.balance.available - self.cost


@dataclass(frozen=True, slots=True)
class SampleMessage:
    """The campaign's message as its first recipient would get it, to the owner's phone."""

    owner_id: int
    sender: Sender
    to: str  # the owner's registered phone
    template: Template
    values: dict[str, str]  # the first recipient's variables


@dataclass(frozen=True, slots=True)
class CampaignView:
    campaign: Campaign
    progress: CampaignProgress
    held: int = 0  # credits still reserved
    finish: datetime | None = None


@dataclass(frozen=True, slots=True)
class CampaignOrder:
    """A campaign asked for in one go (``CampaignsService.create``, the HTTP API): the
    wizard's answers. ``sender_ids`` None: every working number (the wizard's default);
    ``start_at`` None: now; ``pacing`` (custom values) or else ``preset``;
    ``client_refs``: (phone, the integrator's reference) of recipients; ``safe_plan``:
    the chat's *Safe plan* rewrite first; ``accept_risk``: the chat's second yes a high
    risk asks for."""

    list_id: int
    template_id: int
    sender_ids: Sequence[int] | None = None
    start_at: datetime | None = None
    preset: str = "normal"
    pacing: Pacing | None = None
    name: str | None = None
    allow_missing: bool = False  # send to recipients lacking a value (blank, as the chat)
    client_refs: Sequence[tuple[str, str]] = ()
    safe_plan: bool = False  # rewritten as the chat's *Safe plan* (pace and numbers)
    accept_risk: bool = False  # a high risk confirmed (else ``HighRisk``, nothing written)


# The wizard's places (``ValidationError.where``) as a ``CampaignOrder`` names them.
_ORDER_FIELDS = {"senders": "sender_ids", "list": "list_id", "when": "start_at",
                 "pacing": "pace", "delay": "/pace/delay_min", "pause": "/pace/batch_pause_min",
                 "batch_size": "/pace/batch_size", "quiet": "/pace/quiet"}


def parse_range(text: str, where: str, *, unit: float = 1.0) -> tuple[float, float]:
    """"10-30", "10 – 30" or "15" (min = max), in ``unit`` seconds."""
    if text.strip().startswith(("-", "–", "—")):  # a minus: no negative delays
        raise ValidationError("bad_range", where=where)
    numbers = re.findall(r"\d+(?:[.,]\d+)?", text)
    rest = re.sub(r"[\d.,\s\-–—]", "", text)
    if not numbers or len(numbers) > 2 or rest:
        raise ValidationError("bad_range", where=where)
    low, high = (float(n.replace(",", ".")) * unit for n in (numbers[0], numbers[-1]))
    if low > high:
        raise ValidationError("bad_range", where=where)
    return low, high


def parse_quiet(text: str) -> QuietHours:
    parts = re.split(r"\s*[-–—]\s*|\s+", text.strip())
    if len(parts) != 2:
        raise ValidationError("bad_quiet", where="quiet")
    start, end = (parse_time_of_day(p) for p in parts)
    if start == end:
        raise ValidationError("bad_quiet", where="quiet")
    return QuietHours(start, end)


class CampaignsService:
    def __init__(self, db: Database, config: CampaignsConfig,
                 clock: Clock = utcnow, *, gateway: WhatsAppGateway | None = None,
                 webhooks: WebhooksService | None = None) -> None:
        self._db = db
        self._webhooks = webhooks  # paused by the owner, cancelled, no next run: events
        self._config = config
        self._sending = SendingPolicy(config.daily_cap, config.warmup)
        self._clock = clock
        self._gateway = gateway  # asked what the chosen numbers' gateways need

    @property
    def config(self) -> CampaignsConfig:
        return self._config

    # --- the wizard ---------------------------------------------------------------------

    async def draft(self, owner_id: int) -> CampaignDraft | None:
        return await repo.draft_of(self._db.reader, owner_id)

    async def drafts(self) -> list[tuple[int, WizardStep]]:
        """(owner id, step) of every wizard waiting for its owner (not those left for a
        command)."""
        return [(d.owner_id, d.step) for d in await repo.drafts(self._db.reader) if not d.left]

    async def begin(self, owner_id: int) -> CampaignDraft:
        """The owner's draft: the one in progress, or a new one at its first step."""
        now = self._clock()
        async with self._db.transaction() as tx:
            draft = await repo.draft_of(tx, owner_id)
            if draft is None:
                await repo.create_draft(tx, owner_id, "", now)
                draft = await repo.draft_of(tx, owner_id)
                assert draft is not None
            elif draft.left:
                draft.left = False
                await repo.save_draft(tx, draft, now)
        await self._sandbox_number(owner_id)
        return draft

    async def leave(self, owner_id: int) -> None:
        """The owner typed a command: the draft is kept (``/newcampaign`` or one of the
        wizard's buttons takes it up again) but no longer waits for an answer."""
        async with self._db.transaction() as tx:
            draft = await repo.draft_of(tx, owner_id)
            if draft is not None and not draft.left:
                draft.left = True
                await repo.save_draft(tx, draft, self._clock())

    async def restart(self, owner_id: int) -> CampaignDraft:
        await self.discard(owner_id)
        return await self.begin(owner_id)

    async def discard(self, owner_id: int) -> None:
        async with self._db.transaction() as tx:
            draft = await repo.draft_of(tx, owner_id)
            if draft is not None:
                await repo.delete(tx, owner_id, draft.id)

    async def back(self, owner_id: int) -> CampaignDraft:
        draft = await self._require_draft(owner_id)
        return await self._step(draft, draft.back())

    async def go_to(self, owner_id: int, step: WizardStep | str) -> CampaignDraft:
        """Jump back to a main step to change that answer (the others are kept)."""
        try:
            target = WizardStep(step)
        except ValueError:
            raise ValidationError("bad_step", where="campaign") from None
        if not WIZARD[target].editable:
            raise ValidationError("bad_step", where="campaign")
        draft = await self._require_draft(owner_id)
        if target is WizardStep.SUMMARY:
            await self._summary(draft)  # every answer is there
        return await self._step(draft, target)

    async def choose_list(self, owner_id: int, list_id: int) -> CampaignDraft:
        draft = await self._require_draft(owner_id)
        if await lists.get(self._db.reader, owner_id, list_id) is None:
            raise NotFound("list", list_id=list_id)
        members, opted_out = await repo.audience(self._db.reader, owner_id, list_id)
        if members - opted_out <= 0:
            raise ValidationError("no_recipients", where="list")
        draft.list_id = list_id
        return await self._step(draft, WizardStep.TEMPLATE)

    async def choose_template(self, owner_id: int, template_id: int) -> CampaignDraft:
        draft = await self._require_draft(owner_id)
        if await templates.get(self._db.reader, owner_id, template_id) is None:
            raise NotFound("template", template_id=template_id)
        draft.template_id = template_id
        if draft.senders is None:  # first time here: every usable number, to start with
            await self._sandbox_number(owner_id)
            draft.senders = [s.id for s in await self.usable_senders(owner_id)]
        return await self._step(draft, WizardStep.SENDERS)

    async def usable_senders(self, owner_id: int) -> list[Sender]:
        """The owner's numbers that can send. Only reads: the sandbox's default number is
        made by the steps that write (``begin``, ``choose_template``)."""
        return [s for s in await senders.list_for_owner(self._db.reader, owner_id)
                if s.status is SenderStatus.ACTIVE]

    async def toggle_sender(self, owner_id: int, sender_id: int) -> CampaignDraft:
        draft = await self._require_draft(owner_id)
        usable = {s.id for s in await self.usable_senders(owner_id)}
        if sender_id not in usable:
            raise NotFound("sender", sender_id=sender_id)
        chosen = [s for s in draft.senders or [] if s in usable]
        if sender_id in chosen:
            chosen.remove(sender_id)
        else:
            chosen.append(sender_id)
        draft.senders = sorted(chosen)
        return await self._step(draft, WizardStep.SENDERS)

    async def senders_chosen(self, owner_id: int) -> CampaignDraft:
        draft = await self._require_draft(owner_id)
        usable = {s.id: s for s in await self.usable_senders(owner_id)}
        chosen = [usable[s] for s in draft.senders or [] if s in usable]
        if not chosen:
            raise ValidationError("no_senders", where="senders")
        template = (await templates.get(self._db.reader, owner_id, draft.template_id)
                    if draft.template_id is not None else None)
        _check_cloud(template, self._need_approved(chosen))
        if draft.original is not None:  # the numbers are the owner's choice now
            draft.original.pop("senders", None)
        return await self._step(draft, WizardStep.WHEN)

    async def start_now(self, owner_id: int) -> CampaignDraft:
        draft = await self._require_draft(owner_id)
        draft.start = DraftStart(StartKind.NOW)
        return await self._step(draft, _after_when(draft))

    async def ask_date(self, owner_id: int) -> CampaignDraft:
        return await self._step(await self._require_draft(owner_id), WizardStep.WHEN_AT)

    async def start_at(self, owner_id: int, text: str) -> CampaignDraft:
        draft = await self._require_draft(owner_id)
        owner = await owners.get(self._db.reader, owner_id)
        # English writes 12/25, Azerbaijani and Russian 25/12 (and 25.12)
        at = parse_when(text, await self._zone(owner_id), self._clock(),
                        month_first=owner is not None and owner.language is Language.EN)
        draft.start = DraftStart(StartKind.AT, at=at.astimezone(UTC))
        return await self._step(draft, _after_when(draft))

    async def recurring(self, owner_id: int, every: str) -> CampaignDraft:
        if every not in ("day", "week"):
            raise ValidationError("bad_recurrence", where="when")
        draft = await self._require_draft(owner_id)
        draft.repeat_every, draft.weekdays = every, []
        return await self._step(draft, WizardStep.RECURRING_DAYS if every == "week"
                                else WizardStep.RECURRING_TIME)

    async def toggle_weekday(self, owner_id: int, weekday: int) -> CampaignDraft:
        draft = await self._require_draft(owner_id)
        if not 0 <= weekday <= 6:
            raise ValidationError("bad_recurrence", where="when")
        draft.repeat_every = draft.repeat_every or "week"
        draft.weekdays = sorted(set(draft.weekdays) ^ {weekday})
        return await self._step(draft, WizardStep.RECURRING_DAYS)

    async def weekdays_chosen(self, owner_id: int) -> CampaignDraft:
        draft = await self._require_draft(owner_id)
        if not draft.weekdays:
            raise ValidationError("no_weekdays", where="when")
        return await self._step(draft, WizardStep.RECURRING_TIME)

    async def recurring_at(self, owner_id: int, text: str) -> CampaignDraft:
        draft = await self._require_draft(owner_id)
        at = parse_time_of_day(text)
        recurrence = Recurrence(every=draft.repeat_every or "day", at=at,
                                weekdays=tuple(draft.weekdays))
        draft.start = DraftStart(StartKind.RECURRING, recurrence=recurrence.to_json())
        return await self._step(draft, _after_when(draft))

    async def use_preset(self, owner_id: int, name: str) -> CampaignDraft:
        if name not in PRESETS:
            raise ValidationError("bad_preset", where="pacing")
        draft = await self._require_draft(owner_id)
        draft.preset, draft.pacing = name, PRESETS[name].to_json()
        draft.original = None  # the owner's own choice now
        return await self._step(draft, WizardStep.SUMMARY)

    async def safe_plan(self, owner_id: int) -> CampaignDraft:
        """*Safe plan* on the summary: the draft rewritten to low risk (``_make_safe``); the
        pace and numbers it had are kept in the draft for *Original plan*."""
        draft = await self._require_draft(owner_id)
        await self._make_safe(draft)
        return await self._step(draft, WizardStep.SUMMARY)

    async def original_plan(self, owner_id: int) -> CampaignDraft:
        """*Original plan*: the pace and numbers the draft had before *Safe plan*, back."""
        draft = await self._require_draft(owner_id)
        if draft.original is not None:
            draft.preset = draft.original.get("preset")
            draft.pacing = draft.original.get("pacing")
            if draft.original.get("senders") is not None:
                draft.senders = list(draft.original["senders"])
            draft.original = None
        return await self._step(draft, WizardStep.SUMMARY)

    async def _make_safe(self, draft: CampaignDraft) -> None:
        """The one *Safe plan* rewrite (the chat's button, the API's ``plan: safe``): the
        pace to ``risk.safe_pacing`` (random 30-60 s gaps, batches of at most 50, rests,
        the night held) and the campaign spread over the owner's other healthy numbers
        (``risk.safe_numbers``); the start stays. What the draft had is kept in
        ``draft.original`` (once: a second rewrite keeps the owner's)."""
        if draft.pacing is None or draft.start is None or draft.list_id is None \
                or draft.template_id is None:
            raise ValidationError("incomplete", where="campaign")
        if draft.original is None:
            draft.original = {"preset": draft.preset, "pacing": draft.pacing,
                              "senders": list(draft.senders or [])}
        draft.preset = "safe_plan"
        draft.pacing = preflight.safe_pacing(Pacing.from_json(draft.pacing)).to_json()
        draft.senders = sorted({*(draft.senders or []), *await self._safe_numbers(draft)})

    async def _safe_numbers(self, draft: CampaignDraft) -> builtins.list[int]:
        """The owner's other working numbers *Safe plan* adds to the draft's (ids)."""
        owner_id, reader = draft.owner_id, self._db.reader
        usable = await self.usable_senders(owner_id)
        wanted = set(draft.senders or [])
        chosen = [s for s in usable if s.id in wanted]
        template = await templates.get(reader, owner_id, draft.template_id or 0)
        if not chosen or template is None:
            return []
        # a Cloud API number only when the template has its approved twin
        barred = ({s.id for s in self._need_approved(usable)} if template.cloud is None
                  else set())
        taken = {s.id for s in chosen}
        others = [s for s in usable if s.id not in taken and s.id not in barred]
        if not others:
            return []
        now = self._clock()
        assert draft.start is not None and draft.list_id is not None
        starts_at, _recurrence = _start_of(draft.start, await self._zone(owner_id), now)
        members, opted_out = await repo.audience(reader, owner_id, draft.list_id)
        never, _unchecked = await risk_repo.cold_recipients(
            reader, owner_id, draft.list_id, now.timestamp() - preflight.CHECKS_VALID)
        facts = await self._number_facts([*chosen, *others], starts_at)
        picked = preflight.safe_numbers(members - opted_out, never, facts[:len(chosen)],
                                        facts[len(chosen):], starts_at, now)
        return [others[i].id for i in picked]

    async def custom_pacing(self, owner_id: int) -> CampaignDraft:
        draft = await self._require_draft(owner_id)
        draft.custom = dict(PRESETS["normal"].to_json())
        return await self._step(draft, WizardStep.CUSTOM_DELAY)

    async def custom_value(self, owner_id: int, text: str | None) -> CampaignDraft:
        """The answer to the current custom-pacing question (``None``: no quiet hours)."""
        draft = await self._require_draft(owner_id)
        if draft.step not in _CUSTOM_QUESTIONS:
            raise ValidationError("unexpected_text", where="pacing")
        take, following = _CUSTOM_QUESTIONS[draft.step]
        if draft.custom is None:
            draft.custom = dict(PRESETS["normal"].to_json())
        take(draft.custom, text)
        pacing = Pacing.from_json(draft.custom)
        pacing.validate()
        if following is WizardStep.SUMMARY:
            draft.preset, draft.pacing = "custom", pacing.to_json()
            draft.original = None  # the owner's own choice now
        return await self._step(draft, following)

    async def summary(self, owner_id: int) -> Summary:
        draft = await self._require_draft(owner_id)
        return await self._summary(draft)

    async def ask_name(self, owner_id: int) -> CampaignDraft:
        """*Rename* on the summary: the next typed text names the campaign."""
        draft = await self._require_draft(owner_id)
        await self._summary(draft)  # from a complete draft only
        return await self._step(draft, WizardStep.NAME)

    async def name_draft(self, owner_id: int, text: str | None) -> CampaignDraft:
        """The campaign's name (``None``: back to its template's and list's); then the
        summary again."""
        draft = await self._require_draft(owner_id)
        name = " ".join((text or "").split())
        if text is not None and len(name) < 2:
            raise ValidationError("too_short", where="name")
        if len(name) > CAMPAIGN_NAME_MAX:
            raise ValidationError("too_long", where="name", limit=CAMPAIGN_NAME_MAX)
        draft.name = name
        return await self._step(draft, WizardStep.SUMMARY)

    async def draft_for_list(self, owner_id: int, list_id: int) -> CampaignDraft:
        """A new wizard (in place of the one in progress) with ``list_id`` chosen, at the
        template step: a follow-up's (``bot/services/followups.py``)."""
        await self.discard(owner_id)
        await self.begin(owner_id)
        return await self.choose_list(owner_id, list_id)

    async def run_again(self, owner_id: int, campaign_id: int) -> CampaignDraft:
        """*Run again*: a new wizard (in place of the one in progress) with the campaign's
        list, template, numbers (those still working), pace and name, at the step that
        asks when; from there it goes to the summary. NotFound for anyone else's."""
        campaign = await self._get(owner_id, campaign_id)
        reader = self._db.reader
        if campaign.list_id is None or campaign.template_id is None \
                or await lists.get(reader, owner_id, campaign.list_id) is None \
                or await templates.get(reader, owner_id, campaign.template_id) is None:
            raise ValidationError("again_parts_gone", where="campaign")
        await self._sandbox_number(owner_id)
        usable = [s.id for s in await self.usable_senders(owner_id)]
        pacing = Pacing.from_json(campaign.pacing)
        preset = next((name for name, p in PRESETS.items() if p == pacing), "custom")
        await self.discard(owner_id)
        draft = await self.begin(owner_id)
        draft.list_id, draft.template_id = campaign.list_id, campaign.template_id
        draft.senders = [s for s in campaign.sender_ids if s in usable] or usable
        draft.preset, draft.pacing = preset, pacing.to_json()
        draft.name, draft.again = campaign.name, campaign.id
        return await self._step(draft, WizardStep.WHEN)

    async def test_message(self, owner_id: int) -> SampleMessage:
        """What *Send a test to me* sends: the first recipient's message, from the first
        chosen number, to the phone the owner registered (1 credit, sent by the
        dispatcher's ``send_test``)."""
        draft = await self._require_draft(owner_id)
        summary = await self._summary(draft, estimated=False)
        owner = await owners.get(self._db.reader, owner_id)
        if owner is None or not owner.phone:
            raise ValidationError("no_phone", where="account")
        if summary.balance.available < CREDITS_PER_MESSAGE:
            raise ValidationError("insufficient", where="balance", cost=CREDITS_PER_MESSAGE,
                                  available=summary.balance.available,
                                  missing=CREDITS_PER_MESSAGE - summary.balance.available)
        first = await repo.first_recipient(self._db.reader, owner_id, summary.contact_list.id)
        people = await contacts.by_ids(self._db.reader, owner_id, [first] if first else [])
        values = contact_values(people[first]) if first in people else {}
        return SampleMessage(owner_id, summary.senders[0], owner.phone, summary.template, values)

    async def ask_big(self, owner_id: int) -> Summary:
        """The extra confirmation a campaign over the advice needs."""
        draft = await self._require_draft(owner_id)
        summary = await self._summary(draft)
        await self._step(draft, WizardStep.CONFIRM_BIG if summary.asks_twice
                         else WizardStep.SUMMARY)
        return summary

    async def confirm(self, owner_id: int, *, big_ok: bool = False) -> Summary:
        """Plan the outbox and reserve the credits; the campaign is then ``scheduled``."""
        draft = await self._require_draft(owner_id)
        summary = await self._summary(draft, estimated=False)  # the plan gives the finish
        if summary.asks_twice and not big_ok:
            raise ValidationError("over_advice", where="recipients",
                                  limit=summary.advice_max, count=summary.recipients)
        now = self._clock()
        try:
            async with self._db.transaction() as tx:
                campaign = await repo.get(tx, owner_id, draft.id)
                if campaign is None or campaign.status is not CampaignStatus.DRAFT:
                    raise NotFound("campaign_draft")  # confirmed (or dropped) meanwhile
                count, schedule, balance = await self._schedule(tx, campaign, summary, now)
        except InsufficientCredits as short:  # the wizard says it with what is missing
            raise ValidationError("insufficient", where="balance", cost=short.needed,
                                  available=short.available,
                                  missing=short.needed - short.available) from None
        return _replace(summary, campaign=campaign, balance=balance,
                        cost=count * CREDITS_PER_MESSAGE, finish=schedule.finish)

    async def create(self, owner_id: int, order: CampaignOrder,
                     on_commit: InTransaction[Summary] | None = None) -> Summary:
        """A campaign asked for in one go (the HTTP API): the wizard's checks and its
        confirmation, without a draft (the owner's wizard in the chat is left alone).

        The same checks as the summary and *Confirm*: the list, template and numbers are
        the owner's (``NotFound``) and the numbers working; a Cloud API number needs the
        template's approved twin; opted-out members are left out (``Summary.opted_out``);
        recipients without a value for a variable that has no fallback are refused
        (``missing_values``) unless ``order.allow_missing``; the credits must cover every
        recipient (``InsufficientCredits``, nothing queued); a high risk (after
        ``order.safe_plan``'s rewrite, when asked) needs ``order.accept_risk``
        (``risk.HighRisk``, nothing queued), as the chat's second yes. Confirming is the wizard's:
        the outbox planned and written and the credits reserved in one transaction, with
        the recipients' ``client_refs`` (and ``on_commit``'s write, given the result)."""
        try:
            if await lists.get(self._db.reader, owner_id, order.list_id) is None:
                raise NotFound("list", list_id=order.list_id)
            draft = await self._order_draft(owner_id, order)
            if order.safe_plan:
                await self._make_safe(draft)
            summary = await self._summary(draft, estimated=False)
        except ValidationError as exc:  # named as the order names it
            exc.where = _ORDER_FIELDS.get(exc.where, exc.where)
            raise
        if not summary.recipients:
            raise ValidationError("no_recipients", where="list_id")
        if summary.lacking and not order.allow_missing:
            raise ValidationError("missing_values", where="template_id",
                                  missing=", ".join(sorted(summary.lacking)),
                                  recipients=max(summary.lacking.values()))
        if summary.cost > summary.balance.available:
            raise InsufficientCredits(summary.cost, summary.balance.available)
        if summary.risk.high and not order.accept_risk:
            raise preflight.HighRisk(summary.risk)
        now = self._clock()
        async with self._db.transaction() as tx:
            campaign = Campaign(0, owner_id, order.name or "", CampaignStatus.DRAFT, now,
                                list_id=order.list_id, template_id=order.template_id)
            count, schedule, balance = await self._schedule(tx, campaign, summary, now)
            if order.client_refs:
                await messages_repo.set_client_refs(tx, owner_id, campaign.id, 0,
                                                    order.client_refs)
            result = _replace(summary, campaign=campaign, balance=balance,
                              cost=count * CREDITS_PER_MESSAGE, finish=schedule.finish)
            if on_commit is not None:
                await on_commit(tx, result)
        return result

    async def check(self, owner_id: int, order: CampaignOrder) -> None:
        """The checks of ``create`` that need no list (the template, the numbers, the
        pace, the start), for a caller that makes the list afterwards."""
        try:
            await self._order_draft(owner_id, order)
        except ValidationError as exc:
            exc.where = _ORDER_FIELDS.get(exc.where, exc.where)
            raise

    async def _order_draft(self, owner_id: int, order: CampaignOrder) -> CampaignDraft:
        """The order's answers as a draft of the wizard's (not stored), after the checks
        its steps make but the list's."""
        reader = self._db.reader
        template = await templates.get(reader, owner_id, order.template_id)
        if template is None:
            raise NotFound("template", template_id=order.template_id)
        if order.sender_ids is None:  # the wizard's default: every working number
            await self._sandbox_number(owner_id)
            chosen = [s.id for s in await self.usable_senders(owner_id)]
        else:
            mine = {s.id: s for s in await senders.list_for_owner(reader, owner_id)}
            for sender_id in order.sender_ids:
                if sender_id not in mine:
                    raise NotFound("sender", sender_id=sender_id)
                if mine[sender_id].status is not SenderStatus.ACTIVE:
                    raise ValidationError("sender_not_active", where="sender_ids",
                                          number=mine[sender_id].label or mine[sender_id].phone)
            chosen = sorted(set(order.sender_ids))
        if order.pacing is not None:
            pacing, preset = order.pacing, "custom"
            pacing.validate()
        elif order.preset in PRESETS:
            pacing, preset = PRESETS[order.preset], order.preset
        else:
            raise ValidationError("bad_preset", where="pace")
        if order.start_at is not None and order.start_at < self._clock():
            raise ValidationError("in_past", where="when")
        start = (DraftStart(StartKind.AT, at=order.start_at.astimezone(UTC))
                 if order.start_at is not None else DraftStart(StartKind.NOW))
        usable = {s.id: s for s in await self.usable_senders(owner_id)}
        _check_cloud(template, self._need_approved([usable[s] for s in chosen if s in usable]))
        return CampaignDraft(0, owner_id, WizardStep.SUMMARY, order.list_id, order.template_id,
                             senders=chosen, start=start, preset=preset,
                             pacing=pacing.to_json())

    async def _schedule(self, tx: Connection, campaign: Campaign, summary: Summary,
                        now: datetime) -> tuple[int, Plan, Balance]:
        """Confirm: plan the campaign's run from the summary's answers, write its outbox
        and numbers, reserve its credits; the campaign is then ``scheduled`` (one not yet
        stored, id 0, is inserted). Returns (messages, the plan, the balance after);
        ``InsufficientCredits`` or ``no_recipients`` and nothing is written."""
        owner_id = campaign.owner_id
        list_id = campaign.list_id  # None: its list was deleted meanwhile (no recipients)
        count = 0 if list_id is None else await repo.count_recipients(tx, owner_id, list_id)
        cost = count * CREDITS_PER_MESSAGE
        available = (await ledger.balance(tx, owner_id)).available
        if cost > available:
            raise InsufficientCredits(cost, available)
        if not count:
            raise ValidationError("no_recipients", where="list")
        assert list_id is not None  # it has recipients
        seed = random.SystemRandom().randrange(1 << 31)
        sender_ids = [s.id for s in summary.senders]
        schedule = plan(count, summary.pacing, summary.starts_at, seed,
                        summary.timezone, senders=len(summary.senders),
                        variants=len(summary.template.variants),
                        busy_until=await repo.senders_busy_until(tx, sender_ids),
                        **await self._capacity(tx, summary.senders, summary.starts_at))
        campaign.seed = seed
        campaign.pacing = summary.pacing.to_json()
        campaign.recurrence = summary.recurrence.to_json() if summary.recurrence else None
        campaign.name = campaign.name or summary.name
        campaign.schedule(summary.starts_at)
        if campaign.id:
            await repo.save(tx, campaign, now)
        else:
            campaign.id = await repo.insert(tx, campaign, now)
        await repo.set_senders(tx, campaign.id, sender_ids)
        campaign.sender_ids = sorted(sender_ids)  # as stored (and read back)
        written = await repo.write_outbox(
            tx, campaign, 0, list_id,
            [sender_ids[s] for s in schedule.sender], schedule.batch, schedule.variant,
            schedule.at, now)
        if written != count:  # cannot happen inside the transaction; never silently
            raise RuntimeError(f"outbox: {written} rows for {count} recipients")
        await billing.reserve(tx, owner_id, cost, now, campaign_id=campaign.id,
                              note="campaign")
        balance = await ledger.balance(tx, owner_id)
        log.info("campaign %d confirmed: %d messages, %d batches, start %s", campaign.id,
                 count, schedule.batches, summary.starts_at.isoformat())
        return count, schedule, balance

    # --- the owner's campaigns --------------------------------------------------------------

    async def list(self, owner_id: int, limit: int = 10,
                   before: int | None = None) -> builtins.list[CampaignView]:
        """The owner's campaigns, newest first; ``before``: those older than that id."""
        found = await repo.for_owner(self._db.reader, owner_id, limit, before)
        progress = await repo.progress(self._db.reader, owner_id, [c.id for c in found])
        return [CampaignView(c, progress[c.id]) for c in found]

    async def messages(self, owner_id: int, campaign_id: int, after: int = 0,
                       limit: int = 100) -> builtins.list[Message]:
        """A campaign's messages (each recipient's state), by id: ``limit`` above
        ``after``."""
        await self._get(owner_id, campaign_id)
        return await messages_repo.of_campaign(self._db.reader, owner_id, campaign_id,
                                               after, limit)

    async def view(self, owner_id: int, campaign_id: int) -> CampaignView:
        campaign = await self._get(owner_id, campaign_id)
        progress = (await repo.progress(self._db.reader, owner_id, [campaign_id]))[campaign_id]
        held = await ledger.held_for(self._db.reader, owner_id, campaign_id)
        finish = await repo.finish_time(self._db.reader, campaign_id)
        return CampaignView(campaign, progress, held, finish)

    async def pause(self, owner_id: int, campaign_id: int) -> CampaignView:
        await self._transition(owner_id, campaign_id, lambda c: c.pause("owner"),
                               EventType.CAMPAIGN_PAUSED)
        return await self.view(owner_id, campaign_id)

    async def resume(self, owner_id: int, campaign_id: int) -> CampaignView:
        await self._transition(owner_id, campaign_id, lambda c: c.resume())
        return await self.view(owner_id, campaign_id)

    async def cancel(self, owner_id: int, campaign_id: int) -> tuple[CampaignView, int]:
        """Cancel; queued messages are skipped and their credits released. Returns the
        view and the credits released."""
        now = self._clock()
        async with self._db.transaction() as tx:
            campaign = await repo.get(tx, owner_id, campaign_id)
            if campaign is None or campaign.status is CampaignStatus.DRAFT:
                raise NotFound("campaign", campaign_id=campaign_id)
            campaign.cancel(now)
            await repo.save(tx, campaign, now)
            await self._event(tx, campaign, EventType.CAMPAIGN_FINISHED, "cancelled")
            # the queued messages' credits come back; ones being sent right now, and
            # uncertain ones, keep theirs until their outcome is known
            held = await repo.skip_unsent(tx, owner_id, campaign_id, now) * CREDITS_PER_MESSAGE
            if held > 0:
                await billing.release(tx, owner_id, held, now, campaign_id=campaign_id,
                                      note="cancelled")
        return await self.view(owner_id, campaign_id), held

    async def schedule_next_run(self, owner_id: int, campaign_id: int) -> datetime | None:
        """A recurring campaign whose run is done: plan and reserve the next run. ``None``
        (and the campaign completed) when the credits do not cover it or nobody is left."""
        now = self._clock()
        async with self._db.transaction() as tx:
            campaign = await repo.get(tx, owner_id, campaign_id)
            if campaign is None or campaign.status is not CampaignStatus.RUNNING \
                    or not campaign.recurrence or campaign.list_id is None:
                return None
            template = await templates.get(tx, owner_id, campaign.template_id or 0)
            recurrence = Recurrence.from_json(campaign.recurrence)
            zone = await self._zone(owner_id)
            starts_at = recurrence.next_after(now, zone)
            count = await repo.count_recipients(tx, owner_id, campaign.list_id)
            cost = count * CREDITS_PER_MESSAGE
            available = (await ledger.balance(tx, owner_id)).available
            if template is None or not count or cost > available:
                campaign.complete(now)
                campaign.status_reason = "no_credits" if cost > available else "no_recipients"
                await repo.save(tx, campaign, now)
                await self._event(tx, campaign, EventType.CAMPAIGN_FINISHED,
                                  campaign.status_reason)
                return None
            pacing = Pacing.from_json(campaign.pacing)
            schedule = plan(count, pacing, starts_at, campaign.seed + campaign.run + 1, zone,
                            senders=len(campaign.sender_ids),
                            variants=len(template.variants),
                            busy_until=await repo.senders_busy_until(tx, campaign.sender_ids),
                            **await self._capacity_of(tx, owner_id, campaign.sender_ids,
                                                      starts_at))
            campaign.next_run(starts_at)
            written = await repo.write_outbox(
                tx, campaign, campaign.run, campaign.list_id,
                [campaign.sender_ids[s] for s in schedule.sender], schedule.batch,
                schedule.variant, schedule.at, now)
            await billing.reserve(tx, owner_id, written * CREDITS_PER_MESSAGE, now,
                                  campaign_id=campaign.id, note=f"run {campaign.run + 1}")
            await repo.save(tx, campaign, now)
        return starts_at

    async def progress_message(self, owner_id: int, campaign_id: int) -> int | None:
        return await repo.progress_message(self._db.reader, owner_id, campaign_id)

    async def set_progress_message(self, owner_id: int, campaign_id: int,
                                   message_id: int | None) -> None:
        async with self._db.transaction() as tx:
            await repo.set_progress_message(tx, owner_id, campaign_id, message_id)

    async def resolve_uncertain(self, owner_id: int, campaign_id: int,
                                resend: bool) -> tuple[CampaignView, int]:
        """The owner decides about messages that may or may not have gone out: send them
        again, or count them as sent (charged). Returns the view and how many."""
        now = self._clock()
        async with self._db.transaction() as tx:
            campaign = await repo.get(tx, owner_id, campaign_id)
            if campaign is None or campaign.status is CampaignStatus.DRAFT:
                raise NotFound("campaign", campaign_id=campaign_id)
            if resend and campaign.status is CampaignStatus.CANCELLED:
                raise ValidationError("campaign_cancelled", where="campaign")
            count = await repo.set_uncertain(
                tx, owner_id, campaign_id,
                MessageStatus.QUEUED if resend else MessageStatus.SENT, now)
            if count and resend and campaign.status is CampaignStatus.COMPLETED:
                campaign.reopen()
                await repo.save(tx, campaign, now)
            if count and not resend:
                await billing.charge(tx, owner_id, count * CREDITS_PER_MESSAGE, now,
                                     campaign_id=campaign_id, note="counted as sent")
        return await self.view(owner_id, campaign_id), count

    # --- helpers --------------------------------------------------------------------------

    async def _transition(self, owner_id: int, campaign_id: int, change,
                          event: EventType | None = None) -> None:
        async with self._db.transaction() as tx:
            campaign = await repo.get(tx, owner_id, campaign_id)
            if campaign is None or campaign.status is CampaignStatus.DRAFT:
                raise NotFound("campaign", campaign_id=campaign_id)
            change(campaign)
            await repo.save(tx, campaign, self._clock())
            if event is not None:
                await self._event(tx, campaign, event, campaign.status_reason)

    async def _event(self, tx: Connection, campaign: Campaign, kind: EventType,
                     reason: str | None) -> None:
        if self._webhooks is not None:
            await self._webhooks.emit(tx, campaign.owner_id, kind,
                                      campaign_data(campaign, reason))

    async def _get(self, owner_id: int, campaign_id: int) -> Campaign:
        campaign = await repo.get(self._db.reader, owner_id, campaign_id)
        if campaign is None or campaign.status is CampaignStatus.DRAFT:
            raise NotFound("campaign", campaign_id=campaign_id)
        return campaign

    async def _require_draft(self, owner_id: int) -> CampaignDraft:
        draft = await repo.draft_of(self._db.reader, owner_id)
        if draft is None:
            raise NotFound("campaign_draft")
        return draft

    async def _step(self, draft: CampaignDraft, step: WizardStep) -> CampaignDraft:
        """Write the draft's answers with the step it goes to; the summary only once every
        answer it needs is there (a forged or stale button cannot strand a draft there)."""
        if step is WizardStep.SUMMARY and (draft.list_id is None or draft.template_id is None
                                           or draft.pacing is None or draft.start is None):
            raise ValidationError("incomplete", where="campaign")
        draft.step = step
        draft.left = False  # back at it
        async with self._db.transaction() as tx:
            await repo.save_draft(tx, draft, self._clock())
        return draft

    async def _sandbox_number(self, owner_id: int) -> None:
        """In the sandbox, the number an owner sends from until they add others
        (``senders.sandbox_default``, the one /numbers shows too; made once)."""
        if self._config.gateway == "sandbox":
            await sandbox_default(self._db, owner_id, self._clock())

    async def _zone(self, owner_id: int) -> ZoneInfo:
        owner = await owners.get(self._db.reader, owner_id)
        return ZoneInfo(zones.owner_zone(owner, self._config.default_timezone))

    async def _summary(self, draft: CampaignDraft, *, estimated: bool = True) -> Summary:
        """What confirming would do, from the draft's answers. Only reads."""
        owner_id = draft.owner_id
        start = draft.start
        if draft.list_id is None or draft.template_id is None or draft.pacing is None \
                or start is None:
            raise ValidationError("incomplete", where="campaign")
        contact_list = await lists.get(self._db.reader, owner_id, draft.list_id)
        template = await templates.get(self._db.reader, owner_id, draft.template_id)
        if contact_list is None or template is None:
            raise NotFound("campaign_part")
        usable = {s.id: s for s in await self.usable_senders(owner_id)}
        chosen = [usable[s] for s in draft.senders or [] if s in usable]
        if not chosen:
            raise ValidationError("no_senders", where="senders")
        _check_cloud(template, self._need_approved(chosen))
        zone = await self._zone(owner_id)
        now = self._clock()
        starts_at, recurrence = _start_of(start, zone, now)
        if start.kind is StartKind.AT and starts_at < now:
            raise ValidationError("in_past", where="when")
        pacing = Pacing.from_json(draft.pacing)
        members, opted_out = await repo.audience(self._db.reader, owner_id, draft.list_id)
        recipients = members - opted_out
        bare = sorted(set().union(*(compile_template(v).bare for v in template.variants)))
        caps = (await self._capacity(self._db.reader, chosen, starts_at))["caps"]
        # the estimate also gives the pre-flight check its window (cheap: ~40 ms for
        # 100,000), so the summary and Confirm judge the same plan
        window = estimate(recipients, pacing, starts_at, zone, senders=len(chosen),
                          busy_until=await repo.senders_busy_until(
                              self._db.reader, [s.id for s in chosen]), caps=caps)
        guess = window if estimated else None
        assessed = preflight.assess(await self._risk_facts(
            owner_id, draft.list_id, template, pacing, recipients, window, zone, chosen,
            caps), now)
        return Summary(
            draft=draft, contact_list=contact_list, template=template, senders=chosen,
            members=members, opted_out=opted_out, recipients=recipients,
            batches=math.ceil(recipients / pacing.batch_size) if recipients else 0,
            starts_at=starts_at,
            finish=guess.finish if guess else starts_at,
            recurrence=recurrence, pacing=pacing, preset=draft.preset or "custom",
            cost=recipients * CREDITS_PER_MESSAGE,
            balance=await ledger.balance(self._db.reader, owner_id),
            advice_max=self._config.advice_max, timezone=zone,
            first_send=guess.first if guess else None,
            cap_waits=guess.cap_waits if guess else 0,
            per_day=sum(c.at(starts_at.timestamp())[0] for c in caps),
            lacking=await repo.lacking_values(self._db.reader, owner_id, draft.list_id, bare),
            risk=assessed,
            added=[s for s in chosen if draft.original is not None
                   and s.id not in (draft.original.get("senders") or [s.id])],
        )

    async def _risk_facts(self, owner_id: int, list_id: int, template: Template,
                          pacing: Pacing, recipients: int, window: Estimate,
                          zone: ZoneInfo, chosen: Sequence[Sender],
                          caps: Sequence[DailyCap]) -> preflight.CampaignFacts:
        """What the pre-flight check looks at (``bot/storage/risk.py``: one query each)."""
        reader = self._db.reader
        now = self._clock().timestamp()
        never, unchecked = await risk_repo.cold_recipients(reader, owner_id, list_id,
                                                           now - preflight.CHECKS_VALID)
        zones_of: dict[str, int] = {}
        for phone, n in await risk_repo.phone_prefixes(reader, owner_id, list_id):
            key = preflight.phone_zone(phone)
            zones_of[key] = zones_of.get(key, 0) + n
        compiled = [compile_template(v) for v in template.variants]
        numbers = await self._number_facts(chosen, window.first, caps)
        return preflight.CampaignFacts(
            recipients=recipients, never_messaged=never, unchecked=unchecked,
            distinct_texts=sum(c.distinct_texts() for c in compiled),
            texts_with_links=sum(preflight.has_link(v) for v in template.variants),
            pacing=pacing, first=window.first, finish=window.finish, owner_zone=zone,
            zones=tuple(sorted(zones_of.items())), numbers=tuple(numbers))


    async def _number_facts(self, chosen: Sequence[Sender], starts_at: datetime,
                            caps: Sequence[DailyCap] | None = None,
                            ) -> builtins.list[preflight.NumberFacts]:
        """The numbers' history as the pre-flight check reads it: each one's cap and what
        counts against it (``caps``, else read for ``starts_at``), its messages of the
        last days (``bot/storage/risk.py``) and the health guard's mode, Meta's tier and
        quality (``bot/storage/health.py``)."""
        reader = self._db.reader
        if caps is None:
            caps = (await self._capacity(reader, chosen, starts_at))["caps"]
        ids = [s.id for s in chosen]
        history = await risk_repo.sender_history(
            reader, ids, self._clock().timestamp() - preflight.RECENT_DAYS * DAY)
        guards = await health.guards(reader, ids)
        numbers = []
        for sender, cap in zip(chosen, caps, strict=True):
            guard = guards.get(sender.id) or SenderGuard(sender.id)
            numbers.append(preflight.NumberFacts(
                sender.label or sender.phone, cap, *history.get(sender.id, (0, 0, 0)),
                tier=guard.tier, quality=guard.quality, mode=guard.mode))
        return numbers

    def _need_approved(self, chosen: Sequence[Sender]) -> builtins.list[Sender]:
        """The chosen numbers that may open a conversation only with an approved template."""
        gateway = self._gateway
        if gateway is None:
            return []
        return [s for s in chosen
                if gateway.capabilities(sender_ref(s)).needs_approved_template]

    async def _capacity(self, conn, chosen: Sequence[Sender], starts_at: datetime,
                        ) -> dict[str, builtins.list]:
        """``plan``'s ``caps`` of the numbers: each one's daily cap and warm-up, and the
        times of what already counts against it (sent in the 24 hours before the start or
        now, whichever is earlier; sending; queued by other campaigns)."""
        since = min(starts_at, self._clock()).timestamp() - DAY
        return {"caps": [self._sending.cap_of(sender,
                                              await outbox.counting_times(conn, sender.id, since))
                         for sender in chosen]}

    async def _capacity_of(self, conn, owner_id: int, sender_ids: Sequence[int],
                           starts_at: datetime) -> dict[str, builtins.list]:
        """``_capacity`` of a campaign's numbers by id (none if one is gone: take turns)."""
        found = {s.id: s for s in await senders.list_for_owner(conn, owner_id,
                                                               include_removed=True)}
        if any(i not in found for i in sender_ids):
            return {}
        return await self._capacity(conn, [found[i] for i in sender_ids], starts_at)


def _start_of(start: DraftStart, zone: ZoneInfo,
              now: datetime) -> tuple[datetime, Recurrence | None]:
    """When a draft's (first) run starts, and its recurrence if it repeats."""
    if start.kind is StartKind.AT and start.at is not None:
        return start.at, None
    if start.kind is StartKind.RECURRING and start.recurrence is not None:
        recurrence = Recurrence.from_json(start.recurrence)
        return recurrence.next_after(now, zone), recurrence
    return datetime.fromtimestamp(math.ceil(now.timestamp()) + NOW_LEAD_SECONDS, UTC), None


def _after_when(draft: CampaignDraft) -> WizardStep:
    """Where the wizard goes once it knows when: the pace, or, for a campaign run again
    (whose pace is the original's), straight to the summary."""
    return WizardStep.SUMMARY if draft.again is not None and draft.pacing is not None \
        else WizardStep.PACING


def _take_delay(custom: dict, text: str | None) -> None:
    custom["delay_min"], custom["delay_max"] = parse_range(text or "", "delay")


def _take_batch(custom: dict, text: str | None) -> None:
    if not (text or "").strip().isdigit():
        raise ValidationError("bad_number", where="batch")
    custom["batch_size"] = int((text or "").strip())


def _take_pause(custom: dict, text: str | None) -> None:
    custom["batch_pause_min"], custom["batch_pause_max"] = parse_range(
        text or "", "pause", unit=60.0)


def _take_quiet(custom: dict, text: str | None) -> None:
    custom["quiet"] = None if text is None else parse_quiet(text).to_json()


# A custom pace's questions: how each answer is taken, and the step after it.
_CUSTOM_QUESTIONS: dict[WizardStep, tuple[Callable[[dict, str | None], None], WizardStep]] = {
    WizardStep.CUSTOM_DELAY: (_take_delay, WizardStep.CUSTOM_BATCH),
    WizardStep.CUSTOM_BATCH: (_take_batch, WizardStep.CUSTOM_PAUSE),
    WizardStep.CUSTOM_PAUSE: (_take_pause, WizardStep.CUSTOM_QUIET),
    WizardStep.CUSTOM_QUIET: (_take_quiet, WizardStep.SUMMARY),
}


def _replace(summary: Summary, **changes) -> Summary:
    return replace(summary, **changes)



def _check_cloud(template: Template | None, cloud: list[Sender]) -> None:
    """``cloud``: the chosen numbers whose gateway ``needs_approved_template`` (Cloud API
    numbers may start a conversation only with a template Meta approved: outside the
    customer's 24-hour window free text is refused, error 131047)."""
    if cloud and template is not None and template.cloud is None:
        raise ValidationError("cloud_needs_template", where="senders",
                              number=cloud[0].label or cloud[0].phone, template=template.name)
