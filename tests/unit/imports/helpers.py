"""Test helpers: a tiny XLSX writer (zipfile + minimal SpreadsheetML, no openpyxl)."""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_BOOK_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"

Cell = str | int | float | None


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _cell(ref: str, value: Cell) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    text = escape(value)
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def write_xlsx(path: Path, sheets: Sequence[tuple[str, Iterable[Sequence[Cell]]]]) -> Path:
    """Write ``[(sheet name, rows)]``; rows are streamed, so they may be a generator.

    An empty row (all None/"") is left out of the XML, as Excel does."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{_SHEET_TYPE}"/>'
            for n in range(1, len(sheets) + 1)
        )
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_BOOK_TYPE}"/>'
            f"{overrides}</Types>",
        )
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
            f'Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        entries = "".join(
            f'<sheet name="{escape(name)}" sheetId="{n}" r:id="rId{n}"/>'
            for n, (name, _rows) in enumerate(sheets, 1)
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_RELS}">'
            f"<sheets>{entries}</sheets></workbook>",
        )
        relations = "".join(
            f'<Relationship Id="rId{n}" Type="{_DOC_RELS}/worksheet" '
            f'Target="worksheets/sheet{n}.xml"/>'
            for n in range(1, len(sheets) + 1)
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{_RELS}">{relations}</Relationships>',
        )
        for n, (_name, rows) in enumerate(sheets, 1):
            with archive.open(f"xl/worksheets/sheet{n}.xml", "w") as sheet:
                sheet.write(f'<worksheet xmlns="{_MAIN}"><sheetData>'.encode())
                for number, row in enumerate(rows, 1):
                    cells = "".join(
                        _cell(f"{column_letter(i)}{number}", value) for i, value in enumerate(row)
                    )
                    if cells:
                        sheet.write(f'<row r="{number}">{cells}</row>'.encode())
                sheet.write(b"</sheetData></worksheet>")
    return path


# --- a tiny XLS writer: BIFF8 cells in an OLE2 compound file (enough for calamine) ---------


def _record(kind: int, body: bytes) -> bytes:
    return struct.pack("<HH", kind, len(body)) + body


def _biff_cell(row: int, column: int, value: Cell) -> bytes:
    if isinstance(value, int | float):
        return _record(0x0203, struct.pack("<HHHd", row, column, 15, float(value)))
    text = str(value).encode("utf-16-le")
    return _record(0x0204, struct.pack("<HHHHB", row, column, 15, len(text) // 2, 1) + text)


def xls_stream(rows: Iterable[tuple[int, int, Cell]], dimensions: tuple[int, int] | None = None,
               ) -> bytes:
    """A BIFF8 workbook stream with one sheet ``S`` holding ``(row, column, value)`` cells
    (0-based); ``dimensions`` (rows, columns) as its DIMENSIONS record says, if given."""
    bof_globals = _record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 6))
    xfs = b"".join(_record(0x00E0, struct.pack("<HHHBBBBIIH", 0, 0, 0xFFF5 if n < 15 else 1,
                                               0x20, 0, 0, 0, 0, 0, 0x20C0)) for n in range(16))
    name = b"S"
    sheet_entry_size = 4 + 8 + len(name)
    globals_size = len(bof_globals) + len(xfs) + sheet_entry_size + 4
    boundsheet = _record(0x0085, struct.pack("<IBBBB", globals_size, 0, 0, len(name), 0) + name)
    eof = _record(0x000A, b"")
    sheet = _record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0x0DBB, 0x07CC, 0, 6))
    if dimensions is not None:
        sheet += _record(0x0200, struct.pack("<IIHHH", 0, dimensions[0], 0, dimensions[1], 0))
    sheet += b"".join(_biff_cell(r, c, v) for r, c, v in rows) + eof
    return bof_globals + xfs + boundsheet + eof + sheet


def write_xls(path: Path, stream: bytes) -> Path:
    """An OLE2 file (512-byte sectors) holding ``stream`` as its ``Workbook``: the stream's
    sectors, then the directory, a mini stream and its table (empty), then the FAT."""
    # padded (after the last EOF record) to a whole sector and to the mini stream's cutoff
    stream = stream.ljust(max(4096, -(-len(stream) // 512) * 512), b"\0")
    size = len(stream)
    data_sectors = len(stream) // 512
    directory, mini, minifat = data_sectors, data_sectors + 1, data_sectors + 2
    fat_sectors = 1
    while data_sectors + 3 + fat_sectors > 128 * fat_sectors:
        fat_sectors += 1
    assert fat_sectors <= 109, "too big for this little writer"
    end, free, fat_mark = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    fat = [n + 1 for n in range(data_sectors - 1)] + [end, end, end, end]
    fat += [fat_mark] * fat_sectors
    fat += [free] * (fat_sectors * 128 - len(fat))
    difat = [minifat + 1 + n for n in range(fat_sectors)] + [free] * (109 - fat_sectors)
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
              + struct.pack("<IIIIIIIII", 0, fat_sectors, directory, 0, 4096, minifat, 1,
                            end, 0)
              + struct.pack("<109I", *difat))

    def entry(name: str, kind: int, child: int, start: int, length: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le") if name else b""
        return (encoded.ljust(64, b"\0") + struct.pack("<HBB", len(encoded), kind, 1)
                + struct.pack("<III", free, free, child) + bytes(16) + bytes(4) + bytes(16)
                + struct.pack("<III", start, length, 0))

    entries = (entry("Root Entry", 5, 1, mini, 64) + entry("Workbook", 2, free, 0, size)
               + entry("", 0, free, free, 0) * 2)
    minitable = struct.pack("<128I", end, *([free] * 127))
    path.write_bytes(header + stream + entries + bytes(512) + minitable
                     + struct.pack(f"<{len(fat)}I", *fat))
    return path
