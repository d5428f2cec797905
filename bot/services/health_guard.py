"""The live health guard (issue 20, item 2): a number's early warnings act before a ban.

What the gateways say about a number's health (``SenderHealth.capping`` of WAHA,
``quality`` and ``tier`` of the Cloud API) reaches ``HealthGuard.observe`` from the
webhooks (``GatewayEvents``' ``SenderStateChanged``) and from ``poll``, a job that asks
the gateway about every active number with queued messages (a gateway without early
warnings, the sandbox, answers without them: nothing changes). The guard keeps
each number's standing in ``sender_guard`` (``bot/storage/health.py``) and the dispatcher
obeys it in ``_pick``:

- WAHA ``FIRST_WARNING``: mode ``slowed``, gaps at least doubled (``warn_factor``);
- ``SECOND_WARNING``: ``no_new_chats``: only phones the number already messaged (or that
  wrote to it) are sent to, the rest wait; gaps stay doubled;
- ``CAPPED``: the number is restricted until WAHA's ``cycleEnd`` by the existing path
  (``SenderEvents.lost``, fed by the same event); the guard keeps ``no_new_chats`` for
  when it is resumed while still capped;
- ``NONE`` again: ``normal``, factor 1, the owner told the warning lifted;
- Cloud ``YELLOW``: ``slowed`` x2; ``RED``: ``paused`` (and restricted, the existing path);
  ``GREEN`` again: ``normal``; a tier change is recorded and told.

Feedback pacing (``feedback``): the dispatcher hands in each recorded batch of outcomes;
per number a window of ``window`` attempts is kept in memory. When its share of failures
and timeouts (failed, uncertain, transient, rate limited) is above the number's usual
share (its 7-day failure rate, at least ``floor``), its gap factor widens (x``widen``, at
most ``max_factor``); a clean window narrows it (/``narrow``, down to 1, or to the
warning's floor). A write only when the factor changes.

Every change is one ``sender_warnings`` row; the owner is told once per change
(``SenderWarned``), except where ``SenderLost`` already tells them (capped, RED)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.clock import Clock, utcnow
from bot.domain import GuardMode, Sender, SenderGuard
from bot.gateways.base import (
    Gateway,
    GatewayError,
    SenderHealth,
    SenderRef,
    SenderStateChanged,
)
from bot.services.notify import Notifier, SenderWarned
from bot.storage import health as health_repo
from bot.storage import risk as risk_repo
from bot.storage import senders
from bot.storage.db import Database

log = logging.getLogger(__name__)

POLL_TIMEOUT = 10.0  # seconds one number's health may take in the poll
USUAL_FOR = 3600.0  # seconds a number's 7-day failure rate is trusted in memory
WEEK = 7 * 86400.0

_CAPPING_KINDS = {"FIRST_WARNING": "capping_first_warning",
                  "SECOND_WARNING": "capping_second_warning", "CAPPED": "capped",
                  "NONE": "capping_cleared"}
_QUALITY_KINDS = {"YELLOW": "quality_yellow", "RED": "quality_red", "GREEN": "quality_green"}
# told by SenderLost already (the number restricted): recorded, not told twice
SILENT = frozenset({"capped", "quality_red", "timelock", "restricted", "banned"})


@dataclass(frozen=True, slots=True)
class GuardConfig:
    warn_factor: float = 2.0  # FIRST_WARNING / SECOND_WARNING / YELLOW: gaps at least x this
    window: int = 20  # feedback: attempts judged together
    floor: float = 0.05  # feedback: the least "usual" share of failures and timeouts
    widen: float = 1.5
    narrow: float = 1.25
    max_factor: float = 4.0


@dataclass(frozen=True, slots=True)
class Reaction:
    """What a health report changes: the guard's new row and the warnings it writes."""

    guard: SenderGuard
    kinds: tuple[tuple[str, dict[str, Any]], ...]


def warning_floor(capping: str | None, quality: str | None, config: GuardConfig) -> float:
    """The least gap factor the standing warnings ask for."""
    warned = capping in ("FIRST_WARNING", "SECOND_WARNING", "CAPPED") or \
        quality in ("YELLOW", "RED")
    return config.warn_factor if warned else 1.0


