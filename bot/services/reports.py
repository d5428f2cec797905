"""A campaign's report: one row per recipient (per message: a recurring campaign's runs
each have theirs), as CSV or XLSX.

Each row: the contact's name and phone, the number it went from, the variant, the text as
it was sent (rendered as the dispatcher rendered it: the same template variant, the
recipient's values and the spintax drawn from the campaign's seed and the message's id,
``TemplatesService.message_text``), the status, when it was sent, delivered and read (in
the owner's time zone), why it failed (the reason categories of ``/stats``,
``bot.services.analytics``, in the owner's words, and the gateway's own detail), and when
it was first answered with that answer. The counts of the rows are ``/stats``'s: the same
messages, statuses and reasons.

Two things the report cannot know: a contact or template edited since the message went
is rendered as it is now (the outbox keeps no texts); a Cloud API number sent the
template's approved twin, whose parameters are the same values.

Streamed: the messages are read in pages by id (``bot/storage/reports.py``) and each page
is rendered and written in a worker thread (XLSX streamed by ``bot/services/sheets.py``,
CSV to a file as it goes), so 100,000 rows never sit in memory nor block the update loop
(``bench/report_bench.py``). Cells a spreadsheet would run as formulas are neutralised in
CSV (``bot.services.imports.neutralise``); in XLSX every text is a string cell.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from bot.domain import Campaign, CampaignStatus, Contact, Template
from bot.errors import NotFound
from bot.services import zones
from bot.services.analytics import CATEGORIES, OTHER_REASON
from bot.services.imports import neutralise
from bot.services.sheets import Cell, SheetWriter, Time, excel_time
from bot.services.templates import TemplatesService, contact_values
from bot.storage import campaigns as campaigns_repo
from bot.storage import owners, templates
from bot.storage import reports as repo
from bot.storage.db import Database
from bot.storage.reports import ReportRow

ReportFormat = Literal["csv", "xlsx"]
FORMATS: tuple[ReportFormat, ...] = ("csv", "xlsx")
PAGE = 2000  # messages read, rendered and written at a time
COLUMNS = 13
# (done, total) after each page; awaited, so keep it short (schedule the slow part)
Progress = Callable[[int, int], Awaitable[None]]
_E164 = re.compile(r"\+\d{6,15}")


@dataclass(frozen=True, slots=True)
class ReportText:
    """The owner's words for the file (plain text, from the catalogs, filled by the
    caller): the 13 column titles (name, phone, number, variant, text, status, sent,
    delivered, read, reason, the gateway's detail, replied, first reply), each message
    status (``MessageStatus`` values), each failure reason (``analytics.REASONS``), and how
    an answer without text is shown per kind (``{kind}`` filled with it)."""

    columns: tuple[str, ...]
    statuses: Mapping[str, str]
    reasons: Mapping[str, str]
    attachment: str = "[{kind}]"
    sheet: str = "report"


@dataclass(frozen=True, slots=True)
class Report:
    path: Path
    campaign: Campaign
    rows: int


class _Writer(Protocol):
    def header(self, cells: list[str]) -> None: ...

    def rows(self, render: _Renderer, rows: list[ReportRow]) -> None: ...

    def close(self) -> None: ...


class ReportsService:
    def __init__(self, db: Database, templates_service: TemplatesService,
                 default_timezone: str = "Asia/Baku", *, page: int = PAGE) -> None:
        self._db = db
        self._templates = templates_service
        self._default_timezone = default_timezone
        self._page = page

    async def size(self, owner_id: int, campaign_id: int) -> int:
        """How many rows the campaign's report has; NotFound for anyone else's."""
        await self._campaign(owner_id, campaign_id)
        return await repo.count(self._db.reader, owner_id, campaign_id)

    async def write(self, owner_id: int, campaign_id: int, fmt: ReportFormat,
                    text: ReportText, folder: Path, *,
                    progress: Progress | None = None) -> Report:
        """The campaign's report written to ``folder`` as ``campaign-<id>-report.csv`` (or
        ``.xlsx``); NotFound for anyone else's campaign (or a draft)."""
        if fmt not in FORMATS:
            raise ValueError(f"not a report format: {fmt!r}")
        if len(text.columns) != COLUMNS:
            raise ValueError(f"a report has {COLUMNS} columns, not {len(text.columns)}")
        campaign = await self._campaign(owner_id, campaign_id)
        reader = self._db.reader
        template = (await templates.get(reader, owner_id, campaign.template_id)
                    if campaign.template_id is not None else None)
        owner = await owners.get(reader, owner_id)
        zone = ZoneInfo(zones.owner_zone(owner, self._default_timezone))
        total = await repo.count(reader, owner_id, campaign_id)
        path = folder / f"campaign-{campaign_id}-report.{fmt}"
        writer: _Writer = _CsvWriter(path) if fmt == "csv" else _XlsxWriter(path, text.sheet)
        render = _Renderer(self._templates, template, campaign.seed, zone, text)
        done, after = 0, 0
        try:
            await asyncio.to_thread(writer.header, list(text.columns))
            while True:
                rows = await repo.page(reader, owner_id, campaign_id, after=after,
                                       limit=self._page)
                if not rows:
                    break
                await asyncio.to_thread(_write_page, writer, render, rows)
                done += len(rows)
                after = rows[-1].id
                if progress is not None:
                    await progress(done, total)
                if len(rows) < self._page:
                    break
        finally:
            await asyncio.to_thread(writer.close)
        return Report(path, campaign, done)

    async def _campaign(self, owner_id: int, campaign_id: int) -> Campaign:
        found = await campaigns_repo.get(self._db.reader, owner_id, campaign_id)
        if found is None or found.status is CampaignStatus.DRAFT:
            raise NotFound("campaign", campaign_id=campaign_id)
        return found


