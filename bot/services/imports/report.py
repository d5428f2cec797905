"""The file of rejected rows that the owner gets with the import report.

A CSV with the line, the reason in plain words and the row as it was read. Every cell is
made safe for spreadsheets: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return would be run as a formula by Excel or LibreOffice (CSV injection), so it gets
a leading ``'``. (A rejected ``+994 ...`` number shows as ``'+994 ...``: a fair price.)
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from typing import Final, Protocol, TextIO

__all__ = ["neutralise", "write_rejected_csv"]

_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


class _RejectedRow(Protocol):
    @property
    def line(self) -> int: ...

    @property
    def values(self) -> Sequence[str]: ...

    @property
    def reason(self) -> str: ...


def neutralise(cell: str) -> str:
    """The cell, with a leading ``'`` when a spreadsheet would read it as a formula."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def write_rejected_csv(
    rows: Iterable[_RejectedRow],
    out: TextIO,
    headers: Sequence[str],
    reason_text: Callable[[str], str],
    *,
    labels: tuple[str, str] = ("line", "reason"),
    delimiter: str = ",",
    header: bool = True,
) -> int:
    """Write the rejected rows to ``out`` (opened with ``newline=""``); returns how many.

    ``headers`` are the file's header cells, ``reason_text`` turns a reason code into words
    in the owner's language, ``labels`` are the titles of the line and reason columns (in the
    owner's language too). Write to a ``utf-8-sig`` file for Excel to see the encoding."""
    writer = csv.writer(out, delimiter=delimiter)
    if header:  # False when appending a later batch to the same file
        writer.writerow([neutralise(cell) for cell in (*labels, *headers)])
    count = 0
    for row in rows:
        writer.writerow(
            [str(row.line), neutralise(reason_text(row.reason))]
            + [neutralise(value) for value in row.values]
        )
        count += 1
    return count
