"""The domain of Qasid: plain dataclasses and enums, no I/O.

Datetimes are timezone-aware UTC. State transitions live on the entities and raise
``InvalidTransition`` when refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Self

from bot.errors import InvalidTransition


class Language(StrEnum):
    EN = "en"
    AZ = "az"
    RU = "ru"

    @classmethod
    def from_telegram(cls, code: str | None) -> Language:
        """Pick the language from Telegram's ``language_code`` (``ru``, ``az``, ``en-GB``...)."""
        base = (code or "").split("-")[0].lower()
        try:
            return cls(base)
        except ValueError:
            return cls.EN


class OwnerStatus(StrEnum):
    REGISTERING = "registering"  # answering the /start questions
    PENDING = "pending"  # waiting for an admin
    ACTIVE = "active"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class RegistrationStep(StrEnum):
    NAME = "name"
    COMPANY = "company"
    PHONE = "phone"
    TERMS = "terms"
    DONE = "done"


@dataclass(slots=True)
class Owner:
    id: int
    telegram_id: int
    chat_id: int
    language: Language
    status: OwnerStatus
    created_at: datetime
    name: str | None = None
    company: str | None = None
    phone: str | None = None
    timezone: str | None = None
    region: str | None = None
    status_reason: str | None = None
    terms_accepted_at: datetime | None = None
    approved_at: datetime | None = None

    @property
    def registration_step(self) -> RegistrationStep:
        """The next question of the registration; derived from what is filled in."""
        if self.status is not OwnerStatus.REGISTERING:
            return RegistrationStep.DONE
        if not self.name:
            return RegistrationStep.NAME
        if not self.company:
            return RegistrationStep.COMPANY
        if not self.phone:
            return RegistrationStep.PHONE
        return RegistrationStep.TERMS

    @property
    def is_active(self) -> bool:
        return self.status is OwnerStatus.ACTIVE

    def _move(self, wanted: OwnerStatus, allowed_from: set[OwnerStatus]) -> None:
        if self.status not in allowed_from:
            raise InvalidTransition("owner", self.status, wanted)
        self.status = wanted

    def submit(self, accepted_at: datetime, *, needs_approval: bool) -> None:
        if self.registration_step is not RegistrationStep.TERMS:
            raise InvalidTransition("owner", self.status, OwnerStatus.PENDING)
        self.terms_accepted_at = accepted_at
        if needs_approval:
            self._move(OwnerStatus.PENDING, {OwnerStatus.REGISTERING})
        else:
            self._move(OwnerStatus.ACTIVE, {OwnerStatus.REGISTERING})
            self.approved_at = accepted_at

    def approve(self, at: datetime) -> None:
        self._move(OwnerStatus.ACTIVE, {OwnerStatus.PENDING, OwnerStatus.REJECTED})
        self.approved_at = at
        self.status_reason = None

    def reject(self, reason: str | None = None) -> None:
        self._move(OwnerStatus.REJECTED, {OwnerStatus.PENDING})
        self.status_reason = reason

    def suspend(self, reason: str | None = None) -> None:
        self._move(OwnerStatus.SUSPENDED, {OwnerStatus.ACTIVE, OwnerStatus.PENDING})
        self.status_reason = reason

    def unsuspend(self) -> None:
        self._move(OwnerStatus.ACTIVE, {OwnerStatus.SUSPENDED})
        self.status_reason = None


class SenderStatus(StrEnum):
    LINKING = "linking"
    ACTIVE = "active"
    RESTRICTED = "restricted"
    BANNED = "banned"
    REMOVED = "removed"


@dataclass(slots=True)
class Sender:
    """A linked WhatsApp number of an owner."""

    id: int
    owner_id: int
    gateway: str
    phone: str
    status: SenderStatus
    created_at: datetime
    label: str | None = None
    external_id: str | None = None  # WAHA session name, Cloud phone-number id, ...
    daily_cap: int | None = None
    status_detail: str | None = None
    linked_at: datetime | None = None
    restricted_until: datetime | None = None


