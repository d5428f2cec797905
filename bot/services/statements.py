"""Monthly statements: an owner's ledger rows of one month, as CSV or XLSX.

A statement lists what changed the balance in that month of the owner's calendar (their
time zone): top-ups, corrections, expiries and what sending spent. Holds for campaigns
(``reserve``, ``release``) change no balance and are left out; the running balance of the
last row is the balance at the month's end. The first row is the opening balance.

Streamed: the rows are read in pages (``bot/storage/statements.py``) and each page is
written by a worker thread, so a year of sending never sits in memory nor blocks the
update loop. Cells a spreadsheet would run as formulas are neutralised the way the import's
rejected rows are (``bot.services.imports.neutralise``) in CSV; in XLSX every text is
written as a string cell, which is never run.
"""

from __future__ import annotations

import asyncio
import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from bot.clock import Clock, utcnow
from bot.domain import LedgerKind
from bot.services.imports import neutralise
from bot.storage import statements as statements_repo
from bot.storage.db import Database
from bot.storage.statements import StatementRow

StatementFormat = Literal["csv", "xlsx"]
FORMATS: tuple[StatementFormat, ...] = ("csv", "xlsx")
MONTHS_OFFERED = 6  # the current month and the five before it
PAGE = 1000  # ledger rows read (and written) at a time
_MONTH_KEY = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, slots=True, order=True)
class Month:
    """A calendar month, in whatever zone it is placed (``start``, ``end``)."""

    year: int
    month: int

    @property
    def key(self) -> str:
        """``2026-01``: how a button and a file name carry it."""
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def parse(cls, key: str) -> Month:
        """A month from its key; ValueError for anything else (a forged button)."""
        found = _MONTH_KEY.fullmatch(key)
        if found is None or not 2000 <= int(found[1]) <= 2999 or not 1 <= int(found[2]) <= 12:
            raise ValueError(f"not a month: {key!r}")
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def of(cls, moment: datetime, zone: str) -> Month:
        local = moment.astimezone(ZoneInfo(zone))
        return cls(local.year, local.month)

    def before(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def after(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def start(self, zone: str) -> datetime:
        """Midnight of its first day, in ``zone``."""
        return datetime(self.year, self.month, 1, tzinfo=ZoneInfo(zone))

    def end(self, zone: str) -> datetime:
        return self.after().start(zone)


@dataclass(frozen=True, slots=True)
class StatementText:
    """The owner's words for the file (plain text, filled from the catalogs by the caller):
    the column titles (date and time, kind, amount, campaign, package, note, balance), each
    kind of row, and the first row's."""

    columns: tuple[str, str, str, str, str, str, str]
    kinds: Mapping[LedgerKind, str]
    opening: str
    sheet: str = "statement"


@dataclass(frozen=True, slots=True)
class Statement:
    path: Path
    month: Month
    rows: int  # ledger rows, the opening not counted
    opening: int
    closing: int


class _Writer(Protocol):
    def header(self, cells: list[str]) -> None: ...

    def row(self, at: datetime | None, kind: str, amount: int | None, campaign: str,
            package: str, note: str, balance: int) -> None: ...

    def close(self) -> None: ...


class StatementsService:
    def __init__(self, db: Database, clock: Clock = utcnow, *, page: int = PAGE) -> None:
        self._db = db
        self._clock = clock
        self._page = page

    async def months(self, owner_id: int, zone: str,
                     count: int = MONTHS_OFFERED) -> list[Month]:
        """Of the current month (in ``zone``) and the ``count - 1`` before it, those in which
        the balance changed, newest first."""
        month, found = Month.of(self._clock(), zone), []
        for _ in range(count):
            if await statements_repo.has_rows(self._db.reader, owner_id,
                                              month.start(zone), month.end(zone)):
                found.append(month)
            month = month.before()
        return found

    async def write(self, owner_id: int, month: Month, zone: str, fmt: StatementFormat,
                    text: StatementText, folder: Path) -> Statement:
        """The owner's statement of ``month`` (their zone ``zone``) written to ``folder`` as
        ``statement-YYYY-MM.csv`` or ``.xlsx``."""
        if fmt not in FORMATS:
            raise ValueError(f"not a statement format: {fmt!r}")
        start, end = month.start(zone), month.end(zone)
        reader = self._db.reader
        opening = await statements_repo.total_before(reader, owner_id, start)
        path = folder / f"statement-{month.key}.{fmt}"
        writer: _Writer = (_CsvWriter(path) if fmt == "csv"
                           else _XlsxWriter(path, text.sheet))
        balance, count = opening, 0
        tz = ZoneInfo(zone)
        try:
            await asyncio.to_thread(writer.header, list(text.columns))
            await asyncio.to_thread(writer.row, start, text.opening, None, "", "", "",
                                    opening)
            cursor: tuple[float, int] | None = None
            while True:
                rows, cursor = await statements_repo.statement_page(
                    reader, owner_id, start, end, after=cursor, limit=self._page)
                balance = await asyncio.to_thread(_write_rows, writer, rows, balance, tz, text)
                count += len(rows)
                if cursor is None:
                    break
        finally:
            await asyncio.to_thread(writer.close)
        return Statement(path, month, count, opening, balance)


def _write_rows(writer: _Writer, rows: list[StatementRow], balance: int, tz: ZoneInfo,
                text: StatementText) -> int:
    """Write one page; the running balance after it."""
    for row in rows:
        balance += row.amount
        writer.row(row.created_at.astimezone(tz), text.kinds[row.kind], row.amount,
                   _campaign(row), row.package_name or "", row.note or "", balance)
    return balance


def _campaign(row: StatementRow) -> str:
    if row.campaign_id is None:
        return ""
    return f"#{row.campaign_id} {row.campaign_name}" if row.campaign_name \
        else f"#{row.campaign_id}"


class _CsvWriter:
    """UTF-8 with a BOM (Excel then reads the letters right); texts neutralised, numbers
    and times are the bot's own and written as they are."""

    def __init__(self, path: Path) -> None:
        self._fh = path.open("w", encoding="utf-8-sig", newline="")
        self._csv = csv.writer(self._fh)

    def header(self, cells: list[str]) -> None:
        self._csv.writerow([neutralise(cell) for cell in cells])

    def row(self, at: datetime | None, kind: str, amount: int | None, campaign: str,
            package: str, note: str, balance: int) -> None:
        self._csv.writerow([
            at.strftime("%Y-%m-%d %H:%M:%S") if at is not None else "", neutralise(kind),
            "" if amount is None else str(amount), neutralise(campaign), neutralise(package),
            neutralise(note), str(balance)])

    def close(self) -> None:
        self._fh.close()


class _XlsxWriter:
    """XLSX in constant memory: times as dates, amounts as numbers, texts as string cells
    (never formulas)."""

    def __init__(self, path: Path, sheet: str) -> None:
        import xlsxwriter

        self._book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        self._sheet = self._book.add_worksheet(sheet[:31])
        self._bold = self._book.add_format({"bold": True})
        self._when = self._book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self._signed = self._book.add_format({"num_format": "+#,##0;-#,##0;0"})
        self._count = self._book.add_format({"num_format": "#,##0"})
        self._sheet.set_column(0, 0, 20)
        self._sheet.set_column(1, 1, 16)
        self._sheet.set_column(3, 5, 24)
        self._row = 0

    def header(self, cells: list[str]) -> None:
        for col, value in enumerate(cells):
            self._sheet.write_string(self._row, col, value, self._bold)
        self._row += 1

    def row(self, at: datetime | None, kind: str, amount: int | None, campaign: str,
            package: str, note: str, balance: int) -> None:
        sheet, r = self._sheet, self._row
        if at is not None:
            sheet.write_datetime(r, 0, at.replace(tzinfo=None), self._when)
        sheet.write_string(r, 1, kind)
        if amount is not None:
            sheet.write_number(r, 2, amount, self._signed)
        for col, value in ((3, campaign), (4, package), (5, note)):
            if value:
                sheet.write_string(r, col, value)
        sheet.write_number(r, 6, balance, self._count)
        self._row += 1

    def close(self) -> None:
        self._book.close()
