"""Storage faults, as tests make them: a full disk and a database locked by someone else.

* ``disk_full(db)``: the writer's file may not grow any more (SQLite's
  ``PRAGMA max_page_count`` set to its size): every write that needs a new page fails with
  ``SQLITE_FULL`` "database or disk is full", exactly as on a full disk. ``disk_freed``
  lifts it. ``import_writers_disk_full`` does the same for the import writer's own
  connection (``bot.storage.bulk``), which the test then patches for its duration.
* ``locked_by_another(path)``: a second connection (what another process would hold)
  keeps ``BEGIN EXCLUSIVE`` until the block ends; the bot's writes wait out the busy
  timeout (``bot.storage.db.BUSY_TIMEOUT_MS``, which a test lowers) and then fail with
  ``SQLITE_BUSY`` "database is locked".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.storage.bulk import ImportWriter
from bot.storage.db import Database

FREE_PAGES = 1_000_000_000


async def _pages(db: Database) -> int:
    writer = db._writer  # the one connection the bot writes through
    assert writer is not None
    async with writer.execute("PRAGMA page_count") as cur:
        row = await cur.fetchone()
    return int(row[0])


async def disk_full(db: Database, spare_pages: int = 0) -> None:
    """From now on the database file cannot grow beyond ``spare_pages`` more pages."""
    assert db._writer is not None
    await db._writer.execute(f"PRAGMA max_page_count = {await _pages(db) + spare_pages}")


async def disk_freed(db: Database) -> None:
    assert db._writer is not None
    await db._writer.execute(f"PRAGMA max_page_count = {FREE_PAGES}")


def import_writers_disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """Import writers opened from now on (until the test ends) cannot grow the file."""
    opened = ImportWriter.__init__

    def full(self: ImportWriter, path: Path | str) -> None:
        opened(self, path)
        pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
        self._conn.execute(f"PRAGMA max_page_count = {pages}")

    monkeypatch.setattr(ImportWriter, "__init__", full)


@contextmanager
def locked_by_another(path: Path | str) -> Iterator[sqlite3.Connection]:
    """Another connection holds the database's write lock for the block."""
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=10)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield conn
        conn.execute("ROLLBACK")
    finally:
        conn.close()
