"""Sequences: steps that follow a contact's joining a list (issue 21, item 1).

A sequence's ``config`` (``parse_sequence`` checks it, for the chat and the API alike)::

    {"list_id": 7,
     "steps": [{"template_id": 3, "delay": 0, "unit": "minutes", "after": "join"},
               {"template_id": 4, "delay": 2, "unit": "days", "after": "previous",
                "at": "10:00"}],
     "stop_on_reply": true, "stop_on_opt_out": true, "stop_on_leave": true,
     "restart_on_rejoin": false}

A step waits ``delay`` minutes, hours or days after the previous step was due (``after``
``previous``; the first step always counts from the join) or after the join (``join``);
with ``at`` it goes at that time of day in the recipient's zone (from their number,
``risk.phone_zone``; the default zone when the number names none): the first such
moment at or after the wait, and for a wait in days that day's ``at``.

The trigger is a row of ``list_members``: a contact joins the list by a file import, by
the API or by hand, all of them writing that table. The engine (``SequenceEngine.tick``,
on a repeating job) has the one place that sees joins: it enrols the joins since it last
looked (``automations.watermark``, looked at again a while back, ``JOIN_LAG``: an import
that began earlier may commit later) in one statement per batch, planning their first
step, and remembers how far it looked, in one transaction. A contact enrolled before is
not restarted by joining again unless the sequence says so (``restart_on_rejoin``; its
steps then are new occurrences, ``step:<n>#<run>``).

Then each due step: a contact who replied since joining, opted out or left the list
stops (``stop_on_*``, each can be turned off; an opted-out contact never gets a message
anyway), the others get the step's message through ``AutomationsService.produce`` (the
one way automations make messages) and their next step is planned, in the same
transaction: a restart in the middle repeats nothing, and ``automation_sends`` makes a
duplicate impossible. A step the balance could not cover stays due: the sequence pauses
and goes on from there when resumed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.clock import Clock, utcnow
from bot.domain import Automation, AutomationKind
from bot.errors import ValidationError
from bot.services.automations import AutomationsService, Item, register_kind
from bot.services.risk import UNKNOWN_ZONE, phone_zone
from bot.storage import automations as repo
from bot.storage.db import Database
from bot.storage.risk import ZONE_PREFIX

log = logging.getLogger(__name__)

UNITS = ("minutes", "hours", "days")
AFTER = ("previous", "join")
STEPS_MAX = 10
DELAY_MAX = {"minutes": 60 * 24 * 365, "hours": 24 * 365, "days": 365}
STOP_RULES = ("stop_on_reply", "stop_on_opt_out", "stop_on_leave")
JOIN_LAG = 600.0  # seconds: joins are looked for again this far back (late commits)
DUE_BATCH = 2000  # due steps produced in one transaction
_AT = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class Step:
    template_id: int
    delay: int
    unit: str  # minutes | hours | days
    after: str = "previous"  # previous | join
    at: str | None = None  # HH:MM in the recipient's zone

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Step:
        return cls(int(data["template_id"]), int(data["delay"]), str(data["unit"]),
                   str(data.get("after") or "previous"), data.get("at"))

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"template_id": self.template_id, "delay": self.delay,
                                 "unit": self.unit, "after": self.after}
        if self.at:
            found["at"] = self.at
        return found

    @property
    def wait(self) -> timedelta:
        return timedelta(**{self.unit: self.delay})


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError("not_a_number", where=where)
    try:
        return int(value)
    except ValueError:
        raise ValidationError("not_a_number", where=where) from None


def parse_at(value: object, where: str = "at") -> str | None:
    """``HH:MM`` (or ``H.MM``) as stored ``HH:MM``; None or blank: none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    match = _AT.match(str(value).strip())
    if match is None:
        raise ValidationError("bad_time", where=where)
    return f"{int(match[1]):02d}:{match[2]}"


