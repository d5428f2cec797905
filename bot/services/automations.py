"""Automations: standing rules that produce outbox messages by themselves (issue 21).

An automation is an owner's rule of one kind: a *sequence* (steps after a contact joins a
list, ``bot/services/automations_sequences.py``), a *date* message (around a date column
of the contacts) or a *keyword* reply. Each kind keeps its own settings in ``config``
(JSON), checked by the parser its module registers (``register_kind``), the same for the
chat and the API.

No automation sends anything itself. ``AutomationsService.produce`` is the one way to
make their messages: rows of the outbox (``messages``, ``automation_id`` set, what they
say in ``content`` as the API's single messages do), sent by the dispatcher with the same
pacing, caps, credits, opt-outs and checks as campaigns' and the API's. For each item
(contact, phone, occurrence, planned time) it

- skips a contact gone or opted out, and an occurrence already produced
  (``automation_sends``: its primary key makes a second one impossible, also after a
  restart in the middle);
- skips a contact whose values leave a variable of the template without a value;
- reserves one credit per message (``billing.reserve``, as ``POST /messages`` does); when
  the balance runs out it produces what the credits cover, pauses the automation
  (``paused_reason`` ``balance``) and tells the owner once (``AutomationPaused``);
- sends from the owner's working numbers that can send the template
  (``MessagesService.able_senders``: a Cloud API number only with an approved twin),
  spread over them;
- writes the messages and the sends in the caller's transaction, one statement each.

Pausing (or deleting) an automation skips its queued messages and gives their credits
back in the same transaction (as an opt-out does, ``bot/services/opt_outs.py``);
resuming lets it produce again from where it was (nothing missed is lost: a sequence's
due steps go out when it is on again).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.clock import Clock, utcnow
from bot.domain import Automation, AutomationKind, AutomationState, Contact, Template
from bot.errors import NotFound, ValidationError
from bot.services import billing
from bot.services.messages import Content, MessagesService
from bot.services.notify import AutomationPaused, Notifier
from bot.services.templates import TemplatesService, contact_values
from bot.storage import automations as repo
from bot.storage import ledger, lists, senders, templates
from bot.storage import messages as messages_repo
from bot.storage.db import Connection, Database

log = logging.getLogger(__name__)

NAME_MAX = 64
AUTOMATIONS_EVERY = 30.0  # seconds between the engine's rounds (bot/app.py's job)
NEXT_SHOWN = 5  # next planned sends on a card

# The item an automation asks ``produce`` for: (contact id, phone, occurrence, planned
# time as epoch seconds). The phone is the caller's view; the contact's own is used.
Item = tuple[int, str, str, float]

ParseConfig = Callable[[Mapping[str, Any]], dict[str, Any]]
_KINDS: dict[str, ParseConfig] = {}


def register_kind(kind: str, parse_config: ParseConfig) -> None:
    """A kind's parser: takes the config as the chat or the API gave it, returns it as
    stored, or raises ``ValidationError`` (``where``: the field)."""
    if kind not in tuple(AutomationKind):
        raise ValueError(f"unknown automation kind {kind!r}")
    _KINDS[kind] = parse_config


def parse_config(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    parser = _KINDS.get(kind)
    if parser is None:
        raise ValidationError("unknown_kind", where="kind", kind=kind)
    return parser(config)


def check_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("blank", where="name")
    if len(name) > NAME_MAX:
        raise ValidationError("too_long", where="name", limit=NAME_MAX)
    return name


@dataclass(frozen=True, slots=True)
class PlannedSend:
    phone: str
    step: int  # a sequence's step (0-based)
    at: datetime


@dataclass(frozen=True, slots=True)
class AutomationCard:
    """What an automation's card shows."""

    automation: Automation
    produced_today: int
    produced_total: int
    queued: int
    sent: int  # sent, delivered or read
    delivered: int  # delivered or read
    read: int
    failed: int
    skipped: int
    next_sends: tuple[PlannedSend, ...]
    enrolments: Mapping[str, int]  # sequences: 'active' and each stop reason


