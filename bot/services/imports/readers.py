"""Streaming readers for contact files: CSV, TXT, XLSX/XLS/ODS and vCard.

``open_contacts(path, filename)`` sniffs the content (the extension is only a hint: a
``.csv`` that is really a workbook is read as a workbook, junk renamed ``.csv`` is refused)
and returns one of the readers below. When the content is clearly not what the name says,
that is the error: a PDF, picture or Word file named ``.xlsx`` is ``not_excel`` (``.vcf``:
``not_vcard``, ``.csv``/``.txt``: ``not_text``), and so is binary that is no workbook named
``.xlsx``/``.xls``/``.ods`` (a zip that cannot be opened stays ``corrupt_xlsx``: a damaged
workbook).
Text named as a workbook (a CSV saved as ``.xlsx`` or ``.xls``, a list saved as ``.vcf``
without a card in it) is still read as text, with ``claimed`` set to what the name said:
``parse`` turns a failure to find contacts in it into ``not_excel`` / ``not_vcard``, so
the owner is told the file is not what its name says rather than "no phone column".

- ``CsvReader``: ``rows()`` yields ``(line, values)`` for every non-empty record. The
  encoding (UTF-8, UTF-8 with BOM, UTF-16 with BOM, else Windows-1251 or Windows-1254) and
  the delimiter (``,`` ``;`` tab ``|``) are detected on the first 64 KiB; quoted fields may
  hold delimiters and newlines. ``line`` is the physical line where the record starts.
- ``LinesReader``: a text file without delimiters, one value per line (``.txt``).
- ``WorkbookReader``: ``sheet_names()`` then ``rows(sheet)``; ``line`` is the sheet's row
  number. python-calamine loads one sheet into (Rust) memory at a time; rows are turned
  into Python strings one by one. Numbers come back as text without a spurious ``.0``
  (``9.94501112233e11`` -> ``"994501112233"``), dates as ISO dates.
- ``VcardReader``: ``cards()`` yields one ``Vcard`` (name, TEL entries with their types) per
  card, for vCard 2.1 (quoted-printable, bare ``CELL`` types), 3.0 and 4.0 (``tel:`` URIs).
  Only FN, N and TEL are kept; pictures and every other property are skipped line by line.

Text files are read through a guard that refuses a line longer than ``max_line_bytes``
(5 MiB by default) without holding it in memory. Nothing reads a whole file: memory stays
bounded by one record (or one sheet for workbooks, checked by ``workbooks`` before calamine
opens them), and every record, cell, vCard property and card has a limit (``limits.py``),
refused with its line as soon as it is met.

Every failure to read the file as a whole is ``UnreadableFile`` (see ``errors.py``).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import csv
import datetime as dt
import io
import itertools
import logging
import quopri
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

from python_calamine import CalamineError, CalamineWorkbook, PasswordError, SheetVisibleEnum

from bot.services.imports.errors import UnreadableFile
from bot.services.imports.limits import (
    MAX_CARD_PHONES,
    MAX_COLUMNS,
    MAX_LINE_BYTES,
    MAX_ROW_CHARS,
    MAX_VCARD_LINE,
)
from bot.services.imports.workbooks import check_workbook

log = logging.getLogger(__name__)

__all__ = [
    "MAX_LINE_BYTES",
    "ContactSource",
    "CsvReader",
    "LinesReader",
    "Row",
    "Vcard",
    "VcardReader",
    "VcardTel",
    "WorkbookReader",
    "open_contacts",
]

SNIFF_BYTES: Final = 64 * 1024

#: ``(line, values)``: a record and the line (or sheet row) where it starts, 1-based.
Row = tuple[int, list[str]]

_OLE_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS: Final = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_OTHER_MAGICS: Final = (
    (b"%PDF", "pdf"),
    (b"\x89PNG", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"\x1f\x8b", "gzip"),
    (b"Rar!", "rar"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"{\\rtf", "rtf"),
    (b"\x7fELF", "executable"),
    (b"OggS", "audio"),
    (b"ID3", "audio"),
)
_CONTROL: Final = re.compile("[\x00-\x08\x0e-\x1f\x7f\ufffd]")
_DELIMITERS: Final = (",", ";", "\t", "|")
_WORKBOOK_EXTENSIONS: Final = (".xlsx", ".xlsm", ".xls", ".ods")
_VCARD_EXTENSIONS: Final = (".vcf", ".vcard")
_TEXT_EXTENSIONS: Final = (".csv", ".tsv", ".txt", ".text", ".lst")


def _claimed(extension: str) -> str | None:
    """What a file's name says it is: ``excel``, ``vcard``, ``text`` (or None)."""
    if extension in _WORKBOOK_EXTENSIONS:
        return "excel"
    if extension in _VCARD_EXTENSIONS:
        return "vcard"
    return "text" if extension in _TEXT_EXTENSIONS else None


