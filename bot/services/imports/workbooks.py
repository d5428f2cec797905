"""Workbooks are checked before calamine opens them, so that no small file takes the memory.

calamine reads a whole sheet into a grid that runs from its first cell to its farthest one
(an XLSX of 1 KB with one cell at XFD1048576 asks for 550 GB and aborts the process), and
a zip of a few MB may unpack to gigabytes of cells or one giant string. ``check_workbook``
raises ``UnreadableFile`` before that (the limits are in ``limits.py``):

- ``workbook_too_big``: the zip directory says the parts unpack to more than
  ``MAX_UNZIPPED_MB`` together, a part other than the sheets and shared strings to more
  than ``MAX_PART_BYTES``, or a part is compressed more than ``MAX_RATIO`` to 1 (a zip bomb).
  The sizes in the directory hold: the zip readers of calamine and of Python both stop at
  them (a part that unpacks to more is damaged, ``corrupt_xlsx``).
- ``sheet_too_big``: a sheet spans more than ``MAX_SHEET_CELLS`` cells (rows x columns,
  from A1 to its farthest cell; ``line`` is that cell's row) or more than ``MAX_COLUMNS``
  columns (an XLS: all its sheets together, calamine reads them all at once);
  ``too_many_strings``: more shared strings than that.
- ``cell_too_long``: a cell, a shared string or a tag longer than ``MAX_CELL_KB``.
- ``row_too_long``: an ODS row of more than 8 MB of XML.

XLSX and ODS parts are unpacked 1 MiB at a time and only what sets the grid's size is
looked for (cell references, repeat counts: byte counts and regular expressions, no XML
parser). An XLS (BIFF8 in an OLE2 file) is walked record by record. A binary XLSX (xlsb)
is not read (``unsupported_type``).
"""

from __future__ import annotations

import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

from bot.services.imports.errors import UnreadableFile
from bot.services.imports.limits import (
    MAX_CELL_KB,
    MAX_COLUMNS,
    MAX_PART_BYTES,
    MAX_RATIO,
    MAX_SHEET_CELLS,
    MAX_UNZIPPED_MB,
)

__all__ = ["check_workbook"]

_CHUNK: Final = 1 << 20
_MAX_TEXT: Final = MAX_UNZIPPED_MB * 1024 * 1024  # shared strings copied into cells, bytes
_MAX_RUN: Final = MAX_CELL_KB * 1024  # bytes between two tags
_WINDOW: Final = _MAX_RUN // 4
_CDATA: Final = b"<![CDATA["
_ZIP_ERRORS: Final = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError,
                      ValueError, NotImplementedError, RuntimeError)  # RuntimeError: encrypted