class GuardMode(StrEnum):
    """How the live health guard (bot/services/health_guard.py) lets a number send."""

    NORMAL = "normal"
    SLOWED = "slowed"  # gaps multiplied by gap_factor
    NO_NEW_CHATS = "no_new_chats"  # only phones this number already messaged
    PAUSED = "paused"  # nothing sent


@dataclass(frozen=True, slots=True)
class SenderGuard:
    """The guard's standing for one number (``sender_guard``; a missing row is this
    default): its mode, the factor its gaps are multiplied by (>= 1) and the gateway's
    last early-warning figures."""

    sender_id: int
    mode: str = "normal"
    gap_factor: float = 1.0
    capping: str | None = None
    quality: str | None = None
    tier: int | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SenderWarning:
    """One change the guard saw or made on a number (``sender_warnings``): kinds
    capping_first_warning, capping_second_warning, capped, capping_cleared, timelock,
    quality_yellow, quality_red, quality_green, tier_changed, slowed, eased, restricted,
    banned."""

    sender_id: int
    at: datetime
    kind: str
    detail: dict[str, Any]


@dataclass(slots=True)
class Contact:
    id: int
    owner_id: int
    phone: str  # E.164
    name: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    opted_out_at: datetime | None = None
    opt_out_reason: str | None = None


@dataclass(slots=True)
class ContactList:
    id: int
    owner_id: int
    name: str
    created_at: datetime
    size: int = 0
    opted_out: int = 0
    variables: list[str] = field(default_factory=list)  # attribute columns its contacts have


@dataclass(slots=True)
class Template:
    id: int
    owner_id: int
    name: str
    variants: list[str] = field(default_factory=list)
    media_kind: str | None = None  # "image" | "document"
    media_file_id: str | None = None
    cloud: CloudTemplate | None = None  # its approved twin, for Cloud API numbers


@dataclass(frozen=True, slots=True)
class CloudTemplate:
    """A template Meta approved: what a Cloud API number sends instead of free text."""

    name: str
    language: str  # Meta's code: az, ru, en_US, ...
    params: tuple[str, ...] = ()  # our variables filling {{1}}, {{2}}, ... in order


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)


@dataclass(slots=True)
class Campaign:
    """A campaign; while ``draft``, the wizard's answers so far are a ``CampaignDraft``."""

    id: int
    owner_id: int
    name: str
    status: CampaignStatus
    created_at: datetime
    list_id: int | None = None
    template_id: int | None = None
    starts_at: datetime | None = None
    recurrence: dict | None = None
    pacing: dict = field(default_factory=dict)
    seed: int = 0
    run: int = 0
    sender_ids: list[int] = field(default_factory=list)
    status_reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def _move(self, wanted: CampaignStatus, allowed_from: set[CampaignStatus]) -> None:
        if self.status not in allowed_from:
            raise InvalidTransition("campaign", self.status.value, wanted.value)
        self.status = wanted

    def schedule(self, starts_at: datetime) -> None:
        self._move(CampaignStatus.SCHEDULED, {CampaignStatus.DRAFT})
        self.starts_at = starts_at

    def start(self, at: datetime) -> None:
        self._move(CampaignStatus.RUNNING, {CampaignStatus.SCHEDULED})
        self.started_at = self.started_at or at

    def pause(self, reason: str | None = None) -> None:
        self._move(CampaignStatus.PAUSED, {CampaignStatus.SCHEDULED, CampaignStatus.RUNNING})
        self.status_reason = reason

    def resume(self) -> None:
        wanted = CampaignStatus.RUNNING if self.started_at else CampaignStatus.SCHEDULED
        self._move(wanted, {CampaignStatus.PAUSED})
        self.status_reason = None

    def cancel(self, at: datetime) -> None:
        self._move(CampaignStatus.CANCELLED, {CampaignStatus.SCHEDULED, CampaignStatus.RUNNING,
                                              CampaignStatus.PAUSED})
        self.finished_at = at

    def complete(self, at: datetime) -> None:
        self._move(CampaignStatus.COMPLETED, {CampaignStatus.RUNNING})
        self.finished_at = at

    def next_run(self, starts_at: datetime) -> None:
        """A recurring campaign's run is over: the next one is scheduled."""
        self._move(CampaignStatus.SCHEDULED, {CampaignStatus.RUNNING})
        self.run += 1
        self.starts_at = starts_at

    def reopen(self) -> None:
        """A completed campaign runs again to resend the messages whose fate was unknown."""
        self._move(CampaignStatus.RUNNING, {CampaignStatus.COMPLETED})
        self.finished_at = None


