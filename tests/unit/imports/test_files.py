"""Every format's quirks, and files that cannot be imported at all."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from pathlib import Path

import pytest

from bot.services.imports import UnreadableFile, parse_contacts
from bot.services.imports.parse import ImportSummary, ParsedContact, Rejected
from tests.conftest import SAMPLES

from .helpers import write_xlsx


def write(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def parse_all(
    path: Path, name: str | None = None, **options: object
) -> tuple[ImportSummary, list[ParsedContact], list[Rejected]]:
    with parse_contacts(path, name or path.name, "AZ", **options) as job:  # type: ignore[arg-type]
        contacts: list[ParsedContact] = []
        rejected: list[Rejected] = []
        for batch in job.batches():
            contacts += batch.contacts
            rejected += batch.rejected
    return job.summary, contacts, rejected


# --- CSV ------------------------------------------------------------------------------------


def test_quoted_fields_keep_delimiters_and_newlines_and_lines_stay_true(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "notes.csv",
        "Name,Phone,Note\r\n"
        '"Smith, John",+994501112233,"first line\r\nsecond, with comma"\r\n'
        '"Ali ""the boss""",0551112233,plain\r\n'
        "Bad,12,x\r\n",
    )
    summary, contacts, rejected = parse_all(path)
    assert summary.delimiter == ","
    assert [(c.line, c.name, c.attributes) for c in contacts] == [
        (2, "Smith, John", {"note": "first line\r\nsecond, with comma"}),
        (4, 'Ali "the boss"', {"note": "plain"}),
    ]
    assert [(r.line, r.reason) for r in rejected] == [(5, "too_short")]


def test_tab_delimited_windows_1251_with_russian_headers(tmp_path: Path) -> None:
    text = "Имя\tТелефон\tГород\tДень рождения\nСергей\t+994 55 400 11 22\tБаку\t01.02.1990\n"
    path = write(tmp_path, "export.csv", text, encoding="cp1251")
    summary, contacts, _ = parse_all(path)
    assert (summary.encoding, summary.delimiter) == ("cp1251", "\t")
    assert summary.columns == ["name", "phone", "city", "birthday"]
    assert contacts == [
        ParsedContact(2, "+994554001122", "Сергей", {"city": "Баку", "birthday": "01.02.1990"})
    ]


def test_utf16_export_from_excel_reads(tmp_path: Path) -> None:
    path = write(tmp_path, "unicode.txt", "Ad\tTelefon\nƏli\t050 111 22 33\n", encoding="utf-16")
    summary, contacts, _ = parse_all(path)
    assert summary.encoding == "utf-16"
    assert [(c.name, c.phone) for c in contacts] == [("Əli", "+994501112233")]


def test_headerless_file_whose_first_column_is_phones(tmp_path: Path) -> None:
    path = write(tmp_path, "numbers.csv", "0501112233,Əli\n+994 55 111 22 33,Leyla\nnonsense,X\n")
    summary, contacts, rejected = parse_all(path)
    assert summary.header_line is None
    assert summary.columns == ["phone", "name"]
    assert [(c.line, c.phone, c.name) for c in contacts] == [
        (1, "+994501112233", "Əli"),
        (2, "+994551112233", "Leyla"),
    ]
    assert [(r.line, r.reason) for r in rejected] == [(3, "not_a_phone_number")]


def test_headerless_csv_of_numbers_only(tmp_path: Path) -> None:
    path = write(tmp_path, "only.csv", "+994501112233\n0551112233\n\n994701112233\n")
    summary, contacts, rejected = parse_all(path)
    assert (summary.kind, summary.header_line, summary.columns) == ("csv", None, ["phone"])
    assert [(c.line, c.phone, c.name) for c in contacts] == [
        (1, "+994501112233", ""),
        (2, "+994551112233", ""),
        (4, "+994701112233", ""),
    ]
    assert rejected == []


def test_unrecognised_header_above_a_column_of_numbers_is_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "Müştəri kodu;Əlaqə vasitəsi\nA1;0501112233\nA2;0551112233\n")
    summary, contacts, _ = parse_all(path)
    assert summary.header_line == 1
    assert summary.columns == ["mushteri_kodu", "phone"]
    assert contacts[0].attributes == {"mushteri_kodu": "A1"}


def test_unknown_headers_become_unique_ascii_variables(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "vars.csv",
        "Telefon,Любимый цвет,Любимый цвет,Şəhər,2024 bonus,Город,\n"
        "0501112233,синий,красный,Bakı,10,Баку,\n",
    )
    summary, contacts, _ = parse_all(path)
    assert summary.columns == [
        "phone",
        "lyubimyy_tsvet",
        "lyubimyy_tsvet_2",
        "city",
        "col_2024_bonus",
        "city_2",
    ]
    assert contacts[0].attributes["city"] == "Bakı"
    assert contacts[0].name == ""


def test_blank_rows_are_skipped_and_not_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "gaps.csv", "Name;Phone\n\n;\nƏli;0501112233\n ; \n")
    summary, contacts, rejected = parse_all(path)
    assert (summary.rows, len(contacts), rejected) == (1, 1, [])