class _Renderer:
    """What a message's cells say (in the worker thread): its text, status, reason and
    first answer in the owner's words, its times on the owner's clock."""

    def __init__(self, templates_service: TemplatesService, template: Template | None,
                 seed: int, zone: ZoneInfo, text: ReportText) -> None:
        self._templates, self._template, self._seed = templates_service, template, seed
        self._zone, self._text = zone, text
        self._minutes: dict[int, tuple[str, float]] = {}  # UTC minute -> its local forms

    def _minute(self, ts: float) -> tuple[str, float]:
        """The local time of the UTC minute holding ``ts``: ("YYYY-MM-DD HH:MM:", its
        Excel serial day). Zones move by whole minutes, so the seconds are UTC's."""
        minute = int(ts // 60)
        found = self._minutes.get(minute)
        if found is None:
            if len(self._minutes) > 100_000:
                self._minutes.clear()
            local = datetime.fromtimestamp(minute * 60, self._zone)
            found = self._minutes[minute] = (local.strftime("%Y-%m-%d %H:%M:"),
                                             float(excel_time(local)))
        return found

    def text_time(self, ts: float | None) -> str:
        if ts is None:
            return ""
        return f"{self._minute(ts)[0]}{int(ts) % 60:02d}"

    def sheet_time(self, ts: float | None) -> Time | None:
        if ts is None:
            return None
        return Time(self._minute(ts)[1] + (ts % 60) / 86400.0)

    def message(self, row: ReportRow) -> str:
        if self._template is None:  # the template was deleted: nothing to render from
            return ""
        contact = Contact(row.contact_id or 0, 0, row.phone, row.name,
                          json.loads(row.attributes) if row.attributes else {})
        try:
            return self._templates.message_text(self._template, row.variant, self._seed,
                                                row.id, contact_values(contact))
        except Exception:  # a template the dispatcher could not render either
            return ""

    def status(self, row: ReportRow) -> str:
        return self._text.statuses.get(row.status, row.status)

    def reason(self, row: ReportRow) -> tuple[str, str]:
        """(the reason in words, the gateway's detail) of a failed message, else blanks."""
        if row.status != "failed":
            return "", ""
        category = row.error_category if row.error_category in CATEGORIES else OTHER_REASON
        return self._text.reasons.get(category, category), row.error_detail or ""

    def reply(self, row: ReportRow) -> str:
        if row.first_reply is None:
            return ""
        kind, _, words = row.first_reply.partition(":")
        return words if words or kind == "text" else self._text.attachment.format(kind=kind)


def _write_page(writer: _Writer, render: _Renderer, rows: list[ReportRow]) -> None:
    writer.rows(render, rows)


def _safe(value: str) -> str:
    """A CSV cell: a phone as the bot keeps it (E.164) has nothing to run; any other text
    is neutralised."""
    return value if _E164.fullmatch(value) else neutralise(value)


class _CsvWriter:
    """UTF-8 with a BOM (Excel then reads the letters right), written as it goes; times
    ``YYYY-MM-DD HH:MM:SS`` in the owner's zone."""

    def __init__(self, path: Path) -> None:
        self._fh = path.open("w", encoding="utf-8-sig", newline="")
        self._csv = csv.writer(self._fh)

    def header(self, cells: list[str]) -> None:
        self._csv.writerow([neutralise(cell) for cell in cells])

    def rows(self, render: _Renderer, rows: list[ReportRow]) -> None:
        safe, when = _safe, render.text_time
        lines = []
        for row in rows:
            reason, detail = render.reason(row)
            lines.append((
                safe(row.name or ""), row.phone, safe(row.number or ""), row.variant + 1,
                safe(render.message(row)), render.status(row), when(row.sent_at),
                when(row.delivered_at), when(row.read_at), safe(reason), safe(detail),
                when(row.replied_at), safe(render.reply(row))))
        self._csv.writerows(lines)

    def close(self) -> None:
        self._fh.close()


class _XlsxWriter:
    """XLSX streamed (``bot/services/sheets.py``): times as dates, the variant a number,
    texts as string cells (never formulas)."""

    def __init__(self, path: Path, sheet: str) -> None:
        self._sheet = SheetWriter(path, sheet, columns=COLUMNS, widths=(
            (0, 2, 18), (4, 4, 48), (5, 5, 12), (6, 8, 19), (9, 10, 28), (11, 11, 19),
            (12, 12, 36)))

    def header(self, cells: list[str]) -> None:
        self._sheet.header(cells)

    def rows(self, render: _Renderer, rows: list[ReportRow]) -> None:
        when = render.sheet_time
        lines: list[list[Cell]] = []
        for row in rows:
            reason, detail = render.reason(row)
            lines.append([
                row.name, row.phone, row.number, row.variant + 1, render.message(row),
                render.status(row), when(row.sent_at), when(row.delivered_at),
                when(row.read_at), reason, detail, when(row.replied_at), render.reply(row)])
        self._sheet.rows(lines)

    def close(self) -> None:
        self._sheet.close()
