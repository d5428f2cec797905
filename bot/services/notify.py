"""What services tell people, as data: the ``Notifier`` seam.

Services never talk to Telegram. They hand a ``Notice`` to a ``Notifier``; the bot's
implementation (``bot.handlers.notifier``) renders it in the recipient's language, tests
use ``tests.fakes.RecordingNotifier``. A notifier never raises: a recipient who blocked the
bot must not undo the work that produced the notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot.domain import CampaignProgress, Order, Owner
from bot.gateways.base import Media

if TYPE_CHECKING:
    from bot.services.post_mortem import PostMortem


@dataclass(frozen=True, slots=True)
class RegistrationRequested:
    """A new owner waits for approval; goes to every admin."""

    owner: Owner
    admin_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class OwnerStatusChanged:
    """An admin approved, rejected, suspended or unsuspended the owner; goes to the owner."""

    owner: Owner


@dataclass(frozen=True, slots=True)
class BalanceChanged:
    """An admin credited the owner (``amount`` > 0) or corrected their credits (< 0);
    goes to the owner."""

    owner: Owner
    amount: int
    available: int


@dataclass(frozen=True, slots=True)
class CreditsExpiring:
    """``credits`` of the owner's (one lot's) lapse at ``at`` unless spent first; goes to
    the owner ``billing.WARN_BEFORE`` ahead, once per lot."""

    owner: Owner
    credits: int
    at: datetime


@dataclass(frozen=True, slots=True)
class ImportInterrupted:
    """The bot stopped during an import; nothing of it was written. Goes to the owner."""

    owner: Owner
    file_name: str


@dataclass(frozen=True, slots=True)
class CampaignUpdate:
    """A campaign started, moved on, was paused or finished; goes to its owner.

    ``kind``: ``started``, ``progress``, ``paused`` (``reason``: ``failure_spike``,
    ``sender_banned``, ``sender_restricted``), ``finished``, ``replanned`` (a cap pushed
    its end to ``finish``)."""

    owner_id: int
    campaign_id: int
    kind: str
    progress: CampaignProgress
    name: str = ""
    reason: str | None = None
    finish: datetime | None = None
    alert: bool = True  # besides updating the progress message, send an alert (if any)


@dataclass(frozen=True, slots=True)
class SenderLost:
    """A number was banned or restricted; its campaigns are paused. Always sent."""

    owner_id: int
    sender_id: int
    sender_label: str
    state: str  # "banned" | "restricted"
    campaign_ids: tuple[int, ...]
    until: datetime | None = None
    moved_to: str | None = None  # failover: the number its campaigns continue on


@dataclass(frozen=True, slots=True)
class PostMortemReady:
    """A lost number's post-mortem (``bot/services/post_mortem.py``): its last 48 hours
    and what the safe plan would have done otherwise; sent right after ``SenderLost``."""

    owner_id: int
    sender_id: int
    sender_label: str
    report: PostMortem


@dataclass(frozen=True, slots=True)
class SenderWarned:
    """The live health guard changed how a number sends, or a warning lifted
    (``bot/services/health_guard.py``); once per change. ``kind`` is the
    ``sender_warnings`` kind (capping_first_warning, capping_second_warning,
    capping_cleared, quality_yellow, quality_green, tier_changed, slowed, eased)."""

    owner_id: int
    sender_id: int
    sender_label: str
    kind: str
    mode: str  # the number's mode now: normal | slowed | no_new_chats | paused
    gap_factor: float
    tier: int | None = None
    tier_before: int | None = None


@dataclass(frozen=True, slots=True)
class LowBalance:
    """Sending took the owner's available credits below the threshold."""

    owner_id: int
    available: int
    threshold: int


@dataclass(frozen=True, slots=True)
class ReplyToDecide:
    """A customer's reply mentions stopping, in more words than a stop word: the owner
    decides (opt the number out, or keep it)."""

    owner_id: int
    phone: str
    text: str  # an excerpt of the reply, shown to the owner only (never logged)


@dataclass(frozen=True, slots=True)
class WebhookFailing:
    """An endpoint's events went undelivered for 24 hours and were dropped
    (``bot/services/webhooks.py``); goes to its owner, once until it delivers again."""

    owner_id: int
    endpoint_id: int
    url: str
    dropped: int


@dataclass(frozen=True, slots=True)
class TransferRejected:
    """An admin rejected the owner's payment by transfer (``order.reason`` says why; a
    confirmed one is ``PaymentReceived``); goes to the owner (``bot/services/transfers.py``)."""

    owner: Owner
    order: Order


@dataclass(frozen=True, slots=True)
class TransferExpired:
    """The owner's transfer order got no receipt in ``days`` days and expired."""

    owner: Owner
    order: Order
    days: int


@dataclass(frozen=True, slots=True)
class StarsRefunded:
    """An admin gave the Stars of the owner's order back (``/refund``): ``taken`` of its
    credits were taken back (the rest had been spent), ``available`` is what the owner has
    now; goes to the owner (``bot/services/orders.py``)."""

    owner: Owner
    order: Order
    taken: int
    available: int


@dataclass(frozen=True, slots=True)
class PaymentReceived:
    """The owner's order ``order_id`` is paid and its credits are in (Telegram Stars, or a
    transfer an admin confirmed); goes to the owner: a message, then the receipt as PDF
    (``bot/handlers/invoices.py``)."""

    owner: Owner
    order_id: int


@dataclass(frozen=True, slots=True)
class CustomerWrote:
    """A customer's message to one of the owner's numbers (``bot/services/inbox.py``): in
    chat mode it goes to the owner's chat (with *Reply*, *Opt out*, *Mute*); in topics mode
    the same is posted in the customer's forum topic (``group_chat_id``/``thread_id``).

    ``name`` is the contact's (else the name the customer gave WhatsApp); ``number`` the
    owner's number it came to; ``campaign`` the campaign it answered. ``media`` is the
    attachment, fetched from the gateway (``media_missing``: it had one that could not
    be); a location is ``geo`` (latitude, longitude) with its name and address as
    ``text``."""

    owner_id: int
    inbound_id: int
    conversation_id: int
    phone: str
    name: str | None
    number: str
    campaign: str | None
    kind: str
    text: str
    at: datetime
    media: Media | None = None
    media_missing: bool = False
    geo: tuple[float, float] | None = None
    group_chat_id: int | None = None
    thread_id: int | None = None


@dataclass(frozen=True, slots=True)
class AutomationPaused:
    """The owner's automation paused by itself (``reason``: ``balance``, it met an empty
    balance); goes to the owner once, when it pauses (``bot/services/automations.py``)."""

    owner_id: int
    automation_id: int
    name: str
    reason: str


Notice = (RegistrationRequested | OwnerStatusChanged | BalanceChanged | ImportInterrupted
          | CampaignUpdate | SenderLost | LowBalance | ReplyToDecide | WebhookFailing
          | PostMortemReady
          | CreditsExpiring | TransferRejected | TransferExpired | StarsRefunded
          | PaymentReceived | CustomerWrote | AutomationPaused | SenderWarned)


class Notifier(Protocol):
    async def notify(self, notice: Notice) -> None: ...