class WizardStep(StrEnum):
    """Where the campaign wizard is. The values are stored with the draft (and are PTB's
    conversation states): never rename one."""

    LIST = "list"
    TEMPLATE = "template"
    SENDERS = "senders"
    WHEN = "when"
    WHEN_AT = "when_at"
    RECURRING_DAYS = "recurring_days"
    RECURRING_TIME = "recurring_time"
    PACING = "pacing"
    CUSTOM_DELAY = "custom_delay"
    CUSTOM_BATCH = "custom_batch"
    CUSTOM_PAUSE = "custom_pause"
    CUSTOM_QUIET = "custom_quiet"
    SUMMARY = "summary"
    CONFIRM_BIG = "confirm_big"
    NAME = "name"  # the campaign's own name, typed (the summary's *Rename*)


@dataclass(frozen=True, slots=True)
class StepRule:
    number: int  # the owner reads "Step n of WIZARD_STEPS_SHOWN"
    back: WizardStep  # where *Back* goes (the first step has none: itself)
    editable: bool = False  # a main step the summary's *Edit* jumps back to


WIZARD_STEPS_SHOWN = 6
# The wizard in one table, in order: list -> template -> senders -> when [-> when_at |
# recurring_days -> recurring_time] -> pacing [-> custom_delay -> custom_batch ->
# custom_pause -> custom_quiet] -> summary [-> confirm_big | name]. A campaign run again
# starts at ``when`` with the rest answered, and goes from there to the summary.
WIZARD: Mapping[WizardStep, StepRule] = {
    WizardStep.LIST: StepRule(1, WizardStep.LIST, editable=True),
    WizardStep.TEMPLATE: StepRule(2, WizardStep.LIST, editable=True),
    WizardStep.SENDERS: StepRule(3, WizardStep.TEMPLATE, editable=True),
    WizardStep.WHEN: StepRule(4, WizardStep.SENDERS, editable=True),
    WizardStep.WHEN_AT: StepRule(4, WizardStep.WHEN),
    WizardStep.RECURRING_DAYS: StepRule(4, WizardStep.WHEN),
    WizardStep.RECURRING_TIME: StepRule(4, WizardStep.WHEN),
    WizardStep.PACING: StepRule(5, WizardStep.WHEN, editable=True),
    WizardStep.CUSTOM_DELAY: StepRule(5, WizardStep.PACING),
    WizardStep.CUSTOM_BATCH: StepRule(5, WizardStep.CUSTOM_DELAY),
    WizardStep.CUSTOM_PAUSE: StepRule(5, WizardStep.CUSTOM_BATCH),
    WizardStep.CUSTOM_QUIET: StepRule(5, WizardStep.CUSTOM_PAUSE),
    WizardStep.SUMMARY: StepRule(6, WizardStep.PACING, editable=True),
    WizardStep.CONFIRM_BIG: StepRule(6, WizardStep.SUMMARY),
    WizardStep.NAME: StepRule(6, WizardStep.SUMMARY),
}


class StartKind(StrEnum):
    NOW = "now"
    AT = "at"
    RECURRING = "recurring"