# --- TXT ------------------------------------------------------------------------------------


def test_txt_with_one_number_per_line(tmp_path: Path) -> None:
    path = write(tmp_path, "list.txt", "+994 50 111 22 33\n\n050 222 33 44\r\nabc\n(055) 333-44-55")
    summary, contacts, rejected = parse_all(path)
    assert (summary.kind, summary.columns) == ("txt", ["phone"])
    assert [(c.line, c.phone) for c in contacts] == [
        (1, "+994501112233"),
        (3, "+994502223344"),
        (5, "+994553334455"),
    ]
    assert [(r.line, r.values, r.reason) for r in rejected] == [(4, ["abc"], "not_a_phone_number")]


# --- XLSX -----------------------------------------------------------------------------------


def test_xlsx_float_integer_and_text_phone_cells_on_the_second_sheet(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "book.xlsx",
        [
            ("Cover", [["Report"], ["made by", "us"]]),
            (
                "Clients",
                [
                    ["Müştərilər"],
                    [],
                    ["Ad", "Nömrə", "Doğum günü", "Endirim"],
                    ["Kamran", 9.94501112233e11, "1990-05-01", 0.15],
                    ["Samirə", 994552223344, None, 10],
                    ["Orxan", "+994 70 333 44 55", None, None],
                    ["Nurlan", 501112299, None, None],
                ],
            ),
        ],
    )
    summary, contacts, rejected = parse_all(path, "book.xlsx")
    assert (summary.kind, summary.sheet, summary.header_line) == ("xlsx", "Clients", 3)
    assert summary.columns == ["name", "phone", "birthday", "endirim"]
    assert [(c.line, c.phone, c.attributes) for c in contacts] == [
        (4, "+994501112233", {"birthday": "1990-05-01", "endirim": "0.15"}),
        (5, "+994552223344", {"endirim": "10"}),
        (6, "+994703334455", {}),
        (7, "+994501112299", {}),
    ]
    assert rejected == []


def test_workbook_sent_as_csv_is_read_as_a_workbook(tmp_path: Path) -> None:
    path = write(tmp_path, "contacts.csv", (SAMPLES / "contacts_title_row.xlsx").read_bytes())
    summary, contacts, _ = parse_all(path)
    assert summary.kind == "xlsx"
    assert len({c.phone for c in contacts}) == 4


def test_a_csv_saved_under_an_excel_name_still_imports(tmp_path: Path) -> None:
    """Text named .xlsx is refused as "not an Excel file" only when no contacts are in it."""
    path = write(tmp_path, "export.xlsx", "Name,Phone\nƏli,0501112233\n".encode())
    summary, contacts, _ = parse_all(path)
    assert summary.kind == "csv" and [c.phone for c in contacts] == ["+994501112233"]


# --- vCard ----------------------------------------------------------------------------------


def test_vcard_4_tel_uris_folded_lines_and_several_mobiles(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "phone.vcf",
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Rə\r\n na Əliyeva\r\n"
        'TEL;VALUE=uri;TYPE="cell,voice";PREF=1:tel:+994-50-111-22-33;ext=12\r\n'
        "TEL;VALUE=uri;TYPE=cell:tel:+994-55-111-22-33\r\n"
        "TEL;TYPE=fax:tel:+994-12-404-00-01\r\n"
        "item1.TEL:+994 50 111 22 33\r\n"
        "END:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:2.1\r\n"
        "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=D0=98=D0=B2=D0=B0=D0=BD=D0=BE=\r\n"
        "=D0=B2;=D0=98=D0=B2=D0=B0=D0=BD;;;\r\nTEL;WORK;FAX:+994124040001\r\nEND:VCARD\r\n",
    )
    with parse_contacts(path, "phone.vcf", "AZ") as job:
        batches = list(job.batches())
    contacts = [c for b in batches for c in b.contacts]
    skipped = [s for b in batches for s in b.skipped]
    rejected = [r for b in batches for r in b.rejected]
    assert [(c.line, c.phone, c.name) for c in contacts] == [
        (1, "+994501112233", "Rəna Əliyeva"),
        (1, "+994551112233", "Rəna Əliyeva"),
    ]
    assert [(s.value, s.reason) for s in skipped] == [("+994-12-404-00-01", "fax")]
    # card 2: N is "Family;Given" in quoted-printable, its only number is a fax
    assert [(r.line, r.values, r.reason) for r in rejected] == [
        (10, ["Иван Иванов", "+994124040001"], "fax")
    ]
    assert (job.summary.rows, job.summary.valid_unique, job.summary.skipped) == (2, 2, 1)


# --- files that cannot be imported ----------------------------------------------------------


def _encrypted_xlsx() -> bytes:
    # What Excel writes for a password-protected workbook: an OLE2 compound file holding
    # the streams "EncryptionInfo" and "EncryptedPackage" (names in UTF-16 in the directory).
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    directory = "Root Entry".encode("utf-16-le").ljust(128, b"\0")
    directory += "EncryptionInfo".encode("utf-16-le").ljust(128, b"\0")
    directory += "EncryptedPackage".encode("utf-16-le").ljust(128, b"\0")
    return header + directory + random.Random(3).randbytes(4096)


