"""Credits: an admin crediting a payment, the balance an owner sees, the ledger's math."""

from __future__ import annotations

import pytest

from bot.domain import Language, LedgerKind
from bot.errors import NotAllowed, NotFound, ValidationError
from bot.services.billing import (
    CREDIT_MAX,
    NOTE_MAX,
    BillingService,
    adjust,
    charge,
    release,
    reserve,
)
from bot.services.notify import BalanceChanged
from bot.storage import campaigns as campaigns_repo
from bot.storage import ledger, owners
from bot.storage.db import Database
from tests.fakes import RecordingNotifier

ADMIN = 4242


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def billing(db, clock, notifier) -> BillingService:
    return BillingService(db, frozenset({ADMIN}), notifier, clock)


async def add_owner(db: Database, clock, telegram_id: int = 1) -> int:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
    return owner.id


async def add_campaign(db: Database, clock, oid: int) -> int:
    async with db.transaction() as tx:
        return (await campaigns_repo.create_draft(tx, oid, "", clock())).id


async def test_an_admin_credits_a_payment(billing, db, clock) -> None:
    oid = await add_owner(db, clock)
    owner, balance = await billing.credit(ADMIN, oid, 500, "  bank   transfer\n#17 ")
    assert owner.id == oid
    assert (balance.total, balance.reserved, balance.available) == (500, 0, 500)
    assert await billing.balance(oid) == balance
    [entry] = (await billing.history(oid)).lines
    assert (entry.kind, entry.amount, entry.note) == (LedgerKind.CREDIT, 500, "bank transfer #17")
    assert entry.created_at == clock()


async def test_the_owner_is_told_of_a_credit_and_of_a_correction(billing, notifier, db,
                                                                  clock) -> None:
    oid = await add_owner(db, clock)
    await billing.credit(ADMIN, oid, 500, "bank transfer")
    await billing.credit(ADMIN, oid, -20, "typo")
    with pytest.raises(ValidationError):
        await billing.credit(ADMIN, oid, -1000, None)  # below zero: refused, nobody told
    assert [(n.owner.id, n.amount, n.available) for n in notifier.notices] == [
        (oid, 500, 500), (oid, -20, 480)]
    assert all(isinstance(n, BalanceChanged) for n in notifier.notices)


async def test_someone_who_is_not_an_admin_cannot_credit(billing, db, clock) -> None:
    oid = await add_owner(db, clock)
    with pytest.raises(NotAllowed) as exc:
        await billing.credit(oid, oid, 500, None)  # not even to themselves
    assert exc.value.reason == "not_admin"
    assert (await billing.balance(oid)).total == 0
    assert (await billing.history(oid)).lines == []


@pytest.mark.parametrize("amount", [0, CREDIT_MAX + 1, -(CREDIT_MAX + 1), 10 ** 12])
async def test_zero_and_huge_amounts_are_refused(billing, db, clock, amount) -> None:
    oid = await add_owner(db, clock)
    with pytest.raises(ValidationError) as exc:
        await billing.credit(ADMIN, oid, amount, None)
    assert exc.value.where == "amount"
    assert (await billing.history(oid)).lines == []


async def test_the_largest_amount_is_accepted(billing, db, clock) -> None:
    oid = await add_owner(db, clock)
    _, balance = await billing.credit(ADMIN, oid, CREDIT_MAX, None)
    assert balance.available == CREDIT_MAX


async def test_crediting_an_unknown_owner_is_refused(billing, db, clock) -> None:
    with pytest.raises(NotFound):
        await billing.credit(ADMIN, 999, 100, None)


async def test_a_correction_cannot_take_more_than_is_available(billing, db, clock) -> None:
    oid = await add_owner(db, clock)
    campaign = await add_campaign(db, clock, oid)
    await billing.credit(ADMIN, oid, 100, None)
    async with db.transaction() as tx:
        await ledger.add(tx, oid, LedgerKind.RESERVE, -60, clock(), campaign_id=campaign)
    with pytest.raises(ValidationError) as exc:
        await billing.credit(ADMIN, oid, -41, "typo")  # 40 are not held by the campaign
    assert exc.value.reason == "below_zero" and exc.value.params["available"] == 40
    assert len((await billing.history(oid, limit=10)).lines) == 2
    _, balance = await billing.credit(ADMIN, oid, -40, "typo")
    assert (balance.total, balance.reserved, balance.available) == (60, 60, 0)
    assert (await billing.history(oid)).lines[0].kind is LedgerKind.ADJUST


async def test_a_long_note_is_cut_and_a_blank_one_is_none(billing, db, clock) -> None:
    oid = await add_owner(db, clock)
    await billing.credit(ADMIN, oid, 1, "x" * (NOTE_MAX + 50))
    await billing.credit(ADMIN, oid, 1, "   ")
    blank, long = (await billing.history(oid)).lines
    assert long.note == "x" * NOTE_MAX and blank.note is None


async def test_history_is_newest_first_and_limited(billing, db, clock) -> None:
    oid = await add_owner(db, clock)
    other = await add_owner(db, clock, 2)
    for amount in (10, 20, 30):
        await billing.credit(ADMIN, oid, amount, None)
        clock.advance(minutes=1)
    await billing.credit(ADMIN, other, 99, None)
    history = await billing.history(oid, limit=2)
    assert [e.amount for e in history.lines] == [30, 20] and history.earlier == 10
    assert (await billing.balance(oid)).total == 60
    assert (await billing.balance(other)).total == 99