@dataclass(frozen=True, slots=True)
class DraftStart:
    """When the drafted campaign starts."""

    kind: StartKind
    at: datetime | None = None  # ``at``: the moment
    recurrence: dict | None = None  # ``recurring``: ``Recurrence.to_json()``


@dataclass(slots=True)
class CampaignDraft:
    """The campaign wizard's answers so far, the step it is at included: a campaign in
    status ``draft`` (its list and template in the row, the rest stored as JSON), so a
    restart or a day away resumes where the owner was."""

    id: int
    owner_id: int
    step: WizardStep = WizardStep.LIST
    list_id: int | None = None
    template_id: int | None = None
    senders: list[int] | None = None  # the chosen numbers (None: not offered yet)
    start: DraftStart | None = None
    repeat_every: str | None = None  # "day" or "week": a recurring start being set up
    weekdays: list[int] = field(default_factory=list)  # its days (0 is Monday)
    preset: str | None = None  # "safe", "normal", "fast" or "custom"
    pacing: dict | None = None  # the chosen pace, ``Pacing.to_json()``
    custom: dict | None = None  # a custom pace's answers so far, ``Pacing.to_json()``
    left: bool = False  # the owner typed a command: kept, not resumed at start-up
    name: str = ""  # the owner's name for it ("": its list's and template's)
    again: int | None = None  # the campaign it runs again (*Run again*), if it does
    # the pace and numbers before *Safe plan* rewrote them, {"preset": ..., "pacing": ...,
    # "senders": [...]} ("senders" dropped once the owner chooses numbers again), so
    # *Original plan* brings them back (None: the pace is the owner's own)
    original: dict | None = None

    def back(self) -> WizardStep:
        """Where *Back* goes from here: the table's step, but a custom pace's summary
        goes back to its last question."""
        if self.step is WizardStep.SUMMARY and self.preset == "custom":
            return WizardStep.CUSTOM_QUIET
        return WIZARD[self.step].back


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    SKIPPED = "skipped"


# The one counting rule of every screen (live progress, Details, /campaigns, the final
# summary, /stats and its chart): a message counts as *sent* once the gateway accepted it,
# whatever came after (sent, delivered or read), and as *delivered* once delivered or read.
SENT_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ)
DELIVERED_STATUSES = (MessageStatus.DELIVERED, MessageStatus.READ)


@dataclass(frozen=True, slots=True)
class Message:
    """One message of the outbox as its owner (and the HTTP API) sees it: a campaign's, or
    a single one sent by API (``campaign_id`` None)."""

    id: int
    owner_id: int
    phone: str
    status: MessageStatus
    planned_at: datetime
    updated_at: datetime
    campaign_id: int | None = None
    sender_id: int | None = None
    contact_id: int | None = None
    client_ref: str | None = None
    attempts: int = 0
    queued_at: datetime | None = None  # None for rows older than the API
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    error_category: str | None = None
    error_detail: str | None = None

    @property
    def history(self) -> list[tuple[MessageStatus, datetime]]:
        """The states it went through, with their times, oldest first: queued, sent,
        delivered, read as recorded; then where it is now if that is none of them (being
        sent, failed, uncertain, skipped: since its last change)."""
        steps: list[tuple[MessageStatus, datetime]] = []
        for status, at in ((MessageStatus.QUEUED, self.queued_at),
                           (MessageStatus.SENT, self.sent_at),
                           (MessageStatus.DELIVERED, self.delivered_at),
                           (MessageStatus.READ, self.read_at)):
            if at is not None:
                steps.append((status, at))
        if self.status not in (s for s, _ in steps) and self.status is not MessageStatus.QUEUED:
            steps.append((self.status, self.updated_at))
        return steps


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message a customer sent to one of the owner's numbers (``inbound_messages``):
    ``message_id`` / ``campaign_id`` the campaign message it answered (the last one that
    number sent to that phone), None when it answered none."""

    id: int
    owner_id: int
    sender_id: int
    phone: str
    received_at: datetime
    kind: str = "text"  # text, image, document, audio, voice, video, location, contact, ...
    text: str | None = None  # the body, or an attachment's caption
    media_ref: str | None = None  # the gateway's reference of an attachment
    gateway_message_id: str | None = None
    contact_id: int | None = None
    message_id: int | None = None
    campaign_id: int | None = None


class InboxMode(StrEnum):
    """Where an owner reads their customers' messages (``bot/services/inbox.py``)."""

    CHAT = "chat"  # in the owner's own chat with the bot
    TOPICS = "topics"  # a forum topic per customer in a linked Telegram group