# --- sniffing -------------------------------------------------------------------------------


def _utf16_without_bom(head: bytes) -> str | None:
    if len(head) < 8:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _legacy_encoding(head: bytes) -> str:
    """Windows-1251 (Russian) or Windows-1254 (Turkish/Azerbaijani/Western) for 8-bit text.

    Russian words are runs of high bytes; Western and Turkish words are ASCII letters with
    a high byte here and there. So count which neighbours the high-byte letters have."""
    text = head.decode("cp1251", "replace")
    cyrillic_pairs = mixed_pairs = 0
    for left, right in itertools.pairwise(text):
        left_cyrillic = "\u0400" <= left <= "\u04ff"
        right_cyrillic = "\u0400" <= right <= "\u04ff"
        if left_cyrillic and right_cyrillic:
            cyrillic_pairs += 1
        elif (left_cyrillic and right.isascii() and right.isalpha()) or (
            right_cyrillic and left.isascii() and left.isalpha()
        ):
            mixed_pairs += 1
    return "cp1251" if cyrillic_pairs >= mixed_pairs else "cp1254"


def detect_encoding(head: bytes) -> str:
    """The text encoding of a file that starts with ``head``."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf16 = _utf16_without_bom(head)
    if utf16 is not None:
        return utf16
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return _legacy_encoding(head)
    return "utf-8"


def _decode_head(head: bytes, encoding: str, truncated: bool) -> str:
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    return str(decoder.decode(head, final=not truncated))


def _complete_records(text: str, truncated: bool) -> str:
    """Drop the last, maybe cut, line of a sample."""
    if not truncated:
        return text
    cut = max(text.rfind("\n"), text.rfind("\r"))
    return text[:cut] if cut > 0 else text


def sniff_delimiter(sample: str) -> str | None:
    """The delimiter that splits the sample's records into the same number (>1) of fields."""
    best: tuple[float, int, int] | None = None
    chosen = None
    for order, delimiter in enumerate(_DELIMITERS):
        counts: dict[int, int] = {}
        records = 0
        try:
            for row in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter):
                if not any(cell.strip() for cell in row):
                    continue
                counts[len(row)] = counts.get(len(row), 0) + 1
                records += 1
                if records >= 50:
                    break
        except csv.Error:
            continue
        if not records:
            continue
        modal, hits = max(counts.items(), key=lambda item: (item[1], item[0]))
        if modal < 2:
            continue
        score = (hits / records, modal, -order)
        if best is None or score > best:
            best, chosen = score, delimiter
    return chosen


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:64] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError, zlib.error,
            NotImplementedError, RuntimeError) as exc:  # a zip version or method unknown,
        raise UnreadableFile("corrupt_xlsx", f"zip: {exc}") from exc  # a password
    if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
        return "xlsx"
    if b"opendocument.spreadsheet" in mimetype:
        return "ods"
    if "word/document.xml" in names:
        raise UnreadableFile("unsupported_type", "docx")
    raise UnreadableFile("unsupported_type", "zip")


def _ole_kind(path: Path) -> str:
    """An OLE2 compound file: a legacy .xls, or an encrypted OOXML workbook."""
    needles = {
        "encrypted": "EncryptionInfo".encode("utf-16-le"),
        "doc": "WordDocument".encode("utf-16-le"),
    }
    with path.open("rb") as stream:
        tail = b""
        while chunk := stream.read(1 << 20):
            window = tail + chunk
            for kind, needle in needles.items():
                if needle in window:
                    if kind == "encrypted":
                        raise UnreadableFile("encrypted")
                    raise UnreadableFile("unsupported_type", "doc")
            tail = window[-64:]
    return "xls"


# --- text -----------------------------------------------------------------------------------


