"""Credits: the balance an owner sees, an admin crediting a payment, and the ledger's rows.

One credit per message. Every change is a ledger row (``bot/storage/ledger.py`` says how
the balance, the reserved credits and the available credits follow from the rows). The
rows are written here only, by ``reserve``, ``charge``, ``release``, ``credit`` and
``adjust``: each takes a count of credits and decides the row's kind and sign itself.
They take the caller's open transaction, so a campaign confirmed (``campaigns.py``) or a
batch of messages recorded (``dispatcher.py``) and its credits commit together. A test
fails when another module calls ``ledger.add``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import Clock, utcnow
from bot.domain import Balance, LedgerKind, LedgerLine, Owner
from bot.errors import NotAllowed, NotFound, ValidationError
from bot.services.notify import BalanceChanged, Notifier
from bot.storage import ledger, owners
from bot.storage.db import Connection, Database

CREDIT_MAX = 10_000_000  # per ledger row: a typo of a few zeros is refused
NOTE_MAX = 200
CREDITS_PER_MESSAGE = 1


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


def _count(n: int) -> int:
    """A number of credits: whole and not negative (the sign is the kind's)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"a count of credits is a whole number >= 0, not {n!r}")
    return n


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

    async def credit(
        self, admin_id: int, owner_id: int, amount: int, note: str | None
    ) -> tuple[Owner, Balance]:
        """An admin adds (or, with a negative amount, corrects) an owner's credits; the
        owner is told (``BalanceChanged``)."""
        if admin_id not in self._admin_ids:
            raise NotAllowed("not_admin")
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