def mode_of(capping: str | None, quality: str | None, factor: float) -> str:
    if quality == "RED":
        return GuardMode.PAUSED
    if capping in ("SECOND_WARNING", "CAPPED"):
        return GuardMode.NO_NEW_CHATS
    if capping == "FIRST_WARNING" or quality == "YELLOW" or factor > 1.0:
        return GuardMode.SLOWED
    return GuardMode.NORMAL


def react(guard: SenderGuard, health: SenderHealth, config: GuardConfig) -> Reaction | None:
    """A pure decision: the guard's row after ``health`` and the warnings to record; None
    when nothing changes (the same report again)."""
    capping = health.capping if health.capping is not None else guard.capping
    quality = health.quality if health.quality is not None else guard.quality
    tier = health.tier if health.tier is not None else guard.tier
    kinds: list[tuple[str, dict[str, Any]]] = []
    if capping != guard.capping and capping is not None:
        if not (capping == "NONE" and guard.capping in (None, "NONE")):
            detail: dict[str, Any] = {"from": guard.capping}
            if health.until is not None:
                detail["until"] = health.until.isoformat()
            kinds.append((_CAPPING_KINDS[capping], detail))
    if quality != guard.quality and quality is not None:
        if not (quality == "GREEN" and guard.quality in (None, "GREEN")):
            kinds.append((_QUALITY_KINDS[quality], {"from": guard.quality}))
    if tier != guard.tier and guard.tier is not None and tier is not None:
        kinds.append(("tier_changed", {"from": guard.tier, "to": tier}))
    floor = warning_floor(capping, quality, config)
    old_floor = warning_floor(guard.capping, guard.quality, config)
    if floor > 1.0:
        factor = max(floor, guard.gap_factor)
    elif old_floor > 1.0:  # the warning lifted: back to the number's own pace
        factor = 1.0
    else:
        factor = guard.gap_factor
    new = replace(guard, capping=capping, quality=quality, tier=tier, gap_factor=factor,
                  mode=mode_of(capping, quality, factor))
    if new == guard:
        return None
    return Reaction(new, tuple(kinds))


def paced(factor: float, floor: float, attempts: int, bad: int, usual: float,
          config: GuardConfig) -> float:
    """Feedback pacing, pure: the gap factor after a full window of ``attempts`` of which
    ``bad`` failed or timed out, against the number's ``usual`` share."""
    if attempts <= 0:
        return factor
    if bad / attempts > max(config.floor, usual):
        return round(min(config.max_factor, max(factor, floor) * config.widen), 3)
    if bad == 0:
        return round(max(floor, 1.0, factor / config.narrow), 3)
    return factor


@dataclass(slots=True)
class _Window:
    attempts: int = 0
    bad: int = 0
    usual: float | None = None
    usual_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Tried:
    """One number's outcomes in one recorded batch (the dispatcher's ``_record``)."""

    owner_id: int
    sender_id: int
    attempts: int
    bad: int  # failed, uncertain (a timeout), transient or rate limited


