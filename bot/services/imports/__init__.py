"""Contact import, the pure part: read a file, find the columns, normalise the numbers.

No database and no Telegram here; ``parse_contacts`` yields batches for the caller to write.
See ``parse.py`` for the contract, ``phones.py`` for normalisation and ``errors.py`` for the
reasons a file cannot be read.
"""

from __future__ import annotations

from bot.services.imports.errors import UNREADABLE_REASONS, UnreadableFile
from bot.services.imports.headers import ColumnMapping, detect_columns, variable_name
from bot.services.imports.parse import (
    Batch,
    ContactImport,
    ImportSummary,
    ParsedContact,
    Rejected,
    Skipped,
    parse_contacts,
)
from bot.services.imports.phones import REASONS, PhoneNormaliser, reference_normalise
from bot.services.imports.readers import open_contacts
from bot.services.imports.report import neutralise, write_rejected_csv

__all__ = [
    "REASONS",
    "UNREADABLE_REASONS",
    "Batch",
    "ColumnMapping",
    "ContactImport",
    "ImportSummary",
    "ParsedContact",
    "PhoneNormaliser",
    "Rejected",
    "Skipped",
    "UnreadableFile",
    "detect_columns",
    "neutralise",
    "open_contacts",
    "parse_contacts",
    "reference_normalise",
    "variable_name",
    "write_rejected_csv",
]