def parse_step(data: Mapping[str, Any], where: str = "steps[0]") -> Step:
    if not isinstance(data, Mapping):
        raise ValidationError("bad_choice", where=where)
    template_id = _int(data.get("template_id"), f"{where}.template_id")
    delay = _int(data.get("delay", 0), f"{where}.delay")
    unit = str(data.get("unit") or "minutes")
    if unit not in UNITS:
        raise ValidationError("bad_choice", where=f"{where}.unit")
    if not 0 <= delay <= DELAY_MAX[unit]:
        raise ValidationError("out_of_range", where=f"{where}.delay", min=0,
                              max=DELAY_MAX[unit])
    after = str(data.get("after") or "previous")
    if after not in AFTER:
        raise ValidationError("bad_choice", where=f"{where}.after")
    return Step(template_id, delay, unit, after, parse_at(data.get("at"), f"{where}.at"))


def parse_sequence(config: Mapping[str, Any]) -> dict[str, Any]:
    """A sequence's config as stored (module docstring), or ``ValidationError``."""
    list_id = _int(config.get("list_id"), "list_id")
    raw = config.get("steps")
    if not isinstance(raw, list) or not raw:
        raise ValidationError("no_steps", where="steps")
    if len(raw) > STEPS_MAX:
        raise ValidationError("too_many", where="steps", limit=STEPS_MAX)
    steps = [parse_step(s, f"steps[{i}]") for i, s in enumerate(raw)]
    stored: dict[str, Any] = {"list_id": list_id, "steps": [s.to_json() for s in steps]}
    for rule in (*STOP_RULES, "restart_on_rejoin"):
        value = config.get(rule, rule != "restart_on_rejoin")
        if not isinstance(value, bool):
            raise ValidationError("bad_choice", where=rule)
        stored[rule] = value
    return stored


register_kind(AutomationKind.SEQUENCE.value, parse_sequence)


def steps_of(automation: Automation) -> list[Step]:
    return [Step.of(s) for s in automation.config.get("steps") or []]


def occurrence(step: int, run: int) -> str:
    return f"step:{step}" if run == 0 else f"step:{step}#{run}"


class Planner:
    """When a step is due for a recipient; zones and answers kept (a join of many
    contacts at one moment computes each zone's answer once)."""

    def __init__(self, default_zone: str) -> None:
        self._default = ZoneInfo(default_zone)
        self._zones: dict[str, ZoneInfo] = {}
        self._answers: dict[tuple[str, float, Step], float] = {}

    def zone(self, phone: str) -> ZoneInfo:
        key = phone[:ZONE_PREFIX]
        found = self._zones.get(key)
        if found is None:
            name = phone_zone(phone)
            try:
                found = self._default if name == UNKNOWN_ZONE else ZoneInfo(name)
            except ZoneInfoNotFoundError:
                found = self._default
            self._zones[key] = found
        return found

    def due(self, step: Step, base: float, phone: str) -> float:
        """``step``'s time after ``base`` (epoch seconds) for ``phone``."""
        if step.at is None:
            return base + step.wait.total_seconds()
        tz = self.zone(phone)
        key = (tz.key, base, step)
        found = self._answers.get(key)
        if found is None:
            found = self._answers[key] = _at_time(step, base, tz)
        return found


def _at_time(step: Step, base: float, tz: ZoneInfo) -> float:
    assert step.at is not None
    hour, minute = (int(x) for x in step.at.split(":"))
    start = datetime.fromtimestamp(base, UTC)
    if step.unit == "days":
        day = start.astimezone(tz).date() + timedelta(days=step.delay)
        earliest = start
    else:
        earliest = start + step.wait
        day = earliest.astimezone(tz).date()
    when = datetime.combine(day, time(hour, minute), tz)
    if when < earliest:
        when = datetime.combine(day + timedelta(days=1), time(hour, minute), tz)
    return when.timestamp()


