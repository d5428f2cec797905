"""Monthly statements: one month's rows in the owner's zone, the opening and running
balance, formulas neutralised, read in pages, another owner's rows never on it."""

from __future__ import annotations

import csv
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from bot.domain import Language, LedgerKind
from bot.services import billing
from bot.services.statements import Month, StatementsService, StatementText
from bot.storage import campaigns as campaigns_repo
from bot.storage import owners
from bot.storage.db import Database, to_ts

ZONE = "Asia/Baku"  # UTC+4: 2026-10-31 21:30 UTC is already November there
TEXT = StatementText(
    columns=("When", "Kind", "Amount", "Campaign", "Package", "Note", "Balance"),
    kinds={kind: kind.value.upper() for kind in LedgerKind},
    opening="Opening balance")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def add_owner(db: Database, telegram_id: int) -> int:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=at("2026-09-01 00:00"))
    return owner.id


async def add_package(db: Database, name: str) -> int:
    async with db.transaction() as tx:
        cur = await tx.execute(
            "INSERT INTO packages (name, credits, validity_days, price_minor, created_at)"
            " VALUES (?, 1000, 30, 1500, ?)", (name, to_ts(at("2026-09-01 00:00"))))
        assert cur.lastrowid is not None
        return cur.lastrowid


async def seed(db: Database, oid: int) -> dict[str, int]:
    """October: 100 credited. November (Baku): a package of 1,000, a campaign that holds
    300 and spends 120 (holds are no balance change), a correction with a formula for a
    note. December: 50 more."""
    package = await add_package(db, f"Start {oid}")
    async with db.transaction() as tx:
        campaign = await campaigns_repo.create_draft(tx, oid, "@SUM(A1:A9)", at("2026-10-01"))
        await billing.credit(tx, oid, 100, at("2026-10-15 10:00"), note="first")
        await billing.credit_package(tx, oid, 1000, at("2026-10-31 21:30"), validity_days=30,
                                     package_id=package, order_id=None, note="Q-000001-AB")
        await billing.reserve(tx, oid, 300, at("2026-11-02 08:00"), campaign_id=campaign.id)
        await billing.charge(tx, oid, 70, at("2026-11-02 08:05"), campaign_id=campaign.id)
        await billing.charge(tx, oid, 50, at("2026-11-02 08:05"), campaign_id=campaign.id)
        await billing.release(tx, oid, 180, at("2026-11-02 09:00"), campaign_id=campaign.id)
        await billing.adjust(tx, oid, -30, at("2026-11-20 12:00"),
                             note="=HYPERLINK(\"http://x\",\"click\")")
        await billing.credit(tx, oid, 50, at("2026-11-30 20:30"), note="December in Baku")
    return {"campaign": campaign.id, "package": package}


@pytest.fixture
async def owners_seeded(db: Database) -> tuple[int, int, dict[str, int]]:
    alice, bob = await add_owner(db, 1), await add_owner(db, 2)
    ids = await seed(db, alice)
    async with db.transaction() as tx:  # bob's November must never show on alice's
        await billing.credit(tx, bob, 7777, at("2026-11-10 10:00"), note="bob's")
    return alice, bob, ids


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


async def test_a_csv_statement_holds_the_month_in_the_owners_zone_with_a_running_balance(
        db, clock, tmp_path, owners_seeded) -> None:
    alice, _bob, ids = owners_seeded
    service = StatementsService(db, clock)
    statement = await service.write(alice, Month(2026, 11), ZONE, "csv", TEXT, tmp_path)
    table = read_csv(statement.path)
    assert statement.path.name == "statement-2026-11.csv"
    assert table[0] == list(TEXT.columns)
    assert table[1] == ["2026-11-01 00:00:00", "Opening balance", "", "", "", "", "100"]
    assert table[2:] == [
        ["2026-11-01 01:30:00", "CREDIT", "1000", "", "Start 1", "Q-000001-AB", "1100"],
        ["2026-11-02 12:05:00", "CHARGE", "-70", f"#{ids['campaign']} @SUM(A1:A9)", "", "",
         "1030"],
        ["2026-11-02 12:05:00", "CHARGE", "-50", f"#{ids['campaign']} @SUM(A1:A9)", "", "",
         "980"],
        ["2026-11-20 16:00:00", "ADJUST", "-30", "", "",
         "'=HYPERLINK(\"http://x\",\"click\")", "950"],
    ]
    assert (statement.rows, statement.opening, statement.closing) == (4, 100, 950)


async def test_the_closing_balance_is_the_next_months_opening(db, clock, tmp_path,
                                                              owners_seeded) -> None:
    alice, _bob, _ids = owners_seeded
    service = StatementsService(db, clock)
    november = await service.write(alice, Month(2026, 11), ZONE, "csv", TEXT, tmp_path)
    december = await service.write(alice, Month(2026, 12), ZONE, "csv", TEXT, tmp_path)
    assert december.opening == november.closing == 950
    assert read_csv(december.path)[2][1:] == ["CREDIT", "50", "", "", "December in Baku",
                                              "1000"]


async def test_pages_of_rows_at_the_same_moment_make_the_same_statement(
        db, clock, tmp_path, owners_seeded) -> None:
    alice, _bob, _ids = owners_seeded
    whole = await StatementsService(db, clock).write(alice, Month(2026, 11), ZONE, "csv",
                                                     TEXT, tmp_path / "a")
    paged = await StatementsService(db, clock, page=1).write(alice, Month(2026, 11), ZONE,
                                                             "csv", TEXT, tmp_path / "b")
    assert read_csv(paged.path) == read_csv(whole.path)
    assert paged.closing == whole.closing


@pytest.fixture(autouse=True)
def folders(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()


async def test_an_xlsx_statement_has_numbers_dates_and_no_formula(db, clock, tmp_path,
                                                                  owners_seeded) -> None:
    alice, _bob, _ids = owners_seeded
    statement = await StatementsService(db, clock).write(alice, Month(2026, 11), ZONE,
                                                         "xlsx", TEXT, tmp_path)
    rows = CalamineWorkbook.from_path(str(statement.path)).get_sheet_by_index(0).to_python()
    assert rows[0] == list(TEXT.columns)
    assert [row[1] for row in rows[1:]] == ["Opening balance", "CREDIT", "CHARGE", "CHARGE",
                                            "ADJUST"]
    assert [row[2] for row in rows[2:]] == [1000, -70, -50, -30]
    assert [row[6] for row in rows[1:]] == [100, 1100, 1030, 980, 950]
    assert rows[2][0] == datetime(2026, 11, 1, 1, 30)
    assert rows[5][5] == "=HYPERLINK(\"http://x\",\"click\")"  # a text, shown as typed
    with zipfile.ZipFile(statement.path) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet  # nothing in it runs


async def test_months_offered_are_those_with_changes_newest_first(db, clock,
                                                                  owners_seeded) -> None:
    alice, bob, _ids = owners_seeded
    clock.now = at("2027-01-05 10:00")
    service = StatementsService(db, clock)
    assert await service.months(alice, ZONE) == [Month(2026, 12), Month(2026, 11),
                                                 Month(2026, 10)]
    assert await service.months(bob, ZONE) == [Month(2026, 11)]
    clock.now = at("2027-04-05 10:00")  # October is now more than five months back
    assert await service.months(alice, ZONE) == [Month(2026, 12), Month(2026, 11)]


def test_a_forged_month_is_refused() -> None:
    assert Month.parse("2026-02") == Month(2026, 2)
    for bad in ("2026-13", "2026-1", "1999-01", "x", "2026-02-01"):
        with pytest.raises(ValueError):
            Month.parse(bad)
