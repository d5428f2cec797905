"""Every limit of a contact file is refused where it is met, with its line, before the thing
is held in memory (``bot/services/imports/limits.py``; the file fuzz tries them all)."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from bot.services.imports import UnreadableFile, parse_contacts
from bot.services.imports.limits import (
    MAX_CARD_PHONES,
    MAX_COLUMNS,
    MAX_ROW_CHARS,
    MAX_SHEET_CELLS,
    MAX_VCARD_LINE,
)

from .helpers import _MAIN, _record, column_letter, write_xls, write_xlsx, xls_stream


def refused(path: Path, name: str | None = None) -> UnreadableFile:
    with pytest.raises(UnreadableFile) as caught, \
            parse_contacts(path, name or path.name, "AZ") as job:
        for _batch in job.batches():
            pass
    return caught.value


def phones(path: Path, name: str | None = None) -> list[str]:
    with parse_contacts(path, name or path.name, "AZ") as job:
        return [c.phone for batch in job.batches() for c in batch.contacts]


def card(*lines: str) -> str:
    return "BEGIN:VCARD\r\nVERSION:3.0\r\n" + "".join(f"{x}\r\n" for x in lines) + "END:VCARD\r\n"


# --- vCard ----------------------------------------------------------------------------------


def test_a_folded_vcard_line_over_the_limit_is_refused_at_the_line_it_begins(
    tmp_path: Path,
) -> None:
    folded = "FN:x" + "\r\n " + "\r\n ".join(["y" * 70] * (MAX_VCARD_LINE // 70 + 1))
    path = tmp_path / "phone.vcf"
    path.write_text(card("FN:Ok", "TEL:0501112233") + card(folded, "TEL:0551112233"))
    error = refused(path)
    assert (error.reason, error.line, error.limit) == ("vcard_line_too_long", 8, 64)


def test_quoted_printable_soft_breaks_cannot_join_a_line_without_end(tmp_path: Path) -> None:
    path = tmp_path / "old.vcf"
    soft = "=D0=98=\r\n" * (MAX_VCARD_LINE // 6)
    path.write_text("BEGIN:VCARD\r\nVERSION:2.1\r\nN;ENCODING=QUOTED-PRINTABLE:" + soft
                    + "x\r\nTEL:0501112233\r\nEND:VCARD\r\n")
    error = refused(path)
    assert (error.reason, error.line) == ("vcard_line_too_long", 3)


def test_a_huge_picture_is_skipped_and_its_card_imports(tmp_path: Path) -> None:
    photo = "PHOTO;ENCODING=b;TYPE=JPEG:" + "\r\n ".join(["QUJD" * 19] * 60_000)  # 4.5 MB
    path = tmp_path / "photos.vcf"
    path.write_text(card("FN:Leyla", photo, "TEL;TYPE=CELL:+994 55 111 22 33"))
    assert phones(path) == ["+994551112233"]


def test_a_card_with_too_many_phones_is_refused_at_its_first_line(tmp_path: Path) -> None:
    tels = [f"TEL;TYPE=CELL:+99450{n:07d}" for n in range(MAX_CARD_PHONES + 1)]
    path = tmp_path / "many.vcf"
    path.write_text(card("FN:A", "TEL:0501112233") + card("FN:B", *tels))
    error = refused(path)
    assert (error.reason, error.line, error.limit) == ("too_many_phones", 6, MAX_CARD_PHONES)
    path.write_text(card("FN:B", *tels[:MAX_CARD_PHONES]))
    assert len(phones(path)) == MAX_CARD_PHONES


# --- CSV and TXT ----------------------------------------------------------------------------


def test_an_unclosed_quote_is_refused_at_its_line_as_a_field_too_long(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    rows = "".join(f"Name {n},0501{n:06d}\n" for n in range(20_000))
    path.write_text("Name,Phone\nAli,0501112233\n\"Leyla,0551112233\n" + rows)
    error = refused(path)
    assert (error.reason, error.line, error.limit) == ("field_too_long", 3, 128)


def test_a_row_with_too_many_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("Name,Phone\nAli,0501112233\n" + "ab," * MAX_COLUMNS + "0551112233\n")
    error = refused(path)
    assert (error.reason, error.line, error.limit) == ("too_many_columns", 3, MAX_COLUMNS)


def test_a_record_of_many_quoted_lines_over_the_limit_is_refused(tmp_path: Path) -> None:
    """Each line is short and each cell small, the record is not."""
    path = tmp_path / "lines.csv"
    cells = ",".join(['"a\nb"'] * (MAX_ROW_CHARS // 6 + 10))  # cells of 3 characters, 1 a line
    path.write_text(f"Name,Phone,Note\nAli,0501112233,x\n{cells}\nLeyla,0551112233,y\n")
    error = refused(path)
    assert (error.reason, error.line) == ("row_too_long", 3)


def test_a_txt_line_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "numbers.txt"
    path.write_text("0501112233\n" + "0" * (MAX_ROW_CHARS + 1) + "\n")
    error = refused(path)
    assert (error.reason, error.line) == ("row_too_long", 2)


# --- workbooks ------------------------------------------------------------------------------


def _xlsx(path: Path, sheet_xml: str, shared: list[str] | None = None,
          compression: int = zipfile.ZIP_DEFLATED) -> Path:
    write_xlsx(path, [("S", [["Phone"]])])
    with zipfile.ZipFile(path) as original:
        parts = {info.filename: original.read(info.filename) for info in original.infolist()}
    parts["xl/worksheets/sheet1.xml"] = (
        f'<worksheet xmlns="{_MAIN}"><sheetData>{sheet_xml}</sheetData></worksheet>'.encode())
    if shared is not None:
        parts["xl/sharedStrings.xml"] = (
            f'<sst xmlns="{_MAIN}">'
            + "".join(f"<si><t>{text}</t></si>" for text in shared) + "</sst>").encode()
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


HEADER_ROW = '<row r="1"><c r="A1" t="inlineStr"><is><t>Phone</t></is></c></row>'
PHONE_ROW = '<row r="2"><c r="A2"><v>994501112233</v></c></row>'


@pytest.mark.parametrize(
    ("far", "reason", "line"),
    [
        ("CW20000", "sheet_too_big", 20_000),  # 101 columns x 20,000 rows: 2 million cells
        ("XFD1048576", "too_many_columns", 1_048_576),  # 1 KB asking for 550 GB
    ],
)
def test_a_cell_far_from_the_others_is_refused_before_the_sheet_is_loaded(
    tmp_path: Path, far: str, reason: str, line: int
) -> None:
    """calamine holds a sheet as a grid from A1 to its farthest cell, 32 bytes a cell."""
    row = "".join(ch for ch in far if ch.isdigit())
    path = _xlsx(tmp_path / "far.xlsx",
                 f'{HEADER_ROW}{PHONE_ROW}<row r="{row}"><c r="{far}"><v>1</v></c></row>')
    error = refused(path)
    assert (error.reason, error.line) == (reason, line)


def test_a_sheet_within_the_limit_still_imports(tmp_path: Path) -> None:
    columns = MAX_SHEET_CELLS // 10_000
    far = f"{column_letter(columns - 1)}10000"
    path = _xlsx(tmp_path / "ok.xlsx",
                 f'{HEADER_ROW}{PHONE_ROW}<row r="10000"><c r="{far}"><v>1</v></c></row>')
    assert phones(path) == ["+994501112233"]


def test_a_zip_bomb_is_refused_from_the_zip_directory(tmp_path: Path) -> None:
    rows = '<row><c><v>0</v></c></row>' * 200_000  # 5 MB that pack into some 10 KB
    error = refused(_xlsx(tmp_path / "bomb.xlsx", HEADER_ROW + PHONE_ROW + rows))
    assert (error.reason, error.limit) == ("workbook_too_big", 100)


def _shared_string_in_many_cells(path: Path, rows: int) -> Path:
    """A 30 KB text, 40 cells naming it in each row: 1.2 MB a row from 30 KB."""
    cells = "".join(f'<c r="{column_letter(c)}{{r}}" t="s"><v>0</v></c>' for c in range(1, 41))
    body = "".join(f'<row r="{r}"><c r="A{r}"><v>99450111{r:04d}</v></c>{cells.format(r=r)}'
                   "</row>" for r in range(2, rows + 2))
    return _xlsx(path, HEADER_ROW + body, shared=["x" * 30_000])


def test_a_row_made_long_by_a_shared_string_is_refused(tmp_path: Path) -> None:
    error = refused(_shared_string_in_many_cells(tmp_path / "shared.xlsx", rows=2))
    assert (error.reason, error.line) == ("row_too_long", 2)


def test_a_shared_string_in_more_cells_than_memory_allows_is_refused_before_loading(
    tmp_path: Path,
) -> None:
    """calamine copies a shared string into every cell naming it: 120 MB from 30 KB."""
    error = refused(_shared_string_in_many_cells(tmp_path / "shared.xlsx", rows=100))
    assert (error.reason, error.limit) == ("workbook_too_big", 100)


def test_an_xls_with_cells_far_apart_is_refused(tmp_path: Path) -> None:
    stream = xls_stream([(0, 0, "Phone"), (1, 0, 994501112233), (19_999, 100, 1)])
    error = refused(write_xls(tmp_path / "old.xls", stream))
    assert (error.reason, error.line) == ("sheet_too_big", 20_000)


def test_an_xls_that_makes_calamine_panic_is_a_damaged_file(tmp_path: Path) -> None:
    """pyo3 turns a panic of calamine's Rust code into a ``BaseException``: here a defined
    name (Lbl) record too short for what calamine reads from it."""
    stream = xls_stream([(0, 0, "Phone"), (1, 0, 1)])
    stream = stream[:20] + _record(0x0018, b"\x00") + stream[20:]  # after the first BOF
    assert refused(write_xls(tmp_path / "broken.xls", stream)).reason == "corrupt_xlsx"


def test_an_xls_whose_container_lies_about_its_stream_is_a_damaged_file(tmp_path: Path) -> None:
    """calamine believes the sizes of the OLE2 container (one damaged byte there made it
    ask for gigabytes): the stream is read by the checks and given to calamine in a new
    container; here the Workbook says it lives in a mini stream that is not there."""
    path = write_xls(tmp_path / "broken.xls", xls_stream([(0, 0, "Phone"), (1, 0, 1)]))
    data = bytearray(path.read_bytes())
    sectors = len(data) // 512 - 1
    root = 512 * (sectors - 3)  # the directory: 3 sectors before the FAT, its first entry
    struct.pack_into("<II", data, root + 116, 0xFFFFFFFE, 0)  # no mini stream at all,
    struct.pack_into("<II", data, 60, 0xFFFFFFFE, 0)  # nor a table of it,
    struct.pack_into("<I", data, root + 128 + 120, 600)  # but a Workbook small enough for it
    path.write_bytes(bytes(data))
    assert refused(path).reason == "corrupt_xlsx"