def check_workbook(path: Path, kind: str) -> bytes | None:
    """Raise ``UnreadableFile`` when calamine could not open the workbook in bounded memory.

    For an XLS, the workbook to open instead: its stream in a new, sound OLE2 file (the OLE2
    reader of calamine believes the sizes a file gives, and one damaged byte there can make
    it ask for gigabytes)."""
    if kind == "xls":
        return _check_xls(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if kind == "xlsx" and "xl/workbook.bin" in names and "xl/workbook.xml" not in names:
                raise UnreadableFile("unsupported_type", "xlsb")
            _check_directory(archive)
            if kind == "ods":
                if "content.xml" in names:
                    with archive.open("content.xml") as stream:
                        _check_ods_content(stream)
                return None
            sheets, strings = _cell_parts(archive, names)
            shared: list[int] = []  # the size of each shared string
            for name in sorted(strings):
                with archive.open(name) as stream:
                    shared += _shared_string_sizes(stream)
            for name in sorted(sheets - strings):
                with archive.open(name) as stream:
                    _check_xlsx_sheet(stream, shared)
    except _ZIP_ERRORS as exc:
        raise UnreadableFile("corrupt_xlsx", f"zip: {exc}") from exc
    return None


def _too_big(detail: str) -> UnreadableFile:
    return UnreadableFile("workbook_too_big", detail, limit=MAX_UNZIPPED_MB)


def _check_directory(archive: zipfile.ZipFile) -> None:
    """The sizes the directory declares (the zip readers stop at them)."""
    total = 0
    for info in archive.infolist():
        size, name = info.file_size, info.filename
        total += size
        if size > 1024 * 1024 and size > MAX_RATIO * max(info.compress_size, 1):
            raise _too_big(f"{name}: {size} bytes from {info.compress_size}")
        if (size > MAX_PART_BYTES and name.endswith((".xml", ".rels"))
                and not name.startswith("xl/worksheets/")
                and not name.endswith(("sharedStrings.xml", "content.xml"))):
            raise _too_big(f"{name}: {size} bytes")
    if total > MAX_UNZIPPED_MB * 1024 * 1024:
        raise _too_big(f"{total} bytes in all")


_RELATIONSHIP: Final = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>")
_TYPE: Final = re.compile(rb'\bType="([^"]*)"')
_TARGET: Final = re.compile(rb'\bTarget="([^"]*)"')


def _cell_parts(archive: zipfile.ZipFile, names: set[str]) -> tuple[set[str], set[str]]:
    """The parts calamine reads cells from, sheets and shared strings: those the
    workbook's relationships name (wherever they are), and those at their usual places."""
    sheets = {n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml")}
    strings = {n for n in ("xl/sharedStrings.xml",) if n in names}
    rels = "xl/_rels/workbook.xml.rels"
    if rels in names:
        for match in _RELATIONSHIP.finditer(archive.read(rels)):
            kind, target = _TYPE.search(match.group()), _TARGET.search(match.group())
            if kind is None or target is None:
                continue
            relation = kind.group(1)
            if not relation.endswith((b"sheet", b"sharedStrings")):
                continue
            where = target.group(1).decode("utf-8", "replace")
            name = (where.lstrip("/") if where.startswith("/")
                    else posixpath.normpath(posixpath.join("xl", where)))
            if name in names:
                (strings if relation.endswith(b"sharedStrings") else sheets).add(name)
    return sheets, strings


def _sheet_too_big(rows: int, columns: int) -> UnreadableFile:
    return UnreadableFile("sheet_too_big", f"{rows} rows x {columns} columns", line=rows,
                          limit=MAX_SHEET_CELLS)


def _check_grid(rows: int, columns: int) -> None:
    if columns > MAX_COLUMNS:
        raise UnreadableFile("too_many_columns", f"{columns} columns", line=max(rows, 1),
                             limit=MAX_COLUMNS)
    if rows * columns > MAX_SHEET_CELLS:
        raise _sheet_too_big(rows, columns)


def _pieces(stream: IO[bytes]) -> Iterator[bytes]:
    """The part in pieces that each end just before a ``<`` (no tag is cut in two, nor a
    CDATA section, which may hold ``<``), every run of bytes between two tags in them
    shorter than ``MAX_CELL_KB``."""
    tail = b""
    while True:
        chunk = stream.read(_CHUNK)
        data = tail + chunk if tail else chunk
        if not chunk:
            _check_runs(data)
            if data:
                yield data
            return
        cut = max(data.rfind(b"<"), 0)
        opened = data.rfind(_CDATA, 0, cut + len(_CDATA))
        if opened >= 0 and data.find(b"]]>", opened) < 0:
            cut = opened  # an open CDATA section goes whole into the next piece
        body, tail = data[:cut], data[cut:]
        if len(tail) > _MAX_RUN + _CHUNK:
            raise UnreadableFile("cell_too_long", limit=MAX_CELL_KB)
        if body:
            _check_runs(body)
            yield body


def _check_runs(data: bytes) -> None:
    """No run of bytes between two tags (or CDATA section) is longer than ``_MAX_RUN``:
    one aligned window of every longer run has no ``<`` (cheap to look for)."""
    size = len(data)
    if size > _WINDOW:
        find = data.find
        for start in range(0, size, _WINDOW):
            if find(b"<", start, start + _WINDOW) < 0:
                begin = data.rfind(b"<", 0, start)
                end = find(b"<", start)
                if (end if end >= 0 else size) - begin > _MAX_RUN:
                    raise UnreadableFile("cell_too_long", limit=MAX_CELL_KB)
    if _CDATA in data:
        for match in re.finditer(re.escape(_CDATA), data):
            end = data.find(b"]]>", match.end())
            if (end if end >= 0 else size) - match.end() > _MAX_RUN:
                raise UnreadableFile("cell_too_long", limit=MAX_CELL_KB)


# --- XLSX -----------------------------------------------------------------------------------

_CELL_COLUMN: Final = re.compile(rb' r="([A-Z]{1,3})[0-9]')
_CELL_ROW: Final = re.compile(rb' r="[A-Z]{1,3}([0-9]{1,9})"')
_ROW_NUMBER: Final = re.compile(rb' r="([0-9]{1,9})"')  # of a <row> (a cell's has letters)
_PREFIX: Final = re.compile(rb"<([A-Za-z_][\w.-]*:)?sheetData\b")


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _check_xlsx_sheet(stream: IO[bytes], shared: list[int]) -> None:
    """A worksheet's grid: calamine places a cell at its reference (``r="C7"``), and one
    without a reference after the cell before it, in the row of its ``<row>`` (a row without
    a number after the row before it). And the text of its shared strings: calamine copies
    a shared string into every cell naming it. Some 0.1 s per 10 MB of XML."""
    rows = columns = text = 0
    names_shared: re.Pattern[bytes] | None = None
    tag = b"<c"
    tags: tuple[bytes, bytes, bytes] = (b"<c ", b"<c>", b"<c/")
    row_tag = b"<row"
    prefix: bytes | None = None
    unplaced = False  # cells without a reference were seen: count rows and cells too
    open_row = widest = unnumbered = 0
    for piece in _pieces(stream):
        if prefix is None:
            found = _PREFIX.search(piece)
            prefix = (found.group(1) or b"") if found else b""
            tag, row_tag = b"<" + prefix + b"c", b"<" + prefix + b"row"
            tags = (tag + b" ", tag + b">", tag + b"/")
            names_shared = re.compile(re.escape(tag) + rb'\b[^>]*\bt="s"[^>]*>\s*<'
                                      + re.escape(prefix) + rb"v>([0-9]{1,10})<")
        numbers = _CELL_ROW.findall(piece)
        if numbers:
            rows = max(rows, max(map(int, numbers)))
            columns = max(columns, max(map(_column_number, set(_CELL_COLUMN.findall(piece)))))
        # "<c" also begins <col>, <cfRule>...: only when there are more, count exactly
        if not unplaced and piece.count(tag) > len(numbers):
            cells = piece.count(tags[0]) + piece.count(tags[1]) + piece.count(tags[2])
            unplaced = cells > len(numbers)
        if shared and names_shared is not None and b't="s"' in piece:
            size = len(shared)
            text += sum(shared[n] for n in map(int, names_shared.findall(piece)) if n < size)
            if text > _MAX_TEXT:
                raise _too_big(f"{text} bytes of shared strings in cells")
        if unplaced:
            row_numbers = _ROW_NUMBER.findall(piece)
            if row_numbers:
                rows = max(rows, max(map(int, row_numbers)))
            segments = piece.split(row_tag)
            unnumbered += len(segments) - 1 - len(row_numbers)
            count = 0
            for number, segment in enumerate(segments):
                count = segment.count(tags[0]) + segment.count(tags[1]) + segment.count(tags[2])
                if number == 0:
                    count += open_row
                widest = max(widest, count)
            open_row = count
            _check_grid(rows + unnumbered, columns + widest)
        else:
            _check_grid(rows, columns)


def _shared_string_sizes(stream: IO[bytes]) -> list[int]:
    """The size of each shared string, its tags included (at least its text's size)."""
    sizes: list[int] = []
    carry = 0  # the bytes of the string a piece ended in
    tag: bytes | None = None
    for piece in _pieces(stream):
        if tag is None:
            found = re.search(rb"<([A-Za-z_][\w.-]*:)?sst\b", piece)
            tag = b"<" + ((found.group(1) or b"") if found else b"") + b"si"
        parts = piece.split(tag)
        if sizes:
            carry += len(parts[0])
        if len(parts) > 1:
            if sizes:
                sizes[-1] += carry
            sizes.extend(map(len, parts[1:]))
            carry = 0
            if len(sizes) > MAX_SHEET_CELLS:
                raise UnreadableFile("too_many_strings", f"{len(sizes)}", limit=MAX_SHEET_CELLS)
    if sizes:
        sizes[-1] += carry
    return sizes


# --- ODS ------------------------------------------------------------------------------------

_ROW_END: Final = b"</table:table-row>"
_MAX_ODS_ROW: Final = 8 * 1024 * 1024  # bytes of one row's XML
_ODS_CELL: Final = re.compile(rb"<table:(?:covered-)?table-cell\b([^>]*?)(/?)>")
_EMPTY_ROW: Final = re.compile(rb"<table:table-row\b([^>]*)/>")
_ROWS_REPEATED: Final = re.compile(rb'table:number-rows-repeated="([0-9]{1,12})"')
_COLUMNS_REPEATED: Final = re.compile(rb'table:number-columns-repeated="([0-9]{1,12})"')


class _OdsTable:
    """A table's grid as calamine counts it: repeated rows and cells count as many, empty
    ones only when something comes after them; and the text it holds, repeats repeated
    (calamine copies a repeated cell's text into every cell)."""

    def __init__(self) -> None:
        self.rows = self.empty_rows = self.columns = self.text = 0
        self.reset()

    def reset(self) -> None:
        self.rows = 0
        self.empty_rows = 0  # empty rows not followed (yet) by a row with a value
        self.columns = 0

    def add_row(self, head: bytes, body: bytes) -> None:
        width, text = self._width(body)
        repeated = _ROWS_REPEATED.search(head)
        times = int(repeated.group(1)) if repeated else 1
        if width == 0:
            self.empty_rows += times
            return
        self.rows += self.empty_rows + times
        self.empty_rows = 0
        self.columns = max(self.columns, width)
        _check_grid(self.rows, self.columns)
        self.text += times * text
        if self.text > MAX_UNZIPPED_MB * 1024 * 1024:
            raise _too_big(f"{self.text} bytes of text with the repeats")

    @staticmethod
    def _width(body: bytes) -> tuple[int, int]:
        """The row's width (up to its last cell with something in it) and text size."""
        if b"table-cell" not in body:
            return 0, 0
        if b"number-columns-repeated" not in body:
            if b"office:value-type" not in body and b"<text:" not in body:
                return 0, 0
            cells = body.count(b"<table:table-cell") + body.count(b"<table:covered-table-cell")
            return cells, len(body)
        width = pending = text = 0  # pending: empty cells not followed (yet) by one with a value
        matches = list(_ODS_CELL.finditer(body))
        for number, match in enumerate(matches):
            attributes = match.group(1)
            repeated = _COLUMNS_REPEATED.search(attributes)
            times = int(repeated.group(1)) if repeated else 1
            if match.group(2) and b"office:value-type" not in attributes:
                pending += times
                continue
            width += pending + times
            pending = 0
            end = matches[number + 1].start() if number + 1 < len(matches) else len(body)
            text += times * (end - match.end())
            if width > MAX_COLUMNS:
                break
        return width, text


def _check_ods_content(stream: IO[bytes]) -> None:
    table = _OdsTable()
    carry = b""  # the last row of a piece, unfinished
    for piece in _pieces(stream):
        segments = (carry + piece).split(_ROW_END)
        carry = segments.pop()
        if len(carry) > _MAX_ODS_ROW:
            raise UnreadableFile("row_too_long", line=table.rows + 1,
                                 limit=_MAX_ODS_ROW // 1024)
        for segment in segments:
            _ods_segment(table, segment)


def _ods_segment(table: _OdsTable, segment: bytes) -> None:
    """The text up to a row's end tag: maybe a new sheet, rows without an end tag (empty:
    ``<table:table-row .../>``), then the row."""
    start = segment.rfind(b"<table:table-row")
    if start < 0:
        return
    before = segment[:start]
    if b"<table:table " in before or b"<table:table>" in before:
        table.reset()  # a new sheet
    for empty in _EMPTY_ROW.finditer(before):
        repeated = _ROWS_REPEATED.search(empty.group(1))
        table.empty_rows += int(repeated.group(1)) if repeated else 1
    head_end = segment.find(b">", start)
    table.add_row(segment[start:head_end], segment[head_end + 1 :])


# --- XLS ------------------------------------------------------------------------------------

_BOF: Final = 0x0809
_DIMENSIONS: Final = 0x0200  # first row, last row + 1 (u32), first column, last column + 1
_SST: Final = 0x00FC  # the shared strings: total, unique (u32), then the strings
_CONTINUE: Final = 0x003C
_LABEL_SST: Final = 0x00FD  # row, column, format, index of a shared string (u32)
_CELL_RECORDS: Final = frozenset((0x0006, 0x00FD, 0x0203, 0x0204, 0x027E, 0x0201, 0x0205,
                                  0x00D6, 0x0406))  # FORMULA, LABELSST, NUMBER, LABEL, RK...
_MULTI_RECORDS: Final = frozenset((0x00BD, 0x00BE))  # MULRK, MULBLANK: row, first.. last col
# characters of shared strings calamine copies into cells (into every cell naming one)
_MAX_XLS_TEXT: Final = MAX_UNZIPPED_MB * 1024 * 1024 // 2


def _check_xls(path: Path) -> bytes:
    """Every sheet of a BIFF workbook, as calamine reads them all when it opens it: their
    cells' rows and columns make the grids, the shared strings their cells copy the text.
    Returns the workbook stream in a new OLE2 file."""
    try:
        stream = _ole_stream(path.read_bytes(), ("Workbook", "Book"))
        if stream is None:
            raise UnreadableFile("corrupt_xlsx", "xls: no Workbook stream")
        _check_biff(stream)
    except (struct.error, IndexError, ValueError, EOFError) as exc:
        raise UnreadableFile("corrupt_xlsx", f"xls: {exc}") from exc
    return _ole_file(stream)


def _check_biff(stream: bytes) -> None:
    rows = columns = earlier = text = 0  # earlier: the cells of the sheets before
    lengths: list[int] = []  # of the shared strings
    position, size = 0, len(stream)
    unpack = struct.unpack_from
    while position + 4 <= size:
        kind, length = unpack("<HH", stream, position)
        body = position + 4
        if body + length > size:
            break
        if kind in _CELL_RECORDS and length >= 4:
            row, column = unpack("<HH", stream, body)
            rows, columns = max(rows, row + 1), max(columns, column + 1)
            if kind == _LABEL_SST and length >= 10:
                index = unpack("<I", stream, body + 6)[0]
                text += lengths[index] if index < len(lengths) else 0
                if text > _MAX_XLS_TEXT:
                    raise _too_big(f"{text} characters of shared strings in cells")
        elif kind in _MULTI_RECORDS and length >= 6:
            row = unpack("<H", stream, body)[0]
            last = unpack("<H", stream, body + length - 2)[0]
            rows, columns = max(rows, row + 1), max(columns, last + 1)
        elif kind == _DIMENSIONS and length >= 12:  # calamine makes room for what it says
            last_row = unpack("<I", stream, body + 4)[0]
            last_column = unpack("<H", stream, body + 10)[0]
            rows, columns = max(rows, last_row), max(columns, last_column)
        elif kind == _SST and length >= 8:
            lengths = _sst_lengths(stream, position)
        elif kind == _BOF:
            earlier, rows, columns = earlier + rows * columns, 0, 0  # the next sheet
        if columns > MAX_COLUMNS or earlier + rows * columns > MAX_SHEET_CELLS:
            _check_grid(rows, columns)
            raise _sheet_too_big(rows, columns)  # with the sheets before it
        position = body + length


def _sst_lengths(stream: bytes, position: int) -> list[int]:
    """The length (in characters) of each shared string of the SST record at ``position``
    and the CONTINUE records after it (a string may run on in the next one, after a byte
    saying how wide its characters are there)."""
    unpack = struct.unpack_from
    segments: list[bytes] = []
    while position + 4 <= len(stream):
        kind, length = unpack("<HH", stream, position)
        if segments and kind != _CONTINUE:
            break
        segments.append(stream[position + 4 : position + 4 + length])
        position += 4 + length
    unique = unpack("<I", segments[0], 4)[0]
    if unique > MAX_SHEET_CELLS:
        raise UnreadableFile("too_many_strings", f"{unique}", limit=MAX_SHEET_CELLS)
    reader = _Segments(segments, 8)
    lengths = []
    try:
        for _ in range(unique):
            characters, flags = unpack("<HB", reader.take(3))
            runs = unpack("<H", reader.take(2))[0] if flags & 0x08 else 0
            extra = unpack("<i", reader.take(4))[0] if flags & 0x04 else 0
            if extra < 0:
                raise ValueError("a negative ExtRst size")
            reader.characters(characters, bool(flags & 0x01))
            reader.skip(4 * runs + extra)
            lengths.append(characters)
    except EOFError:
        pass  # fewer strings than it says: calamine says so
    return lengths


class _Segments:
    """Bytes read across the SST record and its CONTINUE records."""

    def __init__(self, segments: list[bytes], start: int) -> None:
        self._segments, self._index, self._position = segments, 0, start

    def _next(self) -> bytes:
        self._index += 1
        if self._index >= len(self._segments):
            raise EOFError("end of the shared strings")
        self._position = 0
        return self._segments[self._index]

    def take(self, count: int) -> bytes:
        data, parts = self._segments[self._index], []
        while count > 0:
            if self._position >= len(data):
                data = self._next()
            part = data[self._position : self._position + count]
            self._position += len(part)
            count -= len(part)
            parts.append(part)
        return b"".join(parts)

    def skip(self, count: int) -> None:
        data = self._segments[self._index]
        while count > 0:
            if self._position >= len(data):
                data = self._next()
            step = min(count, len(data) - self._position)
            self._position += step
            count -= step

    def characters(self, count: int, wide: bool) -> None:
        data = self._segments[self._index]
        while count > 0:
            if self._position >= len(data):
                data = self._next()
                wide, self._position = bool(data[:1] and data[0] & 0x01), 1
            width = 2 if wide else 1
            step = min(count, (len(data) - self._position) // width)
            if step == 0:
                raise ValueError("a character cut in two")
            self._position += step * width
            count -= step


def _ole_stream(data: bytes, names: tuple[str, ...]) -> bytes | None:
    """A stream of an OLE2 compound file (the directory's first entry of those names)."""
    unpack = struct.unpack_from
    sector_size = 1 << unpack("<H", data, 30)[0]
    mini_size = 1 << unpack("<H", data, 32)[0]
    if not 128 <= sector_size <= 65536 or mini_size > sector_size:
        raise ValueError("sector size")
    directory_start, mini_cutoff = unpack("<I", data, 48)[0], unpack("<I", data, 56)[0]
    minifat_start, difat_start, difat_count = (unpack("<I", data, offset)[0]
                                               for offset in (60, 68, 72))
    sectors = max(0, len(data) // sector_size - 1)  # the header takes the first sector

    def sector(number: int) -> bytes:
        if number >= sectors:
            raise ValueError("sector out of the file")
        start = (number + 1) * sector_size
        return data[start : start + sector_size]

    per_sector = sector_size // 4
    fat_sectors = [s for s in unpack("<109I", data, 76) if s < sectors]
    next_difat = difat_start
    for _ in range(min(difat_count, sectors)):
        if next_difat >= sectors:
            break
        entries = unpack(f"<{per_sector}I", sector(next_difat))
        fat_sectors += [s for s in entries[:-1] if s < sectors]
        next_difat = entries[-1]
    fat: list[int] = []
    for number in fat_sectors[: sectors + 1]:
        fat += unpack(f"<{per_sector}I", sector(number))

    def chain(first: int) -> bytes:
        parts, number, seen = [], first, 0
        while number < len(fat) and number < sectors and seen <= sectors:
            parts.append(sector(number))
            number, seen = fat[number], seen + 1
        return b"".join(parts)

    directory = chain(directory_start)
    root_start = root_size = 0
    for offset in range(0, len(directory) - 127, 128):
        entry = directory[offset : offset + 128]
        name_size = min(unpack("<H", entry, 64)[0], 64)
        name = entry[: max(0, name_size - 2)].decode("utf-16-le", "replace")
        kind, start, size = entry[66], unpack("<I", entry, 116)[0], unpack("<I", entry, 120)[0]
        if kind == 5:  # the root: the mini stream is its chain
            root_start, root_size = start, size
        elif kind == 2 and name in names:
            if size >= mini_cutoff:
                found = chain(start)[:size]
                if len(found) < size:
                    raise ValueError("the stream is cut short")
                return found
            mini_stream = chain(root_start)[:root_size]
            minifat_bytes = chain(minifat_start)
            minifat = unpack(f"<{len(minifat_bytes) // 4}I", minifat_bytes)
            parts, number, seen = [], start, 0
            while number < len(minifat) and seen <= len(minifat):
                parts.append(mini_stream[number * mini_size : (number + 1) * mini_size])
                number, seen = minifat[number], seen + 1
            found = b"".join(parts)[:size]
            if len(found) < size:
                raise ValueError("the stream is cut short")
            return found
    return None


def _ole_file(stream: bytes) -> bytes:
    """An OLE2 file (version 3, 512-byte sectors) holding ``stream`` as ``Workbook``: the
    stream's sectors (padded to 4 KiB at least, so not in a mini stream), the directory, an
    empty mini stream and its table, then the FAT (and DIFAT sectors when it needs them)."""
    end, free, fat_mark, difat_mark = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFC
    stream = stream.ljust(max(4096, -(-len(stream) // 512) * 512), b"\0")
    data_sectors = len(stream) // 512
    directory, mini, minifat = data_sectors, data_sectors + 1, data_sectors + 2
    fat_count = difat_count = 0
    while True:  # the FAT covers every sector, itself and the DIFAT sectors too
        total = data_sectors + 3 + fat_count + difat_count
        needed_fat = -(-total // 128)
        needed_difat = -(-max(0, needed_fat - 109) // 127)
        if (needed_fat, needed_difat) == (fat_count, difat_count):
            break
        fat_count, difat_count = needed_fat, needed_difat
    first_fat = minifat + 1
    first_difat = first_fat + fat_count
    fat = [n + 1 for n in range(data_sectors - 1)] + [end, end, end, end]
    fat += [fat_mark] * fat_count + [difat_mark] * difat_count
    fat += [free] * (fat_count * 128 - len(fat))
    fat_sectors = list(range(first_fat, first_fat + fat_count))
    header_difat = fat_sectors[:109] + [free] * (109 - min(109, fat_count))
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
              + struct.pack("<9I", 0, fat_count, directory, 0, 4096, minifat, 1,
                            first_difat if difat_count else end, difat_count)
              + struct.pack("<109I", *header_difat))

    def entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le") if name else b""
        return (encoded.ljust(64, b"\0") + struct.pack("<HBB", len(encoded), kind, 1)
                + struct.pack("<3I", free, free, child) + bytes(36)
                + struct.pack("<3I", start, size, 0))

    entries = (entry("Root Entry", 5, 1, mini, 64) + entry("Workbook", 2, free, 0, len(stream))
               + entry("", 0, free, free, 0) * 2)
    minitable = struct.pack("<128I", end, *([free] * 127))
    difat = b""
    rest = fat_sectors[109:]
    for number in range(difat_count):
        chunk = rest[number * 127 : (number + 1) * 127]
        following = first_difat + number + 1 if number + 1 < difat_count else end
        difat += struct.pack("<128I", *chunk, *([free] * (127 - len(chunk))), following)
    return (header + stream + entries + bytes(512) + minitable
            + struct.pack(f"<{len(fat)}I", *fat) + difat)
