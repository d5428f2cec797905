"""A contact's card (/contact): found by phone or by name; its lists, attributes, opt-out
state and last messages in both directions; its name or an attribute edited; deleted and
forgotten.

- ``find``: a phone (as the owner's region writes it, or E.164) is that contact; other
  words search the names (at most ``FOUND_MAX``).
- ``card``: the last ``LINES`` messages, the customer's (their text, or what they sent)
  and the owner's (a campaign's, named; an answer from the inbox, its text), newest first.
- ``rename`` / ``set_attribute``: typed answers to the card's buttons
  (``PromptKind.CONTACT_EDIT``, closed in the transaction that saves). An attribute is
  ``key: value`` (the key named as a file's column heading would be, so that
  ``{{key}}`` fills it); an empty value removes it; ``name`` and ``phone`` are the
  contact's own, not attributes.
- ``forget``: the contact deleted (an opted-out number stays, nameless, so that it stays
  opted out) and what was said forgotten: the texts and attachments of the customer's
  messages, the texts of the owner's answers, the conversation (topic, mute). The rows
  stay, without words, for the campaigns' figures and the credits they cost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from bot.clock import Clock, utcnow
from bot.domain import Contact, ContactList, Conversation
from bot.errors import NotFound, ValidationError
from bot.services.imports import PhoneNormaliser
from bot.services.imports.headers import variable_name
from bot.services.prompts import PromptKind
from bot.services.prompts import close as close_prompt
from bot.services.templates import BUILTIN_VARIABLES
from bot.storage import contact_cards as repo
from bot.storage import contacts as contacts_repo
from bot.storage import inbound
from bot.storage import inbox as inbox_repo
from bot.storage import lists as lists_repo
from bot.storage.db import Database

log = logging.getLogger(__name__)

FOUND_MAX = 10
LINES = 10
NAME_MAX = 100
VALUE_MAX = 500
ATTRIBUTES_MAX = 50


@dataclass(frozen=True, slots=True)
class CardLine:
    """One message on the card: ``incoming`` (the customer's: ``kind`` what it was) or
    the owner's (``campaign`` it belonged to, ``status``; ``text`` an answer's words)."""

    at: datetime
    incoming: bool
    text: str | None = None
    kind: str = "text"
    campaign: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class ContactCard:
    contact: Contact
    lists: list[ContactList] = field(default_factory=list)
    lines: list[CardLine] = field(default_factory=list)
    conversation: Conversation | None = None  # it wrote to one of the owner's numbers
    replied_at: datetime | None = None  # when it last wrote


class ContactCardService:
    def __init__(self, db: Database, default_region: str, clock: Clock = utcnow) -> None:
        self._db = db
        self._region = default_region
        self._clock = clock

    async def find(self, owner_id: int, query: str, region: str | None = None) -> list[Contact]:
        """The contact a phone names, or the contacts whose name holds the words."""
        words = " ".join(query.split())
        if not words:
            raise ValidationError("contact_query", where="contact")
        digits = sum(c.isdigit() for c in words)
        if digits >= 5 and digits >= len(words.replace(" ", "")) - 3:
            phone, _reason = PhoneNormaliser(region or self._region,
                                             allow_landlines=True).normalise(words)
            if phone is None:
                raise ValidationError("not_a_phone_number", where="phone")
            found = await contacts_repo.get_by_phone(self._db.reader, owner_id, phone)
            if found is None:
                raise NotFound("contact", phone=phone)
            return [found]
        return await repo.by_name(self._db.reader, owner_id, words[:NAME_MAX], FOUND_MAX)

    async def by_phone(self, owner_id: int, phone: str) -> Contact | None:
        return await contacts_repo.get_by_phone(self._db.reader, owner_id, phone)

    async def get(self, owner_id: int, contact_id: int) -> Contact:
        found = (await contacts_repo.by_ids(self._db.reader, owner_id, [contact_id])
                 ).get(contact_id)
        if found is None:
            raise NotFound("contact")
        return found

    async def card(self, owner_id: int, contact_id: int) -> ContactCard:
        contact = await self.get(owner_id, contact_id)
        reader = self._db.reader
        member = (await contacts_repo.memberships(reader, owner_id, [contact.id])
                  ).get(contact.id, [])
        lists = [lst for lst in await lists_repo.for_owner(reader, owner_id) if lst.id in member]
        lines = [CardLine(m.received_at, True, m.text, m.kind)
                 for m in await inbound.of_phone(reader, owner_id, contact.phone, LINES)]
        lines += [CardLine(m.at, False, m.text, "answer" if m.campaign_id is None else
                           "campaign", m.campaign_name, m.status.value)
                  for m in await repo.outbound(reader, owner_id, contact.id, LINES)]
        lines.sort(key=lambda line: line.at, reverse=True)
        return ContactCard(contact, lists, lines[:LINES],
                           await inbox_repo.conversation(reader, owner_id, contact.phone),
                           await inbound.replied_at(reader, owner_id, contact.id))

    async def rename(self, owner_id: int, contact_id: int, name: str) -> Contact:
        name = " ".join(name.split())
        if not name or len(name) > NAME_MAX:
            raise ValidationError("contact_name", where="name", limit=NAME_MAX)
        contact = await self.get(owner_id, contact_id)
        async with self._db.transaction() as tx:
            await repo.update(tx, owner_id, contact.id, name, contact.attributes, self._clock())
            await close_prompt(tx, owner_id, PromptKind.CONTACT_EDIT)
        return await self.get(owner_id, contact_id)

    async def set_attribute(self, owner_id: int, contact_id: int, typed: str) -> Contact:
        """``key: value`` (or ``key = value``); an empty value removes the attribute."""
        separator = ":" if ":" in typed else "=" if "=" in typed else None
        if separator is None:
            raise ValidationError("contact_attribute", where="attribute")
        raw_key, _, raw_value = typed.partition(separator)
        key, value = variable_name(raw_key.strip()), " ".join(raw_value.split())
        if not key or key in BUILTIN_VARIABLES:
            raise ValidationError("contact_attribute_key", where="attribute",
                                  word=raw_key.strip()[:40])
        if len(value) > VALUE_MAX:
            raise ValidationError("contact_attribute_long", where="attribute",
                                  limit=VALUE_MAX)
        contact = await self.get(owner_id, contact_id)
        attributes = dict(contact.attributes)
        if value:
            attributes[key] = value
        else:
            attributes.pop(key, None)
        if len(attributes) > ATTRIBUTES_MAX:
            raise ValidationError("contact_attributes_many", where="attribute",
                                  limit=ATTRIBUTES_MAX)
        async with self._db.transaction() as tx:
            await repo.update(tx, owner_id, contact.id, contact.name, attributes, self._clock())
            await close_prompt(tx, owner_id, PromptKind.CONTACT_EDIT)
        return await self.get(owner_id, contact_id)

    async def forget(self, owner_id: int, contact_id: int) -> Contact:
        """Delete the contact and forget what was said (see the module docstring);
        answers the contact as it was."""
        contact = await self.get(owner_id, contact_id)
        async with self._db.transaction() as tx:
            await repo.forget(tx, owner_id, contact)
        log.info("owner %d deleted and forgot contact %d", owner_id, contact.id)
        return contact
