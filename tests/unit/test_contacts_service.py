"""The contacts service: opt-outs, lists, exports (imports have their own tests)."""

from __future__ import annotations

import csv
import zipfile

import pytest

from bot.domain import Language
from bot.errors import NotFound, ValidationError
from bot.services.contacts import ContactsConfig, ContactsService, spreadsheet_safe
from bot.storage import contacts, lists, owners

HEADINGS = {"phone": "phone", "name": "name", "opted_out": "opted out", "yes": "yes"}


@pytest.fixture
async def service(db, clock) -> ContactsService:
    return ContactsService(db, ContactsConfig(default_region="AZ"), clock)


async def seed(db, clock, telegram_id: int, rows) -> tuple[int, int]:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
        target = await lists.create(tx, owner.id, "Customers", clock())
        await contacts.upsert(tx, owner.id, rows, clock())
        await contacts.add_to_list(tx, owner.id, target.id, [r[0] for r in rows], clock())
    return owner.id, target.id


async def test_opt_out_by_hand_normalises_and_keeps_the_reason(service, db, clock) -> None:
    oid, _ = await seed(db, clock, 1, [("+994501234567", "Əli", "{}")])
    contact = await service.opt_out(oid, "050 123 45 67", "  asked   by phone ")
    assert contact.phone == "+994501234567"
    assert contact.opt_out_reason == "asked by phone"
    contact = await service.opt_in(oid, "+994 50 123 45 67")
    assert contact.opted_out_at is None


async def test_opt_out_of_an_unknown_number_is_remembered(service, db, clock) -> None:
    oid, _ = await seed(db, clock, 1, [])
    await service.opt_out(oid, "+994709998877", None)
    stored = await contacts.get_by_phone(db.reader, oid, "+994709998877")
    assert stored is not None and stored.opted_out_at is not None


async def test_bad_numbers_and_unknown_contacts_are_reported(service, db, clock) -> None:
    oid, _ = await seed(db, clock, 1, [])
    with pytest.raises(ValidationError):
        await service.opt_out(oid, "call me", None)
    with pytest.raises(NotFound):
        await service.opt_in(oid, "+994501234567")


async def test_rename_checks_the_name(service, db, clock) -> None:
    oid, list_id = await seed(db, clock, 1, [])
    async with db.transaction() as tx:
        await lists.create(tx, oid, "VIP", clock())
    with pytest.raises(ValidationError) as exc:
        await service.rename_list(oid, list_id, "VIP")
    assert exc.value.reason == "list_name_taken"
    with pytest.raises(ValidationError):
        await service.rename_list(oid, list_id, "   ")
    renamed = await service.rename_list(oid, list_id, "  Regular   customers ")
    assert renamed.name == "Regular customers"


async def test_another_owner_cannot_touch_the_list(service, db, clock) -> None:
    _, list_id = await seed(db, clock, 1, [("+994501234567", "A", "{}")])
    other, _ = await seed(db, clock, 2, [])
    for action in (service.get_list, service.sample, service.delete_list,
                   service.delete_preview):
        with pytest.raises(NotFound):
            await action(other, list_id)
    with pytest.raises(NotFound):
        await service.rename_list(other, list_id, "mine now")


async def test_csv_export_is_safe_for_spreadsheets(service, db, clock, tmp_path) -> None:
    oid, list_id = await seed(db, clock, 1, [
        ("+994501234567", '=HYPERLINK("http://x")', '{"city": "Bakı", "note": "-5"}'),
        ("+994551234567", "Leyla", '{"city": "@home"}'),
    ])
    await service.opt_out(oid, "+994551234567", None)
    path, rows = await service.export(oid, list_id, "csv", tmp_path, HEADINGS)
    assert rows == 2
    with path.open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["phone", "name", "city", "note", "opted out"]
    assert table[1] == ["+994501234567", "'=HYPERLINK(\"http://x\")", "Bakı", "'-5", ""]
    assert table[2] == ["+994551234567", "Leyla", "'@home", "", "yes"]


async def test_xlsx_export_writes_text_cells(service, db, clock, tmp_path) -> None:
    oid, list_id = await seed(db, clock, 1, [("+994501234567", "=1+1", "{}")])
    path, rows = await service.export(oid, list_id, "xlsx", tmp_path, HEADINGS)
    assert rows == 1 and path.suffix == ".xlsx"
    with zipfile.ZipFile(path) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        strings = book.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in \
            book.namelist() else sheet
    assert "<f>" not in sheet  # no formula cells
    assert "=1+1" in strings


def test_spreadsheet_safe() -> None:
    assert spreadsheet_safe("=cmd") == "'=cmd"
    assert spreadsheet_safe("plain") == "plain"


async def test_a_big_file_parsed_in_a_child_process_imports_the_same(
    service, db, clock, tmp_path
) -> None:
    """Big files are parsed in another process; the result must not depend on it."""
    from bot.services.contacts import _ImportJob
    from bot.storage import imports as imports_repo

    lines = "".join(f"Customer {n},+99450{n % 9000:07d},Bakı\n" for n in range(12_000))
    path = tmp_path / "big.csv"
    path.write_text("Name,Phone,City\n" + lines + "Bad,12345,x\n", encoding="utf-8")
    results = []
    for telegram_id, in_process in ((1, False), (2, True)):
        oid, _ = await seed(db, clock, telegram_id, [])
        async with db.transaction() as tx:
            record = await imports_repo.create(tx, oid, "f", "big.csv", None, clock())
        job = _ImportJob(db_path=db.path, engine=db.engine, owner_id=oid, record=record, path=path,
                         region="AZ", config=service.config, now=clock(),
                         rejected_path=tmp_path / f"rejected{telegram_id}.csv",
                         reason_text=str, rejected_headings=("line", "reason"),
                         progress=lambda _: None, in_process=in_process)
        async with db.exclusive():
            report = job.run()
        results.append((report.rows_read, report.imported, report.updated, report.duplicates,
                        report.invalid, report.columns))
        rejected = (tmp_path / f"rejected{telegram_id}.csv").read_text("utf-8-sig")
        assert "12002,too_short,Bad,12345,x" in rejected
    assert results[0] == results[1] == (12_001, 9_000, 0, 3_000, 1, ("name", "phone", "city"))
