"""Date-based messages (issue 21, item 2): a template N days before, on or after a date
column of the contacts (``birthday``, ``appointment``, any imported date), at a time of day,
yearly for anniversaries.

Config (kind ``date``, ``parse_date_config``): ``attribute`` (the column), ``days`` (0-365),
``when`` (``before`` | ``on`` | ``after``), ``at`` (``HH:MM``), ``yearly`` (bool) and
``template_id``. How values read as dates (and which are invalid, never guessed) and the 29
February rule: ``bot/services/dates.py``.

How a day is evaluated, fast over a million contacts:

- The column's values are read once into ``contact_dates`` (month-day key and year, 0 for
  a value that is no date), then only the contacts updated since the last read
  (``contacts.updated_at`` on its (owner, updated_at) index), at each tick: an import, the
  API or a contact card edit are seen at the next tick without any of them knowing.
- A *send date* S is evaluated once (``automation_date_runs``), from when S has begun
  anywhere on earth (UTC+14) until it is over everywhere (UTC-12), and again while it lasts
  only when contacts changed. Its event date D (``dates.event_date``) is an index range of
  ``contact_dates``; the occurrence produced is D (``2026-12-05``), so a second evaluation
  or a restart never makes a second message (``automation_sends``).
- Each message is planned on S at the time of day in the recipient's zone (from the phone
  number, ``risk.phone_zone``), in the owner's zone when the number says none; a recipient
  for whom S is already over is left out, one whose time has passed today gets it now.

Everything is produced through ``AutomationsService.produce`` (opt-outs, credits, numbers).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock, utcnow
from bot.domain import Automation, AutomationKind
from bot.errors import NotFound, ValidationError
from bot.services import dates
from bot.services.automations import AutomationsService, Item, register_kind
from bot.services.automations_sequences import Planner
from bot.services.zones import owner_zone
from bot.storage import automations as repo
from bot.storage import contact_dates, owners
from bot.storage.db import Database

log = logging.getLogger(__name__)

READ_CHUNK = 50_000  # contacts read per transaction when the column is read
READ_MARGIN = 120.0  # seconds: contacts updated this long before a read are read again
NEXT_SHOWN = 5
SCREEN_READS = 100_000  # contacts a card reads itself; more are left to the engine's tick
_EARLIEST = timedelta(hours=14)  # UTC+14: where a day begins first
_LATEST = timedelta(hours=12)  # UTC-12: where it ends last
_AT = re.compile(r"([01]?\d|2[0-3])[:.]([0-5]\d)")
_ATTRIBUTE_MAX = 64


# --- the config ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DateConfig:
    attribute: str
    days: int
    when: dates.When
    at: str  # HH:MM
    yearly: bool
    template_id: int

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> DateConfig:
        return cls(str(data["attribute"]), int(data["days"]), dates.When(data["when"]),
                   str(data["at"]), bool(data["yearly"]), int(data["template_id"]))

    def to_json(self) -> dict[str, Any]:
        return {"attribute": self.attribute, "days": self.days, "when": self.when.value,
                "at": self.at, "yearly": self.yearly, "template_id": self.template_id}

    @property
    def time_of_day(self) -> time:
        hour, minute = (int(x) for x in self.at.split(":"))
        return time(hour, minute)


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError("not_a_number", where=where)
    try:
        return int(value)
    except ValueError:
        raise ValidationError("not_a_number", where=where) from None


def parse_date_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A date message's config as stored (module docstring), or ``ValidationError``."""
    attribute = str(config.get("attribute") or "").strip()
    if not attribute:
        raise ValidationError("blank", where="attribute")
    if len(attribute) > _ATTRIBUTE_MAX or '"' in attribute or "\\" in attribute:
        raise ValidationError("bad_choice", where="attribute")
    when_raw = str(config.get("when") or "on")
    try:
        when = dates.When(when_raw)
    except ValueError:
        raise ValidationError("bad_choice", where="when") from None
    days = 0 if when is dates.When.ON else _int(config.get("days", 0), "days")
    if not 0 <= days <= dates.MAX_DAYS:
        raise ValidationError("out_of_range", where="days", min=0, max=dates.MAX_DAYS)
    at = _AT.fullmatch(str(config.get("at") or "10:00").strip())
    if at is None:
        raise ValidationError("bad_time", where="at")
    yearly = config.get("yearly", True)
    if not isinstance(yearly, bool):
        raise ValidationError("bad_choice", where="yearly")
    template_id = _int(config.get("template_id"), "template_id")
    return DateConfig(attribute, days, when, f"{int(at[1]):02d}:{at[2]}", yearly,
                      template_id).to_json()


