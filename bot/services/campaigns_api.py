"""Campaigns as an integration asks for them (``POST /campaigns``): a list of the owner's,
or the recipients themselves (up to ``MAX_RECIPIENTS``, each with its variables and
``client_ref``), saved as a list first.

Inline recipients become contacts as the API's contacts do (``ContactsApiService.upsert``:
the import's normalisation, merging and opt-out rules; a rejected number comes back with
its index and reason), in a new list named ``API <date and time, UTC>`` unless the order
names it. Then the campaign is made from that list exactly as from any list
(``CampaignsService.create``: the wizard's checks and confirmation), and each recipient's
``client_ref`` goes on its message.

Nothing is written for an order the credits cannot cover: the cost (the valid, distinct,
not opted-out numbers) is checked before the recipients are saved. A campaign refused
after that (a variable without a value, say) takes its list away again; the contacts stay
the owner's, as contacts sent by ``POST /contacts`` would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from bot.clock import Clock, utcnow
from bot.errors import InsufficientCredits, NotFound, ValidationError
from bot.services.billing import CREDITS_PER_MESSAGE
from bot.services.campaigns import CampaignOrder, CampaignsService, Summary
from bot.services.contacts_api import ContactInput, ContactsApiService, RejectedContact
from bot.services.idempotency import InTransaction
from bot.services.imports import PhoneNormaliser
from bot.storage import contacts, ledger, lists, owners
from bot.storage.db import Connection, Database

MAX_RECIPIENTS = 10_000
LIST_NAME_PREFIX = "API"


@dataclass(frozen=True, slots=True)
class Recipient:
    phone: str
    variables: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None
    client_ref: str | None = None


@dataclass(frozen=True, slots=True)
class CampaignCreated:
    summary: Summary  # its ``campaign``, ``cost``, ``finish``, ``opted_out``, ...
    list_id: int
    rejected: tuple[RejectedContact, ...] = ()  # inline recipients not taken
    duplicates: int = 0  # inline recipients whose phone came earlier in the order


@dataclass(frozen=True, slots=True)
class CampaignsApiConfig:
    default_region: str = "AZ"
    allow_landlines: bool = False  # as the imports (IMPORT_ALLOW_LANDLINES)


class CampaignsApiService:
    def __init__(self, db: Database, campaigns: CampaignsService,
                 contacts_api: ContactsApiService, config: CampaignsApiConfig | None = None,
                 clock: Clock = utcnow) -> None:
        self._db = db
        self._campaigns = campaigns
        self._contacts = contacts_api
        self._config = config or CampaignsApiConfig()
        self._clock = clock

    async def create(self, owner_id: int, order: CampaignOrder,
                     recipients: Sequence[Recipient] | None = None,
                     list_name: str | None = None, *,
                     on_commit: InTransaction[CampaignCreated] | None = None,
                     ) -> CampaignCreated:
        """The campaign of ``order`` (its ``list_id``), or of ``recipients`` saved as a
        new list (then ``order.list_id`` is not looked at). ``on_commit`` runs in the
        transaction that confirms it, with the answer."""
        def committing(list_id: int, rejected: tuple[RejectedContact, ...] = (),
                       duplicates: int = 0) -> InTransaction[Summary] | None:
            if on_commit is None:
                return None
            hook = on_commit

            async def write(tx: Connection, summary: Summary) -> None:
                await hook(tx, CampaignCreated(summary, list_id, rejected, duplicates))

            return write

        if recipients is None:
            return CampaignCreated(await self._campaigns.create(
                owner_id, order, committing(order.list_id)), order.list_id)
        if not recipients:
            raise ValidationError("no_recipients", where="recipients")
        if len(recipients) > MAX_RECIPIENTS:
            raise ValidationError("too_many", where="recipients", limit=MAX_RECIPIENTS)
        await self._campaigns.check(owner_id, order)  # what needs no list, first
        await self._check_credits(owner_id, recipients)
        made = await self._contacts.create_list(owner_id, await self._list_name(owner_id,
                                                                                list_name))
        try:
            report = await self._contacts.upsert(
                owner_id, [ContactInput(r.phone, r.name, r.variables) for r in recipients],
                (made.id,))
            if len(report.rejected) == len(recipients):
                raise ValidationError("no_recipients", where="recipients")
            refs = {phone: r.client_ref for phone, r in zip(report.phones, recipients,
                                                             strict=True)
                    if phone is not None and r.client_ref}
            summary = await self._campaigns.create(
                owner_id, replace(order, list_id=made.id, client_refs=tuple(refs.items())),
                committing(made.id, report.rejected, report.duplicates))
        except Exception:
            async with self._db.transaction() as tx:
                await lists.drop_keeping_contacts(tx, owner_id, made.id)
            raise
        return CampaignCreated(summary, made.id, report.rejected, report.duplicates)

    async def _check_credits(self, owner_id: int, recipients: Sequence[Recipient]) -> None:
        """What the recipients will cost (valid, distinct, not opted out), against the
        credits available: ``InsufficientCredits`` before anything is written."""
        owner = await owners.get(self._db.reader, owner_id)
        if owner is None:
            raise NotFound("owner", owner_id=owner_id)
        normalise = PhoneNormaliser(owner.region or self._config.default_region,
                                    self._config.allow_landlines).normalise
        phones = set()
        for recipient in recipients:
            phone, reason = normalise(recipient.phone)
            if phone is not None and reason is None:
                phones.add(phone)
        opted_out = await contacts.count_opted_out(self._db.reader, owner_id, list(phones))
        needed = (len(phones) - opted_out) * CREDITS_PER_MESSAGE
        available = (await ledger.balance(self._db.reader, owner_id)).available
        if needed > available:
            raise InsufficientCredits(needed, available)

    async def _list_name(self, owner_id: int, wanted: str | None) -> str:
        if wanted:
            return wanted  # the contacts service checks it (and that it is not taken)
        base = f"{LIST_NAME_PREFIX} {self._clock():%Y-%m-%d %H:%M:%S} UTC"
        name, n = base, 1
        while await lists.name_taken(self._db.reader, owner_id, name):
            n += 1
            name = f"{base} ({n})"
        return name
