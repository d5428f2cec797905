"""The contact import writer: one import, one transaction, on a connection of its own.

Imports are written from a worker thread (parsing runs in another one) with the plain
``sqlite3`` module, so a million rows do not cross the event loop: through aiosqlite,
every statement would hop between threads and wait for the GIL behind the parser. The
caller holds the database's writer lock (``Database.exclusive()``) for the duration, so
no other transaction interleaves; a rollback leaves the database as it was.

PostgreSQL has its own writer with the same methods (``bot.storage.bulk_pg``, COPY);
``open_writer`` gives the one of the database's engine.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol

from bot.storage import contacts, lists
from bot.storage.db import BUSY_TIMEOUT_MS, to_ts

_ADD_IDS_TO_LIST = contacts.ADD_IDS_TO_LIST_SQL
# Known contacts whose name the import changes, with the name they had: a trigger of this
# connection only (TEMP), fired by the upsert's update. Only a change of a name costs a row;
# the other updates pay the WHEN alone.
_RENAMED_TABLE = "CREATE TEMP TABLE import_renamed (id INTEGER, phone TEXT, old TEXT)"
_RENAMED_TRIGGER = (
    "CREATE TEMP TRIGGER import_renamed AFTER UPDATE OF name ON contacts"
    " WHEN old.name IS NOT NULL AND new.name IS NOT old.name"
    " BEGIN INSERT INTO import_renamed VALUES (old.id, old.phone, old.name); END"
)
# The renamed contacts, each once with its name before the file (its first change) and now
# (renamed back within the file: none), in the order they were written, with their count.
# Contacts this import created (ids above ``base``) were not known before it.
_RENAMED_SQL = (
    "SELECT r.phone, r.old, c.name, COUNT(*) OVER () FROM"
    " (SELECT id, phone, old, MIN(rowid) AS first FROM import_renamed"
    "  WHERE id <= ? GROUP BY id) AS r"
    " CROSS JOIN contacts c ON c.id = r.id"  # CROSS: the few renamed first, not all contacts
    " WHERE c.owner_id = ? AND c.name IS NOT r.old ORDER BY r.first LIMIT ?"
)


class ContactWriter(Protocol):
    """What an import writes through, on either engine: one transaction from ``with`` to
    its end, committed when the block ends normally, rolled back when it raises."""

    def __enter__(self) -> ContactWriter: ...
    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...
    def list_name(self, owner_id: int, list_id: int) -> str | None: ...
    def name_taken(self, owner_id: int, name: str) -> bool: ...
    def create_list(self, owner_id: int, name: str, now: datetime) -> int: ...
    def add_variables(self, owner_id: int, list_id: int, names: Sequence[str]) -> None: ...
    def contact_count(self, owner_id: int) -> int: ...
    def has_opt_outs(self, owner_id: int) -> bool: ...
    def write_chunk(self, owner_id: int, list_id: int, rows: str, now: datetime) -> None: ...
    def renamed(self, owner_id: int,
                examples: int) -> tuple[int, list[tuple[str, str, str]]]: ...
    def count_opted_out(self, owner_id: int, phones: Sequence[str]) -> int: ...


def open_writer(engine: str, target: Path | str) -> ContactWriter:
    """The import writer of ``Database(target)``, whose ``engine`` is given (psycopg is
    imported only for PostgreSQL)."""
    if engine == "postgres":
        from bot.storage.bulk_pg import PgImportWriter

        return PgImportWriter(str(target))
    return ImportWriter(target)


class ImportWriter:
    def __init__(self, path: Path | str) -> None:
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # Foreign keys are checked by hand instead, once per import (``create_list``): the
        # owner is checked there, the list belongs to the owner, and every contact id the
        # list gets comes from this transaction. SQLite would look all three up again for
        # every row (measured: 10-15% of the writer's time).
        self._conn.execute("PRAGMA foreign_keys = OFF")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        # a million-row transaction keeps its dirty pages here until it commits (measured:
        # 78k rows/s with 32 MB, 95-100k with 64 MB, no better with more)
        self._conn.execute("PRAGMA cache_size = -65536")
        self._conn.execute("PRAGMA temp_store = MEMORY")  # the renamed contacts (below)

    def __enter__(self) -> ImportWriter:
        self._conn.execute("BEGIN IMMEDIATE")
        # new contacts' ids: base + their place in the file (see contacts.UPSERT_RETURNING_IDS_SQL)
        self._base = int(self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM contacts")
                         .fetchone()[0])
        self._conn.execute(_RENAMED_TABLE)
        self._conn.execute(_RENAMED_TRIGGER)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._conn.close()

    def list_name(self, owner_id: int, list_id: int) -> str | None:
        row = self._conn.execute(
            "SELECT name FROM contact_lists WHERE owner_id = ? AND id = ?", (owner_id, list_id)
        ).fetchone()
        return row[0] if row else None

    def name_taken(self, owner_id: int, name: str) -> bool:
        return self._conn.execute(lists.NAME_TAKEN_SQL, (owner_id, name)).fetchone() is not None

    def create_list(self, owner_id: int, name: str, now: datetime) -> int:
        if self._conn.execute("SELECT 1 FROM owners WHERE id = ?", (owner_id,)).fetchone() is None:
            raise sqlite3.IntegrityError("FOREIGN KEY constraint failed")
        cur = self._conn.execute(lists.INSERT_SQL, (owner_id, name, to_ts(now)))
        assert cur.lastrowid is not None, "an INSERT's cursor has the new row's id"
        return cur.lastrowid

    def add_variables(self, owner_id: int, list_id: int, names: Sequence[str]) -> None:
        self._conn.execute(lists.ADD_VARIABLES_SQL, (json.dumps(list(names)), owner_id, list_id))

    def contact_count(self, owner_id: int) -> int:
        return int(self._conn.execute(
            "SELECT COUNT(*) FROM contacts WHERE owner_id = ?", (owner_id,)).fetchone()[0])

    def has_opt_outs(self, owner_id: int) -> bool:
        return self._conn.execute(
            "SELECT 1 FROM contacts WHERE owner_id = ? AND opted_out_at IS NOT NULL LIMIT 1",
            (owner_id,)).fetchone() is not None

    def write_chunk(
        self, owner_id: int, list_id: int, rows: str, now: datetime,
    ) -> None:
        """Upsert a chunk (the newer name and attributes win) and add it to the list.

        ``rows`` is the chunk as a JSON array (encoded by the parser, sorted by phone: see
        ``imports.worker``); the upsert hands back the contacts' ids, so the list needs no
        second lookup."""
        ts = to_ts(now)
        ids = [row[0] for row in self._conn.execute(
            contacts.UPSERT_RETURNING_IDS_SQL, (self._base, owner_id, ts, ts, rows))]
        ids.sort()  # the list's index is then written in order
        self._conn.execute(_ADD_IDS_TO_LIST, (list_id, ts, json.dumps(ids)))

    def renamed(self, owner_id: int, examples: int) -> tuple[int, list[tuple[str, str, str]]]:
        """How many contacts known before the import it gave a new name, and the first
        ``examples`` of them as (phone, name before, name now)."""
        rows = self._conn.execute(_RENAMED_SQL, (self._base, owner_id,
                                                 max(examples, 1))).fetchall()
        count = int(rows[0][3]) if rows else 0
        return count, [(phone, old, new) for phone, old, new, _ in rows[:examples]]

    def count_opted_out(self, owner_id: int, phones: Sequence[str]) -> int:
        return int(self._conn.execute(contacts.OPTED_OUT_SQL,
                                      (owner_id, json.dumps(list(phones)))).fetchone()[0])