async def test_the_balance_follows_reserve_charge_and_release(billing, db, clock) -> None:
    """The ledger docstring's arithmetic, step by step."""
    oid = await add_owner(db, clock)
    campaign = await add_campaign(db, clock, oid)

    async def add(kind: LedgerKind, amount: int) -> tuple[int, int, int, int]:
        async with db.transaction() as tx:
            await ledger.add(tx, oid, kind, amount, clock(), campaign_id=campaign)
        b = await billing.balance(oid)
        return b.total, b.reserved, b.available, await ledger.held_for(db.reader, oid, campaign)

    await billing.credit(ADMIN, oid, 100, None)
    assert await add(LedgerKind.RESERVE, -30) == (100, 30, 70, 30)
    assert await add(LedgerKind.CHARGE, -10) == (90, 20, 70, 20)  # a message went out
    assert await add(LedgerKind.CHARGE, -5) == (85, 15, 70, 15)
    assert await add(LedgerKind.RELEASE, 15) == (85, 0, 85, 0)  # the rest given back
    assert await add(LedgerKind.EXPIRE, -25) == (60, 0, 60, 0)
    history = await billing.history(oid, limit=3)
    assert [e.kind for e in history.lines] == [LedgerKind.EXPIRE, None, LedgerKind.CREDIT]
    spending = history.lines[1]  # the campaign's four rows, one line
    assert (spending.campaign_id, spending.amount, spending.reserved, spending.spent,
            spending.returned, spending.held) == (campaign, -15, 30, 15, 15, 0)


async def test_billing_decides_the_signs_callers_give_counts(billing, db, clock) -> None:
    """``reserve``, ``charge``, ``release`` take how many credits, in the caller's
    transaction; the row's sign is billing's. A negative count is a bug, refused before
    anything is written (and the transaction it was in rolls back)."""
    oid = await add_owner(db, clock)
    campaign = await add_campaign(db, clock, oid)
    await billing.credit(ADMIN, oid, 100, None)
    async with db.transaction() as tx:
        await reserve(tx, oid, 30, clock(), campaign_id=campaign, note="campaign")
        await charge(tx, oid, 10, clock(), campaign_id=campaign, note="sent")
        await release(tx, oid, 5, clock(), campaign_id=campaign, note="failed")
    b = await billing.balance(oid)
    assert (b.total, b.reserved, b.available) == (90, 15, 75)
    assert await ledger.held_for(db.reader, oid, campaign) == 15
    rows = await ledger.recent(db.reader, oid)
    assert [(r.kind, r.amount) for r in rows[:3]] == [
        (LedgerKind.RELEASE, 5), (LedgerKind.CHARGE, -10), (LedgerKind.RESERVE, -30)]
    for write in (reserve, charge, release):
        with pytest.raises(ValueError):
            async with db.transaction() as tx:
                await reserve(tx, oid, 1, clock(), campaign_id=campaign)
                await write(tx, oid, -1, clock(), campaign_id=campaign)
    with pytest.raises(ValueError):
        async with db.transaction() as tx:
            await adjust(tx, oid, 0, clock())
    assert await billing.balance(oid) == b  # nothing of the refused ones stayed


async def test_the_history_adds_up_to_the_balance_one_line_per_campaign(
        billing, db, clock) -> None:
    """+50, a campaign reserving 4, spending 3 (in three charges) and returning 1: the
    lines read +50 and -3, as the balance of 47 says; older lines are summed as
    ``earlier``; another owner's rows are not in it."""
    oid = await add_owner(db, clock)
    other = await add_owner(db, clock, 2)
    campaign = await add_campaign(db, clock, oid)
    await billing.credit(ADMIN, oid, 50, "first")
    await billing.credit(ADMIN, other, 7, None)
    clock.advance(minutes=1)
    async with db.transaction() as tx:
        await ledger.add(tx, oid, LedgerKind.RESERVE, -4, clock(), campaign_id=campaign)
        for _ in range(3):
            await ledger.add(tx, oid, LedgerKind.CHARGE, -1, clock(), campaign_id=campaign)
        await ledger.add(tx, oid, LedgerKind.RELEASE, 1, clock(), campaign_id=campaign)

    balance, history = await billing.balance(oid), await billing.history(oid)
    assert balance.total == 47
    assert [(e.kind, e.amount) for e in history.lines] == [(None, -3), (LedgerKind.CREDIT, 50)]
    assert sum(e.amount for e in history.lines) + history.earlier == balance.total

    for n in range(6):  # more top-ups than the history shows
        clock.advance(minutes=1)
        await billing.credit(ADMIN, oid, 10 + n, None)
    balance, history = await billing.balance(oid), await billing.history(oid, limit=5)
    assert [e.amount for e in history.lines] == [15, 14, 13, 12, 11]
    assert history.earlier == 10 - 3 + 50  # the first top-up of 10, the campaign, the +50
    assert sum(e.amount for e in history.lines) + history.earlier == balance.total == 122
