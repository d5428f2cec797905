"""The connection factory and the transaction boundary.

One SQLite file in WAL mode, opened twice: a *writer* connection behind an asyncio lock
(aiosqlite serialises calls on a connection, not transactions, so two coroutines must
never interleave transactions on it) and a *reader* connection for queries outside a
transaction (WAL lets it read while the writer writes).

    async with db.transaction() as tx:     # BEGIN IMMEDIATE ... COMMIT / ROLLBACK
        await owners.save(tx, owner)
    owner = await owners.get(db.reader, owner_id)

Never hold a transaction open across a network call (gateway, Telegram).

``Database("postgresql://...")`` (``DATABASE_URL``) is PostgreSQL instead, through
``bot.storage.pg``: the same methods, a pool of connections shaped like aiosqlite's,
writers serialised across processes by an advisory lock (``engine`` says which).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, cast

import aiosqlite

from bot.clock import utcnow
from bot.errors import StorageUnavailable

if TYPE_CHECKING:
    from bot.storage.pg import PgEngine

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000

# What services hold inside ``async with db.transaction() as tx`` and pass to repositories.
Connection = aiosqlite.Connection


def to_ts(value: datetime | None) -> float | None:
    """A timezone-aware datetime as stored: seconds since the epoch."""
    return None if value is None else value.timestamp()


def from_ts(value: float | None) -> datetime | None:
    """A nullable column's time (epoch seconds) as aware UTC, or None."""
    return None if value is None else datetime.fromtimestamp(value, UTC)


def at_ts(value: float) -> datetime:
    """A NOT NULL column's time (epoch seconds) as aware UTC."""
    return datetime.fromtimestamp(value, UTC)


async def _open(path: Path | str) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    conn.row_factory = aiosqlite.Row
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.execute("PRAGMA cache_size = -32768")  # 32 MB of page cache
    await conn.execute("PRAGMA temp_store = MEMORY")
    return conn


def is_postgres(target: Path | str) -> bool:
    """Whether ``Database(target)`` is PostgreSQL: a ``postgresql://``/``postgres://`` URL."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


class Database:
    """``Database(path)``: the SQLite file; ``Database("postgresql://...")``: PostgreSQL.
    The repositories get connections of aiosqlite's shape from either."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.engine = "postgres" if is_postgres(path) else "sqlite"
        self._pg: PgEngine | None = None
        if self.engine == "postgres":
            from bot.storage.pg import PgEngine  # psycopg only when asked for
            self._pg = PgEngine(str(path))
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._commits = 0

    @property
    def commits(self) -> int:
        """Transactions committed so far (a write that failed comes back)."""
        return self._pg.commits if self._pg is not None else self._commits

    async def connect(self) -> None:
        if self._pg is not None:
            await self._pg.connect()
            return
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = await _open(self.path)
        await migrate(self._writer)
        self._reader = await _open(self.path)
        await self._reader.execute("PRAGMA query_only = ON")

    async def close(self) -> None:
        if self._pg is not None:
            await self._pg.close()
            return
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._pg is not None:
            # duck-typed: pg.Reader has aiosqlite's shape (see bot.storage.dialect)
            return cast(aiosqlite.Connection, self._pg.reader)
        if self._reader is None:
            raise RuntimeError("Database.connect() has not been awaited")
        return self._reader

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold the writer lock without a transaction: for ``bot.storage.bulk`` writers,
        which write through a connection of their own meanwhile (and roll back on an
        error: a full disk or a lock held too long is raised as ``StorageUnavailable``)."""
        if self._pg is not None:
            async with self._pg.exclusive():
                yield
            return
        async with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                if (fault := unavailable(exc)) is not None:
                    raise fault from exc
                raise

    @asynccontextmanager
    async def transaction(self, shared: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; any error rolls back. A full disk, or the
        database locked by another process past the busy timeout, is raised as
        ``StorageUnavailable`` (nothing of the transaction was written).

        PostgreSQL: ``BEGIN`` and the writer lock all processes share, so that writers
        serialise as on SQLite; ``shared=True`` leaves the shared lock out, for work proven
        safe with other processes writing at the same time (claims with ``FOR UPDATE SKIP
        LOCKED``, lease renewals). SQLite has one writer whatever ``shared`` says."""
        if self._pg is not None:
            async with self._pg.transaction(shared) as pg_conn:
                # duck-typed: pg.Connection has aiosqlite's shape (see bot.storage.dialect)
                yield cast(aiosqlite.Connection, pg_conn)
            return
        if self._writer is None:
            raise RuntimeError("Database.connect() has not been awaited")
        async with self._lock:
            conn = self._writer
            try:
                await conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                if (fault := unavailable(exc)) is not None:
                    raise fault from exc
                raise
            try:
                yield conn
                await conn.commit()  # a failed COMMIT is rolled back too: the writer stays usable
                self._commits += 1
            except BaseException as exc:
                await _rollback(conn)
                if isinstance(exc, sqlite3.Error) and (fault := unavailable(exc)) is not None:
                    raise fault from exc
                raise


# SQLite's primary result codes for "cannot write now" (``sqlite_errorcode & 0xff``)
_UNAVAILABLE = {5: "locked", 6: "locked", 13: "disk_full", 10: "io_error", 8: "io_error",
                14: "io_error"}  # BUSY, LOCKED, FULL, IOERR, READONLY, CANTOPEN


def unavailable(exc: BaseException) -> StorageUnavailable | None:
    """``exc`` as ``StorageUnavailable`` when it says the database cannot save now (the
    disk is full, another process holds the lock, the file cannot be written); else None:
    a constraint or a bug is not the storage's fault and keeps its own exception."""
    if not isinstance(exc, sqlite3.DatabaseError):  # OperationalError is one
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    reason = _UNAVAILABLE.get(code & 0xFF) if isinstance(code, int) else None
    if reason is None:  # e.g. raised by Python's own sqlite3 without a code
        text = str(exc).lower()
        reason = ("disk_full" if "disk is full" in text else
                  "locked" if "database is locked" in text else None)
    return StorageUnavailable(reason, str(exc)) if reason else None


async def _rollback(conn: aiosqlite.Connection) -> None:
    """Roll back what is still open (SQLite has rolled back already when the disk was
    full: then there is nothing to do); a rollback that fails is logged, not raised over
    the error that caused it."""
    try:
        await conn.rollback()
    except sqlite3.Error as exc:
        log.warning("rollback failed: %s", exc)


# --- migrations -------------------------------------------------------------------------

def _migration_files() -> list[tuple[int, str, str]]:
    folder = resources.files("bot.storage") / "migrations"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name.removesuffix(".sql"), entry.read_text("utf-8")))
    return sorted(found)


def _statements(script: str) -> list[str]:
    """Split a migration into statements (``executescript`` would commit on its own)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        if not current and (not line.strip() or line.lstrip().startswith("--")):
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement at the end of a migration: {current[:80]!r}")
    return statements


async def migrate(conn: aiosqlite.Connection) -> list[str]:
    """Apply every migration not yet applied, each once, in order, in its own transaction."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    async with conn.execute("SELECT version FROM schema_migrations") as cur:
        done = {row[0] for row in await cur.fetchall()}
    applied = []
    for version, name, script in _migration_files():
        if version in done:
            continue
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, utcnow().timestamp()),
            )
        except BaseException:
            await conn.rollback()
            raise
        await conn.commit()
        log.info("applied migration %s", name)
        applied.append(name)
    return applied


async def schema_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0
