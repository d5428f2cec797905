"""Credits: the balance an owner sees, and an admin crediting a payment.

One credit per message. Every change is a ledger row (``bot/storage/ledger.py`` says how
the balance, the reserved credits and the available credits follow from the rows).
Campaigns reserve and release credits inside their own transactions (``campaigns.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.domain import Balance, LedgerKind, LedgerLine, Owner
from bot.errors import NotAllowed, NotFound, ValidationError
from bot.storage import ledger, owners
from bot.storage.db import Database

CREDIT_MAX = 10_000_000  # per ledger row: a typo of a few zeros is refused
NOTE_MAX = 200
CREDITS_PER_MESSAGE = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class History:
    """What /balance lists: ``lines`` newest first, and ``earlier``, what the lines before
    them add up to. Together they make the balance."""

    lines: list[LedgerLine]
    earlier: int = 0


class BillingService:
    def __init__(
        self, db: Database, admin_ids: frozenset[int], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = db
        self._admin_ids = admin_ids
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
        """An admin adds (or, with a negative amount, corrects) an owner's credits."""
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
            kind = LedgerKind.CREDIT if amount > 0 else LedgerKind.ADJUST
            await ledger.add(tx, owner_id, kind, amount, self._clock(), note=note,
                             actor_id=admin_id)
            return owner, await ledger.balance(tx, owner_id)
