"""Credits: the balance an owner sees, an admin crediting a payment, and the ledger's rows.

One credit per message. Every change is a ledger row (``bot/storage/ledger.py`` says how
the balance, the reserved credits and the available credits follow from the rows). The
rows are written here only, by ``reserve``, ``charge``, ``release``, ``credit``,
``adjust``, ``credit_package`` and ``take_back``: each takes a count of credits and decides
the row's kind and sign itself. They take the caller's open transaction, so a campaign
confirmed (``campaigns.py``) or a batch of messages recorded (``dispatcher.py``) and its
credits commit together. A test fails when another module calls ``ledger.add``.

Credits come in lots (``bot/storage/lots.py``), each with its expiry (a package's
``validity_days`` after the purchase; an admin's credits and what owners had before lots
never expire). They are spent oldest-expiring first; ``BillingService.expire_due`` (a job)
lapses what is left of a lot at its end by an ``expire`` row, never what campaigns hold
(that lapses when it is given back), and ``expiry_warnings`` tells the owner
``WARN_BEFORE`` ahead, once per lot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock, utcnow
from bot.domain import Balance, LedgerKind, LedgerLine, Owner
from bot.errors import NotFound, ValidationError
from bot.services import guards
from bot.services.notify import BalanceChanged, CreditsExpiring, Notifier
from bot.storage import ledger, lots, owners
from bot.storage.db import Connection, Database
from bot.storage.lots import Lot

log = logging.getLogger(__name__)

CREDIT_MAX = 10_000_000  # per ledger row: a typo of a few zeros is refused
NOTE_MAX = 200
CREDITS_PER_MESSAGE = 1
WARN_BEFORE = timedelta(days=3)  # the owner is told this long before a lot expires
CREDITS_CHECK_EVERY = timedelta(hours=1)  # the job that lapses and warns (bot/app.py)
EXPIRE_BATCH = 500  # lots lapsed per transaction


# --- the ledger's rows (in the caller's transaction; ``n`` counts credits, never signed) --

async def reserve(tx: Connection, owner_id: int, n: int, now: datetime, *,
                  campaign_id: int | None = None, note: str | None = None) -> None:
    """Hold ``n`` credits (for a campaign's run, or a test message): they are no longer
    available, and still the owner's until charged or released."""
    await ledger.add(tx, owner_id, LedgerKind.RESERVE, -_count(n), now,
                     campaign_id=campaign_id, note=note)


async def charge(tx: Connection, owner_id: int, n: int, now: datetime, *,
                 campaign_id: int | None = None, note: str | None = None) -> None:
    """Spend ``n`` held credits (messages sent): the balance goes down, the hold too."""
    await ledger.add(tx, owner_id, LedgerKind.CHARGE, -_count(n), now,
                     campaign_id=campaign_id, note=note)


async def release(tx: Connection, owner_id: int, n: int, now: datetime, *,
                  campaign_id: int | None = None, note: str | None = None) -> None:
    """Give back ``n`` held credits (messages failed or cancelled): available again."""
    await ledger.add(tx, owner_id, LedgerKind.RELEASE, _count(n), now,
                     campaign_id=campaign_id, note=note)


async def credit(tx: Connection, owner_id: int, n: int, now: datetime, *,
                 note: str | None = None, actor_id: int | None = None) -> None:
    """Add ``n`` credits the owner paid for."""
    await ledger.add(tx, owner_id, LedgerKind.CREDIT, _count(n), now, note=note,
                     actor_id=actor_id)


async def adjust(tx: Connection, owner_id: int, amount: int, now: datetime, *,
                 note: str | None = None, actor_id: int | None = None) -> None:
    """Correct the owner's credits by ``amount`` (the one signed change: an admin's
    correction takes credits away with a negative one)."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise ValueError(f"an adjustment is a nonzero whole number, not {amount!r}")
    await ledger.add(tx, owner_id, LedgerKind.ADJUST, amount, now, note=note,
                     actor_id=actor_id)


async def credit_package(tx: Connection, owner_id: int, credits: int, now: datetime, *,
                         validity_days: int, package_id: int | None, order_id: int | None,
                         note: str | None, actor_id: int | None = None) -> datetime | None:
    """Add a package's ``credits`` the owner paid for: a ``credit`` row naming the package
    and their lot, which expires ``validity_days`` after ``now`` (0: never). Answers when
    they expire."""
    if not isinstance(validity_days, int) or validity_days < 0:
        raise ValueError(f"validity_days is a whole number >= 0, not {validity_days!r}")
    expires_at = now + timedelta(days=validity_days) if validity_days else None
    await ledger.add(tx, owner_id, LedgerKind.CREDIT, _count(credits), now, note=note,
                     actor_id=actor_id, expires_at=expires_at, package_id=package_id,
                     order_id=order_id)
    return expires_at


async def take_back(tx: Connection, owner_id: int, order_id: int, now: datetime,
                    note: str | None) -> int:
    """Take back the credits of an order (a refund): what of its lot is still available,
    by an ``adjust`` row, never more than the owner has available; the lot then ends, so
    that what campaigns hold of it lapses when given back. Answers the credits taken
    (0 the second time)."""
    found = await lots.of_order(tx, owner_id, order_id)
    available = (await ledger.balance(tx, owner_id)).available
    taken = 0
    for lot in found:
        n = min(lot.remaining, available - taken)
        if n > 0:
            await ledger.add(tx, owner_id, LedgerKind.ADJUST, -n, now, note=note,
                             lot_id=lot.id, package_id=lot.package_id)
            taken += n
        await lots.end(tx, lot.id, now)
    return taken


def _count(n: int) -> int:
    """A number of credits: whole and not negative (the sign is the kind's)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"a count of credits is a whole number >= 0, not {n!r}")
    return n


@dataclass(frozen=True, slots=True)
class Expiring:
    """Credits of one lot that lapse at ``at`` unless spent first."""

    credits: int
    at: datetime


@dataclass(frozen=True, slots=True)
class History:
    """What /balance lists: ``lines`` newest first, and ``earlier``, what the lines before
    them add up to. Together they make the balance."""

    lines: list[LedgerLine]
    earlier: int = 0


class BillingService:
    def __init__(
        self, db: Database, admin_ids: frozenset[int], notifier: Notifier, clock: Clock = utcnow
    ) -> None:
        self._db = db
        self._admin_ids = admin_ids
        self._notifier = notifier
        self._clock = clock

    async def balance(self, owner_id: int) -> Balance:
        return await ledger.balance(self._db.reader, owner_id)

    async def history(self, owner_id: int, limit: int = 5) -> History:
        """The latest lines of the owner's balance history (a campaign's reserved, spent
        and returned credits on one line) and what the older ones add up to."""
        lines, earlier = await ledger.history(self._db.reader, owner_id, limit)
        return History(lines, earlier)

    async def expiring(self, owner_id: int, limit: int = 3) -> list[Expiring]:
        """The owner's available credits that will expire, nearest first (/balance)."""
        found = await lots.expiring(self._db.reader, owner_id, self._clock(), limit)
        return [Expiring(lot.remaining, lot.expires_at) for lot in found
                if lot.expires_at is not None]

    async def credit_lots(self, owner_id: int) -> list[Lot]:
        """The owner's lots that still have credits, in the order they are spent."""
        return await lots.live(self._db.reader, owner_id)

    async def expire_due(self) -> int:
        """A job: what is still available of each lot past its end lapses, by an
        ``expire`` row (credits campaigns hold stay theirs; they lapse when given back).
        Answers the credits lapsed."""
        lapsed = 0
        while True:
            now = self._clock()
            async with self._db.transaction() as tx:
                due = await lots.due(tx, now, EXPIRE_BATCH)
                for lot in due:
                    await ledger.add(tx, lot.owner_id, LedgerKind.EXPIRE, -lot.remaining, now,
                                     lot_id=lot.id, package_id=lot.package_id)
                    lapsed += lot.remaining
            if len(due) < EXPIRE_BATCH:
                break
        if lapsed:
            log.info("%d credits lapsed", lapsed)
        return lapsed

    async def expiry_warnings(self) -> int:
        """A job: each active owner whose lot expires within ``WARN_BEFORE`` is told how
        many of its credits will lapse and when (``CreditsExpiring``), once per lot.
        Answers how many were told."""
        now = self._clock()
        async with self._db.transaction() as tx:
            found = await lots.to_warn(tx, now, now + WARN_BEFORE)
            if not found:
                return 0
            await lots.mark_warned(tx, [lot.id for lot in found], now)
            people = {oid: await owners.get(tx, oid) for oid in {lot.owner_id for lot in found}}
        for lot in found:
            owner = people[lot.owner_id]
            if owner is not None and lot.expires_at is not None:
                await self._notifier.notify(CreditsExpiring(owner, lot.remaining,
                                                            lot.expires_at))
        return len(found)

    async def credit(
        self, admin_id: int, owner_id: int, amount: int, note: str | None
    ) -> tuple[Owner, Balance]:
        """An admin adds (or, with a negative amount, corrects) an owner's credits; the
        owner is told (``BalanceChanged``)."""
        guards.require_admin(self._admin_ids, admin_id)
        if amount == 0 or abs(amount) > CREDIT_MAX:
            raise ValidationError("amount", where="amount", limit=CREDIT_MAX)
        note = " ".join((note or "").split())[:NOTE_MAX] or None
        async with self._db.transaction() as tx:
            owner = await owners.get(tx, owner_id)
            if owner is None:
                raise NotFound("owner", owner_id=owner_id)
            if amount < 0:
                current = await ledger.balance(tx, owner_id)
                if current.available + amount < 0:
                    raise ValidationError("below_zero", where="amount",
                                          available=current.available)
            if amount > 0:
                await credit(tx, owner_id, amount, self._clock(), note=note,
                             actor_id=admin_id)
            else:
                await adjust(tx, owner_id, amount, self._clock(), note=note,
                             actor_id=admin_id)
            balance = await ledger.balance(tx, owner_id)
        await self._notifier.notify(BalanceChanged(owner, amount, balance.available))
        return owner, balance
