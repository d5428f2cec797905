"""A contact file imported through ``ContactsService`` on each engine (SQLite's writer, or
PostgreSQL's with COPY): the same report, the same contacts, and an import the stop
interrupts leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain import Language
from bot.errors import Interrupted
from bot.services.contacts import ContactsConfig, ContactsService, ImportReport
from bot.storage import contacts, imports, lists, owners
from bot.storage.db import Database

ROWS = 12_000  # three of the parser's batches


@pytest.fixture
async def service(db: Database, clock) -> ContactsService:
    return ContactsService(db, ContactsConfig(default_region="AZ"), clock)


def _file(tmp_path: Path) -> Path:
    """12,000 rows, then the first 1,000 numbers again with new names and no city, and a
    row without a number."""
    lines = [f"Customer {n},+99450{n:07d},Bakı\n" for n in range(ROWS)]
    lines += [f"Again {n},050{n:07d},\n" for n in range(1_000)]
    path = tmp_path / "shop.csv"
    path.write_text("Name,Phone,City\n" + "".join(lines) + "Nobody,,x\n", encoding="utf-8")
    return path


async def _import(service: ContactsService, owner_id: int, path: Path, tmp_path: Path,
                  reason_text=str) -> ImportReport:
    record = await service.receive_file(owner_id, "file-id", path.name, None)
    record = await service.claim_import(owner_id, record.id, None)
    return await service.run_import(owner_id, record, path,
                                    rejected_path=tmp_path / "rejected.csv",
                                    reason_text=reason_text)


async def _owner(db: Database, clock) -> int:
    """An owner who knows two of the file's numbers already, one of them opted out."""
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN,
                                 now=clock())
        known = await lists.create(tx, owner.id, "known", clock())
        await contacts.upsert(tx, owner.id, [("+994500000005", "Old name", "{\"tier\": \"A\"}"),
                                             ("+994500011000", None, "{}")], clock())
        await contacts.add_to_list(tx, owner.id, known.id, ["+994500000005", "+994500011000"],
                                   clock())
        await contacts.opt_out(tx, owner.id, "+994500011000", "asked", clock())
    return owner.id


async def test_an_import_merges_repeats_and_known_contacts_and_keeps_opt_outs(
    db: Database, service: ContactsService, clock, tmp_path: Path,
) -> None:
    owner_id = await _owner(db, clock)
    report = await _import(service, owner_id, _file(tmp_path), tmp_path)

    assert (report.rows_read, report.imported, report.updated, report.duplicates,
            report.invalid, report.opted_out) == (13_001, 11_998, 2, 1_000, 1, 1)
    assert (report.renamed, report.renamed_examples) == (
        1, (("+994500000005", "Old name", "Again 5"),))
    found = await lists.get(db.reader, owner_id, report.list_id)
    assert found is not None and found.name == "shop" and found.variables == ["city"]
    assert (found.size, found.opted_out) == (ROWS, 1)
    again = await contacts.get_by_phone(db.reader, owner_id, "+994500000005")
    assert again is not None and (again.name, again.attributes) == (
        "Again 5", {"tier": "A", "city": "Bakı"})
    opted = await contacts.get_by_phone(db.reader, owner_id, "+994500011000")
    assert opted is not None and opted.name == "Customer 11000"
    assert opted.opted_out_at is not None and opted.opt_out_reason == "asked"
    # the known contacts first, then the new ones in the file's order
    sample = await contacts.sample(db.reader, owner_id, report.list_id, 4)
    assert [c.phone for c in sample] == ["+994500000005", "+994500011000", "+994500000000",
                                         "+994500000001"]

    # again: all known; the first 1,000 named "Customer n", then back to "Again n"
    second = await _import(service, owner_id, _file(tmp_path), tmp_path)
    assert (second.imported, second.updated, second.duplicates, second.renamed) == (
        0, ROWS, 1_000, 0)


async def test_an_import_the_stop_interrupts_writes_nothing(
    db: Database, service: ContactsService, clock, tmp_path: Path,
) -> None:
    owner_id = await _owner(db, clock)
    path = tmp_path / "bad_first.csv"
    path.write_text("Name,Phone\nNobody,,\n" + "".join(
        f"Customer {n},+99450{n:07d}\n" for n in range(ROWS)), encoding="utf-8")

    def stop_while_reporting(reason: str) -> str:  # the first batch's rejected row
        service.interrupt_imports()
        return reason

    with pytest.raises(Interrupted):
        await _import(service, owner_id, path, tmp_path, stop_while_reporting)
    async with db.reader.execute(
        "SELECT (SELECT COUNT(*) FROM contacts), (SELECT COUNT(*) FROM contact_lists),"
        " (SELECT COUNT(*) FROM list_members)"
    ) as cur:
        assert [tuple(row) for row in await cur.fetchall()] == [(2, 1, 2)]
    records = await imports.interrupted(db.reader)
    assert records == []  # marked failed, not left running
