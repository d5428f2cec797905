"""The one error of contact import: a file we cannot import at all.

Rows that are bad on their own are not errors: they are reported as rejected rows and the
rest of the file imports. ``UnreadableFile`` is for a file as a whole; its ``reason`` is a
stable code for the translation catalog:

=======================  =============================================================
``empty``                nothing in the file (or only blank lines / empty sheets)
``binary``               not text and not a spreadsheet we know (e.g. junk renamed .csv)
``unsupported_type``     a known format we do not import (PDF, image, Word, archive...)
``corrupt_xlsx``         a spreadsheet that cannot be opened (truncated, damaged)
``encrypted``            a password-protected spreadsheet
``line_too_long``        one line longer than the limit (``limit`` bytes)
``row_too_long``         a CSV record (or TXT line) over ``limit`` KiB, e.g. an unclosed quote
``field_too_long``       a CSV field over ``limit`` KiB (csv's field limit), e.g. an unclosed quote
``too_many_columns``     a row with more than ``limit`` cells
``vcard_line_too_long``  a vCard property over ``limit`` KiB once unfolded
``too_many_phones``      a vCard with more than ``limit`` TEL properties (``line``: its BEGIN)
``workbook_too_big``     a workbook that unpacks to more than ``limit`` MiB, or a part of it
                         compressed more than a workbook can be (a zip bomb)
``sheet_too_big``        a sheet whose cells span more than ``limit`` cells (rows x columns, from
                         A1 to the farthest cell; ``line``: the farthest row)
``too_many_strings``     a workbook with more than ``limit`` shared strings
``cell_too_long``        a workbook cell (or shared string) over ``limit`` KiB
``malformed_csv``        CSV the csv module cannot read
``no_phone_column``      no column is called or looks like a phone number
``no_rows``              a header but no data rows
``too_many_rows``        more data rows than the caller's limit (``limit``)
``not_excel``            named .xlsx/.xls/.ods but no workbook inside (text, PDF, Word...)
``not_vcard``            named .vcf but no contact card inside
``not_text``             named .csv/.txt but a PDF, picture, archive... inside
=======================  =============================================================
"""

from __future__ import annotations

from typing import Final

from bot.errors import ValidationError

__all__ = ["UNREADABLE_REASONS", "UnreadableFile"]

UNREADABLE_REASONS: Final = (
    "empty",
    "binary",
    "unsupported_type",
    "corrupt_xlsx",
    "encrypted",
    "line_too_long",
    "row_too_long",
    "field_too_long",
    "too_many_columns",
    "vcard_line_too_long",
    "too_many_phones",
    "workbook_too_big",
    "sheet_too_big",
    "too_many_strings",
    "cell_too_long",
    "malformed_csv",
    "no_phone_column",
    "no_rows",
    "too_many_rows",
    "not_excel",
    "not_vcard",
    "not_text",
)


class UnreadableFile(ValidationError):
    """The file cannot be imported. ``detail`` is for logs, not for the user."""

    code = "import_unreadable"

    def __init__(
        self,
        reason: str,
        detail: str = "",
        *,
        line: int | None = None,
        limit: int | None = None,
    ) -> None:
        assert reason in UNREADABLE_REASONS, reason
        super().__init__(reason, f"line {line}" if line else "", line=line, limit=limit)
        self.detail = detail
        self.line = line
        self.limit = limit

    def __str__(self) -> str:
        parts = [self.reason]
        if self.line:
            parts.append(f"line {self.line}")
        if self.limit is not None:
            parts.append(f"limit {self.limit}")
        if self.detail:
            parts.append(self.detail)
        return ": ".join(parts)