def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _zip_of_a_later_version() -> bytes:
    """A zip whose parts need a zip version Python cannot read (6.7)."""
    data = bytearray(_zip({"mimetype": "application/vnd.oasis.opendocument.spreadsheet"}))
    for signature, offset in ((b"PK\x03\x04", 4), (b"PK\x01\x02", 6)):
        at = data.find(signature)
        data[at + offset] = 67
    return bytes(data)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\r\n \n\t\n", "empty"),
        ("junk.csv", random.Random(1).randbytes(4096), "binary"),
        (
            "truncated.xlsx",
            (SAMPLES / "contacts_title_row.xlsx").read_bytes()[:2500],
            "corrupt_xlsx",
        ),
        ("locked.xlsx", _encrypted_xlsx(), "encrypted"),
        ("header.csv", b"Name,Phone,City\r\n", "no_rows"),
        ("header.xlsx", None, "no_rows"),
        ("nophones.csv", "Ad,Şəhər\nƏli,Bakı\nLeyla,Gəncə\n".encode(), "no_phone_column"),
        ("picture.csv", b"\x89PNG\r\n\x1a\n" + bytes(100), "not_text"),
        ("letter.pdf", b"%PDF-1.4\n" + bytes(100), "unsupported_type"),
        # the content is clearly not what the name says: say so, not "no phone column"
        ("notes.xlsx", "Ad,Şəhər\nƏli,Bakı\n".encode(), "not_excel"),
        ("notes.xls", b"just some notes\n", "not_excel"),
        ("junk.xlsx", random.Random(2).randbytes(4096), "not_excel"),
        ("letter.xlsx", b"%PDF-1.4\n" + bytes(100), "not_excel"),
        ("letter.xlsx", _zip({"word/document.xml": "<w/>"}), "not_excel"),
        ("archive.xlsx", _zip({"photo.jpg": "x"}), "not_excel"),
        ("broken.xlsx", b"PK\x03\x04" + bytes(200), "corrupt_xlsx"),  # a damaged zip
        ("later.xlsx", _zip_of_a_later_version(), "corrupt_xlsx"),  # found by the file fuzz
        ("notes.vcf", b"Ali\nLeyla\n", "not_vcard"),
        ("picture.vcf", b"\x89PNG\r\n\x1a\n" + bytes(100), "not_vcard"),
    ],
)
def test_file_that_cannot_be_read_raises_one_clear_error(
    tmp_path: Path, name: str, content: bytes | None, reason: str
) -> None:
    if content is None:
        path = write_xlsx(tmp_path / name, [("S", [["Ad", "Telefon"], [], [None, ""]])])
    else:
        path = write(tmp_path, name, content)
    with pytest.raises(UnreadableFile) as caught:
        parse_all(path)
    assert caught.value.reason == reason


@pytest.mark.parametrize("rows_before", [1, 200])
def test_a_line_over_the_limit_is_refused_without_reading_it_whole(
    tmp_path: Path, rows_before: int
) -> None:
    path = tmp_path / "long.csv"
    with path.open("wb") as stream:
        stream.write(b"Name,Phone\n")
        stream.writelines(f"Ali,05011{n:05d}\n".encode() for n in range(rows_before))
        stream.write(b"x" * (5 * 1024 * 1024 + 10) + b"\nLeyla,0551112233\n")
    with pytest.raises(UnreadableFile) as caught:
        parse_all(path)  # early: while finding the columns; later: from batches()
    assert (caught.value.reason, caught.value.line) == ("line_too_long", rows_before + 2)
    assert caught.value.limit == 5 * 1024 * 1024


def test_a_cell_too_big_for_the_csv_module_is_a_field_too_long(tmp_path: Path) -> None:
    size = csv.field_size_limit() + 1000  # 128 KiB unless someone changed it
    path = write(tmp_path, "cell.csv", "Name,Phone\n" + "x" * size + ",0501112233\n")
    with pytest.raises(UnreadableFile) as caught:
        parse_all(path, max_line_bytes=2 * size)
    assert (caught.value.reason, caught.value.line) == ("field_too_long", 2)
    assert caught.value.limit == csv.field_size_limit() // 1024  # in KB, as the owner reads it


def test_more_rows_than_allowed_is_an_error_with_the_limit(tmp_path: Path) -> None:
    rows = "".join(f"05011{n:05d}\n" for n in range(30))
    path = write(tmp_path, "many.csv", "Phone\n" + rows)
    with parse_contacts(path, "many.csv", "AZ", max_rows=25, batch_size=10) as job:
        read = 0
        with pytest.raises(UnreadableFile) as caught:
            for batch in job.batches():
                read += len(batch.contacts)
    assert (caught.value.reason, caught.value.limit) == ("too_many_rows", 25)
    assert read == 20  # the two full batches before the limit
