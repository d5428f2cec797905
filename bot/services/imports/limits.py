"""What one line, row, cell, card or sheet of a contact file may hold.

Each limit is refused as it is met, with the line where it was broken
(``UnreadableFile``: ``errors.py``), before the thing is held in memory; together they keep
the parse of any file under the upload limit to some tens of MB (README, "Contacts";
``tests/unit/imports/test_file_fuzz.py`` and ``bench/file_fuzz_bench.py`` measure it).
"""

from __future__ import annotations

from typing import Final

# text files (CSV, TXT, vCard)
MAX_LINE_BYTES: Final = 5 * 1024 * 1024  # a physical line
MAX_ROW_CHARS: Final = 1024 * 1024  # a CSV record (quoted line breaks included), a TXT line
MAX_COLUMNS: Final = 1_000  # cells in a row, any format
# a CSV field: the csv module's field_size_limit (131,072 characters unless changed)

# vCard
MAX_VCARD_LINE: Final = 64 * 1024  # a property read (FN, N, TEL...) unfolded, characters
MAX_CARD_PHONES: Final = 100  # TEL properties in one card
# pictures, sounds, keys and the other properties are skipped, whatever their size

# workbooks (XLSX, ODS, XLS), checked before calamine opens them (``workbooks.py``)
MAX_UNZIPPED_MB: Final = 100  # all parts, as the zip directory declares them
MAX_PART_BYTES: Final = 16 * 1024 * 1024  # a part other than sheets and shared strings
MAX_RATIO: Final = 100  # unpacked : packed, for parts over 1 MiB unpacked
MAX_SHEET_CELLS: Final = 1_500_000  # rows x columns, from A1 to the farthest cell
MAX_CELL_KB: Final = 32  # a cell's text, a shared string, a tag (XLS allows 32,767 characters)