class HealthGuard:
    def __init__(self, db: Database, notifier: Notifier, gateway: Gateway,
                 clock: Clock = utcnow, config: GuardConfig | None = None) -> None:
        self._db = db
        self._notifier = notifier
        self._gateway = gateway
        self._clock = clock
        self.config = config or GuardConfig()
        self._windows: dict[int, _Window] = {}
        self._lock = asyncio.Lock()  # observe, feedback and poll change rows one at a time
        # where the poll's reports go: GatewayEvents.on_event (the guard and sender events)
        self.report: Callable[[SenderStateChanged], Awaitable[None]] | None = None

    # --- gateway reports ------------------------------------------------------------------

    async def observe(self, sender_id: int, health: SenderHealth, now: datetime) -> bool:
        """React to one health report of a number; whether anything changed."""
        if health.capping is None and health.quality is None and health.tier is None:
            return False
        sender = await senders.get_any(self._db.reader, sender_id)
        if sender is None:
            return False
        async with self._lock:
            guard = (await health_repo.guards(self._db.reader, [sender_id]))[sender_id]
            reaction = react(guard, health, self.config)
            if reaction is None:
                return False
            new = reaction.guard
            async with self._db.transaction() as tx:
                await health_repo.set_guard(
                    tx, sender.owner_id, sender_id, now, capping=new.capping,
                    quality=new.quality, tier=new.tier, mode=new.mode,
                    gap_factor=new.gap_factor)
                for kind, detail in reaction.kinds:
                    await health_repo.record_warning(tx, sender.owner_id, sender_id, now, kind,
                                                     {**detail, "mode": new.mode})
        await self._tell(sender, new, reaction.kinds)
        return True

    async def record(self, sender: Sender, kind: str, detail: dict[str, Any]) -> None:
        """A warning the guard only records (a send refused with 463: ``timelock``)."""
        async with self._db.transaction() as tx:
            await health_repo.record_warning(tx, sender.owner_id, sender.id, self._clock(),
                                             kind, detail)

    async def poll(self) -> int:
        """Ask the gateway about each active number with queued messages and
        hand each answer in as a ``SenderStateChanged`` (``report``); how many answered."""
        if self.report is None:
            return 0
        answered = 0
        for sender_id in await health_repo.watched(self._db.reader):
            sender = await senders.get_any(self._db.reader, sender_id)
            if sender is None:
                continue
            ref = SenderRef(sender_id=sender.id, phone=sender.phone,
                            external_id=sender.external_id, gateway=sender.gateway)
            try:
                found = await asyncio.wait_for(self._gateway.sender_status(ref), POLL_TIMEOUT)
            except (GatewayError, TimeoutError) as exc:
                log.info("health of number %d not read: %s", sender.id, exc)
                continue
            answered += 1
            await self.report(SenderStateChanged(sender.id, found, self._clock()))
        return answered

    # --- feedback pacing ------------------------------------------------------------------

    async def feedback(self, tried: Iterable[Tried]) -> None:
        """The dispatcher's recorded outcomes: a full window of a number may widen or
        narrow its gaps (written only when the factor changes)."""
        for t in tried:
            if t.attempts <= 0:
                continue
            window = self._windows.setdefault(t.sender_id, _Window())
            window.attempts += t.attempts
            window.bad += t.bad
            if window.attempts < self.config.window:
                continue
            attempts, bad = window.attempts, window.bad
            window.attempts = window.bad = 0
            await self._judge(t.owner_id, t.sender_id, attempts, bad, window)

    async def _judge(self, owner_id: int, sender_id: int, attempts: int, bad: int,
                     window: _Window) -> None:
        now = self._clock()
        ts = now.timestamp()
        if window.usual is None or ts - window.usual_at > USUAL_FOR:
            history = await risk_repo.sender_history(self._db.reader, [sender_id], ts - WEEK)
            tried, failed, _blocked = history.get(sender_id, (0, 0, 0))
            window.usual = failed / tried if tried >= self.config.window else 0.0
            window.usual_at = ts
        async with self._lock:
            guard = (await health_repo.guards(self._db.reader, [sender_id]))[sender_id]
            floor = warning_floor(guard.capping, guard.quality, self.config)
            factor = paced(guard.gap_factor, floor, attempts, bad, window.usual, self.config)
            if factor == guard.gap_factor:
                return
            kind = "slowed" if factor > guard.gap_factor else "eased"
            mode = (guard.mode if guard.mode in (GuardMode.PAUSED, GuardMode.NO_NEW_CHATS)
                    else mode_of(guard.capping, guard.quality, factor))
            new = replace(guard, gap_factor=factor, mode=mode)
            async with self._db.transaction() as tx:
                await health_repo.set_guard(tx, owner_id, sender_id, now, gap_factor=factor,
                                            mode=mode)
                await health_repo.record_warning(tx, owner_id, sender_id, now, kind, {
                    "from": guard.gap_factor, "to": factor, "attempts": attempts,
                    "failed": bad, "usual": round(window.usual, 3), "mode": mode})
        told = kind == "slowed" or factor == 1.0  # eased part way: shown in /numbers only
        if told:
            sender = await senders.get_any(self._db.reader, sender_id)
            if sender is not None:
                await self._tell(sender, new, ((kind, {}),))

    # --- telling the owner ----------------------------------------------------------------

    async def _tell(self, sender: Sender, guard: SenderGuard,
                    kinds: Iterable[tuple[str, dict[str, Any]]]) -> None:
        for kind, detail in kinds:
            if kind in SILENT:
                continue
            await self._notifier.notify(SenderWarned(
                sender.owner_id, sender.id, sender.label or sender.phone, kind, guard.mode,
                guard.gap_factor, guard.tier, detail.get("from")
                if kind == "tier_changed" else None))
