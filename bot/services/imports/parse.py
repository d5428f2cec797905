"""Parse a contact file into batches of normalised contacts and rejected rows.

No database and no Telegram: the caller writes the batches. Usage::

    with parse_contacts(path, "clients.xlsx", region="AZ", max_rows=100_000) as job:
        job.summary.columns            # known before the first batch: ["name", "phone", "city"]
        for batch in job.batches():    # blocking CPU work: run it in a worker thread
            upsert(batch.contacts)     # one transaction per batch
            keep(batch.rejected)       # for the report of rejected rows
            progress(job.summary.rows, job.summary.valid_unique)
    job.summary                        # final counts

The contract:

- ``parse_contacts`` opens the file, finds the columns and raises ``UnreadableFile`` for a file
  that cannot be imported at all (empty, binary, corrupt or encrypted workbook, no phone
  column, a header without rows...). ``batches()`` may still raise it in the middle of a file:
  a limit met (``line_too_long``, ``row_too_long``, ``vcard_line_too_long``... see
  ``readers``), ``malformed_csv``, and ``too_many_rows`` when the file has more than
  ``max_rows`` data rows. Batches before the error were already yielded; the caller decides to
  roll back (one transaction over the whole import) or to keep them.
- A batch holds at most ``batch_size`` rows (contacts + rejected; fewer when its rejected
  rows hold over ``HELD_CHARS`` characters), in file order. Blank rows are skipped and not
  counted. Each phone appears at most once in a batch: a later row with the same phone
  replaces the earlier contact in place, keeping the earlier name and values where the
  later row has none.
- A phone repeated in a *later* batch comes again (``duplicate=True``): write batches with an
  upsert where the later row wins (its name and non-empty attributes replace the stored
  ones; a row without a name, or an empty cell, erases nothing).
  ``summary.duplicates`` counts every repeated valid phone in the file,
  ``summary.valid_unique`` the distinct ones.
  Memory: the set of phones seen (an int each); rows are not kept beyond their batch.
- ``ParsedContact.attributes`` holds the non-empty values of the other columns under clean
  variable names (``summary.columns`` lists all columns, ``name`` and ``phone`` included).
- A rejected row keeps its line (sheet row, or the line of ``BEGIN:VCARD``), the values as
  read and a reason code: the normaliser's (``no_phone``, ``not_a_phone_number``,
  ``too_short``, ``too_long``, ``invalid_country_code``, ``invalid_number``, ``landline``,
  ``not_mobile``) or ``fax`` (a vCard whose only numbers are fax numbers).
- vCards: one data row per card. Every TEL that can receive WhatsApp becomes a contact with
  the card's name; the other TELs of a card that imported are ``Skipped`` (line, value,
  reason), e.g. the office landline next to a mobile. A card without a usable TEL is
  rejected with the reason of its first TEL (``no_phone`` when it has none).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import Final

from bot.services.imports.errors import UnreadableFile
from bot.services.imports.headers import ColumnMapping, detect_columns
from bot.services.imports.phones import PhoneNormaliser
from bot.services.imports.readers import (
    MAX_LINE_BYTES,
    ContactSource,
    Row,
    Vcard,
    VcardReader,
    WorkbookReader,
    open_contacts,
)

log = logging.getLogger(__name__)

__all__ = [
    "Batch",
    "ContactImport",
    "ImportSummary",
    "ParsedContact",
    "Rejected",
    "Skipped",
    "parse_contacts",
]

BATCH_SIZE: Final = 5_000
# characters (with cells) of the rows a batch holds at most, and the sample: a batch of long
# rows is smaller (a workbook's shared strings can make rows far longer than the file)
HELD_CHARS: Final = 8 * 1024 * 1024
SAMPLE_CHARS: Final = 4 * 1024 * 1024
SAMPLE_ROWS: Final = 50  # non-blank rows looked at to find the columns
_VCARD_COLUMNS: Final = ["name", "phone"]


@dataclass(slots=True)
class ParsedContact:
    line: int
    phone: str  # E.164
    name: str  # "" when the file has no name for it
    attributes: dict[str, str]
    duplicate: bool = False  # an earlier row of the file had this phone


@dataclass(slots=True)
class Rejected:
    line: int
    values: list[str]  # the row as read (for vCards: name, then the TEL values)
    reason: str


@dataclass(slots=True)
class Skipped:
    """A vCard TEL left out while its card imported (e.g. a landline next to a mobile)."""

    line: int
    value: str
    reason: str


@dataclass(slots=True)
class Batch:
    """A batch of a file. Its contacts are kept as the writer needs them: each one JSON
    array ``[phone, name or null, {attributes}, seq, line, duplicate (0/1)]``, ``seq``
    counting the file's contacts in order (the writer derives new contacts' ids from it, so
    that ids follow the file). ``contacts`` decodes them (for tests and small callers);
    the hot loop builds no object per row."""

    rows: list[str]  # in file order, one per phone
    fresh: list[str]  # phones seen for the first time in the file, in this batch
    rejected: list[Rejected]
    skipped: list[Skipped]
    rows_read: int  # data rows read so far, this batch included

    @property
    def contacts(self) -> list[ParsedContact]:
        return [_decode(row) for row in self.rows]


_encode_string = json.encoder.encode_basestring  # the C encoder, ensure_ascii=False


def _encode(phone: str, name: str, attributes: str, seq: int, line: int, duplicate: bool) -> str:
    """One contact as a JSON array (``phone`` is E.164: nothing in it needs escaping)."""
    name_json = _encode_string(name) if name else "null"
    return f'["{phone}",{name_json},{attributes},{seq},{line},{int(duplicate)}]'


def _decode(row: str) -> ParsedContact:
    phone, name, attributes, _seq, line, duplicate = json.loads(row)
    return ParsedContact(line, phone, name or "", attributes, bool(duplicate))


def _merge(earlier: str, later: str) -> str:
    """A phone repeated within a batch: the later row, but what it leaves empty (its name,
    a column's cell) keeps the earlier row's value, as the upsert does across batches."""
    # Without JSON when the earlier row had no cells (a list of numbers, a vCard): the
    # later row, with the earlier name when it has none. Rows are
    # '["+994...",name or null,{attributes},seq,line,duplicate]', the phone without quotes.
    old = earlier.rsplit(",", 3)[0]  # '["+994...",name,{attributes}'
    if old.endswith(",{}"):
        after_phone = later.index('"', 2) + 1
        if not later.startswith(",null,", after_phone):
            return later
        old_name = old[after_phone + 1 : -3]
        if old_name == "null":
            return later
        return f"{later[:after_phone]},{old_name}{later[after_phone + 5 :]}"
    old, new = json.loads(earlier), json.loads(later)
    if new[1] is None:
        new[1] = old[1]
    if old[2]:
        new[2] = {**old[2], **new[2]}
    return json.dumps(new, ensure_ascii=False, separators=(",", ":"))


def _row_phone(row: str) -> str:
    return row[2 : row.index('"', 2)]


@dataclass(slots=True)
class ImportSummary:
    """What the file held. Counts grow as batches are read; final after the last batch."""

    kind: str  # csv, txt, xlsx, xls, ods, vcf
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    header_line: int | None
    headers: list[str]  # the header cells as written (names made up when there is none)
    columns: list[str]  # variable names in file order, "name" and "phone" included
    rows: int = 0  # data rows (vCards: cards), blank rows not counted
    valid_unique: int = 0
    duplicates: int = 0
    invalid: int = 0
    skipped: int = 0  # vCard TELs left out of cards that imported
    reasons: Counter[str] = field(default_factory=Counter)  # rejected rows by reason
    skipped_reasons: Counter[str] = field(default_factory=Counter)
    finished: bool = False


def _is_blank(values: list[str]) -> bool:
    return not any(value.strip() for value in values)


def _sample(rows: Iterator[Row]) -> list[Row]:
    sample: list[Row] = []
    chars = 0
    for row in rows:
        if not _is_blank(row[1]):
            sample.append(row)
            chars += sum(map(len, row[1])) + len(row[1])
            if len(sample) >= SAMPLE_ROWS or chars > SAMPLE_CHARS:
                break
    return sample


class ContactImport:
    """One contact file being parsed: ``summary`` and ``batches()``. See the module docstring."""

    def __init__(
        self,
        path: Path,
        filename: str,
        region: str | None,
        *,
        allow_landlines: bool = False,
        max_rows: int | None = None,
        batch_size: int = BATCH_SIZE,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self._source: ContactSource = open_contacts(
            Path(path), filename, max_line_bytes=max_line_bytes
        )
        self.normaliser = PhoneNormaliser(region, allow_landlines)
        self._max_rows = max_rows
        self._batch_size = max(1, batch_size)
        self._mapping: ColumnMapping | None = None
        self._rows: Iterator[Row] | None = None
        self._reading: Iterator[Row] | Iterator[Vcard] | None = None  # holds the open file
        self._started = False
        self._seq = 0  # contacts so far (see Batch)
        try:
            self.summary = self._open()
        except UnreadableFile as exc:
            self.close()
            claimed = getattr(self._source, "claimed", None)
            if claimed is None:
                raise
            # text named .xlsx or .vcf without contacts in it: say what it is not
            raise UnreadableFile(f"not_{claimed}", str(exc)) from exc
        except BaseException:
            self.close()
            raise

    def _open(self) -> ImportSummary:
        source = self._source
        if isinstance(source, VcardReader):
            return ImportSummary(
                kind=source.kind,
                encoding=source.encoding,
                delimiter=None,
                sheet=None,
                header_line=None,
                headers=list(_VCARD_COLUMNS),
                columns=list(_VCARD_COLUMNS),
            )
        sheet = None
        if isinstance(source, WorkbookReader):
            first_error: UnreadableFile | None = None
            for name in source.sheet_names():
                rows = source.rows(name)
                sample = _sample(rows)
                if not sample:
                    continue
                try:
                    mapping, start = detect_columns(sample)
                except UnreadableFile as exc:
                    log.debug("sheet %r has no contacts: %s", name, exc)
                    first_error = first_error or exc
                    continue
                sheet = name
                break
            else:
                raise first_error or UnreadableFile("empty", "no sheet has data")
        else:
            rows = source.rows()
            sample = _sample(rows)
            if not sample:
                raise UnreadableFile("empty")
            mapping, start = detect_columns(sample)
        self._mapping = mapping
        self._reading = rows
        self._rows = chain(sample[start:], rows)
        return ImportSummary(
            kind=source.kind,
            encoding=source.encoding,
            delimiter=source.delimiter,
            sheet=sheet,
            header_line=mapping.header_line,
            headers=mapping.headers,
            columns=mapping.columns,
        )

    def __enter__(self) -> ContactImport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (also when the batches were not read to the end)."""
        reading, self._reading, self._rows = self._reading, None, None
        close = getattr(reading, "close", None)
        if close is not None:
            close()
        if isinstance(self._source, WorkbookReader):
            self._source.close()

    def batches(self) -> Iterator[Batch]:
        """The rows in batches (once). Raises ``UnreadableFile`` as the module docstring says."""
        if self._started:
            raise RuntimeError("batches() can be iterated once")
        self._started = True
        if isinstance(self._source, VcardReader):
            cards = self._source.cards()
            self._reading = cards
            yield from self._vcard_batches(cards)
        else:
            yield from self._table_batches()
        if self.summary.rows == 0:
            raise UnreadableFile("no_rows")
        self.summary.finished = True
        log.info(
            "parsed %s: %d rows, %d valid, %d duplicates, %d invalid (fast %d, slow %d)",
            self.summary.kind,
            self.summary.rows,
            self.summary.valid_unique,
            self.summary.duplicates,
            self.summary.invalid,
            self.normaliser.fast_hits,
            self.normaliser.slow_hits,
        )

    def _too_many(self) -> UnreadableFile:
        return UnreadableFile("too_many_rows", limit=self._max_rows)

    def _table_batches(self) -> Iterator[Batch]:
        assert self._mapping is not None and self._rows is not None
        summary = self.summary
        phone_index = self._mapping.phone
        name_index = self._mapping.name
        # each attribute column with its key already encoded: (index, '"city":')
        keys = [(index, _encode_string(variable) + ":")
                for index, variable in self._mapping.attributes]
        encode = _encode_string
        normalise = self.normaliser.normalise
        max_rows = self._max_rows if self._max_rows is not None else -1
        batch_size = self._batch_size
        # phones seen, as ints; a dict of ints is not tracked by the garbage collector (a set
        # is, and every full collection would walk its million entries)
        seen: dict[int, None] = {}
        reasons = summary.reasons
        rows = duplicates = invalid = 0
        seq = self._seq
        encoded: list[str] = []
        fresh: list[str] = []
        rejected: list[Rejected] = []
        in_batch: dict[str, int] | None = None  # phone -> index in encoded
        pending = held = 0  # rows and characters in the batch (names, cells, rejected rows)
        limit = max_rows + 1  # 0 (never reached) without a limit
        for line, values in self._rows:
            try:
                raw = values[phone_index]
            except IndexError:  # a short row
                raw = ""
            phone, reason = normalise(raw)
            if reason is None:
                assert phone is not None
                name = "null"
                if name_index is not None:
                    try:
                        text = values[name_index].strip()
                    except IndexError:
                        text = ""
                    if text:
                        name = encode(text)
                        held += len(name)
                if keys:
                    parts = []
                    try:
                        for index, key in keys:  # in column order
                            value = values[index].strip()
                            if value:
                                parts.append(key + encode(value))
                    except IndexError:
                        pass
                    attributes = "{" + ",".join(parts) + "}"
                    held += len(attributes)
                else:
                    attributes = "{}"
                seq += 1
                number = int(phone[1:])
                if number in seen:
                    duplicates += 1
                    row = f'["{phone}",{name},{attributes},{seq},{line},1]'
                    if in_batch is None:  # built at the batch's first duplicate
                        in_batch = {_row_phone(r): i for i, r in enumerate(encoded)}
                    position = in_batch.get(phone)
                    if position is not None:
                        encoded[position] = _merge(encoded[position], row)
                    else:
                        in_batch[phone] = len(encoded)
                        encoded.append(row)
                else:
                    seen[number] = None
                    fresh.append(phone)
                    if in_batch is not None:
                        in_batch[phone] = len(encoded)
                    encoded.append(f'["{phone}",{name},{attributes},{seq},{line},0]')
            else:
                if reason == "no_phone" and _is_blank(values):
                    continue
                invalid += 1
                reasons[reason] += 1
                rejected.append(Rejected(line, values, reason))
                held += sum(map(len, values)) + len(values)
            rows += 1
            if rows == limit:
                raise self._too_many()
            pending += 1
            if pending >= batch_size or held > HELD_CHARS:
                summary.rows, summary.duplicates, summary.invalid = rows, duplicates, invalid
                summary.valid_unique = len(seen)
                self._seq = seq
                yield Batch(encoded, fresh, rejected, [], rows)
                encoded, fresh, rejected, in_batch, pending, held = [], [], [], None, 0, 0
        summary.rows, summary.duplicates, summary.invalid = rows, duplicates, invalid
        summary.valid_unique = len(seen)
        self._seq = seq
        if pending:
            yield Batch(encoded, fresh, rejected, [], rows)

    def _vcard_batches(self, cards: Iterator[Vcard]) -> Iterator[Batch]:
        summary = self.summary
        normalise = self.normaliser.normalise
        seen: dict[int, None] = {}  # see _table_batches
        batch = Batch([], [], [], [], 0)
        in_batch: dict[str, int] = {}
        for card in cards:
            summary.rows += 1
            if self._max_rows is not None and summary.rows > self._max_rows:
                raise self._too_many()
            accepted: list[str] = []
            problems: list[tuple[str, str]] = []
            for tel in card.tels:
                if "FAX" in tel.types and "CELL" not in tel.types:
                    problems.append((tel.value, "fax"))
                    continue
                phone, reason = normalise(tel.value)
                if reason is None:
                    assert phone is not None
                    if phone not in accepted:
                        accepted.append(phone)
                else:
                    problems.append((tel.value, reason))
            if not accepted:
                reason = problems[0][1] if problems else "no_phone"
                values = [card.name, ", ".join(tel.value for tel in card.tels)]
                batch.rejected.append(Rejected(card.line, values, reason))
                summary.invalid += 1
                summary.reasons[reason] += 1
            for phone in accepted:
                key = int(phone[1:])
                duplicate = key in seen
                if duplicate:
                    summary.duplicates += 1
                else:
                    seen[key] = None
                    batch.fresh.append(phone)
                self._seq += 1
                row = _encode(phone, card.name, "{}", self._seq, card.line, duplicate)
                position = in_batch.get(phone)
                if position is not None:
                    batch.rows[position] = _merge(batch.rows[position], row)
                else:
                    in_batch[phone] = len(batch.rows)
                    batch.rows.append(row)
            if accepted:
                for value, reason in problems:
                    batch.skipped.append(Skipped(card.line, value, reason))
                    summary.skipped += 1
                    summary.skipped_reasons[reason] += 1
            summary.valid_unique = len(seen)
            if len(batch.rows) + len(batch.rejected) >= self._batch_size:
                batch.rows_read = summary.rows
                yield batch
                batch, in_batch = Batch([], [], [], [], 0), {}
        if batch.rows or batch.rejected or batch.skipped:
            batch.rows_read = summary.rows
            yield batch


# Open a contact file for parsing (see the module docstring for the contract).
parse_contacts = ContactImport