class SequenceEngine:
    """Enrols the joins and produces the due steps of every sequence that is on."""

    def __init__(self, db: Database, automations: AutomationsService,
                 clock: Clock = utcnow, *, default_timezone: str = "Asia/Baku") -> None:
        self._db = db
        self._automations = automations
        self._clock = clock
        self._planner = Planner(default_timezone)

    async def tick(self, now: datetime | None = None) -> int:
        """One round: joins enrolled, due steps produced; how many messages were made."""
        at = (now or self._clock()).timestamp()
        made = 0
        for automation in await repo.on_of_kind(self._db.reader, AutomationKind.SEQUENCE):
            try:
                await self.enrol(automation, at)
                made += await self.run_due(automation, at)
            except Exception:  # one sequence's trouble does not hold the others
                log.exception("sequence %d: tick failed", automation.id)
        return made

    async def enrol(self, automation: Automation, now: float) -> int:
        """Enrol who joined the sequence's list since the engine last looked, their first
        step planned; how many."""
        steps = steps_of(automation)
        list_id = automation.config.get("list_id")
        if not steps or list_id is None:
            return 0
        restart = bool(automation.config.get("restart_on_rejoin"))
        created = automation.created_at.timestamp()
        async with self._db.transaction() as tx:
            mark = await repo.watermark(tx, automation.id)
            since = max(created, (mark if mark is not None else created) - JOIN_LAG)
            upto = now + 0.001  # joins written up to now
            joins = await repo.joins(tx, int(list_id), since, upto, automation.id, restart)
            first = steps[0]
            rows = [(contact_id, joined, self._planner.due(first, joined, phone))
                    for contact_id, phone, joined in joins]
            await repo.enrol(tx, automation.id, rows)
            await repo.set_watermark(tx, automation.id, max(upto, mark or 0.0))
        return len(rows)

    async def run_due(self, automation: Automation, now: float) -> int:
        """Produce the sequence's due steps, batch by batch; how many messages."""
        steps = steps_of(automation)
        list_id = automation.config.get("list_id")
        if not steps or list_id is None:
            return 0
        rules = {r: bool(automation.config.get(r, True)) for r in STOP_RULES}
        made = 0
        while True:
            async with self._db.transaction() as tx:
                due = await repo.due(tx, automation, int(list_id), now, DUE_BATCH)
                if not due:
                    return made
                moves: list[tuple[int, int, float | None, str | None]] = []
                by_step: dict[int, list[tuple[Item, repo.DueStep]]] = {}
                for d in due:
                    stop = self._stop(d, rules, len(steps))
                    if stop is not None:
                        moves.append((d.contact_id, d.next_step, None, stop))
                        continue
                    item = (d.contact_id, d.phone, occurrence(d.next_step, d.run), d.next_at)
                    by_step.setdefault(d.next_step, []).append((item, d))
                short = False
                for index, pairs in sorted(by_step.items()):
                    result = await self._automations.produce_detailed(
                        tx, automation, [i for i, _ in pairs], steps[index].template_id)
                    made += len(result.made)
                    short = short or result.out_of_credits
                    for item, d in pairs:
                        key = (item[0], item[2])
                        if key in result.made or key in result.settled:
                            moves.append(self._next(d, steps))
                await repo.advance(tx, automation.id, moves)
            if short or not moves:  # paused, or nothing could go now: later
                return made

    @staticmethod
    def _stop(d: repo.DueStep, rules: Mapping[str, bool], n_steps: int) -> str | None:
        if d.next_step >= n_steps:
            return "done"  # the sequence lost steps since it was planned
        if d.opted_out and rules["stop_on_opt_out"]:
            return "opted_out"
        if not d.in_list and rules["stop_on_leave"]:
            return "left"
        if d.replied and rules["stop_on_reply"]:
            return "replied"
        return None

    def _next(self, d: repo.DueStep, steps: Sequence[Step]
              ) -> tuple[int, int, float | None, str | None]:
        following = d.next_step + 1
        if following >= len(steps):
            return (d.contact_id, following, None, "done")
        step = steps[following]
        base = d.joined_at if step.after == "join" else d.next_at
        return (d.contact_id, following, self._planner.due(step, base, d.phone), None)
