"""The one error of contact import: a file we cannot import at all.

Rows that are bad on their own are not errors: they are reported as rejected rows and the
rest of the file imports. ``UnreadableFile`` is for a file as a whole; its ``reason`` is a
stable code for the translation catalog:

===================  ===========================================================
``empty``            nothing in the file (or only blank lines / empty sheets)
``binary``           not text and not a spreadsheet we know (e.g. junk renamed .csv)
``unsupported_type`` a known format we do not import (PDF, image, Word, archive...)
``corrupt_xlsx``     a spreadsheet that cannot be opened (truncated, damaged)
``encrypted``        a password-protected spreadsheet
``line_too_long``    one line longer than the limit (``limit`` bytes)
``malformed_csv``    CSV the csv module cannot read (a field over 128 KiB, ...)
``no_phone_column``  no column is called or looks like a phone number
``no_rows``          a header but no data rows
``too_many_rows``    more data rows than the caller's limit (``limit``)
``not_excel``        named .xlsx/.xls/.ods but no workbook inside (text, PDF, Word...)
``not_vcard``        named .vcf but no contact card inside
``not_text``         named .csv/.txt but a PDF, picture, archive... inside
===================  ===========================================================
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
