"""Alerts: what the owner is told while campaigns send, filtered by their /settings.

The dispatcher hands every campaign update and sender loss to ``Alerts``; the live progress
message is always kept up to date, but the separate alert messages follow the owner's
choices: *campaign finished*, *failure spike* and *low balance* can be turned off; a banned
or restricted number is always reported. ``Alerts`` is itself a ``Notifier`` (the one the
dispatcher gets), and passes what it keeps to the bot's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.clock import Clock, utcnow
from bot.services.notify import CampaignUpdate, LowBalance, Notice, Notifier
from bot.storage import owners
from bot.storage.db import Database

CHOICES = ("finished", "failure_spike", "low_balance")  # the alerts an owner may turn off


@dataclass(frozen=True, slots=True)
class Preferences:
    alerts: dict[str, bool]
    failover: bool

    def wants(self, name: str) -> bool:
        return self.alerts.get(name, True)


class Alerts:
    def __init__(self, db: Database, notifier: Notifier,
                 clock: Clock = utcnow) -> None:
        self._db = db
        self._notifier = notifier
        self._clock = clock

    async def preferences(self, owner_id: int) -> Preferences:
        alerts, failover = await owners.preferences(self._db.reader, owner_id)
        return Preferences({name: bool(alerts.get(name, True)) for name in CHOICES}, failover)

    async def toggle(self, owner_id: int, name: str) -> Preferences:
        """Turn one alert on or off (``failover`` toggles moving campaigns on a ban)."""
        current = await self.preferences(owner_id)
        alerts, failover = dict(current.alerts), current.failover
        if name == "failover":
            failover = not failover
        elif name in CHOICES:
            alerts[name] = not current.wants(name)
        else:
            raise ValueError(name)
        async with self._db.transaction() as tx:
            await owners.set_preferences(tx, owner_id, alerts, failover, self._clock())
        return Preferences(alerts, failover)

    async def notify(self, notice: Notice) -> None:
        if isinstance(notice, CampaignUpdate):
            wanted = True
            if notice.kind == "finished":
                wanted = (await self.preferences(notice.owner_id)).wants("finished")
            elif notice.kind == "paused" and notice.reason == "failure_spike":
                wanted = (await self.preferences(notice.owner_id)).wants("failure_spike")
            if not wanted:
                notice = replace(notice, alert=False)
        elif isinstance(notice, LowBalance):
            if not (await self.preferences(notice.owner_id)).wants("low_balance"):
                return
        await self._notifier.notify(notice)
