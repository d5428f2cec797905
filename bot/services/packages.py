"""Packages: the credits admins sell, defined in the chat (``/packages``).

A package has a name, its credits, a price in the platform's currency (``CURRENCY``, AZN
by default; stored in minor units) and in Telegram Stars, and how many days its credits
stay valid after the purchase (0: they never expire). A package is on sale or hidden:
owners see those on sale under *Balance* -> *Buy credits*, with the price per message;
hiding one keeps its orders (and an invoice already sent is refused at payment).

*New package* asks five questions, one typed answer each (a prompt of
``PromptKind.PACKAGE_NEW`` whose payload carries the answers so far, so that it survives
a restart): name, credits, price, price in Stars, validity. The first question also takes
the whole package in one line, ``name; credits; price; stars; days``. A wrong answer says
what is wrong and the question stays open. *Edit* asks one field again
(``PromptKind.PACKAGE_EDIT``). Every answer that saves closes its question in the same
transaction. Only admins (``ADMIN_IDS``) define packages.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.clock import Clock, utcnow
from bot.domain import Package
from bot.errors import NotFound, ValidationError
from bot.services import guards, prompts
from bot.services.billing import CREDIT_MAX
from bot.services.prompts import PromptKind
from bot.storage import packages as packages_repo
from bot.storage.db import Connection, Database

log = logging.getLogger(__name__)

NAME_MIN, NAME_MAX = 2, 32  # the name is a Stars invoice's title: Telegram takes 1-32
PRICE_MAX = 100_000_000  # minor units: 1,000,000.00
STARS_MAX = 100_000
DAYS_MAX = 3650

# the questions of *New package*, in order; each is also a field *Edit* changes
FIELDS = ("name", "credits", "price", "stars", "days")
_COLUMNS = {"name": "name", "credits": "credits", "price": "price_minor",
            "stars": "price_stars", "days": "validity_days"}
_DECIMAL = re.compile(r"(\d+)(?:[.,](\d{1,2}))?")
_GROUPED = re.compile(r"\d{1,3}(?:[ ,._'’\u00a0]\d{3})+")  # 1,000 / 1.000 / 1 000


def _whole(text: str, field_name: str, low: int, high: int) -> int:
    """A whole number as typed (``1000``, ``1,000``, ``1 000``), within [low, high]."""
    raw = text.strip().removesuffix("⭐").strip()
    if _GROUPED.fullmatch(raw):
        raw = re.sub(r"\D", "", raw)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValidationError(f"package_{field_name}", where=field_name, low=low, high=high)
    return int(raw)


def parse_field(field_name: str, text: str, currency: str = "AZN") -> str | int:
    """One answer, as the package keeps it: the name folded, whole numbers, the price in
    minor units. ValidationError names the field and what is wrong."""
    if field_name == "name":
        name = " ".join(text.split())
        if not NAME_MIN <= len(name) <= NAME_MAX:
            raise ValidationError("package_name", where="name", low=NAME_MIN, high=NAME_MAX)
        return name
    if field_name == "credits":
        return _whole(text, "credits", 1, CREDIT_MAX)
    if field_name == "stars":
        return _whole(text, "stars", 0, STARS_MAX)
    if field_name == "days":
        return _whole(text, "days", 0, DAYS_MAX)
    if field_name == "price":
        raw = text.strip().replace("₼", "")
        raw = re.sub(re.escape(currency), "", raw, flags=re.IGNORECASE).replace(" ", "")
        found = _DECIMAL.fullmatch(raw)
        try:
            minor = int(Decimal(f"{found[1]}.{found[2] or 0}") * 100) if found else -1
        except InvalidOperation:
            minor = -1
        if not 0 <= minor <= PRICE_MAX:
            raise ValidationError("package_price", where="price", currency=currency)
        return minor
    raise ValueError(f"a package has no field {field_name!r}")


def parse_line(text: str, currency: str = "AZN") -> dict[str, Any]:
    """``name; credits; price; stars; days`` -> the five answers."""
    parts = [part.strip() for part in text.split(";")]
    if len(parts) != len(FIELDS):
        raise ValidationError("package_line", where="line", parts=len(parts))
    return {name: parse_field(name, part, currency) for name, part in zip(FIELDS, parts,
                                                                       strict=True)}


@dataclass(frozen=True, slots=True)
class NewPackageStep:
    """Where *New package* is after an answer: the next question (``question``: a field)
    and the answers so far, or the package made (``package``)."""

    question: str | None
    answers: dict[str, Any] = field(default_factory=dict)
    package: Package | None = None


class PackagesService:
    def __init__(self, db: Database, admin_ids: frozenset[int], clock: Clock = utcnow,
                 currency: str = "AZN") -> None:
        self._db = db
        self._admin_ids = admin_ids
        self._clock = clock
        self.currency = currency


    # --- owners ---------------------------------------------------------------------------

    async def on_sale(self) -> list[Package]:
        """What owners may buy, smallest first."""
        return await packages_repo.on_sale(self._db.reader)

    async def offered(self, package_id: int) -> Package:
        """A package on sale (a hidden one is not found: it is no longer offered)."""
        found = await packages_repo.get(self._db.reader, package_id)
        if found is None or not found.active:
            raise NotFound("package", package_id=package_id)
        return found

    # --- admins ---------------------------------------------------------------------------

    async def every(self, admin_id: int) -> list[Package]:
        """Every package, hidden ones too (those on sale first)."""
        guards.require_admin(self._admin_ids, admin_id)
        return await packages_repo.every(self._db.reader)

    async def get(self, admin_id: int, package_id: int) -> Package:
        guards.require_admin(self._admin_ids, admin_id)
        found = await packages_repo.get(self._db.reader, package_id)
        if found is None:
            raise NotFound("package", package_id=package_id)
        return found

    async def start_new(self, admin_id: int) -> None:
        """*New package*: the admin's next typed message answers its first question."""
        guards.require_admin(self._admin_ids, admin_id)
        async with self._db.transaction() as tx:
            await prompts.ask_admin_in(tx, admin_id, PromptKind.PACKAGE_NEW,
                                       {"field": FIELDS[0], "answers": {}}, self._clock())

    async def answer_new(self, admin_id: int, payload: dict[str, Any],
                         text: str) -> NewPackageStep:
        """An answer to *New package*'s open question (``payload``: the prompt's): the
        next question, or the package (the question closed in the same transaction).
        ValidationError keeps the question open."""
        guards.require_admin(self._admin_ids, admin_id)
        asked = payload.get("field", FIELDS[0])
        answers = dict(payload.get("answers") or {})
        if asked == FIELDS[0] and ";" in text:
            answers = parse_line(text, self.currency)
        else:
            answers[asked] = parse_field(asked, text, self.currency)
        following = next((f for f in FIELDS if f not in answers), None)
        async with self._db.transaction() as tx:
            if "name" in answers:
                await self._check_name(tx, answers["name"])
            if following is not None:
                await prompts.ask_admin_in(tx, admin_id, PromptKind.PACKAGE_NEW,
                                           {"field": following, "answers": answers},
                                           self._clock())
                return NewPackageStep(following, answers)
            package = await self._create(tx, answers)
            await prompts.close_admin(tx, admin_id)
        log.info("admin %s made package %s (%s)", admin_id, package.id, package.name)
        return NewPackageStep(None, answers, package)

    async def create(self, admin_id: int, *, name: str, credits: int, price_minor: int,
                     price_stars: int, validity_days: int) -> Package:
        """A package on sale, at once (the same rules as *New package*)."""
        guards.require_admin(self._admin_ids, admin_id)
        if not 0 <= price_minor <= PRICE_MAX:
            raise ValidationError("package_price", where="price", currency=self.currency)
        answers: dict[str, Any] = {
            "name": parse_field("name", name), "price": price_minor,
            **{f: parse_field(f, str(n)) for f, n in (("credits", credits),
                                                       ("stars", price_stars),
                                                       ("days", validity_days))}}
        async with self._db.transaction() as tx:
            await self._check_name(tx, answers["name"])
            return await self._create(tx, answers)

    async def _create(self, tx: Connection, answers: dict[str, Any]) -> Package:
        if not answers["price"] and not answers["stars"]:
            raise ValidationError("package_free", where="price")
        return await packages_repo.add(
            tx, name=answers["name"], credits=answers["credits"],
            validity_days=answers["days"], price_minor=answers["price"],
            currency=self.currency, price_stars=answers["stars"], now=self._clock())

    async def _check_name(self, tx: Connection, name: str, except_id: int | None = None) -> None:
        for other in await packages_repo.every(tx):
            if other.id != except_id and other.name.casefold() == name.casefold():
                raise ValidationError("package_name_taken", where="name", name=name)

    async def start_edit(self, admin_id: int, package_id: int, field_name: str) -> Package:
        """*Edit* one field: the admin's next typed message is its new value."""
        if field_name not in FIELDS:
            raise ValueError(f"a package has no field {field_name!r}")
        package = await self.get(admin_id, package_id)
        async with self._db.transaction() as tx:
            await prompts.ask_admin_in(tx, admin_id, PromptKind.PACKAGE_EDIT,
                                       {"package_id": package_id, "field": field_name},
                                       self._clock())
        return package

    async def edit(self, admin_id: int, package_id: int, field_name: str,
                   text: str) -> Package:
        """The new value of one field (the question closed with it). Orders already made
        keep what they were made with; an invoice not yet paid whose price or credits
        changed is refused at payment."""
        guards.require_admin(self._admin_ids, admin_id)
        value = parse_field(field_name, text, self.currency)
        async with self._db.transaction() as tx:
            package = await packages_repo.get(tx, package_id)
            if package is None:
                raise NotFound("package", package_id=package_id)
            if field_name == "name":
                await self._check_name(tx, str(value), except_id=package_id)
            price = value if field_name == "price" else package.price_minor
            stars = value if field_name == "stars" else package.price_stars
            if not price and not stars:
                raise ValidationError("package_free", where="price")
            await packages_repo.update(tx, package_id, _COLUMNS[field_name], value,
                                       self._clock())
            await prompts.close_admin(tx, admin_id)
            changed = await packages_repo.get(tx, package_id)
        assert changed is not None
        log.info("admin %s changed the %s of package %s", admin_id, field_name, package_id)
        return changed

    async def drop_question(self, admin_id: int) -> None:
        """*Cancel* under a package's question: nothing is saved."""
        guards.require_admin(self._admin_ids, admin_id)
        async with self._db.transaction() as tx:
            await prompts.close_admin(tx, admin_id)

    async def set_active(self, admin_id: int, package_id: int, active: bool) -> Package:
        """Put a package on sale (``active``) or hide it."""
        guards.require_admin(self._admin_ids, admin_id)
        async with self._db.transaction() as tx:
            if not await packages_repo.set_active(tx, package_id, active, self._clock()):
                raise NotFound("package", package_id=package_id)
            changed = await packages_repo.get(tx, package_id)
        assert changed is not None
        log.info("admin %s %s package %s", admin_id, "showed" if active else "hid", package_id)
        return changed
