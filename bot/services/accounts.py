"""Accounts: registration, approval, suspension, language.

Registration is a short questionnaire whose state is the owner row itself: each answer
is saved at once, and the next question is derived from what is missing
(``Owner.registration_step``), so a restart in the middle loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import phonenumbers

from bot.clock import Clock, utcnow
from bot.domain import Language, Owner, OwnerStatus, RegistrationStep
from bot.errors import InvalidTransition, NotAllowed, NotFound, ValidationError
from bot.services import guards, prompts, zones
from bot.services.notify import Notifier, OwnerStatusChanged, RegistrationRequested
from bot.storage import owners
from bot.storage.db import Connection, Database

log = logging.getLogger(__name__)

NAME_MAX = 100
COMPANY_MAX = 150
REASON_MAX = 300
PROFILE_FIELDS = ("name", "company", "timezone")  # what an owner can change on My account


@dataclass(frozen=True, slots=True)
class AccountsConfig:
    admin_ids: frozenset[int]
    needs_approval: bool
    default_region: str
    default_timezone: str
    support_contact: str = ""  # SUPPORT_CONTACT; empty: owners are sent to the admin


class AccountsService:
    def __init__(
        self,
        db: Database,
        config: AccountsConfig,
        notifier: Notifier,
        clock: Clock = utcnow,
    ) -> None:
        self._db = db
        self._config = config
        self._notifier = notifier
        self._clock = clock

    def is_admin(self, telegram_id: int) -> bool:
        return telegram_id in self._config.admin_ids

    def now(self) -> datetime:
        return self._clock()

    @property
    def support_contact(self) -> str:
        """Where owners turn for help (SUPPORT_CONTACT), or "" for the admin."""
        return self._config.support_contact

    async def find(self, telegram_id: int) -> Owner | None:
        return await owners.get_by_telegram(self._db.reader, telegram_id)

    async def get(self, owner_id: int) -> Owner:
        owner = await owners.get(self._db.reader, owner_id)
        if owner is None:
            raise NotFound("owner", owner_id=owner_id)
        return owner

    async def require_active(self, telegram_id: int) -> Owner:
        owner = await self.find(telegram_id)
        if owner is None:
            raise NotAllowed("not_registered")
        if owner.status is not OwnerStatus.ACTIVE:
            raise NotAllowed(f"status_{owner.status.value}")
        return owner

    async def start(self, telegram_id: int, chat_id: int, language_code: str | None) -> Owner:
        """The owner behind a Telegram user, registering a new one at first contact."""
        owner = await self.find(telegram_id)
        if owner is not None:
            return owner
        async with self._db.transaction() as tx:
            owner = await owners.get_by_telegram(tx, telegram_id)
            if owner is None:
                owner = await owners.add(
                    tx,
                    telegram_id=telegram_id,
                    chat_id=chat_id,
                    language=Language.from_telegram(language_code),
                    now=self._clock(),
                )
                log.info("new owner %s registering", owner.id)
        return owner

    async def answer(self, telegram_id: int, text: str) -> Owner:
        """A typed answer to the current registration question (name or company)."""
        value = " ".join(text.split())
        async with self._db.transaction() as tx:
            owner = await self._registering(tx, telegram_id)
            step = owner.registration_step
            if step is RegistrationStep.NAME:
                owner.name = _checked_text(value, "name", NAME_MAX)
            elif step is RegistrationStep.COMPANY:
                owner.company = _checked_text(value, "company", COMPANY_MAX)
            else:
                raise ValidationError("unexpected_text", where=step.value)
            await owners.save(tx, owner, self._clock())
        return owner

    async def share_phone(self, telegram_id: int, phone: str, contact_user_id: int | None) -> Owner:
        """The phone from Telegram's share-contact button; it must be the user's own."""
        if contact_user_id != telegram_id:
            raise ValidationError("not_own_contact", where="phone")
        e164 = normalise_phone(phone, self._config.default_region)
        async with self._db.transaction() as tx:
            owner = await self._registering(tx, telegram_id)
            if owner.registration_step is not RegistrationStep.PHONE:
                raise ValidationError("unexpected_contact", where=owner.registration_step.value)
            owner.phone = e164
            owner.region = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
            await owners.save(tx, owner, self._clock())
        return owner

    async def accept_terms(self, telegram_id: int) -> Owner:
        now = self._clock()
        async with self._db.transaction() as tx:
            owner = await self._registering(tx, telegram_id)
            owner.timezone = self.zone(owner)
            owner.submit(now, needs_approval=self._config.needs_approval)
            await owners.save(tx, owner, now)
        log.info("owner %s submitted registration: %s", owner.id, owner.status.value)
        if owner.status is OwnerStatus.PENDING:
            await self._notifier.notify(RegistrationRequested(owner, self._config.admin_ids))
        return owner

    async def set_language(self, telegram_id: int, language: Language) -> Owner | None:
        async with self._db.transaction() as tx:
            owner = await owners.get_by_telegram(tx, telegram_id)
            if owner is None:
                return None
            owner.language = language
            await owners.save(tx, owner, self._clock())
        return owner

    # --- My account: name, business and time zone ------------------------------------

    async def update_profile(self, owner_id: int, field: str, text: str) -> Owner:
        """Set the owner's name, business or time zone (typed, or a zone's button).

        A value that does not do raises ValidationError and changes nothing, the question
        (``PromptKind.PROFILE``) stays open; a good one is saved and closes it.
        """
        value = " ".join(text.split())
        if field == "name":
            value = _checked_text(value, "name", NAME_MAX)
        elif field == "company":
            value = _checked_text(value, "company", COMPANY_MAX)
        elif field == "timezone":
            value = zones.resolve(value)
        else:
            raise ValidationError("unknown_field", where=field)
        async with self._db.transaction() as tx:
            owner = await owners.get(tx, owner_id)
            if owner is None:
                raise NotFound("owner", owner_id=owner_id)
            setattr(owner, field, value)
            await owners.save(tx, owner, self._clock())
            await prompts.close(tx, owner_id, prompts.PromptKind.PROFILE)
        log.info("owner %s changed their %s", owner.id, field)
        return owner

    def zone(self, owner: Owner | None) -> str:
        """The IANA zone the owner's times are shown in (``zones.owner_zone``; None, e.g.
        an admin who is no owner: DEFAULT_TIMEZONE)."""
        return zones.owner_zone(owner, self._config.default_timezone)

    def timezone_choices(self, owner: Owner) -> list[str]:
        """Zones to offer as buttons: the owner's country's, and the current one."""
        return zones.suggestions(owner.region or self._config.default_region, owner.phone,
                                 self.zone(owner),
                                 self._clock())

    # --- admin actions ----------------------------------------------------------------

    async def approve(self, admin_id: int, owner_id: int) -> Owner:
        return await self._decide(admin_id, owner_id, lambda o: o.approve(self._clock()))

    async def reject(self, admin_id: int, owner_id: int, reason: str | None = None) -> Owner:
        return await self._decide(admin_id, owner_id, lambda o: o.reject(_reason(reason)))

    async def suspend(self, admin_id: int, owner_id: int, reason: str | None = None) -> Owner:
        return await self._decide(admin_id, owner_id, lambda o: o.suspend(_reason(reason)))

    async def unsuspend(self, admin_id: int, owner_id: int) -> Owner:
        return await self._decide(admin_id, owner_id, lambda o: o.unsuspend())

    async def pending(self, admin_id: int) -> list[Owner]:
        self.require_admin(admin_id)
        return await owners.list_by_status(self._db.reader, OwnerStatus.PENDING)

    async def rejectable(self, admin_id: int, owner_id: int) -> Owner:
        """The owner an admin may still decline (one waiting for approval): Reject was
        pressed, the admin is asked for the reason (``PromptKind.REJECT_REASON``)."""
        self.require_admin(admin_id)
        owner = await owners.get(self._db.reader, owner_id)
        if owner is None:
            raise NotFound("owner", owner_id=owner_id)
        if owner.status is not OwnerStatus.PENDING:
            raise InvalidTransition("owner", owner.status, OwnerStatus.REJECTED)
        return owner

    async def _decide(self, admin_id: int, owner_id: int, change: Callable[[Owner], None]) -> Owner:
        self.require_admin(admin_id)
        async with self._db.transaction() as tx:
            owner = await owners.get(tx, owner_id)
            if owner is None:
                raise NotFound("owner", owner_id=owner_id)
            change(owner)  # raises InvalidTransition when the status does not allow it
            await owners.save(tx, owner, self._clock())
            await prompts.close_admins_about(tx, owner.id)  # asked for a reason: moot
        log.info("admin %s set owner %s to %s", admin_id, owner.id, owner.status.value)
        await self._notifier.notify(OwnerStatusChanged(owner))
        return owner

    def require_admin(self, telegram_id: int) -> None:
        """NotAllowed unless `telegram_id` is one of ADMIN_IDS."""
        guards.require_admin(self._config.admin_ids, telegram_id)

    async def _registering(self, tx: Connection, telegram_id: int) -> Owner:
        owner = await owners.get_by_telegram(tx, telegram_id)
        if owner is None:
            raise NotAllowed("not_registered")
        if owner.status is not OwnerStatus.REGISTERING:
            raise NotAllowed(f"status_{owner.status.value}")
        return owner


def _checked_text(value: str, where: str, limit: int) -> str:
    if len(value) < 2:
        raise ValidationError("too_short", where=where)
    if len(value) > limit:
        raise ValidationError("too_long", where=where, limit=limit)
    if value.startswith("/"):
        raise ValidationError("looks_like_command", where=where)
    return value


def _reason(reason: str | None) -> str | None:
    reason = " ".join((reason or "").split())
    return reason[:REASON_MAX] or None


def normalise_phone(raw: str, region: str) -> str:
    """E.164 for a phone typed or shared; Telegram shares numbers without the ``+``."""
    text = raw.strip()
    if text and text[0].isdigit() and not text.startswith("0") and len(text) > 10:
        text = "+" + text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValidationError("not_a_phone_number", where="phone") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError("not_a_phone_number", where="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
