"""Contacts, lists, opt-outs, exports, and imports of contact files.

An import is atomic: the whole file is written in one transaction, so a file that turns
out to be unreadable halfway changes nothing. Parsing runs in a worker thread, a chunk
ahead of the database writes, so the event loop stays responsive and both cores work.

When the bot stops meanwhile (``interrupt_imports``), a running import is rolled back
before its next batch and raises ``Interrupted``; one parsed to its end is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar

from bot.clock import Clock, utcnow
from bot.domain import Contact, ContactList
from bot.errors import Interrupted, NotFound, QasidError, StorageUnavailable, ValidationError
from bot.services import opt_outs, prompts
from bot.services.imports import PhoneNormaliser, UnreadableFile
from bot.services.imports.report import neutralise, write_rejected_csv
from bot.services.imports.worker import ParseOptions, ParseRun
from bot.services.notify import ImportInterrupted, Notifier
from bot.services.webhooks import EventType, WebhooksService, contact_data
from bot.storage import contacts as contacts_repo
from bot.storage import imports as imports_repo
from bot.storage import lists as lists_repo
from bot.storage import owners as owners_repo
from bot.storage.bulk import ContactWriter, open_writer
from bot.storage.db import Database
from bot.storage.imports import ImportRecord

log = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS = (".csv", ".xlsx", ".vcf", ".txt")
LIST_NAME_MAX = 64
REASON_MAX = 200
DELETE_CHUNK = 5_000  # a list's members per transaction when it is deleted
RENAMED_EXAMPLES = 5  # renamed contacts the import report shows

ExportFormat = Literal["csv", "xlsx"]
T = TypeVar("T")


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet shows as text and never runs as a formula (the import
    report's rule, ``imports.report.neutralise``)."""
    return neutralise(value)


@dataclass(frozen=True, slots=True)
class ContactsConfig:
    default_region: str
    allow_landlines: bool = False
    max_rows: int = 1_000_000
    max_file_bytes: int = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Progress:
    rows_read: int
    valid: int


@dataclass(slots=True)
class ImportReport:
    list_id: int
    list_name: str
    rows_read: int = 0
    imported: int = 0  # new contacts
    updated: int = 0  # already known, name/attributes refreshed
    duplicates: int = 0  # repeated inside the file
    invalid: int = 0
    opted_out: int = 0  # in the file, but opted out: they stay opted out
    columns: tuple[str, ...] = ()
    skipped: dict[str, int] | None = None  # e.g. landline TEL entries of a vCard
    renamed: int = 0  # known contacts (of any list) the file gave another name
    renamed_examples: tuple[tuple[str, str, str], ...] = ()  # the first: phone, before, now


