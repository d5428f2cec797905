"""Contacts and lists as an integration sees them: by phone, many at a time.

The rules are the file import's (``bot.services.imports``, ``ContactsService.run_import``),
so that a contact sent through the API and the same row in a file end up the same:

- the phone is normalised by the import's ``PhoneNormaliser`` in the owner's region, with
  the same setting for landlines; a number it refuses is a rejected row with the import's
  reason (``too_short``, ``landline``, ...) and its index in the request;
- the name and the variables' values are trimmed, and a blank one erases nothing;
  variables are named as a file's column headings are (``headers.variable_names``:
  ``"City"`` is ``{{city}}``);
- a phone repeated in the request is one contact: the later item wins, keeping what it
  leaves blank from the earlier ones (as within a file);
- the write is the import's upsert statement (``contacts.UPSERT_RETURNING_IDS_SQL``): the
  newer name and non-blank values win, an opt-out is never undone (``opted_out: false``
  changes nothing; opting back in is ``opt_in``, as a START reply is); new contacts get
  ids in the request's order; the lists they go in learn their variables;
- one request is one transaction: all of it is written, or (a list that is not the
  owner's, a full disk) none of it.

Every function takes the owner id and reaches that owner's rows only.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from bot.clock import Clock, utcnow
from bot.domain import Contact, ContactList
from bot.errors import Conflict, NotFound, ValidationError
from bot.services.contacts import ContactsService, _list_name
from bot.services.imports import PhoneNormaliser
from bot.services.imports.headers import variable_names
from bot.services.opt_outs import skip_queued
from bot.services.webhooks import EventType, WebhooksService, contact_data
from bot.storage import contacts as contacts_repo
from bot.storage import lists as lists_repo
from bot.storage import owners as owners_repo
from bot.storage.db import Database

MAX_CONTACTS = 10_000  # contacts (or phones) in one request
OPT_OUT_REASON = "API"  # what the chat shows as the reason of an opt-out made here
PAGE_DEFAULT = 100
PAGE_MAX = 1_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ContactInput:
    """One contact to add or update, as the caller wrote it (the phone not yet normalised)."""

    phone: str
    name: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    list_ids: tuple[int, ...] = ()
    opted_out: bool = False  # True opts the number out; False leaves an opt-out as it is


@dataclass(frozen=True, slots=True)
class RejectedContact:
    index: int  # the contact's place in the request, from 0
    phone: str  # as it was sent
    reason: str  # the import's reason code (``imports.REASONS``)


@dataclass(frozen=True, slots=True)
class UpsertReport:
    received: int
    created: int  # new contacts
    updated: int  # known ones (their newer name and values written)
    duplicates: int  # items whose phone came earlier in the same request
    opted_out: int  # of the request's contacts, how many are opted out now
    rejected: tuple[RejectedContact, ...]
    phones: tuple[str | None, ...]  # each item's number in E.164 (None: rejected)
    added: int = 0  # contacts put in lists they were not in yet (counted once per list)


@dataclass(frozen=True, slots=True)
class MembersReport:
    changed: int  # phones added to the list, or taken out of it
    rejected: tuple[RejectedContact, ...]
    created: int = 0  # contacts the list's new members made (numbers not known before)


@dataclass(frozen=True, slots=True)
class ContactRecord:
    contact: Contact
    list_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_after: int | None  # the id to go on after; None: this was the last page


@functools.lru_cache(maxsize=4096)
def _variables_of(keys: tuple[str, ...]) -> tuple[str | None, ...]:
    """Variable names for one set of keys (most contacts of a request share theirs)."""
    return tuple(variable_names(keys))


def _values(variables: Mapping[str, str]) -> dict[str, str]:
    """The non-blank values under the import's variable names, in the caller's order."""
    if not variables:
        return {}
    names = _variables_of(tuple(variables))
    out: dict[str, str] = {}
    for name, value in zip(names, variables.values(), strict=True):
        if name is not None:
            text = value.strip()
            if text:
                out[name] = text
    return out


def _limit(limit: int | None) -> int:
    if limit is None:
        return PAGE_DEFAULT
    if not 1 <= limit <= PAGE_MAX:
        raise ValidationError("out_of_range", where="limit", min=1, max=PAGE_MAX)
    return limit


class ContactsApiService:
    def __init__(self, db: Database, contacts: ContactsService, clock: Clock = utcnow,
                 webhooks: WebhooksService | None = None) -> None:
        self._db = db
        self._contacts = contacts
        self._webhooks = webhooks  # an opt-out is a contact.opted_out event
        self._config = contacts.config
        self._clock = clock
        # one normaliser per (region, landlines), used on the event loop only: its memo
        # (bounded) carries over from one request to the next
        self._normalisers: dict[tuple[str, bool], PhoneNormaliser] = {}

    async def _region(self, owner_id: int) -> str:
        owner = await owners_repo.get(self._db.reader, owner_id)
        if owner is None:
            raise NotFound("owner", owner_id=owner_id)
        return owner.region or self._config.default_region

    def _normaliser(self, region: str, landlines: bool) -> PhoneNormaliser:
        key = (region, landlines)
        found = self._normalisers.get(key)
        if found is None:
            found = self._normalisers[key] = PhoneNormaliser(region, landlines)
        return found

    async def _lookup(self, owner_id: int, raw: str) -> str:
        """A phone to look up: normalised as imports do, any valid number (an opted-out
        landline is a contact too)."""
        phone, reason = self._normaliser(await self._region(owner_id), True).normalise(raw)
        if phone is None:
            raise ValidationError(reason or "not_a_phone_number", where="phone")
        return phone

    # --- contacts ---------------------------------------------------------------------

    async def upsert(
        self, owner_id: int, items: Sequence[ContactInput], list_ids: Iterable[int] = (),
    ) -> UpsertReport:
        """Add or update ``items`` (at most ``MAX_CONTACTS``), each into its own
        ``list_ids`` and all into ``list_ids``, in one transaction. Rejected numbers are
        reported, the rest is written. ``NotFound`` when a list is not the owner's."""
        if len(items) > MAX_CONTACTS:
            raise ValidationError("too_many", where="contacts", limit=MAX_CONTACTS)
        common = tuple(dict.fromkeys(list_ids))
        normalise = self._normaliser(await self._region(owner_id),
                                     self._config.allow_landlines).normalise
        rows: dict[str, list[object]] = {}  # phone -> [phone, name, values, seq]
        into: dict[int, dict[str, None]] = {list_id: {} for list_id in common}
        opt_outs: list[str] = []
        phones: list[str | None] = []
        rejected: list[RejectedContact] = []
        duplicates = 0
        for index, item in enumerate(items):
            phone, reason = normalise(item.phone)
            if reason is not None or phone is None:
                rejected.append(RejectedContact(index, item.phone, reason or "no_phone"))
                phones.append(None)
                continue
            phones.append(phone)
            name = item.name.strip() if item.name else ""
            values = _values(item.variables)
            row = rows.get(phone)
            if row is None:
                rows[phone] = [phone, name or None, values, index + 1]
            else:  # the later item wins; what it leaves blank stays (its place too)
                duplicates += 1
                row[3] = index + 1
                if name:
                    row[1] = name
                if values:
                    earlier = row[2]
                    assert isinstance(earlier, dict)
                    row[2] = {**earlier, **values}
            for list_id in item.list_ids:
                into.setdefault(list_id, {})[phone] = None
            if item.opted_out:
                opt_outs.append(phone)
        received = len(items)
        now = self._clock()
        # by phone, as the import writes its chunks (the phone index is walked in order)
        encoded = json.dumps([rows[p] for p in sorted(rows)], ensure_ascii=False,
                             separators=(",", ":"))
        async with self._db.transaction() as tx:
            if into:
                owned = await lists_repo.owned(tx, owner_id, list(into))
                for list_id in into:
                    if list_id not in owned:
                        raise NotFound("list", list_id=list_id)
            base = await contacts_repo.max_id(tx)
            written = await contacts_repo.upsert_returning(tx, owner_id, encoded, base, now)
            ids = {phone: contact_id for contact_id, phone, _ in written}
            added = 0
            for list_id, members in into.items():
                every = list_id in common
                added += await contacts_repo.add_ids_to_list(
                    tx, list_id, list(ids.values()) if every else [ids[p] for p in members], now)
                names: dict[str, None] = {}
                for phone in (rows if every else members):
                    held = rows[phone][2]
                    assert isinstance(held, dict)
                    names.update(dict.fromkeys(held))
                if names:
                    await lists_repo.add_variables(tx, owner_id, list_id, list(names))
            already = {phone for _, phone, out in written if out}
            newly = [phone for phone in dict.fromkeys(opt_outs) if phone not in already]
            if newly:
                await contacts_repo.opt_out_many(tx, owner_id, newly, OPT_OUT_REASON, now)
                await skip_queued(tx, owner_id, newly, now)
                if self._webhooks is not None:  # as a STOP's: once, with the opt-out
                    await self._webhooks.emit_many(tx, [
                        (owner_id, EventType.CONTACT_OPTED_OUT, contact_data(Contact(
                            ids[phone], owner_id, phone, opted_out_at=now,
                            opt_out_reason=OPT_OUT_REASON))) for phone in newly])
        opted = already | set(newly)
        created = sum(1 for contact_id, _, _ in written if contact_id > base)
        return UpsertReport(
            received=received, created=created, updated=len(written) - created,
            duplicates=duplicates, opted_out=len(opted), rejected=tuple(rejected),
            phones=tuple(phones), added=added,
        )

    async def get(self, owner_id: int, raw_phone: str) -> ContactRecord:
        phone = await self._lookup(owner_id, raw_phone)
        contact = await contacts_repo.get_by_phone(self._db.reader, owner_id, phone)
        if contact is None:
            raise NotFound("contact", phone=phone)
        return await self._record(owner_id, contact)

    async def _record(self, owner_id: int, contact: Contact) -> ContactRecord:
        found = await contacts_repo.memberships(self._db.reader, owner_id, [contact.id])
        return ContactRecord(contact, tuple(found.get(contact.id, ())))

    async def page(
        self, owner_id: int, *, list_id: int | None = None, after: int = 0,
        limit: int | None = None,
    ) -> Page[ContactRecord]:
        """The owner's contacts by id (of one list, when given), ``limit`` at a time."""
        size = _limit(limit)
        if list_id is not None and not await lists_repo.exists(self._db.reader, owner_id,
                                                               list_id):
            raise NotFound("list", list_id=list_id)
        found = await contacts_repo.page(self._db.reader, owner_id, max(after, 0), size + 1,
                                         list_id)
        more = len(found) > size
        found = found[:size]
        member = await contacts_repo.memberships(self._db.reader, owner_id,
                                                 [c.id for c in found])
        records = [ContactRecord(c, tuple(member.get(c.id, ()))) for c in found]
        return Page(records, found[-1].id if more else None)

    async def opt_out(self, owner_id: int, raw_phone: str,
                      reason: str | None = OPT_OUT_REASON) -> ContactRecord:
        """As a STOP reply: the number is opted out of every campaign (remembered even when
        it was not a contact yet), a ``contact.opted_out`` event written with it."""
        contact = await self._contacts.opt_out(owner_id, raw_phone, reason,
                                               await self._region(owner_id))
        return await self._record(owner_id, contact)

    async def opt_in(self, owner_id: int, raw_phone: str) -> ContactRecord:
        """As a START reply: campaigns reach the number again. ``NotFound`` for a number
        the owner does not have."""
        contact = await self._contacts.opt_in(owner_id, raw_phone, await self._region(owner_id))
        return await self._record(owner_id, contact)

    async def delete(self, owner_id: int, raw_phone: str) -> Contact:
        """Delete the contact; when it is opted out, keep only the number and its opt-out
        (so that it stays opted out if it comes back). Returns the contact as it was
        (``opted_out_at`` set: the number was kept). ``NotFound`` when unknown."""
        phone = await self._lookup(owner_id, raw_phone)
        async with self._db.transaction() as tx:
            contact = await contacts_repo.delete(tx, owner_id, phone)
        if contact is None:
            raise NotFound("contact", phone=phone)
        return contact

    # --- lists ------------------------------------------------------------------------

    async def create_list(self, owner_id: int, name: str) -> ContactList:
        """A new, empty list; its name follows the chat's rules (``Conflict`` when the
        owner has a list of that name)."""
        name = _list_name(name)
        async with self._db.transaction() as tx:
            if await lists_repo.name_taken(tx, owner_id, name):
                raise Conflict("list_name_taken", name=name)
            return await lists_repo.create(tx, owner_id, name, self._clock())

    async def lists(
        self, owner_id: int, *, after: int = 0, limit: int | None = None,
    ) -> Page[ContactList]:
        size = _limit(limit)
        found = await lists_repo.page(self._db.reader, owner_id, max(after, 0), size + 1)
        more = len(found) > size
        found = found[:size]
        return Page(found, found[-1].id if more else None)

    async def add_members(
        self, owner_id: int, list_id: int, phones: Sequence[str],
    ) -> MembersReport:
        """Put these numbers in the list, as a file of numbers imported into it would:
        numbers the owner does not have yet become contacts; names and variables of known
        ones are left as they are."""
        report = await self.upsert(owner_id, [ContactInput(p) for p in phones], (list_id,))
        return MembersReport(changed=report.added, rejected=report.rejected,
                             created=report.created)

    async def remove_members(
        self, owner_id: int, list_id: int, phones: Sequence[str],
    ) -> MembersReport:
        """Take these numbers out of the list; they stay the owner's contacts."""
        if len(phones) > MAX_CONTACTS:
            raise ValidationError("too_many", where="phones", limit=MAX_CONTACTS)
        normalise = self._normaliser(await self._region(owner_id), True).normalise
        found: dict[str, None] = {}
        rejected: list[RejectedContact] = []
        for index, raw in enumerate(phones):
            phone, reason = normalise(raw)
            if phone is None:
                rejected.append(RejectedContact(index, raw, reason or "no_phone"))
            else:
                found[phone] = None
        async with self._db.transaction() as tx:
            if not await lists_repo.exists(tx, owner_id, list_id):
                raise NotFound("list", list_id=list_id)
            removed = await lists_repo.remove_members(tx, owner_id, list_id, list(found))
        return MembersReport(changed=removed, rejected=tuple(rejected))