@dataclass(frozen=True, slots=True)
class InboxSettings:
    owner_id: int
    mode: InboxMode = InboxMode.CHAT
    group_chat_id: int | None = None  # the linked forum group (topics)
    group_title: str | None = None
    linked_at: datetime | None = None

    @property
    def topics(self) -> bool:
        """Customers' messages go to forum topics (a group is linked and chosen)."""
        return self.mode is InboxMode.TOPICS and self.group_chat_id is not None


@dataclass(frozen=True, slots=True)
class Conversation:
    """An owner's conversation with one customer's phone: its forum topic, once it has
    one, and whether the owner muted it."""

    id: int
    owner_id: int
    phone: str
    created_at: datetime
    group_chat_id: int | None = None
    thread_id: int | None = None
    muted_at: datetime | None = None


def rate(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` (0..1), or None when there is nothing to divide."""
    return part / whole if whole else None


class Rates:
    """The shares every screen shows, of anything that counts ``sent`` (delivered and read
    included), ``delivered``, ``read`` and ``failed`` as ``Tally`` does: delivered and read
    of what was sent, failed of what was tried."""

    __slots__ = ()
    sent: int
    delivered: int
    read: int
    failed: int

    @property
    def delivered_rate(self) -> float | None:
        return rate(self.delivered, self.sent)

    @property
    def read_rate(self) -> float | None:
        return rate(self.read, self.sent)

    @property
    def failed_rate(self) -> float | None:
        return rate(self.failed, self.sent + self.failed)


@dataclass(frozen=True, slots=True)
class Tally(Rates):
    """Messages as the owner counts them (``SENT_STATUSES``, ``DELIVERED_STATUSES``):
    ``sent`` includes the delivered and read ones, ``delivered`` the read ones; ``queued``
    is what has not gone out yet (waiting, or being sent right now); ``failed``,
    ``uncertain`` (may or may not have gone out) and ``skipped`` (never sent)."""

    total: int = 0
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    uncertain: int = 0
    skipped: int = 0

    @classmethod
    def of(cls, counts: Mapping[str, int], **more: Any) -> Self:
        """From the number of messages in each outbox status (``more``: a subclass's own
        fields)."""
        return cls(
            total=sum(counts.values()),
            queued=counts.get(MessageStatus.QUEUED, 0) + counts.get(MessageStatus.SENDING, 0),
            sent=sum(counts.get(s, 0) for s in SENT_STATUSES),
            delivered=sum(counts.get(s, 0) for s in DELIVERED_STATUSES),
            read=counts.get(MessageStatus.READ, 0),
            failed=counts.get(MessageStatus.FAILED, 0),
            uncertain=counts.get(MessageStatus.UNCERTAIN, 0),
            skipped=counts.get(MessageStatus.SKIPPED, 0),
            **more,
        )


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    """How a campaign's messages stand (all runs), by outbox status; ``tally`` counts
    them as the owner is shown them."""

    total: int = 0
    queued: int = 0
    sending: int = 0
    sent: int = 0  # accepted by the gateway, no receipt yet
    delivered: int = 0
    read: int = 0
    failed: int = 0
    uncertain: int = 0
    skipped: int = 0

    @property
    def tally(self) -> Tally:
        return Tally.of({"queued": self.queued, "sending": self.sending, "sent": self.sent,
                         "delivered": self.delivered, "read": self.read,
                         "failed": self.failed, "uncertain": self.uncertain,
                         "skipped": self.skipped})

    @property
    def done(self) -> int:
        """Messages that went out (sent, delivered or read): the tally's ``sent``."""
        return self.tally.sent

    @property
    def unsent(self) -> int:
        return self.queued + self.sending


class LedgerKind(StrEnum):
    CREDIT = "credit"  # an admin credited a payment
    RESERVE = "reserve"  # held for a confirmed campaign
    RELEASE = "release"  # a reservation given back
    CHARGE = "charge"  # a message accepted by the gateway
    EXPIRE = "expire"  # a package's credits ran out of time
    ADJUST = "adjust"  # an admin's correction


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    owner_id: int
    kind: LedgerKind
    amount: int
    created_at: datetime
    note: str | None = None
    campaign_id: int | None = None


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """A line of the owner's balance history: one ledger row, or all of one campaign's
    rows folded together (``kind`` None), so that the lines add up to the balance.
    ``amount`` is what the line did to the balance: a campaign's is what it spent."""

    kind: LedgerKind | None
    amount: int
    created_at: datetime  # the latest row's
    note: str | None = None
    campaign_id: int | None = None
    campaign_name: str | None = None
    reserved: int = 0  # a campaign's credits held at confirm (and for resends)
    spent: int = 0  # charged: messages the gateway accepted
    returned: int = 0  # given back: failed, skipped, cancelled

    @property
    def held(self) -> int:
        """Still reserved for the campaign."""
        return self.reserved - self.spent - self.returned


@dataclass(frozen=True, slots=True)
class Balance:
    """Credits of an owner: ``total`` owned, of which ``reserved`` are held by campaigns."""

    total: int
    reserved: int

    @property
    def available(self) -> int:
        return self.total - self.reserved


@dataclass(frozen=True, slots=True)
class Package:
    """Credits an admin sells (``/packages``): ``price_minor`` in ``currency`` (minor
    units: qəpik for AZN; 0: not sold for money) and ``price_stars`` in Telegram Stars (0:
    not sold for Stars). Its credits expire ``validity_days`` after the purchase (0:
    never). Hidden packages (``active`` False) are not offered; their orders stay."""

    id: int
    name: str
    credits: int
    validity_days: int
    price_minor: int
    currency: str
    price_stars: int
    active: bool
    created_at: datetime
    updated_at: datetime | None = None

    @property
    def for_stars(self) -> bool:
        return self.price_stars > 0

    @property
    def for_money(self) -> bool:
        return self.price_minor > 0

    @property
    def minor_per_message(self) -> Decimal:
        """What one message costs, in minor units of ``currency`` (one credit a message)."""
        return Decimal(self.price_minor) / self.credits

    @property
    def stars_per_message(self) -> Decimal:
        return Decimal(self.price_stars) / self.credits


class OrderMethod(StrEnum):
    STARS = "stars"  # Telegram Stars, paid inside Telegram
    TRANSFER = "transfer"  # a bank transfer or card outside Telegram, confirmed by an admin


class OrderStatus(StrEnum):
    OPEN = "open"  # waiting for the payment (a transfer: for its receipt)
    SUBMITTED = "submitted"  # a transfer's receipt sent: an admin confirms or rejects
    PAID = "paid"  # credited (once)
    REJECTED = "rejected"  # an admin said why (``reason``)
    EXPIRED = "expired"  # not paid in time
    CANCELLED = "cancelled"  # by the owner, before paying
    REFUNDED = "refunded"  # Stars given back by an admin


@dataclass(frozen=True, slots=True)
class Order:
    """An owner's order of a package (migration 0013): what was ordered is copied from
    the package (``credits``, ``validity_days``, the price as ``amount_minor`` in
    ``currency``: minor units, or Stars in ``XTR``), so editing the package later changes
    no order. ``reference`` is unique: the payment's purpose and the receipt's number."""

    id: int
    owner_id: int
    package_id: int
    method: OrderMethod
    status: OrderStatus
    reference: str
    credits: int
    validity_days: int  # 0: the credits never expire
    amount_minor: int
    currency: str
    created_at: datetime
    package_name: str = ""
    expires_at: datetime | None = None  # an open order not paid by then expires
    receipt_file_id: str | None = None  # a transfer's photo or PDF, as Telegram keeps it
    receipt_kind: str | None = None  # "photo" or "document"
    decided_by: int | None = None  # the Telegram id of the admin who confirmed or rejected
    reason: str | None = None
    paid_at: datetime | None = None
    decided_at: datetime | None = None
    telegram_charge_id: str | None = None
    provider_charge_id: str | None = None


class Scope(StrEnum):
    """What an API key may do: read or write one area. A write scope implies the read
    scope of its area (``Scope.with_implied``)."""

    CONTACTS_READ = "contacts:read"
    CONTACTS_WRITE = "contacts:write"
    MESSAGES_READ = "messages:read"
    MESSAGES_WRITE = "messages:write"
    CAMPAIGNS_READ = "campaigns:read"
    CAMPAIGNS_WRITE = "campaigns:write"
    STATS_READ = "stats:read"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"

    @property
    def area(self) -> str:
        """``contacts``, ``messages``, ``campaigns``, ``stats`` or ``webhooks``."""
        return self.value.partition(":")[0]

    @property
    def writes(self) -> bool:
        return self.value.endswith(":write")

    @property
    def reading(self) -> Scope:
        """The read scope of the same area (itself for a read scope)."""
        return Scope(f"{self.area}:read")

    @classmethod
    def with_implied(cls, scopes: Iterable[Scope]) -> frozenset[Scope]:
        """The scopes, and the read scope each write scope implies."""
        return frozenset(s for scope in scopes for s in (scope, scope.reading))

    @classmethod
    def parse(cls, text: str) -> frozenset[Scope]:
        """Space-separated values as stored; one this version does not know is left out."""
        known = {scope.value: scope for scope in cls}
        return frozenset(known[word] for word in text.split() if word in known)

    @staticmethod
    def dump(scopes: Iterable[Scope]) -> str:
        """As stored: space-separated, in the enum's order."""
        chosen = set(scopes)
        return " ".join(scope.value for scope in Scope if scope in chosen)


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """An API key as its owner sees it: never the secret, only its prefix
    (``qsd_1a2b3c4d``); ``scopes`` include the reads that its writes imply."""

    id: int
    owner_id: int
    name: str
    prefix: str
    scopes: frozenset[Scope]
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class ApiKeyDraft:
    """A key being made in the chat: its name typed, its scopes being chosen."""

    owner_id: int
    name: str
    scopes: frozenset[Scope] = frozenset()


@dataclass(frozen=True, slots=True)
class ApiPrincipal:
    """Who an API request is: the owner behind a valid key, and what the key may do
    (``scopes`` include the reads its writes imply)."""

    owner_id: int
    key_id: int
    prefix: str
    scopes: frozenset[Scope]

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes


class AutomationKind(StrEnum):
    SEQUENCE = "sequence"  # steps after a contact joins a list
    DATE = "date"  # a template N days before/on/after a date column of the contacts
    KEYWORD = "keyword"  # an answer to a customer's message that matches a word


class AutomationState(StrEnum):
    ON = "on"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class Automation:
    """A standing rule of an owner's that produces outbox messages by itself
    (``bot/services/automations.py``); ``config`` is its kind's own settings (JSON in its
    row); ``paused_reason``: ``owner`` or ``balance`` while paused."""

    id: int
    owner_id: int
    kind: str
    name: str
    state: str
    paused_reason: str | None
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @property
    def on(self) -> bool:
        return self.state == AutomationState.ON