class ContactsService:
    def __init__(
        self, db: Database, config: ContactsConfig, clock: Clock = utcnow,
        webhooks: WebhooksService | None = None,
    ) -> None:
        self._db = db
        self._config = config
        self._clock = clock
        self._webhooks = webhooks  # an opt-out is a contact.opted_out event
        self._stopping = threading.Event()  # read by the imports' worker threads

    @property
    def config(self) -> ContactsConfig:
        return self._config

    def interrupt_imports(self) -> None:
        """The bot is stopping: running imports roll back before their next batch (each
        raises ``Interrupted``), and new ones do not begin."""
        self._stopping.set()

    # --- lists ------------------------------------------------------------------------

    async def lists(self, owner_id: int) -> list[ContactList]:
        return await lists_repo.for_owner(self._db.reader, owner_id)

    async def get_list(self, owner_id: int, list_id: int) -> ContactList:
        found = await lists_repo.get(self._db.reader, owner_id, list_id)
        if found is None:
            raise NotFound("list", list_id=list_id)
        return found

    async def sample(self, owner_id: int, list_id: int, limit: int = 10) -> list[Contact]:
        await self.get_list(owner_id, list_id)
        return await contacts_repo.sample(self._db.reader, owner_id, list_id, limit)

    async def rename_list(self, owner_id: int, list_id: int, name: str) -> ContactList:
        name = _list_name(name)
        async with self._db.transaction() as tx:
            current = await lists_repo.get(tx, owner_id, list_id)
            if current is None:
                raise NotFound("list", list_id=list_id)
            if name != current.name and await lists_repo.name_taken(tx, owner_id, name):
                raise ValidationError("list_name_taken", where="name", name=name)
            await lists_repo.rename(tx, owner_id, list_id, name)
            await prompts.close(tx, owner_id, prompts.PromptKind.RENAME_LIST)
            renamed = await lists_repo.get(tx, owner_id, list_id)
        assert renamed is not None
        return renamed

    async def delete_preview(self, owner_id: int, list_id: int) -> tuple[ContactList, int]:
        """The list and how many contacts would go with it (those in no other list)."""
        found = await self.get_list(owner_id, list_id)
        return found, await lists_repo.count_only_here(self._db.reader, owner_id, list_id)

    async def delete_list(self, owner_id: int, list_id: int) -> int:
        """Delete the list and the contacts only it held (how many went).

        In transactions of ``DELETE_CHUNK`` members, so that other owners' writes go in
        between (a list of 100,000 holds the writer for about 50 ms at a time); the last
        one deletes the list itself. Interrupted, the list is still there, without some of
        the contacts only it held, and deleting it again finishes the job. Campaigns keep
        their messages (``contact_id`` becomes NULL)."""
        removed, after, first = 0, 0, True
        while True:
            async with self._db.transaction() as tx:
                if not await lists_repo.exists(tx, owner_id, list_id):
                    if first:
                        raise NotFound("list", list_id=list_id)
                    break  # deleted meanwhile (a second press): done all the same
                first = False
                gone, upto = await lists_repo.delete_members(tx, owner_id, list_id, after,
                                                             DELETE_CHUNK)
                removed += gone
                if upto is None:
                    removed += await lists_repo.delete(tx, owner_id, list_id)
                    break
                after = upto
        log.info("owner %s deleted list %s (%s contacts removed)", owner_id, list_id, removed)
        return removed

    # --- opt-outs ---------------------------------------------------------------------

    async def opt_out(
        self, owner_id: int, raw_phone: str, reason: str | None, region: str | None = None
    ) -> Contact:
        phone = self._phone(raw_phone, region)
        reason = " ".join((reason or "").split())[:REASON_MAX] or None
        async with self._db.transaction() as tx:
            before = await contacts_repo.get_by_phone(tx, owner_id, phone)
            contact = await contacts_repo.opt_out(tx, owner_id, phone, reason, self._clock())
            await opt_outs.skip_queued(tx, owner_id, [phone], self._clock())
            if self._webhooks is not None and (before is None or before.opted_out_at is None):
                await self._webhooks.emit(tx, owner_id, EventType.CONTACT_OPTED_OUT,
                                          contact_data(contact))
        return contact

    async def opt_in(self, owner_id: int, raw_phone: str, region: str | None = None) -> Contact:
        phone = self._phone(raw_phone, region)
        async with self._db.transaction() as tx:
            contact = await contacts_repo.opt_in(tx, owner_id, phone, self._clock())
        if contact is None:
            raise NotFound("contact", phone=phone)
        return contact

    def _phone(self, raw: str, region: str | None) -> str:
        normaliser = PhoneNormaliser(region or self._config.default_region, allow_landlines=True)
        phone, _reason = normaliser.normalise(raw)
        if phone is None:
            raise ValidationError("not_a_phone_number", where="phone")
        return phone

    # --- exports ----------------------------------------------------------------------

    async def export(
        self, owner_id: int, list_id: int, fmt: ExportFormat, folder: Path,
        headings: dict[str, str],
    ) -> tuple[Path, int]:
        """Write the list to ``folder`` as CSV or XLSX, streaming; returns (path, rows).

        ``headings`` names the fixed columns in the owner's language (phone, name,
        opted_out); attribute columns keep their variable names.
        """
        found = await self.get_list(owner_id, list_id)
        attributes = await contacts_repo.attribute_names(self._db.reader, owner_id, list_id)
        header = [headings["phone"], headings["name"], *attributes, headings["opted_out"]]
        path = folder / f"{_file_stem(found.name)}.{fmt}"
        writer = _CsvWriter(path) if fmt == "csv" else _XlsxWriter(path)
        rows = 0
        try:
            await asyncio.to_thread(writer.write, header)
            async for chunk in contacts_repo.stream_list(self._db.reader, owner_id, list_id):
                lines = [
                    [c.phone, c.name or "", *(str(c.attributes.get(a, "")) for a in attributes),
                     headings["yes"] if c.opted_out_at else ""]
                    for c in chunk
                ]
                await asyncio.to_thread(writer.write_many, lines)
                rows += len(lines)
        finally:
            await asyncio.to_thread(writer.close)
        return path, rows

    # --- imports ----------------------------------------------------------------------

    async def receive_file(
        self, owner_id: int, file_id: str, file_name: str, file_size: int | None
    ) -> ImportRecord:
        """A file arrived: check it can be imported and keep it until a list is chosen."""
        if not file_name.lower().endswith(SUPPORTED_EXTENSIONS):
            raise ValidationError("unsupported_file", where=file_name)
        if file_size is not None and file_size > self._config.max_file_bytes:
            raise ValidationError("file_too_big", where=file_name,
                                  limit_mb=self._config.max_file_bytes // (1024 * 1024))
        async with self._db.transaction() as tx:
            return await imports_repo.create(tx, owner_id, file_id, file_name, file_size,
                                             self._clock())

    async def pending_import(self, owner_id: int, import_id: int) -> ImportRecord:
        record = await imports_repo.get(self._db.reader, owner_id, import_id)
        if record is None or record.status != "awaiting_list":
            raise NotFound("import", import_id=import_id)
        return record

    async def cancel_import(self, owner_id: int, import_id: int) -> None:
        record = await self.pending_import(owner_id, import_id)
        async with self._db.transaction() as tx:
            await imports_repo.set_status(tx, record.id, "cancelled")

    async def claim_import(
        self, owner_id: int, import_id: int, list_id: int | None
    ) -> ImportRecord:
        """Mark a waiting import as running (once: a second tap finds it taken). While the
        bot stops, none begins (``Interrupted``): the file waits for the next start."""
        if self._stopping.is_set():
            raise Interrupted("import")
        async with self._db.transaction() as tx:
            record = await imports_repo.get(tx, owner_id, import_id)
            if record is None or record.status != "awaiting_list":
                raise NotFound("import", import_id=import_id)
            if list_id is not None and await lists_repo.get(tx, owner_id, list_id) is None:
                raise NotFound("list", list_id=list_id)
            await imports_repo.set_status(tx, record.id, "running", list_id=list_id)
            claimed = await imports_repo.get(tx, owner_id, import_id)
        assert claimed is not None
        return claimed

    async def fail_import(self, owner_id: int, import_id: int, error: str) -> None:
        async with self._db.transaction() as tx:
            await imports_repo.finish(tx, import_id, status="failed", now=self._clock(),
                                      error=error)

    async def _mark_failed(self, record: ImportRecord, error: str) -> None:
        """After an import rolled back: marked failed, if the database can save now (else
        it stays ``running``, and ``recover`` marks it at the next start)."""
        with contextlib.suppress(StorageUnavailable):
            await self.fail_import(record.owner_id, record.id, error)

    async def recover(self, notifier: Notifier) -> int:
        """At start: imports cut short by a stop never committed, so nothing of them was
        written; mark them failed and tell their owners to send the file again."""
        records = await imports_repo.interrupted(self._db.reader)
        async with self._db.transaction() as tx:
            for record in records:
                await imports_repo.finish(tx, record.id, status="failed", now=self._clock(),
                                          error="interrupted")
        for record in records:
            owner = await owners_repo.get(self._db.reader, record.owner_id)
            if owner is not None:
                await notifier.notify(ImportInterrupted(owner, record.file_name))
        return len(records)

    async def run_import(
        self,
        owner_id: int,
        record: ImportRecord,
        path: Path,
        *,
        rejected_path: Path,
        reason_text: Callable[[str], str],
        rejected_headings: tuple[str, str] = ("line", "reason"),
        region: str | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> ImportReport:
        """Import ``path`` into the record's list (or a new list named after the file).

        All or nothing: one transaction. Rejected rows are written to ``rejected_path`` as
        CSV (line, reason in words via ``reason_text``, then the row as it was). A file that
        cannot be read raises ``ValidationError("file_<reason>")`` and changes nothing; so
        do ``Interrupted`` (the bot is stopping) and ``StorageUnavailable`` (the database
        cannot save now).
        """
        loop = asyncio.get_running_loop()

        def report_progress(done: Progress) -> None:
            if progress is not None:
                loop.call_soon_threadsafe(progress, done)

        job = _ImportJob(
            db_path=self._db.path, engine=self._db.engine, owner_id=owner_id, record=record,
            path=path, region=region or self._config.default_region, config=self._config,
            now=self._clock(), rejected_path=rejected_path, reason_text=reason_text,
            rejected_headings=rejected_headings, progress=report_progress,
            stop=self._stopping,
        )
        try:
            async with self._db.exclusive():
                report = await asyncio.to_thread(job.run)
        except UnreadableFile as exc:
            await self._mark_failed(record, exc.reason)
            raise ValidationError(f"file_{exc.reason}", where=record.file_name,
                                  line=exc.line or "", limit=exc.limit or "") from None
        except BaseException as exc:
            stopped_too = isinstance(exc, Exception) and not isinstance(
                exc, QasidError | StorageUnavailable)  # e.g. its parser got the signal too
            if self._stopping.is_set() and stopped_too:
                exc = Interrupted(record.file_name)
            await self._mark_failed(record, getattr(exc, "reason", type(exc).__name__))
            if isinstance(exc, Interrupted):
                log.info("owner %s: import %s interrupted by the stop, rolled back", owner_id,
                         record.id)
                raise exc from None
            raise
        try:
            async with self._db.transaction() as tx:
                await imports_repo.finish(
                    tx, record.id, status="done", now=self._clock(),
                    rows_read=report.rows_read, imported=report.imported,
                    updated=report.updated, duplicates=report.duplicates,
                    invalid=report.invalid,
                )
        except StorageUnavailable as exc:  # the contacts are in: the report is still true
            log.warning("owner %s: import %s written, not marked done: %s", owner_id,
                        record.id, exc)
        log.info("owner %s imported %s rows into list %s: %s new, %s updated", owner_id,
                 report.rows_read, report.list_id, report.imported, report.updated)
        return report


@dataclass(slots=True)
class _ImportJob:
    """One import, parsed and written in one worker thread (a second thread for the
    parser was measured: contention for the GIL made it slower, not faster)."""

    db_path: Path | str
    engine: str  # the database's: its own import writer (``bulk.open_writer``)
    owner_id: int
    record: ImportRecord
    path: Path
    region: str
    config: ContactsConfig
    now: datetime
    rejected_path: Path
    reason_text: Callable[[str], str]
    rejected_headings: tuple[str, str]
    progress: Callable[[Progress], None]
    in_process: bool | None = None  # None: by the file's size
    stop: threading.Event | None = None  # set: roll back before the next batch

    def _check_stop(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise Interrupted(self.record.file_name)

    def run(self) -> ImportReport:
        self._check_stop()
        options = ParseOptions(self.path, self.record.file_name, self.region,
                               self.config.allow_landlines, self.config.max_rows)
        with ParseRun(options, in_process=self.in_process) as parsed, \
                open_writer(self.engine, self.db_path) as writer, \
                self.rejected_path.open("w", encoding="utf-8-sig", newline="") as rejected:
            list_id, list_name = self._target(writer)
            report = ImportReport(list_id=list_id, list_name=list_name)
            before = writer.contact_count(self.owner_id)
            opt_outs = writer.has_opt_outs(self.owner_id)
            header_written = False
            for batch in parsed:
                self._check_stop()  # raised inside the writer: it rolls back
                if batch.rejected:
                    write_rejected_csv(batch.rejected, rejected, parsed.headers,
                                       self.reason_text, labels=self.rejected_headings,
                                       header=not header_written)
                    header_written = True
                if batch.count:
                    writer.write_chunk(self.owner_id, list_id, batch.rows, self.now)
                    if opt_outs and batch.fresh:
                        report.opted_out += writer.count_opted_out(self.owner_id, batch.fresh)
                report.rows_read = batch.rows_read
                self.progress(Progress(batch.rows_read, batch.valid))
            summary = parsed.summary
            assert summary is not None
            report.imported = writer.contact_count(self.owner_id) - before
            report.updated = summary.valid_unique - report.imported
            report.rows_read = summary.rows
            report.duplicates = summary.duplicates
            report.invalid = summary.invalid
            report.columns = tuple(summary.columns)
            writer.add_variables(self.owner_id, list_id,
                                 [c for c in summary.columns if c not in ("name", "phone")])
            report.skipped = dict(summary.skipped_reasons)
            report.renamed, examples = writer.renamed(self.owner_id, RENAMED_EXAMPLES)
            report.renamed_examples = tuple(examples)
        return report

    def _target(self, writer: ContactWriter) -> tuple[int, str]:
        if self.record.list_id is not None:
            existing = writer.list_name(self.owner_id, self.record.list_id)
            if existing is None:
                raise NotFound("list", list_id=self.record.list_id)
            return self.record.list_id, existing
        base = _list_name(Path(self.record.file_name).stem.replace("_", " ") or "contacts")
        name, n = base, 2
        while writer.name_taken(self.owner_id, name):
            name, n = f"{base[: LIST_NAME_MAX - 6]} ({n})", n + 1
        return writer.create_list(self.owner_id, name, self.now), name


def _list_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise ValidationError("too_short", where="name")
    if len(name) > LIST_NAME_MAX:
        raise ValidationError("too_long", where="name", limit=LIST_NAME_MAX)
    return name


def _file_stem(name: str) -> str:
    stem = "".join(ch if ch.isalnum() or ch in "-_ " else "_" for ch in name).strip()
    return stem.replace(" ", "_")[:60] or "contacts"


class _CsvWriter:
    def __init__(self, path: Path) -> None:
        self._fh = path.open("w", encoding="utf-8-sig", newline="")
        self._csv = csv.writer(self._fh)
        self._first = True

    def write(self, row: list[str]) -> None:
        self._csv.writerow(row if self._first else _safe_row(row))
        self._first = False

    def write_many(self, rows: list[list[str]]) -> None:
        self._csv.writerows(_safe_row(row) for row in rows)

    def close(self) -> None:
        self._fh.close()


def _safe_row(row: list[str]) -> list[str]:
    # The phone (first column) is a validated E.164 number: "+" and digits, nothing to run.
    return [row[0], *(spreadsheet_safe(cell) for cell in row[1:])]


class _XlsxWriter:
    """XLSX in constant memory; cells are written as strings, so nothing runs as a formula."""

    def __init__(self, path: Path) -> None:
        import xlsxwriter

        self._book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        self._sheet = self._book.add_worksheet("contacts")
        self._bold = self._book.add_format({"bold": True})
        self._row = 0

    def write(self, row: list[str]) -> None:
        for col, value in enumerate(row):
            self._sheet.write_string(self._row, col, value, self._bold)
        self._row += 1

    def write_many(self, rows: list[list[str]]) -> None:
        for row in rows:
            for col, value in enumerate(row):
                self._sheet.write_string(self._row, col, value)
            self._row += 1

    def close(self) -> None:
        self._book.close()

