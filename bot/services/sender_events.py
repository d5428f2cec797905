"""Sender events: what a gateway says about one of our numbers, and the customers' replies
it brings.

- A number **banned** or **restricted** (WAHA's session status, Meta's quality and account
  updates, or the dispatcher's send answered ``sender_banned`` / ``sender_restricted``):
  ``lost`` marks it, and, when its owner allowed failover (/settings) and has another
  healthy number, moves its queued messages and its campaigns to that number, in the same
  transaction; otherwise the campaigns using it are paused. The owner is told either way
  (``SenderLost``, always sent: the alert's buttons remove the number and link a new one),
  then its post-mortem (``bot/services/post_mortem.py``: its last 48 hours, kept for
  /numbers) in a second notice, ``PostMortemReady``; a post-mortem that cannot be made is
  logged and never undoes the loss.
- A number **working** again after a ban or restriction is left as it is: never unbanned
  by itself (the owner re-links it or resumes); *stopped* changes nothing either.
- A customer's **reply** goes to the replies handler (``bot/services/replies.py``: opt-out
  words first, then the owner's chat).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.clock import Clock, utcnow
from bot.domain import Sender, SenderStatus
from bot.gateways.base import IncomingMessage, SenderState, SenderStateChanged
from bot.services.notify import Notifier, PostMortemReady, SenderLost
from bot.services.post_mortem import PostMortems
from bot.services.webhooks import EventType, WebhooksService, number_data
from bot.storage import campaigns as campaigns_repo
from bot.storage import health, outbox, owners, senders
from bot.storage.db import Database

log = logging.getLogger(__name__)

PauseCampaign = Callable[[int, int, str], Awaitable[bool]]  # (owner, campaign, reason): paused?
ReplyHandler = Callable[[IncomingMessage], Awaitable[object]]  # a customer's reply

LOST = {SenderState.BANNED: SenderStatus.BANNED, SenderState.RESTRICTED: SenderStatus.RESTRICTED}


class SenderEvents:
    def __init__(self, db: Database, notifier: Notifier, pause: PauseCampaign,
                 clock: Clock = utcnow, replies: ReplyHandler | None = None,
                 webhooks: WebhooksService | None = None,
                 post_mortems: PostMortems | None = None) -> None:
        """``pause`` pauses a campaign and updates its progress message (the dispatcher's:
        it paces those messages); ``replies`` takes the customers' replies; ``webhooks``
        writes a lost number's ``number.banned`` event with its new state;
        ``post_mortems`` builds and keeps a lost number's post-mortem (default: on the
        default sending policy)."""
        self.post_mortems = post_mortems or PostMortems(db, clock=clock)
        self._db = db
        self._webhooks = webhooks
        self._notifier = notifier
        self._pause = pause
        self._clock = clock
        self._replies = replies

    async def on_event(self, event: SenderStateChanged | IncomingMessage) -> None:
        if isinstance(event, SenderStateChanged):
            await self.state_changed(event)
        elif self._replies is not None:
            await self._replies(event)

    async def state_changed(self, event: SenderStateChanged) -> None:
        """A gateway's word on a number's health: banned or restricted is a loss, unless
        the number is in that state already; anything else changes nothing."""
        state = LOST.get(event.health.state)
        if state is None:
            return
        sender = await senders.get_any(self._db.reader, event.sender_id)
        if sender is None or sender.status is state:
            return
        await self.lost(sender.owner_id, sender.id, state, event.health.until,
                        sender.label or sender.phone)

    async def lost(self, owner_id: int, sender_id: int, state: SenderStatus,
                   until: datetime | None, label: str) -> None:
        """The number is ``state`` (banned or restricted, ``until`` when the gateway says):
        failover or its campaigns paused, and the owner told (see the module docstring)."""
        _alerts, failover = await owners.preferences(self._db.reader, owner_id)
        moved_to: Sender | None = None
        # one transaction: the number's new state, and its messages moved on failover
        async with self._db.transaction() as tx:
            await senders.set_status(tx, sender_id, state, self._clock(), until=until)
            await health.record_warning(tx, owner_id, sender_id, self._clock(), state.value,
                                        {"until": until.isoformat() if until else None})
            if self._webhooks is not None:
                sender = await senders.get_any(tx, sender_id)
                if sender is not None:
                    await self._webhooks.emit(tx, owner_id, EventType.NUMBER_BANNED,
                                              number_data(sender, state.value, until))
            affected = await campaigns_repo.using_sender(tx, sender_id)
            if failover:
                others = [s for s in await senders.list_for_owner(tx, owner_id)
                          if s.id != sender_id and s.status is SenderStatus.ACTIVE]
                if others:
                    moved_to = others[0]
                    await outbox.move_sender(tx, sender_id, moved_to.id,
                                             self._clock().timestamp())
                    await campaigns_repo.replace_sender(tx, sender_id, moved_to.id)
        if moved_to is not None:
            await self._notifier.notify(SenderLost(owner_id, sender_id, label, state.value, (),
                                                   until, moved_to=moved_to.label
                                                   or moved_to.phone))
        else:
            paused = []
            for campaign_owner, campaign_id in affected:
                if await self._pause(campaign_owner, campaign_id, f"sender_{state.value}"):
                    paused.append(campaign_id)
            await self._notifier.notify(SenderLost(owner_id, sender_id, label, state.value,
                                                   tuple(paused), until))
        await self._post_mortem(owner_id, sender_id, state, label)

    async def _post_mortem(self, owner_id: int, sender_id: int, state: SenderStatus,
                           label: str) -> None:
        """The lost number's post-mortem, kept and sent; a failure is only logged."""
        try:
            report = await self.post_mortems.record(owner_id, sender_id, state.value)
        except Exception:  # the loss is handled already: a report never undoes it
            log.exception("number %d: its post-mortem could not be made", sender_id)
            return
        if report is not None:
            await self._notifier.notify(PostMortemReady(owner_id, sender_id, label, report))
