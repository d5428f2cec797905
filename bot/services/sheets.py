"""A worksheet streamed straight into an XLSX file: rows of text, numbers and times, one
sheet, a bold frozen header, column widths. What a report of 100,000 rows needs, at the
speed it needs (``bench/report_bench.py``).

Why not XlsxWriter (which the contact and statement exports use): in constant-memory mode
it still spends about 4 µs of Python on each cell (its checks, its cell table, its XML
writer); a report's 900,000 cells took 9-11 s here, three times the report's budget.
This writes each row's XML in one string and deflates it as it goes (level 1: the file is
a fifth bigger, written in a quarter of the time), about 1 µs a cell.

The package is the smallest SpreadsheetML one Excel, LibreOffice and calamine open: the
content types, the package and workbook relationships, the workbook, a stylesheet (normal,
bold, and a date-and-time format) and the sheet. Texts are inline string cells: nothing in
them is ever run as a formula. Characters XML 1.0 cannot carry (control characters but
tab and line breaks, lone surrogates) are dropped.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO
from xml.sax.saxutils import quoteattr

__all__ = ["MAX_ROWS", "SheetWriter", "Time", "excel_time", "sheet_name"]

MAX_ROWS = 1_048_576  # a sheet's rows, the header included
_COMPRESSION = 1  # zlib level: the sheet's XML is very repetitive, level 1 is enough
_EPOCH_DAYS = 25569  # 1970-01-01 as an Excel serial day (the 1900 system)
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CONTENT_TYPES = (
    _HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.styles+xml"/></Types>')
_ROOT_RELS = (
    _HEAD + f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" Type="{_REL}/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK_RELS = (
    _HEAD + f'<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/></Relationships>')
# cell styles: 0 normal, 1 a date and time, 2 bold (the header)
_STYLES = (
    _HEAD + f'<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    '</cellStyleXfs><cellXfs count="3">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    '</cellStyles></styleSheet>')


class Time(float):
    """A moment as an Excel serial day (local wall-clock time): shown as a date and time."""

    __slots__ = ()


def excel_time(local: datetime) -> Time:
    """A wall-clock time (its zone's, or naive) as an Excel serial day."""
    naive = local.replace(tzinfo=None)
    seconds = (naive - datetime(1970, 1, 1)).total_seconds()
    return Time(_EPOCH_DAYS + seconds / 86400.0)


Cell = str | int | float | None  # a Time is a float; None or "" leave the cell empty


def _column(n: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    name = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        name = chr(65 + rest) + name
    return name


def _text(value: str) -> str:
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if _INVALID.search(value):
        value = _INVALID.sub("", value)
    return value


def sheet_name(name: str) -> str:
    """A name Excel accepts for a sheet: at most 31 characters, none of []:*?/\\."""
    cleaned = _SHEET_NAME_BAD.sub(" ", _INVALID.sub("", name)).strip().strip("'")
    return cleaned[:31] or "Sheet1"


class SheetWriter:
    """One sheet written row by row into ``path`` (never held whole): ``header`` once,
    then ``rows``, then ``close``. Not for several threads at once."""

    def __init__(self, path: Path, name: str, *, columns: int,
                 widths: Sequence[tuple[int, int, float]] = ()) -> None:
        self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED,
                                    compresslevel=_COMPRESSION)
        self._refs = [_column(n) for n in range(columns)]
        self._row = 0
        self._zip.writestr("[Content_Types].xml", _CONTENT_TYPES)
        self._zip.writestr("_rels/.rels", _ROOT_RELS)
        self._zip.writestr("xl/workbook.xml", (
            _HEAD + f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
            f'<sheet name={quoteattr(sheet_name(name))} sheetId="1" r:id="rId1"/>'
            '</sheets></workbook>'))
        self._zip.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        self._zip.writestr("xl/styles.xml", _STYLES)
        self._sheet: IO[bytes] = self._zip.open("xl/worksheets/sheet1.xml", "w",
                                                force_zip64=True)
        cols = "".join(f'<col min="{first + 1}" max="{last + 1}" width="{width}"'
                       ' customWidth="1"/>' for first, last, width in widths)
        self._sheet.write((
            _HEAD + f'<worksheet xmlns="{_MAIN}"><sheetViews><sheetView workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
            + (f"<cols>{cols}</cols>" if cols else "") + "<sheetData>").encode())

    def header(self, cells: Sequence[str]) -> None:
        """The first row, bold (the pane below it is frozen)."""
        self._write([self._row_xml(list(cells), style=' s="2"')])

    def rows(self, rows: Sequence[Sequence[Cell]]) -> None:
        self._write([self._row_xml(cells) for cells in rows])

    def _row_xml(self, cells: Sequence[Cell], style: str = "") -> str:
        self._row += 1
        r = self._row
        if r > MAX_ROWS:
            raise ValueError(f"a sheet holds at most {MAX_ROWS:,} rows")
        refs = self._refs
        parts: list[str] = []
        add = parts.append
        for col, value in enumerate(cells):
            if value is None or value == "":
                continue
            if type(value) is str:
                add(f'<c r="{refs[col]}{r}" t="inlineStr"{style}><is><t xml:space="preserve">'
                    f"{_text(value)}</t></is></c>")
            elif type(value) is Time:
                add(f'<c r="{refs[col]}{r}" s="1"><v>{float(value)!r}</v></c>')
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"not a cell value: {value!r}")
            else:
                add(f'<c r="{refs[col]}{r}"><v>{value!r}</v></c>')
        return f'<row r="{r}">{"".join(parts)}</row>'

    def _write(self, xml: list[str]) -> None:
        self._sheet.write("".join(xml).encode())

    def close(self) -> None:
        self._sheet.write(b"</sheetData></worksheet>")
        self._sheet.close()
        self._zip.close()