class _LineGuard(io.RawIOBase):
    """A raw stream that fails once a line gets longer than ``limit`` bytes.

    It looks at whole chunks (the text layer reads 64 KiB at a time), so it costs nothing per
    line, and it stops a giant line before the text layer has buffered it."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        super().__init__()
        self._raw = raw
        self._limit = limit
        self._run = 0  # bytes since the last line break
        self._lines = 1

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]  # io passes only these
        data = self._raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        last_break = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if last_break < 0:
            self._run += size
        else:
            # the line that ends in this chunk; lines inside a chunk are shorter than it
            breaks = [at for at in (data.find(b"\n"), data.find(b"\r")) if at >= 0]
            if self._run + min(breaks) > self._limit:
                raise UnreadableFile("line_too_long", line=self._lines, limit=self._limit)
            self._lines += data.count(b"\n")
            self._run = size - last_break - 1
        if self._run > self._limit:
            raise UnreadableFile("line_too_long", line=self._lines, limit=self._limit)
        return size

    def close(self) -> None:
        self._raw.close()
        super().close()


class _RowTooLong(Exception):
    """Raised by the lines under ``csv.reader``; ``CsvReader.rows`` says which line."""


@dataclass(slots=True)
class _TextSource:
    path: Path
    encoding: str
    max_line_bytes: int

    def open(self) -> io.TextIOWrapper:
        guard = _LineGuard(self.path.open("rb", buffering=0), self.max_line_bytes)
        buffered = io.BufferedReader(guard, buffer_size=SNIFF_BYTES)
        return io.TextIOWrapper(buffered, encoding=self.encoding, errors="replace", newline="")


@dataclass(slots=True)
class CsvReader:
    """Records of a delimited text file."""

    source: _TextSource
    delimiter: str
    kind: str = "csv"
    claimed: str | None = None  # "excel" | "vcard": the name said so (see the docstring)

    @property
    def encoding(self) -> str:
        return self.source.encoding

    def rows(self) -> Iterator[Row]:
        with self.source.open() as text:
            used = [0]  # characters of the record being read (a record may span lines)

            def lines() -> Iterator[str]:
                for line in text:
                    used[0] += len(line)
                    if used[0] > MAX_ROW_CHARS:  # e.g. an unclosed quote, a million cells
                        raise _RowTooLong
                    yield line

            reader = csv.reader(lines(), delimiter=self.delimiter)
            end = 0
            try:
                for values in reader:
                    start = end + 1
                    end = reader.line_num
                    used[0] = 0
                    if values:
                        if len(values) > MAX_COLUMNS:
                            raise UnreadableFile("too_many_columns", line=start,
                                                 limit=MAX_COLUMNS)
                        yield start, values
            except _RowTooLong:
                raise UnreadableFile("row_too_long", line=end + 1,
                                     limit=MAX_ROW_CHARS // 1024) from None
            except csv.Error as exc:
                message = str(exc)
                if "field larger than field limit" in message:
                    # a cell over csv's limit (128 KiB unless changed), often an unclosed quote
                    raise UnreadableFile(
                        "field_too_long", message, line=end + 1,
                        limit=csv.field_size_limit() // 1024,
                    ) from exc
                reason = "binary" if "NUL" in message else "malformed_csv"
                raise UnreadableFile(reason, message, line=end + 1) from exc


@dataclass(slots=True)
class LinesReader:
    """One value per line (a plain list of numbers)."""

    source: _TextSource
    kind: str = "txt"
    delimiter: str | None = None
    claimed: str | None = None  # "vcard": the name said so (see the docstring)

    @property
    def encoding(self) -> str:
        return self.source.encoding

    def rows(self) -> Iterator[Row]:
        with self.source.open() as text:
            for number, line in enumerate(text, 1):
                if len(line) > MAX_ROW_CHARS:
                    raise UnreadableFile("row_too_long", line=number,
                                         limit=MAX_ROW_CHARS // 1024)
                value = line.strip()
                if value:
                    yield number, [value]


# --- workbooks ------------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e17:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


@dataclass(slots=True)
class WorkbookReader:
    """The sheets of an XLSX, XLS or ODS file."""

    path: Path
    kind: str
    data: bytes | None = field(default=None, repr=False)  # what to open instead (an XLS)
    _book: CalamineWorkbook | None = field(default=None, repr=False)
    encoding: str | None = None
    delimiter: str | None = None

    def _workbook(self) -> CalamineWorkbook:
        if self._book is None:
            with _calamine_errors():
                if self.data is not None:
                    self._book = CalamineWorkbook.from_filelike(io.BytesIO(self.data))
                else:
                    self._book = CalamineWorkbook.from_path(str(self.path))
        return self._book

    def sheet_names(self) -> list[str]:
        """Worksheets, visible ones first, each group in workbook order."""
        with _calamine_errors():
            sheets = self._workbook().sheets_metadata
        visible = [s.name for s in sheets if s.visible == SheetVisibleEnum.Visible]
        return visible + [s.name for s in sheets if s.visible != SheetVisibleEnum.Visible]

    def rows(self, sheet_name: str) -> Iterator[Row]:
        with _calamine_errors():
            sheet = self._workbook().get_sheet_by_name(sheet_name)
            start = sheet.start
            width = sheet.width
        if start is None:
            return
        first = start[0] + 1
        if width > MAX_COLUMNS:  # (``workbooks`` looked before it was loaded)
            raise UnreadableFile("too_many_columns", line=first, limit=MAX_COLUMNS)
        with _calamine_errors():
            for offset, cells in enumerate(sheet.iter_rows()):
                values = [c if c.__class__ is str else _cell_text(c) for c in cells]
                # a shared string (or an ODS repeat) may fill many cells: rows can be far
                # longer than the file
                if sum(map(len, values)) > MAX_ROW_CHARS:
                    raise UnreadableFile("row_too_long", line=first + offset,
                                         limit=MAX_ROW_CHARS // 1024)
                yield first + offset, values

    def close(self) -> None:
        if self._book is not None:
            with contextlib.suppress(Exception):
                self._book.close()
            self._book = None


@contextlib.contextmanager
def _calamine_errors() -> Iterator[None]:
    """calamine's failures as ``UnreadableFile``; a panic of its Rust code too (pyo3 raises
    ``PanicException``, a ``BaseException``, for instance on a damaged XLS)."""
    try:
        yield
    except PasswordError as exc:
        raise UnreadableFile("encrypted", str(exc)) from exc
    except (CalamineError, OSError, ValueError, OverflowError) as exc:
        raise UnreadableFile("corrupt_xlsx", str(exc)) from exc
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise
        raise UnreadableFile("corrupt_xlsx", f"calamine: {exc}") from None


# --- vCard ----------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class VcardTel:
    value: str  # as written, without a ``tel:`` scheme or URI parameters
    types: frozenset[str]  # upper case: CELL, WORK, HOME, FAX, VOICE, PREF...


@dataclass(slots=True)
class Vcard:
    line: int  # the line of BEGIN:VCARD
    name: str
    tels: list[VcardTel] = field(default_factory=list)


# The properties read (``item1.TEL;TYPE=CELL:...`` is a TEL); the others are skipped.
_READ_PROPERTY: Final = re.compile(
    r"(?:[^;:\r\n]{0,100}\.)?[ \t]*(BEGIN|END|FN|N|TEL)[ \t]*(?=[;:\r\n]|$)", re.IGNORECASE
)
_SOFT_BREAK: Final = ("=\r\n", "=\n", "=\r", "=")  # a line ending like this may continue
_UNESCAPE: Final = re.compile(r"\\(.)")


def _quoted_printable(line: str) -> bool:
    """Whether the first line of a property says its value is quoted-printable."""
    colon = line.find(":")
    head = (line if colon < 0 else line[:colon]).upper()
    return "QUOTED-PRINTABLE" in head or "ENCODING=QP" in head


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return _UNESCAPE.sub(lambda m: " " if m.group(1) in "nN" else m.group(1), text)


def _split_unescaped(text: str, separator: str) -> list[str]:
    if "\\" not in text:
        return text.split(separator)
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _property_head(line: str) -> tuple[str, str]:
    """``(name and parameters, value)`` of a content line (a ``:`` in quotes is not it)."""
    colon = line.find(":")
    if colon >= 0 and line.find('"', 0, colon) < 0:
        return line[:colon], line[colon + 1 :]
    quoted = False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            return line[:index], line[index + 1 :]
    return line, ""


def _parse_parameters(head: str) -> tuple[str, dict[str, list[str]]]:
    if ";" not in head:
        return head.rsplit(".", 1)[-1].strip().upper(), {}
    name, *raw_parameters = head.split(";")
    parameters: dict[str, list[str]] = {}
    for parameter in raw_parameters:
        key, equals, value = parameter.partition("=")
        if not equals:  # vCard 2.1: TEL;CELL;PREF
            key, value = "TYPE", key
        values = [v.strip().strip('"') for v in value.split(",")]
        parameters.setdefault(key.strip().upper(), []).extend(v for v in values if v)
    return name.rsplit(".", 1)[-1].strip().upper(), parameters


def _decode_value(value: str, parameters: dict[str, list[str]]) -> str:
    if "ENCODING" not in parameters:
        return value
    encoding = {e.upper() for e in parameters["ENCODING"]}
    charset = (parameters.get("CHARSET") or ["utf-8"])[0]
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    if encoding & {"QUOTED-PRINTABLE", "QP"}:
        return quopri.decodestring(value.encode("ascii", "replace")).decode(charset, "replace")
    if encoding & {"B", "BASE64"}:
        try:
            return base64.b64decode(value, validate=False).decode(charset, "replace")
        except (binascii.Error, ValueError):
            return value
    return value


@dataclass(slots=True)
class VcardReader:
    """The cards of a vCard file (any version, any number of cards)."""

    source: _TextSource
    kind: str = "vcf"
    delimiter: str | None = None

    @property
    def encoding(self) -> str:
        return self.source.encoding

    @staticmethod
    def _properties(text: io.TextIOWrapper) -> Iterator[tuple[int, str, str]]:
        """``(line, name, content line)`` of each property read (``_READ_PROPERTY``), its
        continuation lines unfolded (a leading space or tab, or a quoted-printable soft line
        break ``=``). Other properties (pictures, addresses, notes...) are skipped line by
        line, whatever their size, without keeping them. A property read that is longer than
        ``MAX_VCARD_LINE`` once unfolded is refused at the line where it begins."""
        limit = MAX_VCARD_LINE
        read = _READ_PROPERTY.match
        parts: list[str] = []  # the open property's pieces, when it is one we read
        name = ""
        start = size = 0
        keep = False
        quoted_printable = soft_break = False  # soft_break: its last line ends in "="
        for number, physical in enumerate(text, 1):
            lead = physical[:1]
            if lead == " " or lead == "\t":
                if keep:
                    line = physical.rstrip("\r\n")
                    size += len(line) - 1
                    if size > limit:
                        raise UnreadableFile("vcard_line_too_long", line=start,
                                             limit=limit // 1024)
                    parts.append(line[1:])
                soft_break = quoted_printable and physical.endswith(_SOFT_BREAK)
                continue
            if soft_break:
                if keep:
                    line = physical.rstrip("\r\n")
                    size += len(line)
                    if size > limit:
                        raise UnreadableFile("vcard_line_too_long", line=start,
                                             limit=limit // 1024)
                    parts[-1] = parts[-1][:-1]
                    parts.append(line)
                soft_break = physical.endswith(_SOFT_BREAK)
                continue
            if keep:
                yield start, name, parts[0] if len(parts) == 1 else "".join(parts)
            start = number
            # only a quoted-printable value continues on a line after a "=" (a soft break)
            quoted_printable = soft_break = (physical.endswith(_SOFT_BREAK)
                                             and _quoted_printable(physical))
            match = read(physical)
            keep = match is not None
            if match is not None:
                name = match.group(1).upper()
                line = physical.rstrip("\r\n")
                size = len(line)
                if size > limit:
                    raise UnreadableFile("vcard_line_too_long", line=number, limit=limit // 1024)
                parts = [line]
        if keep:
            yield start, name, parts[0] if len(parts) == 1 else "".join(parts)

    def cards(self) -> Iterator[Vcard]:
        with self.source.open() as text:
            card: Vcard | None = None
            structured: tuple[str, str] | None = None  # N (head, value): read if no FN
            phones = 0  # TEL properties in the card
            known: dict[str, dict[str, list[str]]] = {}  # parameters by head: cards repeat them
            for number, name, line in self._properties(text):
                colon = line.find(":")
                if colon >= 0 and line.find('"', 0, colon) < 0:
                    head, value = line[:colon], line[colon + 1 :]
                else:
                    head, value = _property_head(line)
                if name == "TEL":
                    if card is None:
                        continue
                    phones += 1
                    if phones > MAX_CARD_PHONES:
                        raise UnreadableFile("too_many_phones", line=card.line,
                                             limit=MAX_CARD_PHONES)
                    parameters = known.get(head)  # read only, never changed
                    if parameters is None:
                        if len(known) > 64:
                            known.clear()
                        parameters = known[head] = _parse_parameters(head)[1]
                    self._add_tel(card, _decode_value(value, parameters), parameters)
                elif name == "BEGIN":
                    if value.strip().upper() != "VCARD":
                        continue
                    if card is not None:  # a card without END
                        yield self._finish(card, structured)
                    card, structured, phones = Vcard(line=number, name=""), None, 0
                elif card is None:
                    continue
                elif name == "FN":
                    parameters = _parse_parameters(head)[1]
                    card.name = _unescape(_decode_value(value, parameters)).strip()
                elif name == "N":
                    structured = head, value
                elif value.strip().upper() == "VCARD":  # END
                    yield self._finish(card, structured)
                    card = None
            if card is not None:
                yield self._finish(card, structured)

    @staticmethod
    def _add_tel(card: Vcard, value: str, parameters: dict[str, list[str]]) -> None:
        text = value.strip()
        if text[:4].lower() == "tel:":
            text = text[4:].split(";", 1)[0]
        types = frozenset(map(str.upper, parameters.get("TYPE", ())))
        if text:
            card.tels.append(VcardTel(value=_unescape(text).strip(), types=types))

    @staticmethod
    def _finish(card: Vcard, structured: tuple[str, str] | None) -> Vcard:
        """The card, named after its N ("Family;Given;Additional") when it has no FN."""
        if not card.name and structured is not None:
            head, value = structured
            parts = _split_unescaped(_decode_value(value, _parse_parameters(head)[1]), ";")
            family, given, additional = [*parts, "", "", ""][:3]
            card.name = " ".join(
                _unescape(p).strip() for p in (given, additional, family) if p.strip()
            )
        return card


# --- choosing a reader ----------------------------------------------------------------------

ContactSource = CsvReader | LinesReader | WorkbookReader | VcardReader


def open_contacts(
    path: Path, filename: str, *, max_line_bytes: int = MAX_LINE_BYTES
) -> ContactSource:
    """The reader for a contact file. ``filename`` is the name the owner gave it (only its
    extension is used, as a hint). Raises ``UnreadableFile``."""
    extension = Path(filename).suffix.lower()
    claimed = _claimed(extension)
    with path.open("rb") as stream:
        head = stream.read(SNIFF_BYTES)
        truncated = bool(stream.read(1))
    if not head.strip():
        raise UnreadableFile("empty")
    try:
        if head.startswith(_ZIP_MAGICS):
            kind = _zip_kind(path)
            check_workbook(path, kind)
            return WorkbookReader(path=path, kind=kind)
        if head.startswith(_OLE_MAGIC):
            kind = _ole_kind(path)
            return WorkbookReader(path=path, kind=kind, data=check_workbook(path, kind))
        for magic, kind in _OTHER_MAGICS:
            if head.startswith(magic):
                raise UnreadableFile("unsupported_type", kind)
    except UnreadableFile as exc:
        if exc.reason == "unsupported_type" and claimed is not None:  # a Word file, a PDF...
            raise UnreadableFile(f"not_{claimed}", exc.detail) from exc
        raise
    encoding = detect_encoding(head)
    if b"\x00" in head and not encoding.startswith("utf-16"):
        raise UnreadableFile("not_excel" if claimed == "excel" else "binary", "NUL bytes")
    text = _decode_head(head, encoding, truncated)
    if not text.strip():
        raise UnreadableFile("empty")
    if len(_CONTROL.findall(text)) > max(2, len(text) // 100):
        raise UnreadableFile("not_excel" if claimed == "excel" else "binary",
                             "control characters")
    source = _TextSource(path=path, encoding=encoding, max_line_bytes=max_line_bytes)
    if text.lstrip("\ufeff \t\r\n")[:11].upper() == "BEGIN:VCARD":
        return VcardReader(source=source)
    mislabelled = claimed if claimed in ("excel", "vcard") else None
    delimiter = sniff_delimiter(_complete_records(text, truncated))
    if delimiter is None and extension in (*_VCARD_EXTENSIONS, ".txt", ".text", ".lst", ""):
        return LinesReader(source=source, claimed=mislabelled)
    log.debug("reading %s as csv (%s, %r)", filename, encoding, delimiter)
    return CsvReader(source=source, delimiter=delimiter or ",", claimed=mislabelled)
