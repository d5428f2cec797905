"""What services tell people, as data: the ``Notifier`` seam.

Services never talk to Telegram. They hand a ``Notice`` to a ``Notifier``; the bot's
implementation (``bot.handlers.notifier``) renders it in the recipient's language, tests
use ``tests.fakes.RecordingNotifier``. A notifier never raises: a recipient who blocked the
bot must not undo the work that produced the notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.domain import CampaignProgress, Owner


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


Notice = (RegistrationRequested | OwnerStatusChanged | BalanceChanged | ImportInterrupted
          | CampaignUpdate | SenderLost | LowBalance | ReplyToDecide | WebhookFailing)


class Notifier(Protocol):
    async def notify(self, notice: Notice) -> None: ...