@dataclass(frozen=True, slots=True)
class Produced:
    """What one ``produce`` call did: the (contact, occurrence) pairs it produced, those
    it settled without a message (opted out, gone, already produced, lacking values), and
    whether it stopped at an empty balance (the rest are neither)."""

    made: frozenset[tuple[int, str]]
    settled: frozenset[tuple[int, str]]
    out_of_credits: bool = False


class AutomationsService:
    def __init__(self, db: Database, templates_service: TemplatesService,
                 messages: MessagesService, notifier: Notifier | None = None,
                 clock: Clock = utcnow, *, default_timezone: str = "Asia/Baku") -> None:
        self._db = db
        self._templates = templates_service
        self._messages = messages
        self._notifier = notifier
        self._clock = clock
        self._default_zone = default_timezone
        self._telling: set[asyncio.Task[None]] = set()

    @property
    def clock(self) -> Clock:
        return self._clock

    # --- the rules ----------------------------------------------------------------------

    async def create(self, owner_id: int, kind: str, name: str,
                     config: Mapping[str, Any]) -> Automation:
        name = check_name(name)
        stored = parse_config(kind, config)
        await self._check_refs(owner_id, stored)
        async with self._db.transaction() as tx:
            return await repo.create(tx, owner_id, kind, name, stored, self._now())

    async def list(self, owner_id: int) -> list[Automation]:
        return await repo.for_owner(self._db.reader, owner_id)

    async def get(self, owner_id: int, automation_id: int) -> Automation:
        found = await repo.get(self._db.reader, owner_id, automation_id)
        if found is None:
            raise NotFound("automation", automation_id=automation_id)
        return found

    async def update(self, owner_id: int, automation_id: int, *, name: str | None = None,
                     config: Mapping[str, Any] | None = None) -> Automation:
        """Rename it or change its settings (checked as ``create`` checks them)."""
        current = await self.get(owner_id, automation_id)
        new_name = check_name(name) if name is not None else current.name
        stored = current.config if config is None else parse_config(current.kind, config)
        if config is not None:
            await self._check_refs(owner_id, stored)
        async with self._db.transaction() as tx:
            await repo.update(tx, owner_id, automation_id, new_name, stored, self._now())
        return await self.get(owner_id, automation_id)

    async def pause(self, owner_id: int, automation_id: int, reason: str = "owner") -> int:
        """Pause it: what it queued and is not sent yet is skipped and its credits given
        back; how many were skipped."""
        await self.get(owner_id, automation_id)
        async with self._db.transaction() as tx:
            await repo.set_state(tx, owner_id, automation_id, AutomationState.PAUSED.value,
                                 reason, self._now())
            return await self._skip_queued(tx, owner_id, automation_id, "automation paused")

    async def resume(self, owner_id: int, automation_id: int) -> Automation:
        await self.get(owner_id, automation_id)
        async with self._db.transaction() as tx:
            await repo.set_state(tx, owner_id, automation_id, AutomationState.ON.value, None,
                                 self._now())
        return await self.get(owner_id, automation_id)

    async def delete(self, owner_id: int, automation_id: int) -> int:
        """Delete it (its messages stay in the outbox's history): its queued ones are
        skipped and their credits given back; how many were skipped."""
        await self.get(owner_id, automation_id)
        async with self._db.transaction() as tx:
            skipped = await self._skip_queued(tx, owner_id, automation_id,
                                              "automation deleted")
            await repo.delete(tx, owner_id, automation_id)
        return skipped

    async def _skip_queued(self, tx: Connection, owner_id: int, automation_id: int,
                           note: str) -> int:
        now = self._clock()
        skipped = await repo.skip_queued(tx, owner_id, automation_id, now.timestamp())
        if skipped:
            await billing.release(tx, owner_id, skipped * billing.CREDITS_PER_MESSAGE, now,
                                  note=note)
        return skipped

    async def _check_refs(self, owner_id: int, config: Mapping[str, Any]) -> None:
        """The templates and the list a config names are the owner's."""
        reader = self._db.reader
        for template_id in template_ids(config):
            if await templates.get(reader, owner_id, template_id) is None:
                raise NotFound("template", template_id=template_id)
        list_id = config.get("list_id")
        if list_id is not None:
            if not await lists.exists(reader, owner_id, int(list_id)):
                raise NotFound("list", list_id=list_id)

    # --- what it shows ------------------------------------------------------------------

    async def card(self, owner_id: int, automation_id: int,
                   zone: str | None = None) -> AutomationCard:
        """Its state, what it produced today (in ``zone``, else the default zone) and in
        all, its messages' delivery figures and its next planned sends."""
        automation = await self.get(owner_id, automation_id)
        now = self._clock()
        tz = ZoneInfo(zone or self._default_zone)
        midnight = datetime.combine(now.astimezone(tz).date(), time(), tz)
        reader = self._db.reader
        produced = await repo.produced(reader, automation_id, midnight.timestamp())
        status = produced.by_status
        planned = await repo.next_planned(reader, automation_id, NEXT_SHOWN)
        return AutomationCard(
            automation=automation, produced_today=produced.today,
            produced_total=produced.total,
            queued=status.get("queued", 0) + status.get("sending", 0),
            sent=sum(status.get(s, 0) for s in ("sent", "delivered", "read")),
            delivered=sum(status.get(s, 0) for s in ("delivered", "read")),
            read=status.get("read", 0),
            failed=status.get("failed", 0) + status.get("uncertain", 0),
            skipped=status.get("skipped", 0),
            next_sends=tuple(PlannedSend(p, s, datetime.fromtimestamp(at, UTC))
                             for p, s, at in planned),
            enrolments=await repo.enrolment_counts(reader, automation_id))

    # --- producing ----------------------------------------------------------------------

    async def produce(self, tx: Connection, automation: Automation, items: Sequence[Item],
                      template_id: int) -> int:
        """Make the automation's messages for ``items`` in the caller's transaction (the
        module docstring); how many were made."""
        return len((await self.produce_detailed(tx, automation, items, template_id)).made)

    async def produce_detailed(self, tx: Connection, automation: Automation,
                               items: Sequence[Item], template_id: int) -> Produced:
        """``produce``, saying which items were made and which were settled without a
        message (the engines advance both, and keep the rest for later)."""
        if not items:
            return Produced(frozenset(), frozenset())
        current = await repo.get(tx, automation.owner_id, automation.id)
        if current is None or not current.on:
            return Produced(frozenset(), frozenset())
        owner_id = automation.owner_id
        now = self._clock()
        ts = now.timestamp()
        keys = [(contact_id, occurrence) for contact_id, _, occurrence, _ in items]
        found = await repo.recipients(tx, owner_id, list(dict.fromkeys(k[0] for k in keys)))
        done = await repo.already_sent(tx, automation.id, keys)
        template = await templates.get(tx, owner_id, template_id)
        if template is None or not template.variants:
            log.warning("automation %d: template %d is gone", automation.id, template_id)
            return Produced(frozenset(), frozenset())
        try:
            able = self._messages.able_senders(
                await senders.list_for_owner(tx, owner_id), template)
        except ValidationError as exc:
            log.info("automation %d: no number can send now (%s)", automation.id, exc.reason)
            return Produced(frozenset(), frozenset())
        settled: set[tuple[int, str]] = set()
        wanted: list[tuple[repo.Recipient, str, float]] = []
        seen: set[tuple[int, str]] = set()
        for (contact_id, _, occurrence, planned_at), key in zip(items, keys, strict=True):
            who = found.get(contact_id)
            if who is None or who.opted_out or key in done or key in seen:
                settled.add(key)
                continue
            seen.add(key)
            wanted.append((who, occurrence, planned_at))
        available = (await ledger.balance(tx, owner_id)).available
        affordable = max(0, available) // billing.CREDITS_PER_MESSAGE
        short = len(wanted) > affordable
        next_id = await messages_repo.next_id(tx)
        rows: list[messages_repo.NewMessage] = []
        sends: list[tuple[int, int, str, int | None, float]] = []
        content = Content(template_id=template.id).to_json()
        for who, occurrence, planned_at in wanted:
            if len(rows) >= affordable:
                break
            variant = next_id % len(template.variants)
            if self._lacking(template, variant, owner_id, who):
                settled.add((who.contact_id, occurrence))
                continue
            sender = able[next_id % len(able)]
            rows.append(messages_repo.NewMessage(
                next_id, owner_id, sender.id, who.contact_id, who.phone, variant,
                max(planned_at, ts), content, None, automation.id))
            sends.append((automation.id, who.contact_id, occurrence, next_id, ts))
            next_id += 1
        if rows:
            await messages_repo.add_many(tx, rows, ts)
            await repo.add_sends(tx, sends)
            await billing.reserve(tx, owner_id, len(rows) * billing.CREDITS_PER_MESSAGE, now,
                                  note=f"automation {automation.id}")
        if short and await repo.set_state(tx, owner_id, automation.id,
                                          AutomationState.PAUSED.value, "balance", ts):
            self._tell(AutomationPaused(owner_id, automation.id, automation.name, "balance"))
        return Produced(frozenset((s[1], s[2]) for s in sends), frozenset(settled), short)

    def _lacking(self, template: Template, variant: int, owner_id: int,
                 who: repo.Recipient) -> bool:
        values = contact_values(Contact(who.contact_id, owner_id, who.phone, who.name,
                                        json.loads(who.attributes or "{}")))
        bare = self._templates.compiled(template, variant).bare
        return any(not (values.get(name) or "").strip() for name in bare)

    # --- telling the owner --------------------------------------------------------------

    def _tell(self, notice: AutomationPaused) -> None:
        """Told after the caller's work, never holding its transaction (a notifier never
        raises)."""
        if self._notifier is None:
            return
        task = asyncio.get_running_loop().create_task(self._notifier.notify(notice))
        self._telling.add(task)
        task.add_done_callback(self._telling.discard)

    async def settle(self) -> None:
        """Wait for the notices being told (tests, shutdown)."""
        while self._telling:
            await asyncio.gather(*list(self._telling), return_exceptions=True)

    def _now(self) -> float:
        return self._clock().timestamp()


def template_ids(config: Mapping[str, Any]) -> list[int]:
    """The templates a stored config names (a sequence's steps', another kind's own)."""
    found: list[int] = []
    if isinstance(config.get("template_id"), int):
        found.append(config["template_id"])
    for step in config.get("steps") or []:
        if isinstance(step, Mapping) and isinstance(step.get("template_id"), int):
            found.append(step["template_id"])
    return list(dict.fromkeys(found))


class Ticking(Protocol):
    async def tick(self, now: datetime | None = None) -> int: ...


class AutomationsEngine:
    """What the repeating job calls (``bot/app.py``): each kind's engine in turn (sequences,
    date messages; a keyword reply answers at once, not on a tick), with one clock."""

    def __init__(self, clock: Clock = utcnow) -> None:
        self._clock = clock
        self._engines: list[Ticking] = []

    def add(self, engine: Ticking) -> None:
        self._engines.append(engine)

    async def tick(self, now: datetime | None = None) -> int:
        """One round at ``now`` (else the clock's); how many messages were made."""
        at = now or self._clock()
        made = 0
        for engine in self._engines:
            try:
                made += await engine.tick(at)
            except Exception:  # one kind's trouble does not hold the others
                log.exception("automations: %s failed", type(engine).__name__)
        return made