register_kind(AutomationKind.DATE.value, parse_date_config)


# --- what a card shows --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DateSend:
    phone: str
    at: datetime  # UTC
    event: date


@dataclass(frozen=True, slots=True)
class DateFigures:
    """A date message's contacts: with a valid date, with an invalid value, without one;
    and its next planned sends."""

    valid: int
    invalid: int
    missing: int
    next_sends: tuple[DateSend, ...]
    unread: int = 0  # contacts changed since the column was read (the engine reads them)


def send_dates(now: datetime) -> list[date]:
    """The send dates that are today somewhere on earth at ``now``."""
    first, last = (now - _LATEST).date(), (now + _EARLIEST).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


class DatesEngine:
    """Reads the date columns and produces each on date message's sends (module
    docstring); its ``tick`` is one of ``AutomationsEngine``'s."""

    def __init__(self, db: Database, automations: AutomationsService,
                 clock: Clock = utcnow, *, default_timezone: str = "Asia/Baku") -> None:
        self._db = db
        self._automations = automations
        self._clock = clock
        self._default_zone = default_timezone

    # --- reading the column -------------------------------------------------------------

    async def read_column(self, owner_id: int, attribute: str, now: datetime,
                          at_most: int | None = None) -> int:
        """Reads the contacts updated since the last read (all of them the first time);
        how many were read. With ``at_most``, more than that many are left to the
        engine's tick (a screen does not wait for a million): minus how many."""
        # which contacts changed, under the write lock: no write is half done, so one
        # committed after this has a later time than ``upto`` (unless it took its time
        # more than READ_MARGIN before it began, such as an import's, one transaction
        # with the time it started)
        async with self._db.transaction() as tx:
            since = await contact_dates.read_upto(tx, owner_id, attribute)
            upto = now.timestamp() - READ_MARGIN
            ids = await contact_dates.changed(tx, owner_id, since)
        if at_most is not None and len(ids) > at_most:
            return -len(ids)
        for first in range(0, len(ids), READ_CHUNK):
            chunk = ids[first:first + READ_CHUNK]
            async with self._db.transaction() as tx:
                found = await contact_dates.values_of(tx, owner_id, attribute, chunk)
                rows: list[contact_dates.DateRow] = []
                for contact_id, value in found:
                    if value is not None:
                        key, year = dates.key_of(value)
                        rows.append((contact_id, key, year))
                await contact_dates.replace(tx, owner_id, attribute, chunk, rows,
                                            fresh=since is None)
        if since is None or upto > since:
            async with self._db.transaction() as tx:
                await contact_dates.set_read_upto(tx, owner_id, attribute, upto)
        return len(ids)

    # --- the day's sends ----------------------------------------------------------------

    async def tick(self, now: datetime | None = None) -> int:
        """One round: each date message's columns read, its send dates evaluated; how many
        messages were made."""
        at = now or self._clock()
        made = 0
        changed: dict[tuple[int, str], bool] = {}
        for automation in await repo.on_of_kind(self._db.reader, AutomationKind.DATE):
            config = DateConfig.of(automation.config)
            key = (automation.owner_id, config.attribute)
            if key not in changed:
                changed[key] = await self.read_column(*key, at) > 0
            made += await self.evaluate(automation, at, again=changed[key])
        return made

    async def evaluate(self, automation: Automation, now: datetime, again: bool = False
                       ) -> int:
        """Produces the sends of the send dates not evaluated yet (``again``: of all that
        are still today somewhere); how many messages were made."""
        config = DateConfig.of(automation.config)
        upto = await contact_dates.run_upto(self._db.reader, automation.id)
        todo = [s for s in send_dates(now)
                if again or upto is None or s.isoformat() > upto]
        if not todo:
            return 0
        planner = Planner(await self._zone_of(automation.owner_id))
        made = 0
        for send in todo:
            made += await self._evaluate_day(automation, config, send, now, planner)
        async with self._db.transaction() as tx:
            last = todo[-1].isoformat()
            await contact_dates.set_run_upto(tx, automation.id, max(last, upto or last))
        return made

    async def _evaluate_day(self, automation: Automation, config: DateConfig, send: date,
                            now: datetime, planner: Planner) -> int:
        event = dates.event_date(send, config.days, config.when)
        occurrence = event.isoformat()
        found = await contact_dates.due(
            self._db.reader, automation.owner_id, config.attribute, dates.keys_on(event),
            event.year, not config.yearly, automation.id, occurrence)
        items = self._planned(found, send, occurrence, config, now, planner)
        if not items:
            return 0
        async with self._db.transaction() as tx:
            return await self._automations.produce(tx, automation, items, config.template_id)

    @staticmethod
    def _planned(found: Sequence[tuple[int, str]], send: date, occurrence: str,
                 config: DateConfig, now: datetime, planner: Planner) -> list[Item]:
        items: list[Item] = []
        moment = config.time_of_day
        for contact_id, phone in found:
            tz = planner.zone(phone)
            if now.astimezone(tz).date() > send:
                continue  # the send date is over where they are
            planned = datetime.combine(send, moment, tz).timestamp()
            items.append((contact_id, phone, occurrence, planned))
        return items

    async def _zone_of(self, owner_id: int) -> str:
        return owner_zone(await owners.get(self._db.reader, owner_id), self._default_zone)

    async def edited(self, owner_id: int, automation_id: int) -> None:
        """Its settings changed: the send dates still open are evaluated again with them
        (an occurrence already produced is still never produced twice)."""
        await self._automations.get(owner_id, automation_id)
        async with self._db.transaction() as tx:
            await contact_dates.clear_run(tx, automation_id)

    # --- what the card shows ------------------------------------------------------------

    async def figures(self, owner_id: int, automation_id: int) -> DateFigures:
        """How many of the owner's contacts have a valid date in the column, an invalid
        value, none; and the next planned sends (up to a year ahead)."""
        automation = await self._automations.get(owner_id, automation_id)
        if automation.kind != AutomationKind.DATE.value:
            raise NotFound("automation", automation_id=automation_id)
        config = DateConfig.of(automation.config)
        now = self._clock()
        read = await self.read_column(owner_id, config.attribute, now, at_most=SCREEN_READS)
        reader = self._db.reader
        valid, invalid, total = await contact_dates.counts(reader, owner_id, config.attribute)
        zone = await self._zone_of(owner_id)
        planner = Planner(zone)
        shown: list[DateSend] = []
        first = now.astimezone(ZoneInfo(zone)).date()
        for offset in range(367):
            send = first + timedelta(days=offset)
            event = dates.event_date(send, config.days, config.when)
            found = await contact_dates.due(
                reader, owner_id, config.attribute, dates.keys_on(event), event.year,
                not config.yearly, automation.id, None, NEXT_SHOWN * 4)
            for _, phone, _, at in self._planned(found, send, event.isoformat(), config,
                                                 now, planner):
                if at > now.timestamp():
                    shown.append(DateSend(phone, datetime.fromtimestamp(at, UTC), event))
            if len(shown) >= NEXT_SHOWN:
                break
        shown.sort(key=lambda s: s.at)
        return DateFigures(valid, invalid, max(0, total - valid - invalid),
                           tuple(shown[:NEXT_SHOWN]), max(0, -read))

    async def columns(self, owner_id: int) -> list[tuple[str, int]]:
        """The owner's contacts' attribute names that hold dates (of a recent sample): each
        with how many of the sample's values read as dates, the most first."""
        found: list[tuple[str, int]] = []
        for name, _ in await contact_dates.attribute_names(self._db.reader, owner_id):
            values = await contact_dates.values(self._db.reader, owner_id, name)
            good = sum(1 for v in values if dates.parse(v) is not None)
            if good:
                found.append((name, good))
        found.sort(key=lambda x: (-x[1], x[0]))
        return found
